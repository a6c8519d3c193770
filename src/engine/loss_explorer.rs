//! The loss explorer's numbers: NT-Xent (the real `losses::nt_xent`) on a handful of 2-D
//! points, with each point's gradient from burn's autodiff and each anchor's softmax over
//! the other points, so a class can drag points and watch the loss and its pull and push.

use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::backend::cpu_device;
use crate::losses::{l2_normalize, nt_xent};
use crate::model::tensor_io::matrix_to_vec;

/// What the loss says about the points.
#[derive(Clone, Debug, PartialEq)]
pub struct LossProbe {
    pub loss: f32,
    /// d loss / d point, per point.
    pub gradients: Vec<[f32; 2]>,
    /// Per anchor, the softmax over every point (its own entry 0): how much of the
    /// anchor's probability each candidate takes; the positive's share is what the loss
    /// raises.
    pub softmax: Vec<Vec<f32>>,
}

/// NT-Xent of `points` (`2N` of them; `i` and `i + N` are positive pairs) at
/// `temperature`, with its gradients and softmaxes.
pub fn nt_xent_probe(points: &[[f32; 2]], temperature: f32) -> LossProbe {
    let rows = points.len();
    let device = cpu_device().autodiff();
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    let x = Tensor::<2>::from_data(TensorData::new(flat, [rows, 2]), &device).require_grad();
    let loss = nt_xent(x.clone(), temperature);
    let grads = loss.backward();
    let gradients = x
        .grad(&grads)
        .map(|g| matrix_to_vec(g).chunks(2).map(|c| [c[0], c[1]]).collect())
        .unwrap_or_else(|| vec![[0.0; 2]; rows]);
    // The same logits the loss softmaxes: cosines / t, each point masked out of its row.
    let z = l2_normalize(x.detach());
    let logits = z.clone().matmul(z.transpose()) / temperature;
    let eye = Tensor::<2, Int>::eye(rows, &logits.device()).equal_elem(1);
    let p = matrix_to_vec(softmax(logits.mask_fill(eye, -1.0e9), 1));
    LossProbe {
        loss: loss.into_scalar::<f32>(),
        gradients,
        softmax: p.chunks(rows).map(<[f32]>::to_vec).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NT-Xent by hand: mean over anchors of -log softmax(positive).
    fn by_hand(points: &[[f32; 2]], t: f32) -> f32 {
        let n = points.len();
        let unit = |p: [f32; 2]| {
            let l = (p[0] * p[0] + p[1] * p[1]).sqrt();
            [p[0] / l, p[1] / l]
        };
        let cos = |a: [f32; 2], b: [f32; 2]| {
            let (a, b) = (unit(a), unit(b));
            a[0] * b[0] + a[1] * b[1]
        };
        let mut total = 0.0;
        for i in 0..n {
            let pos = (i + n / 2) % n;
            let denom: f32 = (0..n)
                .filter(|&k| k != i)
                .map(|k| (cos(points[i], points[k]) / t).exp())
                .sum();
            total -= ((cos(points[i], points[pos]) / t).exp() / denom).ln();
        }
        total / n as f32
    }

    #[test]
    fn the_loss_its_gradients_and_softmaxes_are_ntxents() {
        let points = [
            [1.0, 0.0],
            [0.0, 1.0],
            [-0.6, -0.8],
            [0.8, 0.6],
            [-0.6, 0.8],
            [0.0, -1.0],
        ];
        let t = 0.5;
        let probe = nt_xent_probe(&points, t);
        assert!(
            (probe.loss - by_hand(&points, t)).abs() < 1e-5,
            "{}",
            probe.loss
        );
        // Finite differences of the hand formula agree with the gradients.
        for (i, g) in probe.gradients.iter().enumerate() {
            for d in 0..2 {
                let h = 1e-3;
                let (mut up, mut down) = (points, points);
                up[i][d] += h;
                down[i][d] -= h;
                let numeric = (by_hand(&up, t) - by_hand(&down, t)) / (2.0 * h);
                assert!(
                    (g[d] - numeric).abs() < 2e-3,
                    "point {i} dim {d}: {} vs {numeric}",
                    g[d]
                );
            }
        }
        for (i, row) in probe.softmax.iter().enumerate() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(row[i] < 1e-6, "a point is not its own candidate");
        }
    }
}
