//! Networks: the encoder every method trains and the heads methods put on top of it.
//! Plain burn modules; methods compose them.
//!
//! - `encoder`: `Encoder`, an enum module: the reference `SmallCnn` (BatchNorm or layer
//!   norm) or `resnet::ResNet` (ResNet-18 with the CIFAR stem, in torchvision's field
//!   names); either gives a stage's feature map (`forward_with_map`) for DIM and PixPro.
//!   `EncoderConfig` is a preset's `[encoder]`. A third variant is `vit::Vit`, a small
//!   Vision Transformer in timm's names (its "stages" are its blocks, its map the patch
//!   tokens on their grid). Exports skip the enum's variant in tensor
//!   names and rename `downsample.conv/bn` to torchvision's `.0/.1` (`TORCHVISION_KEYS`);
//! - `head`: `MlpHead` (SimCLR's projection head) and `BnMlp` (the BatchNorm MLPs of BYOL,
//!   SimSiam, Barlow Twins, VICReg and PixPro);
//! - `dino_head`: DINO's MLP head with its weight-normalised last layer;
//! - `ema`: momentum targets (`momentum_copy`, `ema_update`): an EMA over parameters, the
//!   target a fresh module so BatchNorm statistics are not shared;
//! - `lab`: RGB to CIE Lab on tensors (CMC);
//! - `patches`: CPC's patch cut on tensors (the geometry of `views::patch_grid`) and its
//!   per-patch augmentation;
//! - `autoregressive`: CPC's context networks (masked convolution, column GRU);
//! - `tensor_io`: plain `Vec<f32>` to and from tensors;
//! - `fast_block`: a conv (3x3 or 1x1) + BatchNorm (+ ReLU) as one fused channels-last
//!   op on flex, for the small CNN's stages and ResNet-18's convolutions, used whenever
//!   the device is flex and every convolution fits; otherwise burn's ops.
//!   `CW_BURN_CONV=1` turns it off.

pub mod autoregressive;
pub mod dino_head;
pub mod ema;
pub mod encoder;
pub mod fast_block;
pub mod head;
pub mod lab;
pub mod patches;
pub mod resnet;
pub mod tensor_io;
pub mod vit;

pub use encoder::{Encoder, EncoderConfig, EncoderKind, Norm, Pooling, SmallCnn};
pub use head::{BnMlp, BnMlpConfig, MlpHead, MlpHeadConfig};
