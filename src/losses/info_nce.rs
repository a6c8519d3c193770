//! InfoNCE (van den Oord et al. 2018, eq. 4) and binary NCE (Gutmann & Hyvarinen 2010), on
//! logits that the caller has already computed: one positive and `k` negatives per anchor.
//!
//! InfoNCE is a `(k+1)`-way softmax classification of the positive; log(k+1) - loss is a
//! lower bound on the mutual information in nats. Binary NCE classifies each candidate on
//! its own as data or noise with a logistic loss, the noise being `k` times as likely a
//! priori, so logits are shifted by ln k.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_softmax, softplus};

/// `pos`: `[n, 1]` logits of the positives, `neg`: `[n, k]` logits of the negatives.
/// Returns `[1]`: mean over anchors of -log softmax(pos | pos, neg).
pub fn info_nce(pos: Tensor<2>, neg: Tensor<2>) -> Tensor<1> {
    let logits = Tensor::cat(vec![pos, neg], 1);
    -log_softmax(logits, 1).narrow(1, 0, 1).mean()
}

/// Binary NCE with noise ratio `k` (the number of negative columns): per anchor
/// -log s(pos - ln k) - sum_j log(1 - s(neg_j - ln k)), s the logistic function; mean over
/// anchors. `softplus(x) = -log s(-x)` keeps it stable.
pub fn binary_nce(pos: Tensor<2>, neg: Tensor<2>) -> Tensor<1> {
    let [n, k] = neg.dims();
    let shift = (k.max(1) as f64).ln();
    let data_term = softplus(-(pos - shift), 1.0).sum();
    let noise_term = softplus(neg - shift, 1.0).sum();
    (data_term + noise_term).reshape([1]) / n as f64
}

/// The InfoNCE lower bound on mutual information, in nats, given the loss and `k` negatives.
pub fn info_nce_bound(loss: f32, negatives: usize) -> f32 {
    ((negatives + 1) as f32).ln() - loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use burn::tensor::Device;

    #[test]
    fn info_nce_matches_the_softmax_by_hand() {
        let d = Device::flex();
        // Anchor 0: pos 2, negs 0, 1. Anchor 1: pos 0, negs 0, 0.
        let pos = matrix(&[[2.0], [0.0]], &d);
        let neg = matrix(&[[0.0, 1.0], [0.0, 0.0]], &d);
        let a0 = -(2f64.exp() / (2f64.exp() + 1.0 + 1f64.exp())).ln();
        let a1 = 3f64.ln();
        close(value(info_nce(pos, neg)), (a0 + a1) / 2.0, 1e-5);
    }

    #[test]
    fn binary_nce_matches_the_logistic_loss_by_hand() {
        let d = Device::flex();
        let pos = matrix(&[[1.5]], &d);
        let neg = matrix(&[[0.5, -1.0]], &d);
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let c = 2f64.ln();
        let expected = -s(1.5 - c).ln() - (1.0 - s(0.5 - c)).ln() - (1.0 - s(-1.0 - c)).ln();
        close(value(binary_nce(pos, neg)), expected, 1e-5);
    }

    #[test]
    fn a_perfect_classifier_has_the_bound_at_log_k_plus_one() {
        let d = Device::flex();
        let pos = matrix(&[[60.0]], &d);
        let neg = matrix(&[[0.0, 0.0, 0.0]], &d);
        let loss = value(info_nce(pos, neg));
        close(info_nce_bound(loss, 3), 4f64.ln(), 1e-4);
    }
}
