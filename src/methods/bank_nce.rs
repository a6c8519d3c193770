//! Scoring features against a memory bank's sampled noise entries, as InstDisc's and CMC's
//! reference code do (lemniscate.pytorch's and HobbitLong/CMC's `NCEAverage`): every anchor
//! draws its own `m` noise entries, and the binary NCE objective normalises the scores by a
//! constant Z estimated once, from the first batch, over every scored entry.

use burn::tensor::Tensor;
use rand::RngExt;

use crate::losses::binary_nce;
use crate::model::tensor_io::matrix_to_vec;

/// `m` noise entries for each of `n` anchors (row-major `[n, m]`), drawn uniformly from the
/// bank for every anchor separately.
pub fn noise_indices(n: usize, m: usize, bank: usize, rng: &mut crate::seeding::Rng) -> Vec<usize> {
    (0..n * m).map(|_| rng.random_range(0..bank)).collect()
}

/// ln Z for Z = (bank size) x the mean of exp(v.f/t) over every scored entry of the first
/// batch, the positive included.
pub fn estimate_log_z(positive_exp: &[f32], noise_exp: &[f32], bank: f64) -> f64 {
    let all = positive_exp.iter().chain(noise_exp);
    let mean =
        all.map(|&v| f64::from(v)).sum::<f64>() / (positive_exp.len() + noise_exp.len()) as f64;
    (bank * mean).ln()
}

/// Each anchor `f` `[n, d]` against its own noise rows `[n, m, d]`: logits `[n, m]`.
pub fn noise_logits(f: Tensor<2>, noise: Tensor<3>) -> Tensor<2> {
    let [n, m, _] = noise.dims();
    noise.matmul(f.unsqueeze_dim(2)).reshape([n, m])
}

/// Binary NCE on logits s/t (`pos` `[n, 1]`, `neg` `[n, m]`) with the model's probability
/// exp(s/t) / Z and uniform noise 1/`bank`: h = P/(P + m Pn) = sigmoid(s/t - ln Z - ln(m/bank)).
/// `log_z` is estimated from these logits when still unknown, then kept.
pub fn normalised_nce(
    pos: Tensor<2>,
    neg: Tensor<2>,
    log_z: &mut Option<f64>,
    bank: usize,
) -> Tensor<1> {
    let bank = bank as f64;
    let lz = *log_z.get_or_insert_with(|| {
        estimate_log_z(
            &matrix_to_vec(pos.clone().detach().exp()),
            &matrix_to_vec(neg.clone().detach().exp()),
            bank,
        )
    });
    // binary_nce subtracts ln m itself.
    let shift = lz - bank.ln();
    binary_nce(pos - shift, neg - shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use crate::seeding::{Stream, rng_for};
    use burn::tensor::Device;

    #[test]
    fn each_anchor_draws_its_own_noise() {
        let mut rng = rng_for(0, Stream::Method, &[1, 0]);
        let noise = noise_indices(4, 16, 1000, &mut rng);
        assert_eq!(noise.len(), 64);
        let rows: Vec<&[usize]> = noise.chunks(16).collect();
        for i in 0..4 {
            for j in i + 1..4 {
                assert_ne!(rows[i], rows[j], "anchors {i} and {j} share their noise");
            }
        }
        assert!(noise.iter().all(|&k| k < 1000));
    }

    #[test]
    fn z_is_estimated_over_every_scored_entry_positives_included() {
        // Two anchors: positives e^1, noise e^0 twice each; mean over 6 scores.
        let e = std::f32::consts::E;
        let z = estimate_log_z(&[e, e], &[1.0; 4], 100.0);
        let expected = (100.0 * (2.0 * f64::from(e) + 4.0) / 6.0).ln();
        assert!((z - expected).abs() < 1e-9, "{z} vs {expected}");
    }

    #[test]
    fn normalised_nce_matches_the_posterior_by_hand_and_keeps_its_z() {
        let d = Device::flex();
        // One anchor, positive logit 1, two noise logits 0, bank of 10.
        let (pos, neg) = (matrix(&[[1.0]], &d), matrix(&[[0.0, 0.0]], &d));
        let mut log_z = None;
        let loss = value(normalised_nce(pos.clone(), neg.clone(), &mut log_z, 10));
        let z = 10.0 * (1f64.exp() + 2.0) / 3.0;
        let (pn, m) = (0.1, 2.0);
        let h = |s: f64| (s.exp() / z) / (s.exp() / z + m * pn);
        close(loss, -h(1.0).ln() - 2.0 * (1.0 - h(0.0)).ln(), 1e-5);
        // Z stays what the first batch gave, whatever later logits are.
        assert!((log_z.unwrap() - z.ln()).abs() < 1e-6);
        let neg = matrix(&[[3.0, 3.0]], &d);
        normalised_nce(pos, neg, &mut log_z, 10);
        assert!((log_z.unwrap() - z.ln()).abs() < 1e-6);
    }

    #[test]
    fn noise_logits_score_each_anchor_against_its_own_rows() {
        let d = Device::flex();
        let f = matrix(&[[1.0, 0.0], [0.0, 1.0]], &d);
        // Anchor 0's noise: (2,0), (0,3); anchor 1's: (5,0), (0,7).
        let noise = Tensor::<1>::from_floats([2.0, 0.0, 0.0, 3.0, 5.0, 0.0, 0.0, 7.0], &d)
            .reshape([2, 2, 2]);
        let got = matrix_to_vec(noise_logits(f, noise));
        assert_eq!(got, vec![2.0, 0.0, 0.0, 7.0]);
    }
}
