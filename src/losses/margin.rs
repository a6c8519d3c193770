//! The loss ladder's first rungs: distances between embeddings, Hadsell et al.'s margin
//! contrastive loss (2006) and the triplet loss (Schroff et al. 2015, FaceNet).

use burn::tensor::Tensor;
use burn::tensor::activation::relu;

/// Squared Euclidean distances between every row of `a` (`[n, d]`) and of `b` (`[m, d]`):
/// `[n, m]`. Each is summed from the differences `(a_i - b_j)^2`, as PyTorch's
/// `pairwise_distance` does, not expanded as `|a|^2 + |b|^2 - 2ab`: in f32 the expansion
/// resolves a distance only to about 1e-7 |a|^2, so near pairs (positives, duplicate images,
/// a collapsing model) would get a wrong distance and, through the square root, a wrong
/// gradient. The `[n, m, d]` differences cost `n m d` floats: 2 M at a batch of 128.
pub fn pairwise_sq_distances(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let (n, m) = (a.dims()[0], b.dims()[0]);
    let differences = a.unsqueeze_dim::<3>(1) - b.unsqueeze_dim::<3>(0);
    differences.powf_scalar(2.0).sum_dim(2).reshape([n, m])
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

    /// Two unit rows 0.1 degrees apart and a row and itself: the expansion
    /// |a|^2 + |b|^2 - 2ab gets the first 2% wrong in f32 (and its square root's gradient
    /// with it); from the differences it is exact to f32's resolution of the difference.
    #[test]
    fn near_pairs_are_resolved_with_their_gradient() {
        let device = Device::flex().autodiff();
        let theta = 0.1f64.to_radians();
        let a = [0.6f64, 0.8, 0.0];
        // `a` rotated by theta in the plane of `a` and the z axis, and `a` itself.
        let b = [0.6 * theta.cos(), 0.8 * theta.cos(), theta.sin()];
        let rows = |r: &[[f64; 3]]| {
            let v: Vec<f32> = r.iter().flatten().map(|&x| x as f32).collect();
            Tensor::<2>::from_data(TensorData::new(v, [r.len(), 3]), &device)
        };
        let x = rows(&[a]).require_grad();
        let d2 = pairwise_sq_distances(x.clone(), rows(&[b, a]));
        let got: Vec<f32> = d2.clone().into_data().iter::<f32>().collect();
        // The f32 rows as stored, in f64: the distance the inputs really have.
        let stored = |r: [f64; 3]| r.map(|v| f64::from(v as f32));
        let (af, bf) = (stored(a), stored(b));
        let want: f64 = (0..3).map(|k| (af[k] - bf[k]).powi(2)).sum();
        assert!(
            (f64::from(got[0]) - want).abs() < 1e-4 * want,
            "{} vs {want}",
            got[0]
        );
        assert_eq!(got[1], 0.0);
        // d|a - b| / da = (a - b) / |a - b|: a unit vector, exactly as long as 1.
        let distance = d2.narrow(1, 0, 1).sqrt().sum();
        let g: Vec<f32> = x
            .grad(&distance.backward())
            .unwrap()
            .into_data()
            .iter::<f32>()
            .collect();
        let norm = g.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
        let want_dir: Vec<f64> = (0..3).map(|k| (af[k] - bf[k]) / want.sqrt()).collect();
        assert!((norm - 1.0).abs() < 1e-3, "gradient length {norm}");
        for k in 0..3 {
            assert!(
                (f64::from(g[k]) - want_dir[k]).abs() < 1e-3,
                "{g:?} vs {want_dir:?}"
            );
        }
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
