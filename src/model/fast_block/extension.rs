//! The fused block as a burn backend extension on `flex`, with its own backward pass.
//!
//! burn-flex 0.22 runs a conv's gradients through burn-backend's generic defaults (a
//! transposed convolution for the input, a 4x4 kernel sliced to 3x3 for a strided weight
//! gradient) and BatchNorm as a chain of element-wise passes. Here the whole block is one
//! autodiff node whose gradients are two GEMMs and three passes over the activation:
//! dW = im2col(x)^T dZ, dX = col2im(dZ W^T), BatchNorm + ReLU folded into dZ.
//! GEMMs go through `Flex::float_matmul` (the `gemm` crate, strided, multi-threaded), so this
//! module needs no unsafe code.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexDevice;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;
use rayon::prelude::*;

use super::kernels::{
    ConvGeometry, NormGrads, NormState, TileMoments, col2im_image, im2col, im2col_serial,
    matrix_to_weight, norm_relu_backward, scale_shift_relu, weight_to_matrix,
};

/// Output positions per tile of the forward convolution (a tile's patch matrix is at most
/// 1024 x 9*Ci floats: 4.5 MB for the widest stage, in L2/L3 while it is used).
const FORWARD_TILE_ROWS: usize = 1024;

/// Row chunks of the weight-gradient GEMM: its K (all output positions) is split into
/// this many parts, summed in order, so the small `[9*Ci, Co]` result is computed by
/// several threads and deterministically. (Tiles of a few thousand rows that also built
/// dz and dX in cache measured slower: 1,023 vs 1,494 views/s; gemm handles a long K
/// better in few calls.)
const WEIGHT_GRAD_CHUNKS: usize = 8;

/// Output positions per tile of the input-gradient GEMM + col2im.
const INPUT_GRAD_TILE_ROWS: usize = 4096;

/// Training forward of conv (3x3 pad 1 or 1x1) + BatchNorm (batch statistics), then ReLU
/// when `relu`, on NHWC input.
#[backend_extension(Flex, Autodiff)]
pub trait FusedBlockBackend: Backend {
    /// `x` `[B, H, W, Ci]`, `weight` `[Co, Ci, k, k]`, `bias`, `gamma`, `beta` `[Co]` ->
    /// (`[B, Ho, Wo, Co]`, the batch mean of conv + bias, the biased batch variance).
    #[allow(clippy::too_many_arguments)]
    fn conv_bn_relu_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stride: usize,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Inference of the same block with the running statistics (no autodiff: evaluation).
#[backend_extension(Flex)]
pub trait FusedBlockEvalBackend: Backend {
    #[allow(clippy::too_many_arguments)]
    fn conv_bn_relu_eval(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        stride: usize,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self>;
}

pub(super) fn floats(t: &FlexTensor) -> Vec<f32> {
    match t.as_slice::<f32>() {
        Some(s) => s.to_vec(),
        None => t
            .to_contiguous()
            .as_slice::<f32>()
            .map(<[f32]>::to_vec)
            .unwrap_or_default(),
    }
}

fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

pub(super) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("fused block: tensor made contiguous before reading")
}

pub(super) fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

fn geometry(x: &FlexTensor, weight: &FlexTensor, stride: usize) -> ConvGeometry {
    let xs = x.shape();
    let ws = weight.shape();
    assert!(
        xs.num_dims() == 4
            && ws.num_dims() == 4
            && matches!(ws[2], 1 | 3)
            && ws[3] == ws[2]
            && ws[1] == xs[3],
        "fused block: NHWC input {xs:?} does not fit a 3x3 or 1x1 weight {ws:?}"
    );
    ConvGeometry {
        batch: xs[0],
        height: xs[1],
        width: xs[2],
        c_in: xs[3],
        c_out: ws[0],
        stride,
        kernel: ws[2],
    }
}

/// `im2col(x) @ W` over every output position, `[M, Co]`, with its per-channel batch
/// mean and biased variance. Tiles of rows are patch-matrixed, multiplied and summarised
/// while in cache: no `[M, 9*Ci]` matrix is ever built, and no pass over the output is
/// needed for the statistics.
pub(super) fn convolve(
    x: &[f32],
    g: &ConvGeometry,
    wmat: &FlexTensor,
) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (m, k, co) = (g.rows(), g.patch(), g.c_out);
    let mut z = vec![0.0f32; m * co];
    let tiles: Vec<TileMoments> = z
        .par_chunks_mut(FORWARD_TILE_ROWS * co)
        .enumerate()
        .map(|(t, z)| {
            let rows = z.len() / co;
            let first = t * FORWARD_TILE_ROWS;
            let mut cols = vec![0.0f32; rows * k];
            im2col_serial(x, g, first..first + rows, &mut cols);
            let out = contiguous(Flex::float_matmul(tensor(cols, [rows, k]), wmat.clone()));
            z.copy_from_slice(slice(&out));
            TileMoments::of(z, co)
        })
        .collect();
    let mut moments = TileMoments {
        count: 0.0,
        mean: vec![0.0; co],
        m2: vec![0.0; co],
    };
    for t in &tiles {
        moments.merge(t);
    }
    let (mean, var) = moments.stats();
    (tensor(z, [m, co]), mean, var)
}

/// Everything the backward pass keeps from a training forward.
#[derive(Clone, Debug)]
pub(super) struct Saved {
    pub(super) x: FlexTensor,
    z: FlexTensor,
    pub(super) wmat: FlexTensor,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    relu: bool,
    pub(super) geometry: ConvGeometry,
}

pub(super) struct TrainForward {
    pub(super) y: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    pub(super) saved: Saved,
}

/// The BatchNorm parameters and options of one fused stage, as flex tensors.
pub(super) struct NormParams<'a> {
    pub(super) bias: &'a FlexTensor,
    pub(super) gamma: &'a FlexTensor,
    pub(super) beta: &'a FlexTensor,
    pub(super) epsilon: f64,
    pub(super) relu: bool,
}

pub(super) fn forward_train(
    x: FlexTensor,
    weight: &FlexTensor,
    stride: usize,
    p: &NormParams,
) -> TrainForward {
    let (bias, gamma, beta, epsilon) = (p.bias, p.gamma, p.beta, p.epsilon);
    let x = contiguous(x);
    let g = geometry(&x, weight, stride);
    let wmat = tensor(
        weight_to_matrix(&floats(weight), g.c_in, g.c_out, g.taps()),
        [g.patch(), g.c_out],
    );
    let (z, mean, var) = convolve(slice(&x), &g, &wmat);
    let rstd: Vec<f32> = var
        .iter()
        .map(|v| 1.0 / (f64::from(*v) + epsilon).sqrt() as f32)
        .collect();
    let (gamma, beta, bias) = (floats(gamma), floats(beta), floats(bias));
    let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
    let shift: Vec<f32> = (0..g.c_out).map(|c| beta[c] - mean[c] * scale[c]).collect();
    let y = scale_shift_relu(slice(&z), &scale, &shift, p.relu);
    let mean_out: Vec<f32> = mean.iter().zip(&bias).map(|(m, b)| m + b).collect();
    TrainForward {
        y: tensor(y, [g.batch, g.out_height(), g.out_width(), g.c_out]),
        mean: tensor(mean_out, [g.c_out]),
        var: tensor(var, [g.c_out]),
        saved: Saved {
            x,
            z,
            wmat,
            mean,
            rstd,
            gamma,
            beta,
            relu: p.relu,
            geometry: g,
        },
    }
}

struct BlockGrads {
    dx: Option<FlexTensor>,
    dweight: FlexTensor,
    dbias: FlexTensor,
    dgamma: FlexTensor,
    dbeta: FlexTensor,
}

fn backward(s: &Saved, dy: FlexTensor, need_dx: bool) -> BlockGrads {
    let g = s.geometry;
    let norm = norm_backward(s, dy);
    let dz = tensor(norm.dz, [g.rows(), g.c_out]);
    let dweight = weight_grad(slice(&s.x), &g, &dz);
    let dx = need_dx.then(|| input_grad(&g, &dz, &s.wmat));
    BlockGrads {
        dx,
        dweight,
        dbias: tensor(norm.dbias, [g.c_out]),
        dgamma: tensor(norm.dgamma, [g.c_out]),
        dbeta: tensor(norm.dbeta, [g.c_out]),
    }
}

/// BatchNorm + ReLU backward: d loss / d (conv output) and the affine gradients.
pub(super) fn norm_backward(s: &Saved, dy: FlexTensor) -> NormGrads {
    let dy = contiguous(dy);
    norm_relu_backward(
        &NormState {
            z: slice(&s.z),
            mean: &s.mean,
            rstd: &s.rstd,
            gamma: &s.gamma,
            beta: &s.beta,
            relu: s.relu,
        },
        slice(&dy),
    )
}

/// dW = im2col(x)^T dZ, in row chunks whose patch matrices are rebuilt from x, summed in
/// chunk order: `[Co, Ci, k, k]`.
pub(super) fn weight_grad(x: &[f32], g: &ConvGeometry, dz: &FlexTensor) -> FlexTensor {
    let (m, k, co) = (g.rows(), g.patch(), g.c_out);
    let per_chunk = m.div_ceil(WEIGHT_GRAD_CHUNKS).max(1);
    let partials: Vec<FlexTensor> = (0..m.div_ceil(per_chunk))
        .into_par_iter()
        .map(|c| {
            let rows = c * per_chunk..((c + 1) * per_chunk).min(m);
            let len = rows.len();
            let mut cols = vec![0.0f32; len * k];
            let dz_rows = dz.narrow(0, rows.start, len);
            im2col(x, g, rows, &mut cols);
            Flex::float_matmul(tensor(cols, [len, k]).transpose(0, 1), dz_rows)
        })
        .collect();
    let mut dwmat = vec![0.0f32; k * co];
    for p in partials {
        let p = contiguous(p);
        for (d, v) in dwmat.iter_mut().zip(slice(&p)) {
            *d += v;
        }
    }
    tensor(
        matrix_to_weight(&dwmat, g.c_in, co, g.taps()),
        [co, g.c_in, g.kernel, g.kernel],
    )
}

/// dX = col2im(dZ W^T): `[B, H, W, Ci]`, in tiles of whole images so each tile's
/// patch-matrix gradient is still in cache when col2im reads it.
pub(super) fn input_grad(g: &ConvGeometry, dz: &FlexTensor, wmat: &FlexTensor) -> FlexTensor {
    let rows_per_image = g.out_height() * g.out_width();
    let images_per_tile = (INPUT_GRAD_TILE_ROWS / rows_per_image).max(1);
    let image = g.height * g.width * g.c_in;
    let w_t = wmat.transpose(0, 1);
    let mut dx = vec![0.0f32; g.input_len()];
    dx.par_chunks_mut(image * images_per_tile)
        .enumerate()
        .for_each(|(t, dx)| {
            let images = dx.len() / image;
            let first = t * images_per_tile * rows_per_image;
            let dz = dz.narrow(0, first, images * rows_per_image);
            let dcols = contiguous(Flex::float_matmul(dz, w_t.clone()));
            for (dx, dcols) in dx
                .chunks_mut(image)
                .zip(slice(&dcols).chunks(rows_per_image * g.patch()))
            {
                col2im_image(dcols, g, dx);
            }
        });
    tensor(dx, [g.batch, g.height, g.width, g.c_in])
}

impl FusedBlockBackend for Flex {
    fn conv_bn_relu_train(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        stride: usize,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let p = NormParams {
            bias: &bias,
            gamma: &gamma,
            beta: &beta,
            epsilon,
            relu,
        };
        let f = forward_train(x, &weight, stride, &p);
        (f.y, f.mean, f.var)
    }
}

impl FusedBlockEvalBackend for Flex {
    fn conv_bn_relu_eval(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        running_mean: FlexTensor,
        running_var: FlexTensor,
        stride: usize,
        epsilon: f64,
        relu: bool,
    ) -> FlexTensor {
        let x = contiguous(x);
        let g = geometry(&x, &weight, stride);
        let wmat = tensor(
            weight_to_matrix(&floats(&weight), g.c_in, g.c_out, g.taps()),
            [g.patch(), g.c_out],
        );
        let (z, _, _) = convolve(slice(&x), &g, &wmat);
        let (bias, gamma, beta) = (floats(&bias), floats(&gamma), floats(&beta));
        let (mean, var) = (floats(&running_mean), floats(&running_var));
        let scale: Vec<f32> = (0..g.c_out)
            .map(|c| gamma[c] / (f64::from(var[c]) + epsilon).sqrt() as f32)
            .collect();
        let shift: Vec<f32> = (0..g.c_out)
            .map(|c| beta[c] + (bias[c] - mean[c]) * scale[c])
            .collect();
        let y = scale_shift_relu(slice(&z), &scale, &shift, relu);
        tensor(y, [g.batch, g.out_height(), g.out_width(), g.c_out])
    }
}

#[derive(Debug)]
struct FusedBlockBackward;

impl Backward<Flex, 5> for FusedBlockBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let g = backward(&ops.state, dy, node_x.is_some());
        if let (Some(node), Some(dx)) = (node_x, g.dx) {
            grads.register::<Flex>(node.id, dx);
        }
        for (node, grad) in [
            (node_w, g.dweight),
            (node_b, g.dbias),
            (node_gamma, g.dgamma),
            (node_beta, g.dbeta),
        ] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

/// A float tensor of the autodiff backend over flex.
type Tracked<C> = FloatTensor<Autodiff<Flex, C>>;

impl<C: CheckpointStrategy> FusedBlockBackend for Autodiff<Flex, C> {
    fn conv_bn_relu_train(
        x: Tracked<C>,
        weight: Tracked<C>,
        bias: Tracked<C>,
        gamma: Tracked<C>,
        beta: Tracked<C>,
        stride: usize,
        epsilon: f64,
        relu: bool,
    ) -> (Tracked<C>, Tracked<C>, Tracked<C>) {
        let prep = FusedBlockBackward
            .prepare::<C>([
                x.node(),
                weight.node(),
                bias.node(),
                gamma.node(),
                beta.node(),
            ])
            .compute_bound()
            .stateful();
        let p = NormParams {
            bias: bias.primitive(),
            gamma: gamma.primitive(),
            beta: beta.primitive(),
            epsilon,
            relu,
        };
        let f = forward_train(x.primitive().clone(), weight.primitive(), stride, &p);
        let y = match prep {
            OpsKind::Tracked(prep) => prep.finish(f.saved, f.y),
            OpsKind::UnTracked(prep) => prep.finish(f.y),
        };
        // The statistics leave the graph: they feed only the running averages.
        let constant = |t: FlexTensor| Self::float_from_data(t.into_data(), &FlexDevice);
        (y, constant(f.mean), constant(f.var))
    }
}
