//! The batch's cosine similarity matrix, the whole batch up to `MATRIX_PAIRS` images: rows/columns `0..m` are view 1 of images `0..m`, `m..2m` their view 2, so
//! positives sit on the two off-diagonals `(i, i + m)` and `(i + m, i)`.

use super::matrix::{l2_normalized_rows, row};

/// Most pairs the dashboard shows: the whole batch up to 128 images (a 256 x 256 map).
pub const MATRIX_PAIRS: usize = 128;

/// Cosine similarities of the first `pairs` positive pairs of a `[2n, d]` batch (rows `i`
/// and `i + n` positive), row-major `[2m, 2m]`, and `m` (at most `pairs` and `n`).
pub fn similarity_matrix(z: &[f32], d: usize, pairs: usize) -> (Vec<f32>, usize) {
    let u = l2_normalized_rows(z, d);
    let n = u.len() / d.max(1) / 2;
    let m = pairs.min(n);
    // Matrix row r is batch row r for view 1 and n + (r - m) for view 2.
    let batch_row = |r: usize| if r < m { r } else { n + r - m };
    let mut out = Vec::with_capacity(4 * m * m);
    for r in 0..2 * m {
        let a = row(&u, d, batch_row(r));
        for c in 0..2 * m {
            let b = row(&u, d, batch_row(c));
            out.push(a.iter().zip(b).map(|(x, y)| x * y).sum());
        }
    }
    (out, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_pairs_view_one_with_view_two_by_hand() {
        // n = 3 images, d = 2. View 1: (1,0), (0,1), (1,1); view 2: (2,0), (0,-1), (-1,-1).
        let z = [
            1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0, -1.0, -1.0, -1.0,
        ];
        let (s, m) = similarity_matrix(&z, 2, 2);
        assert_eq!(m, 2);
        // Rows: img0 v1, img1 v1, img0 v2, img1 v2 (image 2 is cut off).
        let expected = [
            [1.0, 0.0, 1.0, 0.0],
            [0.0, 1.0, 0.0, -1.0],
            [1.0, 0.0, 1.0, 0.0],
            [0.0, -1.0, 0.0, 1.0],
        ];
        for r in 0..4 {
            for c in 0..4 {
                assert!((s[r * 4 + c] - expected[r][c]).abs() < 1e-6, "({r}, {c})");
            }
        }
        // Asking for more pairs than the batch has gives all of them.
        assert_eq!(similarity_matrix(&z, 2, 16).1, 3);
    }
}
