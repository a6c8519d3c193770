//! SwAV's loss (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting
//! Cluster Assignments", eq. 2-3 and sec. 3.1): each global view's prototype scores are
//! turned into soft cluster codes by the Sinkhorn-Knopp algorithm (equal use of every
//! prototype over the batch), and every other crop must predict those codes from its own
//! scores ("swapped prediction"). As `distributed_sinkhorn` and the loss loop of the
//! reference `main_swav.py` (one device).

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

/// The Sinkhorn-Knopp codes of `scores` (`[B, K]`: B samples against K prototypes, cosines
/// in `[-1, 1]`), computed without gradient: `Q = exp(scores / epsilon)^T` scaled to total
/// 1, then `iterations` rounds of scaling each prototype's row to sum `1/K` and each
/// sample's column to sum `1/B`; returned as `B Q^T`, `[B, K]`, so every row sums to 1 (the
/// last scaling is the samples'). Iterated to convergence it is the entropic optimal
/// transport plan between uniform marginals: every prototype's column would sum to `B/K`
/// exactly; three rounds (the paper's) leave it close.
///
/// The exponent is shifted by the largest score first; one constant for the whole matrix
/// cancels in the first scaling, so this is the reference's computation, only without
/// overflow in f32. A sample whose scores all lie more than `87 epsilon` below the largest
/// would still underflow: the settings keep `epsilon >= 0.025` for cosines.
///
/// # Panics
/// If `epsilon` is not positive or `iterations` is 0 (the rows would not sum to 1).
pub fn sinkhorn(scores: Tensor<2>, epsilon: f64, iterations: usize) -> Tensor<2> {
    assert!(
        epsilon > 0.0,
        "Illegal Sinkhorn epsilon {epsilon}: must be > 0"
    );
    assert!(iterations > 0, "Sinkhorn needs at least one iteration");
    let scores = scores.detach();
    let [b, k] = scores.dims();
    let shift = scores.clone().max().unsqueeze::<2>();
    // Held as [B, K]: the reference's rows (prototypes) are columns here.
    let mut q = ((scores - shift) / epsilon).exp();
    q = q.clone() / q.clone().sum().unsqueeze::<2>();
    for _ in 0..iterations {
        q = q.clone() / (q.clone().sum_dim(0) * k as f64);
        q = q.clone() / (q.clone().sum_dim(1) * b as f64);
    }
    q * b as f64
}

/// The swapped-prediction loss. `scores`: `[crops * N, K]`, crop `v` of image `i` at row
/// `v * N + i`, crops 0 and 1 the two global views; `codes`: the Sinkhorn codes `[N, K]`
/// of the two global views (held constant: no gradient reaches them). For each global view
/// `s`, every other crop `v` predicts `q_s` with `-mean_i sum_k q_s[i, k] log softmax(
/// scores_v[i] / temperature)[k]`; the terms of one `s` are averaged over its `crops - 1`
/// predictors, then the two `s` are averaged, as `main_swav.py` does. Returns `[1]`.
///
/// # Panics
/// If there are fewer than two crops, the rows are not `crops * N`, or `temperature` is
/// not positive.
pub fn swapped_prediction(
    scores: Tensor<2>,
    crops: usize,
    codes: [Tensor<2>; 2],
    temperature: f64,
) -> Tensor<1> {
    assert!(
        temperature > 0.0,
        "Illegal temperature {temperature}: must be > 0"
    );
    let [rows, k] = scores.dims();
    let n = codes[0].dims()[0];
    assert!(
        crops >= 2 && rows == crops * n,
        "SwAV needs two global views and rows = crops * N, got {rows} rows for {crops} \
         crops of {n}"
    );
    assert_eq!(codes[1].dims(), [n, k], "the codes are [N, K]");
    let log_p = log_softmax(scores / temperature, 1);
    let mut total: Option<Tensor<1>> = None;
    for (s, q) in codes.into_iter().enumerate() {
        let q = q.detach();
        for v in (0..crops).filter(|&v| v != s) {
            let term = -(q.clone() * log_p.clone().narrow(0, v * n, n)).sum() / n as f64;
            total = Some(match total {
                None => term,
                Some(t) => t + term,
            });
        }
    }
    total.expect("two global views give terms") / (2 * (crops - 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use burn::tensor::{Device, TensorData};

    const N: usize = 2;
    const K: usize = 3;
    const CROPS: usize = 3;
    /// Three crops (two global views and one local crop) of two images against three
    /// prototypes: row `v * N + i`.
    const S: [f64; CROPS * N * K] = [
        0.9, -0.2, 0.1, //
        -0.5, 0.7, 0.3, //
        0.4, 0.8, -0.9, //
        0.2, -0.6, 0.95, //
        -0.1, 0.35, 0.6, //
        0.75, -0.8, 0.05,
    ];

    /// `distributed_sinkhorn` in f64 loops, on `b` rows of `k` scores; `[b, k]` out.
    fn sinkhorn_ref(s: &[f64], b: usize, k: usize, eps: f64, iterations: usize) -> Vec<f64> {
        // q[p][j]: prototype p, sample j (the reference's K x B).
        let mut q: Vec<Vec<f64>> = (0..k)
            .map(|p| (0..b).map(|j| (s[j * k + p] / eps).exp()).collect())
            .collect();
        let total: f64 = q.iter().flatten().sum();
        q.iter_mut().flatten().for_each(|x| *x /= total);
        for _ in 0..iterations {
            for row in &mut q {
                let sum: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= sum * k as f64);
            }
            let sums: Vec<f64> = (0..b).map(|j| q.iter().map(|row| row[j]).sum()).collect();
            for row in &mut q {
                for (x, sum) in row.iter_mut().zip(&sums) {
                    *x /= sum * b as f64;
                }
            }
        }
        (0..b * k).map(|e| q[e % k][e / k] * b as f64).collect()
    }

    /// The loss by the definition in f64 loops, with the codes taken from `codes_from`'s
    /// global views (the input itself, or a fixed point for finite differences).
    fn reference_with(s: &[f64], codes_from: &[f64], t: f64, eps: f64) -> f64 {
        let row = |v: usize, i: usize| &s[(v * N + i) * K..][..K];
        let mut loss = 0.0;
        for sv in 0..2 {
            let q = sinkhorn_ref(&codes_from[sv * N * K..][..N * K], N, K, eps, 3);
            let mut sub = 0.0;
            for v in (0..CROPS).filter(|&v| v != sv) {
                for i in 0..N {
                    let x = row(v, i);
                    let lse = x.iter().map(|a| (a / t).exp()).sum::<f64>().ln();
                    let cross: f64 = (0..K).map(|c| q[i * K + c] * (x[c] / t - lse)).sum();
                    sub -= cross / N as f64;
                }
            }
            loss += sub / (CROPS - 1) as f64;
        }
        loss / 2.0
    }

    fn tensor(x: &[f64], rows: usize, device: &Device) -> Tensor<2> {
        let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(v, [rows, x.len() / rows]), device)
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    /// SwAV's loss on `scores` with its own codes, as the method computes it.
    fn swav(scores: Tensor<2>, t: f64, eps: f64) -> Tensor<1> {
        let codes = [0, 1].map(|v| sinkhorn(scores.clone().narrow(0, v * N, N), eps, 3));
        swapped_prediction(scores, CROPS, codes, t)
    }

    #[test]
    fn sinkhorn_matches_the_reference_loop() {
        let device = Device::flex();
        for eps in [0.05, 0.3, 1.0] {
            let got = values(sinkhorn(tensor(&S, 6, &device), eps, 3));
            let want = sinkhorn_ref(&S, 6, K, eps, 3);
            for (g, w) in got.iter().zip(&want) {
                close(*g, *w, 1e-5);
            }
        }
    }

    /// Column sums of `[b, k]` row-major codes.
    fn column_sums(q: &[f32], k: usize) -> Vec<f64> {
        (0..k)
            .map(|c| q.iter().skip(c).step_by(k).map(|&x| f64::from(x)).sum())
            .collect()
    }

    /// The largest distance of a column sum of `[b, k]` codes from `target`.
    fn column_error(q: &[f32], k: usize, target: f64) -> f64 {
        column_sums(q, k)
            .iter()
            .map(|s| (s - target).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn sinkhorn_gives_rows_of_one_and_nearly_equal_prototype_use() {
        // Six samples, three prototypes, epsilon 1: after three rounds every row sums to 1
        // (the last scaling is the rows') and every column to B/K = 2 within 1e-3 (5e-4
        // in the f64 reference).
        let device = Device::flex();
        let codes = |eps, iterations| values(sinkhorn(tensor(&S, 6, &device), eps, iterations));
        let q = codes(1.0, 3);
        for row in q.chunks_exact(K) {
            close(row.iter().sum(), 1.0, 1e-5);
        }
        assert!(
            column_error(&q, K, 2.0) < 1e-3,
            "{}",
            column_error(&q, K, 2.0)
        );
        // At the paper's epsilon 0.05 the kernel is sharp: three rounds leave the columns
        // 0.089 from B/K here (4%), and further rounds bring them closer to the transport
        // plan's marginal B/K (0.017 after 50, 0.005 after 200 in the reference).
        let errors: Vec<f64> = [3, 50, 200]
            .map(|i| column_error(&codes(0.05, i), K, 2.0))
            .to_vec();
        assert!((errors[0] - 0.0887).abs() < 1e-3, "{errors:?}");
        assert!(errors[1] < 0.02 && errors[2] < 0.005, "{errors:?}");
        for row in codes(0.05, 3).chunks_exact(K) {
            close(row.iter().sum(), 1.0, 1e-5);
        }
    }

    #[test]
    fn sinkhorn_does_not_overflow_where_the_plain_exponential_would() {
        // exp(1 / 0.01) overflows f32; shifted by the largest score it does not, and the
        // codes equal those of the scores shifted down by hand.
        let device = Device::flex();
        let high = tensor(&[1.0, 0.6, 0.7, 0.95], 2, &device);
        let low = tensor(&[0.0, -0.4, -0.3, -0.05], 2, &device);
        let (a, b) = (
            values(sinkhorn(high, 0.01, 3)),
            values(sinkhorn(low, 0.01, 3)),
        );
        assert!(a.iter().all(|x| x.is_finite()), "{a:?}");
        for (x, y) in a.iter().zip(&b) {
            close(*x, f64::from(*y), 1e-5);
        }
    }

    #[test]
    fn the_loss_matches_an_independent_f64_implementation() {
        let device = Device::flex();
        for (t, eps) in [(0.1, 0.05), (0.5, 0.3), (1.0, 1.0)] {
            let want = reference_with(&S, &S, t, eps);
            let got = value(swav(tensor(&S, CROPS * N, &device), t, eps));
            close(got, want, 1e-4 * (1.0 + want.abs()));
        }
    }

    #[test]
    fn the_loss_matches_the_hand_computed_value() {
        // Two images, two prototypes, two crops, epsilon = t = 1. View 0's scores
        // [[1, 0], [0, 1]] and view 1's [[0.5, 0], [0, 0.5]] are symmetric, so Sinkhorn keeps
        // each row's softmax: q0 = (s, 1 - s) with s = sigmoid(1), q1 = (r, 1 - r) with
        // r = sigmoid(0.5) (mirrored on the second image). View 1 predicts q0 with log
        // softmax (0.5, 0) - ln(e^0.5 + 1), view 0 predicts q1 with (1, 0) - ln(e + 1).
        let device = Device::flex();
        let scores = matrix(&[[1.0, 0.0], [0.0, 1.0], [0.5, 0.0], [0.0, 0.5]], &device);
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let (s, r) = (sigmoid(1.0), sigmoid(0.5));
        let term0 = -(s * 0.5 - (0.5f64.exp() + 1.0).ln());
        let term1 = -(r * 1.0 - (1f64.exp() + 1.0).ln());
        let codes = [0, 1].map(|v| sinkhorn(scores.clone().narrow(0, 2 * v, 2), 1.0, 3));
        let q0 = values(codes[0].clone());
        close(q0[0], s, 1e-6);
        close(q0[3], s, 1e-6);
        close(
            value(swapped_prediction(scores, 2, codes, 1.0)),
            (term0 + term1) / 2.0,
            1e-5,
        );
    }

    /// The codes are constants: the gradient is the reference's with the codes held at
    /// their value, so finite differences hold them fixed too.
    #[test]
    fn its_gradient_matches_finite_differences_with_the_codes_fixed() {
        let device = Device::flex().autodiff();
        let (t, eps) = (0.5, 0.3);
        let scores = tensor(&S, CROPS * N, &device).require_grad();
        let grads = swav(scores.clone(), t, eps).backward();
        let g = values(scores.grad(&grads).unwrap());
        let h = 1e-6;
        for (e, &autodiff) in g.iter().enumerate() {
            let at = |delta: f64| {
                let mut x = S;
                x[e] += delta;
                reference_with(&x, &S, t, eps)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (f64::from(autodiff) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "element {e}: autodiff {autodiff} vs numeric {numeric}"
            );
        }
    }

    #[test]
    fn no_gradient_reaches_through_the_codes() {
        let device = Device::flex().autodiff();
        let scores = tensor(&S, CROPS * N, &device);
        // Leaves used only to make the codes.
        let global = [0, 1].map(|v| tensor(&S[v * N * K..][..N * K], N, &device).require_grad());
        let codes = global.clone().map(|g| sinkhorn(g, 0.05, 3));
        assert!(!codes[0].is_require_grad());
        let grads = swapped_prediction(scores.require_grad(), CROPS, codes, 0.1).backward();
        assert!(global.iter().all(|g| g.grad(&grads).is_none()));
    }

    #[test]
    #[should_panic(expected = "two global views")]
    fn rejects_a_single_crop() {
        let device = Device::flex();
        let scores = tensor(&S[..N * K], N, &device);
        let codes = [scores.clone(), scores.clone()];
        let _ = swapped_prediction(scores, 1, codes, 0.1);
    }
}
