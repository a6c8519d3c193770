//! Whether a checkpoint continues this run: the same preset (only the step count and the
//! device may change), and the checkpoint of the folder it sits in.

use super::super::checkpoint::Checkpoint;
use crate::preset::Experiment;

/// The checkpoint at `path`, if it continues `exp` (the same preset, perhaps with more
/// steps or on another device: a run started on the CPU may go on on a GPU or a server).
pub fn resumable(path: &std::path::Path, exp: &Experiment) -> anyhow::Result<Checkpoint> {
    // The preset first, from the header alone: a checkpoint copied from another run is
    // named as that, before its sections or its metrics journal are read.
    let (_, preset) = Checkpoint::peek(path)?;
    let differs = preset_differences(&preset, exp);
    anyhow::ensure!(
        differs.is_empty(),
        "{} was made with a different preset (only the step count and the device may \
         change): {}",
        path.display(),
        differs.join("; ")
    );
    // The folder's own preset (written by its last export) must be the checkpoint's too:
    // a checkpoint copied in from another run would otherwise overwrite this run's export.
    let folder = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    let own = folder.join("preset.toml");
    if own.is_file() {
        let folder_exp = Experiment::load(&own)?;
        let differs = preset_differences(&preset, &folder_exp);
        anyhow::ensure!(
            differs.is_empty(),
            "the checkpoint in {} belongs to another run than this folder's preset.toml: {}",
            folder.display(),
            differs.join("; ")
        );
    }
    let ckpt = Checkpoint::read(path)?;
    anyhow::ensure!(
        ckpt.step <= exp.train.steps,
        "{} is at step {}, past the run's {} steps",
        path.display(),
        ckpt.step,
        exp.train.steps
    );
    Ok(ckpt)
}

/// Settings in which `a` (the checkpoint's) and `b` differ, as `field: a vs b`, the step
/// count and where the run trains aside.
fn preset_differences(a: &Experiment, b: &Experiment) -> Vec<String> {
    let flat = |e: &Experiment| {
        let mut e = e.clone();
        let default = crate::preset::TrainSpec::default();
        e.train.steps = 0;
        e.train.backend = default.backend;
        e.train.remote = default.remote;
        e.train.remote_token_file = default.remote_token_file;
        e.settings()
    };
    let (fa, fb) = (flat(a), flat(b));
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| {
            let show =
                |v: Option<&toml::Value>| v.map_or_else(|| "(unset)".into(), ToString::to_string);
            format!(
                "{k} = {} in the checkpoint, {} here",
                show(fa.get(k)),
                show(fb.get(k))
            )
        })
        .collect()
}
