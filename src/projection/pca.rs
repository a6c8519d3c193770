//! PCA to two dimensions through nalgebra's symmetric eigendecomposition of the covariance
//! (d x d, cheap for d <= 512). Component signs are fixed (largest loading positive) so
//! axes do not flip between refreshes during training.

use nalgebra::{DMatrix, SymmetricEigen};

/// A 2-D projection and the share of variance each axis explains.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca2 {
    /// One `[x, y]` per input row.
    pub points: Vec<[f32; 2]>,
    /// Fraction of total variance on each axis, descending.
    pub explained: [f32; 2],
    /// The data mean and the two axes, to place other rows in the same picture.
    pub mean: Vec<f64>,
    pub axes: [Vec<f64>; 2],
}

impl Pca2 {
    /// Row-major `[m, d]` rows placed on the same two axes as the fitted data.
    pub fn project(&self, x: &[f32], d: usize) -> Vec<[f32; 2]> {
        if self.mean.len() != d {
            return vec![[0.0, 0.0]; x.len().checked_div(d).unwrap_or(0)];
        }
        x.chunks_exact(d)
            .map(|row| {
                let mut p = [0.0f64; 2];
                for (k, axis) in self.axes.iter().enumerate() {
                    p[k] = row
                        .iter()
                        .zip(&self.mean)
                        .zip(axis)
                        .map(|((&v, m), a)| (f64::from(v) - m) * a)
                        .sum();
                }
                [p[0] as f32, p[1] as f32]
            })
            .collect()
    }
}

/// Projects row-major `[n, d]` data onto its two leading principal components.
pub fn pca_2d(x: &[f32], d: usize) -> Pca2 {
    let n = x.len().checked_div(d).unwrap_or(0);
    if n < 2 || d < 2 {
        return Pca2 {
            points: vec![[0.0, 0.0]; n],
            explained: [0.0, 0.0],
            mean: Vec::new(),
            axes: [Vec::new(), Vec::new()],
        };
    }
    let m = DMatrix::from_row_slice(n, d, x).map(f64::from);
    let mean = m.row_mean();
    let mut centred = m;
    for mut r in centred.row_iter_mut() {
        r -= &mean;
    }
    let cov = (centred.transpose() * &centred) / (n as f64 - 1.0);
    let eig = SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let mut axes = Vec::with_capacity(2);
    for &k in &order[..2] {
        let mut v = eig.eigenvectors.column(k).into_owned();
        let (imax, _) = v.iter().enumerate().fold((0, 0.0f64), |acc, (i, &x)| {
            if x.abs() > acc.1 { (i, x.abs()) } else { acc }
        });
        if v[imax] < 0.0 {
            v = -v;
        }
        axes.push(v);
    }
    let proj: Vec<[f32; 2]> = centred
        .row_iter()
        .map(|r| {
            [
                r.dot(&axes[0].transpose()) as f32,
                r.dot(&axes[1].transpose()) as f32,
            ]
        })
        .collect();
    let share = |k: usize| {
        if total > 0.0 {
            (eig.eigenvalues[order[k]].max(0.0) / total) as f32
        } else {
            0.0
        }
    };
    Pca2 {
        points: proj,
        explained: [share(0), share(1)],
        mean: mean.iter().copied().collect(),
        axes: [
            axes[0].iter().copied().collect(),
            axes[1].iter().copied().collect(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_dominant_direction_and_orders_variance() {
        // Points along (1, 1, 0) with large spread, small noise along (1, -1, 0), none on z.
        let mut x = Vec::new();
        // Each position twice, once on each side, so the two directions are uncorrelated.
        for i in 0..50 {
            let t = (i / 2) as f32 - 12.0;
            let s = if i % 2 == 0 { 0.5 } else { -0.5 };
            x.extend_from_slice(&[t + s, t - s, 0.0]);
        }
        let p = pca_2d(&x, 3);
        assert!(p.explained[0] > p.explained[1]);
        assert!(p.explained[0] > 0.99);
        assert!((p.explained[0] + p.explained[1] - 1.0).abs() < 1e-5);
        // First coordinate orders points along the line; second is the +-0.5 wiggle.
        assert!(p.points[49][0] > p.points[0][0]);
        // (0.5, -0.5) projected on (1, -1)/sqrt(2) has length 0.5 * sqrt(2).
        assert!((p.points[0][1].abs() - 0.5 * 2.0_f32.sqrt()).abs() < 1e-3);
        // Projected coordinates are uncorrelated (components orthogonal).
        let cov: f32 = p.points.iter().map(|q| q[0] * q[1]).sum();
        assert!(cov.abs() < 1e-2, "{cov}");
        // `project` places the fitted rows exactly where the fit did.
        for (a, b) in p.project(&x, 3).iter().zip(&p.points) {
            assert!((a[0] - b[0]).abs() < 1e-4 && (a[1] - b[1]).abs() < 1e-4);
        }
    }
}
