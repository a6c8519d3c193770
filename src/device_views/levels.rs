//! The ops on 8-bit levels, as `ops_extra` defines them: posterize and histogram
//! equalisation. A value's level is `round(v * 255)` (half away from zero) clamped to
//! 0..=255, computed exactly as the CPU's `f32::round` rounds.

use burn::tensor::{Device, IndexingUpdateOp, Tensor};

use super::{blend, drawn_mask};
use crate::views::drawn::Drawn;

/// `clamp(round(v * 255), 0, 255)` as whole-number floats. `floor(x + 0.5)` would round
/// `0.49999997` up (the sum rounds to 1.0); the fraction compared with one half does not.
fn levels(x: Tensor<4>) -> Tensor<4> {
    let scaled = x.mul_scalar(255.0);
    let whole = scaled.clone().floor();
    let up = (scaled - whole.clone()).greater_equal_elem(0.5).float();
    (whole + up).clamp(0.0, 255.0)
}

/// Keeps the top `bits` bits of each level, for the images whose draw is `Some`.
pub fn posterize(x: Tensor<4>, draws: &[Option<Drawn>], device: &Device) -> Tensor<4> {
    let bits = draws.iter().flatten().find_map(|d| match d {
        Drawn::Posterize { bits } => Some(*bits),
        _ => None,
    });
    let Some(bits) = bits else {
        return x;
    };
    // Clearing the low `8 - bits` bits is rounding down to a multiple of 2^(8 - bits),
    // exact in floats (a power of two); `bits` 0 leaves nothing (every level < 256).
    let step = f32::from(1u16 << (8 - u32::from(bits.min(8))));
    let kept = levels(x.clone())
        .div_scalar(step)
        .floor()
        .mul_scalar(step)
        .div_scalar(255.0);
    blend(x, kept, drawn_mask(draws, device))
}

/// Histogram equalisation of each channel of each image whose draw is `Some`, torchvision's
/// (PIL's) lookup table: `step = (pixels - count of the highest level present) / 255`
/// rounded down; a channel with step 0 is left as it is; otherwise level `l` becomes
/// `min((step / 2 + count of levels below l) / step, 255)`, divisions rounded down. Counts
/// stay whole numbers below 2^24, so float arithmetic is exact here, and the quotients
/// (below 2^16) cannot round up to the next whole number.
pub fn equalize(x: Tensor<4>, draws: &[Option<Drawn>], device: &Device) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let pixels = (h * w) as f32;
    let level = levels(x.clone()).reshape([n * c, h * w]);
    let index = level.clone().int();
    let counts = Tensor::<2>::zeros([n * c, 256], device).scatter(
        1,
        index.clone(),
        level.ones_like(),
        IndexingUpdateOp::Add,
    );
    let below = counts.clone().cumsum(1) - counts.clone();
    let highest = level.max_dim(1).int();
    let at_highest = counts.gather(1, highest);
    let step = (at_highest.neg().add_scalar(pixels))
        .div_scalar(255.0)
        .floor();
    let divisor = step.clone().clamp_min(1.0);
    let half = step.clone().div_scalar(2.0).floor();
    let table = ((below + half) / divisor).floor().clamp_max(255.0);
    let equalized = table.gather(1, index).div_scalar(255.0);
    // Step 0 keeps the channel's values as they were (not even rounded to levels).
    let changes = step.greater_elem(0.0).float();
    let equalized = blend(x.clone().reshape([n * c, h * w]), equalized, changes);
    blend(
        x,
        equalized.reshape([n, c, h, w]),
        drawn_mask(draws, device),
    )
}
