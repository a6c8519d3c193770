//! Weighted kNN classification on frozen features (Wu et al. 2018, sec. 3.4, as used by
//! most SSL evaluations): cosine similarity, top-k neighbours from the bank, each voting for
//! its label with weight exp(sim / T). Similarities come from one matrix product
//! (nalgebra, blocked GEMM), top-k by partial selection.
//!
//! Queries are scored in blocks of `QUERY_BLOCK`, so only one block's similarities to the
//! bank are held at once and memory stays bounded on a full split. `nearest` finds each
//! query's neighbours once; `vote_each` then votes on them under any labelling of the bank
//! (the class, each nuisance attribute) and any number of k and temperature settings.

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

/// Queries scored per block: the block's similarities to the whole bank, `[bank, block]`,
/// are all that is held at once (60,000 x 512 floats = 123 MB for a full Fashion-MNIST
/// bank, where the whole 10,000-query matrix would be 2.4 GB).
const QUERY_BLOCK: usize = 512;

/// Predicted label for each query.
pub fn knn_predict(
    bank: &[f32],
    bank_labels: &[u16],
    queries: &[f32],
    d: usize,
    classes: usize,
    params: KnnParams,
) -> Vec<u16> {
    knn_predict_each(bank, bank_labels, queries, d, classes, &[params])
        .pop()
        .unwrap_or_default()
}

/// Predicted labels for each query under each of `params`, from one pass over the
/// similarities: `result[p][query]`.
pub fn knn_predict_each(
    bank: &[f32],
    bank_labels: &[u16],
    queries: &[f32],
    d: usize,
    classes: usize,
    params: &[KnnParams],
) -> Vec<Vec<u16>> {
    let k_max = params.iter().map(|p| p.k).max().unwrap_or(1);
    let near = nearest(bank, queries, d, k_max);
    vote_each(&near, bank_labels, classes, params)
}

/// Each query's `k` nearest bank rows by cosine, nearest first, as (similarity, bank row):
/// computed once, they answer any labelling of the bank (the class, each attribute).
pub fn nearest(bank: &[f32], queries: &[f32], d: usize, k: usize) -> Vec<Vec<(f32, u32)>> {
    let d = d.max(1);
    let (nb, nq) = (bank.len() / d, queries.len() / d);
    if nb == 0 {
        return vec![Vec::new(); nq];
    }
    let b = DMatrix::from_row_slice(nb, d, &l2_normalized_rows(bank, d));
    let queries = l2_normalized_rows(queries, d);
    let k = k.clamp(1, nb);
    let mut out = Vec::with_capacity(nq);
    for block in queries.chunks(QUERY_BLOCK * d) {
        let q = DMatrix::from_row_slice(block.len() / d, d, block);
        // [nb, block]: column j holds query j's similarity to every bank item.
        let sims = &b * q.transpose();
        out.par_extend((0..q.nrows()).into_par_iter().map(|j| {
            let mut order: Vec<(f32, u32)> = sims.column(j).iter().copied().zip(0u32..).collect();
            order.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            order.truncate(k);
            order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
            order
        }));
    }
    out
}

/// Each query's label under each of `params`: a weighted vote of its first `p.k` nearest
/// rows' `labels`. `result[p][query]`; 0 for a query with no neighbours.
pub fn vote_each(
    nearest: &[Vec<(f32, u32)>],
    labels: &[u16],
    classes: usize,
    params: &[KnnParams],
) -> Vec<Vec<u16>> {
    params
        .iter()
        .map(|p| {
            nearest
                .par_iter()
                .map(|near| {
                    if near.is_empty() {
                        return 0;
                    }
                    let first = &near[..p.k.max(1).min(near.len())];
                    let labelled = first.iter().map(|&(s, i)| (s, labels[i as usize]));
                    weighted_vote(labelled, classes, p.temperature)
                })
                .collect()
        })
        .collect()
}

/// The class with the largest sum of exp(similarity / t) over `neighbours`. Each term is
/// taken relative to the most similar neighbour, exp((s - s_max) / t): the same vote
/// scaled by one factor, which for a small `t` (a cosine of 1 at t = 0.01 is e^100)
/// would overflow f32 to infinity and tie every class that has a close neighbour.
fn weighted_vote(neighbours: impl IntoIterator<Item = (f32, u16)>, classes: usize, t: f32) -> u16 {
    let neighbours: Vec<(f32, u16)> = neighbours.into_iter().collect();
    let best = neighbours
        .iter()
        .map(|&(s, _)| s)
        .filter(|s| s.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    let best = if best.is_finite() { best } else { 0.0 };
    let mut votes = vec![0.0f64; classes.max(1)];
    for (s, l) in neighbours {
        if let Some(v) = votes.get_mut(l as usize) {
            *v += f64::from((s - best) / t).exp();
        }
    }
    votes
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(c, _)| c as u16)
}

/// The fraction of `predicted` equal to `truth`, in 0..=1 (0 when empty).
pub fn top1(predicted: &[u16], truth: &[u16]) -> f32 {
    if predicted.is_empty() {
        return 0.0;
    }
    let hits = predicted.iter().zip(truth).filter(|(p, l)| p == l).count();
    hits as f32 / predicted.len() as f32
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
    top1(
        &knn_predict(bank, bank_labels, queries, d, classes, params),
        query_labels,
    )
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

    #[test]
    fn a_small_temperature_still_weighs_the_votes() {
        // One very close neighbour of class 0 against two a little further of class 3.
        let near = [(0.99, 0), (0.98, 3), (0.97, 3)];
        // At t = 1 the two together outweigh the one: e^0.99 < e^0.98 + e^0.97.
        assert_eq!(weighted_vote(near, 4, 1.0), 3);
        // At t = 0.001 the closest decides (e^990 would overflow f32 and tie every class).
        assert_eq!(weighted_vote(near, 4, 0.001), 0);
        assert_eq!(weighted_vote(near, 4, 1e-6), 0);
        // Reversed classes, reversed verdict: no preference for a class index.
        assert_eq!(
            weighted_vote([(0.99, 3), (0.98, 0), (0.97, 0)], 4, 0.001),
            3
        );
    }

    /// The vote by brute force: every bank item's similarity, sorted, the first k.
    fn brute_force(bank: &[f32], labels: &[u16], q: &[f32], d: usize, p: KnnParams) -> u16 {
        let unit = |v: &[f32]| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.iter().map(|x| x / n).collect::<Vec<_>>()
        };
        let q = unit(q);
        let mut sims: Vec<(f32, u16)> = bank
            .chunks(d)
            .zip(labels)
            .map(|(b, &l)| (unit(b).iter().zip(&q).map(|(a, b)| a * b).sum(), l))
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
        weighted_vote(sims[..p.k].iter().copied(), 4, p.temperature)
    }

    #[test]
    fn blocked_queries_and_several_ks_match_brute_force() {
        // More queries than one block, so the blocking is exercised.
        let (bank, bl) = clusters(150, 4, 8, 1.5, 7);
        let (q, _) = clusters(300, 4, 8, 1.5, 8);
        let settings = [
            KnnParams {
                k: 20,
                temperature: 0.1,
            },
            KnnParams {
                k: 200,
                temperature: 0.1,
            },
            KnnParams {
                k: 1,
                temperature: 0.5,
            },
        ];
        let got = knn_predict_each(&bank, &bl, &q, 8, 4, &settings);
        assert!(q.len() / 8 > QUERY_BLOCK);
        for (p, predicted) in settings.iter().zip(&got) {
            assert_eq!(predicted.len(), q.len() / 8);
            for (j, &label) in predicted.iter().enumerate() {
                let expected = brute_force(&bank, &bl, &q[j * 8..(j + 1) * 8], 8, *p);
                assert_eq!(label, expected, "query {j} with {p:?}");
            }
        }
    }
}
