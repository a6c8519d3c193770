//! `bench`: throughput of the training step per backend and of the augmentation pipeline,
//! printed as figures and as ratios against the CPU backend measured in the same run; then
//! the live views' numerics (`bench_projection`).

use std::time::Instant;

use super::BackendArg;
use super::bench_step::{measure_step, measure_step_on, print_stage_parts, print_step};
use crate::data::shapes::{ShapesSpec, generate};
use crate::engine::backend::select_local;
use crate::methods::{self, BuildContext, MethodSpec, TrainBatch};
use crate::model::encoder::RESNET_WIDTH;
use crate::model::tensor_io::images_to_tensor;
use crate::model::{EncoderConfig, EncoderKind};
use crate::preset::{BackendChoice, TrainSpec};
use crate::views::{Normalize, ViewPipeline, ViewsSpec, make_view_batch};

/// What `bench` was asked for on the command line.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Images per step (two views each).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Timed steps per backend (after two warm-up steps).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Only the live views' numerics (PCA, t-SNE, neighbours, linear probe).
    #[arg(long)]
    projection_only: bool,
    /// Only the views' throughput, one JSON line: SimCLR's views made on every CPU
    /// thread, and rendered on --backend's device (`train.augment_on = "device"`).
    #[arg(long)]
    views_only: bool,
    /// Only the reference training step (fused kernels and burn's ops), one JSON line
    /// each, for bench/compare.py.
    #[arg(long)]
    json: bool,
    /// With --json: the step on this backbone (small-cnn, resnet18 or vit, each at its
    /// default shape) instead of the small CNN.
    #[arg(long, default_value = "small-cnn", value_parser = super::parse_encoder_kind)]
    encoder: EncoderKind,
    /// With --json: the views' side in pixels (the small CNN and ResNet-18; the ViT is
    /// laid out for 32).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(8..=256))]
    size: u32,
    /// With --json: the device to time the step on (cpu: the fused kernels and burn's
    /// ops; cuda or gpu: burn's ops there, each step waited for to its end); with
    /// --views-only, the device that renders the views.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
}

/// `bench`, as its flags choose: the live views' numerics, the views' throughput, the
/// step's JSON lines, or the whole report.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.projection_only {
        super::bench_projection::projection_bench();
        return Ok(());
    }
    if args.views_only {
        return super::bench_views::bench_views(args.batch, args.steps, args.backend.into());
    }
    if args.json {
        let encoder = EncoderConfig {
            kind: args.encoder,
            ..EncoderConfig::default()
        };
        return bench_json(
            args.batch,
            args.steps,
            &encoder,
            args.size as usize,
            args.backend.into(),
        );
    }
    bench(args.batch, args.steps)
}

/// `bench --json`: the reference step, fused and with burn's ops, one JSON line each
/// (what `bench/compare.py` reads beside PyTorch's); with another `encoder`, its step
/// (SimCLR head and loss, Adam) as one line.
pub fn bench_json(
    batch: usize,
    steps: usize,
    encoder: &EncoderConfig,
    size: usize,
    backend: BackendChoice,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        batch >= 2 && steps >= 1,
        "bench needs --batch >= 2 and --steps >= 1"
    );
    anyhow::ensure!(
        encoder.kind != EncoderKind::Vit || size == 32,
        "--size {size}: the ViT is laid out for 32x32 images"
    );
    encoder.validate().map_err(anyhow::Error::msg)?;
    if backend != BackendChoice::Cpu {
        // A GPU (or what auto found): one line, the step training runs on that device
        // (the fused kernels where the device has them: flex, when auto found no GPU).
        let (device, info) = select_local(backend).map_err(anyhow::Error::msg)?;
        crate::errln!("device: {} ({})", info.name, info.reason);
        let figures = measure_step_on(&device, &info.name, encoder, batch, size, steps, true);
        crate::outln!("{}", serde_json::to_string(&figures)?);
        return Ok(());
    }
    // The ViT has no convolution to fuse.
    let ways: &[bool] = if encoder.kind == EncoderKind::Vit {
        &[false]
    } else {
        &[true, false]
    };
    for &fused in ways {
        crate::outln!(
            "{}",
            serde_json::to_string(&measure_step(encoder, batch, size, steps, fused))?
        );
    }
    Ok(())
}

pub fn bench(batch: usize, steps: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        batch >= 2 && steps >= 1,
        "bench needs --batch >= 2 and --steps >= 1"
    );
    let data = shapes_for(batch);
    let views_spec = ViewsSpec::same(ViewPipeline::default());
    crate::outln!(
        "reference model: SmallCnn [32, 64, 128, 256] + MLP 256-256-128, SimCLR NT-Xent, Adam"
    );
    crate::outln!(
        "batch {batch} images = {} views, 32x32 RGB, {} CPU threads",
        2 * batch,
        rayon::current_num_threads()
    );

    // Augmentation: one thread, then all of them.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let aug = |seed_step: u64| make_view_batch(&data.train, &views_spec, 0, seed_step, batch);
    let t = Instant::now();
    one.install(|| (0..3).for_each(|s| drop(aug(s))));
    let single = (3 * 2 * batch) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    (0..3).for_each(|s| drop(aug(s)));
    let all = (3 * 2 * batch) as f64 / t.elapsed().as_secs_f64();
    crate::outln!(
        "augmentation (crop, flip, jitter p=0.8, grey p=0.2, blur p=0.2): {single:.0} views/s on 1 thread \
         ({:.0} us/view), {all:.0} views/s on all threads ({:.2}x)",
        1e6 / single,
        all / single
    );

    crate::outln!(
        "training step of the reference model on the CPU (median of {steps} after 2 warm-up):"
    );
    let fused = measure_step(&EncoderConfig::default(), batch, 32, steps, true);
    let reference = measure_step(&EncoderConfig::default(), batch, 32, steps, false);
    print_step(&fused);
    print_step(&reference);
    crate::outln!(
        "  fused kernels: {:.2}x the views/s of burn's own ops",
        fused.views_per_sec / reference.views_per_sec
    );
    print_stage_parts(2 * batch, 3);
    super::bench_step::print_resnet_parts(2 * batch.min(RESNET_BATCH), 3);
    crate::outln!(
        "  augmentation on all threads would take {:.0}% of a fused step if not overlapped",
        100.0 * (2 * batch) as f64 / all / fused.s_per_step
    );

    // The method as the session runs it, per backend.
    let mut cpu_rate = None;
    for choice in [BackendChoice::Cpu, BackendChoice::Cuda, BackendChoice::Gpu] {
        let (device, info) = match select_local(choice) {
            Ok(found) => found,
            Err(why) => {
                crate::outln!("{why}: skipped");
                continue;
            }
        };
        crate::outln!("device: {} ({})", info.name, info.reason);
        let encoder = EncoderConfig::default();
        let (per_step, rate) = simclr_step(&device, &encoder, &data, batch, steps)?;
        let ratio = cpu_rate.map_or(String::new(), |c: f64| {
            format!(", {:.2}x the CPU backend", rate / c)
        });
        crate::outln!(
            "SimCLR's train_step on {}: {per_step:.3} s/step = {rate:.0} views/s{ratio}",
            info.name
        );
        if cpu_rate.is_none() {
            cpu_rate = Some(rate);
        }
        // ResNet-18 costs ~35x the small CNN per view: a smaller batch keeps this short.
        let small = batch.min(RESNET_BATCH);
        let resnet = EncoderConfig::resnet18(RESNET_WIDTH);
        let (per_step, rate) = simclr_step(&device, &resnet, &data, small, steps.min(3))?;
        crate::outln!(
            "SimCLR's train_step with ResNet-18 (CIFAR stem, width {RESNET_WIDTH}) on {}, batch \
             {small}: {per_step:.3} s/step = {rate:.1} views/s",
            info.name
        );
    }
    data_stall(&data, batch, steps, fused.views_per_sec);
    super::bench_projection::projection_bench();
    Ok(())
}

/// The built-in shapes with enough training images for batches of `batch`.
pub(super) fn shapes_for(batch: usize) -> crate::data::Dataset {
    generate(&ShapesSpec {
        train_per_class: batch.div_ceil(8).max(64),
        test_per_class: 1,
        ..ShapesSpec::default()
    })
}

/// Images per ResNet-18 bench step (at most).
const RESNET_BATCH: usize = 64;

/// SimCLR's `train_step` on `device` with `encoder`, as the session runs it: seconds per
/// step and views per second (the mean of `steps` after two warm-up steps).
fn simclr_step(
    device: &burn::tensor::Device,
    encoder: &EncoderConfig,
    data: &crate::data::Dataset,
    batch: usize,
    steps: usize,
) -> anyhow::Result<(f64, f64)> {
    let train = TrainSpec::default();
    let spec = MethodSpec::default();
    let (info, params) = methods::resolve(&spec).map_err(anyhow::Error::msg)?;
    let ad = device.clone().autodiff();
    let mut method = methods::build(
        info,
        &BuildContext {
            device: &ad,
            encoder,
            params: &params,
            train: &train,
            dataset_len: data.train.len(),
            image_size: data.image_size(),
            normalize: Normalize::HALF,
            seed: 0,
        },
    );
    let views_spec = ViewsSpec::same(ViewPipeline::default());
    let views = make_view_batch(&data.train, &views_spec, 0, 0, batch);
    let mut run = || {
        let batch = TrainBatch {
            views: images_to_tensor(&views.data, 2 * views.n, views.size, &ad),
            labels: views
                .indices
                .iter()
                .map(|&i| data.train.labels[i])
                .collect(),
            indices: views.indices.clone(),
            step: 0,
            geometry: views.geometry.clone(),
            local: None,
        };
        method
            .train_step(batch, 1e-3)
            .map(|o| o.loss)
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    for _ in 0..2 {
        run()?;
    }
    let t = Instant::now();
    for _ in 0..steps {
        run()?;
    }
    let per_step = t.elapsed().as_secs_f64() / steps as f64;
    Ok((per_step, (2 * batch) as f64 / per_step))
}

/// A real CPU run through the session loop (augmentation on, prefetched): its training
/// views/s against the bare step's, and how much of its time the trainer waited for views.
fn data_stall(data: &crate::data::Dataset, batch: usize, steps: usize, step_rate: f64) {
    let mut exp = crate::preset::Experiment::default();
    exp.train.batch_size = batch;
    // The default logging cadence: the dashboard's metrics of a logged step cost time too.
    exp.train.log_every = 5;
    exp.train.steps = 5 * (steps as u64 + 1);
    exp.train.backend = BackendChoice::Cpu;
    exp.eval.every = exp.train.steps;
    exp.eval.bank_size = 200;
    exp.eval.query_size = 100;
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let result = crate::engine::session::run_experiment_with(
        &exp,
        data,
        &commands,
        &Default::default(),
        &mut |_| {},
    );
    let rates: Vec<f64> = result.metrics.steps[1.min(result.metrics.steps.len())..]
        .iter()
        .map(|m| f64::from(m.views_per_sec))
        .collect();
    if !rates.is_empty() {
        let rate = rates.iter().sum::<f64>() / rates.len() as f64;
        crate::outln!(
            "end to end (session loop, SimCLR, augmentation on, {} logged windows of {} steps of \
             {batch} images): {rate:.0} training views/s = {:.2}x the bare step's {step_rate:.0}",
            rates.len(),
            exp.train.log_every,
            rate / step_rate
        );
    }
    let waits: Vec<f32> = result.metrics.steps.iter().map(|m| m.data_wait).collect();
    // Step 1 includes the first batch's build: nothing can be ahead of it yet.
    let steady = &waits[1.min(waits.len())..];
    let mean = steady.iter().sum::<f32>() / steady.len().max(1) as f32;
    let worst = steady.iter().copied().fold(0.0f32, f32::max);
    crate::outln!(
        "data pipeline during a real run ({} logged windows of {} steps, prefetch depth {}): the \
         trainer waited for views {:.2}% of the time on average, {:.2}% in the worst window \
         (first: {:.1}%)",
        waits.len(),
        exp.train.log_every,
        crate::views::prefetch::PREFETCH_DEPTH,
        100.0 * mean,
        100.0 * worst,
        100.0 * waits.first().copied().unwrap_or(0.0)
    );
}
