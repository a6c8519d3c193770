//! MoCo v3's contrastive loss (Chen, Xie & He 2021, "An Empirical Study of Training
//! Self-Supervised Vision Transformers", Algorithm 1): each query picks its own key out of
//! the keys of the same batch, the other images' keys its negatives; no queue.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::l2_normalize;

/// `[N, N]` logits `q k^T / t` of L2-normalised queries and keys `[N, d]`.
fn logits(q: Tensor<2>, k: Tensor<2>, temperature: f64) -> Tensor<2> {
    assert!(
        temperature > 0.0,
        "Illegal temperature {temperature}: must be > 0"
    );
    l2_normalize(q).matmul(l2_normalize(k).transpose()) / temperature
}

/// `[N, 1]`: row `i`'s own column, `i`.
fn own_columns(n: usize, device: &burn::tensor::Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new((0..n as i64).collect(), [n, 1]), device)
}

/// ctr(q, k): the cross-entropy of the logits `q k^T / t` with row `i`'s positive in column
/// `i`, mean over rows, times `2t` as the reference code scales it
/// (`CrossEntropyLoss()(logits, labels) * (2 * self.T)`). `q`, `k`: `[N, d]`, normalised
/// here. Returns `[1]`.
pub fn batch_contrast(q: Tensor<2>, k: Tensor<2>, temperature: f64) -> Tensor<1> {
    info_nce_in_batch(q, k, temperature) * (2.0 * temperature)
}

/// The cross-entropy of the logits `q k^T / t` with row `i`'s positive in column `i`, mean
/// over rows, unscaled: InfoNCE with the batch's other `k` as the negatives. `q`, `k`:
/// `[N, d]`, normalised here. Returns `[1]`.
pub fn info_nce_in_batch(q: Tensor<2>, k: Tensor<2>, temperature: f64) -> Tensor<1> {
    let own = own_columns(q.dims()[0], &q.device());
    let log_prob = log_softmax(logits(q, k, temperature), 1);
    -log_prob.gather(1, own).mean()
}

/// MoCo v3's symmetric loss ctr(q1, k2) + ctr(q2, k1): the queries of each view against
/// the keys of the other (the keys detached by the caller).
pub fn moco_v3(
    (q1, q2): (Tensor<2>, Tensor<2>),
    (k1, k2): (Tensor<2>, Tensor<2>),
    temperature: f64,
) -> Tensor<1> {
    batch_contrast(q1, k2, temperature) + batch_contrast(q2, k1, temperature)
}

/// The mean positive logit minus the mean negative logit of ctr(q, k) (`N >= 2`): how far
/// each query's own key stands out from the batch's other keys, in logits. Returns `[1]`.
pub fn logit_gap(q: Tensor<2>, k: Tensor<2>, temperature: f64) -> Tensor<1> {
    let n = q.dims()[0];
    assert!(n >= 2, "a logit gap needs two images at least, got {n}");
    let own = own_columns(n, &q.device());
    let logits = logits(q, k, temperature);
    let positive = logits.clone().gather(1, own).sum();
    let negative = logits.sum() - positive.clone();
    positive / n as f64 - negative / (n * (n - 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, value};
    use burn::tensor::Device;

    const N: usize = 3;
    const D: usize = 2;

    /// q1, q2, k1, k2, each `[N, D]`, one after the other.
    const INPUTS: [f64; 4 * N * D] = [
        0.3, -1.2, 2.0, 0.5, -0.7, 0.1, // q1
        0.2, -1.0, 1.5, 0.9, -1.1, -0.3, // q2
        0.4, -0.9, 1.7, 0.2, -0.5, 0.6, // k1
        0.1, -1.3, 1.2, 1.1, -0.8, -0.4, // k2
    ];

    /// Row `i` of input `which` (0 q1, 1 q2, 2 k1, 3 k2), unit length.
    fn unit(x: &[f64], which: usize, i: usize) -> [f64; D] {
        let r = &x[(which * N + i) * D..(which * N + i + 1) * D];
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        [r[0] / norm, r[1] / norm]
    }

    /// ctr(q, k) by the definition, in f64 loops.
    fn ctr(x: &[f64], q: usize, k: usize, t: f64) -> f64 {
        let logit = |i, j| {
            let (a, b) = (unit(x, q, i), unit(x, k, j));
            (a[0] * b[0] + a[1] * b[1]) / t
        };
        let mut total = 0.0;
        for i in 0..N {
            let denominator: f64 = (0..N).map(|j| logit(i, j).exp()).sum();
            total += denominator.ln() - logit(i, i);
        }
        total / N as f64 * 2.0 * t
    }

    fn reference(x: &[f64], t: f64) -> f64 {
        ctr(x, 0, 3, t) + ctr(x, 1, 2, t)
    }

    fn tensors(x: &[f64], device: &Device) -> [Tensor<2>; 4] {
        std::array::from_fn(|which| {
            let rows: Vec<f32> = x[which * N * D..(which + 1) * N * D]
                .iter()
                .map(|&v| v as f32)
                .collect();
            Tensor::from_data(TensorData::new(rows, [N, D]), device)
        })
    }

    fn symmetric(t: &[Tensor<2>; 4], temperature: f64) -> Tensor<1> {
        let [q1, q2, k1, k2] = t.clone();
        moco_v3((q1, q2), (k1, k2), temperature)
    }

    #[test]
    fn matches_an_independent_f64_implementation() {
        let device = Device::flex();
        for t in [0.2, 1.0] {
            let loss = value(symmetric(&tensors(&INPUTS, &device), t));
            close(loss, reference(&INPUTS, t), 1e-5);
        }
        // Each query's own key identical and the others orthogonal, t = 1: 2 x 2 ctr of
        // (ln(e + 1) - 1), with N = 2 rows.
        let e = [[1.0f32, 0.0], [0.0, 1.0]];
        let m = || crate::losses::test_util::matrix(&e, &device);
        let expected = 2.0 * 2.0 * ((std::f64::consts::E + 1.0).ln() - 1.0);
        close(value(moco_v3((m(), m()), (m(), m()), 1.0)), expected, 1e-5);
    }

    #[test]
    fn its_gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let t = 0.2;
        let inputs = tensors(&INPUTS, &device).map(Tensor::require_grad);
        let grads = symmetric(&inputs, t).backward();
        let h = 1e-6;
        for (which, input) in inputs.iter().enumerate() {
            let g: Vec<f32> = input
                .grad(&grads)
                .expect("every input gets a gradient")
                .into_data()
                .iter::<f32>()
                .collect();
            for (e, &autodiff) in g.iter().enumerate() {
                let at = |delta: f64| {
                    let mut x = INPUTS;
                    x[which * N * D + e] += delta;
                    reference(&x, t)
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (f64::from(autodiff) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                    "input {which}, element {e}: autodiff {autodiff} vs numeric {numeric}"
                );
            }
        }
    }

    #[test]
    fn the_logit_gap_is_the_mean_positive_minus_the_mean_negative_logit() {
        let device = Device::flex();
        let x = tensors(&INPUTS, &device);
        let logit = |i, j| {
            let (a, b) = (unit(&INPUTS, 0, i), unit(&INPUTS, 3, j));
            (a[0] * b[0] + a[1] * b[1]) / 0.5
        };
        let positive = (0..N).map(|i| logit(i, i)).sum::<f64>() / N as f64;
        let negative = (0..N)
            .flat_map(|i| (0..N).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| logit(i, j))
            .sum::<f64>()
            / (N * (N - 1)) as f64;
        let gap = value(logit_gap(x[0].clone(), x[3].clone(), 0.5));
        close(gap, positive - negative, 1e-5);
    }

    #[test]
    #[should_panic(expected = "Illegal temperature")]
    fn rejects_a_zero_temperature() {
        let device = Device::flex();
        let x = tensors(&INPUTS, &device);
        let _ = batch_contrast(x[0].clone(), x[3].clone(), 0.0);
    }
}
