//! The BatchNorm (+ residual) (+ ReLU) passes of the fused block on plain slices,
//! channels-last (`[rows, channels]`, row-major): the batch moments of a tile, the
//! normalised output, and the backward pass.
//!
//! Every reduction runs over fixed row chunks whose partial sums are added in chunk order,
//! so results do not depend on how rayon schedules the chunks: a step stays a pure function
//! of its inputs, which checkpoint/resume relies on.

use rayon::prelude::*;

/// Rows per partial sum in the per-channel reductions.
const REDUCE_ROWS: usize = 512;

/// Elements per task of the element-wise passes.
const ELEMENTWISE_CHUNK: usize = 32 * 1024;

/// Rows per f32 partial sum of a tile's moments.
const MOMENT_BLOCK_ROWS: usize = 64;

/// Per-channel sums of `f(acc, row)` over `z`'s rows: f32 within blocks of
/// [`MOMENT_BLOCK_ROWS`], f64 across them.
fn blocked_sums(z: &[f32], channels: usize, f: impl Fn(&mut [f32], &[f32])) -> Vec<f64> {
    let mut total = vec![0.0f64; channels];
    let mut block_sum = vec![0.0f32; channels];
    for block in z.chunks(MOMENT_BLOCK_ROWS * channels) {
        block_sum.fill(0.0);
        for row in block.chunks_exact(channels) {
            f(&mut block_sum, row);
        }
        for (t, b) in total.iter_mut().zip(&block_sum) {
            *t += f64::from(*b);
        }
    }
    total
}

fn add_row(acc: &mut [f32], row: &[f32]) {
    let row = &row[..acc.len()];
    for (a, v) in acc.iter_mut().zip(row) {
        *a += v;
    }
}

fn add_squared_deviations(acc: &mut [f32], row: &[f32], mean: &[f32]) {
    let n = acc.len();
    let (row, mean) = (&row[..n], &mean[..n]);
    for c in 0..n {
        let d = row[c] - mean[c];
        acc[c] += d * d;
    }
}

/// Per-channel count, mean and sum of squared deviations of one tile, in f64: tiles are
/// combined exactly (Chan et al.'s pairwise update) without a pass over the whole output.
#[derive(Clone, Debug)]
pub struct TileMoments {
    pub count: f64,
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl TileMoments {
    /// The moments of `z` (`[rows, channels]`), two passes over data still in cache. Rows
    /// are summed in f32 blocks of [`MOMENT_BLOCK_ROWS`] (vectorised across channels) and
    /// the blocks in f64.
    pub fn of(z: &[f32], channels: usize) -> Self {
        let rows = z.len() / channels;
        let sum = blocked_sums(z, channels, add_row);
        let mean: Vec<f64> = sum.iter().map(|s| s / rows.max(1) as f64).collect();
        let mean_f32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let m2 = blocked_sums(z, channels, |acc, row| {
            add_squared_deviations(acc, row, &mean_f32);
        });
        Self {
            count: rows as f64,
            mean,
            m2,
        }
    }

    /// Folds `other` in (order matters only in the last bits; callers fold in tile order).
    pub fn merge(&mut self, other: &TileMoments) {
        let n = self.count + other.count;
        if other.count == 0.0 {
            return;
        }
        for c in 0..self.mean.len() {
            let delta = other.mean[c] - self.mean[c];
            self.mean[c] += delta * other.count / n;
            self.m2[c] += other.m2[c] + delta * delta * self.count * other.count / n;
        }
        self.count = n;
    }

    /// The mean and biased variance of `tiles` folded in order (each over `channels`).
    pub fn folded(tiles: &[TileMoments], channels: usize) -> (Vec<f32>, Vec<f32>) {
        let mut all = TileMoments {
            count: 0.0,
            mean: vec![0.0; channels],
            m2: vec![0.0; channels],
        };
        for t in tiles {
            all.merge(t);
        }
        all.stats()
    }

    /// Mean and biased variance, as f32.
    pub fn stats(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.count.max(1.0);
        (
            self.mean.iter().map(|&m| m as f32).collect(),
            self.m2.iter().map(|&m| (m / n) as f32).collect(),
        )
    }
}
/// Adds chunk partials (each `[channels]`, in chunk order) into f64 totals.
fn add_partials(partials: Vec<Vec<f32>>, channels: usize) -> Vec<f64> {
    let mut total = vec![0.0f64; channels];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += f64::from(v);
        }
    }
    total
}

/// Per-channel sums over two `[rows, channels]` arrays of `f(row of a, row of b, acc)` into
/// `lanes * channels` accumulators, in fixed row chunks.
fn chunked_rows(
    a: &[f32],
    b: &[f32],
    channels: usize,
    lanes: usize,
    f: impl Fn(&[f32], &[f32], &mut [f32]) + Sync,
) -> Vec<f64> {
    let partials = a
        .par_chunks(REDUCE_ROWS * channels)
        .zip(b.par_chunks(REDUCE_ROWS * channels))
        .map(|(a, b)| {
            let mut acc = vec![0.0f32; lanes * channels];
            for (a, b) in a.chunks_exact(channels).zip(b.chunks_exact(channels)) {
                f(a, b, &mut acc);
            }
            acc
        })
        .collect();
    add_partials(partials, lanes * channels)
}

/// `z * scale + shift` per channel, rectified when `relu`: the normalised, affine
/// (rectified) output (NaN stays NaN).
pub fn scale_shift_relu(z: &[f32], scale: &[f32], shift: &[f32], relu: bool) -> Vec<f32> {
    let channels = scale.len();
    let mut y = vec![0.0f32; z.len()];
    y.par_chunks_mut(REDUCE_ROWS * channels)
        .zip(z.par_chunks(REDUCE_ROWS * channels))
        .for_each(|(y, z)| {
            for (y, z) in y.chunks_mut(channels).zip(z.chunks(channels)) {
                for c in 0..channels {
                    // Not f32::max: it drops a NaN, and a NaN must reach the loss so the
                    // step is refused (as burn's and PyTorch's relu keep it).
                    let v = z[c] * scale[c] + shift[c];
                    y[c] = if relu && v < 0.0 { 0.0 } else { v };
                }
            }
        });
    y
}

/// `relu(z * scale + shift + residual)` per channel: the output of a ResNet block's second
/// convolution, BatchNorm, residual add and ReLU (NaN stays NaN, as in [`scale_shift_relu`]).
pub fn scale_shift_add_relu(z: &[f32], scale: &[f32], shift: &[f32], residual: &[f32]) -> Vec<f32> {
    let channels = scale.len();
    let mut y = vec![0.0f32; z.len()];
    y.par_chunks_mut(REDUCE_ROWS * channels)
        .zip(z.par_chunks(REDUCE_ROWS * channels))
        .zip(residual.par_chunks(REDUCE_ROWS * channels))
        .for_each(|((y, z), res)| {
            for ((y, z), res) in y
                .chunks_mut(channels)
                .zip(z.chunks(channels))
                .zip(res.chunks(channels))
            {
                for c in 0..channels {
                    let v = z[c] * scale[c] + shift[c] + res[c];
                    y[c] = if v < 0.0 { 0.0 } else { v };
                }
            }
        });
    y
}

/// The residual's gradient through the ReLU: `dy` where `output > 0`, else 0.
pub fn through_relu(dy: &[f32], output: &[f32]) -> Vec<f32> {
    let mut d = vec![0.0f32; dy.len()];
    d.par_chunks_mut(ELEMENTWISE_CHUNK)
        .zip(dy.par_chunks(ELEMENTWISE_CHUNK))
        .zip(output.par_chunks(ELEMENTWISE_CHUNK))
        .for_each(|((d, dy), y)| {
            for ((d, dy), y) in d.iter_mut().zip(dy).zip(y) {
                *d = if *y > 0.0 { *dy } else { 0.0 };
            }
        });
    d
}

/// What the BatchNorm + ReLU backward needs from the forward pass, per channel.
pub struct NormState<'a> {
    pub z: &'a [f32],
    pub mean: &'a [f32],
    pub rstd: &'a [f32],
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    /// Whether a ReLU follows the normalisation.
    pub relu: bool,
}

/// Gradients of the BatchNorm (batch statistics) + ReLU part of the block.
pub struct NormGrads {
    /// d loss / d z, `[rows, channels]`.
    pub dz: Vec<f32>,
    pub dgamma: Vec<f32>,
    pub dbeta: Vec<f32>,
    /// d loss / d conv bias = column sums of `dz` (zero up to rounding: the batch mean
    /// removes any constant).
    pub dbias: Vec<f32>,
}

/// Backward of `y = relu(gamma * (z - mean) * rstd + beta)` with batch statistics (or of
/// the same without the ReLU). With g = dy masked by the ReLU and x^ the normalised value:
/// dbeta = sum g, dgamma = sum g x^, dz = gamma rstd (g - dbeta/M - x^ dgamma/M).
///
/// Both passes are written per row over pre-sliced per-channel coefficients, with the ReLU
/// a compile-time choice, so the compiler vectorises them across channels (the closure
/// form with a run-time ReLU flag ran one scalar lane at a time: a fifth of a step).
pub fn norm_relu_backward(s: &NormState, dy: &[f32]) -> NormGrads {
    if s.relu {
        norm_backward_gated::<true>(s, dy)
    } else {
        norm_backward_gated::<false>(s, dy)
    }
}

fn norm_backward_gated<const RELU: bool>(s: &NormState, dy: &[f32]) -> NormGrads {
    let channels = s.gamma.len();
    assert_eq!(
        s.z.len(),
        dy.len(),
        "norm backward: z and dy differ in length"
    );
    let rows = (s.z.len() / channels).max(1) as f32;
    let scale: Vec<f32> = s.gamma.iter().zip(s.rstd).map(|(g, r)| g * r).collect();
    let shift: Vec<f32> = (0..channels)
        .map(|c| s.beta[c] - s.mean[c] * scale[c])
        .collect();
    // One pass for both sums: lanes [0, C) hold sum g, [C, 2C) sum g (z - mean).
    let sums = chunked_rows(s.z, dy, channels, 2, |z, dy, acc| {
        let (sum_g, sum_gd) = acc.split_at_mut(channels);
        gradient_sums_row::<RELU>(z, dy, &scale, &shift, s.mean, sum_g, sum_gd);
    });
    let dbeta: Vec<f32> = sums[..channels].iter().map(|&v| v as f32).collect();
    let dgamma: Vec<f32> = (0..channels)
        .map(|c| (sums[channels + c] * f64::from(s.rstd[c])) as f32)
        .collect();
    // dz = scale g - scale dbeta/M - scale rstd dgamma/M (z - mean) = scale g + a z + b.
    let a: Vec<f32> = (0..channels)
        .map(|c| -scale[c] * s.rstd[c] * dgamma[c] / rows)
        .collect();
    let b: Vec<f32> = (0..channels)
        .map(|c| -scale[c] * dbeta[c] / rows - a[c] * s.mean[c])
        .collect();
    let affine = RowAffine {
        scale: &scale,
        shift: &shift,
        a: &a,
        b: &b,
    };
    let mut dz = vec![0.0f32; s.z.len()];
    let partials = dz
        .par_chunks_mut(REDUCE_ROWS * channels)
        .zip(s.z.par_chunks(REDUCE_ROWS * channels))
        .zip(dy.par_chunks(REDUCE_ROWS * channels))
        .map(|((dz, z), dy)| {
            let mut acc = vec![0.0f32; channels];
            for ((dz, z), dy) in dz
                .chunks_exact_mut(channels)
                .zip(z.chunks_exact(channels))
                .zip(dy.chunks_exact(channels))
            {
                input_gradient_row::<RELU>(dz, z, dy, &affine, &mut acc);
            }
            acc
        })
        .collect();
    let dbias = add_partials(partials, channels)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    NormGrads {
        dz,
        dgamma,
        dbeta,
        dbias,
    }
}

/// The upstream gradient `dy` where the ReLU let `z * scale + shift` through (all of it
/// without a ReLU); a NaN pre-activation closes the gate.
#[inline(always)]
fn gated<const RELU: bool>(z: f32, dy: f32, scale: f32, shift: f32) -> f32 {
    if !RELU || z * scale + shift > 0.0 {
        dy
    } else {
        0.0
    }
}

// The row functions below take every array as its own argument, so the compiler knows
// they do not overlap and vectorises across channels (with the coefficients captured by
// a closure it reloaded them each element and ran one lane at a time).

/// One row's contribution to sum g and sum g (z - mean).
fn gradient_sums_row<const RELU: bool>(
    z: &[f32],
    dy: &[f32],
    scale: &[f32],
    shift: &[f32],
    mean: &[f32],
    sum_g: &mut [f32],
    sum_gd: &mut [f32],
) {
    let n = z.len();
    let (dy, scale, shift, mean) = (&dy[..n], &scale[..n], &shift[..n], &mean[..n]);
    let (sum_g, sum_gd) = (&mut sum_g[..n], &mut sum_gd[..n]);
    for c in 0..n {
        let g = gated::<RELU>(z[c], dy[c], scale[c], shift[c]);
        sum_g[c] += g;
        sum_gd[c] += g * (z[c] - mean[c]);
    }
}

/// Per-channel coefficients of the BatchNorm input gradient: dz = scale g + a z + b, with
/// g gated by `z * scale + shift > 0` (the forward's normalisation).
struct RowAffine<'a> {
    scale: &'a [f32],
    shift: &'a [f32],
    a: &'a [f32],
    b: &'a [f32],
}

/// One row of dz, added into `acc` (the conv bias gradient's partial sums).
fn input_gradient_row<const RELU: bool>(
    dz: &mut [f32],
    z: &[f32],
    dy: &[f32],
    k: &RowAffine,
    acc: &mut [f32],
) {
    let n = dz.len();
    let (z, dy, acc) = (&z[..n], &dy[..n], &mut acc[..n]);
    let (scale, shift, a, b) = (&k.scale[..n], &k.shift[..n], &k.a[..n], &k.b[..n]);
    for c in 0..n {
        let g = gated::<RELU>(z[c], dy[c], scale[c], shift[c]);
        let d = scale[c] * g + (a[c] * z[c] + b[c]);
        dz[c] = d;
        acc[c] += d;
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_moments_merge_to_the_two_pass_statistics() {
        // Two channels with a large offset (where one-pass E[x^2] - E[x]^2 loses digits).
        let rows = 1000;
        let z: Vec<f32> = (0..rows * 2)
            .map(|i| {
                if i % 2 == 0 {
                    1000.0 + (i % 7) as f32
                } else {
                    -(i % 13) as f32 * 0.1
                }
            })
            .collect();
        let mut merged = TileMoments::of(&z[..0], 2);
        for tile in z.chunks(2 * 96) {
            merged.merge(&TileMoments::of(tile, 2));
        }
        let (mean, var) = merged.stats();
        for c in 0..2 {
            let col: Vec<f64> = z.iter().skip(c).step_by(2).map(|&v| f64::from(v)).collect();
            let m = col.iter().sum::<f64>() / rows as f64;
            let v = col.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / rows as f64;
            assert!((f64::from(mean[c]) - m).abs() < 1e-4, "mean {c}");
            assert!(
                (f64::from(var[c]) - v).abs() < 1e-5 * v.max(1.0),
                "var {c}: {} vs {v}",
                var[c]
            );
        }
    }
}
