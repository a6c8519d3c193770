//! Property tests over the files the workbench reads, changed the ways disks, copies and
//! careless edits change them (a flipped bit, a cut, inserted or zeroed bytes): reading
//! never panics, and a changed checkpoint, metrics journal or run folder is never taken
//! silently: it is refused as damaged, naming the file, or reads exactly as the intact one.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor, TensorData};
use contrastive_workbench::engine::checkpoint::{CHECKPOINT_FILE, Checkpoint};
use contrastive_workbench::engine::frozen_encoder::FrozenEncoder;
use contrastive_workbench::engine::metrics_journal::JOURNAL_FILE;
use contrastive_workbench::engine::session::{CheckpointPlan, RunOptions, run_experiment_with};
use contrastive_workbench::methods::Method;
use contrastive_workbench::preset::Experiment;
use proptest::prelude::*;
use proptest::sample::Index;

/// One change to a file's bytes.
#[derive(Clone, Debug)]
enum Change {
    Flip { at: Index, bit: u8 },
    Cut { at: Index },
    Insert { at: Index, bytes: Vec<u8> },
    Zero { at: Index, len: usize },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Change::Flip { at, bit }),
        1 => any::<Index>().prop_map(|at| Change::Cut { at }),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Change::Insert { at, bytes }),
        1 => (any::<Index>(), 1..4096usize).prop_map(|(at, len)| Change::Zero { at, len }),
    ]
}

fn apply(bytes: &[u8], change: &Change) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match change {
        Change::Flip { at, bit } => out[at.index(bytes.len())] ^= 1 << bit,
        Change::Cut { at } => out.truncate(at.index(bytes.len())),
        Change::Insert { at, bytes: new } => {
            let at = at.index(bytes.len() + 1);
            out.splice(at..at, new.iter().copied());
        }
        Change::Zero { at, len } => {
            let at = at.index(bytes.len());
            let end = (at + len).min(out.len());
            out[at..end].fill(0);
        }
    }
    out
}

/// A finished tiny run: its checkpoint folder and its export folder.
struct Written {
    _root: tempfile::TempDir,
    checkpoint: std::path::PathBuf,
    export: std::path::PathBuf,
}

fn written() -> &'static Written {
    static WRITTEN: OnceLock<Written> = OnceLock::new();
    WRITTEN.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let (checkpoint, export) = (root.path().join("ckpt"), root.path().join("export"));
        let exp = common::tiny_experiment(8, 16, 3);
        let dataset = exp.dataset.load().unwrap();
        let (_tx, rx) = crossbeam_channel::unbounded();
        let options = RunOptions {
            checkpoints: Some(CheckpointPlan {
                dir: checkpoint.clone(),
                every: 1,
            }),
            export_each_eval: Some(export.clone()),
            ..RunOptions::default()
        };
        let result = run_experiment_with(&exp, &dataset, &rx, &options, &mut |_| {});
        assert!(result.failed.is_none(), "{:?}", result.failed);
        Written {
            _root: root,
            checkpoint,
            export,
        }
    })
}

/// A copy of `from`'s files in a new temporary folder, with `file` changed by `change`.
fn changed_copy(from: &Path, file: &str, change: &Change) -> (tempfile::TempDir, bool) {
    let copy = tempfile::tempdir().unwrap();
    let mut differs = false;
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        let bytes = if name == file {
            let new = apply(&bytes, change);
            differs = new != bytes;
            new
        } else {
            bytes
        };
        std::fs::write(copy.path().join(&name), bytes).unwrap();
    }
    (copy, differs)
}

fn same_checkpoint(a: &Checkpoint, b: &Checkpoint) -> bool {
    a.step == b.step
        && a.experiment == b.experiment
        && a.state == b.state
        && a.dataset == b.dataset
        && a.metrics == b.metrics
}

fn checks_checkpoint(file: &str, change: &Change) -> Result<(), TestCaseError> {
    let w = written();
    let intact = Checkpoint::read(&w.checkpoint).unwrap();
    let (copy, differs) = changed_copy(&w.checkpoint, file, change);
    match Checkpoint::read(copy.path()) {
        Ok(read) => prop_assert!(
            same_checkpoint(&read, &intact),
            "a changed {file} was read as a different checkpoint ({change:?}, changed: {differs})"
        ),
        Err(e) => {
            let e = format!("{e:#}");
            prop_assert!(differs, "the intact checkpoint was refused: {e}");
            prop_assert!(e.contains("damaged") && e.contains(file), "{change:?}: {e}");
        }
    }
    Ok(())
}

/// Embeddings of a few fixed images, to compare what a run folder's encoder computes.
fn embeddings(method: &dyn Method) -> Vec<f32> {
    let values: Vec<f32> = (0..4 * 3 * 32 * 32)
        .map(|i| (i % 97) as f32 / 97.0)
        .collect();
    let images = Tensor::<4>::from_data(TensorData::new(values, [4, 3, 32, 32]), &Device::flex());
    method
        .embed(images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_changed_checkpoint_is_damaged_or_the_same(change in change()) {
        checks_checkpoint(CHECKPOINT_FILE, &change)?;
    }

    #[test]
    fn a_changed_metrics_journal_is_damaged_or_the_same(change in change()) {
        checks_checkpoint(JOURNAL_FILE, &change)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, failure_persistence: None, ..ProptestConfig::default() })]

    /// `embed`, `eval` and the window's browse load run folders through `FrozenEncoder`.
    #[test]
    fn a_changed_run_folder_is_damaged_or_gives_the_same_embeddings(
        which in any::<Index>(),
        change in change(),
    ) {
        let w = written();
        let mut files: Vec<String> = std::fs::read_dir(&w.export)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".cw-run")
            .collect();
        files.sort();
        let file = files[which.index(files.len())].clone();
        let intact = FrozenEncoder::load(&w.export, 32, &Device::flex()).unwrap();
        let (copy, differs) = changed_copy(&w.export, &file, &change);
        match FrozenEncoder::load(copy.path(), 32, &Device::flex()) {
            Ok(read) => prop_assert_eq!(
                embeddings(&read),
                embeddings(&intact),
                "a changed {} gave other embeddings ({:?}, changed: {})", file, change, differs
            ),
            Err(e) => {
                let e = format!("{e:#}");
                prop_assert!(differs, "the intact folder was refused: {}", e);
                prop_assert!(e.contains("damaged") && e.contains(&file), "{:?}: {}", change, e);
            }
        }
    }

    /// Presets, classroom files and attributes.csv: a clear error or a value, never a panic.
    #[test]
    fn changed_text_files_never_panic(change in change(), kind in 0..3u8) {
        let preset = common::tiny_experiment(8, 16, 3).to_toml();
        let classroom = format!("{preset}\n[classroom]\nlesson = \"simclr-clusters\"\nstep = 1\nhidden = [\"loss\"]\n");
        let attributes = "file,colour,size\na.png,red,small\nsub/b.png , blue , large\n\"c,d.png\",green,small\n";
        let text = [preset.as_str(), classroom.as_str(), attributes][kind as usize];
        let changed = String::from_utf8_lossy(&apply(text.as_bytes(), &change)).into_owned();
        match kind {
            0 => {
                if let Ok(exp) = Experiment::from_toml(&changed, "changed.toml") {
                    let _ = exp.validate();
                }
            }
            1 => {
                let _ = contrastive_workbench::lessons::classroom_file::ClassroomFile::parse(&changed, "class.toml");
            }
            _ => {
                let _ = contrastive_workbench::data::attribute_csv::parse(&changed);
            }
        }
    }
}
