//! Alignment and uniformity (Wang & Isola 2020, "Understanding Contrastive Representation
//! Learning through Alignment and Uniformity on the Hypersphere"), with the paper's
//! alpha = 2 and t = 2, on L2-normalised embeddings.

use super::matrix::{l2_normalized_rows, row, squared_distance};

/// `z` is `[2n, d]`, rows `i` and `i + n` a positive pair.
/// align = mean over pairs of ||f(x) - f(y)||^2 (lower is better; 0 = views coincide).
pub fn alignment(z: &[f32], d: usize) -> f32 {
    let u = l2_normalized_rows(z, d);
    let rows = u.len() / d;
    let n = rows / 2;
    if n == 0 {
        return f32::NAN;
    }
    (0..n)
        .map(|i| squared_distance(row(&u, d, i), row(&u, d, i + n)))
        .sum::<f32>()
        / n as f32
}

/// Uniformity of `z` `[2n, d]` (rows `i` and `i + n` the two views of image `i`) as Wang
/// & Isola compute it: the mean of each view's own uniformity, so the n positive pairs
/// (close by design) never enter the uniformity mean. An odd number of rows is taken as
/// one set of points.
pub fn uniformity(z: &[f32], d: usize) -> f32 {
    let rows = z.len() / d.max(1);
    if rows < 4 || rows % 2 == 1 {
        return uniformity_of(z, d);
    }
    let (view1, view2) = z.split_at(rows / 2 * d);
    0.5 * (uniformity_of(view1, d) + uniformity_of(view2, d))
}

/// uniform = log mean over distinct pairs i < j of exp(-t ||f(x_i) - f(x_j)||^2), t = 2,
/// over all rows of `z`. Lower is more uniform; its minimum on the sphere approaches -4 as
/// points spread out. Computed with log-sum-exp for stability.
pub fn uniformity_of(z: &[f32], d: usize) -> f32 {
    const T: f64 = 2.0;
    let u = l2_normalized_rows(z, d);
    let rows = u.len() / d;
    if rows < 2 {
        return f32::NAN;
    }
    let mut exps = Vec::with_capacity(rows * (rows - 1) / 2);
    for i in 0..rows {
        for j in i + 1..rows {
            exps.push(-T * f64::from(squared_distance(row(&u, d, i), row(&u, d, j))));
        }
    }
    let max = exps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = exps.iter().map(|e| (e - max).exp()).sum();
    (max + (sum / exps.len() as f64).ln()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_views_align_perfectly_and_antipodal_views_score_four() {
        let z = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        assert_eq!(alignment(&z, 2), 0.0);
        let z = [1.0, 0.0, -2.0, 0.0];
        assert!((alignment(&z, 2) - 4.0).abs() < 1e-6);
    }

    #[test]
    fn uniformity_matches_the_direct_formula() {
        // Three points on the unit circle at 0, 90 and 180 degrees (not normalised on input).
        let z = [2.0, 0.0, 0.0, 3.0, -1.0, 0.0];
        // Squared distances: 2, 4, 2.
        let expected = (((-4.0f64).exp() + (-8.0f64).exp() + (-4.0f64).exp()) / 3.0).ln();
        assert!((f64::from(uniformity(&z, 2)) - expected).abs() < 1e-6);
        // All points equal: exp(0) everywhere, log 1 = 0 (the collapsed extreme).
        assert!(uniformity(&[1.0, 1.0, 1.0, 1.0, 2.0, 2.0], 2).abs() < 1e-6);
    }

    #[test]
    fn positive_pairs_do_not_enter_the_uniformity() {
        // Two views, each the same two antipodal points: each view alone has one pair at
        // squared distance 4, so uniformity is -8 (t = 2). Pooling all four rows would mix
        // in the views' coinciding pairs (distance 0) and give log((2 + 4 e^-8) / 6).
        let z = [1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0, 0.0];
        assert!(
            (f64::from(uniformity(&z, 2)) + 8.0).abs() < 1e-5,
            "{}",
            uniformity(&z, 2)
        );
    }
}
