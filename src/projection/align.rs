//! Aligning one 2-D layout onto another of the same points, so that a picture stepped from
//! one evaluation to the next moves its points rather than turning or mirroring the whole
//! cloud (PCA's axes flip sign, t-SNE and UMAP have no preferred orientation).
//!
//! Orthogonal Procrustes with scaling (Schönemann 1966): the rotation or reflection,
//! uniform scale and shift that bring `layout` nearest `reference` in squared distance.
//! Written by hand because it is a 2x2 SVD (nalgebra's), not worth a crate.

use nalgebra::Matrix2;

/// `layout` rotated or mirrored, scaled and shifted onto `reference` (the same points in
/// the same order). Returns `layout` unchanged when the lengths differ or either is
/// degenerate (all points in one place).
pub fn procrustes(layout: &[[f32; 2]], reference: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let n = layout.len();
    if n == 0 || n != reference.len() {
        return layout.to_vec();
    }
    let mean = |p: &[[f32; 2]]| {
        let (x, y) = p.iter().fold((0.0f64, 0.0f64), |(x, y), q| {
            (x + f64::from(q[0]), y + f64::from(q[1]))
        });
        [x / n as f64, y / n as f64]
    };
    let (ma, mb) = (mean(layout), mean(reference));
    // Cross-covariance of the centred layouts, and the layout's spread.
    let mut cross = Matrix2::<f64>::zeros();
    let mut spread = 0.0;
    for (a, b) in layout.iter().zip(reference) {
        let a = [f64::from(a[0]) - ma[0], f64::from(a[1]) - ma[1]];
        let b = [f64::from(b[0]) - mb[0], f64::from(b[1]) - mb[1]];
        for i in 0..2 {
            for j in 0..2 {
                cross[(i, j)] += a[i] * b[j];
            }
        }
        spread += a[0] * a[0] + a[1] * a[1];
    }
    if spread.is_nan() || spread <= 1e-12 || !cross.iter().all(|v| v.is_finite()) {
        return layout.to_vec();
    }
    let svd = cross.svd(true, true);
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
        return layout.to_vec();
    };
    // a (row) maps to a * R with R = U V^T; the scale is trace(S) / |a|^2.
    let rotation = u * v_t;
    let scale = svd.singular_values.sum() / spread;
    layout
        .iter()
        .map(|a| {
            let a = [f64::from(a[0]) - ma[0], f64::from(a[1]) - ma[1]];
            let x = a[0] * rotation[(0, 0)] + a[1] * rotation[(1, 0)];
            let y = a[0] * rotation[(0, 1)] + a[1] * rotation[(1, 1)];
            [(scale * x + mb[0]) as f32, (scale * y + mb[1]) as f32]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud() -> Vec<[f32; 2]> {
        (0..12)
            .map(|i| {
                let t = i as f32 * 0.7;
                [
                    t.cos() * (1.0 + 0.1 * i as f32),
                    t.sin() * 0.5 + 0.03 * i as f32,
                ]
            })
            .collect()
    }

    fn max_error(a: &[[f32; 2]], b: &[[f32; 2]]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs()))
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_turned_mirrored_scaled_shifted_copy_comes_back_onto_the_original() {
        let reference = cloud();
        let (s, c) = 1.1f32.sin_cos();
        // Mirror x, turn by 1.1 rad, scale by 3, shift: what a new PCA or t-SNE can do.
        let moved: Vec<[f32; 2]> = reference
            .iter()
            .map(|p| {
                let (x, y) = (-p[0], p[1]);
                [3.0 * (c * x - s * y) + 5.0, 3.0 * (s * x + c * y) - 2.0]
            })
            .collect();
        assert!(max_error(&moved, &reference) > 1.0);
        let back = procrustes(&moved, &reference);
        assert!(max_error(&back, &reference) < 1e-4, "{back:?}");
    }

    #[test]
    fn a_layout_that_really_changed_keeps_its_own_shape() {
        // Two points swap places: no rigid motion undoes that, and none is invented.
        let reference = cloud();
        let mut changed = reference.clone();
        changed.swap(0, 5);
        let aligned = procrustes(&changed, &reference);
        let d = |p: &[[f32; 2]], i: usize, j: usize| {
            ((p[i][0] - p[j][0]).powi(2) + (p[i][1] - p[j][1]).powi(2)).sqrt()
        };
        // Distances between points keep their ratios (a similarity transform).
        let ratio = d(&aligned, 0, 5) / d(&changed, 0, 5);
        assert!((d(&aligned, 1, 7) / d(&changed, 1, 7) - ratio).abs() < 1e-4);
        assert!(max_error(&aligned, &reference) > 0.1);
    }

    #[test]
    fn mismatched_or_degenerate_layouts_are_left_as_they_are() {
        let reference = cloud();
        assert_eq!(
            procrustes(&reference[..3], &reference),
            reference[..3].to_vec()
        );
        let one_place = vec![[2.0, 2.0]; 12];
        assert_eq!(procrustes(&one_place, &reference), one_place);
    }
}
