//! Contrastive Predictive Coding on images (van den Oord et al. 2018, sec. 3.3) with the
//! CPC v2 options (Henaff et al. 2020): each image is cut into a grid of overlapping
//! patches; the encoder embeds every patch (z); a context network that sees only the rows
//! above (masked convolution or a GRU down each column) summarises them (c); for each
//! offset k a linear map W_k predicts the embedding k rows below, and InfoNCE picks the
//! true patch among negatives sampled from all patches of the batch (other positions and
//! other images). The representation of an image is the mean of its patch embeddings.
//!
//! Both augmented views of the batch are used as separate images (twice the patches per
//! step); the embeddings reported to the dashboard pair them, so alignment is measured on
//! the pooled representation like every other method.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Int, Tensor, TensorData};
use rand::RngExt;

use super::encoder_input::{embed_with, pool_patches};
use super::persist::Persist;
use super::trainable::Trainable;
use super::{
    BuildContext, EncoderInput, ExportedEncoder, Method, StepError, StepOutput, TrainBatch,
};
use crate::catalogue::methods::cpc::{Settings, geometry};
use crate::losses::{info_nce, info_nce_bound};
use crate::model::autoregressive::{ContextKind, ContextNet};
use crate::model::patches::{augment_patches, extract_patches};
use crate::model::{Encoder, EncoderConfig, EncoderKind, Norm};
use crate::seeding::{Stream, rng_for};
use crate::views::Normalize;
use crate::views::patch_grid::PatchGrid;

#[derive(Module, Debug)]
pub struct CpcNet {
    pub encoder: Encoder,
    pub context: ContextNet,
    /// `predictors[k - 1]` is W_k.
    pub predictors: Vec<Linear>,
}

pub struct Cpc {
    net: Trainable<CpcNet>,
    grid: PatchGrid,
    steps: usize,
    negatives: usize,
    patch_augment: bool,
    seed: u64,
    dim: usize,
    /// Layer norm was asked for but the encoder (ResNet-18) has BatchNorm only.
    layer_norm_ignored: bool,
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (grid, steps) = geometry(&s, ctx.image_size);
    let encoder = EncoderConfig {
        norm: if s.layer_norm {
            Norm::Layer
        } else {
            ctx.encoder.norm
        },
        ..ctx.encoder.clone()
    };
    let dim = encoder.output_dim();
    let hidden = s.context_dim;
    let kind = match s.context {
        "gru" => ContextKind::Gru,
        _ => ContextKind::MaskedConv,
    };
    let net = CpcNet {
        encoder: encoder.init(ctx.device),
        context: ContextNet::new(kind, dim, hidden, ctx.device),
        predictors: (0..steps)
            .map(|_| {
                LinearConfig::new(hidden, dim)
                    .with_bias(false)
                    .init(ctx.device)
            })
            .collect(),
    };
    Box::new(Cpc {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        grid,
        steps,
        negatives: s.negatives.max(1),
        patch_augment: s.patch_augment,
        seed: ctx.seed,
        dim,
        layer_norm_ignored: s.layer_norm && ctx.encoder.kind == EncoderKind::Resnet18,
    })
}

/// InfoNCE of predictions against their targets: `pred` and `target` are `[m, d]` (row i's
/// positive is target i), `negatives` `[k, d]` are shared by all rows; scores are dot
/// products (CPC's log-bilinear critic, W_k already applied to `pred`).
pub fn prediction_loss(pred: Tensor<2>, target: Tensor<2>, negatives: Tensor<2>) -> Tensor<1> {
    let pos = (pred.clone() * target).sum_dim(1);
    let neg = pred.matmul(negatives.transpose());
    info_nce(pos, neg)
}

impl Method for Cpc {
    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![("net", &mut self.net)]
    }

    fn warnings(&self, _train_images: usize) -> Vec<String> {
        if !self.layer_norm_ignored {
            return Vec::new();
        }
        vec![
            "method.layer_norm = true has no effect with encoder.kind = \"resnet18\": ResNet-18 \
             has BatchNorm only, so patches of one image share batch statistics (CPC v2's \
             reason for layer norm); use the small CNN for CPC v2's setting"
                .into(),
        ]
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let (grid, steps, dim) = (self.grid, self.steps, self.dim);
        let g = grid.grid;
        let images = 2 * batch.images();
        let device = batch.views.device();
        let mut patches = extract_patches(batch.views, &grid);
        if self.patch_augment {
            let mut rng = rng_for(self.seed, Stream::Method, &[2, batch.step]);
            patches = augment_patches(patches, 0.5, &mut rng);
        }
        // Negatives: patches drawn from the whole batch, the same set for every prediction.
        // (One of them is a row's own target with probability 1/(images * g^2): left in,
        // as sampling from the batch does in the paper.)
        let total = images * grid.len();
        let mut rng = rng_for(self.seed, Stream::Method, &[1, batch.step]);
        let picks: Vec<i64> = (0..self.negatives)
            .map(|_| rng.random_range(0..total) as i64)
            .collect();
        let picks = Tensor::<1, Int>::from_data(TensorData::new(picks, [self.negatives]), &device);
        let negatives = self.negatives;
        let (loss, (z, mi)) = self.net.step(lr, |net| {
            let z = net.encoder.forward(patches); // [images * g^2, d]
            // [images, g, g, d] and, channels first for the context network, [images, d, g, g].
            let z_grid = z.clone().reshape([images, g, g, dim]);
            let c = net
                .context
                .forward(z_grid.clone().permute([0, 3, 1, 2]))
                .permute([0, 2, 3, 1]); // [images, g, g, hidden]
            let hidden = c.dims()[3];
            let noise = z.clone().select(0, picks);
            let mut total_loss = None;
            let mut mi = Vec::with_capacity(steps);
            for (k, w_k) in (1..=steps).zip(&net.predictors) {
                let rows = images * (g - k) * g;
                let context = c.clone().narrow(1, 0, g - k).reshape([rows, hidden]);
                let target = z_grid.clone().narrow(1, k, g - k).reshape([rows, dim]);
                let loss_k = prediction_loss(w_k.forward(context), target, noise.clone());
                mi.push(loss_k.clone());
                total_loss = Some(match total_loss {
                    None => loss_k,
                    Some(acc) => acc + loss_k,
                });
            }
            let loss = total_loss.expect("at least one prediction step") / steps as f64;
            (loss, (z, mi))
        })?;
        let pooled = pool_patches(z.detach(), grid.len());
        let mut out = StepOutput::new(loss, pooled, dim).in_space("pooled patch features");
        // The bound for the nearest row (k = 1) and the farthest.
        let bound = |t: &Tensor<1>| {
            info_nce_bound(
                crate::model::tensor_io::scalar(t.clone().detach()),
                negatives,
            )
        };
        out = out.with_signal("MI estimate (nats)", bound(&mi[0]));
        if steps > 1 {
            out = out.with_signal("MI estimate, farthest k (nats)", bound(&mi[steps - 1]));
        }
        Ok(out)
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().encoder
    }

    /// The mean of the patch embeddings (no patch augmentation at evaluation).
    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let input = EncoderInput::RgbPatches(self.grid);
        // Normalisation only matters to Lab inputs.
        embed_with(&[(self.encoder_ref(), input)], images, &Normalize::HALF)
    }

    fn export_encoders(&self) -> Vec<ExportedEncoder> {
        vec![ExportedEncoder {
            name: "encoder",
            network: self.encoder(),
            input: EncoderInput::RgbPatches(self.grid),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use burn::tensor::Device;

    #[test]
    fn prediction_loss_is_the_softmax_over_dot_products_by_hand() {
        let d = Device::flex();
        let pred = matrix(&[[1.0, 0.0], [0.0, 2.0]], &d);
        let target = matrix(&[[2.0, 1.0], [1.0, 1.0]], &d);
        let noise = matrix(&[[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]], &d);
        // Row 0: pos 2, negatives 0, 1, -1. Row 1: pos 2, negatives 2, 0, 0.
        let l0 = -(2f64.exp() / (2f64.exp() + 1.0 + 1f64.exp() + (-1f64).exp())).ln();
        let l1 = -(2f64.exp() / (2.0 * 2f64.exp() + 2.0)).ln();
        close(
            value(prediction_loss(pred, target, noise)),
            (l0 + l1) / 2.0,
            1e-5,
        );
    }
}
