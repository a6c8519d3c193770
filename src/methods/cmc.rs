//! CMC (Tian, Krishnan, Isola 2019, "Contrastive Multiview Coding"): an image is split into
//! views that are different channels of it, here CIE Lab's L (luminance) and ab (colour),
//! each with its own encoder. Each view's feature must find the other view's feature of the
//! same image among the other images' features, kept in one memory bank per view. With two
//! views the core-view and full-graph objectives coincide. The representation is the
//! concatenation of both encoders' outputs.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor};
use rand::RngExt;

use super::memory::{BANK_FEATURE_DIM, BANK_MOMENTUM, BANK_TEMPERATURE, MemoryBank};
use super::trainable::Trainable;
use super::{
    BuildContext, EncoderInput, ExportedEncoder, Method, MethodInfo, ParamSpec, StepError,
    StepOutput, TrainBatch,
};
use crate::losses::{binary_nce, l2_normalize};
use crate::model::SmallCnn;
use crate::model::lab::rgb_to_lab;
use crate::model::tensor_io::matrix_to_vec;
use crate::seeding::{Stream, rng_for};

const OBJECTIVES: &[&str] = &["infonce", "nce"];

pub static INFO: MethodInfo = MethodInfo {
    id: "cmc",
    name: "CMC (L vs ab)",
    paper: "Tian, Krishnan, Isola 2019, Contrastive Multiview Coding",
    summary: "Each image is split into two views that see different information: its \
              luminance L and its colour channels ab (CIE Lab). Each view has its own encoder. \
              The L feature of an image must pick out the same image's ab feature among stored \
              ab features of other images, and the other way round; memory banks hold one \
              feature per image and view. What survives is what the two views share.",
    formula: "L = -log exp(f_L(i).v_ab(i)/t) / sum_{j in {i} + k sampled} exp(f_L(i).v_ab(j)/t) \
              + (L <-> ab),  v <- norm(m v + (1 - m) f)",
    params: &[
        ParamSpec::choice(
            "objective",
            "objective",
            "Softmax over the positive and k sampled bank entries (InfoNCE), or binary NCE",
            OBJECTIVES,
            0,
        ),
        ParamSpec::integer(
            "negatives",
            "negatives k",
            "Bank entries sampled per step (16384 in the paper)",
            1024.0,
            1.0,
            65536.0,
        )
        .log(),
        BANK_TEMPERATURE,
        BANK_MOMENTUM,
        BANK_FEATURE_DIM,
    ],
    diagram: super::Diagram {
        top_input: "L channel",
        top: &[super::trained("encoder L"), super::trained("linear, L2")],
        bottom_input: "ab channels",
        bottom: &[super::trained("encoder ab"), super::trained("linear, L2")],
        bottom_stop_gradient: false,
        store: Some("memory banks: one L and one ab feature per image"),
        loss: "L feature vs ab bank (and ab vs L bank)",
    },
    needs_colour: true,
    build,
};

#[derive(Module, Debug)]
pub struct ViewNet {
    pub encoder: SmallCnn,
    pub fc: Linear,
}

impl ViewNet {
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        l2_normalize(self.fc.forward(self.encoder.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct CmcNet {
    pub l: ViewNet,
    pub ab: ViewNet,
}

/// The L and ab inputs of normalised RGB images.
fn split_lab(x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let lab = rgb_to_lab(x);
    (lab.clone().narrow(1, 0, 1), lab.narrow(1, 1, 2))
}

pub struct Cmc {
    net: Trainable<CmcNet>,
    banks: [MemoryBank; 2],
    softmax: bool,
    negatives: usize,
    temperature: f64,
    momentum: f32,
    seed: u64,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let p = ctx.params;
    let dim = p.count("feature_dim");
    let view = |inputs| ViewNet {
        encoder: ctx.encoder.init_with_inputs(inputs, ctx.device),
        fc: LinearConfig::new(ctx.encoder.output_dim(), dim).init(ctx.device),
    };
    let net = CmcNet {
        l: view(1),
        ab: view(2),
    };
    let len = ctx.dataset_len.max(2);
    let mut rng = rng_for(ctx.seed, Stream::Method, &[]);
    Box::new(Cmc {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        banks: [
            MemoryBank::new(len, dim, &mut rng),
            MemoryBank::new(len, dim, &mut rng),
        ],
        softmax: OBJECTIVES[p.count("objective")] == "infonce",
        negatives: p.count("negatives").min(len - 1),
        temperature: p.get("temperature"),
        momentum: p.get("bank_momentum") as f32,
        seed: ctx.seed,
        dim,
    })
}

impl Cmc {
    /// Rows `indices` then `noise` of a bank: the positives and the sampled negatives.
    fn candidates(
        &self,
        bank: usize,
        indices: &[usize],
        noise: &[usize],
        device: &Device,
    ) -> (Tensor<2>, Tensor<2>) {
        (
            self.banks[bank].gather(indices, device),
            self.banks[bank].gather(noise, device),
        )
    }
}

impl Method for Cmc {
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let device = batch.views.device();
        let mut rng = rng_for(self.seed, Stream::Method, &[4, batch.step]);
        let len = self.banks[0].len();
        let noise: Vec<usize> = (0..self.negatives)
            .map(|_| rng.random_range(0..len))
            .collect();
        let (l_pos, l_neg) = self.candidates(0, &batch.indices, &noise, &device);
        let (ab_pos, ab_neg) = self.candidates(1, &batch.indices, &noise, &device);
        let (t, softmax) = (self.temperature, self.softmax);
        let contrast = move |f: Tensor<2>, pos: Tensor<2>, neg: Tensor<2>| {
            let pos = (f.clone() * pos).sum_dim(1) / t;
            let neg = f.matmul(neg.transpose()) / t;
            if softmax {
                -log_softmax(Tensor::cat(vec![pos, neg], 1), 1)
                    .narrow(1, 0, 1)
                    .mean()
            } else {
                binary_nce(pos, neg)
            }
        };
        // One augmented view per image, split into L and ab, as in the paper.
        let (loss, (fl, fab)) = self.net.step(lr, |net| {
            let (l, ab) = split_lab(batch.views.narrow(0, 0, n));
            let (fl, fab) = (net.l.features(l), net.ab.features(ab));
            let loss = contrast(fl.clone(), ab_pos, ab_neg) + contrast(fab.clone(), l_pos, l_neg);
            (loss, (fl, fab))
        })?;
        let (fl, fab) = (fl.detach(), fab.detach());
        let staleness = self.banks[0].mean_age_of(&batch.indices, batch.step);
        let m = self.momentum;
        self.banks[0].update(&batch.indices, &matrix_to_vec(fl.clone()), m, batch.step);
        self.banks[1].update(&batch.indices, &matrix_to_vec(fab.clone()), m, batch.step);
        // Rows i (L) and i + n (ab) are the positive pairs the loss compared.
        let both = Tensor::cat(vec![fl, fab], 0);
        Ok(StepOutput::new(loss, both, self.dim)
            .with_signal("bank coverage", self.banks[0].coverage())
            .with_signal("bank entry age (steps)", staleness))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().l.encoder
    }

    /// Both encoders' outputs, concatenated.
    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let net = self.net.net();
        let (l, ab) = split_lab(images);
        Tensor::cat(
            vec![
                net.l.encoder.valid().forward(l),
                net.ab.encoder.valid().forward(ab),
            ],
            1,
        )
    }

    fn export_encoders(&self) -> Vec<ExportedEncoder> {
        let net = self.net.net();
        vec![
            ExportedEncoder {
                name: "encoder_l",
                network: net.l.encoder.clone(),
                input: EncoderInput::LabL,
            },
            ExportedEncoder {
                name: "encoder_ab",
                network: net.ab.encoder.clone(),
                input: EncoderInput::LabAb,
            },
        ]
    }
}
