//! Periodic evaluation: embed a fixed bank and a fixed held-out sample with the current
//! encoder, score kNN top-1, and project the held-out sample to 2-D.

use burn::tensor::Device;

use super::ProjectionFrame;
use crate::data::{Dataset, ImageSet};
use crate::methods::Method;
use crate::metrics::{KnnParams, knn::knn_accuracy};
use crate::model::tensor_io::{images_to_tensor, matrix_to_vec};
use crate::preset::EvalSpec;
use crate::projection::pca_2d;
use crate::seeding::{Stream, rng_for};
use crate::views::Normalize;
use crate::views::batch::plain_batch;

/// Images per forward pass when embedding.
const EMBED_CHUNK: usize = 256;

/// The fixed images every evaluation of a run uses.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSample {
    /// Train-split indices forming the kNN bank.
    pub bank: Vec<usize>,
    /// Test-split indices queried and projected.
    pub queries: Vec<usize>,
}

impl EvalSample {
    pub fn new(dataset: &Dataset, spec: &EvalSpec, seed: u64) -> Self {
        let pick = |len: usize, want: usize, which: u64| {
            let mut rng = rng_for(seed, Stream::Sample, &[which]);
            let mut v = rand::seq::index::sample(&mut rng, len, want.min(len)).into_vec();
            v.sort_unstable();
            v
        };
        Self {
            bank: pick(dataset.train.len(), spec.bank_size, 0),
            queries: pick(dataset.test.len(), spec.query_size, 1),
        }
    }
}

/// Representations of `indices` of `images`, row-major `[n, dim]`, and `dim`.
pub fn embed_images(
    method: &dyn Method,
    images: &ImageSet,
    indices: &[usize],
    normalize: &Normalize,
    device: &Device,
) -> (Vec<f32>, usize) {
    let mut out = Vec::new();
    let mut dim = 0;
    for chunk in indices.chunks(EMBED_CHUNK) {
        let x = images_to_tensor(
            &plain_batch(images, chunk, normalize),
            chunk.len(),
            images.size,
            device,
        );
        let h = method.embed(x);
        dim = h.dims()[1];
        out.extend(matrix_to_vec(h));
    }
    (out, dim)
}

/// kNN top-1 and a projection of the queries at `step`.
pub fn evaluate(
    method: &dyn Method,
    dataset: &Dataset,
    sample: &EvalSample,
    spec: &EvalSpec,
    normalize: &Normalize,
    device: &Device,
    step: u64,
) -> (f32, ProjectionFrame) {
    let (bank, d) = embed_images(method, &dataset.train, &sample.bank, normalize, device);
    let (queries, _) = embed_images(method, &dataset.test, &sample.queries, normalize, device);
    let bank_labels: Vec<u16> = sample
        .bank
        .iter()
        .map(|&i| dataset.train.labels[i])
        .collect();
    let query_labels: Vec<u16> = sample
        .queries
        .iter()
        .map(|&i| dataset.test.labels[i])
        .collect();
    let acc = knn_accuracy(
        &bank,
        &bank_labels,
        &queries,
        &query_labels,
        d,
        dataset.class_names.len(),
        KnnParams {
            k: spec.knn_k,
            temperature: spec.knn_temperature,
        },
    );
    let pca = pca_2d(&queries, d);
    (
        acc,
        ProjectionFrame {
            step,
            points: pca.points,
            labels: query_labels,
            indices: sample.queries.clone(),
            explained: pca.explained,
        },
    )
}
