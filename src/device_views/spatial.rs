//! Crops with resizing, flips and blurs: each a per-image linear map of rows and columns.

use burn::tensor::{Device, Tensor, TensorData};

use super::{blend, drawn_mask};
use crate::views::drawn::Drawn;
use crate::views::ops::CropBox;

/// RandomResizedCrop of `size`-pixel images to `out x out`, bilinear with pixel centres
/// aligned and edges clamped, as `ops::crop_resize`: the tent weights `max(0, 1 - |f -
/// i|)` of the source position `f` of each output pixel are exactly its two bilinear
/// weights.
pub fn crop(
    x: Tensor<4>,
    draws: &[Option<Drawn>],
    size: usize,
    out: usize,
    device: &Device,
) -> Tensor<4> {
    let whole = CropBox {
        x: 0,
        y: 0,
        w: size,
        h: size,
    };
    let boxes: Vec<CropBox> = draws
        .iter()
        .map(|d| match d {
            Some(Drawn::Crop(b)) => *b,
            _ => whole,
        })
        .collect();
    // The source position of each output row (column), as ops::crop_resize computes it.
    let positions = |start: fn(&CropBox) -> usize, extent: fn(&CropBox) -> usize| {
        let mut f = Vec::with_capacity(boxes.len() * out);
        for b in &boxes {
            let scale = extent(b) as f32 / out as f32;
            for o in 0..out {
                f.push(
                    (start(b) as f32 + (o as f32 + 0.5) * scale - 0.5)
                        .clamp(0.0, (size - 1) as f32),
                );
            }
        }
        tent_matrices(f, boxes.len(), out, size, device)
    };
    let rows = positions(|b| b.y, |b| b.h);
    let cols = positions(|b| b.x, |b| b.w);
    times_columns(times_rows(x, rows), cols)
}

/// `[n, out, size]` with `m[k, o, i] = max(0, 1 - |f[k, o] - i|)`.
fn tent_matrices(f: Vec<f32>, n: usize, out: usize, size: usize, device: &Device) -> Tensor<3> {
    let f = Tensor::<3>::from_data(TensorData::new(f, [n, out, 1]), device);
    let i = Tensor::<1>::from_data(
        TensorData::new((0..size).map(|i| i as f32).collect::<Vec<_>>(), [size]),
        device,
    )
    .reshape([1, 1, size]);
    (f - i).abs().neg().add_scalar(1.0).clamp_min(0.0)
}

/// Mirrors the images whose draw is `Some` along `axis` (3: left-right, 2: up-down).
pub fn flip(x: Tensor<4>, draws: &[Option<Drawn>], axis: usize, device: &Device) -> Tensor<4> {
    let flipped = x.clone().flip([axis]);
    blend(x, flipped, drawn_mask(draws, device))
}

/// Gaussian blur as `ops::gaussian_blur`: the normalised kernel spans 3 sigma each side,
/// reflect padding, rows then columns. Each image's kernel, padded to the batch's widest,
/// times the fixed shift-and-reflect matrices gives its blur matrix; an image not blurred
/// gets the one-tap kernel, the identity.
pub fn blur(x: Tensor<4>, draws: &[Option<Drawn>], size: usize, device: &Device) -> Tensor<4> {
    let sigma = |d: &Option<Drawn>| match d {
        Some(Drawn::Blur { sigma }) if *sigma > 0.0 => Some(*sigma),
        _ => None,
    };
    let radius_of = |s: f32| (3.0 * s).ceil().max(1.0) as usize;
    let Some(radius) = draws.iter().filter_map(sigma).map(radius_of).max() else {
        return x;
    };
    let taps = 2 * radius + 1;
    let mut kernels = vec![0.0f32; draws.len() * taps];
    for (k, d) in draws.iter().enumerate() {
        let row = &mut kernels[k * taps..(k + 1) * taps];
        match sigma(d) {
            None => row[radius] = 1.0,
            Some(s) => {
                let r = radius_of(s) as isize;
                let weights: Vec<f32> = (-r..=r)
                    .map(|i| (-(i * i) as f32 / (2.0 * s * s)).exp())
                    .collect();
                let sum: f32 = weights.iter().sum();
                for (j, w) in weights.iter().enumerate() {
                    row[radius - r as usize + j] = w / sum;
                }
            }
        }
    }
    let kernels = Tensor::<2>::from_data(TensorData::new(kernels, [draws.len(), taps]), device);
    let matrices = kernels
        .matmul(shift_matrices(radius, size, device))
        .reshape([draws.len(), size, size]);
    times_rows(times_columns(x, matrices.clone()), matrices)
}

/// `[2r + 1, size * size]`: row `t` is the 0/1 matrix taking pixel `o + t - r` (reflected
/// into the image as `ops::gaussian_blur` does) to `o`.
fn shift_matrices(radius: usize, size: usize, device: &Device) -> Tensor<2> {
    let taps = 2 * radius + 1;
    let n = size as isize;
    let reflect = |mut i: isize| {
        while i < 0 || i >= n {
            i = if i < 0 { -i } else { 2 * (n - 1) - i };
        }
        i as usize
    };
    let mut m = vec![0.0f32; taps * size * size];
    for t in 0..taps {
        for o in 0..size {
            let i = reflect(o as isize + t as isize - radius as isize);
            m[t * size * size + o * size + i] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(m, [taps, size * size]), device)
}

/// Each image's columns mapped by its matrix: `x[k, c] . m[k]^T` (`m`: `[n, out, in]`).
fn times_columns(x: Tensor<4>, m: Tensor<3>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let out = m.dims()[1];
    x.reshape([n, c * h, w])
        .matmul(m.swap_dims(1, 2))
        .reshape([n, c, h, out])
}

/// Each image's rows mapped by its matrix: `m[k] . x[k, c]`.
fn times_rows(x: Tensor<4>, m: Tensor<3>) -> Tensor<4> {
    times_columns(x.swap_dims(2, 3), m).swap_dims(2, 3)
}
