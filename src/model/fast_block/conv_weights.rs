//! A fused convolution's weights prepared for the GEMM formulation that runs it: Winograd
//! F(2x2, 3x3) for 3x3 stride-1 convolutions on enough channels (`winograd`), patches
//! (im2col) for the rest (`patches`). Prepared once per forward pass and kept for the
//! backward pass.

use burn::backend::flex::FlexTensor;

use super::kernels::{ConvGeometry, weight_to_matrix};
use super::{extension::floats, patches, winograd};

#[derive(Clone, Debug)]
pub(super) enum ConvWeights {
    /// `[k*k*Ci, Co]`, rows in (kh, kw, ci) order.
    Patches(Vec<f32>),
    /// U = G g G^T, `[16, Ci, Co]`.
    Winograd(Vec<f32>),
}

impl ConvWeights {
    /// `weight` `[Co, Ci, k, k]` for convolution `g`.
    pub(super) fn prepare(weight: &FlexTensor, g: &ConvGeometry) -> Self {
        let w = floats(weight);
        if super::winograd_enabled() && winograd::applies(g) {
            Self::Winograd(winograd::transform_weight(&w, g.c_in, g.c_out))
        } else {
            Self::Patches(weight_to_matrix(&w, g.c_in, g.c_out, g.taps()))
        }
    }

    /// The convolution's output rows `[B*Ho*Wo, Co]` (no bias) with the per-channel batch
    /// mean and biased variance.
    pub(super) fn convolve(&self, x: &[f32], g: &ConvGeometry) -> (FlexTensor, Vec<f32>, Vec<f32>) {
        match self {
            Self::Patches(wmat) => patches::convolve(x, g, wmat),
            Self::Winograd(u) => winograd::convolve(x, g, u),
        }
    }

    /// The weight gradient `[Co, Ci, k, k]` and, when `need_dx`, the input gradient
    /// `[B, H, W, Ci]`, from the output gradient `dz` `[B*Ho*Wo, Co]`.
    pub(super) fn gradients(
        &self,
        x: &[f32],
        g: &ConvGeometry,
        dz: &FlexTensor,
        need_dx: bool,
    ) -> (FlexTensor, Option<FlexTensor>) {
        match self {
            Self::Patches(wmat) => (
                patches::weight_grad(x, g, dz),
                need_dx.then(|| patches::input_grad(g, dz, wmat)),
            ),
            Self::Winograd(u) => winograd::gradients(x, g, super::extension::slice(dz), u, need_dx),
        }
    }
}
