//! CMC (Tian, Krishnan, Isola 2019, "Contrastive Multiview Coding"): an image is split into
//! views that are different channels of it, CIE Lab's L (luminance) and ab (colour), or L,
//! a and b as three views, each with its own encoder. Each view's feature must find another
//! view's feature of the same image among the other images' features, kept in one memory
//! bank per view. Which pairs of views are contrasted is the objective: the core view (L
//! against every other view) or the full graph (every pair); with two views they coincide.
//! The representation is the concatenation of all encoders' outputs.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;

use super::bank_nce::{noise_indices, noise_logits, normalised_nce};
use super::encoder_input::embed_with;
use super::memory::MemoryBank;
use super::persist::{Estimate, Persist};
use super::trainable::Trainable;
use super::{
    BuildContext, EncoderInput, ExportedEncoder, Method, StepError, StepOutput, TrainBatch,
};
use crate::catalogue::methods::cmc::Settings;
use crate::losses::{info_nce, l2_normalize};
use crate::model::lab::rgb_to_lab;
use crate::model::tensor_io::matrix_to_vec;
use crate::model::{Encoder, EncoderConfig};
use crate::seeding::{Stream, rng_for};
use crate::views::Normalize;

#[derive(Module, Debug)]
pub struct ViewNet {
    pub encoder: Encoder,
    pub fc: Linear,
}

impl ViewNet {
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        l2_normalize(self.fc.forward(self.encoder.forward(x)))
    }
}

/// One encoder (and projection) per view.
#[derive(Module, Debug)]
pub struct CmcNet {
    pub views: Vec<ViewNet>,
}

/// A view: which Lab channels (after `model::lab`'s scaling) its encoder sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabView {
    pub name: &'static str,
    pub first: usize,
    pub channels: usize,
    pub input: EncoderInput,
}

const L: LabView = LabView {
    name: "l",
    first: 0,
    channels: 1,
    input: EncoderInput::LabL,
};
const AB: LabView = LabView {
    name: "ab",
    first: 1,
    channels: 2,
    input: EncoderInput::LabAb,
};
const A: LabView = LabView {
    name: "a",
    first: 1,
    channels: 1,
    input: EncoderInput::LabA,
};
const B: LabView = LabView {
    name: "b",
    first: 2,
    channels: 1,
    input: EncoderInput::LabB,
};

/// The views of a view set, L first (the core view).
pub fn lab_views(set: &str) -> &'static [LabView] {
    match set {
        "L-a-b" => &[L, A, B],
        _ => &[L, AB],
    }
}

/// The pairs of views contrasted: the core view (0) with each other view, or every pair.
pub fn view_pairs(views: usize, full_graph: bool) -> Vec<(usize, usize)> {
    (0..views)
        .flat_map(|i| (i + 1..views).map(move |j| (i, j)))
        .filter(|&(i, _)| full_graph || i == 0)
        .collect()
}

/// The views' inputs from RGB images normalised by `normalize`.
fn split_lab(x: Tensor<4>, views: &[LabView], normalize: &Normalize) -> Vec<Tensor<4>> {
    let lab = rgb_to_lab(x, normalize);
    views
        .iter()
        .map(|v| lab.clone().narrow(1, v.first, v.channels))
        .collect()
}

pub struct Cmc {
    net: Trainable<CmcNet>,
    views: &'static [LabView],
    pairs: Vec<(usize, usize)>,
    normalize: Normalize,
    banks: Vec<MemoryBank>,
    /// NCE's ln Z per scored direction (pair `p` forward at `2p`, backward at `2p + 1`).
    log_z: Vec<Estimate>,
    softmax: bool,
    negatives: usize,
    temperature: f64,
    momentum: f32,
    seed: u64,
    dim: usize,
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let dim = s.feature_dim;
    let views = lab_views(s.views);
    let encoder = view_encoder(ctx.encoder, views.len(), s.split_width);
    let net = CmcNet {
        views: views
            .iter()
            .map(|v| ViewNet {
                encoder: encoder.init_with_inputs(v.channels, ctx.device),
                fc: LinearConfig::new(encoder.output_dim(), dim).init(ctx.device),
            })
            .collect(),
    };
    let len = ctx.dataset_len.max(2);
    let mut rng = rng_for(ctx.seed, Stream::Method, &[]);
    let pairs = view_pairs(views.len(), s.graph == "full");
    Box::new(Cmc {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        views,
        log_z: pairs
            .iter()
            .flat_map(|_| [Estimate(None), Estimate(None)])
            .collect(),
        pairs,
        normalize: ctx.normalize,
        banks: views
            .iter()
            .map(|_| MemoryBank::new(len, dim, &mut rng))
            .collect(),
        softmax: s.objective == "infonce",
        negatives: s.negatives.min(len - 1),
        temperature: s.temperature,
        momentum: s.bank_momentum as f32,
        seed: ctx.seed,
        dim,
    })
}

/// Each view's encoder: the experiment's, or with `1/views` of its widths when split.
pub fn view_encoder(encoder: &EncoderConfig, views: usize, split: bool) -> EncoderConfig {
    if split {
        encoder.narrowed(views)
    } else {
        encoder.clone()
    }
}

impl Method for Cmc {
    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![
            ("net", &mut self.net),
            ("bank", &mut self.banks),
            ("log_z", &mut self.log_z),
        ]
    }

    fn logit_temperature(&self) -> Option<f32> {
        Some(self.temperature as f32)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let device = batch.views.device();
        let mut rng = rng_for(self.seed, Stream::Method, &[4, batch.step]);
        let (len, m, d) = (self.banks[0].len(), self.negatives, self.dim);
        let noise = noise_indices(n, m, len, &mut rng);
        // Per view: its bank's entries for this batch (positives) and each image's noise.
        let stored: Vec<(Tensor<2>, Tensor<3>)> = self
            .banks
            .iter()
            .map(|bank| {
                let noise = bank.gather(&noise, &device).reshape([n, m, d]);
                (bank.gather(&batch.indices, &device), noise)
            })
            .collect();
        let (t, softmax) = (self.temperature, self.softmax);
        let mut log_z: Vec<Option<f64>> = self.log_z.iter().map(|e| e.0).collect();
        let mut contrast =
            |f: Tensor<2>, (pos, noise): &(Tensor<2>, Tensor<3>), direction: usize| {
                let pos = (f.clone() * pos.clone()).sum_dim(1) / t;
                let neg = noise_logits(f, noise.clone()) / t;
                if softmax {
                    info_nce(pos, neg)
                } else {
                    normalised_nce(pos, neg, &mut log_z[direction], len)
                }
            };
        let (views, pairs, normalize) = (self.views, &self.pairs, self.normalize);
        // One augmented view per image, split into its channel views, as in the paper.
        let (loss, features) = self.net.step(lr, |net| {
            let inputs = split_lab(batch.views.narrow(0, 0, n), views, &normalize);
            let f: Vec<Tensor<2>> = net
                .views
                .iter()
                .zip(inputs)
                .map(|(v, x)| v.features(x))
                .collect();
            // Each pair both ways: view i's feature against view j's bank, and back.
            let loss = pairs
                .iter()
                .enumerate()
                .map(|(p, &(i, j))| {
                    contrast(f[i].clone(), &stored[j], 2 * p)
                        + contrast(f[j].clone(), &stored[i], 2 * p + 1)
                })
                .reduce(|a, b| a + b)
                .expect("at least one pair of views");
            (loss, f)
        })?;
        self.log_z = log_z.into_iter().map(Estimate).collect();
        let staleness = self.banks[0].mean_age_of(&batch.indices, batch.step);
        let m = self.momentum;
        let features: Vec<Tensor<2>> = features.into_iter().map(Tensor::detach).collect();
        for (bank, f) in self.banks.iter_mut().zip(&features) {
            bank.update(&batch.indices, &matrix_to_vec(f.clone()), m, batch.step);
        }
        // Rows i (L) and i + n (the next view) are positive pairs the loss compared.
        let both = Tensor::cat(vec![features[0].clone(), features[1].clone()], 0);
        Ok(StepOutput::new(loss, both, self.dim)
            .in_space("L and ab features")
            .with_signal("bank coverage", self.banks[0].coverage())
            .with_signal("bank entry age (steps)", staleness))
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().views[0].encoder
    }

    /// All encoders' outputs, concatenated (L first).
    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let encoders: Vec<_> = self
            .net
            .net()
            .views
            .iter()
            .zip(self.views)
            .map(|(v, view)| (&v.encoder, view.input))
            .collect();
        embed_with(&encoders, images, &self.normalize)
    }

    fn export_encoders(&self) -> Vec<ExportedEncoder> {
        self.net
            .net()
            .views
            .iter()
            .zip(self.views)
            .map(|(net, view)| ExportedEncoder {
                name: match view.name {
                    "l" => "encoder_l",
                    "ab" => "encoder_ab",
                    "a" => "encoder_a",
                    _ => "encoder_b",
                },
                network: net.encoder.clone(),
                input: view.input,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::methods::cmc::VIEW_SETS;

    #[test]
    fn core_view_pairs_l_with_each_view_and_full_graph_pairs_all() {
        assert_eq!(view_pairs(2, false), [(0, 1)]);
        assert_eq!(view_pairs(2, true), [(0, 1)]);
        assert_eq!(view_pairs(3, false), [(0, 1), (0, 2)]);
        assert_eq!(view_pairs(3, true), [(0, 1), (0, 2), (1, 2)]);
    }

    #[test]
    fn view_sets_cover_the_three_lab_channels_once() {
        for set in VIEW_SETS {
            let views = lab_views(set);
            let channels: Vec<usize> = views
                .iter()
                .flat_map(|v| v.first..v.first + v.channels)
                .collect();
            assert_eq!(channels, [0, 1, 2], "{set}");
            assert!(views.iter().all(|v| v.input.channels() == v.channels));
        }
    }
}
