//! The rest of torchvision's augmentations, with its definitions: vertical flip,
//! rotation (bilinear, corners filled black), equalize and posterize (on 8-bit levels,
//! as torchvision applies them to uint8 images), and random erasing.

use rand::RngExt;

use super::ImageF32;
use super::ops::CropBox;
use crate::seeding::Rng;

pub fn flip_vertical(img: &mut ImageF32) {
    let (w, h) = (img.width, img.height);
    for y in 0..h / 2 {
        for x in 0..w * 3 {
            img.data.swap(y * w * 3 + x, (h - 1 - y) * w * 3 + x);
        }
    }
}

/// Rotates by `degrees` counter-clockwise about the centre (bilinear; outside is black).
pub fn rotate(img: &ImageF32, degrees: f32) -> ImageF32 {
    let (w, h) = (img.width, img.height);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let mut out = vec![0.0; img.data.len()];
    for y in 0..h {
        for x in 0..w {
            // Inverse map: where in the source does this output pixel come from.
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let sx = cos * dx - sin * dy + cx;
            let sy = sin * dx + cos * dy + cy;
            if sx < -0.5 || sy < -0.5 || sx > w as f32 - 0.5 || sy > h as f32 - 0.5 {
                continue;
            }
            let (sx, sy) = (sx.clamp(0.0, (w - 1) as f32), sy.clamp(0.0, (h - 1) as f32));
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (tx, ty) = (sx - x0 as f32, sy - y0 as f32);
            let o = (y * w + x) * 3;
            super::ops::bilinear(img, (x0, x1, tx), (y0, y1, ty), &mut out[o..o + 3]);
        }
    }
    ImageF32 {
        width: w,
        height: h,
        data: out,
    }
}

fn to_level(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Histogram equalisation per channel (torchvision's `equalize`: the PIL ImageOps LUT).
pub fn equalize(img: &mut ImageF32) {
    let n = img.width * img.height;
    for c in 0..3 {
        let mut hist = [0usize; 256];
        for p in 0..n {
            hist[to_level(img.data[p * 3 + c]) as usize] += 1;
        }
        // step = (count of all but the last non-zero bin) / 255; identity when 0.
        let last = hist.iter().rposition(|&h| h > 0).unwrap_or(0);
        let step = (n - hist[last]) / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0u8; 256];
        let mut acc = step / 2;
        for (level, &count) in hist.iter().enumerate() {
            lut[level] = (acc / step).min(255) as u8;
            acc += count;
        }
        for p in 0..n {
            let v = &mut img.data[p * 3 + c];
            *v = f32::from(lut[to_level(*v) as usize]) / 255.0;
        }
    }
}

/// Keeps the top `bits` bits of each 8-bit level.
pub fn posterize(img: &mut ImageF32, bits: u8) {
    let mask = !(0xffu8.checked_shr(u32::from(bits)).unwrap_or(0));
    for v in &mut img.data {
        *v = f32::from(to_level(*v) & mask) / 255.0;
    }
}

/// torchvision's RandomErasing: a rectangle of area fraction in `scale` and aspect in
/// `ratio` (log-uniform), ten tries, filled with `value` (0.5: the normalisation mean,
/// i.e. torchvision's 0 on a normalised tensor). Leaves the image when no try fits.
pub fn erase(img: &mut ImageF32, scale: [f32; 2], ratio: [f32; 2], value: f32, rng: &mut Rng) {
    if let Some(rect) = sample_erasure(img.width, img.height, scale, ratio, rng) {
        fill(img, rect, value);
    }
}

/// Where [`erase`] erases in a `w x h` image (None when no try fits), drawing the same
/// random numbers.
pub fn sample_erasure(
    w: usize,
    h: usize,
    scale: [f32; 2],
    ratio: [f32; 2],
    rng: &mut Rng,
) -> Option<CropBox> {
    let area = (w * h) as f32;
    let (lo, hi) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale[0]..=scale[1]);
        let aspect = if hi > lo {
            rng.random_range(lo..=hi).exp()
        } else {
            ratio[0]
        };
        let eh = (target * aspect).sqrt().round() as usize;
        let ew = (target / aspect).sqrt().round() as usize;
        if eh == 0 || ew == 0 || eh >= h || ew >= w {
            continue;
        }
        let y = rng.random_range(0..=h - eh);
        let x = rng.random_range(0..=w - ew);
        return Some(CropBox { x, y, w: ew, h: eh });
    }
    None
}

/// Sets every value of `rect` to `value`.
pub fn fill(img: &mut ImageF32, rect: CropBox, value: f32) {
    let w = img.width;
    for y in rect.y..rect.y + rect.h {
        img.data[(y * w + rect.x) * 3..(y * w + rect.x + rect.w) * 3].fill(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeding::{Stream, rng_for};
    use crate::views::ops::tests::ramp;

    #[test]
    fn vertical_flip_twice_is_identity_and_moves_rows() {
        let a = ramp(8);
        let mut b = a.clone();
        flip_vertical(&mut b);
        assert_eq!(b.pixel(3, 0), a.pixel(3, 7));
        flip_vertical(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn rotation_by_zero_is_identity_and_by_90_moves_corners() {
        let a = ramp(9);
        let r = rotate(&a, 0.0);
        for (x, y) in a.data.iter().zip(&r.data) {
            assert!((x - y).abs() < 1e-5);
        }
        // Counter-clockwise by 90: the top-right pixel goes to the top-left.
        let r = rotate(&a, 90.0);
        let (want, got) = (a.pixel(8, 0), r.pixel(0, 0));
        for c in 0..3 {
            assert!((want[c] - got[c]).abs() < 1e-4, "{want:?} {got:?}");
        }
        // By 45 degrees the corners fall outside the source: black.
        assert_eq!(rotate(&a, 45.0).pixel(0, 0), [0.0; 3]);
    }

    #[test]
    fn equalize_spreads_a_narrow_histogram_like_torchvision() {
        // Half the pixels at level 100, half at 110 (1024 pixels): step = 512 / 255 = 2,
        // so 100 -> (1 + 0) / 2 = 0 and 110 -> (1 + 512) / 2 = 256, clamped to 255.
        let mut img = ImageF32 {
            width: 32,
            height: 32,
            data: (0..3072)
                .map(|i| {
                    if i < 1536 {
                        100.0 / 255.0
                    } else {
                        110.0 / 255.0
                    }
                })
                .collect(),
        };
        equalize(&mut img);
        assert_eq!(to_level(img.data[0]), 0);
        assert_eq!(to_level(img.data[3071]), 255);
        // A constant image is left alone (step 0).
        let mut flat = ImageF32 {
            width: 2,
            height: 2,
            data: vec![0.3; 12],
        };
        equalize(&mut flat);
        assert!(flat.data.iter().all(|&v| (v - 0.3).abs() < 1e-6));
    }

    #[test]
    fn posterize_keeps_the_top_bits() {
        let mut img = ImageF32 {
            width: 1,
            height: 1,
            data: vec![200.0 / 255.0, 1.0, 0.0],
        };
        posterize(&mut img, 2);
        // 200 = 0b1100_1000 -> 0b1100_0000 = 192.
        assert_eq!(to_level(img.data[0]), 192);
        assert_eq!(to_level(img.data[1]), 192);
        assert_eq!(to_level(img.data[2]), 0);
        let mut same = ramp(4);
        let before = same.to_u8();
        posterize(&mut same, 8);
        assert_eq!(same.to_u8(), before);
    }

    #[test]
    fn erasing_fills_one_rectangle_within_the_scale_range() {
        for seed in 0..20 {
            let mut img = ImageF32 {
                width: 32,
                height: 32,
                data: vec![1.0; 32 * 32 * 3],
            };
            erase(
                &mut img,
                [0.02, 0.33],
                [0.3, 3.3],
                0.5,
                &mut rng_for(seed, Stream::View, &[]),
            );
            let erased = img.data.chunks(3).filter(|p| p[0] == 0.5).count() as f32 / 1024.0;
            assert!((0.0..=0.34).contains(&erased), "{erased}");
        }
    }
}
