//! Every shipped preset loads and validates, and every registered method has one.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use contrastive_workbench::catalogue::methods;
use contrastive_workbench::catalogue::params::resolve;
use contrastive_workbench::preset::Experiment;

#[test]
fn every_preset_validates_and_every_method_has_one() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let exp = Experiment::from_toml(&text, &path.display().to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        exp.validate()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        assert_eq!(
            exp.name,
            stem,
            "{}: name should match the file",
            path.display()
        );
        // Round trip: what the app would save reproduces the experiment.
        assert_eq!(Experiment::from_toml(&exp.to_toml(), "again").unwrap(), exp);
        kinds.push(exp.method.kind.clone());
    }
    for info in methods() {
        assert!(
            kinds.iter().any(|k| k == info.id),
            "no preset in presets/ uses method {}",
            info.id
        );
    }
}

/// The window's default experiment is the one `presets/simclr-shapes.toml` writes out, so
/// `train --preset presets/simclr-shapes.toml` reruns what a newcomer started.
#[test]
fn the_default_experiment_is_simclr_shapes_toml() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/simclr-shapes.toml");
    let mut file = Experiment::load(&path).unwrap();
    let default = Experiment::default();
    // The file spells out the method's settings; the default leaves them at theirs.
    let settings = |e: &Experiment| resolve(&e.method).unwrap().1;
    assert_eq!(settings(&file), settings(&default));
    file.method = default.method.clone();
    assert_eq!(file, default);
}
