//! The non-contrastive regularised losses: Barlow Twins (Zbontar et al. 2021) and VICReg
//! (Bardes, Ponce, LeCun 2022). Both avoid collapse by shaping the batch's statistics
//! instead of using negatives.

use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};

/// Columns standardised over the batch: zero mean, unit (biased) std, eps for stability.
fn standardize(z: Tensor<2>) -> Tensor<2> {
    let mean = z.clone().mean_dim(0);
    let centred = z - mean;
    let var = centred.clone().powf_scalar(2.0).mean_dim(0);
    centred / (var + 1e-5).sqrt()
}

/// A `[d, d]` mask that is 1 off the diagonal.
fn off_diagonal(d: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::ones([d, d], device) - Tensor::<2, Int>::eye(d, device).float()
}

/// Barlow Twins: with C the cross-correlation of the standardised `z1`, `z2` (`[n, d]`),
/// loss = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2.
pub fn barlow_twins(z1: Tensor<2>, z2: Tensor<2>, lambda: f64) -> Tensor<1> {
    let [n, d] = z1.dims();
    let device = z1.device();
    let c = standardize(z1).transpose().matmul(standardize(z2)) / n as f64;
    let eye = Tensor::<2, Int>::eye(d, &device).float();
    let on_diag = ((eye.clone() - c.clone()) * eye).powf_scalar(2.0).sum();
    let off_diag = (c * off_diagonal(d, &device)).powf_scalar(2.0).sum();
    (on_diag + off_diag * lambda).reshape([1])
}

/// VICReg's three terms, each already weighted, and their sum.
pub struct VicRegTerms {
    pub total: Tensor<1>,
    pub invariance: Tensor<1>,
    pub variance: Tensor<1>,
    pub covariance: Tensor<1>,
}

/// VICReg on `[n, d]` embeddings of two views:
/// invariance = mean squared error between z1 and z2;
/// variance = sum over views of mean_j relu(1 - sqrt(Var(z_j) + 1e-4)) (unbiased variance);
/// covariance = sum over views of sum_{i != j} Cov(z)_ij^2 / d.
pub fn vicreg(
    z1: Tensor<2>,
    z2: Tensor<2>,
    sim_weight: f64,
    var_weight: f64,
    cov_weight: f64,
) -> VicRegTerms {
    let [n, d] = z1.dims();
    let device = z1.device();
    let invariance = (z1.clone() - z2.clone()).powf_scalar(2.0).mean();
    let mask = off_diagonal(d, &device);
    let stats = |z: Tensor<2>| {
        let centred = z.clone() - z.mean_dim(0);
        let cov = centred.clone().transpose().matmul(centred.clone()) / (n as f64 - 1.0);
        let var = centred.powf_scalar(2.0).sum_dim(0) / (n as f64 - 1.0);
        let hinge = relu(-(var + 1e-4).sqrt() + 1.0).mean();
        let off = (cov * mask.clone()).powf_scalar(2.0).sum() / d as f64;
        (hinge, off)
    };
    let (v1, c1) = stats(z1);
    let (v2, c2) = stats(z2);
    let invariance = invariance * sim_weight;
    let variance = (v1 + v2) * var_weight;
    let covariance = (c1 + c2) * cov_weight;
    VicRegTerms {
        total: invariance.clone() + variance.clone() + covariance.clone(),
        invariance,
        variance,
        covariance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};

    /// Plain f64 columns of a 2-column matrix.
    fn cols(rows: &[[f32; 2]]) -> [Vec<f64>; 2] {
        [0, 1].map(|c| rows.iter().map(|r| f64::from(r[c])).collect())
    }

    #[test]
    fn barlow_twins_matches_an_independent_computation() {
        let d = Device::flex();
        let a = [[1.0f32, 2.0], [3.0, -1.0], [-2.0, 0.5], [0.0, 1.5]];
        let b = [[0.5f32, 1.0], [2.0, -2.0], [-1.0, 1.0], [0.3, 0.2]];
        let std = |v: &Vec<f64>| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64 + 1e-5).sqrt();
            v.iter().map(|x| (x - m) / s).collect::<Vec<f64>>()
        };
        let (ca, cb) = (cols(&a).map(|c| std(&c)), cols(&b).map(|c| std(&c)));
        let c =
            |i: usize, j: usize| ca[i].iter().zip(&cb[j]).map(|(x, y)| x * y).sum::<f64>() / 4.0;
        let lambda = 0.1;
        let expected = (1.0 - c(0, 0)).powi(2)
            + (1.0 - c(1, 1)).powi(2)
            + lambda * (c(0, 1).powi(2) + c(1, 0).powi(2));
        let got = value(barlow_twins(matrix(&a, &d), matrix(&b, &d), lambda));
        close(got, expected, 1e-4);
    }

    #[test]
    fn identical_decorrelated_views_cost_nothing_in_barlow_twins() {
        let d = Device::flex();
        let a = [[1.0f32, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]];
        close(
            value(barlow_twins(matrix(&a, &d), matrix(&a, &d), 1.0)),
            0.0,
            1e-4,
        );
    }

    #[test]
    fn vicreg_terms_match_an_independent_computation() {
        let d = Device::flex();
        let a = [[1.0f32, 2.0], [3.0, -1.0], [-2.0, 0.5]];
        let b = [[0.5f32, 1.0], [0.1, 0.0], [0.0, 0.2]];
        let inv: f64 = a
            .iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            / 6.0;
        let stats = |m: &[[f32; 2]]| {
            let c = cols(m);
            let mean = c.clone().map(|v| v.iter().sum::<f64>() / 3.0);
            let cov = |i: usize, j: usize| {
                (0..3)
                    .map(|r| (c[i][r] - mean[i]) * (c[j][r] - mean[j]))
                    .sum::<f64>()
                    / 2.0
            };
            let hinge = |i: usize| (1.0 - (cov(i, i) + 1e-4).sqrt()).max(0.0);
            ((hinge(0) + hinge(1)) / 2.0, 2.0 * cov(0, 1).powi(2) / 2.0)
        };
        let ((va, ca), (vb, cb)) = (stats(&a), stats(&b));
        let t = vicreg(matrix(&a, &d), matrix(&b, &d), 25.0, 25.0, 1.0);
        close(value(t.invariance), 25.0 * inv, 1e-3);
        close(value(t.variance), 25.0 * (va + vb), 1e-3);
        close(value(t.covariance), ca + cb, 1e-3);
        close(
            value(t.total),
            25.0 * inv + 25.0 * (va + vb) + ca + cb,
            1e-3,
        );
    }
}
