//! ResNet-18 (He et al. 2016) with the CIFAR stem that solo-learn's and lightly's CIFAR-10
//! tables use: a 3x3 stride-1 first convolution and no max-pool, then four stages of two
//! BasicBlocks (widths w, 2w, 4w, 8w; stages 2-4 halve the map), global average pooling,
//! no classifier. With w = 64 it is torchvision's `resnet18` with `conv1` replaced by
//! `Conv2d(3, 64, 3, 1, 1, bias=False)`, `maxpool = Identity()` and `fc = Identity()`, and
//! its parameters carry torchvision's names: `conv1.weight`, `bn1.*`,
//! `layer{1..4}.{0,1}.{conv1,bn1,conv2,bn2}.*`, `layer{2..4}.0.downsample.{0,1}.*` (the
//! export renames `downsample.conv`/`downsample.bn` to `.0`/`.1`, see `TORCHVISION_KEYS`).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::fast_block;

/// Blocks per stage (ResNet-18).
const BLOCKS: [usize; 4] = [2, 2, 2, 2];

/// burn's field paths -> torchvision's `Sequential` indices, for the safetensors export.
pub const TORCHVISION_KEYS: [(&str, &str); 2] = [
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
];

fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(device)
}

fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).init(device)
}

/// The 1x1 strided projection of a block's input when its shape changes.
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the (projected) input, -> ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: conv(c_in, c_out, 3, stride, device),
            bn1: bn(c_out, device),
            conv2: conv(c_out, c_out, 3, 1, device),
            bn2: bn(c_out, device),
            downsample: (stride != 1 || c_in != c_out).then(|| Downsample {
                conv: conv(c_in, c_out, 1, stride, device),
                bn: bn(c_out, device),
            }),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let h = relu(self.bn1.forward(self.conv1.forward(x)));
        let h = self.bn2.forward(self.conv2.forward(h));
        relu(h + identity)
    }

    /// Whether every convolution of the block runs fused (`fast_block`).
    fn fits(&self) -> bool {
        fast_block::conv_fits(&self.conv1)
            && fast_block::conv_fits(&self.conv2)
            && self
                .downsample
                .as_ref()
                .is_none_or(|d| fast_block::conv_fits(&d.conv))
    }

    /// The block on NHWC activations, each conv + BatchNorm (+ ReLU) one fused operation,
    /// the second with the residual add and the last ReLU folded in.
    fn forward_nhwc(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => fast_block::conv_bn_nhwc(&d.conv, &d.bn, false, x.clone()),
            None => x.clone(),
        };
        let h = fast_block::conv_bn_nhwc(&self.conv1, &self.bn1, true, x);
        fast_block::conv_bn_add_relu_nhwc(&self.conv2, &self.bn2, identity, h)
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
}

impl ResNet {
    /// ResNet-18 with base width `width` on `inputs` channels.
    pub fn resnet18(inputs: usize, width: usize, device: &Device) -> Self {
        let mut c_in = width;
        let mut stage = |k: usize| {
            let c_out = width << k;
            (0..BLOCKS[k])
                .map(|i| {
                    let stride = if i == 0 && k > 0 { 2 } else { 1 };
                    let b = BasicBlock::new(c_in, c_out, stride, device);
                    c_in = c_out;
                    b
                })
                .collect::<Vec<_>>()
        };
        let (layer1, layer2, layer3, layer4) = (stage(0), stage(1), stage(2), stage(3));
        Self {
            conv1: conv(inputs, width, 3, 1, device),
            bn1: bn(width, device),
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }

    /// Each stage's output channels (the last is the representation's width).
    pub fn channels(&self) -> Vec<usize> {
        self.stages()
            .iter()
            .map(|s| s.last().map_or(0, |b| b.conv2.weight.dims()[0]))
            .collect()
    }

    fn stages(&self) -> [&Vec<BasicBlock>; 4] {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
    }

    /// Whether this forward pass takes the fused channels-last path (`fast_block`).
    fn fused_on(&self, device: &Device) -> bool {
        fast_block::enabled()
            && fast_block::supported_on(device)
            && fast_block::conv_fits(&self.conv1)
            && self.stages().iter().all(|s| s.iter().all(BasicBlock::fits))
    }

    /// The representation `[B, 8w]` and, for `keep = Some(k)`, stage k's map `[B, C, H, W]`.
    pub fn run(&self, x: Tensor<4>, keep: Option<usize>) -> (Tensor<2>, Option<Tensor<4>>) {
        if self.fused_on(&x.device()) {
            self.run_nhwc(x, keep)
        } else {
            self.run_reference(x, keep)
        }
    }

    /// [`Self::run`] with burn's own ops, NCHW throughout (other devices; tests compare the
    /// fused path with it).
    pub fn run_reference(
        &self,
        x: Tensor<4>,
        keep: Option<usize>,
    ) -> (Tensor<2>, Option<Tensor<4>>) {
        let mut h = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut map = None;
        for (k, stage) in self.stages().into_iter().enumerate() {
            for block in stage {
                h = block.forward(h);
            }
            if keep == Some(k) {
                map = Some(h.clone());
            }
        }
        let [b, c, _, _] = h.dims();
        (h.mean_dim(3).mean_dim(2).reshape([b, c]), map)
    }

    /// [`Self::run`] with the activations NHWC between fused convolutions: one layout
    /// change at the input, and one for a kept map.
    fn run_nhwc(&self, x: Tensor<4>, keep: Option<usize>) -> (Tensor<2>, Option<Tensor<4>>) {
        let mut h = fast_block::conv_bn_nhwc(&self.conv1, &self.bn1, true, x.permute([0, 2, 3, 1]));
        let mut map = None;
        for (k, stage) in self.stages().into_iter().enumerate() {
            for block in stage {
                h = block.forward_nhwc(h);
            }
            if keep == Some(k) {
                map = Some(h.clone().permute([0, 3, 1, 2]));
            }
        }
        let [b, _, _, c] = h.dims();
        (h.mean_dim(2).mean_dim(1).reshape([b, c]), map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet18_has_the_cifar_stem_and_torchvisions_parameter_count() {
        let d = Device::flex();
        let net = ResNet::resnet18(3, 64, &d);
        assert_eq!(net.conv1.weight.dims(), [64, 3, 3, 3]);
        assert_eq!(net.channels(), [64, 128, 256, 512]);
        // torchvision's resnet18 has 11,689,512 parameters: minus fc (513,000) and the 7x7
        // stem (9,408) plus the 3x3 stem (1,728) gives 11,168,832; burn also counts the
        // BatchNorms' running mean and variance (2 x 4,800 channels).
        assert_eq!(net.num_params(), 11_168_832 + 9_600);
        let (h, map) = net.run(Tensor::zeros([2, 3, 32, 32], &d), Some(1));
        assert_eq!(h.dims(), [2, 512]);
        assert_eq!(map.unwrap().dims(), [2, 128, 16, 16]);
    }
}
