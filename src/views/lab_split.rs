//! CMC's Lab split on plain pixels, for the views preview: what the L encoder sees (as
//! grey) and what the ab encoder sees (shown as colour at a fixed lightness). The
//! training path converts on tensors (`model::lab`); a test there checks both agree.

use super::ImageF32;

const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];
const RGB_TO_XYZ: [[f32; 3]; 3] = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175],
    [0.019_333_9, 0.119_192, 0.950_304_1],
];
const XYZ_TO_RGB: [[f32; 3]; 3] = [
    [3.240_454_2, -1.537_138_5, -0.498_531_4],
    [-0.969_266, 1.876_010_8, 0.041_556],
    [0.055_643_4, -0.204_025_9, 1.057_225_2],
];
const DELTA: f32 = 6.0 / 29.0;

fn mat(m: &[[f32; 3]; 3], v: [f32; 3]) -> [f32; 3] {
    [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
}

/// sRGB (0..=1) to CIE Lab (L 0..100, a and b roughly -128..127), D65.
pub fn rgb_to_lab(rgb: [f32; 3]) -> [f32; 3] {
    let lin = rgb.map(|c| {
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    let xyz = mat(&RGB_TO_XYZ, lin);
    let f = [0, 1, 2].map(|i| {
        let t = xyz[i] / WHITE[i];
        if t <= DELTA.powi(3) {
            t / (3.0 * DELTA * DELTA) + 4.0 / 29.0
        } else {
            t.cbrt()
        }
    });
    [
        116.0 * f[1] - 16.0,
        500.0 * (f[0] - f[1]),
        200.0 * (f[1] - f[2]),
    ]
}

/// CIE Lab back to sRGB, clipped to 0..=1.
pub fn lab_to_rgb(lab: [f32; 3]) -> [f32; 3] {
    let fy = (lab[0] + 16.0) / 116.0;
    let f = [fy + lab[1] / 500.0, fy, fy - lab[2] / 200.0];
    let xyz = [0, 1, 2].map(|i| {
        let t = if f[i] > DELTA {
            f[i].powi(3)
        } else {
            3.0 * DELTA * DELTA * (f[i] - 4.0 / 29.0)
        };
        t * WHITE[i]
    });
    mat(&XYZ_TO_RGB, xyz).map(|c| {
        let c = c.clamp(0.0, 1.0);
        if c <= 0.003_130_8 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        }
    })
}

/// Lightness used to draw the ab channels as colour.
const AB_LIGHTNESS: f32 = 65.0;

/// (L view as grey, ab view as colour at fixed lightness).
pub fn split(img: &ImageF32) -> (ImageF32, ImageF32) {
    let mut l = img.clone();
    let mut ab = img.clone();
    for (pl, pab) in l.data.chunks_exact_mut(3).zip(ab.data.chunks_exact_mut(3)) {
        let lab = rgb_to_lab([pl[0], pl[1], pl[2]]);
        pl.fill(lab[0] / 100.0);
        pab.copy_from_slice(&lab_to_rgb([AB_LIGHTNESS, lab[1], lab[2]]));
    }
    (l, ab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_values_and_round_trips() {
        let red = rgb_to_lab([1.0, 0.0, 0.0]);
        for (got, want) in red.iter().zip([53.24, 80.09, 67.20]) {
            assert!((got - want).abs() < 0.05, "{red:?}");
        }
        let white = rgb_to_lab([1.0, 1.0, 1.0]);
        assert!((white[0] - 100.0).abs() < 0.01 && white[1].abs() < 0.01);
        for rgb in [[0.2, 0.5, 0.9], [0.9, 0.9, 0.1], [0.01, 0.02, 0.03]] {
            let back = lab_to_rgb(rgb_to_lab(rgb));
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 1e-3, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn a_grey_image_has_a_flat_ab_view() {
        let img = ImageF32 {
            width: 2,
            height: 1,
            data: vec![0.2, 0.2, 0.2, 0.8, 0.8, 0.8],
        };
        let (l, ab) = split(&img);
        assert!(l.data[0] < l.data[3], "lightness follows grey level");
        // Both pixels have a = b = 0: the same neutral colour in the ab view.
        for c in 0..3 {
            assert!((ab.data[c] - ab.data[3 + c]).abs() < 1e-4);
        }
    }
}
