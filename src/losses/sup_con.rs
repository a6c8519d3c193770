//! The supervised contrastive loss (Khosla et al. 2020, "Supervised Contrastive Learning",
//! eq. 2, `L_out`): NT-Xent whose positives are every other view of the same class, not
//! only the other view of the same image. With labels it is the supervised upper bound the
//! self-supervised methods are measured against; with each image its own class it is
//! SimCLR's NT-Xent.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::l2_normalize;

/// `[2N, 2N]` of 1 where column `k` is a positive of row `i` (same class, `k != i`), else
/// 0, and each row's count of positives.
fn positives(labels: &[u16], device: &burn::tensor::Device) -> (Tensor<2>, Tensor<1>) {
    let views: Vec<u16> = labels.iter().chain(labels).copied().collect();
    let rows = views.len();
    let mask: Vec<f32> = (0..rows * rows)
        .map(|e| {
            let (i, k) = (e / rows, e % rows);
            f32::from(u8::from(i != k && views[i] == views[k]))
        })
        .collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [rows, rows]), device);
    let counts = mask.clone().sum_dim(1).squeeze_dim::<1>(1);
    (mask, counts)
}

/// SupCon's `L_out` of `z`, `[2N, d]` projections where rows `i` and `i + N` are two views of
/// image `i` (normalised here), image `i` of class `labels[i]`: the mean over the 2N anchors
/// of `-1/|P(i)| sum_{p in P(i)} log softmax_{a != i}(z_i . z_a / t)_p`, `P(i)` the other views
/// of `i`'s class (never empty: the image's other view is one). The reference code's
/// `t / base_temperature` factor is 1 at its defaults and left out. Returns `[1]`.
///
/// # Panics
/// If the row count is not twice the number of labels or `temperature` is not positive.
pub fn sup_con(z: Tensor<2>, labels: &[u16], temperature: f64) -> Tensor<1> {
    assert!(
        temperature > 0.0,
        "Illegal temperature {temperature}: must be > 0"
    );
    let [rows, _] = z.dims();
    assert_eq!(
        rows,
        2 * labels.len(),
        "SupCon needs two views per labelled image: {rows} rows for {} labels",
        labels.len()
    );
    let device = z.device();
    let z = l2_normalize(z);
    let logits = z.clone().matmul(z.transpose()) / temperature;
    // An anchor is not in its own denominator.
    let own = Tensor::<2, Int>::eye(rows, &device).equal_elem(1);
    let log_prob = log_softmax(logits.mask_fill(own, -1.0e9), 1);
    let (mask, counts) = positives(labels, &device);
    let per_anchor = (log_prob * mask).sum_dim(1).squeeze_dim::<1>(1) / counts;
    -per_anchor.mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::nt_xent;
    use crate::losses::test_util::{close, value};
    use burn::tensor::Device;

    const ROWS: usize = 6;
    const D: usize = 2;
    const Z: [f64; ROWS * D] = [
        0.3, -1.2, 2.0, 0.5, -0.7, 0.1, 0.2, -1.0, 1.5, 0.9, -1.1, -0.3,
    ];

    fn input(x: &[f64], device: &Device) -> Tensor<2> {
        let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(v, [ROWS, D]), device)
    }

    /// eq. 2 by the definition, in f64 loops.
    fn reference(x: &[f64], labels: &[u16], t: f64) -> f64 {
        let unit = |i: usize| {
            let r = &x[i * D..(i + 1) * D];
            let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
            [r[0] / norm, r[1] / norm]
        };
        let logit = |i: usize, k: usize| {
            let (a, b) = (unit(i), unit(k));
            (a[0] * b[0] + a[1] * b[1]) / t
        };
        let class = |i: usize| labels[i % labels.len()];
        let mut total = 0.0;
        for i in 0..ROWS {
            let denominator: f64 = (0..ROWS)
                .filter(|&a| a != i)
                .map(|a| logit(i, a).exp())
                .sum();
            let positives: Vec<usize> = (0..ROWS)
                .filter(|&p| p != i && class(p) == class(i))
                .collect();
            let sum: f64 = positives
                .iter()
                .map(|&p| logit(i, p) - denominator.ln())
                .sum();
            total -= sum / positives.len() as f64;
        }
        total / ROWS as f64
    }

    #[test]
    fn matches_an_independent_f64_implementation() {
        let device = Device::flex();
        for labels in [[0u16, 1, 0], [0, 0, 0], [2, 1, 0]] {
            for t in [0.1, 0.5] {
                let loss = value(sup_con(input(&Z, &device), &labels, t));
                let expected = reference(&Z, &labels, t);
                close(loss, expected, 1e-4 * (1.0 + expected.abs()));
            }
        }
    }

    #[test]
    fn with_each_image_its_own_class_it_is_nt_xent() {
        let device = Device::flex();
        let supervised = value(sup_con(input(&Z, &device), &[7, 3, 5], 0.2));
        let simclr = value(nt_xent(input(&Z, &device), 0.2));
        close(supervised, f64::from(simclr), 1e-5);
    }

    #[test]
    fn matches_the_hand_computed_value() {
        // Two images of one class, all four views the same unit vector, t = 1: each anchor
        // has 3 positives, every logit 1, so each log-probability is ln(1/3).
        let device = Device::flex();
        let z = crate::losses::test_util::matrix(&[[1.0, 0.0]; 4], &device);
        close(value(sup_con(z, &[4, 4], 1.0)), 3f64.ln(), 1e-5);
    }

    #[test]
    fn its_gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let (labels, t) = ([0u16, 1, 0], 0.5);
        let z = input(&Z, &device).require_grad();
        let grads = sup_con(z.clone(), &labels, t).backward();
        let g: Vec<f32> = z.grad(&grads).unwrap().into_data().iter::<f32>().collect();
        let h = 1e-6;
        for (e, &autodiff) in g.iter().enumerate() {
            let at = |delta: f64| {
                let mut x = Z;
                x[e] += delta;
                reference(&x, &labels, t)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (f64::from(autodiff) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "element {e}: autodiff {autodiff} vs numeric {numeric}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "two views per labelled image")]
    fn rejects_labels_that_do_not_match_the_views() {
        let _ = sup_con(input(&Z, &Device::flex()), &[0, 1], 0.1);
    }
}
