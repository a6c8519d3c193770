//! `embed` and `eval`: use an exported encoder (a run folder) without training. `embed`
//! writes a dataset's embeddings and Projector TSVs; `eval` runs kNN and the linear probe,
//! each against the same networks at their random initialisation.

use std::path::{Path, PathBuf};

use crate::engine::backend;

use crate::data::Dataset;
use crate::data::detect::spec_for_path;
use crate::engine::embeddings_export::EmbeddingTable;
use crate::engine::evaluate::{EvalSample, evaluate};
use crate::engine::frozen_encoder::FrozenEncoder;
use crate::preset::Experiment;

/// The dataset to use: `--dataset PATH` (any supported layout; image folders are resized
/// to `size`) or the run's own, as its preset names it.
fn dataset_for(run: &Path, dataset: Option<&Path>, size: usize) -> anyhow::Result<Dataset> {
    let spec = match dataset {
        Some(path) => spec_for_path(path, size)?,
        None => {
            let preset = run.join("preset.toml");
            anyhow::ensure!(
                preset.exists(),
                "{} has no preset.toml: not a run folder written by Export or `train --out`",
                run.display()
            );
            Experiment::load(&preset)?.dataset
        }
    };
    super::load::load_with_bar(&spec)
}

pub fn embed(
    run: &Path,
    dataset: Option<&Path>,
    size: usize,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dataset = dataset_for(run, dataset, size)?;
    let device = backend::cpu_device();
    let encoder = FrozenEncoder::load(run, dataset.image_size(), &device)?;
    let out = out.unwrap_or_else(|| run.join(format!("embed-{}", dataset.name)));
    // A run's export holds its own held-out embeddings under the same names.
    anyhow::ensure!(
        !out.join("preset.toml").is_file(),
        "{} is a run's export: its own embeddings.csv, embeddings.npy, vectors.tsv and \
         metadata.tsv would be replaced by {}'s; choose another --out (the default is \
         {})",
        out.display(),
        dataset.name,
        run.join(format!("embed-{}", dataset.name)).display()
    );
    let table = EmbeddingTable::of(
        &encoder,
        &dataset,
        &encoder.experiment.views.normalize,
        &device,
    );
    let files = table.write(&out)?;
    crate::errln!(
        "{} images of {} through {}: wrote {} to {}",
        table.rows.len(),
        dataset.name,
        encoder.describe(),
        files.join(", "),
        out.display()
    );
    Ok(())
}

pub fn eval(run: &Path, dataset: Option<&Path>, size: usize) -> anyhow::Result<()> {
    let dataset = dataset_for(run, dataset, size)?;
    anyhow::ensure!(
        dataset.train.len() >= 2 && !dataset.test.is_empty(),
        "dataset {} needs train and held-out images for kNN and the probe ({} train, {} test)",
        dataset.name,
        dataset.train.len(),
        dataset.test.len()
    );
    let size = dataset.image_size();
    let device = backend::cpu_device();
    let trained = FrozenEncoder::load(run, size, &device)?;
    let initial = FrozenEncoder::random_init(run, size, &device)?;
    let exp = &trained.experiment;
    let sample = EvalSample::new(&dataset, &exp.eval, exp.seed);
    let score = |encoder: &FrozenEncoder| {
        let e = evaluate(
            encoder,
            &dataset,
            &sample,
            &exp.eval,
            &exp.views.normalize,
            &device,
            0,
        );
        (e.knn_top1, e.probe_inputs.score().accuracy)
    };
    let (knn, probe) = score(&trained);
    let (knn0, probe0) = score(&initial);
    crate::outln!(
        "{}",
        serde_json::json!({
            "encoder": run.display().to_string(),
            "dataset": dataset.name,
            "bank": sample.bank.len(),
            "queries": sample.queries.len(),
            "knn_k": exp.eval.knn_k,
            "knn_temperature": exp.eval.knn_temperature,
            "knn_top1": knn,
            "knn_baseline_top1": knn0,
            "probe_top1": probe,
            "probe_baseline_top1": probe0,
        })
    );
    Ok(())
}
