//! The encoder every method trains: the reference small CNN (below), ResNet-18 with the
//! CIFAR stem (`resnet`) or a small Vision Transformer (`vit`), chosen by a preset's
//! `[encoder] kind`.
//!
//! The reference encoder, a small CNN for 32x32 RGB inputs:
//! conv3x3 3->32 (stride 1) -> 64 (s2) -> 128 (s2) -> 256 (s2), each followed by
//! BatchNorm (or, with `norm = "layer"`, layer norm over C, H, W: GroupNorm with one group,
//! as CPC v2 uses so patches of one image cannot share batch statistics) and ReLU, then
//! global average pooling to a 256-d representation.
//! Parameter names (as exported to safetensors, PyTorch layout) are
//! `blocks.{i}.conv.weight|bias` and `blocks.{i}.bn.weight|bias|running_mean|running_var`
//! (or `blocks.{i}.ln.weight|bias`).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, GroupNorm, GroupNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::fast_block;
use super::resnet::ResNet;
use super::vit::{Vit, VitShape};

/// The normalisation after each convolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// BatchNorm2d: statistics over the batch (the reference model).
    #[default]
    Batch,
    /// Layer norm over each sample's C, H, W (GroupNorm with one group).
    Layer,
}

impl Norm {
    pub fn is_batch(&self) -> bool {
        *self == Norm::Batch
    }
}

/// One conv -> norm -> ReLU stage; exactly one of `bn` and `ln` is present.
#[derive(Module, Debug)]
pub struct ConvBlock {
    pub conv: Conv2d,
    pub bn: Option<BatchNorm>,
    pub ln: Option<GroupNorm>,
}

impl ConvBlock {
    pub fn new(c_in: usize, c_out: usize, stride: usize, norm: Norm, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            bn: (norm == Norm::Batch).then(|| BatchNormConfig::new(c_out).init(device)),
            ln: (norm == Norm::Layer).then(|| GroupNormConfig::new(1, c_out).init(device)),
        }
    }

    /// The stage with burn's own ops, NCHW in and out.
    pub fn forward_reference(&self, x: Tensor<4>) -> Tensor<4> {
        let h = self.conv.forward(x);
        let h = match (&self.bn, &self.ln) {
            (Some(bn), _) => bn.forward(h),
            (None, Some(ln)) => ln.forward(h),
            (None, None) => h,
        };
        relu(h)
    }

    /// Which normalisation this block uses.
    pub fn norm(&self) -> Norm {
        if self.ln.is_some() {
            Norm::Layer
        } else {
            Norm::Batch
        }
    }
}

/// Which network the encoder is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderKind {
    /// The reference small CNN (`channels`, `norm`).
    #[default]
    SmallCnn,
    /// ResNet-18 with the CIFAR stem (`width`), as published CIFAR-10 tables use.
    Resnet18,
    /// A Vision Transformer (`patch`, `embed_dim`, `depth`, `heads`, `pooling`,
    /// `image_size`), in timm's layout.
    Vit,
}

/// How the ViT turns its tokens into the representation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The class token's output after the final norm (timm's `global_pool="token"`).
    #[default]
    ClassToken,
    /// The mean of the patch tokens, then the final norm; no class token (timm's "avg").
    Mean,
}

impl Pooling {
    fn is_class_token(&self) -> bool {
        *self == Pooling::ClassToken
    }
}

/// The encoder's shape (a preset's `[encoder]`); the defaults are the reference model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderConfig {
    #[serde(skip_serializing_if = "is_small_cnn")]
    pub kind: EncoderKind,
    /// Small CNN: output channels of each stage; the first stage has stride 1, the rest
    /// stride 2.
    pub channels: Vec<usize>,
    /// Small CNN: BatchNorm (default) or layer norm after each convolution.
    #[serde(skip_serializing_if = "Norm::is_batch")]
    pub norm: Norm,
    /// ResNet-18: the first stage's width (64 in the paper; stages are w, 2w, 4w, 8w).
    #[serde(skip_serializing_if = "is_resnet_default_width")]
    pub width: usize,
    /// ViT: the side of the square patches (the image side should be a multiple).
    #[serde(skip_serializing_if = "is_vit_default_patch")]
    pub patch: usize,
    /// ViT: the token width (a multiple of `heads`).
    #[serde(skip_serializing_if = "is_vit_default_embed_dim")]
    pub embed_dim: usize,
    /// ViT: the number of transformer blocks.
    #[serde(skip_serializing_if = "is_vit_default_depth")]
    pub depth: usize,
    /// ViT: attention heads per block.
    #[serde(skip_serializing_if = "is_vit_default_heads")]
    pub heads: usize,
    /// ViT: class token or mean pooling.
    #[serde(skip_serializing_if = "Pooling::is_class_token")]
    pub pooling: Pooling,
    /// ViT: the image side its position embeddings are laid out for; other sizes resample
    /// them.
    #[serde(skip_serializing_if = "is_vit_default_image_size")]
    pub image_size: usize,
}

/// A small ViT's defaults: 64 tokens of 128 on a 32x32 image, 6 blocks of 4 heads (about
/// 1.2 M parameters, roughly 5x the small CNN's work per image).
pub const VIT_PATCH: usize = 4;
pub const VIT_EMBED_DIM: usize = 128;
pub const VIT_DEPTH: usize = 6;
pub const VIT_HEADS: usize = 4;
pub const VIT_IMAGE_SIZE: usize = 32;

fn is_vit_default_patch(v: &usize) -> bool {
    *v == VIT_PATCH
}
fn is_vit_default_embed_dim(v: &usize) -> bool {
    *v == VIT_EMBED_DIM
}
fn is_vit_default_depth(v: &usize) -> bool {
    *v == VIT_DEPTH
}
fn is_vit_default_heads(v: &usize) -> bool {
    *v == VIT_HEADS
}
fn is_vit_default_image_size(v: &usize) -> bool {
    *v == VIT_IMAGE_SIZE
}

fn is_small_cnn(kind: &EncoderKind) -> bool {
    *kind == EncoderKind::SmallCnn
}

fn is_resnet_default_width(width: &usize) -> bool {
    *width == RESNET_WIDTH
}

/// ResNet-18's standard base width.
pub const RESNET_WIDTH: usize = 64;

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            kind: EncoderKind::SmallCnn,
            channels: vec![32, 64, 128, 256],
            norm: Norm::Batch,
            width: RESNET_WIDTH,
            patch: VIT_PATCH,
            embed_dim: VIT_EMBED_DIM,
            depth: VIT_DEPTH,
            heads: VIT_HEADS,
            pooling: Pooling::ClassToken,
            image_size: VIT_IMAGE_SIZE,
        }
    }
}

impl EncoderConfig {
    /// ResNet-18 of base width `width`.
    pub fn resnet18(width: usize) -> Self {
        Self {
            kind: EncoderKind::Resnet18,
            width,
            ..Self::default()
        }
    }

    /// A ViT of the default shape.
    pub fn vit() -> Self {
        Self {
            kind: EncoderKind::Vit,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.kind == EncoderKind::Vit {
            return self.validate_vit();
        }
        if self.kind == EncoderKind::Resnet18 {
            if !(1..=512).contains(&self.width) {
                return Err(format!(
                    "encoder.width is {}; ResNet-18's base width must be in 1..=512 (64 is the \
                     paper's)",
                    self.width
                ));
            }
            if self.norm != Norm::Batch {
                return Err(
                    "encoder.norm = \"layer\" is for the small CNN; ResNet-18 uses \
                            BatchNorm"
                        .into(),
                );
            }
            return Ok(());
        }
        if self.channels.is_empty() || self.channels.len() > 6 {
            return Err(format!(
                "encoder.channels has {} stages; use 1 to 6",
                self.channels.len()
            ));
        }
        if let Some(c) = self.channels.iter().find(|&&c| c == 0 || c > 1024) {
            return Err(format!(
                "encoder.channels contains {c}; each must be in 1..=1024"
            ));
        }
        Ok(())
    }

    fn validate_vit(&self) -> Result<(), String> {
        let checks = [
            ("patch", self.patch, 1, 32),
            ("embed_dim", self.embed_dim, 1, 1024),
            ("depth", self.depth, 1, 24),
            ("heads", self.heads, 1, 16),
            ("image_size", self.image_size, 1, 512),
        ];
        for (name, value, low, high) in checks {
            if !(low..=high).contains(&value) {
                return Err(format!(
                    "encoder.{name} is {value}; a ViT's {name} must be in {low}..={high}"
                ));
            }
        }
        if !self.embed_dim.is_multiple_of(self.heads) {
            return Err(format!(
                "encoder.embed_dim is {}, not a multiple of encoder.heads = {}: each head takes \
                 an equal share of the width",
                self.embed_dim, self.heads
            ));
        }
        if !self.image_size.is_multiple_of(self.patch) {
            return Err(format!(
                "encoder.image_size {} is not a multiple of encoder.patch {}: the patches must \
                 tile the image",
                self.image_size, self.patch
            ));
        }
        if self.norm != Norm::Batch {
            return Err(
                "encoder.norm is for the small CNN; a ViT uses layer norm on each \
                        token already"
                    .into(),
            );
        }
        Ok(())
    }

    /// Each stage's output channels: stage 0 keeps the image's size, each later one halves
    /// it (in both CNNs); a ViT's stages are its blocks, all of one width and grid.
    pub fn stage_channels(&self) -> Vec<usize> {
        match self.kind {
            EncoderKind::SmallCnn => self.channels.clone(),
            EncoderKind::Resnet18 => (0..4).map(|k| self.width << k).collect(),
            EncoderKind::Vit => vec![self.embed_dim; self.depth],
        }
    }

    /// The side of stage `stage`'s feature map for `image`-sized inputs.
    pub fn map_side(&self, image: usize, stage: usize) -> usize {
        match self.kind {
            EncoderKind::Vit => image / self.patch,
            // Stage 0 has stride 1, each later stage stride 2 with padding 1.
            _ => (0..stage).fold(image, |s, _| s.div_ceil(2)),
        }
    }

    /// The representation's dimension.
    pub fn output_dim(&self) -> usize {
        self.stage_channels().last().copied().unwrap_or(0)
    }

    /// The same kind of network with every width divided by `parts` (CMC's split).
    pub fn narrowed(&self, parts: usize) -> Self {
        let parts = parts.max(1);
        Self {
            channels: self.channels.iter().map(|c| (c / parts).max(1)).collect(),
            width: (self.width / parts).max(1),
            // Each head keeps a whole share of the narrower width.
            embed_dim: (self.embed_dim / parts / self.heads).max(1) * self.heads,
            ..self.clone()
        }
    }

    pub fn init(&self, device: &Device) -> Encoder {
        self.init_with_inputs(3, device)
    }

    /// The same architecture on `inputs` channels (CMC's L and ab encoders take 1 and 2).
    pub fn init_with_inputs(&self, inputs: usize, device: &Device) -> Encoder {
        match self.kind {
            EncoderKind::SmallCnn => Encoder::SmallCnn(self.small_cnn(inputs, device)),
            EncoderKind::Resnet18 => Encoder::ResNet(ResNet::resnet18(inputs, self.width, device)),
            EncoderKind::Vit => Encoder::Vit(Vit::new(&self.vit_shape(inputs), device)),
        }
    }

    fn vit_shape(&self, inputs: usize) -> VitShape {
        VitShape {
            inputs,
            image_size: self.image_size,
            patch: self.patch,
            dim: self.embed_dim,
            depth: self.depth,
            heads: self.heads,
            class_token: self.pooling == Pooling::ClassToken,
        }
    }

    fn small_cnn(&self, inputs: usize, device: &Device) -> SmallCnn {
        let mut c_in = inputs;
        let blocks = self
            .channels
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let b = ConvBlock::new(c_in, c, if i == 0 { 1 } else { 2 }, self.norm, device);
                c_in = c;
                b
            })
            .collect();
        SmallCnn { blocks }
    }
}

/// The network every method trains; its output is the representation.
// A method holds one or two of these, so the variants' size difference costs nothing worth
// a Box (which burn's Module derive does not take).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    SmallCnn(SmallCnn),
    ResNet(ResNet),
    Vit(Vit),
}

impl Encoder {
    /// `[B, C, H, W]` normalised images -> `[B, D]` representations.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Encoder::SmallCnn(n) => n.forward(x),
            Encoder::ResNet(n) => n.run(x, None).0,
            Encoder::Vit(n) => n.run(x, None).0,
        }
    }

    /// The representation and stage `stage`'s feature map (the last stage's when `stage`
    /// is past the end).
    pub fn forward_with_map(&self, x: Tensor<4>, stage: usize) -> (Tensor<2>, Tensor<4>) {
        match self {
            Encoder::SmallCnn(n) => n.forward_with_map(x, stage),
            Encoder::ResNet(n) => {
                let (pooled, map) = n.run(x, Some(stage.min(3)));
                (pooled, map.expect("a kept stage yields its map"))
            }
            Encoder::Vit(n) => {
                let (pooled, map) = n.run(x, Some(stage.min(n.blocks.len() - 1)));
                (pooled, map.expect("a kept block yields its map"))
            }
        }
    }

    /// Each stage's output channels.
    pub fn channels(&self) -> Vec<usize> {
        match self {
            Encoder::SmallCnn(n) => n.channels(),
            Encoder::ResNet(n) => n.channels(),
            Encoder::Vit(n) => n.channels(),
        }
    }

    /// The normalisation its layers use.
    pub fn norm(&self) -> Norm {
        match self {
            Encoder::SmallCnn(n) => n.norm(),
            // Neither has the small CNN's choice; callers read this for that choice only.
            Encoder::ResNet(_) | Encoder::Vit(_) => Norm::Batch,
        }
    }

    /// The small CNN, for what only it has (the ONNX graph, the fused kernels' bench).
    pub fn as_small_cnn(&self) -> Option<&SmallCnn> {
        match self {
            Encoder::SmallCnn(n) => Some(n),
            Encoder::ResNet(_) | Encoder::Vit(_) => None,
        }
    }
}

#[derive(Module, Debug)]
pub struct SmallCnn {
    pub blocks: Vec<ConvBlock>,
}

impl SmallCnn {
    /// Each stage's output channels (the last is the representation's width).
    pub fn channels(&self) -> Vec<usize> {
        self.blocks
            .iter()
            .map(|b| b.conv.weight.dims()[0])
            .collect()
    }

    /// The normalisation its blocks use.
    pub fn norm(&self) -> Norm {
        self.blocks.first().map_or(Norm::Batch, ConvBlock::norm)
    }

    /// `[B, 3, H, W]` normalised images -> `[B, C]` representations.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.run(x, None).0
    }

    /// The representation and the feature map (`[B, C, H, W]`) after stage `stage` (DIM's
    /// "local features"; the last stage's when `stage` is past the end).
    pub fn forward_with_map(&self, x: Tensor<4>, stage: usize) -> (Tensor<2>, Tensor<4>) {
        let (pooled, map) = self.run(x, Some(stage.min(self.blocks.len().saturating_sub(1))));
        (pooled, map.expect("a kept stage yields its map"))
    }

    /// Whether this forward pass takes the fused channels-last path (`fast_block`).
    fn fused(&self, device: &Device) -> bool {
        fast_block::enabled()
            && fast_block::supported_on(device)
            && self.blocks.iter().all(fast_block::fits)
    }

    /// All stages, keeping stage `keep`'s output as an NCHW map.
    fn run(&self, x: Tensor<4>, keep: Option<usize>) -> (Tensor<2>, Option<Tensor<4>>) {
        let mut map = None;
        if self.fused(&x.device()) {
            // NHWC from the input to the pool: one layout change, not one per stage.
            let mut h = x.permute([0, 2, 3, 1]);
            for (i, b) in self.blocks.iter().enumerate() {
                h = fast_block::forward_nhwc(b, h);
                if keep == Some(i) {
                    map = Some(h.clone().permute([0, 3, 1, 2]));
                }
            }
            let [b, _, _, c] = h.dims();
            return (h.mean_dim(2).mean_dim(1).reshape([b, c]), map);
        }
        let mut h = x;
        for (i, b) in self.blocks.iter().enumerate() {
            h = b.forward_reference(h);
            if keep == Some(i) {
                map = Some(h.clone());
            }
        }
        let [b, c, _, _] = h.dims();
        (h.mean_dim(3).mean_dim(2).reshape([b, c]), map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_side_follows_the_strided_stages_or_the_patch_grid() {
        let cnn = EncoderConfig::default();
        assert_eq!(cnn.map_side(32, 0), 32);
        assert_eq!(cnn.map_side(32, 2), 8);
        assert_eq!(cnn.map_side(28, 3), 4); // 28 -> 14 -> 7 -> 4
        let vit = EncoderConfig::vit();
        assert_eq!(vit.map_side(32, 0), 8);
        assert_eq!(vit.map_side(28, 5), 7);
        // The maps the networks give have these sides.
        let d = Device::flex();
        for config in [cnn, vit] {
            let tiny = EncoderConfig {
                channels: vec![4, 4, 4],
                embed_dim: 8,
                depth: 3,
                heads: 2,
                ..config
            };
            let net = tiny.init(&d);
            let (_, map) = net.forward_with_map(Tensor::zeros([1, 3, 28, 28], &d), 2);
            assert_eq!(map.dims()[2], tiny.map_side(28, 2), "{:?}", tiny.kind);
        }
    }

    #[test]
    fn a_vit_shape_that_cannot_be_built_is_refused_naming_the_field() {
        let bad = |f: fn(&mut EncoderConfig)| {
            let mut c = EncoderConfig::vit();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.heads = 5).contains("encoder.embed_dim"));
        assert!(bad(|c| c.patch = 0).contains("encoder.patch"));
        assert!(bad(|c| c.patch = 5).contains("encoder.image_size"));
        assert!(bad(|c| c.depth = 0).contains("encoder.depth"));
        assert!(bad(|c| c.norm = Norm::Layer).contains("encoder.norm"));
        assert!(EncoderConfig::vit().validate().is_ok());
        // CMC's split keeps every head whole.
        let half = EncoderConfig::vit().narrowed(2);
        assert_eq!((half.embed_dim, half.heads), (64, 4));
        assert!(half.validate().is_ok());
    }
}
