//! Individual augmentation operations, following torchvision's definitions where one exists
//! (RandomResizedCrop's sampling, ColorJitter's factors, ITU-R 601 grey), written by hand
//! because they run per-pixel on 32x32 images where a generic image crate's allocation and
//! format conversions would dominate the cost.

use rand::RngExt;

use super::ImageF32;
use crate::seeding::Rng;

/// A crop rectangle in source pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropBox {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

/// Samples a crop the way torchvision's RandomResizedCrop does: area fraction uniform in
/// `scale`, log aspect ratio uniform in `ratio`, ten tries, then a centre-crop fallback.
pub fn sample_crop(
    width: usize,
    height: usize,
    scale: [f32; 2],
    ratio: [f32; 2],
    rng: &mut Rng,
) -> CropBox {
    let area = (width * height) as f32;
    let (log_lo, log_hi) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale[0]..=scale[1]);
        let aspect = if log_hi > log_lo {
            rng.random_range(log_lo..=log_hi).exp()
        } else {
            ratio[0]
        };
        let w = (target * aspect).sqrt().round() as usize;
        let h = (target / aspect).sqrt().round() as usize;
        if w > 0 && h > 0 && w <= width && h <= height {
            let x = rng.random_range(0..=width - w);
            let y = rng.random_range(0..=height - h);
            return CropBox { x, y, w, h };
        }
    }
    // Fallback: the largest centred crop whose aspect lies within `ratio`.
    let in_ratio = width as f32 / height as f32;
    let (w, h) = if in_ratio < ratio[0] {
        (width, ((width as f32 / ratio[0]).round() as usize).max(1))
    } else if in_ratio > ratio[1] {
        (((height as f32 * ratio[1]).round() as usize).max(1), height)
    } else {
        (width, height)
    };
    CropBox {
        x: (width - w) / 2,
        y: (height - h) / 2,
        w,
        h,
    }
}

/// Crops `b` out of `img` and resizes it to `out x out` with bilinear interpolation
/// (pixel centres aligned, as torchvision's antialias-free bilinear resize).
pub fn crop_resize(img: &ImageF32, b: CropBox, out: usize) -> ImageF32 {
    let mut data = vec![0.0; out * out * 3];
    let sx = b.w as f32 / out as f32;
    let sy = b.h as f32 / out as f32;
    for oy in 0..out {
        let fy = (b.y as f32 + (oy as f32 + 0.5) * sy - 0.5).clamp(0.0, (img.height - 1) as f32);
        let y0 = fy.floor() as usize;
        let y1 = (y0 + 1).min(img.height - 1);
        let ty = fy - y0 as f32;
        for ox in 0..out {
            let fx = (b.x as f32 + (ox as f32 + 0.5) * sx - 0.5).clamp(0.0, (img.width - 1) as f32);
            let x0 = fx.floor() as usize;
            let x1 = (x0 + 1).min(img.width - 1);
            let tx = fx - x0 as f32;
            let o = (oy * out + ox) * 3;
            bilinear(img, (x0, x1, tx), (y0, y1, ty), &mut data[o..o + 3]);
        }
    }
    ImageF32 {
        width: out,
        height: out,
        data,
    }
}

/// Writes the RGB value interpolated between columns `x0`/`x1` (weight `tx` on `x1`) and
/// rows `y0`/`y1` (weight `ty` on `y1`) into `out`.
pub fn bilinear(
    img: &ImageF32,
    (x0, x1, tx): (usize, usize, f32),
    (y0, y1, ty): (usize, usize, f32),
    out: &mut [f32],
) {
    for (c, o) in out.iter_mut().enumerate().take(3) {
        let at = |x: usize, y: usize| img.data[(y * img.width + x) * 3 + c];
        let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
        let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
        *o = top * (1.0 - ty) + bottom * ty;
    }
}

pub fn flip_horizontal(img: &mut ImageF32) {
    let w = img.width;
    for y in 0..img.height {
        for x in 0..w / 2 {
            for c in 0..3 {
                img.data
                    .swap((y * w + x) * 3 + c, (y * w + (w - 1 - x)) * 3 + c);
            }
        }
    }
}

/// ITU-R 601-2 luma, as torchvision's `rgb_to_grayscale`.
pub fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

pub fn adjust_brightness(img: &mut ImageF32, factor: f32) {
    for v in &mut img.data {
        *v = (*v * factor).clamp(0.0, 1.0);
    }
}

/// Blends with the mean grey level (torchvision's `adjust_contrast`).
pub fn adjust_contrast(img: &mut ImageF32, factor: f32) {
    let n = (img.width * img.height) as f32;
    let mean = img
        .data
        .chunks_exact(3)
        .map(|p| luma([p[0], p[1], p[2]]))
        .sum::<f32>()
        / n;
    for v in &mut img.data {
        *v = (mean + factor * (*v - mean)).clamp(0.0, 1.0);
    }
}

/// Blends each pixel with its own grey (torchvision's `adjust_saturation`).
pub fn adjust_saturation(img: &mut ImageF32, factor: f32) {
    for p in img.data.chunks_exact_mut(3) {
        let g = luma([p[0], p[1], p[2]]);
        for v in p {
            *v = (g + factor * (*v - g)).clamp(0.0, 1.0);
        }
    }
}

/// Rotates hue by `shift` turns (in -0.5..=0.5) through HSV.
pub fn adjust_hue(img: &mut ImageF32, shift: f32) {
    for p in img.data.chunks_exact_mut(3) {
        let (h, s, v) = rgb_to_hsv([p[0], p[1], p[2]]);
        let rgb = hsv_to_rgb(((h + shift).rem_euclid(1.0), s, v));
        p.copy_from_slice(&rgb);
    }
}

pub fn to_grayscale(img: &mut ImageF32) {
    for p in img.data.chunks_exact_mut(3) {
        let g = luma([p[0], p[1], p[2]]);
        p.fill(g);
    }
}

/// Hue in turns (0..1), saturation and value in 0..=1.
pub fn rgb_to_hsv(p: [f32; 3]) -> (f32, f32, f32) {
    let [r, g, b] = p;
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let h = if d <= 0.0 {
        0.0
    } else if max == r {
        ((g - b) / d).rem_euclid(6.0) / 6.0
    } else if max == g {
        ((b - r) / d + 2.0) / 6.0
    } else {
        ((r - g) / d + 4.0) / 6.0
    };
    let s = if max <= 0.0 { 0.0 } else { d / max };
    (h, s, max)
}

pub fn hsv_to_rgb((h, s, v): (f32, f32, f32)) -> [f32; 3] {
    let h6 = (h * 6.0).rem_euclid(6.0);
    let i = h6.floor();
    let f = h6 - i;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match i as u32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// Separable Gaussian blur with reflect padding; the kernel spans 3 sigma each side.
pub fn gaussian_blur(img: &mut ImageF32, sigma: f32) {
    if sigma <= 0.0 {
        return;
    }
    let radius = (3.0 * sigma).ceil().max(1.0) as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
    let (w, h) = (img.width as isize, img.height as isize);
    let reflect = |i: isize, n: isize| -> usize {
        let mut i = i;
        while i < 0 || i >= n {
            i = if i < 0 { -i } else { 2 * (n - 1) - i };
        }
        i as usize
    };
    let mut tmp = vec![0.0; img.data.len()];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 0.0;
                for (k, &kv) in kernel.iter().enumerate() {
                    let sx = reflect(x + k as isize - radius, w);
                    acc += kv * img.data[(y as usize * w as usize + sx) * 3 + c];
                }
                tmp[(y as usize * w as usize + x as usize) * 3 + c] = acc;
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 0.0;
                for (k, &kv) in kernel.iter().enumerate() {
                    let sy = reflect(y + k as isize - radius, h);
                    acc += kv * tmp[(sy * w as usize + x as usize) * 3 + c];
                }
                img.data[(y as usize * w as usize + x as usize) * 3 + c] = acc;
            }
        }
    }
}

/// Inverts every value at or above `threshold` (BYOL's solarize).
pub fn solarize(img: &mut ImageF32, threshold: f32) {
    for v in &mut img.data {
        if *v >= threshold {
            *v = 1.0 - *v;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::seeding::{Stream, rng_for};

    /// A deterministic test image with varied values in every channel.
    pub(crate) fn ramp(n: usize) -> ImageF32 {
        let data = (0..n * n * 3).map(|i| (i % 97) as f32 / 96.0).collect();
        ImageF32 {
            width: n,
            height: n,
            data,
        }
    }

    #[test]
    fn crop_area_stays_within_scale_bounds() {
        let mut rng = rng_for(1, Stream::View, &[]);
        for _ in 0..2000 {
            let b = sample_crop(32, 32, [0.2, 0.6], [0.75, 4.0 / 3.0], &mut rng);
            let frac = (b.w * b.h) as f32 / 1024.0;
            // Rounding w and h to whole pixels moves the area by at most ~ (w + h) / 2 px.
            let slack = (b.w + b.h) as f32 / 2.0 / 1024.0 + 1e-3;
            assert!(
                frac >= 0.2 - slack && frac <= 0.6 + slack,
                "{b:?} covers {frac}"
            );
            assert!(b.x + b.w <= 32 && b.y + b.h <= 32);
        }
    }

    #[test]
    fn full_crop_resize_is_identity_and_flip_twice_is_identity() {
        let img = ramp(8);
        let same = crop_resize(
            &img,
            CropBox {
                x: 0,
                y: 0,
                w: 8,
                h: 8,
            },
            8,
        );
        for (a, b) in img.data.iter().zip(&same.data) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut f = img.clone();
        flip_horizontal(&mut f);
        assert_eq!(f.pixel(0, 3), img.pixel(7, 3));
        flip_horizontal(&mut f);
        assert_eq!(f, img);
    }

    #[test]
    fn hsv_round_trip_and_known_colours() {
        assert_eq!(rgb_to_hsv([1.0, 0.0, 0.0]), (0.0, 1.0, 1.0));
        let (h, _, _) = rgb_to_hsv([0.0, 1.0, 0.0]);
        assert!((h - 1.0 / 3.0).abs() < 1e-6);
        for p in [[0.2, 0.5, 0.9], [0.9, 0.1, 0.4], [0.3, 0.3, 0.3]] {
            let q = hsv_to_rgb(rgb_to_hsv(p));
            for c in 0..3 {
                assert!((p[c] - q[c]).abs() < 1e-5, "{p:?} -> {q:?}");
            }
        }
        // A half-turn hue shift of pure red is cyan.
        let mut img = ImageF32 {
            width: 1,
            height: 1,
            data: vec![1.0, 0.0, 0.0],
        };
        adjust_hue(&mut img, 0.5);
        assert!((img.data[0]).abs() < 1e-5 && (img.data[1] - 1.0).abs() < 1e-5);
    }

    #[test]
    fn grayscale_uses_itu601_and_saturation_zero_equals_grayscale() {
        let mut a = ramp(4);
        let mut b = a.clone();
        to_grayscale(&mut a);
        adjust_saturation(&mut b, 0.0);
        assert_eq!(a, b);
        let p = ramp(4).pixel(1, 1);
        assert!((a.pixel(1, 1)[0] - (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])).abs() < 1e-6);
    }

    #[test]
    fn blur_preserves_constant_images_and_smooths_an_impulse() {
        let mut flat = ImageF32 {
            width: 6,
            height: 6,
            data: vec![0.4; 108],
        };
        gaussian_blur(&mut flat, 1.0);
        assert!(flat.data.iter().all(|v| (v - 0.4).abs() < 1e-5));
        let mut dot = ImageF32 {
            width: 9,
            height: 9,
            data: vec![0.0; 243],
        };
        dot.data[(4 * 9 + 4) * 3] = 1.0;
        gaussian_blur(&mut dot, 1.0);
        let centre = dot.pixel(4, 4)[0];
        let side = dot.pixel(5, 4)[0];
        assert!(centre < 1.0 && side > 0.0 && centre > side);
        let total: f32 = dot.data.iter().step_by(3).sum();
        assert!((total - 1.0).abs() < 1e-4, "mass {total}");
    }

    #[test]
    fn contrast_zero_gives_the_mean_grey() {
        let mut img = ramp(4);
        let mean: f32 = img
            .data
            .chunks_exact(3)
            .map(|p| luma([p[0], p[1], p[2]]))
            .sum::<f32>()
            / 16.0;
        adjust_contrast(&mut img, 0.0);
        assert!(img.data.iter().all(|v| (v - mean).abs() < 1e-6));
    }
}
