//! Where a stage's time goes, for `bench`: each part of one conv + BatchNorm + ReLU stage
//! timed alone on random data, with the fused kernels and with burn-flex's own ops.

use std::time::Instant;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, ConvOptions, ModuleOps};

use super::conv_weights::ConvWeights;
use super::extension::{NormParams, Saved, forward_train, norm_backward, slice, tensor};
use super::kernels::ConvGeometry;
use super::norm::scale_shift_relu;

/// Median seconds of each part of one stage's training step.
#[derive(Clone, Debug, Default)]
pub struct StageParts {
    pub conv_forward: f64,
    pub norm_relu_forward: f64,
    pub norm_relu_backward: f64,
    pub weight_grad: f64,
    /// `None` for the first stage: nothing needs the gradient of the images.
    pub input_grad: Option<f64>,
}

impl StageParts {
    pub fn total(&self) -> f64 {
        self.conv_forward
            + self.norm_relu_forward
            + self.norm_relu_backward
            + self.weight_grad
            + self.input_grad.unwrap_or(0.0)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    drop(f()); // warm-up: first touches of memory, lazy initialisation
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                drop(f());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn random(len: usize, seed: u64) -> Vec<f32> {
    // A cheap LCG: the values only need to be varied and finite.
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// The fused kernels' parts.
pub fn fused_stage(g: &ConvGeometry, first: bool, reps: usize) -> StageParts {
    let (ho, wo) = (g.out_height(), g.out_width());
    let x = tensor(
        random(g.input_len(), 1),
        [g.batch, g.height, g.width, g.c_in],
    );
    let weight = tensor(
        random(g.taps() * g.c_in * g.c_out, 2),
        [g.c_out, g.c_in, g.kernel, g.kernel],
    );
    let ones = tensor(vec![1.0; g.c_out], [g.c_out]);
    let zeros = tensor(vec![0.0; g.c_out], [g.c_out]);
    let weights = ConvWeights::prepare(&weight, g);
    // The fused forward computes the batch statistics inside the convolution's tiles.
    let conv_forward = time(reps, || weights.convolve(slice(&x), g));
    let (z, mean, var) = weights.convolve(slice(&x), g);
    let norm_relu_forward = time(reps, || {
        let scale: Vec<f32> = var.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
        let shift: Vec<f32> = mean.iter().zip(&scale).map(|(m, s)| -m * s).collect();
        scale_shift_relu(slice(&z), &scale, &shift, true)
    });
    let norm = NormParams {
        bias: &zeros,
        gamma: &ones,
        beta: &zeros,
        epsilon: 1e-5,
        relu: true,
        residual: None,
    };
    let saved: Saved = forward_train(x, &weight, g.stride, &norm).saved;
    let dy = tensor(random(g.rows() * g.c_out, 3), [g.batch, ho, wo, g.c_out]);
    let norm_relu_backward = time(reps, || norm_backward(&saved, dy.clone()));
    let dz = tensor(norm_backward(&saved, dy).dz, [g.rows(), g.c_out]);
    let x = slice(&saved.x);
    let weight_grad = time(reps, || saved.weights.gradients(x, g, &dz, false));
    // Winograd computes both gradients from one transform of dz: the input gradient's
    // part is the difference.
    let input_grad = (!first)
        .then(|| (time(reps, || saved.weights.gradients(x, g, &dz, true)) - weight_grad).max(0.0));
    StageParts {
        conv_forward,
        norm_relu_forward,
        norm_relu_backward,
        weight_grad,
        input_grad,
    }
}

/// burn-flex's own ops for the same stage (NCHW): conv2d, batch_norm_train + relu and
/// their backward functions, as burn's autodiff calls them.
pub fn burn_stage(g: &ConvGeometry, first: bool, reps: usize) -> StageParts {
    let (ho, wo) = (g.out_height(), g.out_width());
    let x = tensor(
        random(g.input_len(), 1),
        [g.batch, g.c_in, g.height, g.width],
    );
    let weight = tensor(random(9 * g.c_in * g.c_out, 2), [g.c_out, g.c_in, 3, 3]);
    let bias = tensor(vec![0.0; g.c_out], [g.c_out]);
    let ones = tensor(vec![1.0; g.c_out], [g.c_out]);
    let options = || ConvOptions::new([g.stride, g.stride], [1, 1], [1, 1], 1);
    let conv = || Flex::conv2d(x.clone(), weight.clone(), Some(bias.clone()), options());
    let conv_forward = time(reps, conv);
    let z = conv();
    let norm = || {
        let bn = Flex::batch_norm_train(z.clone(), ones.clone(), bias.clone(), 1e-5);
        (Flex::relu(bn.output), bn.mean, bn.variance)
    };
    let norm_relu_forward = time(reps, norm);
    let (y, mean, var) = norm();
    let dy: FlexTensor = tensor(random(g.rows() * g.c_out, 3), [g.batch, g.c_out, ho, wo]);
    let backward = || {
        let dn = Flex::relu_backward(y.clone(), dy.clone());
        Flex::batch_norm_train_backward(
            z.clone(),
            ones.clone(),
            mean.clone(),
            var.clone(),
            1e-5,
            dn,
        )
    };
    let norm_relu_backward = time(reps, backward);
    let dz = backward().x_grad;
    let weight_grad = time(reps, || {
        let dw = Flex::conv2d_weight_backward(x.clone(), weight.clone(), dz.clone(), options());
        let db = Flex::conv2d_bias_backward(x.clone(), bias.clone(), dz.clone());
        (dw, db)
    });
    let input_grad = (!first).then(|| {
        time(reps, || {
            Flex::conv2d_x_backward(x.clone(), weight.clone(), dz.clone(), options())
        })
    });
    StageParts {
        conv_forward,
        norm_relu_forward,
        norm_relu_backward,
        weight_grad,
        input_grad,
    }
}
