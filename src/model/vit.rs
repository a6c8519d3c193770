//! A Vision Transformer for small images (Dosovitskiy et al. 2021), the backbone MoCo v3
//! and DINO were studied on, laid out as timm's `VisionTransformer` so its export loads
//! there by name: `patch_embed.proj` (a p x p stride-p convolution), `cls_token`,
//! `pos_embed`, `blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, then
//! `norm` (class-token pooling) or `fc_norm` (mean pooling, timm's `global_pool="avg"`).
//! Pre-norm blocks, fused qkv with bias, GELU (erf), MLP ratio 4, LayerNorm eps 1e-6, no
//! dropout, as timm's defaults.
//!
//! The position embeddings are laid out for `image_size`; another input size (local
//! crops, CPC's patches) resamples their grid bilinearly, as DINO's
//! `interpolate_pos_encoding` does (bicubic there; burn has no bicubic backward).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::module::{attention, interpolate};
use burn::tensor::ops::{AttentionModuleOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Distribution, Tensor};

/// The shape of a ViT (a preset's `[encoder]` fields for `kind = "vit"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VitShape {
    pub inputs: usize,
    pub image_size: usize,
    pub patch: usize,
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    /// The class token's output (`true`) or the mean of the patch tokens.
    pub class_token: bool,
}

/// timm's LayerNorm epsilon for ViTs.
pub const LN_EPS: f64 = 1e-6;
/// The hidden width of each block's MLP, in multiples of the embedding width.
const MLP_RATIO: usize = 4;

#[derive(Module, Debug)]
pub struct PatchEmbed {
    pub proj: Conv2d,
}

#[derive(Module, Debug)]
pub struct Attention {
    pub qkv: Linear,
    pub proj: Linear,
    pub heads: usize,
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

#[derive(Module, Debug)]
pub struct Block {
    pub norm1: LayerNorm,
    pub attn: Attention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
}

#[derive(Module, Debug)]
pub struct Vit {
    pub patch_embed: PatchEmbed,
    pub cls_token: Option<Param<Tensor<3>>>,
    pub pos_embed: Param<Tensor<3>>,
    pub blocks: Vec<Block>,
    /// Class-token pooling: the final norm over every token (timm's `norm`).
    pub norm: Option<LayerNorm>,
    /// Mean pooling: the final norm after pooling (timm's `fc_norm`).
    pub fc_norm: Option<LayerNorm>,
}

/// A linear layer as timm initialises one: weights N(0, 0.02) (timm's truncation at +-2 is
/// 100 standard deviations away), bias zero.
fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut l = LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        })
        .init(device);
    l.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    l
}

fn layer_norm(dim: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(dim).with_epsilon(LN_EPS).init(device)
}

impl Vit {
    pub fn new(s: &VitShape, device: &Device) -> Self {
        let d = s.dim;
        let grid = s.image_size / s.patch;
        let prefix = usize::from(s.class_token);
        let block = || Block {
            norm1: layer_norm(d, device),
            attn: Attention {
                qkv: linear(d, 3 * d, device),
                proj: linear(d, d, device),
                heads: s.heads,
            },
            norm2: layer_norm(d, device),
            mlp: Mlp {
                fc1: linear(d, MLP_RATIO * d, device),
                fc2: linear(MLP_RATIO * d, d, device),
            },
        };
        Self {
            // PyTorch's default convolution init, as timm leaves it.
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new([s.inputs, d], [s.patch, s.patch])
                    .with_stride([s.patch, s.patch])
                    .init(device),
            },
            cls_token: s.class_token.then(|| {
                Param::from_tensor(Tensor::random(
                    [1, 1, d],
                    Distribution::Normal(0.0, 1e-6),
                    device,
                ))
            }),
            pos_embed: Param::from_tensor(Tensor::random(
                [1, prefix + grid * grid, d],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            blocks: (0..s.depth).map(|_| block()).collect(),
            norm: s.class_token.then(|| layer_norm(d, device)),
            fc_norm: (!s.class_token).then(|| layer_norm(d, device)),
        }
    }

    /// The embedding width.
    pub fn dim(&self) -> usize {
        self.pos_embed.dims()[2]
    }

    /// One entry per block, each the embedding width (the "stages" DIM picks from).
    pub fn channels(&self) -> Vec<usize> {
        vec![self.dim(); self.blocks.len()]
    }

    fn prefix(&self) -> usize {
        usize::from(self.cls_token.is_some())
    }

    /// The position embeddings for a `gh x gw` patch grid `[1, prefix + gh*gw, D]`: as
    /// stored when the grid is the one they were laid out for, else resampled.
    pub fn pos_embed_for(&self, gh: usize, gw: usize) -> Tensor<3> {
        let pos = self.pos_embed.val();
        let [_, tokens, d] = pos.dims();
        let prefix = self.prefix();
        let side = (tokens - prefix).isqrt();
        if (gh, gw) == (side, side) {
            return pos;
        }
        let grid = pos
            .clone()
            .narrow(1, prefix, side * side)
            .reshape([1, side, side, d])
            .permute([0, 3, 1, 2]);
        let resampled = interpolate(
            grid,
            InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([gh, gw]),
        )
        .permute([0, 2, 3, 1])
        .reshape([1, gh * gw, d]);
        if prefix == 0 {
            return resampled;
        }
        Tensor::cat(vec![pos.narrow(1, 0, prefix), resampled], 1)
    }

    /// The representation `[B, D]` and, for `keep = Some(i)`, block i's patch tokens as a
    /// map `[B, D, H/p, W/p]`.
    pub fn run(&self, x: Tensor<4>, keep: Option<usize>) -> (Tensor<2>, Option<Tensor<4>>) {
        let patches = self.patch_embed.proj.forward(x);
        let [b, d, gh, gw] = patches.dims();
        let n = gh * gw;
        let prefix = self.prefix();
        let mut h = patches.reshape([b, d, n]).swap_dims(1, 2);
        if let Some(cls) = &self.cls_token {
            h = Tensor::cat(vec![cls.val().expand([b, 1, d]), h], 1);
        }
        h = h + self.pos_embed_for(gh, gw);
        let mut map = None;
        for (i, block) in self.blocks.iter().enumerate() {
            h = block.forward(h);
            if keep == Some(i) {
                let tokens = h.clone().narrow(1, prefix, n);
                map = Some(tokens.swap_dims(1, 2).reshape([b, d, gh, gw]));
            }
        }
        let pooled = match (&self.norm, &self.fc_norm) {
            (Some(norm), _) => norm.forward(h).narrow(1, 0, 1).reshape([b, d]),
            (None, Some(fc_norm)) => {
                fc_norm.forward(h.narrow(1, prefix, n).mean_dim(1).reshape([b, d]))
            }
            (None, None) => h.narrow(1, prefix, n).mean_dim(1).reshape([b, d]),
        };
        (pooled, map)
    }
}

impl Block {
    /// `[B, N, D]` -> `[B, N, D]`: x + attn(norm1(x)), then + mlp(norm2(.)).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x));
        let hidden = gelu(self.mlp.fc1.forward(self.norm2.forward(x.clone())));
        x + self.mlp.fc2.forward(hidden)
    }
}

impl Attention {
    /// Multi-head self-attention, softmax(q k^T / sqrt(d_head)) v per head, with q, k, v
    /// split from one `qkv` projection in timm's order (`[3, heads, d_head]` on its output).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let heads = self.heads;
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, n, 3, heads, d / heads])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(0, i, 1)
                .reshape([b, heads, n, d / heads])
        };
        let out = attention(
            part(0),
            part(1),
            part(2),
            None,
            None,
            AttentionModuleOptions::default(),
        );
        self.proj.forward(out.swap_dims(1, 2).reshape([b, n, d]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn shape(class_token: bool) -> VitShape {
        VitShape {
            inputs: 3,
            image_size: 16,
            patch: 4,
            dim: 12,
            depth: 2,
            heads: 3,
            class_token,
        }
    }

    #[test]
    fn parameters_have_timms_shapes_and_count() {
        let d = Device::flex();
        let net = Vit::new(&shape(true), &d);
        // timm: patch 3*4*4*12 + 12, cls 12, pos 17*12, per block 2 LN (4*12) + qkv
        // (12*36 + 36) + proj (12*12 + 12) + fc1 (12*48 + 48) + fc2 (48*12 + 12), final LN.
        let block = 4 * 12 + 12 * 36 + 36 + 12 * 12 + 12 + 12 * 48 + 48 + 48 * 12 + 12;
        let want = 3 * 16 * 12 + 12 + 12 + 17 * 12 + 2 * block + 2 * 12;
        assert_eq!(net.num_params(), want);
        let (h, map) = net.run(Tensor::zeros([2, 3, 16, 16], &d), Some(1));
        assert_eq!(h.dims(), [2, 12]);
        assert_eq!(map.unwrap().dims(), [2, 12, 4, 4]);
    }

    /// The fused attention op against softmax(q k^T / sqrt(d)) v written out.
    #[test]
    fn attention_is_scaled_dot_product_per_head() {
        let d = Device::flex();
        let net = Vit::new(&shape(false), &d);
        let attn = &net.blocks[0].attn;
        let x = Tensor::<3>::random([2, 5, 12], Distribution::Normal(0.0, 1.0), &d);
        let got = attn.forward(x.clone());
        let qkv = attn.qkv.forward(x);
        let mut heads = Vec::new();
        for h in 0..3 {
            let take = |which: usize| qkv.clone().narrow(2, which * 12 + h * 4, 4);
            let scores = take(0).matmul(take(1).swap_dims(1, 2)) / 2.0;
            heads.push(burn::tensor::activation::softmax(scores, 2).matmul(take(2)));
        }
        let want = attn.proj.forward(Tensor::cat(heads, 2));
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }

    /// Another grid size resamples the position embeddings; the laid-out size keeps them.
    #[test]
    fn other_input_sizes_resample_the_position_grid() {
        let d = Device::flex();
        let net = Vit::new(&shape(true), &d);
        assert_eq!(
            net.pos_embed_for(4, 4).into_data(),
            net.pos_embed.val().into_data()
        );
        let small = net.pos_embed_for(2, 2);
        assert_eq!(small.dims(), [1, 5, 12]);
        // The class token's embedding is kept as it is.
        assert_eq!(
            small.narrow(1, 0, 1).into_data(),
            net.pos_embed.val().narrow(1, 0, 1).into_data()
        );
        let (h, _) = net.run(Tensor::zeros([1, 3, 8, 8], &d), None);
        assert_eq!(h.dims(), [1, 12]);
    }

    /// Gradients through attention (burn's fallback under autodiff) and the resampled
    /// position grid agree with central differences of the pooled output.
    #[test]
    fn gradients_match_finite_differences() {
        let d = Device::flex().autodiff();
        let net = Vit::new(&shape(false), &d);
        let data: Vec<f32> = (0..3 * 8 * 8)
            .map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(data, [1, 3, 8, 8]), &d);
        let f = |net: &Vit| {
            let (h, _) = net.run(x.clone(), None);
            (h.clone() * h.sin()).sum()
        };
        let grads = f(&net).backward();
        let analytic = net
            .pos_embed
            .grad(&grads)
            .unwrap()
            .into_data()
            .iter::<f32>()
            .collect::<Vec<f32>>();
        let base = net.pos_embed.val().inner();
        let eps = 1e-2;
        for &i in &[0usize, 5, 40, 100, 150] {
            let shifted = |delta: f32| {
                let mut v = base.clone().into_data().iter::<f32>().collect::<Vec<f32>>();
                v[i] += delta;
                let mut moved = net.clone();
                moved.pos_embed =
                    Param::from_tensor(Tensor::from_data(TensorData::new(v, [1, 16, 12]), &d));
                f(&moved).into_scalar::<f32>()
            };
            let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            assert!(
                (numeric - analytic[i]).abs() < 2e-3 + 2e-2 * numeric.abs(),
                "pos_embed[{i}]: analytic {} vs numeric {numeric}",
                analytic[i]
            );
        }
    }
}
