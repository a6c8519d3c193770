//! `bench`'s reference training step, taken apart: the whole step's time and peak memory,
//! the step's phases (encoder, head, loss, backward, optimiser), and each encoder stage's
//! parts, with the fused CPU kernels (`model::fast_block`) and with burn-flex's own ops.
//! flex runs eagerly, so wall-clock time between calls is the work done between them.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;

use crate::losses::nt_xent;
use crate::model::fast_block::{self, kernels::ConvGeometry, profile};
use crate::model::{Encoder, EncoderConfig, EncoderKind, MlpHead, MlpHeadConfig};

/// The reference network: encoder + SimCLR projection head.
#[derive(Module, Debug)]
struct ReferenceNet {
    encoder: Encoder,
    head: MlpHead,
}

/// Median seconds of each phase of the step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepPhases {
    pub encoder_forward: f64,
    pub head_forward: f64,
    pub loss: f64,
    pub backward: f64,
    pub optimizer: f64,
    pub total: f64,
}

/// The reference step measured one way.
#[derive(Clone, Debug, Serialize)]
pub struct StepFigures {
    pub implementation: String,
    pub s_per_step: f64,
    pub views_per_sec: f64,
    pub phases: StepPhases,
    /// Peak resident memory while these steps ran (VmHWM after resetting it), MiB.
    pub peak_rss_mib: Option<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Resets the kernel's peak-RSS counter of this process (Linux: `/proc/self/clear_refs`).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// VmHWM of this process, MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Untimed steps before the timed ones.
const WARMUP: usize = 2;

/// Two warm-up steps then `steps` timed steps of the reference step on flex (fused or
/// burn's ops) on views of `size` x `size`, with `encoder` in place of the small CNN.
pub fn measure_step(
    encoder: &EncoderConfig,
    batch: usize,
    size: usize,
    steps: usize,
    fused: bool,
) -> StepFigures {
    let cpu = crate::engine::backend::cpu_device();
    measure_step_on(&cpu, "flex", encoder, batch, size, steps, fused)
}

/// [`measure_step`] on `device` (`backend` names it in the figures). A GPU queues its work:
/// each step ends by waiting for the device, so a step's time is the whole step's. Its
/// phases before the loss's read-back (after the backward pass) only time the queueing.
pub fn measure_step_on(
    device: &Device,
    backend: &str,
    encoder: &EncoderConfig,
    batch: usize,
    size: usize,
    steps: usize,
    fused: bool,
) -> StepFigures {
    fast_block::set_enabled(fused);
    let on_cpu = fast_block::supported_on(device);
    let device = device.clone().autodiff();
    let mut net = ReferenceNet {
        encoder: encoder.init(&device),
        head: MlpHeadConfig {
            input: encoder.output_dim(),
            hidden: 256,
            output: 128,
        }
        .init(&device),
    };
    let mut optim = AdamConfig::new().init();
    let views = Tensor::<4>::random(
        [2 * batch, 3, size, size],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let has_rss = reset_peak_rss();
    let mut runs = Vec::new();
    for i in 0..WARMUP + steps {
        let t0 = Instant::now();
        let h = net.encoder.forward(views.clone());
        let t1 = Instant::now();
        let z = net.head.forward(h);
        let t2 = Instant::now();
        let loss = nt_xent(z, 0.5);
        let t3 = Instant::now();
        let grads = loss.backward();
        // Read as training reads it (`Trainable::step`): once the backward pass is queued.
        let _ = loss.into_scalar::<f32>();
        let grads = GradientsParams::from_grads(grads, &net);
        let t4 = Instant::now();
        net = optim.step(1e-3, net, grads);
        // The only error is a device lost mid-run; the timing would then be meaningless.
        device.sync().expect("the device failed while the step ran");
        let t5 = Instant::now();
        if i >= WARMUP {
            let s = |a: Instant, b: Instant| (b - a).as_secs_f64();
            runs.push(StepPhases {
                encoder_forward: s(t0, t1),
                head_forward: s(t1, t2),
                loss: s(t2, t3),
                backward: s(t3, t4),
                optimizer: s(t4, t5),
                total: s(t0, t5),
            });
        }
    }
    fast_block::set_enabled(true);
    let m = |f: fn(&StepPhases) -> f64| median(runs.iter().map(f).collect());
    let phases = StepPhases {
        encoder_forward: m(|p| p.encoder_forward),
        head_forward: m(|p| p.head_forward),
        loss: m(|p| p.loss),
        backward: m(|p| p.backward),
        optimizer: m(|p| p.optimizer),
        total: m(|p| p.total),
    };
    StepFigures {
        implementation: implementation(backend, encoder.kind, fused && on_cpu),
        s_per_step: phases.total,
        views_per_sec: (2 * batch) as f64 / phases.total,
        phases,
        peak_rss_mib: if has_rss { peak_rss_mib() } else { None },
    }
}

/// How the figures name one way of running the step.
fn implementation(backend: &str, kind: EncoderKind, fused: bool) -> String {
    let ops = if fused { "fused" } else { "burn's own ops" };
    match kind {
        EncoderKind::SmallCnn if fused => {
            format!("contrastive-workbench {backend}, fused conv+BN+ReLU")
        }
        EncoderKind::SmallCnn => format!("contrastive-workbench {backend}, {ops}"),
        EncoderKind::Resnet18 => format!("contrastive-workbench {backend}, ResNet-18 {ops}"),
        kind => format!("contrastive-workbench {backend}, {kind:?}"),
    }
}

/// The reference encoder's stages at `batch` views of 32x32.
fn stages(views: usize) -> Vec<ConvGeometry> {
    let mut g = Vec::new();
    let (mut size, mut c_in) = (32, 3);
    for (i, &c_out) in EncoderConfig::default().channels.iter().enumerate() {
        let stride = if i == 0 { 1 } else { 2 };
        let geometry = ConvGeometry::square(views, size, (c_in, c_out), stride, 3);
        size = geometry.out_height();
        c_in = c_out;
        g.push(geometry);
    }
    g
}

/// ResNet-18's distinct convolutions (CIFAR stem, width 64) at `views` of 32x32, each with
/// how many times a step runs it.
fn resnet_convs(views: usize) -> Vec<(ConvGeometry, usize)> {
    let conv = |size: usize, c_in: usize, c_out: usize, stride: usize, kernel: usize| {
        ConvGeometry::square(views, size, (c_in, c_out), stride, kernel)
    };
    let mut out = vec![(conv(32, 3, 64, 1, 3), 1), (conv(32, 64, 64, 1, 3), 4)];
    let (mut size, mut c) = (32, 64);
    for _ in 1..4 {
        out.push((conv(size, c, 2 * c, 2, 3), 1));
        out.push((conv(size, c, 2 * c, 2, 1), 1));
        size /= 2;
        c *= 2;
        out.push((conv(size, c, c, 1, 3), 3));
    }
    out
}

/// The fused parts of ResNet-18's convolutions, and their sum over a step.
pub fn print_resnet_parts(views: usize, reps: usize) {
    crate::outln!(
        "  ResNet-18's convolutions, fused (median of {reps}, seconds): conv forward | \
         BN forward | BN backward | weight grad | input grad, x times per step"
    );
    let mut total = 0.0;
    for (g, times) in resnet_convs(views) {
        let f = profile::fused_stage(&g, g.c_in == 3, reps);
        crate::outln!(
            "    {}x{} {}->{} {}x{} stride {}: {:.3} | {:.3} | {:.3} | {:.3} | {:.3}  x{times}",
            g.kernel,
            g.kernel,
            g.c_in,
            g.c_out,
            g.height,
            g.width,
            g.stride,
            f.conv_forward,
            f.norm_relu_forward,
            f.norm_relu_backward,
            f.weight_grad,
            f.input_grad.unwrap_or(0.0),
        );
        total += f.total() * times as f64;
    }
    crate::outln!("    all convolutions of a step: {total:.3} s");
}

pub fn print_step(f: &StepFigures) {
    let p = &f.phases;
    crate::outln!(
        "  {}: {:.3} s/step = {:.0} views/s; encoder forward {:.3}, head {:.3}, loss {:.3}, \
         backward {:.3}, optimiser {:.3} s; peak RSS {}",
        f.implementation,
        f.s_per_step,
        f.views_per_sec,
        p.encoder_forward,
        p.head_forward,
        p.loss,
        p.backward,
        p.optimizer,
        f.peak_rss_mib
            .map_or("unknown".into(), |m| format!("{m:.0} MiB"))
    );
}

/// Each stage's parts, burn's ops beside the fused kernels.
pub fn print_stage_parts(views: usize, reps: usize) {
    crate::outln!(
        "  per stage (median of {reps}, seconds; burn's ops -> fused): conv forward | BN+ReLU forward | \
         BN+ReLU backward | weight grad (+bias) | input grad"
    );
    let (mut before, mut after) = (0.0, 0.0);
    for (i, g) in stages(views).iter().enumerate() {
        let first = i == 0;
        let b = profile::burn_stage(g, first, reps);
        let f = profile::fused_stage(g, first, reps);
        let pair = |x: f64, y: f64| format!("{x:.3} -> {y:.3}");
        crate::outln!(
            "    stage {} ({}->{}, {}x{} -> {}x{}): {} | {} | {} | {} | {}   total {}",
            i + 1,
            g.c_in,
            g.c_out,
            g.height,
            g.width,
            g.out_height(),
            g.out_width(),
            pair(b.conv_forward, f.conv_forward),
            pair(b.norm_relu_forward, f.norm_relu_forward),
            pair(b.norm_relu_backward, f.norm_relu_backward),
            pair(b.weight_grad, f.weight_grad),
            match (b.input_grad, f.input_grad) {
                (Some(x), Some(y)) => pair(x, y),
                _ => "- (images need none)".into(),
            },
            pair(b.total(), f.total()),
        );
        before += b.total();
        after += f.total();
    }
    crate::outln!(
        "    all stages: {before:.3} s -> {after:.3} s ({:.2}x)",
        before / after.max(1e-9)
    );
}
