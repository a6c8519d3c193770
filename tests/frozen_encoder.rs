//! A run folder loads back as a frozen encoder that gives exactly the run's figures: the
//! same embeddings, the same kNN accuracy, and (without its weights) the same random-init
//! baseline. Broken folders fail with the file named.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use burn::tensor::Device;
use contrastive_workbench::engine::Event;
use contrastive_workbench::engine::embeddings_export::EmbeddingTable;
use contrastive_workbench::engine::evaluate::{EvalSample, evaluate};
use contrastive_workbench::engine::frozen_encoder::FrozenEncoder;
use contrastive_workbench::engine::session::{RunResult, export_and_report, run_experiment};
use contrastive_workbench::methods::{MethodSpec, find};
use contrastive_workbench::preset::Experiment;

/// burn's CPU backend has one random generator per process: tests that build networks
/// from a seed take turns, or their initialisations interleave.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn train_and_export(exp: &Experiment, dir: &std::path::Path) -> RunResult {
    let dataset = exp.dataset.load().unwrap();
    let (_tx, rx) = crossbeam_channel::unbounded();
    let result = run_experiment(exp, &dataset, &rx, &mut |_| {});
    assert!(result.failed.is_none(), "{:?}", result.failed);
    let mut events = Vec::new();
    export_and_report(dir, exp, &dataset, &result, &mut |e| events.push(e)).unwrap();
    assert!(
        matches!(events.last(), Some(Event::Exported { .. })),
        "{events:?}"
    );
    result
}

#[test]
fn a_run_folder_reproduces_the_runs_embeddings_knn_and_baseline() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let exp = common::tiny_experiment(8, 16, 6);
    let dir = tempfile::tempdir().unwrap();
    let result = train_and_export(&exp, dir.path());
    let dataset = exp.dataset.load().unwrap();
    let device = Device::flex();
    let size = dataset.image_size();

    let frozen = FrozenEncoder::load(dir.path(), size, &Device::flex()).unwrap();
    assert_eq!(frozen.experiment, exp);
    let method = result.method.as_deref().unwrap();
    let norm = &exp.views.normalize;
    assert_eq!(
        EmbeddingTable::of(&frozen, &dataset, norm, &device),
        EmbeddingTable::of(method, &dataset, norm, &device)
    );
    let sample = EvalSample::new(&dataset, &exp.eval, exp.seed);
    let knn =
        |m: &FrozenEncoder| evaluate(m, &dataset, &sample, &exp.eval, norm, &device, 0).knn_top1;
    let evals = &result.metrics.evals;
    assert_eq!(knn(&frozen), evals.last().unwrap().knn_top1);
    // Without the weights: the very networks the run started from.
    let initial = FrozenEncoder::random_init(dir.path(), size, &Device::flex()).unwrap();
    assert_eq!(knn(&initial), evals[0].knn_top1);
    assert_ne!(knn(&initial), knn(&frozen), "training changed the encoder");
}

#[test]
fn multi_encoder_and_patch_encoder_runs_load_back() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    // CMC: one encoder per Lab view, concatenated; CPC: patches in, pooled out.
    for id in ["cmc", "cpc"] {
        let mut exp = common::tiny_experiment(8, 16, 2);
        exp.method = MethodSpec::with_defaults(find(id).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let result = train_and_export(&exp, dir.path());
        let dataset = exp.dataset.load().unwrap();
        let device = Device::flex();
        let frozen =
            FrozenEncoder::load(dir.path(), dataset.image_size(), &Device::flex()).unwrap();
        let norm = &exp.views.normalize;
        assert_eq!(
            EmbeddingTable::of(&frozen, &dataset, norm, &device),
            EmbeddingTable::of(result.method.as_deref().unwrap(), &dataset, norm, &device),
            "{id}"
        );
    }
}

#[test]
fn broken_run_folders_are_refused_with_the_file_named() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let exp = common::tiny_experiment(8, 16, 1);
    let dir = tempfile::tempdir().unwrap();
    train_and_export(&exp, dir.path());
    let err = |p: &std::path::Path| {
        FrozenEncoder::load(p, 32, &Device::flex())
            .err()
            .unwrap()
            .to_string()
    };

    let empty = tempfile::tempdir().unwrap();
    assert!(err(empty.path()).contains("has no preset.toml"));

    let bpk = dir.path().join("encoder.bpk");
    let bytes = std::fs::read(&bpk).unwrap();
    std::fs::write(&bpk, &bytes[..bytes.len() / 2]).unwrap();
    let load_error = || {
        format!(
            "{:#}",
            FrozenEncoder::load(dir.path(), 32, &Device::flex())
                .err()
                .unwrap()
        )
    };
    // SHA256SUMS catches the truncation before the weights are read ...
    let e = load_error();
    assert!(e.contains("encoder.bpk") && e.contains("damaged"), "{e}");
    // ... and without it (an export from before the sums), burn's reader does.
    std::fs::remove_file(dir.path().join("SHA256SUMS")).unwrap();
    let e = load_error();
    assert!(
        e.contains("encoder.bpk") && e.contains("cannot load"),
        "{e}"
    );

    std::fs::remove_file(&bpk).unwrap();
    let e = err(dir.path());
    assert!(e.contains("encoder.bpk is missing"), "{e}");

    let preset = dir.path().join("preset.toml");
    let text = std::fs::read_to_string(&preset).unwrap();
    std::fs::write(&preset, text.replace("[train]", "[train]\nbogus = 1")).unwrap();
    let e = format!(
        "{:#}",
        FrozenEncoder::load(dir.path(), 32, &Device::flex())
            .err()
            .unwrap()
    );
    assert!(e.contains("preset.toml") && e.contains("bogus"), "{e}");
}

#[test]
fn a_vit_asked_for_images_smaller_than_its_patch_says_so() {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let mut exp = common::tiny_experiment(8, 16, 1);
    exp.encoder = common::tiny_vit(8);
    let dir = tempfile::tempdir().unwrap();
    train_and_export(&exp, dir.path());
    // `embed --size 4` and `eval --size 4` load it so; the patch convolution used to panic.
    let err = FrozenEncoder::load(dir.path(), 4, &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(&dir.path().display().to_string())
            && err.contains("encoder.patch = 8")
            && err.contains("4x4"),
        "{err}"
    );
    assert!(FrozenEncoder::load(dir.path(), 8, &Device::flex()).is_ok());
}
