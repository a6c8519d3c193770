//! Mutual-information estimators of Deep InfoMax (Hjelm et al. 2019, sec. 3.1) on a score
//! tensor `T[i, j, p]`: the critic's score of global vector `i` against local feature `p` of
//! row `j`. Pairs with `i == j` are drawn from the joint (positives); pairs of rows from
//! different images from the product of marginals (negatives). Rows `i` and `j` show the
//! same image when `i % images == j % images` (a batch of two views stacks them as rows
//! `k` and `k + N`): such pairs other than `i == j` are neither, and are left out; counting
//! them as negatives would push an image's two views apart. Each function returns the
//! estimate (to be maximised).

use burn::tensor::activation::softplus;
use burn::tensor::{Tensor, TensorData};

/// Which lower bound or divergence estimates the mutual information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MiEstimator {
    /// Jensen-Shannon: E_P[-sp(-T)] - E_N[sp(T)] (not in nats; DIM's default, most stable).
    Jsd,
    /// Donsker-Varadhan (as MINE): E_P[T] - log E_N[e^T], in nats.
    DonskerVaradhan,
    /// InfoNCE as DIM's reference code computes it: each positive (i, i, p) against every
    /// position of every other image's map; log K - loss, in nats, with K the candidates.
    InfoNce,
}

/// `[b, b, 1]` masks: positives (`i == j`) and negatives (rows of different images).
fn pair_masks(b: usize, images: usize, device: &burn::tensor::Device) -> (Tensor<3>, Tensor<3>) {
    let mut pos = vec![0.0f32; b * b];
    let mut neg = vec![0.0f32; b * b];
    for i in 0..b {
        for j in 0..b {
            if i == j {
                pos[i * b + j] = 1.0;
            } else if i % images != j % images {
                neg[i * b + j] = 1.0;
            }
        }
    }
    let mask = |v| Tensor::<3>::from_data(TensorData::new(v, [b, b, 1]), device);
    (mask(pos), mask(neg))
}

/// The estimate for scores `t` of shape `[b, b, p]` whose rows show `images` distinct
/// images (`b` for one view per image, `b / 2` for two stacked views), a `[1]` tensor.
pub fn mi_estimate(t: Tensor<3>, estimator: MiEstimator, images: usize) -> Tensor<1> {
    let [b, _, p] = t.dims();
    assert!(
        images >= 2 && b % images == 0,
        "mi_estimate: {b} rows do not stack views of {images} images"
    );
    let device = t.device();
    let (pos, neg) = pair_masks(b, images, &device);
    let views = b / images;
    let negatives_per_row = b - views;
    let (n_pos, n_neg) = ((b * p) as f64, (b * negatives_per_row * p) as f64);
    match estimator {
        MiEstimator::Jsd => {
            let e_pos = (softplus(-t.clone(), 1.0) * pos).sum() / n_pos;
            let e_neg = (softplus(t, 1.0) * neg).sum() / n_neg;
            -e_pos - e_neg
        }
        MiEstimator::DonskerVaradhan => {
            let e_pos = (t.clone() * pos).sum() / n_pos;
            // log-mean-exp over the negatives, shifted by the largest score for stability.
            let max = t.clone().max().detach();
            let shifted = (t - max.clone().reshape([1, 1, 1])).exp() * neg;
            let log_mean = (shifted.sum() / n_neg).log() + max;
            e_pos - log_mean
        }
        MiEstimator::InfoNce => {
            // Per row i: log-sum-exp over its negatives (j of another image, every q),
            // masked with a large negative elsewhere, stable by the row's maximum.
            let masked = t.clone() + (-neg.clone() + 1.0) * -1e9;
            let row_max = masked.clone().max_dim(2).max_dim(1).detach(); // [b, 1, 1]
            let lse_neg = (masked - row_max.clone()).exp().sum_dim(2).sum_dim(1).log() + row_max; // [b, 1, 1]
            // Each positive (i, i, p) against all of them: log(e^pos + e^lse_neg).
            let positive = (t * pos).sum_dim(1); // [b, 1, p]
            let lse_neg = lse_neg.repeat_dim(2, p);
            let top = positive.clone().max_pair(lse_neg.clone()).detach();
            let lse = ((positive.clone() - top.clone()).exp() + (lse_neg - top.clone()).exp())
                .log()
                + top;
            let loss = (lse - positive).mean();
            -loss + ((1 + negatives_per_row * p) as f64).ln()
        }
    }
}

/// DIM's prior matching (Hjelm et al. 2019, sec. 3.3) is an adversarial game on the logits
/// of a discriminator D. D's loss: `prior` `[n, 1]` scores samples of the prior, `encoded`
/// `[m, 1]` the encoder's squashed outputs; D minimises -E_prior[log s(D)] -
/// E_enc[log(1 - s(D))].
pub fn prior_discriminator_loss(prior: Tensor<2>, encoded: Tensor<2>) -> Tensor<1> {
    // -log s(x) = sp(-x), -log(1 - s(x)) = sp(x).
    softplus(-prior, 1.0).mean() + softplus(encoded, 1.0).mean()
}

/// The encoder's side of prior matching: -E_enc[log s(D)], the non-saturating form of
/// maximising D's error (its gradient does not vanish while D wins).
pub fn prior_encoder_loss(encoded: Tensor<2>) -> Tensor<1> {
    softplus(-encoded, 1.0).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, value};
    use burn::tensor::Device;

    /// b = 2, p = 1 scores: T[0,0] = 2, T[0,1] = -1, T[1,0] = 0.5, T[1,1] = 1.
    fn scores() -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(vec![2.0f32, -1.0, 0.5, 1.0], [2, 2, 1]),
            &Device::flex(),
        )
    }

    fn sp(x: f64) -> f64 {
        (1.0 + x.exp()).ln()
    }

    #[test]
    fn jsd_matches_by_hand() {
        let expected = -(sp(-2.0) + sp(-1.0)) / 2.0 - (sp(-1.0) + sp(0.5)) / 2.0;
        close(
            value(mi_estimate(scores(), MiEstimator::Jsd, 2)),
            expected,
            1e-5,
        );
    }

    #[test]
    fn donsker_varadhan_matches_by_hand() {
        let expected = (2.0 + 1.0) / 2.0 - (((-1f64).exp() + 0.5f64.exp()) / 2.0).ln();
        close(
            value(mi_estimate(scores(), MiEstimator::DonskerVaradhan, 2)),
            expected,
            1e-5,
        );
    }

    #[test]
    fn prior_matching_losses_match_the_logistic_losses_by_hand() {
        let d = Device::flex();
        let prior = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -0.5], [2, 1]), &d);
        let enc = Tensor::<2>::from_data(TensorData::new(vec![0.25f32], [1, 1]), &d);
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let expected_disc = -(s(1.0).ln() + s(-0.5).ln()) / 2.0 - (1.0 - s(0.25)).ln();
        close(
            value(prior_discriminator_loss(prior, enc.clone())),
            expected_disc,
            1e-5,
        );
        close(value(prior_encoder_loss(enc)), -s(0.25).ln(), 1e-5);
    }

    /// Two views of 2 images as rows 0, 1 (view 1) and 2, 3 (view 2), one position, with
    /// identical views: every same-image pair scores `same`, every other pair `other`.
    fn identical_views(same: f32, other: f32) -> Tensor<3> {
        let v: Vec<f32> = (0..16)
            .map(|k| {
                if (k / 4) % 2 == (k % 4) % 2 {
                    same
                } else {
                    other
                }
            })
            .collect();
        Tensor::from_data(TensorData::new(v, [4, 4, 1]), &Device::flex())
    }

    #[test]
    fn the_other_view_of_the_same_image_is_never_a_negative() {
        // Perfect scores: same image high, other images low. If (i, i + N) counted as a
        // negative, its high score would drag every estimate far down.
        let t = identical_views(8.0, -8.0);
        let jsd = value(mi_estimate(t.clone(), MiEstimator::Jsd, 2));
        close(jsd, -2.0 * sp(-8.0), 1e-5);
        let dv = value(mi_estimate(t.clone(), MiEstimator::DonskerVaradhan, 2));
        close(dv, 8.0 + 8.0, 1e-4);
        // InfoNCE: each positive against the 2 rows of the other image (1 position each).
        let nce = value(mi_estimate(t, MiEstimator::InfoNce, 2));
        let loss = -(8f64.exp() / (8f64.exp() + 2.0 * (-8f64).exp())).ln();
        close(nce, 3f64.ln() - loss, 1e-5);
    }

    #[test]
    fn info_nce_scores_against_every_position_of_the_other_images() {
        // b = 2 images, 2 positions: T[i, j, q]. Row 0's negatives are T[0, 1, 0..2].
        let t = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0, 1.5, -0.5], [2, 2, 2]),
            &Device::flex(),
        );
        let row = |pos: [f64; 2], neg: [f64; 2]| {
            let z = neg[0].exp() + neg[1].exp();
            pos.iter()
                .map(|p| -(p.exp() / (p.exp() + z)).ln())
                .sum::<f64>()
        };
        let loss = (row([1.0, 2.0], [0.5, -1.0]) + row([1.5, -0.5], [0.0, 3.0])) / 4.0;
        close(
            value(mi_estimate(t, MiEstimator::InfoNce, 2)),
            3f64.ln() - loss,
            1e-5,
        );
    }

    #[test]
    fn info_nce_matches_by_hand() {
        // Row i = 0: softmax over j of (2, -1), target 0; row 1: (0.5, 1), target 1.
        let l0 = -(2f64.exp() / (2f64.exp() + (-1f64).exp())).ln();
        let l1 = -(1f64.exp() / (0.5f64.exp() + 1f64.exp())).ln();
        let expected = 2f64.ln() - (l0 + l1) / 2.0;
        close(
            value(mi_estimate(scores(), MiEstimator::InfoNce, 2)),
            expected,
            1e-5,
        );
    }
}
