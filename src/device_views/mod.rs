//! Views rendered on the training device: a planned batch (`views::plan`: source images
//! and every transform's drawn parameters) becomes the `[2N, 3, S, S]` block of normalised
//! views with burn's tensor ops, so a GPU that outruns the CPU's augmentation is not left
//! waiting for it (`train.augment_on = "device"`). The parameters are the CPU's own draws,
//! and every op follows the CPU's definition (`views::ops`), so the views agree with
//! `make_view_batch`'s to float rounding (tests/device_views.rs).
//!
//! Resampling is linear in the pixels, so a crop-and-resize and a blur are each a pair of
//! per-image matrices, `M_y . image . M_x^T`, batched matmuls on the device; the colour
//! ops are element-wise with per-image factors. Rotation gathers each output pixel's four
//! neighbours (`rotate`); posterize and equalize work on 8-bit levels (`levels`). An image
//! a step skips gets the identity (or is blended back), so one launch serves the whole
//! batch. Every transform has a device version.

mod colour;
mod levels;
mod rotate;
mod spatial;

use burn::tensor::{Device, Tensor, TensorData};

use crate::views::drawn::Drawn;
use crate::views::plan::{PlannedStep, ViewsPlan};

/// A planned batch, rendered: the two views, and multi-crop's local crops when asked for.
pub struct Rendered {
    /// `[2n, 3, size, size]`: rows `0..n` view 0, rows `n..2n` view 1, as
    /// `make_view_batch` lays them out.
    pub views: Tensor<4>,
    /// `[count * n, 3, s, s]`, crop `k` of image `i` at row `k * n + i`.
    pub local: Option<Tensor<4>>,
}

/// The normalised views of `plan` on `device`.
pub fn render(plan: &ViewsPlan, device: &Device) -> Rendered {
    let (n, size) = (plan.n, plan.size);
    let sources = Tensor::<4>::from_data(
        TensorData::new(plan.sources.clone(), [n, 3, size, size]),
        device,
    );
    let mut made = Vec::with_capacity(plan.views.len());
    for view in &plan.views {
        let mut x = sources.clone();
        for step in &view.steps {
            x = apply_step(x, step, view.out, device);
        }
        made.push(colour::normalize(x, &plan.normalize));
    }
    let local = made.split_off(2.min(made.len()));
    Rendered {
        views: Tensor::cat(made, 0),
        local: (!local.is_empty()).then(|| Tensor::cat(local, 0)),
    }
}

/// One pipeline step over the batch (all draws come from one transform, so the first
/// drawn one says which); a crop resizes to `out`.
fn apply_step(x: Tensor<4>, step: &PlannedStep, out: usize, device: &Device) -> Tensor<4> {
    let (draws, size) = (&step.draws[..], step.size);
    let Some(kind) = draws.iter().flatten().next() else {
        return x;
    };
    match kind {
        Drawn::Crop(_) => spatial::crop(x, draws, size, out, device),
        Drawn::FlipHorizontal => spatial::flip(x, draws, 3, device),
        Drawn::FlipVertical => spatial::flip(x, draws, 2, device),
        Drawn::Rotate { .. } => rotate::rotate(x, draws, size, device),
        Drawn::Blur { .. } => spatial::blur(x, draws, size, device),
        Drawn::Jitter(_) => colour::jitter(x, draws, device),
        Drawn::Grayscale => colour::grayscale(x, draws, device),
        Drawn::Solarize { threshold } => colour::solarize(x, draws, *threshold, device),
        Drawn::Erase(_) => colour::erase(x, draws, size, device),
        Drawn::Equalize => levels::equalize(x, draws, device),
        Drawn::Posterize { .. } => levels::posterize(x, draws, device),
    }
}

/// `[n, 1, 1, 1]`: 1 for the images whose draw is `Some`, 0 for the others.
fn drawn_mask(draws: &[Option<Drawn>], device: &Device) -> Tensor<4> {
    per_image(
        draws.iter().map(|d| f32::from(u8::from(d.is_some()))),
        device,
    )
}

/// One value per image as `[n, 1, 1, 1]`.
fn per_image(values: impl Iterator<Item = f32>, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = values.collect();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n, 1, 1, 1]), device)
}

/// `x` where `mask` is 0, `y` where it is 1 (exactly `x` where 0).
fn blend<const D: usize>(x: Tensor<D>, y: Tensor<D>, mask: Tensor<D>) -> Tensor<D> {
    x.clone() + (y - x) * mask
}
