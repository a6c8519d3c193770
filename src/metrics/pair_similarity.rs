//! Mean cosine similarity of positive pairs and of negative pairs in a `[2n, d]` batch:
//! the two numbers a contrastive loss pushes apart (positives up, negatives down).

use super::matrix::{l2_normalized_rows, row};

/// `(positive, negative)` means. Rows `i` and `i + n` are the positive pairs; every other
/// pair of distinct rows is a negative. NaN for fewer than two images.
pub fn pair_similarities(z: &[f32], d: usize) -> (f32, f32) {
    let u = l2_normalized_rows(z, d);
    let rows = u.len() / d.max(1);
    let n = rows / 2;
    if n < 2 {
        return (f32::NAN, f32::NAN);
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
            if j == i + n {
                pos += dot(i, j);
            } else {
                neg += dot(i, j);
                negs += 1;
            }
        }
    }
    ((pos / n as f64) as f32, (neg / negs as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_means() {
        // n = 2: rows 0,2 identical (cos 1), rows 1,3 orthogonal (cos 0).
        // Negatives: (0,1)=0, (0,3)=1, (1,2)=0, (2,3)=1 -> mean 0.5.
        let z = [1.0, 0.0, 0.0, 2.0, 3.0, 0.0, 1.0, 0.0];
        let (pos, neg) = pair_similarities(&z, 2);
        assert!((pos - 0.5).abs() < 1e-6, "{pos}");
        assert!((neg - 0.5).abs() < 1e-6, "{neg}");
        let z = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let (pos, neg) = pair_similarities(&z, 2);
        assert!((pos - 1.0).abs() < 1e-6 && neg.abs() < 1e-6, "{pos} {neg}");
    }
}
