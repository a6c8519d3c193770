//! Weighted kNN classification on frozen features (Wu et al. 2018, sec. 3.4, as used by
//! most SSL evaluations): cosine similarity, top-k neighbours from the bank, each voting for
//! its label with weight exp(sim / T). Similarities come from one matrix product
//! (nalgebra, blocked GEMM), top-k by partial selection.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::matrix::l2_normalized_rows;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnnParams {
    pub k: usize,
    pub temperature: f32,
}

impl Default for KnnParams {
    fn default() -> Self {
        Self {
            k: 20,
            temperature: 0.1,
        }
    }
}

/// Predicted label for each query.
pub fn knn_predict(
    bank: &[f32],
    bank_labels: &[u16],
    queries: &[f32],
    d: usize,
    classes: usize,
    params: KnnParams,
) -> Vec<u16> {
    let nb = bank_labels.len();
    let nq = queries.len() / d;
    if nb == 0 || nq == 0 {
        return vec![0; nq];
    }
    let b = DMatrix::from_row_slice(nb, d, &l2_normalized_rows(bank, d));
    let q = DMatrix::from_row_slice(nq, d, &l2_normalized_rows(queries, d));
    // [nb, nq]: column j holds query j's similarity to every bank item (column-major).
    let sims = &b * q.transpose();
    let k = params.k.clamp(1, nb);
    (0..nq)
        .into_par_iter()
        .map(|j| {
            let col = sims.column(j);
            let mut order: Vec<(f32, u16)> = col
                .iter()
                .copied()
                .zip(bank_labels.iter().copied())
                .collect();
            order.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            let mut votes = vec![0.0f32; classes.max(1)];
            for &(s, l) in &order[..k] {
                if let Some(v) = votes.get_mut(l as usize) {
                    *v += (s / params.temperature).exp();
                }
            }
            votes
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(c, _)| c as u16)
        })
        .collect()
}

/// Top-1 accuracy in 0..=1.
pub fn knn_accuracy(
    bank: &[f32],
    bank_labels: &[u16],
    queries: &[f32],
    query_labels: &[u16],
    d: usize,
    classes: usize,
    params: KnnParams,
) -> f32 {
    let pred = knn_predict(bank, bank_labels, queries, d, classes, params);
    if pred.is_empty() {
        return 0.0;
    }
    let hits = pred
        .iter()
        .zip(query_labels)
        .filter(|(p, l)| p == l)
        .count();
    hits as f32 / pred.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn clusters(
        n_per: usize,
        classes: usize,
        d: usize,
        spread: f32,
        seed: u64,
    ) -> (Vec<f32>, Vec<u16>) {
        let mut rng = crate::seeding::rng_for(seed, crate::seeding::Stream::Sample, &[]);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n_per * classes {
            let c = i % classes;
            for k in 0..d {
                let centre = if k == c { 1.0 } else { 0.0 };
                x.push(centre + spread * rng.random_range(-1.0..1.0));
            }
            y.push(c as u16);
        }
        (x, y)
    }

    #[test]
    fn separable_clusters_are_classified_and_random_labels_are_chance() {
        let (bank, bl) = clusters(50, 4, 8, 0.2, 1);
        let (q, ql) = clusters(20, 4, 8, 0.2, 2);
        let acc = knn_accuracy(&bank, &bl, &q, &ql, 8, 4, KnnParams::default());
        assert!(acc > 0.99, "{acc}");

        // Same points, labels unrelated to position: chance level (1/4) within noise.
        let (bank, _) = clusters(100, 4, 8, 2.0, 3);
        let mut rng = crate::seeding::rng_for(4, crate::seeding::Stream::Sample, &[]);
        let bl: Vec<u16> = (0..400).map(|_| rng.random_range(0..4u16)).collect();
        let ql: Vec<u16> = (0..400).map(|_| rng.random_range(0..4u16)).collect();
        let (q, _) = clusters(100, 4, 8, 2.0, 5);
        let acc = knn_accuracy(&bank, &bl, &q, &ql, 8, 4, KnnParams::default());
        assert!((0.15..0.35).contains(&acc), "{acc}");
    }

    #[test]
    fn single_neighbour_is_the_nearest_by_cosine() {
        // Bank: two directions; a query close to the second by angle (not by distance).
        let bank = [1.0, 0.0, 0.0, 5.0];
        let labels = [0, 1];
        let q = [0.1, 0.3];
        let p = knn_predict(
            &bank,
            &labels,
            &q,
            2,
            2,
            KnnParams {
                k: 1,
                temperature: 0.1,
            },
        );
        assert_eq!(p, vec![1]);
    }
}
