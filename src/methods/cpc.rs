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
    BuildContext, EncoderInput, ExportedEncoder, Method, MethodInfo, ParamSpec, Params, StepError,
    StepOutput, TrainBatch,
};
use crate::catalogue::preview::{PreviewColumn, ViewsPreview};
use crate::catalogue::settings::hidden_width;
use crate::losses::{info_nce, info_nce_bound};
use crate::model::autoregressive::{ContextKind, ContextNet};
use crate::model::patches::{augment_patches, extract_patches};
use crate::model::{Encoder, EncoderConfig, EncoderKind, Norm};
use crate::seeding::{Stream, rng_for};
use crate::views::Normalize;
use crate::views::patch_grid::PatchGrid;

const CONTEXTS: &[&str] = &["masked-conv", "gru"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        grid: usize = ParamSpec::integer(
            "patch grid",
            "Patches per row and column, overlapping by half: 3 on 32x32 images gives 16x16 \
             patches at stride 8, the paper's 7 gives 8x8 patches at stride 4; reduced when \
             the image is too small for patches of 2 pixels",
            3.0,
            2.0,
            15.0,
        ),
        steps: usize = ParamSpec::integer(
            "prediction steps k",
            "Predict the rows 1..=k below each context row (at most grid - 1)",
            2.0,
            1.0,
            14.0,
        ),
        context: &'static str = ParamSpec::choice(
            "context network",
            "PixelCNN-style masked convolution over the rows above (the paper's image model), \
             or a GRU running down each column",
            CONTEXTS,
            0,
        ),
        context_dim: usize = hidden_width(
            "context dim",
            128.0,
            "Channels of the context network",
        ),
        negatives: usize = ParamSpec::integer(
            "negatives",
            "Patches sampled from the whole batch (all positions, all images) as negatives for \
             every prediction",
            256.0,
            1.0,
            8192.0,
        )
        .log(),
        layer_norm: bool = ParamSpec::switch(
            "layer norm (CPC v2)",
            "Layer norm instead of BatchNorm in the patch encoder: patches of one image must \
             not share batch statistics, which leak the answer",
            true,
        ),
        patch_augment: bool = ParamSpec::switch(
            "patch augmentation (CPC v2)",
            "Mirror each patch at random and drop two of its three colour channels half of the \
             time, so neighbouring patches cannot be matched by low-level colour and edges",
            true,
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "cpc",
    name: "CPC (v1/v2)",
    paper: "van den Oord et al. 2018, Representation Learning with Contrastive Predictive Coding; \
            Henaff et al. 2020, Data-Efficient Image Recognition with CPC",
    summary: "Each image is cut into a grid of overlapping patches and the encoder embeds every \
              patch. A context network reads the rows of patch embeddings from the top down and, \
              from what it has seen so far, predicts the embeddings of patches k rows below. \
              The true patch must win a softmax against patches from elsewhere in the batch \
              (InfoNCE), which bounds the mutual information between context and future.",
    formula: "L_k = -E log [ exp(z_{r+k,c}^T W_k c_{r,c}) / sum_j exp(z_j^T W_k c_{r,c}) ],  \
              L = mean_k L_k,  I(c; z_{+k}) >= log(N+1) - L_k",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "patch rows <= r",
        top: &[
            crate::catalogue::trained("encoder -> z per patch"),
            crate::catalogue::trained("context net -> c_r"),
            crate::catalogue::trained("W_k c_r"),
        ],
        bottom_input: "patch k rows below",
        bottom: &[crate::catalogue::shared("encoder -> z_{r+k}")],
        bottom_stop_gradient: false,
        store: None,
        loss: "InfoNCE: prediction vs true patch and sampled patches",
    },
    needs: crate::catalogue::Needs {
        preview,
        ..crate::catalogue::Needs::PAIRS
    },
};

/// Each view's patch grid, context rows and predicted rows marked.
fn preview(params: &Params, image: usize) -> ViewsPreview {
    let (g, k) = geometry(&Settings::read(params), image);
    let text = format!(
        "CPC: each view is cut into {n}x{n} patches of {p}x{p} pixels at stride {s} (overlapping \
         by half); both views are used as separate images. From the context of the rows seen so \
         far (blue, down to row {r}), the network predicts the patch embeddings 1 to {k} rows \
         below (orange); every row takes its turn as the last context row. Patch augmentation, \
         if on, is applied per patch during training and not shown.",
        n = g.grid,
        p = g.patch,
        s = g.stride,
        r = g.grid.saturating_sub(1 + k),
    );
    ViewsPreview {
        columns: [PreviewColumn::Patches(0), PreviewColumn::Patches(1)],
        text,
        patches: Some((g, k)),
    }
}

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

/// The grid the settings ask for, made smaller until its patches are at least 2 pixels.
fn fitted_grid(image: usize, grid: usize) -> PatchGrid {
    (2..=grid.max(2))
        .rev()
        .find_map(|g| PatchGrid::new(image, g).ok())
        .unwrap_or(PatchGrid {
            grid: 1,
            patch: image,
            stride: image,
            offset: 0,
        })
}

/// The patch grid and the number of rows predicted ahead that CPC's settings give on
/// `image`-pixel images: what training uses and what the views preview draws.
pub fn geometry(s: &Settings, image: usize) -> (PatchGrid, usize) {
    let grid = fitted_grid(image, s.grid);
    let steps = s.steps.clamp(1, grid.grid.saturating_sub(1).max(1));
    (grid, steps)
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

    #[test]
    fn the_grid_shrinks_until_patches_fit() {
        assert_eq!(fitted_grid(32, 7).grid, 7);
        assert_eq!(fitted_grid(6, 7).grid, 5); // stride 6 / 6 = 1, patches of 2 pixels
        assert_eq!(fitted_grid(32, 15).patch, 4);
    }
}
