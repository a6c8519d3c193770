//! The patch (im2col) formulation of the fused convolution's GEMMs, for every convolution
//! Winograd does not take (strided, 1x1, or on an image's few channels):
//! Z = im2col(X) W, dW = im2col(X)^T dZ, dX = col2im(dZ W^T), over tiles of rows that are
//! patch-matrixed while in cache (no `[M, 9*Ci]` matrix is ever built).

use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::extension::{slice, sum_in_order, tensor};
use super::gemm_into::{Matrix, multiply_into};
use super::kernels::{ConvGeometry, col2im_image, matrix_to_weight, patch_matrix};
use super::norm::TileMoments;

/// Output positions per tile of the forward convolution (a tile's patch matrix is at most
/// 1024 x 9*Ci floats: 4.5 MB for the widest stage, in L2/L3 while it is used).
const FORWARD_TILE_ROWS: usize = 1024;

/// Floats per weight-gradient tile's patch matrix (1 MiB): built and multiplied while in
/// cache. The rows are a function of the convolution only, so the order in which tiles'
/// partial products are added, and so the result, does not depend on the thread count.
const WEIGHT_GRAD_TILE_FLOATS: usize = 256 * 1024;

/// Floats per input-gradient tile's patch-matrix gradient (1 MiB, whole images): col2im
/// reads it while it is still in cache.
const INPUT_GRAD_TILE_FLOATS: usize = 256 * 1024;

/// `im2col(x) @ W` over every output position, `[M, Co]`, with its per-channel batch
/// mean and biased variance. Tiles of rows are patch-matrixed, multiplied and summarised
/// while in cache: no `[M, 9*Ci]` matrix is ever built, and no pass over the output is
/// needed for the statistics.
pub(super) fn convolve(
    x: &[f32],
    g: &ConvGeometry,
    wmat: &[f32],
) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (m, k, co) = (g.rows(), g.patch(), g.c_out);
    let wmat = Matrix::row_major(wmat, k, co);
    let mut z = vec![0.0f32; m * co];
    let tiles: Vec<TileMoments> = z
        .par_chunks_mut(FORWARD_TILE_ROWS * co)
        .enumerate()
        .map(|(t, z)| {
            let rows = z.len() / co;
            let first = t * FORWARD_TILE_ROWS;
            let cols = patch_matrix(x, g, first..first + rows);
            multiply_into(z, Matrix::row_major(&cols, rows, k), wmat);
            TileMoments::of(z, co)
        })
        .collect();
    let (mean, var) = TileMoments::folded(&tiles, co);
    (tensor(z, [m, co]), mean, var)
}

/// dW = im2col(x)^T dZ, in tiles of rows whose patch matrices are rebuilt from x while in
/// cache, their partial products summed in tile order: `[Co, Ci, k, k]`.
pub(super) fn weight_grad(x: &[f32], g: &ConvGeometry, dz: &FlexTensor) -> FlexTensor {
    let (m, k, co) = (g.rows(), g.patch(), g.c_out);
    let per_tile = weight_grad_tile_rows(k);
    let dz = Matrix::row_major(slice(dz), m, co);
    let partials: Vec<Vec<f32>> = (0..m.div_ceil(per_tile))
        .into_par_iter()
        .map(|t| {
            let rows = t * per_tile..((t + 1) * per_tile).min(m);
            let len = rows.len();
            let cols = patch_matrix(x, g, rows.clone());
            let mut partial = vec![0.0f32; k * co];
            multiply_into(
                &mut partial,
                Matrix::row_major(&cols, len, k).t(),
                dz.rows(rows),
            );
            partial
        })
        .collect();
    let dwmat = sum_in_order(partials, k * co);
    tensor(
        matrix_to_weight(&dwmat, g.c_in, co, g.taps()),
        [co, g.c_in, g.kernel, g.kernel],
    )
}

/// Rows per weight-gradient tile: a patch matrix of about `WEIGHT_GRAD_TILE_FLOATS`.
fn weight_grad_tile_rows(patch: usize) -> usize {
    (WEIGHT_GRAD_TILE_FLOATS / patch).max(64)
}

/// dX = col2im(dZ W^T): `[B, H, W, Ci]`, in tiles of whole images so each tile's
/// patch-matrix gradient is still in cache when col2im reads it.
pub(super) fn input_grad(g: &ConvGeometry, dz: &FlexTensor, wmat: &[f32]) -> FlexTensor {
    let rows_per_image = g.out_height() * g.out_width();
    let images_per_tile = (INPUT_GRAD_TILE_FLOATS / g.patch() / rows_per_image).max(1);
    let image = g.height * g.width * g.c_in;
    let w_t = Matrix::row_major(wmat, g.patch(), g.c_out).t();
    let dz = Matrix::row_major(slice(dz), g.rows(), g.c_out);
    let mut dx = vec![0.0f32; g.input_len()];
    dx.par_chunks_mut(image * images_per_tile)
        .enumerate()
        .for_each(|(t, dx)| {
            let images = dx.len() / image;
            let first = t * images_per_tile * rows_per_image;
            let rows = images * rows_per_image;
            let mut dcols = vec![0.0f32; rows * g.patch()];
            multiply_into(&mut dcols, dz.rows(first..first + rows), w_t);
            for (dx, dcols) in dx
                .chunks_mut(image)
                .zip(dcols.chunks(rows_per_image * g.patch()))
            {
                col2im_image(dcols, g, dx);
            }
        });
    tensor(dx, [g.batch, g.height, g.width, g.c_in])
}
