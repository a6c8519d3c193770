//! Periodic evaluation: embed a fixed bank and a fixed held-out sample with the current
//! encoder, score kNN top-1, and project the held-out sample to 2-D.
//!
//! One neighbour search (`metrics::knn::nearest`) answers the class and every nuisance
//! attribute: kNN top-1 overall, per class, and per attribute against its chance level.
//! The first `PAIRS_SHOWN` projected images' fixed pairs of augmented views (the same at
//! every evaluation) are embedded and placed in the same PCA picture.

use burn::tensor::Device;

use super::ProjectionFrame;
use super::protocol::{AttributeScore, ClassScore, PointAttribute};
use crate::data::{Dataset, ImageSet};
use crate::methods::Method;
use crate::metrics::knn::{nearest, top1, vote_each};
use crate::metrics::{KnnParams, ProbeParams, ProbeScore, linear_probe};
use crate::model::tensor_io::{images_to_tensor, matrix_to_vec};
use crate::preset::{EvalSpec, Experiment, PictureSpace};
use crate::projection::{Pca2, pca_2d};
use crate::seeding::{Stream, rng_for};
use crate::views::Normalize;
use crate::views::batch::{held_out_pairs, plain_batch};

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
    let e = embed_with_picture(
        method,
        images,
        indices,
        normalize,
        device,
        PictureSpace::Encoder,
    );
    (e.h, e.dim)
}

/// `h`, or its projection by the method's head in [`PictureSpace::Head`]; and the space
/// it is in (the encoder's, for a method without a head).
fn in_space(
    method: &dyn Method,
    h: burn::tensor::Tensor<2>,
    space: PictureSpace,
) -> (burn::tensor::Tensor<2>, PictureSpace) {
    match space {
        PictureSpace::Encoder => (h, space),
        PictureSpace::Head => match method.head(h.clone()) {
            Some(z) => (z, space),
            None => (h, PictureSpace::Encoder),
        },
    }
}

/// The representations of some images, and their picture in another space.
struct Embedded {
    /// Row-major `[n, dim]`: what kNN and the probe read.
    h: Vec<f32>,
    dim: usize,
    /// The same rows through the method's head, with their dimension, where the picture
    /// asks for the head and the method has one.
    head: Option<(Vec<f32>, usize)>,
}

/// [`embed_images`], and the head's output of the same forward pass where `space` asks for
/// it: one encoder pass serves kNN and the picture.
fn embed_with_picture(
    method: &dyn Method,
    images: &ImageSet,
    indices: &[usize],
    normalize: &Normalize,
    device: &Device,
    space: PictureSpace,
) -> Embedded {
    let mut e = Embedded {
        h: Vec::new(),
        dim: 0,
        head: None,
    };
    for chunk in indices.chunks(EMBED_CHUNK) {
        let x = images_to_tensor(
            &plain_batch(images, chunk, normalize),
            chunk.len(),
            images.size,
            device,
        );
        let h = method.embed(x);
        if let (z, PictureSpace::Head) = in_space(method, h.clone(), space) {
            let dim = z.dims()[1];
            let (rows, _) = e.head.get_or_insert_with(|| (Vec::new(), dim));
            rows.extend(matrix_to_vec(z));
        }
        e.dim = h.dims()[1];
        e.h.extend(matrix_to_vec(h));
    }
    e
}

/// The frozen features of one evaluation, kept for the linear probe (which runs on its own
/// thread, so it owns them).
#[derive(Clone, Debug)]
pub struct ProbeInputs {
    pub step: u64,
    pub bank: Vec<f32>,
    pub bank_labels: Vec<u16>,
    pub queries: Vec<f32>,
    pub query_labels: Vec<u16>,
    pub dim: usize,
    pub classes: usize,
}

impl ProbeInputs {
    /// Trains the probe on the bank and scores it on the queries.
    pub fn score(&self) -> ProbeScore {
        linear_probe(
            &self.bank,
            &self.bank_labels,
            &self.queries,
            &self.query_labels,
            self.dim,
            self.classes,
            ProbeParams::default(),
        )
    }
}

/// What one evaluation measured.
pub struct Evaluation {
    pub knn_top1: f32,
    /// kNN top-1 among each class's queries.
    pub per_class: Vec<ClassScore>,
    /// Per nuisance attribute: its name, kNN top-1 and chance level.
    pub attributes: Vec<(String, f32, f32)>,
    pub frame: ProjectionFrame,
    pub probe_inputs: ProbeInputs,
    /// The PCA the frame's points come from (to place other rows in the same picture).
    pub pca: Pca2,
}

impl Evaluation {
    /// The nuisance attributes' scores, against `baselines` (their step-0 accuracies).
    pub fn attribute_report(&self, baselines: &[f32]) -> Vec<AttributeScore> {
        self.attributes
            .iter()
            .enumerate()
            .map(|(k, (name, top1, chance))| AttributeScore {
                name: name.clone(),
                top1: *top1,
                baseline_top1: baselines.get(k).copied().unwrap_or(f32::NAN),
                chance: *chance,
            })
            .collect()
    }

    /// The attributes' accuracies alone (what a later evaluation compares against).
    pub fn attribute_top1(&self) -> Vec<f32> {
        self.attributes.iter().map(|a| a.1).collect()
    }
}

/// How many held-out images the projection also shows as a pair of augmented views.
pub const PAIRS_SHOWN: usize = 100;

/// The first `PAIRS_SHOWN` projected images' two views (the same augmentations at every
/// evaluation), embedded and placed in the frame's PCA picture: `[view 1, view 2]` each.
/// The line between them is how far apart the method keeps a positive pair.
pub fn view_pairs(
    method: &dyn Method,
    dataset: &Dataset,
    sample: &EvalSample,
    exp: &Experiment,
    device: &Device,
    pca: &Pca2,
    space: PictureSpace,
) -> Vec<[[f32; 2]; 2]> {
    let indices = &sample.queries[..sample.queries.len().min(PAIRS_SHOWN)];
    let m = indices.len();
    if m == 0 {
        return Vec::new();
    }
    let data = held_out_pairs(&dataset.test, indices, &exp.views, exp.seed);
    let size = dataset.test.size;
    let plane = 3 * size * size;
    let mut embedded = Vec::new();
    let mut dim = 0;
    for chunk in data.chunks(EMBED_CHUNK * plane) {
        let rows = chunk.len() / plane;
        let x = images_to_tensor(chunk, rows, size, device);
        let (h, _) = in_space(method, method.embed(x), space);
        dim = h.dims()[1];
        embedded.extend(matrix_to_vec(h));
    }
    let placed = pca.project(&embedded, dim);
    (0..m).map(|i| [placed[i], placed[m + i]]).collect()
}

/// For each nuisance attribute of `dataset`: its name, the kNN top-1 of predicting it from
/// the bank's values of it, and the chance level (the queries' most common value).
fn attribute_scores(
    dataset: &Dataset,
    sample: &EvalSample,
    near: &[Vec<(f32, u32)>],
    params: KnnParams,
) -> Vec<(String, f32, f32)> {
    let (train, test) = (&dataset.train.attributes, &dataset.test.attributes);
    dataset
        .attributes
        .iter()
        .zip(train.iter().zip(test))
        .map(|(a, (train, test))| {
            let bank_values: Vec<u16> = sample.bank.iter().map(|&i| train[i]).collect();
            let truth: Vec<u16> = sample.queries.iter().map(|&i| test[i]).collect();
            let predicted = vote_each(near, &bank_values, a.values.len(), &[params]).remove(0);
            let mut counts = vec![0usize; a.values.len().max(1)];
            for &v in &truth {
                if let Some(c) = counts.get_mut(v as usize) {
                    *c += 1;
                }
            }
            let chance =
                counts.iter().copied().max().unwrap_or(0) as f32 / truth.len().max(1) as f32;
            (a.name.clone(), top1(&predicted, &truth), chance)
        })
        .collect()
}

/// Each class's share of correctly labelled queries (NaN for a class with none).
pub fn class_scores(names: &[String], predicted: &[u16], truth: &[u16]) -> Vec<ClassScore> {
    let mut right = vec![0usize; names.len()];
    let mut seen = vec![0usize; names.len()];
    for (&p, &t) in predicted.iter().zip(truth) {
        if let Some(s) = seen.get_mut(t as usize) {
            *s += 1;
            right[t as usize] += usize::from(p == t);
        }
    }
    names
        .iter()
        .zip(right.iter().zip(&seen))
        .map(|(name, (&r, &n))| ClassScore {
            name: name.clone(),
            top1: if n == 0 {
                f32::NAN
            } else {
                r as f32 / n as f32
            },
            queries: n,
        })
        .collect()
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
) -> Evaluation {
    let (bank, d) = embed_images(method, &dataset.train, &sample.bank, normalize, device);
    // One pass over the queries gives kNN's h and, where asked, the picture's z.
    let queried = embed_with_picture(
        method,
        &dataset.test,
        &sample.queries,
        normalize,
        device,
        spec.picture,
    );
    let queries = queried.h;
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
    let params = KnnParams {
        k: spec.knn_k,
        temperature: spec.knn_temperature,
    };
    // One neighbour search answers the class and every nuisance attribute.
    let near = nearest(&bank, &queries, d, params.k);
    let classes = dataset.class_names.len();
    let predicted = vote_each(&near, &bank_labels, classes, &[params]).remove(0);
    let knn_correct: Vec<bool> = predicted
        .iter()
        .zip(&query_labels)
        .map(|(p, l)| p == l)
        .collect();
    let acc = knn_correct.iter().filter(|&&c| c).count() as f32 / knn_correct.len().max(1) as f32;
    let per_class = class_scores(&dataset.class_names, &predicted, &query_labels);
    let attributes = attribute_scores(dataset, sample, &near, params);
    // The picture: the queries in the space the preset asks for (kNN read h above).
    let (picture, picture_dim, space) = match queried.head {
        Some((z, dim)) => (z, dim, PictureSpace::Head),
        None => (queries.clone(), d, PictureSpace::Encoder),
    };
    let pca = pca_2d(&picture, picture_dim);
    let point_attributes = dataset
        .attributes
        .iter()
        .zip(&dataset.test.attributes)
        .map(|(a, values)| PointAttribute {
            name: a.name.clone(),
            values: a.values.clone(),
            of_point: sample.queries.iter().map(|&i| values[i]).collect(),
        })
        .collect();
    Evaluation {
        knn_top1: acc,
        per_class,
        attributes,
        probe_inputs: ProbeInputs {
            step,
            bank,
            bank_labels,
            queries: queries.clone(),
            query_labels: query_labels.clone(),
            dim: d,
            classes: dataset.class_names.len(),
        },
        frame: ProjectionFrame {
            step,
            points: pca.points.clone(),
            labels: query_labels,
            indices: sample.queries.clone(),
            explained: pca.explained,
            embeddings: picture,
            dim: picture_dim,
            space,
            knn_correct,
            view_pairs: Vec::new(),
            attributes: point_attributes,
        },
        pca,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shapes::{ShapesSpec, generate};
    use crate::methods::{TestBuild, build};

    /// `method`'s picture with `picture` asked: its space and dimension.
    fn picture_of(method: &str, picture: PictureSpace) -> (PictureSpace, usize, Vec<f32>) {
        let dataset = generate(&ShapesSpec {
            train_per_class: 2,
            test_per_class: 2,
            size: 16,
            ..ShapesSpec::default()
        });
        let spec = EvalSpec {
            bank_size: 16,
            query_size: 16,
            picture,
            ..EvalSpec::default()
        };
        let tb = TestBuild::new(&format!("kind = \"{method}\""));
        let built = build(crate::catalogue::find(method).unwrap(), &tb.ctx());
        let device = Device::flex();
        let sample = EvalSample::new(&dataset, &spec, 0);
        let e = evaluate(
            built.as_ref(),
            &dataset,
            &sample,
            &spec,
            &Normalize::HALF,
            &device,
            0,
        );
        (e.frame.space, e.frame.dim, e.frame.embeddings)
    }

    #[test]
    fn the_picture_shows_the_head_space_where_asked_and_there_is_a_head() {
        let (space, dim, h) = picture_of("simclr", PictureSpace::Encoder);
        assert_eq!(
            (space, dim),
            (PictureSpace::Encoder, 16),
            "the encoder's 16 channels"
        );
        let (space, dim, z) = picture_of("simclr", PictureSpace::Head);
        assert_eq!(
            (space, dim),
            (PictureSpace::Head, 128),
            "SimCLR's head: 128"
        );
        assert_eq!(z.len(), 16 * 128);
        assert_ne!(h.len(), z.len());
        // The momentum composition pictures its online projector (BYOL: 256-d by default).
        let (space, _, _) = picture_of("byol", PictureSpace::Head);
        assert_eq!(space, PictureSpace::Head);
        // A method without a single head on its encoder shows h, and says so.
        let (space, dim, _) = picture_of("simsiam", PictureSpace::Head);
        assert_eq!((space, dim), (PictureSpace::Encoder, 16));
    }
}
