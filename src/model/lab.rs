//! RGB to CIE L*a*b* (D65 white, sRGB primaries) on tensors, for CMC's L and ab views.
//! Works on the normalised inputs the networks take (undoing the experiment's
//! normalisation first) and returns the channels scaled to roughly [-1, 1]: L/50 - 1,
//! a/100, b/100.

use burn::tensor::Tensor;

use crate::views::Normalize;

/// sRGB gamma expansion, per element.
fn to_linear(c: Tensor<4>) -> Tensor<4> {
    let low = c.clone() / 12.92;
    let high = ((c.clone() + 0.055) / 1.055).powf_scalar(2.4);
    high.mask_where(c.lower_equal_elem(0.04045), low)
}

/// The CIE Lab companding function f(t).
fn lab_f(t: Tensor<4>) -> Tensor<4> {
    const DELTA: f64 = 6.0 / 29.0;
    let linear = t.clone() / (3.0 * DELTA * DELTA) + 4.0 / 29.0;
    let cube_root = t.clone().clamp_min(0.0).powf_scalar(1.0 / 3.0);
    cube_root.mask_where(t.lower_equal_elem(DELTA * DELTA * DELTA), linear)
}

/// `[B, 3, H, W]` RGB normalised by `normalize` -> `[B, 3, H, W]` scaled L, a, b.
pub fn rgb_to_lab(x: Tensor<4>, normalize: &Normalize) -> Tensor<4> {
    let device = x.device();
    let per_channel = |v: [f32; 3]| {
        Tensor::<4>::from_data(
            burn::tensor::TensorData::new(v.to_vec(), [1, 3, 1, 1]),
            &device,
        )
    };
    let rgb = (x * per_channel(normalize.std) + per_channel(normalize.mean)).clamp(0.0, 1.0);
    let lin = to_linear(rgb);
    let channel = |i: usize| lin.clone().narrow(1, i, 1);
    let (r, g, b) = (channel(0), channel(1), channel(2));
    let mix = |w: [f64; 3]| r.clone() * w[0] + g.clone() * w[1] + b.clone() * w[2];
    let x = mix([0.412_456_4, 0.357_576_1, 0.180_437_5]) / 0.950_47;
    let y = mix([0.212_672_9, 0.715_152_2, 0.072_175_0]);
    let z = mix([0.019_333_9, 0.119_192_0, 0.950_304_1]) / 1.088_83;
    let (fx, fy, fz) = (lab_f(x), lab_f(y), lab_f(z));
    let l = fy.clone() * 116.0 - 16.0;
    let a = (fx - fy.clone()) * 500.0;
    let b = (fy - fz) * 200.0;
    Tensor::cat(vec![l / 50.0 - 1.0, a / 100.0, b / 100.0], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Lab (unscaled) of one RGB colour in 0..=1, going through the inputs' normalisation
    /// (ImageNet's per-channel statistics, so undoing it channel by channel is tested).
    fn lab_of(rgb: [f32; 3]) -> [f32; 3] {
        let n = Normalize::IMAGENET;
        let x: Vec<f32> = (0..3).map(|c| (rgb[c] - n.mean[c]) / n.std[c]).collect();
        let t = Tensor::<4>::from_data(TensorData::new(x, [1, 3, 1, 1]), &Device::flex());
        let v: Vec<f32> = rgb_to_lab(t, &n).into_data().iter::<f32>().collect();
        [(v[0] + 1.0) * 50.0, v[1] * 100.0, v[2] * 100.0]
    }

    #[test]
    fn matches_published_lab_values() {
        // Reference values (D65, sRGB) as given by colormine.org / Bruce Lindbloom's
        // calculator.
        let cases = [
            ([1.0, 1.0, 1.0], [100.0, 0.0, 0.0]),
            ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
            ([1.0, 0.0, 0.0], [53.241, 80.092, 67.203]),
            ([0.0, 1.0, 0.0], [87.735, -86.183, 83.179]),
            ([0.0, 0.0, 1.0], [32.297, 79.188, -107.860]),
            ([0.5, 0.5, 0.5], [53.389, 0.0, 0.0]),
        ];
        for (rgb, expected) in cases {
            let got = lab_of(rgb);
            for c in 0..3 {
                assert!(
                    (got[c] - expected[c]).abs() < 0.05,
                    "rgb {rgb:?}: Lab {got:?}, expected {expected:?}"
                );
            }
        }
    }

    #[test]
    fn agrees_with_the_previews_pixel_conversion() {
        for rgb in [
            [0.1, 0.6, 0.3],
            [0.95, 0.4, 0.7],
            [0.5, 0.5, 0.5],
            [0.0, 0.0, 1.0],
        ] {
            let tensor = lab_of(rgb);
            let pixel = crate::views::lab_split::rgb_to_lab(rgb);
            for c in 0..3 {
                assert!(
                    (tensor[c] - pixel[c]).abs() < 0.05,
                    "{tensor:?} vs {pixel:?}"
                );
            }
        }
    }
}
