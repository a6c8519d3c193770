//! The loss ladder's first rungs: distances between embeddings, Hadsell et al.'s margin
//! contrastive loss (2006) and the triplet loss (Schroff et al. 2015, FaceNet).

use burn::tensor::Tensor;
use burn::tensor::activation::relu;

/// Squared Euclidean distances between every row of `a` (`[n, d]`) and of `b` (`[m, d]`):
/// `[n, m]`, clamped at 0 against rounding.
pub fn pairwise_sq_distances(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let a2 = a.clone().powf_scalar(2.0).sum_dim(1);
    let b2 = b.clone().powf_scalar(2.0).sum_dim(1).transpose();
    (a2 + b2 - a.matmul(b.transpose()) * 2.0).clamp_min(0.0)
}

/// Hadsell, Chopra, LeCun 2006 (eq. 4): similar pairs are pulled together by D^2/2,
/// dissimilar ones pushed apart until they are `margin` away: max(0, m - D)^2/2.
/// `pos_sq`, `neg_sq`: squared distances (`[p]`, `[q]`). Returns mean over positives plus
/// mean over negatives, so the two kinds weigh the same whatever their counts.
pub fn margin_contrastive(pos_sq: Tensor<1>, neg_sq: Tensor<1>, margin: f64) -> Tensor<1> {
    let pull = pos_sq.mean() / 2.0;
    // sqrt has an infinite slope at 0: keep identical negatives differentiable.
    let neg_d = (neg_sq + 1e-12).sqrt();
    let push = relu(-neg_d + margin).powf_scalar(2.0).mean() / 2.0;
    pull + push
}

/// FaceNet's triplet loss on squared distances: mean of max(0, d(a,p) - d(a,n) + margin).
pub fn triplet(ap_sq: Tensor<1>, an_sq: Tensor<1>, margin: f64) -> Tensor<1> {
    relu(ap_sq - an_sq + margin).mean()
}

/// How a triplet's negative is chosen among the candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mining {
    /// Any other image, uniformly.
    Random,
    /// The closest negative that is still farther than the positive (FaceNet sec. 3.2);
    /// when none is, the farthest one (as TensorFlow Addons' semi-hard loss).
    SemiHard,
    /// The closest negative.
    Hard,
}

/// Picks one negative column per anchor row from `dist` (`n x n` squared distances, row i =
/// anchor i, column j = candidate j, column i is the positive). `random` gives a uniform
/// draw in `0..n-1` for the random strategy.
pub fn choose_negatives(
    dist: &[f32],
    n: usize,
    mining: Mining,
    mut random: impl FnMut(usize) -> usize,
) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let row = &dist[i * n..(i + 1) * n];
            let candidates = (0..n).filter(|&j| j != i);
            let closest =
                |it: &mut dyn Iterator<Item = usize>| it.min_by(|&a, &b| row[a].total_cmp(&row[b]));
            match mining {
                Mining::Random => {
                    let r = random(n - 1);
                    if r >= i { r + 1 } else { r }
                }
                Mining::Hard => closest(&mut candidates.clone()).unwrap_or(i),
                Mining::SemiHard => {
                    let pos = row[i];
                    closest(&mut candidates.clone().filter(|&j| row[j] > pos))
                        .or_else(|| candidates.max_by(|&a, &b| row[a].total_cmp(&row[b])))
                        .unwrap_or(i)
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use burn::tensor::{Device, TensorData};

    fn vector(v: &[f32], d: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), d)
    }

    #[test]
    fn squared_distances_match_by_hand() {
        let d = Device::flex();
        let a = matrix(&[[0.0, 0.0], [1.0, 2.0]], &d);
        let b = matrix(&[[3.0, 4.0]], &d);
        let got: Vec<f32> = pairwise_sq_distances(a, b)
            .into_data()
            .iter::<f32>()
            .collect();
        assert_eq!(got.len(), 2);
        close(got[0], 25.0, 1e-4);
        close(got[1], 8.0, 1e-4);
    }

    #[test]
    fn margin_loss_matches_hadsell_by_hand() {
        let d = Device::flex();
        // Positives at D^2 = 0.25, 1: pull = (0.25 + 1)/2/2. Negatives at D = 0.5 and 2 with
        // m = 1: push = ((1 - 0.5)^2 + 0)/2/2.
        let got = margin_contrastive(vector(&[0.25, 1.0], &d), vector(&[0.25, 4.0], &d), 1.0);
        close(value(got), 1.25 / 4.0 + 0.25 / 4.0, 1e-5);
    }

    #[test]
    fn triplet_loss_matches_by_hand() {
        let d = Device::flex();
        let got = triplet(vector(&[1.0, 0.2], &d), vector(&[0.5, 3.0], &d), 0.3);
        close(value(got), (0.8 + 0.0) / 2.0, 1e-6);
    }

    #[test]
    fn mining_picks_the_documented_negative() {
        // Anchor 0: positive at 2.0; candidates 1 (1.0, harder than the positive),
        // 2 (3.0, semi-hard), 3 (5.0).
        let n = 4;
        let mut dist = vec![0.0f32; n * n];
        dist[..4].copy_from_slice(&[2.0, 1.0, 3.0, 5.0]);
        let pick = |m| choose_negatives(&dist, n, m, |_| 0)[0];
        assert_eq!(pick(Mining::Hard), 1);
        assert_eq!(pick(Mining::SemiHard), 2);
        // No candidate farther than the positive: the farthest one.
        dist[..4].copy_from_slice(&[9.0, 1.0, 3.0, 5.0]);
        assert_eq!(choose_negatives(&dist, n, Mining::SemiHard, |_| 0)[0], 3);
        // Random never returns the anchor's own column.
        for r in 0..3 {
            let got = choose_negatives(&dist, n, Mining::Random, |_| r);
            for (i, j) in got.iter().enumerate() {
                assert_ne!(i, *j);
            }
        }
    }
}
