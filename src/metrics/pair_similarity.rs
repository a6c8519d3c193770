//! Cosine similarity of positive pairs and of negative pairs in a `[2n, d]` batch: the two
//! distributions a contrastive loss pushes apart (positives up, negatives down), as means
//! and as histograms over [-1, 1].

use super::matrix::{l2_normalized_rows, row};

/// Bins of the similarity histograms, evenly spaced over [-1, 1].
pub const SIMILARITY_BINS: usize = 40;

/// The batch's pair similarities.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSimilarity {
    /// Mean cosine of positive pairs (NaN for fewer than two images).
    pub pos_mean: f32,
    /// Mean cosine of negative pairs (NaN for fewer than two images).
    pub neg_mean: f32,
    /// Counts of positive-pair cosines per bin ([`SIMILARITY_BINS`] over [-1, 1]).
    pub pos_hist: Vec<u32>,
    pub neg_hist: Vec<u32>,
}

/// The bin of cosine `c` (values at 1 fall in the last bin).
pub fn similarity_bin(c: f64) -> usize {
    let t = ((c + 1.0) / 2.0).clamp(0.0, 1.0);
    ((t * SIMILARITY_BINS as f64) as usize).min(SIMILARITY_BINS - 1)
}

/// Rows `i` and `i + n` are the positive pairs; every other pair of distinct rows is a
/// negative.
pub fn pair_similarity(z: &[f32], d: usize) -> PairSimilarity {
    let u = l2_normalized_rows(z, d);
    let rows = u.len() / d.max(1);
    let n = rows / 2;
    let mut out = PairSimilarity {
        pos_mean: f32::NAN,
        neg_mean: f32::NAN,
        pos_hist: vec![0; SIMILARITY_BINS],
        neg_hist: vec![0; SIMILARITY_BINS],
    };
    if n < 2 {
        return out;
    }
    let dot = |a: usize, b: usize| -> f64 {
        row(&u, d, a)
            .iter()
            .zip(row(&u, d, b))
            .map(|(x, y)| f64::from(x * y))
            .sum()
    };
    let (mut pos, mut neg, mut negs) = (0.0, 0.0, 0usize);
    for i in 0..rows {
        for j in i + 1..rows {
            let c = dot(i, j);
            if j == i + n {
                pos += c;
                out.pos_hist[similarity_bin(c)] += 1;
            } else {
                neg += c;
                negs += 1;
                out.neg_hist[similarity_bin(c)] += 1;
            }
        }
    }
    out.pos_mean = (pos / n as f64) as f32;
    out.neg_mean = (neg / negs as f64) as f32;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_means_and_counts() {
        // n = 2: rows 0,2 identical (cos 1), rows 1,3 orthogonal (cos 0).
        // Negatives: (0,1)=0, (0,3)=1, (1,2)=0, (2,3)=1 -> mean 0.5.
        let z = [1.0, 0.0, 0.0, 2.0, 3.0, 0.0, 1.0, 0.0];
        let s = pair_similarity(&z, 2);
        assert!((s.pos_mean - 0.5).abs() < 1e-6, "{}", s.pos_mean);
        assert!((s.neg_mean - 0.5).abs() < 1e-6, "{}", s.neg_mean);
        let (zero, one) = (similarity_bin(0.0), similarity_bin(1.0));
        assert_eq!((zero, one), (SIMILARITY_BINS / 2, SIMILARITY_BINS - 1));
        assert_eq!((s.pos_hist[zero], s.pos_hist[one]), (1, 1));
        assert_eq!((s.neg_hist[zero], s.neg_hist[one]), (2, 2));
        assert_eq!(s.pos_hist.iter().sum::<u32>(), 2);
        // 2n = 4 rows: 6 pairs, 2 positive, 4 negative.
        assert_eq!(s.neg_hist.iter().sum::<u32>(), 4);
        let z = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let s = pair_similarity(&z, 2);
        assert!((s.pos_mean - 1.0).abs() < 1e-6 && s.neg_mean.abs() < 1e-6);
        // Opposite vectors fall in the first bin.
        let s = pair_similarity(&[1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0], 2);
        assert_eq!(s.pos_hist[0], 1);
    }

    #[test]
    fn bins_cover_minus_one_to_one_and_centres_sit_inside() {
        assert_eq!(similarity_bin(-1.0), 0);
        assert_eq!(similarity_bin(-1.5), 0);
        assert_eq!(similarity_bin(0.999), SIMILARITY_BINS - 1);
        for i in 0..SIMILARITY_BINS {
            let centre = -1.0 + (i as f64 + 0.5) * 2.0 / SIMILARITY_BINS as f64;
            assert_eq!(similarity_bin(centre), i);
        }
    }
}
