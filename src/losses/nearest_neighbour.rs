//! NNCLR's loss (Dwibedi et al. 2021, "With a Little Help from My Friends: Nearest-Neighbor
//! Contrastive Learning of Visual Representations", eq. 2 and sec. 3.1): each image's
//! positive is not its own other view but the nearest neighbour of its embedding in a
//! support set of embeddings from earlier batches.

use burn::tensor::{Int, Tensor};

use super::batch_contrast::info_nce_in_batch;
use super::l2_normalize;

/// The nearest neighbour (largest cosine) in `support` (`[S, d]`, unit rows, a constant)
/// of each row of `z` (`[N, d]`): the neighbours `[N, d]` (no gradient) and their rows in
/// `support`.
pub fn nearest_neighbours(z: Tensor<2>, support: Tensor<2>) -> (Tensor<2>, Vec<usize>) {
    let cosines = l2_normalize(z.detach()).matmul(support.clone().transpose());
    let rows: Tensor<1, Int> = cosines.argmax(1).squeeze_dim::<1>(1);
    let found: Vec<usize> = rows
        .clone()
        .into_data()
        .iter::<i64>()
        .map(|r| r as usize)
        .collect();
    (support.select(0, rows).detach(), found)
}

/// The symmetric NNCLR loss: `(L(nn1, p2) + L(nn2, p1)) / 2`, each `L` the InfoNCE of the
/// neighbours `nn` of one view's embeddings against the other view's predictions `p` with
/// the batch's other predictions as negatives (`-log exp(nn_i.p_i/t) / sum_k
/// exp(nn_i.p_k/t)`, cosines). The gradient reaches only the predictions: the neighbours
/// come from the support set. All `[N, d]`. Returns `[1]`.
pub fn nnclr(
    (nn1, nn2): (Tensor<2>, Tensor<2>),
    (p1, p2): (Tensor<2>, Tensor<2>),
    temperature: f64,
) -> Tensor<1> {
    (info_nce_in_batch(nn1, p2, temperature) + info_nce_in_batch(nn2, p1, temperature)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use burn::tensor::{Device, TensorData};

    const N: usize = 3;
    const D: usize = 2;
    const NN1: [f64; 6] = [0.6, 0.8, -1.0, 0.0, 0.0, -1.0];
    const NN2: [f64; 6] = [1.0, 0.0, 0.0, 1.0, -0.8, -0.6];
    const P: [f64; 12] = [
        0.3, -1.2, 2.0, 0.5, -0.7, 0.1, 0.2, -1.0, 1.5, 0.9, -1.1, -0.3,
    ];

    fn unit(x: &[f64], i: usize) -> [f64; D] {
        let r = &x[i * D..(i + 1) * D];
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        [r[0] / norm, r[1] / norm]
    }

    /// Eq. 2 by the definition in f64 loops, symmetrised; `p` holds p1's rows then p2's.
    fn reference(p: &[f64], t: f64) -> f64 {
        let term = |nn: &[f64], other: usize| {
            (0..N)
                .map(|i| {
                    let a = unit(nn, i);
                    let logit = |k: usize| {
                        let b = unit(p, other * N + k);
                        (a[0] * b[0] + a[1] * b[1]) / t
                    };
                    let denominator: f64 = (0..N).map(|k| logit(k).exp()).sum();
                    denominator.ln() - logit(i)
                })
                .sum::<f64>()
                / N as f64
        };
        (term(&NN1, 1) + term(&NN2, 0)) / 2.0
    }

    fn tensor(x: &[f64], rows: usize, device: &Device) -> Tensor<2> {
        let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(v, [rows, D]), device)
    }

    fn loss(p: Tensor<2>, t: f64) -> Tensor<1> {
        let device = p.device();
        let (p1, p2) = (p.clone().narrow(0, 0, N), p.narrow(0, N, N));
        nnclr(
            (tensor(&NN1, N, &device), tensor(&NN2, N, &device)),
            (p1, p2),
            t,
        )
    }

    #[test]
    fn matches_an_independent_f64_implementation() {
        let device = Device::flex();
        for t in [0.1, 0.5, 1.0] {
            let want = reference(&P, t);
            close(
                value(loss(tensor(&P, 2 * N, &device), t)),
                want,
                1e-4 * (1.0 + want),
            );
        }
    }

    #[test]
    fn matches_the_hand_computed_value() {
        // Two images, each neighbour exactly its image's prediction, the two orthogonal,
        // t = 1: each term is ln(e + 1) - 1.
        let device = Device::flex();
        let nn = matrix(&[[1.0, 0.0], [0.0, 1.0]], &device);
        let loss = nnclr((nn.clone(), nn.clone()), (nn.clone(), nn), 1.0);
        close(value(loss), (1f64.exp() + 1.0).ln() - 1.0, 1e-5);
    }

    #[test]
    fn its_gradient_matches_finite_differences_and_skips_the_neighbours() {
        let device = Device::flex().autodiff();
        let t = 0.5;
        let p = tensor(&P, 2 * N, &device).require_grad();
        let nn1 = tensor(&NN1, N, &device).require_grad();
        let (p1, p2) = (p.clone().narrow(0, 0, N), p.clone().narrow(0, N, N));
        let grads = nnclr(
            (
                nearest_neighbours(nn1.clone(), tensor(&NN1, N, &device)).0,
                tensor(&NN2, N, &device),
            ),
            (p1, p2),
            t,
        )
        .backward();
        // The neighbours come from the support set: nothing flows back through the lookup.
        assert!(nn1.grad(&grads).is_none());
        let g: Vec<f32> = p.grad(&grads).unwrap().into_data().iter::<f32>().collect();
        let h = 1e-6;
        for (e, &autodiff) in g.iter().enumerate() {
            let at = |delta: f64| {
                let mut x = P;
                x[e] += delta;
                reference(&x, t)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (f64::from(autodiff) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "element {e}: autodiff {autodiff} vs numeric {numeric}"
            );
        }
    }

    #[test]
    fn the_neighbour_is_the_support_row_of_largest_cosine() {
        let device = Device::flex();
        let support = matrix(&[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8]], &device);
        // Lengths do not matter: a long vector along (1, 1) is nearest (0.6, 0.8).
        let z = matrix(&[[5.0, 5.0], [-0.1, 3.0], [-2.0, 0.1]], &device);
        let (nn, rows) = nearest_neighbours(z, support);
        assert_eq!(rows, vec![3, 1, 2]);
        let got: Vec<f32> = nn.into_data().iter::<f32>().collect();
        assert_eq!(got, vec![0.6, 0.8, 0.0, 1.0, -1.0, 0.0]);
    }
}
