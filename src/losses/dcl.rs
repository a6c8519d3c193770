//! Decoupled contrastive learning (Yeh et al. 2022, "Decoupled Contrastive Learning", eq. 6
//! and sec. 4): NT-Xent without the positive in the denominator, so the negatives' push no
//! longer shrinks as the positive pair grows close (the negative-positive coupling that
//! makes SimCLR need large batches). DCLW weights the positive term with a von
//! Mises-Fisher weight that gives pairs far apart more pull. As lightly's `DCLLoss` and
//! `DCLWLoss`.

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Int, Tensor, TensorData};

use super::l2_normalize;

/// The von Mises-Fisher weights of DCLW (`negative_mises_fisher_weights` in the reference):
/// `w_i = 2 - N softmax_i(cos(z_i, z_i') / sigma)` over the `N` images, constant (no
/// gradient). `z1`, `z2`: `[N, d]`, unit length. Returns `[N]`.
fn mises_fisher_weights(z1: Tensor<2>, z2: Tensor<2>, sigma: f64) -> Tensor<1> {
    let n = z1.dims()[0];
    let cosines = (z1.detach() * z2.detach()).sum_dim(1).squeeze_dim::<1>(1);
    -softmax(cosines / sigma, 0) * n as f64 + 2.0
}

/// `[2N, 2N]`: true where column `k` is neither row `i` itself nor its positive.
fn negatives(rows: usize, device: &burn::tensor::Device) -> Tensor<2, Bool> {
    let n = rows / 2;
    let not_negative: Vec<bool> = (0..rows * rows)
        .map(|e| {
            let (i, k) = (e / rows, e % rows);
            k == i || k == (i + n) % rows
        })
        .collect();
    Tensor::<2, Bool>::from_data(TensorData::new(not_negative, [rows, rows]), device).bool_not()
}

/// The DCL loss of `z`, `[2N, d]` projections where rows `i` and `i + N` are a positive
/// pair (normalised here): the mean over the 2N anchors of
/// `-w_i cos(z_i, z_i+)/t + log sum_{k not i, i+} exp(cos(z_i, z_k)/t)`, with `w_i = 1`
/// (DCL) or the von Mises-Fisher weight at `sigma` (DCLW, `Some(sigma)`). Returns `[1]`.
///
/// # Panics
/// If the row count is odd or below 4 (an anchor needs a negative), or `temperature` or
/// `sigma` is not positive.
pub fn dcl(z: Tensor<2>, temperature: f64, weighting: Option<f64>) -> Tensor<1> {
    assert!(
        temperature > 0.0,
        "Illegal temperature {temperature}: must be > 0"
    );
    let [rows, _] = z.dims();
    assert!(
        rows % 2 == 0 && rows >= 4,
        "DCL needs 2N rows with N >= 2, got {rows}"
    );
    let (n, device) = (rows / 2, z.device());
    let z = l2_normalize(z);
    let logits = z.clone().matmul(z.clone().transpose()) / temperature;
    let partners: Vec<i64> = (0..rows).map(|i| ((i + n) % rows) as i64).collect();
    let partners = Tensor::<2, Int>::from_data(TensorData::new(partners, [rows, 1]), &device);
    let positive = logits.clone().gather(1, partners).squeeze_dim::<1>(1);
    let positive = match weighting {
        None => positive,
        Some(sigma) => {
            assert!(sigma > 0.0, "Illegal DCLW sigma {sigma}: must be > 0");
            let w = mises_fisher_weights(z.clone().narrow(0, 0, n), z.narrow(0, n, n), sigma);
            positive * Tensor::cat(vec![w.clone(), w], 0)
        }
    };
    // log-sum-exp over the negatives, shifted by the row's largest negative logit.
    let masked = logits.mask_fill(negatives(rows, &device).bool_not(), -1.0e9);
    let shift = masked.clone().max_dim(1).detach();
    let log_denominator = (masked - shift.clone()).exp().sum_dim(1).log() + shift;
    (log_denominator.squeeze_dim::<1>(1) - positive).mean()
}

/// The negative-positive coupling multiplier of SimCLR's gradient that DCL removes (the
/// paper's `q_B`, sec. 3): the mean over the 2N anchors of `1 - softmax share of the
/// positive` among itself and the negatives at `temperature`. Near 0 while positives are
/// easy (NT-Xent's push then fades); DCL's gradient has no such factor. No gradient.
pub fn coupling(z: Tensor<2>, temperature: f64) -> f32 {
    let [rows, _] = z.dims();
    let (n, device) = (rows / 2, z.device());
    let z = l2_normalize(z.detach());
    let logits = z.clone().matmul(z.transpose()) / temperature;
    let own: Vec<bool> = (0..rows * rows).map(|e| e / rows == e % rows).collect();
    let own = Tensor::<2, Bool>::from_data(TensorData::new(own, [rows, rows]), &device);
    let shares = softmax(logits.mask_fill(own, -1.0e9), 1);
    let partners: Vec<i64> = (0..rows).map(|i| ((i + n) % rows) as i64).collect();
    let partners = Tensor::<2, Int>::from_data(TensorData::new(partners, [rows, 1]), &device);
    let positive: f32 = shares.gather(1, partners).mean().into_scalar();
    1.0 - positive
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, value};
    use burn::tensor::Device;

    const ROWS: usize = 6;
    const D: usize = 2;
    /// Three images, two views each: rows i and i + 3 are a pair.
    const Z: [f64; ROWS * D] = [
        0.3, -1.2, 2.0, 0.5, -0.7, 0.1, 0.2, -1.0, 1.5, 0.9, -1.1, -0.3,
    ];

    fn unit(x: &[f64], i: usize) -> [f64; D] {
        let r = &x[i * D..(i + 1) * D];
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        [r[0] / norm, r[1] / norm]
    }

    fn cos(x: &[f64], i: usize, k: usize) -> f64 {
        let (a, b) = (unit(x, i), unit(x, k));
        a[0] * b[0] + a[1] * b[1]
    }

    /// The loss by the definition, in f64 loops, with DCLW's weights taken from the
    /// pairs of `weights_from` (the input itself, or a fixed point for finite differences:
    /// the weights are constants).
    fn reference_with(x: &[f64], t: f64, sigma: Option<f64>, weights_from: &[f64]) -> f64 {
        let n = ROWS / 2;
        let weight = |i: usize| match sigma {
            None => 1.0,
            Some(s) => {
                let e: Vec<f64> = (0..n)
                    .map(|j| (cos(weights_from, j, j + n) / s).exp())
                    .collect();
                2.0 - n as f64 * e[i % n] / e.iter().sum::<f64>()
            }
        };
        let mut total = 0.0;
        for i in 0..ROWS {
            let partner = (i + n) % ROWS;
            let negatives: f64 = (0..ROWS)
                .filter(|&k| k != i && k != partner)
                .map(|k| (cos(x, i, k) / t).exp())
                .sum();
            total += negatives.ln() - weight(i) * cos(x, i, partner) / t;
        }
        total / ROWS as f64
    }

    fn reference(x: &[f64], t: f64, sigma: Option<f64>) -> f64 {
        reference_with(x, t, sigma, x)
    }

    fn input(x: &[f64], device: &Device) -> Tensor<2> {
        let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(v, [ROWS, D]), device)
    }

    #[test]
    fn matches_the_hand_computed_value() {
        // Two images, orthogonal unit embeddings, both views identical, t = 1: each anchor's
        // positive has cosine 1, its negatives are the other image's two views (cosine 0),
        // so the loss is ln 2 - 1; NT-Xent would be ln(e + 2) - 1.
        let device = Device::flex();
        let z = crate::losses::test_util::matrix(
            &[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
            &device,
        );
        close(value(dcl(z, 1.0, None)), 2f64.ln() - 1.0, 1e-5);
    }

    #[test]
    fn matches_an_independent_f64_implementation() {
        let device = Device::flex();
        for (t, sigma) in [(0.1, None), (0.5, None), (0.1, Some(0.5)), (1.0, Some(0.2))] {
            let loss = value(dcl(input(&Z, &device), t, sigma));
            close(
                loss,
                reference(&Z, t, sigma),
                1e-4 * (1.0 + reference(&Z, t, sigma).abs()),
            );
        }
    }

    /// DCLW's weights are constants: the gradient is the reference's with the weights held
    /// at their value, so finite differences hold them fixed too.
    #[test]
    fn its_gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        for sigma in [None, Some(0.5)] {
            let t = 0.5;
            let z = input(&Z, &device).require_grad();
            let grads = dcl(z.clone(), t, sigma).backward();
            let g: Vec<f32> = z.grad(&grads).unwrap().into_data().iter::<f32>().collect();
            let h = 1e-6;
            for (e, &autodiff) in g.iter().enumerate() {
                let at = |delta: f64| {
                    let mut x = Z;
                    x[e] += delta;
                    reference_with(&x, t, sigma, &Z)
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (f64::from(autodiff) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                    "sigma {sigma:?}, element {e}: autodiff {autodiff} vs numeric {numeric}"
                );
            }
        }
    }

    #[test]
    fn the_positive_is_not_in_the_denominator() {
        // The positive's own exponential is in no denominator: only the negatives are.
        let device = Device::flex();
        let far = [[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, 1.0]];
        let near = [[1.0f32, 0.0], [0.0, 1.0], [0.8, 0.6], [0.0, 1.0]];
        let loss = |rows: &[[f32; 2]; 4]| {
            value(dcl(
                crate::losses::test_util::matrix(rows, &device),
                1.0,
                None,
            ))
        };
        // By hand (rows 0, 2 are image 0's views, 1, 3 image 1's): anchor 0's negatives
        // have cosines 0, 0 and its positive 0.6; anchor 2's 0.8, 0.8 and 0.6; anchors 1
        // and 3 each 0, 0.8 and 1.
        let ln = f64::ln;
        let expected_far =
            (ln(2.0) - 0.6 + (ln(2.0) + 0.8) - 0.6 + 2.0 * (ln(1.0 + 0.8f64.exp()) - 1.0)) / 4.0;
        close(loss(&far), expected_far, 1e-5);
        assert!(loss(&near) < loss(&far));
    }

    #[test]
    #[should_panic(expected = "Illegal temperature")]
    fn rejects_a_zero_temperature() {
        let _ = dcl(input(&Z, &Device::flex()), 0.0, None);
    }

    #[test]
    fn coupling_is_one_minus_the_positives_softmax_share() {
        // The hand case above at t = 1: every anchor's positive (cosine 1) against two
        // negatives (cosine 0) has share e / (e + 2).
        let device = Device::flex();
        let z = crate::losses::test_util::matrix(
            &[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
            &device,
        );
        let e = std::f64::consts::E;
        close(coupling(z, 1.0), 1.0 - e / (e + 2.0), 1e-5);
    }
}
