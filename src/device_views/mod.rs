//! Views rendered on the training device: a planned batch (`views::plan`: source images
//! and every transform's drawn parameters) becomes the `[2N, 3, S, S]` block of normalised
//! views with burn's tensor ops, so a GPU that outruns the CPU's augmentation is not left
//! waiting for it (`train.augment_on = "device"`). The parameters are the CPU's own draws,
//! and every op follows the CPU's definition (`views::ops`), so the views agree with
//! `make_view_batch`'s to float rounding (tests/device_views.rs).
//!
//! Resampling is linear in the pixels, so a crop-and-resize and a blur are each a pair of
//! per-image matrices, `M_y . image . M_x^T`, batched matmuls on the device; the colour
//! ops are element-wise with per-image factors. An image a step skips gets the identity
//! (or is blended back), so one launch serves the whole batch.

mod colour;
mod spatial;

use burn::tensor::{Device, Tensor, TensorData};

use crate::views::drawn::Drawn;
use crate::views::plan::ViewsPlan;

/// The normalised views of `plan` (`n` images of `size x size`) on `device`: rows `0..n`
/// view 0, rows `n..2n` view 1, as `make_view_batch` lays them out.
pub fn render(
    plan: &ViewsPlan,
    n: usize,
    size: usize,
    device: &Device,
) -> Result<Tensor<4>, String> {
    let sources = Tensor::<4>::from_data(
        TensorData::new(plan.sources.clone(), [n, 3, size, size]),
        device,
    );
    let mut halves = Vec::with_capacity(2);
    for steps in &plan.steps {
        let mut x = sources.clone();
        for draws in steps {
            x = apply_step(x, draws, size, device)?;
        }
        halves.push(x);
    }
    Ok(colour::normalize(Tensor::cat(halves, 0), &plan.normalize))
}

/// One pipeline step over the batch (`draws[i]` is image `i`'s; all come from one
/// transform, so the first drawn one says which).
fn apply_step(
    x: Tensor<4>,
    draws: &[Option<Drawn>],
    size: usize,
    device: &Device,
) -> Result<Tensor<4>, String> {
    let Some(kind) = draws.iter().flatten().next() else {
        return Ok(x);
    };
    Ok(match kind {
        Drawn::Crop(_) => spatial::crop(x, draws, size, device),
        Drawn::FlipHorizontal => spatial::flip(x, draws, 3, device),
        Drawn::FlipVertical => spatial::flip(x, draws, 2, device),
        Drawn::Blur { .. } => spatial::blur(x, draws, size, device),
        Drawn::Jitter(_) => colour::jitter(x, draws, device),
        Drawn::Grayscale => colour::grayscale(x, draws, device),
        Drawn::Solarize { threshold } => colour::solarize(x, draws, *threshold, device),
        Drawn::Erase(_) => colour::erase(x, draws, size, device),
        Drawn::Rotate { .. } | Drawn::Equalize | Drawn::Posterize { .. } => {
            return Err(format!(
                "{kind:?} has no device implementation (views::plan::device_unsupported \
                 should have kept this pipeline on the CPU)"
            ));
        }
    })
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
fn blend(x: Tensor<4>, y: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
    x.clone() + (y - x) * mask
}
