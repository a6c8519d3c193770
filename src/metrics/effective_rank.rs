//! Effective rank (Roy & Vetterli 2007) of a batch of L2-normalised embeddings: exp of the
//! entropy of the normalised singular values. It counts the directions the batch really
//! uses: d for an isotropic spread, 1 when every embedding is the same vector. Dimensional
//! collapse (Jing et al. 2022) shows as a falling curve while the std can still look fine.

use nalgebra::{DMatrix, SymmetricEigen};

use super::matrix::l2_normalized_rows;

/// Effective rank of row-major `[n, d]` `z` after normalising rows (NaN for no rows).
pub fn effective_rank(z: &[f32], d: usize) -> f32 {
    let n = z.len().checked_div(d).unwrap_or(0);
    if n == 0 || d == 0 {
        return f32::NAN;
    }
    let u = DMatrix::from_row_slice(n, d, &l2_normalized_rows(z, d)).map(f64::from);
    // Singular values of U are the square roots of the eigenvalues of U^T U (d x d).
    let gram = u.transpose() * &u;
    let singular: Vec<f64> = SymmetricEigen::new(gram)
        .eigenvalues
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .collect();
    let total: f64 = singular.iter().sum();
    if total <= 0.0 {
        return f32::NAN;
    }
    let entropy: f64 = singular
        .iter()
        .map(|&s| s / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    entropy.exp() as f32
}

/// The alarm's rule: the batch uses fewer than 1.5 directions.
pub fn rank_collapsed(rank: f32, d: usize) -> bool {
    d >= 2 && rank.is_finite() && rank < 1.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn one_direction_is_rank_one_and_an_even_spread_is_full_rank() {
        // Every row the same direction (any length): rank 1.
        let same: Vec<f32> = (0..50)
            .flat_map(|i| [i as f32 + 1.0, 2.0 * (i as f32 + 1.0)])
            .collect();
        assert!((effective_rank(&same, 2) - 1.0).abs() < 1e-4);
        assert!(rank_collapsed(effective_rank(&same, 2), 2));
        // The 4 axes, equally often: 4 equal singular values, rank exactly 4.
        let axes: Vec<f32> = (0..40)
            .flat_map(|i| {
                let mut r = [0.0f32; 4];
                r[i % 4] = 1.0;
                r
            })
            .collect();
        assert!((effective_rank(&axes, 4) - 4.0).abs() < 1e-4);
        // Random points on the sphere in 8 dims, many of them: close to 8.
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let gauss: Vec<f32> = (0..4000 * 8)
            .map(|_| rng.random_range(-1.0..1.0f32))
            .collect();
        let r = effective_rank(&gauss, 8);
        assert!(r > 7.5 && r <= 8.0, "{r}");
        assert!(!rank_collapsed(r, 8));
        // Spread over only 3 of 8 dimensions: about 3.
        let sub: Vec<f32> = gauss
            .chunks(8)
            .flat_map(|c| [c[0], c[1], c[2], 0.0, 0.0, 0.0, 0.0, 0.0])
            .collect();
        let r = effective_rank(&sub, 8);
        assert!(r > 2.7 && r < 3.05, "{r}");
    }
}
