//! The colour ops with per-image factors, element-wise, as `views::ops` defines them.

use burn::tensor::{Device, Tensor, TensorData};

use super::{blend, drawn_mask, per_image};
use crate::views::drawn::{Drawn, ERASE_VALUE, JitterFactors};
use crate::views::normalize::Normalize;

/// ITU-R 601-2 luma, `[n, 1, h, w]`, as `ops::luma`.
fn luma(x: &Tensor<4>) -> Tensor<4> {
    let channel = |c: usize| x.clone().narrow(1, c, 1);
    channel(0).mul_scalar(0.299) + channel(1).mul_scalar(0.587) + channel(2).mul_scalar(0.114)
}

/// Colour jitter: brightness, contrast, saturation, then hue, each clamped to 0..=1.
pub fn jitter(x: Tensor<4>, draws: &[Option<Drawn>], device: &Device) -> Tensor<4> {
    let factors: Vec<JitterFactors> = draws
        .iter()
        .map(|d| match d {
            Some(Drawn::Jitter(f)) => *f,
            _ => JitterFactors {
                brightness: 1.0,
                contrast: 1.0,
                saturation: 1.0,
                hue: 0.0,
            },
        })
        .collect();
    let each = |f: fn(&JitterFactors) -> f32| per_image(factors.iter().map(f), device);
    let y = (x.clone() * each(|f| f.brightness)).clamp(0.0, 1.0);
    let mean = luma(&y).mean_dim(2).mean_dim(3);
    let y = (mean.clone() + (y - mean) * each(|f| f.contrast)).clamp(0.0, 1.0);
    let grey = luma(&y);
    let y = (grey.clone() + (y - grey) * each(|f| f.saturation)).clamp(0.0, 1.0);
    let shifted = hue_shift(y.clone(), each(|f| f.hue));
    let y = blend(y, shifted, each(|f| f32::from(u8::from(f.hue != 0.0))));
    blend(x, y, drawn_mask(draws, device))
}

/// `x - floor(x)`: `rem_euclid(1)`.
fn fraction(x: Tensor<4>) -> Tensor<4> {
    x.clone() - x.floor()
}

/// Rotates each image's hue by `shift` turns through HSV (`ops::adjust_hue`), with the
/// closed form of HSV to RGB: channel `c = v - v s clamp(min(k, 4 - k), 0, 1)`, `k = (n +
/// 6h) mod 6`, `n` = 5, 3, 1 for red, green, blue (the sector formula, rearranged).
fn hue_shift(x: Tensor<4>, shift: Tensor<4>) -> Tensor<4> {
    let channel = |c: usize| x.clone().narrow(1, c, 1);
    let (r, g, b) = (channel(0), channel(1), channel(2));
    let max = x.clone().max_dim(1);
    let min = x.clone().min_dim(1);
    let d = max.clone() - min;
    let safe_d = d.clone().clamp_min(f32::MIN_POSITIVE);
    // Where d is 0 the saturation is 0 and the hue cannot matter.
    let from_red = (g.clone() - b.clone()) / safe_d.clone();
    let from_red =
        (from_red.clone() - from_red.div_scalar(6.0).floor().mul_scalar(6.0)).div_scalar(6.0);
    let from_green = ((b - r.clone()) / safe_d.clone())
        .add_scalar(2.0)
        .div_scalar(6.0);
    let from_blue = ((r.clone() - g.clone()) / safe_d)
        .add_scalar(4.0)
        .div_scalar(6.0);
    let hue = from_blue
        .mask_where(max.clone().equal(g), from_green)
        .mask_where(max.clone().equal(r), from_red);
    let saturation = d / max.clone().clamp_min(f32::MIN_POSITIVE);
    let value = max;
    let sixths = fraction(hue + shift).mul_scalar(6.0);
    let channel_of = |n: f32| {
        let k = sixths.clone().add_scalar(n);
        let k = k.clone() - k.div_scalar(6.0).floor().mul_scalar(6.0);
        let ramp = k.clone().min_pair(k.neg().add_scalar(4.0)).clamp(0.0, 1.0);
        value.clone() - value.clone() * saturation.clone() * ramp
    };
    Tensor::cat(vec![channel_of(5.0), channel_of(3.0), channel_of(1.0)], 1)
}

/// Greyscale (luma in every channel) for the images whose draw is `Some`.
pub fn grayscale(x: Tensor<4>, draws: &[Option<Drawn>], device: &Device) -> Tensor<4> {
    let grey = luma(&x);
    let grey = Tensor::cat(vec![grey.clone(), grey.clone(), grey], 1);
    blend(x, grey, drawn_mask(draws, device))
}

/// Inverts every value at or above `threshold`, for the images whose draw is `Some`.
pub fn solarize(
    x: Tensor<4>,
    draws: &[Option<Drawn>],
    threshold: f32,
    device: &Device,
) -> Tensor<4> {
    let inverted = x.clone().mask_where(
        x.clone().greater_equal_elem(threshold),
        x.clone().neg().add_scalar(1.0),
    );
    blend(x, inverted, drawn_mask(draws, device))
}

/// RandomErasing: each image's drawn rectangle (if any) filled with grey.
pub fn erase(x: Tensor<4>, draws: &[Option<Drawn>], size: usize, device: &Device) -> Tensor<4> {
    let n = draws.len();
    // [start, end) per image along each axis; an empty range where nothing is erased.
    let mut ys = Vec::with_capacity(2 * n);
    let mut xs = Vec::with_capacity(2 * n);
    for d in draws {
        match d {
            Some(Drawn::Erase(Some(r))) => {
                ys.extend([r.y as f32, (r.y + r.h) as f32]);
                xs.extend([r.x as f32, (r.x + r.w) as f32]);
            }
            _ => {
                ys.extend([0.0, 0.0]);
                xs.extend([0.0, 0.0]);
            }
        }
    }
    let coords = Tensor::<1>::from_data(
        TensorData::new((0..size).map(|i| i as f32).collect::<Vec<_>>(), [size]),
        device,
    );
    // 1 where start <= i < end: both factors are whole numbers clamped to 0 or 1.
    let inside = |ranges: Vec<f32>| {
        let ranges = Tensor::<2>::from_data(TensorData::new(ranges, [n, 2]), device);
        let start = ranges.clone().narrow(1, 0, 1);
        let end = ranges.narrow(1, 1, 1);
        let i = coords.clone().reshape([1, size]);
        (i.clone() - start).add_scalar(1.0).clamp(0.0, 1.0) * (end - i).clamp(0.0, 1.0)
    };
    let rows = inside(ys).reshape([n, 1, size, 1]);
    let cols = inside(xs).reshape([n, 1, 1, size]);
    let mask = rows * cols;
    let grey = x.clone().zeros_like().add_scalar(ERASE_VALUE);
    blend(x, grey, mask)
}

/// `(x - mean) / std` per channel, as `Normalize::write_chw`.
pub fn normalize(x: Tensor<4>, normalize: &Normalize) -> Tensor<4> {
    let device = x.device();
    let per_channel =
        |v: [f32; 3]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 3, 1, 1]), &device);
    (x - per_channel(normalize.mean)) / per_channel(normalize.std)
}
