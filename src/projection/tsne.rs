//! Exact t-SNE (van der Maaten & Hinton 2008) that runs a few iterations at a time and can
//! be handed new data while keeping its layout, so the live plot animates from the previous
//! picture instead of jumping. Written here because the t-SNE crate (`bhtsne`) only runs a
//! whole fit from scratch: no warm start, no stepping, which live animation needs.
//!
//! Geometry is cosine, like the kNN evaluation: rows are L2-normalised first (distances
//! from one GEMM). Affinities are the usual sparse ones (each point's 3 * perplexity
//! nearest). The gradient is exact (O(n^2) per iteration, one pass per row in parallel
//! with rayon), so the sample is capped at `TSNE_MAX_POINTS`; optimisation follows the reference implementation: early
//! exaggeration 12 for the first 250 iterations of a fresh layout, momentum 0.5 then 0.8,
//! per-coordinate gains, learning rate max(n / 12, 50) (Belkina et al. 2019).

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::metrics::matrix::l2_normalized_rows;

use super::pca::pca_2d;

/// Largest sample the exact gradient is run on (9M pair weights, ~36 MB); UMAP uses the
/// same cap.
pub const TSNE_MAX_POINTS: usize = 3000;
/// Iterations after which a layout is left alone until new data arrives.
pub const ITERATIONS_PER_DATA: u32 = 1000;
/// The perplexity the window (and the headless measurement of its picture) lays out with.
pub const PERPLEXITY: f32 = 30.0;
const EXAGGERATION: f32 = 12.0;
const EXAGGERATION_ITERS: u32 = 250;

/// A t-SNE layout being optimised.
#[derive(Clone)]
pub struct Tsne {
    n: usize,
    /// Symmetric joint probabilities, dense `[n, n]`, zero diagonal.
    p: Vec<f32>,
    y: Vec<[f32; 2]>,
    velocity: Vec<[f32; 2]>,
    gains: Vec<[f32; 2]>,
    /// Iterations since the layout was started (drives exaggeration and momentum).
    iter: u32,
    /// Iterations since the data last changed.
    pub iters_on_data: u32,
    learning_rate: f32,
    perplexity: f32,
}

impl Tsne {
    /// A fresh layout of row-major `[n, d]` data, initialised from its PCA (deterministic,
    /// and it keeps the global arrangement, Kobak & Linderman 2021).
    pub fn new(x: &[f32], d: usize, perplexity: f32) -> Self {
        let n = x.len().checked_div(d).unwrap_or(0);
        let pca = pca_2d(&l2_normalized_rows(x, d), d);
        let std = (pca.points.iter().map(|q| q[0] * q[0]).sum::<f32>() / n.max(1) as f32)
            .sqrt()
            .max(1e-12);
        let y = pca
            .points
            .iter()
            .map(|q| [1e-4 * q[0] / std, 1e-4 * q[1] / std])
            .collect();
        Self {
            n,
            p: joint_probabilities(x, d, perplexity),
            y,
            velocity: vec![[0.0; 2]; n],
            gains: vec![[1.0; 2]; n],
            iter: 0,
            iters_on_data: 0,
            learning_rate: (n as f32 / EXAGGERATION).max(50.0),
            perplexity,
        }
    }

    /// New data for the same points (the next evaluation): the layout is kept and
    /// optimisation continues from it without exaggeration. A different point count starts
    /// afresh.
    pub fn set_data(&mut self, x: &[f32], d: usize) {
        if x.len().checked_div(d) != Some(self.n) {
            *self = Self::new(x, d, self.perplexity);
            return;
        }
        self.p = joint_probabilities(x, d, self.perplexity);
        self.velocity = vec![[0.0; 2]; self.n];
        self.gains = vec![[1.0; 2]; self.n];
        self.iter = self.iter.max(EXAGGERATION_ITERS);
        self.iters_on_data = 0;
    }

    pub fn layout(&self) -> &[[f32; 2]] {
        &self.y
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// One gradient step.
    pub fn step(&mut self) {
        let n = self.n;
        if n < 2 {
            return;
        }
        let exaggeration = if self.iter < EXAGGERATION_ITERS {
            EXAGGERATION
        } else {
            1.0
        };
        let momentum = if self.iter < EXAGGERATION_ITERS {
            0.5
        } else {
            0.8
        };
        let y = &self.y;
        let p = &self.p;
        // One pass per row: the attractive sum (p_ij w_ij), the repulsive sum (w_ij^2,
        // divided by Z afterwards) and the row's share of Z = sum of all w_ij.
        let rows: Vec<([f32; 2], [f32; 2], f32)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let yi = y[i];
                let row = &p[i * n..(i + 1) * n];
                let (mut attract, mut repel, mut z) = ([0.0f32; 2], [0.0f32; 2], 0.0f32);
                for (j, (yj, &pij)) in y.iter().zip(row).enumerate() {
                    if j == i {
                        continue;
                    }
                    let (dx, dy) = (yi[0] - yj[0], yi[1] - yj[1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    let a = pij * w;
                    attract[0] += a * dx;
                    attract[1] += a * dy;
                    let r = w * w;
                    repel[0] += r * dx;
                    repel[1] += r * dy;
                    z += w;
                }
                (attract, repel, z)
            })
            .collect();
        let z = rows.iter().map(|r| r.2).sum::<f32>().max(f32::MIN_POSITIVE);
        // dC/dy_i = 4 sum_j (exaggeration * p_ij - w_ij / Z) w_ij (y_i - y_j)
        let grad: Vec<[f32; 2]> = rows
            .iter()
            .map(|(a, r, _)| {
                [
                    4.0 * (exaggeration * a[0] - r[0] / z),
                    4.0 * (exaggeration * a[1] - r[1] / z),
                ]
            })
            .collect();
        let state = self
            .y
            .iter_mut()
            .zip(self.velocity.iter_mut().zip(self.gains.iter_mut()));
        for ((y, (v, gain)), g) in state.zip(&grad) {
            for c in 0..2 {
                // Delta-bar-delta: grow the step where the gradient keeps its direction.
                gain[c] = if (g[c] > 0.0) != (v[c] > 0.0) {
                    gain[c] + 0.2
                } else {
                    (gain[c] * 0.8).max(0.01)
                };
                v[c] = momentum * v[c] - self.learning_rate * gain[c] * g[c];
                y[c] += v[c];
            }
        }
        // Keep the picture centred so the axes do not drift.
        let mean = self
            .y
            .iter()
            .fold([0.0f32; 2], |a, q| [a[0] + q[0], a[1] + q[1]]);
        let mean = [mean[0] / n as f32, mean[1] / n as f32];
        for q in &mut self.y {
            q[0] -= mean[0];
            q[1] -= mean[1];
        }
        self.iter += 1;
        self.iters_on_data += 1;
    }

    /// KL(P || Q) of the current layout (for tests and diagnostics; O(n^2)).
    pub fn kl_divergence(&self) -> f32 {
        let n = self.n;
        let mut z = 0.0f64;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    z += f64::from(kernel(self.y[i], self.y[j]));
                }
            }
        }
        let mut kl = 0.0f64;
        for i in 0..n {
            for j in 0..n {
                let pij = f64::from(self.p[i * n + j]);
                if i != j && pij > 1e-12 {
                    let q = f64::from(kernel(self.y[i], self.y[j])) / z;
                    kl += pij * (pij / q.max(1e-300)).ln();
                }
            }
        }
        kl as f32
    }
}

fn kernel(a: [f32; 2], b: [f32; 2]) -> f32 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    1.0 / (1.0 + dx * dx + dy * dy)
}

/// Symmetrised joint probabilities P = (P_j|i + P_i|j) / 2n, each conditional calibrated
/// by bisection on its precision to the requested perplexity.
fn joint_probabilities(x: &[f32], d: usize, perplexity: f32) -> Vec<f32> {
    let n = x.len().checked_div(d).unwrap_or(0);
    if n < 2 {
        return vec![0.0; n * n];
    }
    let xn = DMatrix::from_row_slice(n, d, &l2_normalized_rows(x, d));
    // Cosine geometry: squared distance of unit vectors is 2 - 2 cos; one GEMM for all.
    let gram = &xn * xn.transpose();
    // Perplexity above n - 1 cannot be reached.
    let target = perplexity.clamp(1.0, (n - 1) as f32).ln();
    let mut cond = vec![0.0f32; n * n];
    cond.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        // The Gram matrix is symmetric, so column i is row i.
        let dist: Vec<f32> = gram
            .column(i)
            .iter()
            .map(|&c| (2.0 - 2.0 * c).max(0.0))
            .collect();
        calibrate_row(&dist, i, target, row);
    });
    let scale = 1.0 / (2.0 * n as f32);
    let mut p = vec![0.0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = (cond[i * n + j] + cond[j * n + i]) * scale;
        }
    }
    p
}

/// Fills `row` with exp(-beta * dist) / sum over j != i, with beta found so the entropy
/// is `target` nats. Only the `3 * perplexity` nearest points get probability (the
/// standard sparse affinities of Barnes-Hut t-SNE and openTSNE; the rest would be ~0).
fn calibrate_row(dist: &[f32], i: usize, target: f32, row: &mut [f32]) {
    let keep = ((3.0 * target.exp()).ceil() as usize).min(dist.len() - 1);
    let mut order: Vec<usize> = (0..dist.len()).filter(|&j| j != i).collect();
    if keep < order.len() {
        order.select_nth_unstable_by(keep, |&a, &b| dist[a].total_cmp(&dist[b]));
        order.truncate(keep);
    }
    let near: Vec<f32> = order.iter().map(|&j| dist[j]).collect();
    let mut probabilities = vec![0.0f32; near.len()];
    calibrate(&near, target, &mut probabilities);
    row.iter_mut().for_each(|v| *v = 0.0);
    for (&j, &pj) in order.iter().zip(&probabilities) {
        row[j] = pj;
    }
}

/// exp(-beta * dist) normalised, with beta found by bisection so the entropy is `target`.
fn calibrate(dist: &[f32], target: f32, row: &mut [f32]) {
    let (mut lo, mut hi) = (0.0f32, f32::INFINITY);
    let mut beta = 1.0f32;
    // Distances are shifted by the smallest so exp never underflows to all zeros.
    let min = dist.iter().copied().fold(f32::INFINITY, f32::min);
    for _ in 0..64 {
        let mut sum = 0.0f32;
        let mut weighted = 0.0f32;
        for (&dj, out) in dist.iter().zip(row.iter_mut()) {
            let v = (-beta * (dj - min)).exp();
            *out = v;
            sum += v;
            weighted += v * (dj - min);
        }
        // H = log(sum) + beta * E[d]
        let entropy = sum.ln() + beta * weighted / sum;
        if (entropy - target).abs() < 1e-4 {
            break;
        }
        if entropy > target {
            lo = beta;
            beta = if hi.is_finite() {
                (beta + hi) / 2.0
            } else {
                beta * 2.0
            };
        } else {
            hi = beta;
            beta = (beta + lo) / 2.0;
        }
    }
    let sum: f32 = row.iter().sum();
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::layout_checks::{assert_clusters_kept_apart, clusters};

    fn conditional_perplexity(dist: &[f32], i: usize, perplexity: f32) -> f32 {
        let mut row = vec![0.0; dist.len()];
        calibrate_row(dist, i, perplexity.ln(), &mut row);
        let h: f32 = row.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
        h.exp()
    }

    #[test]
    fn calibration_reaches_the_requested_perplexity() {
        let dist: Vec<f32> = (0..50)
            .map(|j| (j as f32 * 0.37).sin().abs() * 3.0)
            .collect();
        for perplexity in [2.0, 5.0, 20.0] {
            let got = conditional_perplexity(&dist, 3, perplexity);
            assert!(
                (got - perplexity).abs() / perplexity < 1e-2,
                "{got} vs {perplexity}"
            );
        }
    }

    #[test]
    fn joint_probabilities_are_symmetric_and_sum_to_one() {
        let (x, _) = clusters(3, 10, 8, 0.1);
        let n = 30;
        let p = joint_probabilities(&x, 8, 5.0);
        let total: f32 = p.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
        for i in 0..n {
            assert_eq!(p[i * n + i], 0.0);
            for j in 0..n {
                assert!((p[i * n + j] - p[j * n + i]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn separated_clusters_stay_separated_and_kl_falls() {
        let (x, labels) = clusters(4, 40, 16, 0.15);
        let mut t = Tsne::new(&x, 16, 15.0);
        t.step();
        let kl_start = t.kl_divergence();
        for _ in 0..400 {
            t.step();
        }
        let kl_end = t.kl_divergence();
        assert!(kl_end < 0.5 * kl_start, "KL {kl_start} -> {kl_end}");
        assert_clusters_kept_apart(t.layout(), &labels, 4);
    }

    #[test]
    fn new_data_continues_from_the_previous_layout() {
        let (x, _) = clusters(3, 30, 8, 0.1);
        let mut t = Tsne::new(&x, 8, 10.0);
        for _ in 0..350 {
            t.step();
        }
        let spread = t
            .layout()
            .iter()
            .map(|q| q[0].abs().max(q[1].abs()))
            .fold(0.0, f32::max);
        // The same 20 iterations on unchanged data, for comparison: the layout keeps
        // expanding on its own, so "did not jump" means "close to where it would be anyway".
        let mut twin = t.clone();
        twin.set_data(&x, 8);
        // Slightly changed data (as between two evaluations).
        let nudged: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.002 * ((i % 7) as f32 - 3.0))
            .collect();
        t.set_data(&nudged, 8);
        assert_eq!(t.iters_on_data, 0);
        for _ in 0..20 {
            t.step();
            twin.step();
        }
        let apart = twin
            .layout()
            .iter()
            .zip(t.layout())
            .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
            .sum::<f32>()
            / t.len() as f32;
        assert!(
            apart < 0.05 * spread,
            "{apart} apart on average, spread {spread}"
        );
        // A different number of points starts afresh.
        t.set_data(&x[..8 * 10], 8);
        assert_eq!(t.len(), 10);
    }
}
