//! The reference encoder: a small CNN for 32x32 RGB inputs.
//!
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

/// The encoder's shape; the defaults are the reference model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmallCnnConfig {
    /// Output channels of each stage; the first stage has stride 1, the rest stride 2.
    pub channels: Vec<usize>,
    /// BatchNorm (default) or layer norm after each convolution.
    #[serde(skip_serializing_if = "Norm::is_batch")]
    pub norm: Norm,
}

impl Default for SmallCnnConfig {
    fn default() -> Self {
        Self {
            channels: vec![32, 64, 128, 256],
            norm: Norm::Batch,
        }
    }
}

impl SmallCnnConfig {
    pub fn validate(&self) -> Result<(), String> {
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

    /// The representation's dimension.
    pub fn output_dim(&self) -> usize {
        self.channels.last().copied().unwrap_or(0)
    }

    pub fn init(&self, device: &Device) -> SmallCnn {
        self.init_with_inputs(3, device)
    }

    /// The same architecture on `inputs` channels (CMC's L and ab encoders take 1 and 2).
    pub fn init_with_inputs(&self, inputs: usize, device: &Device) -> SmallCnn {
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
