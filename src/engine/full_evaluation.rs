//! The full evaluation protocol of published SSL tables: every train image embedded as the
//! kNN bank, every test image as a query (the run's k and temperature, and k = 200 at
//! T = 0.1 as lightly and solo-learn report), and a mini-batch linear probe on all train
//! features scored on all test features. It runs on the training thread (never the UI's),
//! with its wall time and peak memory reported: the kNN scores queries in blocks, so
//! memory stays near the two feature matrices however large the splits are.
//!
//! It runs after the last step's evaluation when `[eval] full_split` asks. Both k settings
//! (the run's, 20 by default, and k = 200) vote on one neighbour search; the peak memory
//! comes from `peak_memory`.

use std::time::Instant;

use burn::tensor::Device;

use super::evaluate::embed_images;
use super::peak_memory::PeakMemory;
use super::protocol::{FullEvalReport, KnnFigure};
use crate::data::Dataset;
use crate::methods::Method;
use crate::metrics::knn::{knn_predict_each, top1};
use crate::metrics::{KnnParams, ProbeParams, linear_probe};
use crate::preset::EvalSpec;
use crate::views::Normalize;

/// The k = 200, T = 0.1 setting reported next to the run's own.
pub const WIDE_KNN: KnnParams = KnnParams {
    k: 200,
    temperature: 0.1,
};

/// Scores `method`'s representation at `step` on the whole of both splits.
pub fn full_evaluation(
    method: &dyn Method,
    dataset: &Dataset,
    spec: &EvalSpec,
    normalize: &Normalize,
    device: &Device,
    step: u64,
) -> FullEvalReport {
    let started = Instant::now();
    let peak = PeakMemory::start();
    let all = |n: usize| (0..n).collect::<Vec<_>>();
    let (train, d) = embed_images(
        method,
        &dataset.train,
        &all(dataset.train.len()),
        normalize,
        device,
    );
    let (test, _) = embed_images(
        method,
        &dataset.test,
        &all(dataset.test.len()),
        normalize,
        device,
    );
    let classes = dataset.class_names.len();
    let (train_labels, test_labels) = (&dataset.train.labels, &dataset.test.labels);
    let mut settings = vec![KnnParams {
        k: spec.knn_k,
        temperature: spec.knn_temperature,
    }];
    if !settings.contains(&WIDE_KNN) {
        settings.push(WIDE_KNN);
    }
    let predicted = knn_predict_each(&train, train_labels, &test, d, classes, &settings);
    let knn = settings
        .iter()
        .zip(&predicted)
        .map(|(p, labels)| KnnFigure {
            k: p.k,
            temperature: p.temperature,
            top1: top1(labels, test_labels),
        })
        .collect();
    let probe = linear_probe(
        &train,
        train_labels,
        &test,
        test_labels,
        d,
        classes,
        ProbeParams::mini_batch(),
    );
    FullEvalReport {
        step,
        train_images: dataset.train.len(),
        test_images: dataset.test.len(),
        knn,
        probe_top1: probe.accuracy,
        seconds: started.elapsed().as_secs_f32(),
        peak_rss_mib: peak.peak_mib(),
    }
}
