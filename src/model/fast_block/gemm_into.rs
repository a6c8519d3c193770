//! Matrix products written straight into slices the caller owns, through the `gemm` crate
//! (the kernels behind `Flex::float_matmul`).
//!
//! Why not `Flex::float_matmul`: burn-flex 0.22 allocates each product as a zeroed byte
//! vector (`FlexTensor::empty`), which `Bytes::from_bytes_vec` then copies into an aligned
//! allocation: two extra passes over every output, 13% of a ResNet-18 step under `perf`.
//! Here the product lands where it is used (a tile of the output, a chunk's buffer). faer
//! would offer the same safely, but is not in
//! the tree; `gemm` is, so this file holds the fused block's one `unsafe` call, with every
//! bound it relies on checked first.

use std::ops::Range;

use rayon::prelude::*;

/// Products of at least this many multiply-adds (m*n*k) split across threads inside the
/// GEMM; smaller ones run on the calling thread (burn-flex's threshold, kept).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// A read-only strided view of a matrix of f32: element (r, c) is
/// `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// The first `rows * cols` floats of `data`, row after row.
    pub(super) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        let m = Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        };
        assert!(m.fits(), "matrix {rows}x{cols} over {} floats", data.len());
        m
    }

    /// The transpose (no copy).
    pub(super) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Rows `range` of this matrix (no copy).
    pub(super) fn rows(self, range: Range<usize>) -> Self {
        assert!(
            range.start <= range.end && range.end <= self.rows,
            "rows {range:?} of {}",
            self.rows
        );
        let start = (range.start * self.row_stride).min(self.data.len());
        Self {
            data: &self.data[start..],
            rows: range.len(),
            ..self
        }
    }

    /// Whether every element this view names lies inside `data`.
    fn fits(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1).checked_mul(self.row_stride).and_then(|r| {
            (self.cols - 1)
                .checked_mul(self.col_stride)
                .and_then(|c| r.checked_add(c))
        });
        last.is_some_and(|last| last < self.data.len())
            && isize::try_from(self.row_stride).is_ok()
            && isize::try_from(self.col_stride).is_ok()
    }
}

/// `out = a b`, `out` the `a.rows x b.cols` product row-major in exactly that many floats.
pub(super) fn multiply_into(out: &mut [f32], a: Matrix, b: Matrix) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let threads = if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    multiply(out, a, b, threads);
}

/// `out[i] = a(i) b(i)` for `count` products of one shape, `out` their row-major results
/// one after another; the products run in parallel, each on one thread (the Winograd
/// positions' 16 GEMMs).
pub(super) fn multiply_each_into<'a>(
    out: &mut [f32],
    count: usize,
    a: impl Fn(usize) -> Matrix<'a> + Sync,
    b: impl Fn(usize) -> Matrix<'a> + Sync,
) {
    assert!(
        count > 0 && out.len().is_multiple_of(count),
        "{count} products into {} floats",
        out.len()
    );
    out.par_chunks_mut(out.len() / count)
        .enumerate()
        .for_each(|(i, out)| multiply(out, a(i), b(i), gemm::Parallelism::None));
}

fn multiply(out: &mut [f32], a: Matrix, b: Matrix, threads: gemm::Parallelism) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "product of {m}x{k} by {}x{n}", b.rows);
    assert_eq!(
        out.len(),
        m * n,
        "product {m}x{n} into {} floats",
        out.len()
    );
    assert!(a.fits() && b.fits(), "a strided view outside its data");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    let stride = |s: usize| s as isize; // fits() checked each fits in isize
    #[allow(unsafe_code)]
    // SAFETY: `out` holds exactly m*n floats written row-major (column stride 1, row stride
    // n), and it is a unique borrow, so it aliases neither input. `a` and `b` were checked
    // by `fits`: every element (r, c) they name, for r < rows and c < cols, is inside its
    // slice. `gemm` reads and writes only those elements, and never reads `out`
    // (`read_dst` is false).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop, in f64.
    fn reference(a: Matrix, b: Matrix) -> Vec<f32> {
        let at =
            |m: &Matrix, r: usize, c: usize| m.data[r * m.row_stride + c * m.col_stride] as f64;
        let mut out = Vec::new();
        for r in 0..a.rows {
            for c in 0..b.cols {
                out.push(
                    (0..a.cols)
                        .map(|i| at(&a, r, i) * at(&b, i, c))
                        .sum::<f64>() as f32,
                );
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 20) as f32 / 4096.0
                    - 0.5
            })
            .collect()
    }

    fn close(x: &[f32], y: &[f32]) {
        assert_eq!(x.len(), y.len());
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert!(
                (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
                "element {i}: {p} against {q}"
            );
        }
    }

    #[test]
    fn products_match_the_triple_loop_for_every_layout() {
        // Sizes on either side of the kernels' register blocks and of the threading threshold.
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 9, 31), (200, 300, 190)] {
            let (ad, bd) = (values(m * k, 1), values(k * n, 2));
            let a = Matrix::row_major(&ad, m, k);
            let b = Matrix::row_major(&bd, k, n);
            let mut out = vec![f32::NAN; m * n];
            multiply_into(&mut out, a, b);
            close(&out, &reference(a, b));
            // The same product from transposed storage (column-major views).
            let at_data = transposed(&ad, m, k);
            let bt_data = transposed(&bd, k, n);
            let at = Matrix::row_major(&at_data, k, m).t();
            let bt = Matrix::row_major(&bt_data, n, k).t();
            let mut again = vec![0.0; m * n];
            multiply_into(&mut again, at, bt);
            close(&again, &out);
        }
    }

    /// `rows x cols` row-major data stored column after column.
    fn transposed(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| data[(i % rows) * cols + i / rows])
            .collect()
    }

    #[test]
    fn row_ranges_select_rows_and_an_empty_sum_is_zero() {
        let (ad, bd) = (values(40 * 7, 3), values(7 * 5, 4));
        let a = Matrix::row_major(&ad, 40, 7);
        let b = Matrix::row_major(&bd, 7, 5);
        let full = reference(a, b);
        let mut out = vec![f32::NAN; 10 * 5];
        multiply_into(&mut out, a.rows(20..30), b);
        close(&out, &full[20 * 5..30 * 5]);
        // k = 0: the product is zero.
        let mut empty = vec![7.0; 4];
        multiply_into(
            &mut empty,
            Matrix::row_major(&[], 2, 0),
            Matrix::row_major(&[], 0, 2),
        );
        assert_eq!(empty, [0.0; 4]);
    }

    #[test]
    fn batched_products_each_land_in_their_own_block() {
        let (ad, bd) = (values(16 * 6 * 4, 5), values(16 * 4 * 3, 6));
        let mut out = vec![0.0; 16 * 6 * 3];
        multiply_each_into(
            &mut out,
            16,
            |i| Matrix::row_major(&ad[i * 24..(i + 1) * 24], 6, 4),
            |i| Matrix::row_major(&bd[i * 12..(i + 1) * 12], 4, 3),
        );
        for i in 0..16 {
            let want = reference(
                Matrix::row_major(&ad[i * 24..(i + 1) * 24], 6, 4),
                Matrix::row_major(&bd[i * 12..(i + 1) * 12], 4, 3),
            );
            close(&out[i * 18..(i + 1) * 18], &want);
        }
    }

    #[test]
    #[should_panic(expected = "matrix")]
    fn a_view_larger_than_its_data_is_refused() {
        let _ = Matrix::row_major(&[0.0; 5], 2, 3);
    }

    #[test]
    #[should_panic(expected = "into")]
    fn an_output_of_the_wrong_size_is_refused() {
        let d = [0.0; 6];
        multiply_into(
            &mut [0.0; 5],
            Matrix::row_major(&d, 2, 3),
            Matrix::row_major(&d, 3, 2),
        );
    }
}
