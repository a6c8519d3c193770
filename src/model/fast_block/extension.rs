//! The fused block as a burn backend extension on `flex`, with its own backward pass.
//!
//! burn-flex 0.22 runs a conv's gradients through burn-backend's generic defaults (a
//! transposed convolution for the input, a 4x4 kernel sliced to 3x3 for a strided weight
//! gradient) and BatchNorm as a chain of element-wise passes. Here the whole block is one
//! autodiff node whose gradients are two GEMMs and three passes over the activation:
//! dW = im2col(x)^T dZ, dX = col2im(dZ W^T), BatchNorm + ReLU folded into dZ.
//! GEMMs go through `gemm_into` (the `gemm` crate, strided, multi-threaded, into the
//! caller's buffers); `conv_weights` picks their formulation (patches or Winograd).

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

use super::conv_weights::ConvWeights;
use super::kernels::ConvGeometry;
use super::norm::{
    NormGrads, NormState, norm_relu_backward, scale_shift_add_relu, scale_shift_relu, through_relu,
};

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

    /// ResNet's second convolution of a block: relu(BatchNorm(conv(x)) + residual), with
    /// `residual` `[B, Ho, Wo, Co]`; the other arguments and results as above.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn_add_relu_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        stride: usize,
        epsilon: f64,
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

/// The element-wise sum of `partials` (each `len` floats), added in order: chunked GEMMs'
/// partial weight gradients, so the result does not depend on how the chunks were scheduled.
pub(super) fn sum_in_order(partials: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut partials = partials.into_iter();
    let mut total = partials.next().unwrap_or_else(|| vec![0.0; len]);
    assert_eq!(total.len(), len, "partial sums of {len} floats");
    for p in partials {
        assert_eq!(p.len(), len, "partial sums of {len} floats");
        for (t, v) in total.iter_mut().zip(&p) {
            *t += v;
        }
    }
    total
}

pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
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

/// Everything the backward pass keeps from a training forward.
#[derive(Clone, Debug)]
pub(super) struct Saved {
    pub(super) x: FlexTensor,
    z: FlexTensor,
    pub(super) weights: ConvWeights,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    relu: bool,
    /// The block's output, when a residual was added before the ReLU (its gate).
    output: Option<FlexTensor>,
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
    /// Added after BatchNorm, before the ReLU (which then always follows): ResNet's
    /// residual, `[B, Ho, Wo, Co]`.
    pub(super) residual: Option<&'a FlexTensor>,
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
    let weights = ConvWeights::prepare(weight, &g);
    let (z, mean, var) = weights.convolve(slice(&x), &g);
    let rstd: Vec<f32> = var
        .iter()
        .map(|v| 1.0 / (f64::from(*v) + epsilon).sqrt() as f32)
        .collect();
    let (gamma, beta, bias) = (floats(gamma), floats(beta), floats(bias));
    let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
    let shift: Vec<f32> = (0..g.c_out).map(|c| beta[c] - mean[c] * scale[c]).collect();
    let shape = [g.batch, g.out_height(), g.out_width(), g.c_out];
    let (y, output) = match p.residual {
        Some(res) => {
            let res = contiguous(res.clone());
            let y = tensor(
                scale_shift_add_relu(slice(&z), &scale, &shift, slice(&res)),
                shape,
            );
            (y.clone(), Some(y))
        }
        None => (
            tensor(scale_shift_relu(slice(&z), &scale, &shift, p.relu), shape),
            None,
        ),
    };
    let mean_out: Vec<f32> = mean.iter().zip(&bias).map(|(m, b)| m + b).collect();
    TrainForward {
        y,
        mean: tensor(mean_out, [g.c_out]),
        var: tensor(var, [g.c_out]),
        saved: Saved {
            x,
            z,
            weights,
            mean,
            rstd,
            gamma,
            beta,
            // With a residual, the backward pass applies the ReLU's gate (output > 0) first.
            relu: p.relu && p.residual.is_none(),
            output,
            geometry: g,
        },
    }
}

struct BlockGrads {
    dx: Option<FlexTensor>,
    /// The residual's gradient, for a block that added one.
    dresidual: Option<FlexTensor>,
    dweight: FlexTensor,
    dbias: FlexTensor,
    dgamma: FlexTensor,
    dbeta: FlexTensor,
}

fn backward(s: &Saved, dy: FlexTensor, need_dx: bool) -> BlockGrads {
    let g = s.geometry;
    // With a residual, the gradient through the ReLU is both the residual's gradient and
    // the BatchNorm's upstream gradient.
    let (dy, dresidual) = match &s.output {
        Some(y) => {
            let shape = [g.batch, g.out_height(), g.out_width(), g.c_out];
            let gated = tensor(through_relu(slice(&contiguous(dy)), slice(y)), shape);
            (gated.clone(), Some(gated))
        }
        None => (dy, None),
    };
    let norm = norm_backward(s, dy);
    let dz = tensor(norm.dz, [g.rows(), g.c_out]);
    let (dweight, dx) = s.weights.gradients(slice(&s.x), &g, &dz, need_dx);
    BlockGrads {
        dx,
        dresidual,
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
            residual: None,
        };
        let f = forward_train(x, &weight, stride, &p);
        (f.y, f.mean, f.var)
    }

    fn conv_bn_add_relu_train(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: FlexTensor,
        stride: usize,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let p = NormParams {
            bias: &bias,
            gamma: &gamma,
            beta: &beta,
            epsilon,
            relu: true,
            residual: Some(&residual),
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
        let (z, _, _) = ConvWeights::prepare(&weight, &g).convolve(slice(&x), &g);
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

/// Parents: x, weight, bias, gamma, beta (N = 5), and the residual (N = 6).
impl<const N: usize> Backward<Flex, N> for FusedBlockBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let g = backward(&ops.state, dy, ops.parents[0].is_some());
        let in_order = [
            g.dx,
            Some(g.dweight),
            Some(g.dbias),
            Some(g.dgamma),
            Some(g.dbeta),
            g.dresidual,
        ];
        for (node, grad) in ops.parents.into_iter().zip(in_order) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

/// A float tensor of the autodiff backend over flex.
type Tracked<C> = FloatTensor<Autodiff<Flex, C>>;

/// The training forward as one node of the autodiff graph over `parents` (x, weight, bias,
/// gamma, beta[, residual]); the batch statistics come back as constants.
fn tracked_forward<C: CheckpointStrategy, const N: usize>(
    parents: [&Tracked<C>; N],
    stride: usize,
    p: &NormParams,
) -> (Tracked<C>, Tracked<C>, Tracked<C>) {
    let prep = FusedBlockBackward
        .prepare::<C>(parents.map(|t| t.node()))
        .compute_bound()
        .stateful();
    let f = forward_train(
        parents[0].primitive().clone(),
        parents[1].primitive(),
        stride,
        p,
    );
    let y = match prep {
        OpsKind::Tracked(prep) => prep.finish(f.saved, f.y),
        OpsKind::UnTracked(prep) => prep.finish(f.y),
    };
    // The statistics leave the graph: they feed only the running averages.
    let constant = |t: FlexTensor| {
        <Autodiff<Flex, C> as FloatTensorOps<_>>::float_from_data(t.into_data(), &FlexDevice)
    };
    (y, constant(f.mean), constant(f.var))
}

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
        let p = NormParams {
            bias: bias.primitive(),
            gamma: gamma.primitive(),
            beta: beta.primitive(),
            epsilon,
            relu,
            residual: None,
        };
        tracked_forward::<C, _>([&x, &weight, &bias, &gamma, &beta], stride, &p)
    }

    fn conv_bn_add_relu_train(
        x: Tracked<C>,
        weight: Tracked<C>,
        bias: Tracked<C>,
        gamma: Tracked<C>,
        beta: Tracked<C>,
        residual: Tracked<C>,
        stride: usize,
        epsilon: f64,
    ) -> (Tracked<C>, Tracked<C>, Tracked<C>) {
        let p = NormParams {
            bias: bias.primitive(),
            gamma: gamma.primitive(),
            beta: beta.primitive(),
            epsilon,
            relu: true,
            residual: Some(residual.primitive()),
        };
        tracked_forward::<C, _>([&x, &weight, &bias, &gamma, &beta, &residual], stride, &p)
    }
}
