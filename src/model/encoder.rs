//! The encoder every method trains: the reference small CNN (below) or ResNet-18 with the
//! CIFAR stem (`resnet`), chosen by a preset's `[encoder] kind`.
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

    pub fn validate(&self) -> Result<(), String> {
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

    /// Each stage's output channels: stage 0 keeps the image's size, each later one halves
    /// it (in both networks).
    pub fn stage_channels(&self) -> Vec<usize> {
        match self.kind {
            EncoderKind::SmallCnn => self.channels.clone(),
            EncoderKind::Resnet18 => (0..4).map(|k| self.width << k).collect(),
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
}

impl Encoder {
    /// `[B, C, H, W]` normalised images -> `[B, D]` representations.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Encoder::SmallCnn(n) => n.forward(x),
            Encoder::ResNet(n) => n.run(x, None).0,
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
        }
    }

    /// Each stage's output channels.
    pub fn channels(&self) -> Vec<usize> {
        match self {
            Encoder::SmallCnn(n) => n.channels(),
            Encoder::ResNet(n) => n.channels(),
        }
    }

    /// The normalisation its layers use.
    pub fn norm(&self) -> Norm {
        match self {
            Encoder::SmallCnn(n) => n.norm(),
            Encoder::ResNet(_) => Norm::Batch,
        }
    }

    /// The small CNN, for what only it has (the ONNX graph, the fused kernels' bench).
    pub fn as_small_cnn(&self) -> Option<&SmallCnn> {
        match self {
            Encoder::SmallCnn(n) => Some(n),
            Encoder::ResNet(_) => None,
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
