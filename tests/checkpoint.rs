//! Checkpoints: a run stopped halfway and resumed from its checkpoint gives exactly the
//! losses, embeddings and kNN accuracy of the uninterrupted run, for every method; the
//! file is replaced atomically; broken or mismatched checkpoints are refused by name.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;

use burn::tensor::Device;
use contrastive_workbench::catalogue::{MethodSpec, methods};
use contrastive_workbench::engine::checkpoint::{CHECKPOINT_FILE, Checkpoint};
use contrastive_workbench::engine::embeddings_export::EmbeddingTable;
use contrastive_workbench::engine::run_folder::atomically;
use contrastive_workbench::engine::session::{
    CheckpointPlan, RunOptions, RunResult, run_experiment_with,
};
use contrastive_workbench::engine::{Command, Event};
use contrastive_workbench::preset::Experiment;

/// burn's CPU generator is one per process: runs in this file take turns.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `exp`, checkpointing into `dir`; stops after step `stop_after` when given.
fn run(exp: &Experiment, dir: &Path, resume: bool, stop_after: Option<u64>) -> RunResult {
    let dataset = exp.dataset.load().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let options = RunOptions {
        checkpoints: Some(CheckpointPlan {
            dir: dir.to_path_buf(),
            every: 0,
        }),
        resume_from: resume.then(|| dir.to_path_buf()),
        ..RunOptions::default()
    };
    run_experiment_with(exp, &dataset, &rx, &options, &mut |ev| {
        if let Event::Step(m) = &ev
            && Some(m.step) == stop_after
        {
            tx.send(Command::Stop).unwrap();
        }
    })
}

fn losses(r: &RunResult) -> Vec<(u64, f32)> {
    r.metrics.steps.iter().map(|m| (m.step, m.loss)).collect()
}

#[test]
fn every_method_resumes_exactly_where_it_stopped() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    for info in methods() {
        let mut exp = common::tiny_experiment(8, 16, 6);
        exp.method = MethodSpec::with_defaults(info);
        assert_resumes_exactly(&exp, info.id);
    }
}

/// A parameter group with a learning rate of its own (SimSiam's fixed-rate predictor,
/// DINO's frozen last layer) keeps it after a resume, where the schedule would move it:
/// loading a checkpoint gives the parameters the ids they were saved with.
#[test]
fn a_parameter_group_keeps_its_own_rate_after_a_resume() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let mut exp = common::tiny_experiment(8, 16, 6);
    exp.method = toml::from_str("kind = \"simsiam\"\nfixed_predictor_lr = true").unwrap();
    exp.train.schedule = contrastive_workbench::preset::Schedule::Cosine;
    assert_resumes_exactly(&exp, "simsiam, fixed predictor rate, cosine schedule");
}

/// Runs `exp` whole, then stopped after step 3 and resumed: the losses, evaluations and
/// embeddings must be the same.
fn assert_resumes_exactly(exp: &Experiment, what: &str) {
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = run(exp, whole_dir.path(), false, None);
    assert!(whole.failed.is_none(), "{}: {:?}", what, whole.failed);

    let dir = tempfile::tempdir().unwrap();
    let first = run(exp, dir.path(), false, Some(3));
    assert_eq!(first.steps_done, 3, "{}", what);
    assert_eq!(Checkpoint::read(dir.path()).unwrap().step, 3);
    let resumed = run(exp, dir.path(), true, None);
    assert!(resumed.failed.is_none(), "{}: {:?}", what, resumed.failed);

    assert_eq!(losses(&resumed), losses(&whole), "{}: loss curve", what);
    assert_eq!(
        resumed.metrics.evals, whole.metrics.evals,
        "{}: kNN evaluations",
        what
    );
    let dataset = exp.dataset.load().unwrap();
    let table = |r: &RunResult| {
        EmbeddingTable::of(
            r.method.as_deref().unwrap(),
            &dataset,
            &exp.views.normalize,
            &Device::flex(),
        )
    };
    assert_eq!(table(&resumed), table(&whole), "{}: embeddings", what);
}

#[test]
fn a_killed_writer_leaves_the_previous_checkpoint_and_bad_ones_are_refused() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let exp = common::tiny_experiment(8, 16, 2);
    let dir = tempfile::tempdir().unwrap();
    let done = run(&exp, dir.path(), false, None);
    assert!(done.failed.is_none());
    let file = dir.path().join(CHECKPOINT_FILE);
    let good = std::fs::read(&file).unwrap();

    // A write that fails midway (the disk fills, the writer dies) leaves the checkpoint
    // untouched and no temporary behind.
    let failed = atomically(&file, |tmp| {
        std::fs::write(tmp, &good[..good.len() / 3])?;
        anyhow::bail!("the disk is full")
    });
    assert!(format!("{:#}", failed.unwrap_err()).contains("the disk is full"));
    assert_eq!(std::fs::read(&file).unwrap(), good);
    assert_eq!(Checkpoint::read(dir.path()).unwrap().step, 2);
    let leftovers = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".partial")
            })
            .count()
    };
    assert_eq!(leftovers(dir.path()), 0);
    // A killed process leaves its temporary file: the next claim of the folder sweeps it.
    let partial = dir.path().join(format!(".{CHECKPOINT_FILE}.partial"));
    std::fs::write(&partial, &good[..good.len() / 3]).unwrap();
    // The next checkpoint replaces the leftover and the file.
    let mut longer = exp.clone();
    longer.train.steps = 3;
    let resumed = run(&longer, dir.path(), true, None);
    assert!(resumed.failed.is_none(), "{:?}", resumed.failed);
    assert!(!partial.exists());
    assert_eq!(Checkpoint::read(dir.path()).unwrap().step, 3);

    // A truncated file is refused with its name.
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let e = format!("{:#}", Checkpoint::read(dir.path()).err().unwrap());
    assert!(
        e.contains(CHECKPOINT_FILE) && e.contains("not a usable checkpoint"),
        "{e}"
    );
    let failed = run(&longer, dir.path(), true, None);
    assert!(failed.failed.unwrap().contains("cannot resume"));

    // A checkpoint of another experiment is refused too; one of this experiment on
    // another device is not.
    std::fs::write(&file, &good).unwrap();
    let mut elsewhere = longer.clone();
    elsewhere.train.backend = contrastive_workbench::preset::BackendChoice::Auto;
    let ckpt =
        contrastive_workbench::engine::session::resume::resumable(&file, &elsewhere).unwrap();
    assert_eq!(ckpt.step, 2);
    let mut other = longer.clone();
    other.train.learning_rate *= 2.0;
    let refused = run(&other, dir.path(), true, None);
    let message = refused.failed.unwrap();
    assert!(message.contains("different preset"), "{message}");
}

#[test]
fn local_crops_change_nothing_for_a_method_that_ignores_them() {
    // Every training test here holds the lock: burn's generator is process-wide.
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let losses = |local: usize| {
        let mut exp = common::tiny_experiment(8, 8, 3);
        exp.encoder.channels = vec![8, 16];
        exp.views.local.count = local;
        exp.views.local.size = 12;
        let result = common::run_to_end(&exp);
        assert!(result.failed.is_none(), "{:?}", result.failed);
        result
            .metrics
            .steps
            .iter()
            .map(|m| m.loss)
            .collect::<Vec<f32>>()
    };
    // SimCLR (the default) uses two views only: its run is the same with or without.
    assert_eq!(losses(2), losses(0));
}
