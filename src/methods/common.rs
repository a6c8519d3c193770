//! Pieces several methods share: splitting a paired batch, the encoder + projector backbone
//! (and with a predictor on top), and seeded random unit vectors (how queues and memory
//! banks start).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;

use super::BuildContext;
use crate::model::{BnMlp, BnMlpConfig, Encoder, MlpHead, MlpHeadConfig};
use crate::seeding::Rng;

/// Rows `0..n` and `n..2n` of a `[2n, d]` batch: the first and second views.
pub fn halves(t: Tensor<2>, n: usize) -> (Tensor<2>, Tensor<2>) {
    (t.clone().narrow(0, 0, n), t.narrow(0, n, n))
}

/// A `[rows, cols]` tensor from row-major values.
pub fn tensor_2d(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// The encoder followed by a BatchNorm MLP projector.
#[derive(Module, Debug)]
pub struct Backbone {
    pub encoder: Encoder,
    pub projector: BnMlp,
}

impl Backbone {
    pub fn new(ctx: &BuildContext, hidden: usize, output: usize, layers: usize) -> Self {
        Self::build(ctx, hidden, output, layers, false)
    }

    /// The same with BatchNorm on the projector's output (SimSiam's CIFAR projector, MoCo
    /// v3's).
    pub fn with_output_bn(ctx: &BuildContext, hidden: usize, output: usize, layers: usize) -> Self {
        Self::build(ctx, hidden, output, layers, true)
    }

    fn build(ctx: &BuildContext, hidden: usize, output: usize, layers: usize, bn: bool) -> Self {
        Self {
            encoder: ctx.encoder.init(ctx.device),
            projector: BnMlpConfig {
                input: ctx.encoder.output_dim(),
                hidden,
                output,
                layers,
                bn_last: bn,
            }
            .init(ctx.device),
        }
    }

    /// Projections `[B, output]` of `[B, 3, H, W]` images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.projector.forward(self.encoder.forward(x))
    }
}

/// A backbone with a predictor on its projections (SimSiam's network, BYOL's online network,
/// MoCo v3's query encoder): Linear -> BatchNorm -> ReLU -> Linear, `dim -> hidden -> dim`.
#[derive(Module, Debug)]
pub struct PredictorNet {
    pub backbone: Backbone,
    pub predictor: BnMlp,
}

impl PredictorNet {
    /// `backbone` (whose projections are `dim` wide) and a new predictor.
    pub fn new(ctx: &BuildContext, backbone: Backbone, hidden: usize, dim: usize) -> Self {
        let predictor = BnMlpConfig {
            input: dim,
            hidden,
            output: dim,
            layers: 2,
            bn_last: false,
        };
        Self {
            backbone,
            predictor: predictor.init(ctx.device),
        }
    }

    /// Projections z and predictions p of a `[B, 3, H, W]` batch.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let z = self.backbone.forward(x);
        let p = self.predictor.forward(z.clone());
        (z, p)
    }
}

/// `count` random unit vectors of dimension `dim`, row-major (Gaussian, then normalised).
pub fn random_unit_rows(count: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * dim);
    for _ in 0..count {
        // Box-Muller: a Gaussian direction is uniform on the sphere.
        let row: Vec<f32> = (0..dim)
            .map(|_| {
                let u1: f32 = rng.random_range(f32::EPSILON..1.0);
                let u2: f32 = rng.random_range(0.0..1.0);
                (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
            })
            .collect();
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.extend(row.iter().map(|v| v / norm));
    }
    out
}

/// The encoder followed by SimCLR's MLP head (no BatchNorm).
#[derive(Module, Debug)]
pub struct HeadNet {
    pub encoder: Encoder,
    pub head: MlpHead,
}

impl HeadNet {
    pub fn new(ctx: &BuildContext, hidden: usize, output: usize) -> Self {
        Self {
            encoder: ctx.encoder.init(ctx.device),
            head: MlpHeadConfig {
                input: ctx.encoder.output_dim(),
                hidden,
                output,
            }
            .init(ctx.device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward(x))
    }
}
