//! A convolution (3x3 padding 1, or 1x1) + BatchNorm (+ ReLU) as one fused, channels-last
//! operation on the CPU (`flex`) backend: the small CNN's stages and every convolution of
//! ResNet-18. Forward and backward are GEMMs over patch matrices with the normalisation
//! folded into the same passes (see `extension`). Other devices, layer norm and unusual
//! convolutions keep burn's own ops (`ConvBlock::forward_reference`).
//!
//! Between fused stages activations stay NHWC, so the encoder converts layouts once at
//! its input and, for a returned feature map, once at its output.
//!
//! `SmallCnn` and `ResNet` take the fused path whenever it is `enabled`, the device is
//! flex (`supported_on`) and every convolution `fits`/`conv_fits`; otherwise burn's ops
//! (as for a frozen BatchNorm on an autodiff device). `CW_BURN_CONV=1` (or
//! `set_enabled(false)`) turns it off.
//! - `extension`: the burn backend extension, one autodiff node with its own backward;
//! - `gemm_into`: every GEMM, written by the `gemm` crate into a slice the caller owns;
//! - `conv_weights`: which GEMM formulation a convolution runs: `winograd` (F(2x2, 3x3),
//!   for 3x3 stride-1 convolutions: 4/9 of the multiplications) or `patches` (im2col);
//! - `kernels`: the convolution's layouts on plain slices (the patch matrix, col2im, the
//!   weight matrix);
//! - `norm`: the BatchNorm (+ residual) (+ ReLU) passes and their backward, on plain
//!   slices, reduced over fixed chunks so the result is deterministic;
//! - `profile`: times each part of a stage for `bench`.

mod conv_weights;
mod extension;
mod gemm_into;
pub mod kernels;
mod norm;
mod patches;
pub mod profile;
mod winograd;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::activation;
use burn::tensor::{Device, Tensor};

use super::encoder::ConvBlock;
use extension::{FusedBlockBackend, FusedBlockEvalBackend};

/// A process-wide switch, on unless turned off by its setter or by its environment
/// variable holding `off_value` (read once).
struct Switch {
    on: AtomicBool,
    variable: &'static str,
    off_value: &'static str,
    off_by_env: OnceLock<bool>,
}

impl Switch {
    const fn new(variable: &'static str, off_value: &'static str) -> Self {
        Self {
            on: AtomicBool::new(true),
            variable,
            off_value,
            off_by_env: OnceLock::new(),
        }
    }

    fn is_on(&self) -> bool {
        let off = *self
            .off_by_env
            .get_or_init(|| std::env::var_os(self.variable).is_some_and(|v| v == self.off_value));
        !off && self.on.load(Ordering::Relaxed)
    }

    fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }
}

static FUSED: Switch = Switch::new("CW_BURN_CONV", "1");
static WINOGRAD: Switch = Switch::new("CW_WINOGRAD", "0");

/// Whether encoders take the fused path where it applies: on unless turned off with
/// [`set_enabled`] or by the environment variable `CW_BURN_CONV=1` (burn's own ops, for
/// comparing the two or ruling the kernels out when something looks wrong).
pub fn enabled() -> bool {
    FUSED.is_on()
}

/// Turns the fused path off or on for the whole process: `bench` measures burn's own ops
/// against it, and tests compare the two.
pub fn set_enabled(on: bool) {
    FUSED.set(on);
}

/// Whether 3x3 stride-1 convolutions on the fused path run through Winograd F(2x2, 3x3):
/// on unless turned off with [`set_winograd`] or `CW_WINOGRAD=0` (the patch GEMMs, to
/// compare the two). Its results differ from the patch GEMMs' by rounding only: the
/// comparisons with burn's ops in `tests/fused_block.rs` disagree in the same ~2% of
/// random draws with either (a ReLU gate flipped at a near-zero pre-activation; see there).
pub fn winograd_enabled() -> bool {
    WINOGRAD.is_on()
}

/// Turns Winograd on or off for the whole process (`bench` and tests compare the two).
pub fn set_winograd(on: bool) {
    WINOGRAD.set(on);
}

/// Whether the fused stage runs on this device (flex, with or without autodiff).
pub fn supported_on(device: &Device) -> bool {
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// Whether `block` has the shape the fused kernel implements: see [`conv_fits`], with
/// BatchNorm.
pub fn fits(block: &ConvBlock) -> bool {
    block.bn.is_some() && conv_fits(&block.conv)
}

/// Whether `conv` is a convolution the fused kernel implements: 3x3 with padding 1 or 1x1
/// without, equal strides, no dilation or groups (a bias or none).
pub fn conv_fits(c: &Conv2d) -> bool {
    let padding = match c.kernel_size {
        [3, 3] => matches!(c.padding, PaddingConfig2d::Explicit(1, 1, 1, 1)),
        [1, 1] => matches!(
            c.padding,
            PaddingConfig2d::Explicit(0, 0, 0, 0) | PaddingConfig2d::Valid
        ),
        _ => false,
    };
    padding && c.dilation == [1, 1] && c.groups == 1 && c.stride[0] == c.stride[1]
}

/// One fused stage of the small CNN (conv3x3 + BatchNorm + ReLU) on NHWC input
/// `[B, H, W, Ci]` -> `[B, Ho, Wo, Co]`. Callers check [`fits`] and [`supported_on`] first.
pub fn forward_nhwc(block: &ConvBlock, x: Tensor<4>) -> Tensor<4> {
    let bn = block.bn.as_ref().expect("fused block needs BatchNorm");
    conv_bn_nhwc(&block.conv, bn, true, x)
}

/// `conv` + `bn` (+ ReLU when `relu`) on NHWC input, fused. In training mode (autodiff
/// device, BatchNorm training) it normalises with the batch statistics and updates the
/// running ones as burn's BatchNorm does; otherwise it uses them. Callers check
/// [`conv_fits`] and [`supported_on`] first.
pub fn conv_bn_nhwc(conv: &Conv2d, bn: &BatchNorm, relu: bool, x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    if device.is_autodiff() && bn.training.is_enabled() {
        let [x, weight, bias, gamma, beta] = fused_inputs(conv, bn, x);
        let (y, mean, var) = <Dispatch as FusedBlockBackend>::conv_bn_relu_train(
            x,
            weight,
            bias,
            gamma,
            beta,
            conv.stride[0],
            bn.epsilon,
            relu,
        );
        update_running_statistics(bn, mean, var, &device);
        Tensor::from_dispatch(y)
    } else if device.is_autodiff() {
        // Inference on a training device (a frozen BatchNorm): burn's ops keep gradients
        // flowing to whatever else is trained.
        let h = bn.forward(conv.forward(x.permute([0, 3, 1, 2])));
        let h = if relu { activation::relu(h) } else { h };
        h.permute([0, 2, 3, 1])
    } else {
        let [x, weight, bias, gamma, beta] = fused_inputs(conv, bn, x);
        let y = <Dispatch as FusedBlockEvalBackend>::conv_bn_relu_eval(
            x,
            weight,
            bias,
            gamma,
            beta,
            bn.running_mean.value().to_device(&device).into_dispatch(),
            bn.running_var.value().to_device(&device).into_dispatch(),
            conv.stride[0],
            bn.epsilon,
            relu,
        );
        Tensor::from_dispatch(y)
    }
}

/// relu(`bn`(`conv`(x)) + `residual`) on NHWC tensors: a ResNet block's second convolution,
/// its residual add and last ReLU as one fused operation when training (burn's add and
/// ReLU after the fused convolution otherwise). Callers check as for [`conv_bn_nhwc`].
pub fn conv_bn_add_relu_nhwc(
    conv: &Conv2d,
    bn: &BatchNorm,
    residual: Tensor<4>,
    x: Tensor<4>,
) -> Tensor<4> {
    let device = x.device();
    if device.is_autodiff() && bn.training.is_enabled() {
        let [x, weight, bias, gamma, beta] = fused_inputs(conv, bn, x);
        let (y, mean, var) = <Dispatch as FusedBlockBackend>::conv_bn_add_relu_train(
            x,
            weight,
            bias,
            gamma,
            beta,
            residual.into_dispatch(),
            conv.stride[0],
            bn.epsilon,
        );
        update_running_statistics(bn, mean, var, &device);
        Tensor::from_dispatch(y)
    } else {
        activation::relu(conv_bn_nhwc(conv, bn, false, x) + residual)
    }
}

/// x, the weight, the bias (a zero one for a convolution without: its gradient is computed
/// and dropped), gamma and beta, as the backend extension takes them.
fn fused_inputs(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>) -> [FloatTensor<Dispatch>; 5] {
    let device = x.device();
    let c_out = conv.weight.dims()[0];
    let bias = conv
        .bias
        .as_ref()
        .map_or_else(|| Tensor::<1>::zeros([c_out], &device), |b| b.val());
    [
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
    ]
}

/// burn's BatchNorm update of the running mean and variance from a batch's statistics.
fn update_running_statistics(
    bn: &BatchNorm,
    mean: FloatTensor<Dispatch>,
    var: FloatTensor<Dispatch>,
    device: &Device,
) {
    let (mean, var) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(var),
    );
    let m = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(device);
    let running_var = bn.running_var.value_sync().to_device(device);
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - m) + mean.detach().mul_scalar(m)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - m) + var.detach().mul_scalar(m)).detach());
}
