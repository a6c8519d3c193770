//! UMAP (McInnes, Healy & Melville 2018) that runs one epoch at a time and can be handed
//! new data while keeping its layout, like `tsne`, so the live plot animates between
//! evaluations. Written here for the same reason: the Rust UMAP crates fit from scratch
//! only, and warm starts and stepping are what live animation needs.
//!
//! Following umap-learn: exact k-nearest neighbours in cosine distance (one GEMM; the
//! sample is capped like t-SNE's), smooth kNN distances (rho = nearest distance, sigma by
//! bisection so the weights sum to log2 k), fuzzy union w_ij + w_ji - w_ij w_ji, then SGD
//! on the cross-entropy with edges sampled in proportion to their weight, 5 negative
//! samples per positive, gradients clipped to 4, a learning rate falling linearly to 0 over
//! the epochs. a and b are umap-learn's fit for min_dist = 0.1, spread = 1.

use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::metrics::matrix::l2_normalized_rows;

use super::pca::pca_2d;

/// Epochs over the graph for a fresh layout (umap-learn's default for small data).
pub const UMAP_EPOCHS: u32 = 500;
/// Epochs when continuing from the previous layout with new data.
const WARM_EPOCHS: u32 = 150;
/// Learning rate a warm start begins with (a fresh one begins at 1).
const WARM_RATE: f32 = 0.3;
const NEGATIVES: usize = 5;
const A: f32 = 1.577;
const B: f32 = 0.895;

pub struct Umap {
    n: usize,
    neighbours: usize,
    /// (i, j, weight) of the symmetrised fuzzy graph, each undirected edge once.
    edges: Vec<(u32, u32, f32)>,
    /// An edge is sampled every `epochs_per_sample` epochs (1 for the heaviest).
    epochs_per_sample: Vec<f32>,
    next_sample: Vec<f32>,
    y: Vec<[f32; 2]>,
    /// Epochs since the data last changed, and how many this data gets.
    pub iters_on_data: u32,
    epochs: u32,
    start_rate: f32,
    rng: rand::rngs::StdRng,
}

impl Umap {
    /// A fresh layout of row-major `[n, d]` data, initialised from its PCA scaled to
    /// +-10 (umap-learn's spectral initialisation is replaced by PCA: deterministic and
    /// cheap, and it keeps the global arrangement).
    pub fn new(x: &[f32], d: usize, neighbours: usize) -> Self {
        let n = x.len().checked_div(d).unwrap_or(0);
        let pca = pca_2d(&l2_normalized_rows(x, d), d);
        let extent = pca
            .points
            .iter()
            .map(|q| q[0].abs().max(q[1].abs()))
            .fold(1e-12f32, f32::max);
        let y = pca
            .points
            .iter()
            .map(|q| [10.0 * q[0] / extent, 10.0 * q[1] / extent])
            .collect();
        let mut u = Self {
            n,
            neighbours,
            edges: Vec::new(),
            epochs_per_sample: Vec::new(),
            next_sample: Vec::new(),
            y,
            iters_on_data: 0,
            epochs: UMAP_EPOCHS,
            start_rate: 1.0,
            rng: rand::rngs::StdRng::seed_from_u64(0),
        };
        u.build_graph(x, d);
        u
    }

    /// New data for the same points: the graph is rebuilt, the layout kept, and a shorter,
    /// gentler optimisation continues from it. A different point count starts afresh.
    pub fn set_data(&mut self, x: &[f32], d: usize) {
        if x.len().checked_div(d) != Some(self.n) {
            *self = Self::new(x, d, self.neighbours);
            return;
        }
        self.build_graph(x, d);
        self.iters_on_data = 0;
        self.epochs = WARM_EPOCHS;
        self.start_rate = WARM_RATE;
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

    /// Whether this data's epochs are done.
    pub fn settled(&self) -> bool {
        self.iters_on_data >= self.epochs
    }

    /// One epoch of SGD over the edges due this epoch.
    pub fn step(&mut self) {
        if self.n < 2 || self.settled() {
            return;
        }
        let epoch = self.iters_on_data as f32;
        let rate = self.start_rate * (1.0 - epoch / self.epochs as f32);
        for e in 0..self.edges.len() {
            if self.next_sample[e] > epoch {
                continue;
            }
            self.next_sample[e] += self.epochs_per_sample[e];
            let (i, j, _) = self.edges[e];
            let (i, j) = (i as usize, j as usize);
            // Attraction along the edge, applied to both ends.
            let (dx, dy) = (self.y[i][0] - self.y[j][0], self.y[i][1] - self.y[j][1]);
            let dist2 = dx * dx + dy * dy;
            if dist2 > 0.0 {
                let coeff = -2.0 * A * B * dist2.powf(B - 1.0) / (1.0 + A * dist2.powf(B));
                for (c, delta) in [dx, dy].into_iter().enumerate() {
                    let g = (coeff * delta).clamp(-4.0, 4.0) * rate;
                    self.y[i][c] += g;
                    self.y[j][c] -= g;
                }
            }
            // Repulsion from a few random points.
            for _ in 0..NEGATIVES {
                let k = self.rng.random_range(0..self.n);
                if k == i {
                    continue;
                }
                let (dx, dy) = (self.y[i][0] - self.y[k][0], self.y[i][1] - self.y[k][1]);
                let dist2 = dx * dx + dy * dy;
                let coeff = 2.0 * B / ((0.001 + dist2) * (1.0 + A * dist2.powf(B)));
                for (c, delta) in [dx, dy].into_iter().enumerate() {
                    let g = if coeff > 0.0 {
                        (coeff * delta).clamp(-4.0, 4.0)
                    } else {
                        4.0
                    };
                    self.y[i][c] += g * rate;
                }
            }
        }
        self.iters_on_data += 1;
    }

    /// The fuzzy graph of `x` and its edge sampling schedule.
    fn build_graph(&mut self, x: &[f32], d: usize) {
        let n = self.n;
        self.edges.clear();
        if n < 2 {
            return;
        }
        let k = self.neighbours.clamp(1, n - 1);
        let xn = DMatrix::from_row_slice(n, d, &l2_normalized_rows(x, d));
        let gram = &xn * xn.transpose();
        // Directed memberships: row i's k nearest with their weights.
        let directed: Vec<Vec<(usize, f32)>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut near: Vec<(usize, f32)> = gram
                    .column(i)
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, &c)| (j, (1.0 - c).max(0.0)))
                    .collect();
                near.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1));
                near.truncate(k);
                smooth_memberships(&mut near, k);
                near
            })
            .collect();
        let mut weights = std::collections::HashMap::<(u32, u32), (f32, f32)>::new();
        for (i, row) in directed.iter().enumerate() {
            for &(j, w) in row {
                let key = (i.min(j) as u32, i.max(j) as u32);
                let entry = weights.entry(key).or_insert((0.0, 0.0));
                if i < j {
                    entry.0 = w;
                } else {
                    entry.1 = w;
                }
            }
        }
        let mut edges: Vec<(u32, u32, f32)> = weights
            .into_iter()
            .map(|((i, j), (a, b))| (i, j, a + b - a * b))
            .filter(|e| e.2 > 0.0)
            .collect();
        // A fixed order, so a layout is reproducible.
        edges.sort_unstable_by_key(|e| (e.0, e.1));
        let max = edges.iter().map(|e| e.2).fold(f32::MIN_POSITIVE, f32::max);
        self.epochs_per_sample = edges.iter().map(|e| max / e.2).collect();
        // The heaviest edges are due from epoch 0, the others one period later.
        self.next_sample = self.epochs_per_sample.iter().map(|e| e - 1.0).collect();
        self.edges = edges;
    }
}

/// Turns a point's k nearest distances into memberships exp(-(d - rho) / sigma), with rho
/// the nearest distance and sigma such that they sum to log2(k).
fn smooth_memberships(near: &mut [(usize, f32)], k: usize) {
    let target = (k as f32).log2();
    let rho = near.iter().map(|p| p.1).fold(f32::INFINITY, f32::min);
    let sum = |sigma: f32| -> f32 {
        near.iter()
            .map(|p| (-((p.1 - rho).max(0.0)) / sigma).exp())
            .sum()
    };
    let (mut lo, mut hi, mut sigma) = (0.0f32, f32::INFINITY, 1.0f32);
    for _ in 0..64 {
        let s = sum(sigma);
        if (s - target).abs() < 1e-5 {
            break;
        }
        if s > target {
            hi = sigma;
            sigma = (lo + sigma) / 2.0;
        } else {
            lo = sigma;
            sigma = if hi.is_finite() {
                (sigma + hi) / 2.0
            } else {
                sigma * 2.0
            };
        }
    }
    let sigma = sigma.max(1e-6);
    for p in near.iter_mut() {
        p.1 = (-((p.1 - rho).max(0.0)) / sigma).exp();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::layout_checks::{assert_clusters_kept_apart, centroid, clusters};

    #[test]
    fn memberships_sum_to_log2_k_and_the_nearest_is_one() {
        let mut near: Vec<(usize, f32)> = (0..15).map(|j| (j, 0.2 + 0.05 * j as f32)).collect();
        smooth_memberships(&mut near, 15);
        let total: f32 = near.iter().map(|p| p.1).sum();
        assert!((total - 15f32.log2()).abs() < 1e-3, "{total}");
        assert!((near[0].1 - 1.0).abs() < 1e-6);
        assert!(near.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn separated_clusters_stay_separated() {
        let (x, labels) = clusters(4, 40, 16, 0.15);
        let mut u = Umap::new(&x, 16, 10);
        while !u.settled() {
            u.step();
        }
        assert_clusters_kept_apart(u.layout(), &labels, 4);
    }

    #[test]
    fn new_data_continues_from_the_previous_layout() {
        let (x, labels) = clusters(3, 30, 8, 0.1);
        let mut u = Umap::new(&x, 8, 10);
        while !u.settled() {
            u.step();
        }
        let centroids = |y: &[[f32; 2]]| -> Vec<[f32; 2]> {
            (0..3).map(|c| centroid(y, &labels, c).0).collect()
        };
        let before = centroids(u.layout());
        let spread = u
            .layout()
            .iter()
            .map(|q| q[0].abs().max(q[1].abs()))
            .fold(0.0, f32::max);
        let nudged: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.002 * ((i % 7) as f32 - 3.0))
            .collect();
        let layout = u.layout().to_vec();
        u.set_data(&nudged, 8);
        // It starts from the previous picture and needs fewer epochs than a fresh one.
        assert_eq!(u.layout(), layout.as_slice());
        let mut epochs = 0;
        while !u.settled() {
            u.step();
            epochs += 1;
        }
        assert_eq!(epochs, WARM_EPOCHS);
        // Points shuffle within their clusters and the picture may keep expanding, but the
        // clusters keep their arrangement: every cluster-to-cluster direction is kept (no
        // jump, flip or rotation).
        let after = centroids(u.layout());
        for a in 0..3 {
            for b in a + 1..3 {
                let v0 = [before[b][0] - before[a][0], before[b][1] - before[a][1]];
                let v1 = [after[b][0] - after[a][0], after[b][1] - after[a][1]];
                let cos = (v0[0] * v1[0] + v0[1] * v1[1])
                    / (v0[0].hypot(v0[1]) * v1[0].hypot(v1[1])).max(1e-12);
                assert!(
                    cos > 0.95,
                    "clusters {a}-{b} turned: cos {cos}, spread {spread}"
                );
            }
        }
        // A different number of points starts afresh.
        u.set_data(&x[..8 * 10], 8);
        assert_eq!(u.len(), 10);
    }
}
