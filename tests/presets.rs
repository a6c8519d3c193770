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

/// One step into a preset's TOML: a table's key or an array's index.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Every number in `v` (tables and arrays walked), with its path.
fn numbers(v: &toml::Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                path.push(Seg::Key(k.clone()));
                numbers(v, path, out);
                path.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                numbers(v, path, out);
                path.pop();
            }
        }
        toml::Value::Integer(_) | toml::Value::Float(_) => out.push(path.clone()),
        _ => {}
    }
}

fn at<'a>(v: &'a mut toml::Value, path: &[Seg]) -> &'a mut toml::Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

/// `views.view1[0].scale[1]`: the path as an error would name it.
fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => s.push_str(&format!(".{k}")),
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The key of the setting a path ends in (`scale` for `views.view1[0].scale[1]`).
fn last_key(path: &[Seg]) -> &str {
    path.iter()
        .rev()
        .find_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .unwrap_or("")
}

/// A shipped preset on the built-in shapes, scaled to a test's size.
fn small(exp: &mut Experiment) {
    if let contrastive_workbench::data::DatasetSpec::Shapes(s) = &mut exp.dataset {
        s.train_per_class = 8;
        s.test_per_class = 4;
        s.size = s.size.min(32);
    }
    exp.train.batch_size = exp.train.batch_size.min(16);
    exp.train.backend = contrastive_workbench::preset::BackendChoice::Cpu;
    exp.eval.bank_size = 32;
    exp.eval.query_size = 16;
}

/// Every number of every shipped shapes preset set to the extremes a careless or hostile
/// edit gives (huge, negative, zero, 2^32, +-1e308, NaN): the preset is refused with the
/// setting named, or the run it describes takes its first step (or fails with a reason);
/// never a panic or an abort.
#[test]
fn every_number_at_its_extremes_is_refused_by_name_or_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let extremes = [
        toml::Value::Integer(i64::MAX),
        toml::Value::Integer(-1),
        toml::Value::Integer(0),
        toml::Value::Integer(1 << 32),
        toml::Value::Float(1e308),
        toml::Value::Float(-1e308),
        toml::Value::Float(f64::NAN),
    ];
    let mut seen = std::collections::BTreeSet::new();
    let (mut refused, mut ran) = (0, 0);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-shapes.toml"))
        .collect();
    paths.sort();
    for path in paths {
        let mut base = Experiment::load(&path).unwrap();
        small(&mut base);
        base.validate()
            .unwrap_or_else(|e| panic!("{} scaled down: {e}", path.display()));
        let tree = toml::Value::try_from(&base).unwrap();
        let mut leaves = Vec::new();
        numbers(&tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            let name = dotted(&leaf);
            // Each setting once (the first preset that has it), the method's per kind.
            let key = if name.starts_with("method.") {
                format!("{}:{name}", base.method.kind)
            } else {
                name.clone()
            };
            if !seen.insert(key) {
                continue;
            }
            for value in &extremes {
                let mut changed = tree.clone();
                *at(&mut changed, &leaf) = value.clone();
                let text = toml::to_string(&changed).unwrap();
                let what = format!("{}: {name} = {value}", path.display());
                match Experiment::from_toml(&text, "p.toml") {
                    Err(e) => {
                        let e = e.to_string();
                        assert!(
                            e.contains(last_key(&leaf)),
                            "{what}: the error does not name the setting: {e}"
                        );
                        refused += 1;
                    }
                    Ok(exp) => {
                        let dataset = match exp.dataset.load() {
                            Ok(d) => d,
                            Err(e) => {
                                assert!(!e.to_string().is_empty(), "{what}");
                                continue;
                            }
                        };
                        let (send, commands) = crossbeam_channel::unbounded();
                        send.send(contrastive_workbench::engine::Command::Step)
                            .unwrap();
                        send.send(contrastive_workbench::engine::Command::Stop)
                            .unwrap();
                        let result = contrastive_workbench::engine::session::run_experiment(
                            &exp,
                            &dataset,
                            &commands,
                            &mut |_| {},
                        );
                        if let Some(failed) = &result.failed {
                            assert!(!failed.contains("crashed"), "{what}: {failed}");
                        }
                        ran += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{refused} refused by name, {ran} ran; {} settings",
        seen.len()
    );
    assert!(refused > 0 && ran > 0);
}
