//! Nearest neighbours of one embedding among a set, by cosine similarity (the geometry
//! the losses and the kNN evaluation use).

use crate::metrics::matrix::row;

/// The `k` rows of row-major `[n, d]` `x` most cosine-similar to row `i` (itself
/// excluded), most similar first, with their similarities.
pub fn nearest_cosine(x: &[f32], d: usize, i: usize, k: usize) -> Vec<(usize, f32)> {
    let n = x.len().checked_div(d).unwrap_or(0);
    if i >= n {
        return Vec::new();
    }
    let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
    let q = row(x, d, i);
    let qn = norm(q);
    let mut sims: Vec<(usize, f32)> = (0..n)
        .filter(|&j| j != i)
        .map(|j| {
            let r = row(x, d, j);
            let dot: f32 = q.iter().zip(r).map(|(a, b)| a * b).sum();
            (j, dot / (qn * norm(r)))
        })
        .collect();
    let k = k.min(sims.len());
    if k == 0 {
        return Vec::new();
    }
    sims.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
    sims.truncate(k);
    sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    sims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_by_cosine_by_hand() {
        // Row 0 = (1, 0). Row 1 at 45 degrees (cos 0.7071), row 2 a scaled copy of row 0
        // (cos 1: scale does not matter), row 3 opposite (cos -1), row 4 at 90 degrees.
        let x = [1.0, 0.0, 1.0, 1.0, 5.0, 0.0, -2.0, 0.0, 0.0, 3.0];
        let got = nearest_cosine(&x, 2, 0, 3);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![2, 1, 4]);
        assert!((got[0].1 - 1.0).abs() < 1e-6);
        assert!((got[1].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(got[2].1.abs() < 1e-6);
        // More than there are: all the others; out of range: none.
        assert_eq!(nearest_cosine(&x, 2, 0, 10).len(), 4);
        assert!(nearest_cosine(&x, 2, 9, 3).is_empty());
    }
}
