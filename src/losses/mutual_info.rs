//! Mutual-information estimators of Deep InfoMax (Hjelm et al. 2019, sec. 3.1) on a score
//! tensor `T[i, j, p]`: the critic's score of global vector `i` against local feature `p` of
//! image `j`. Pairs with `i == j` are drawn from the joint (positives), the rest from the
//! product of marginals (negatives). Each function returns the estimate (to be maximised).

use burn::tensor::activation::{log_softmax, softplus};
use burn::tensor::{Int, Tensor, TensorData};

/// Which lower bound or divergence estimates the mutual information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MiEstimator {
    /// Jensen-Shannon: E_P[-sp(-T)] - E_N[sp(T)] (not in nats; DIM's default, most stable).
    Jsd,
    /// Donsker-Varadhan (as MINE): E_P[T] - log E_N[e^T], in nats.
    DonskerVaradhan,
    /// InfoNCE: for each (i, p), a softmax over images j; log B - loss, in nats.
    InfoNce,
}

/// A `[b, b, 1]` mask, 1 where `i == j`.
fn positives(b: usize, device: &burn::tensor::Device) -> Tensor<3> {
    Tensor::<2, Int>::eye(b, device).float().reshape([b, b, 1])
}

/// The estimate for scores `t` of shape `[b, b, p]` (b >= 2), a `[1]` tensor.
pub fn mi_estimate(t: Tensor<3>, estimator: MiEstimator) -> Tensor<1> {
    let [b, _, p] = t.dims();
    let device = t.device();
    let pos = positives(b, &device);
    let neg = -pos.clone() + 1.0;
    let (n_pos, n_neg) = ((b * p) as f64, (b * (b - 1) * p) as f64);
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
            // Rows (i, p), columns j: [b, p, b] -> [b * p, b].
            let logits = t.swap_dims(1, 2).reshape([b * p, b]);
            let targets: Vec<i64> = (0..b * p).map(|r| (r / p) as i64).collect();
            let idx = Tensor::<2, Int>::from_data(TensorData::new(targets, [b * p, 1]), &device);
            let loss = -log_softmax(logits, 1).gather(1, idx).mean();
            -loss + (b as f64).ln()
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
            value(mi_estimate(scores(), MiEstimator::Jsd)),
            expected,
            1e-5,
        );
    }

    #[test]
    fn donsker_varadhan_matches_by_hand() {
        let expected = (2.0 + 1.0) / 2.0 - (((-1f64).exp() + 0.5f64.exp()) / 2.0).ln();
        close(
            value(mi_estimate(scores(), MiEstimator::DonskerVaradhan)),
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

    #[test]
    fn info_nce_matches_by_hand() {
        // Row i = 0: softmax over j of (2, -1), target 0; row 1: (0.5, 1), target 1.
        let l0 = -(2f64.exp() / (2f64.exp() + (-1f64).exp())).ln();
        let l1 = -(1f64.exp() / (0.5f64.exp() + 1f64.exp())).ln();
        let expected = 2f64.ln() - (l0 + l1) / 2.0;
        close(
            value(mi_estimate(scores(), MiEstimator::InfoNce)),
            expected,
            1e-5,
        );
    }
}
