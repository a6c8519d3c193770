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
    // Shorter than the header's length (the file's first 8 bytes), peeked or read.
    for short in [&good[..0], &good[..4]] {
        std::fs::write(&file, short).unwrap();
        let e = format!("{:#}", Checkpoint::peek(dir.path()).err().unwrap());
        assert!(
            e.contains(CHECKPOINT_FILE) && e.contains("truncated"),
            "{e}"
        );
        let e = format!("{:#}", Checkpoint::read(dir.path()).err().unwrap());
        assert!(e.contains(CHECKPOINT_FILE), "{e}");
    }
    // A FIFO in its place is refused by name, not read (that would block).
    std::fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    for e in [
        Checkpoint::peek(dir.path()).err().unwrap(),
        Checkpoint::read(dir.path()).err().unwrap(),
    ] {
        let e = format!("{e:#}");
        assert!(e.contains(CHECKPOINT_FILE) && e.contains("FIFO"), "{e}");
    }
    std::fs::remove_file(&file).unwrap();

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

/// A checkpoint of an image folder whose images changed since is refused by name, not
/// resumed on other data (nor refused for a section's size).
#[test]
fn a_checkpoint_whose_dataset_changed_says_so() {
    use contrastive_workbench::data::DatasetSpec;
    use contrastive_workbench::data::image_folder::ImageFolderSpec;
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let images = tempfile::tempdir().unwrap();
    let draw = |class: &str, i: u8, shade: u8| {
        let path = images.path().join(format!("{class}/{i}.png"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_fn(32, 32, |x, y| {
            image::Rgb([shade, (x as u8) * 7 + i, (y as u8) * 5])
        })
        .save(path)
        .unwrap();
    };
    for i in 0..6 {
        draw("dark", i, 30);
        draw("light", i, 220);
    }
    let mut exp = common::tiny_experiment(8, 8, 2);
    exp.dataset = DatasetSpec::ImageFolder(ImageFolderSpec {
        held_out: 0.25,
        ..ImageFolderSpec::at(images.path())
    });
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&exp, dir.path(), false, None).failed.is_none());
    let mut longer = exp.clone();
    longer.train.steps = 3;
    // One pixel of one image changes.
    draw("dark", 2, 31);
    let refused = run(&longer, dir.path(), true, None);
    let message = refused.failed.unwrap();
    assert!(
        message.contains("the dataset changed since the checkpoint"),
        "{message}"
    );
    // Put back, it resumes.
    draw("dark", 2, 30);
    let resumed = run(&longer, dir.path(), true, None);
    assert!(resumed.failed.is_none(), "{:?}", resumed.failed);
}

/// A checkpoint costs the same at step 200,000 as at step 1,000: the metrics go to the
/// journal beside it (appended), not into its header, which grew with the run until
/// safetensors refused a header over 100 MB (a 140,000-step run with `log_every = 1`).
#[test]
fn a_checkpoint_does_not_grow_with_the_run() {
    use contrastive_workbench::engine::checkpoint::CheckpointDraft;
    use contrastive_workbench::engine::metrics_journal::{JOURNAL_FILE, MetricsJournal};
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let exp = common::tiny_experiment(8, 16, 1);
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&exp, dir.path(), false, None).failed.is_none());
    let real = Checkpoint::read(dir.path()).unwrap();
    let template = real.metrics.steps[0].clone();
    let out = tempfile::tempdir().unwrap();
    let mut journal = MetricsJournal::default();
    let mut metrics = contrastive_workbench::engine::export::MetricsLog::default();
    let (mut sizes, mut appended, mut journal_len) = (Vec::new(), Vec::new(), 0);
    for step in 1..=200_000u64 {
        let mut m = template.clone();
        m.step = step;
        m.loss = 1.0 / step as f32;
        metrics.steps.push(m);
        if step % 1000 == 0 {
            CheckpointDraft {
                step,
                experiment: &exp,
                metrics: &metrics,
                state: &real.state,
                dataset: real.dataset.as_deref().unwrap(),
            }
            .write(out.path(), &mut journal)
            .unwrap();
            sizes.push(
                std::fs::metadata(out.path().join(CHECKPOINT_FILE))
                    .unwrap()
                    .len(),
            );
            let now = std::fs::metadata(out.path().join(JOURNAL_FILE))
                .unwrap()
                .len();
            appended.push(now - journal_len);
            journal_len = now;
        }
    }
    // The step's digits alone may lengthen the header by a few bytes.
    let (first, last) = (sizes[0], *sizes.last().unwrap());
    assert!(
        last <= first + 64,
        "the checkpoint grew from {first} to {last} bytes"
    );
    let (a, b) = (appended[1], *appended.last().unwrap());
    assert!(
        b <= a + a / 10,
        "each checkpoint appended {a} bytes at first, {b} at the end"
    );
    let back = Checkpoint::read(out.path()).unwrap();
    assert_eq!(back.step, 200_000);
    assert_eq!(back.metrics.steps.len(), 200_000);
    assert_eq!(back.metrics.steps[123_456].loss, 1.0 / 123_457.0);
}
