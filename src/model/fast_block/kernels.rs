//! The convolution's data layouts for the fused block's GEMMs, on plain slices: the patch
//! matrix of NHWC input, its adjoint (col2im) and the weight matrix.
//!
//! Layouts: activations are NHWC (`[B, H, W, C]`, row-major); a convolution's patch matrix
//! ("cols") is `[B*Ho*Wo, k*k*Ci]` with the columns ordered (kh, kw, ci); the weight matrix
//! is `[k*k*Ci, Co]` in the same row order. The kernel is 3x3 with padding 1 or 1x1 with
//! none (ResNet's projection shortcut). The BatchNorm passes are in `norm`.

use rayon::prelude::*;

/// The geometry of one square convolution (3x3 padding 1, or 1x1 padding 0) on NHWC data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub stride: usize,
    /// 3 or 1; the padding is `kernel / 2`.
    pub kernel: usize,
}

impl ConvGeometry {
    /// A `kernel` x `kernel` convolution over `batch` square images of side `size`.
    pub fn square(
        batch: usize,
        size: usize,
        (c_in, c_out): (usize, usize),
        stride: usize,
        kernel: usize,
    ) -> Self {
        Self {
            batch,
            height: size,
            width: size,
            c_in,
            c_out,
            stride,
            kernel,
        }
    }

    pub fn pad(&self) -> usize {
        self.kernel / 2
    }

    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.pad() - self.kernel) / self.stride + 1
    }

    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.pad() - self.kernel) / self.stride + 1
    }

    /// Kernel taps: 9 or 1.
    pub fn taps(&self) -> usize {
        self.kernel * self.kernel
    }

    /// Output positions over the whole batch: the GEMM's M.
    pub fn rows(&self) -> usize {
        self.batch * self.out_height() * self.out_width()
    }

    /// Patch length: the GEMM's K.
    pub fn patch(&self) -> usize {
        self.taps() * self.c_in
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.height * self.width * self.c_in
    }
}

/// The patch matrix of `x` (NHWC) for output rows `rows` (a range of `b*Ho*Wo + oh*Wo + ow`):
/// `rows.len() * k*k*Ci` floats, out-of-image taps zeros. Built on the calling thread (for
/// tiles that are already one task each) by appending, so no buffer is zeroed first.
///
/// A kernel row's taps are adjacent pixels, so in NHWC each kernel row of a patch is one
/// contiguous span of the input (`kernel * Ci` floats, less at the image's edges): one copy
/// per kernel row, not one per tap (with 3 channels a tap is 12 bytes, and a copy call
/// each cost more than the bytes).
pub fn patch_matrix(x: &[f32], g: &ConvGeometry, rows: std::ops::Range<usize>) -> Vec<f32> {
    let (ho, wo, ci) = (g.out_height(), g.out_width(), g.c_in);
    let kernel = g.kernel;
    let mut cols = Vec::with_capacity(rows.len() * g.patch());
    for r in rows {
        let (b, rem) = (r / (ho * wo), r % (ho * wo));
        let (oh, ow) = (rem / wo, rem % wo);
        let taps = row_taps(g, ow);
        for kh in 0..kernel {
            let end = cols.len() + kernel * ci;
            match input_row(g, oh, kh) {
                None => cols.resize(end, 0.0),
                Some(ih) => {
                    let start = ((b * g.height + ih) * g.width + taps.first_pixel) * ci;
                    cols.resize(cols.len() + taps.skipped_before * ci, 0.0);
                    append(&mut cols, &x[start..start + taps.len * ci]);
                    cols.resize(end, 0.0);
                }
            }
        }
    }
    cols
}

/// Appends `src` to `cols`. The first layer's spans (one kernel row on 1 or 3 channels:
/// 2-9 floats) are copied as fixed-size arrays, inline, not by a `memcpy` call each.
#[inline(always)]
fn append(cols: &mut Vec<f32>, src: &[f32]) {
    fn fixed<const N: usize>(cols: &mut Vec<f32>, src: &[f32]) {
        let span: [f32; N] = src.try_into().expect("span of N floats");
        cols.extend_from_slice(&span);
    }
    match src.len() {
        2 => fixed::<2>(cols, src),
        3 => fixed::<3>(cols, src),
        6 => fixed::<6>(cols, src),
        9 => fixed::<9>(cols, src),
        _ => cols.extend_from_slice(src),
    }
}

/// The taps of a kernel row that fall inside the image for output column `ow`.
struct RowTaps {
    /// Taps left of the image (padding).
    skipped_before: usize,
    /// Taps inside the image, adjacent pixels from `first_pixel`.
    len: usize,
    first_pixel: usize,
}

fn row_taps(g: &ConvGeometry, ow: usize) -> RowTaps {
    let left = (ow * g.stride) as isize - g.pad() as isize;
    let first = left.max(0);
    let end = (left + g.kernel as isize).min(g.width as isize);
    RowTaps {
        skipped_before: (first - left) as usize,
        len: (end - first).max(0) as usize,
        first_pixel: first as usize,
    }
}

/// The input row under kernel row `kh` of output row `oh`, if inside the image.
fn input_row(g: &ConvGeometry, oh: usize, kh: usize) -> Option<usize> {
    let ih = (oh * g.stride + kh) as isize - g.pad() as isize;
    (ih >= 0 && ih < g.height as isize).then_some(ih as usize)
}

/// The input gradient of one image from its patch-matrix gradient (`Ho*Wo` rows): the
/// adjoint of [`patch_matrix`], summed into `dx` (`H*W*Ci`), a kernel row's span at a time.
pub fn col2im_image(dcols: &[f32], g: &ConvGeometry, dx: &mut [f32]) {
    let (ho, wo, k, ci) = (g.out_height(), g.out_width(), g.patch(), g.c_in);
    let kernel = g.kernel;
    for (r, patch) in dcols.chunks_exact(k).take(ho * wo).enumerate() {
        let (oh, ow) = (r / wo, r % wo);
        let taps = row_taps(g, ow);
        for (kh, src) in patch.chunks_exact(kernel * ci).enumerate() {
            if let Some(ih) = input_row(g, oh, kh) {
                let dst = (ih * g.width + taps.first_pixel) * ci;
                let src = &src[taps.skipped_before * ci..][..taps.len * ci];
                for (d, s) in dx[dst..dst + taps.len * ci].iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
    }
}

/// Output channels per block of the weight layout changes: 16 floats, one cache line of
/// the `[taps*Ci, Co]` matrix, against 16 rows of the `[Co, Ci, k, k]` weight read in runs.
const CHANNEL_BLOCK: usize = 16;

/// Rows of the `[taps*Ci, Co]` matrix per parallel task of the layout changes.
const ROWS_PER_TASK: usize = 64;

/// burn/PyTorch conv weight `[Co, Ci, k, k]` (`taps` = k*k) -> the GEMM's `[taps*Ci, Co]`.
/// A transpose of up to 2.4 M floats per convolution and step: in blocks that read and write
/// whole cache lines, on every thread (element by element, it was 1% of a ResNet-18 step
/// on one thread while the other waited).
pub fn weight_to_matrix(w: &[f32], c_in: usize, c_out: usize, taps: usize) -> Vec<f32> {
    assert_eq!(
        w.len(),
        taps * c_in * c_out,
        "conv weight of {c_out}x{c_in}x{taps}"
    );
    let mut m = vec![0.0f32; taps * c_in * c_out];
    if m.is_empty() {
        return m;
    }
    m.par_chunks_mut(ROWS_PER_TASK * c_out)
        .enumerate()
        .for_each(|(task, rows)| {
            for co0 in (0..c_out).step_by(CHANNEL_BLOCK) {
                let block = co0..(co0 + CHANNEL_BLOCK).min(c_out);
                for (i, row) in rows.chunks_exact_mut(c_out).enumerate() {
                    let r = task * ROWS_PER_TASK + i;
                    let (t, ci) = (r / c_in, r % c_in);
                    for co in block.clone() {
                        row[co] = w[(co * c_in + ci) * taps + t];
                    }
                }
            }
        });
    m
}

/// The inverse of [`weight_to_matrix`], blocked and parallel the same way.
pub fn matrix_to_weight(m: &[f32], c_in: usize, c_out: usize, taps: usize) -> Vec<f32> {
    assert_eq!(
        m.len(),
        taps * c_in * c_out,
        "weight matrix of {c_out}x{c_in}x{taps}"
    );
    let filter = c_in * taps;
    let mut w = vec![0.0f32; taps * c_in * c_out];
    if w.is_empty() {
        return w;
    }
    w.par_chunks_mut(CHANNEL_BLOCK * filter)
        .enumerate()
        .for_each(|(block, filters)| {
            let co0 = block * CHANNEL_BLOCK;
            for r in 0..taps * c_in {
                let (t, ci) = (r / c_in, r % c_in);
                let src = &m[r * c_out + co0..][..filters.len() / filter];
                for (filter_out, &v) in filters.chunks_exact_mut(filter).zip(src) {
                    filter_out[ci * taps + t] = v;
                }
            }
        });
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <patch_matrix(x), c> == <x, col2im(c)> for any x and c, 3x3 and 1x1.
        for kernel in [3, 1] {
            adjoint(kernel);
        }
    }

    fn adjoint(kernel: usize) {
        let g = ConvGeometry {
            batch: 2,
            height: 5,
            width: 4,
            c_in: 3,
            c_out: 1,
            stride: 2,
            kernel,
        };
        let x: Vec<f32> = (0..g.input_len()).map(|i| (i % 11) as f32 - 5.0).collect();
        let c: Vec<f32> = (0..g.rows() * g.patch())
            .map(|i| (i % 7) as f32 * 0.5)
            .collect();
        let cols = patch_matrix(&x, &g, 0..g.rows());
        let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
        let image = g.height * g.width * g.c_in;
        let mut dx = vec![0.0; g.input_len()];
        for (dx, c) in dx
            .chunks_mut(image)
            .zip(c.chunks(g.out_height() * g.out_width() * g.patch()))
        {
            col2im_image(c, &g, dx);
        }
        let rhs: f32 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-3, "kernel {kernel}: {lhs} vs {rhs}");
    }

    #[test]
    fn the_weight_layouts_follow_their_index_formula_and_invert_each_other() {
        // Channel counts off the blocks (16 channels, 64 rows per task) and on them.
        for (c_in, c_out, taps) in [(3, 5, 9), (64, 64, 9), (7, 33, 1), (130, 17, 9)] {
            let w: Vec<f32> = (0..taps * c_in * c_out).map(|i| i as f32).collect();
            let m = weight_to_matrix(&w, c_in, c_out, taps);
            for co in 0..c_out {
                for ci in 0..c_in {
                    for t in 0..taps {
                        assert_eq!(
                            m[(t * c_in + ci) * c_out + co],
                            w[(co * c_in + ci) * taps + t],
                            "{c_in}x{c_out}x{taps} at ({co}, {ci}, {t})"
                        );
                    }
                }
            }
            assert_eq!(matrix_to_weight(&m, c_in, c_out, taps), w);
        }
    }
}
