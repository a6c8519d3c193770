//! The reference SimCLR step's pieces, one by one, on the CPU (flex) and on wgpu, from the
//! same weights and the same batch: which op, if any, gives a GPU a different loss. The
//! whole-run check (`tests/gpu_backend.rs`, `bench/backend_agreement.py`) says *that* two
//! backends disagree; this says *where*. Each piece gets the CPU's input on both devices,
//! so an error is charged to the op that made it, not to the ones after it.
//! Only in `gpu` builds, in the slow tier:
//! `cargo test --release --features gpu --test gpu_ops_agreement -- --ignored --nocapture`.
#![cfg(feature = "gpu")]
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use contrastive_workbench::engine::backend::{long_sums, select_local};
use contrastive_workbench::losses::nt_xent;
use contrastive_workbench::model::head::MlpHeadConfig;
use contrastive_workbench::preset::{BackendChoice, Experiment};
use contrastive_workbench::views::batch::make_view_batch;

/// The largest difference relative to the largest value of the CPU's result.
fn relative_gap<const D: usize>(cpu: &Tensor<D>, gpu: &Tensor<D>) -> f32 {
    let a: Vec<f32> = cpu.to_data().iter::<f32>().collect();
    let b: Vec<f32> = gpu.to_data().iter::<f32>().collect();
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let gap = a.iter().zip(&b).fold(0f32, |m, (x, y)| {
        if x.is_nan() || y.is_nan() {
            f32::NAN
        } else {
            m.max((x - y).abs())
        }
    });
    gap / scale
}

/// `t` on `device`, the same values.
fn moved<const D: usize>(t: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), device)
}

struct Report(Vec<(String, f32)>);

impl Report {
    fn add(&mut self, what: String, gap: f32) {
        println!("{what:<44} {gap:.3e}");
        self.0.push((what, gap));
    }
}

/// Each piece of the reference step at `pairs` pairs of `simclr-shapes` views.
fn compare_pieces(pairs: usize, gpu: &Device, report: &mut Report) {
    let cpu = Device::flex().autodiff();
    let experiment = Experiment::load(std::path::Path::new("presets/simclr-shapes.toml")).unwrap();
    let x = views(&experiment, pairs, &cpu);

    let encoder = experiment.encoder.init(&cpu);
    let cnn = encoder.as_small_cnn().unwrap();
    let mut h = x;
    for (i, block) in cnn.blocks.iter().enumerate() {
        let on_gpu = block.clone().to_device(gpu);
        let conv_cpu = block.conv.forward(h.clone());
        let conv_gpu = on_gpu.conv.forward(moved(&h, gpu));
        report.add(
            format!("batch {pairs}: stage {i} conv"),
            relative_gap(&conv_cpu, &conv_gpu),
        );
        let bn = block.bn.as_ref().unwrap();
        let bn_cpu = bn.forward(conv_cpu.clone());
        let bn_gpu = on_gpu.bn.as_ref().unwrap().forward(moved(&conv_cpu, gpu));
        report.add(
            format!("batch {pairs}: stage {i} batch norm"),
            relative_gap(&bn_cpu, &bn_gpu),
        );
        let out_cpu = block.forward_reference(h.clone());
        let out_gpu = on_gpu.forward_reference(moved(&h, gpu));
        report.add(
            format!("batch {pairs}: stage {i} whole"),
            relative_gap(&out_cpu, &out_gpu),
        );
        h = out_cpu;
    }
    let [b, c, _, _] = h.dims();
    let pooled_cpu = h.clone().mean_dim(3).mean_dim(2).reshape([b, c]);
    let pooled_gpu = moved(&h, gpu).mean_dim(3).mean_dim(2).reshape([b, c]);
    report.add(
        format!("batch {pairs}: pooling"),
        relative_gap(&pooled_cpu, &pooled_gpu),
    );

    let head = MlpHeadConfig {
        input: c,
        hidden: 256,
        output: 128,
    }
    .init(&cpu);
    let z_cpu = head.forward(pooled_cpu.clone());
    let z_gpu = head.clone().to_device(gpu).forward(moved(&pooled_cpu, gpu));
    report.add(
        format!("batch {pairs}: projection head"),
        relative_gap(&z_cpu, &z_gpu),
    );

    let loss_cpu = nt_xent(z_cpu.clone(), 0.2);
    let loss_gpu = nt_xent(moved(&z_cpu, gpu), 0.2);
    report.add(
        format!("batch {pairs}: nt_xent"),
        relative_gap(&loss_cpu, &loss_gpu),
    );

    // The chain as a step runs it: each device on its own intermediate results.
    let whole_cpu = nt_xent(
        head.forward(encoder.forward(views(&experiment, pairs, &cpu))),
        0.2,
    );
    let (encoder_gpu, head_gpu) = (encoder.clone().to_device(gpu), head.clone().to_device(gpu));
    let whole_gpu = nt_xent(
        head_gpu.forward(encoder_gpu.forward(views(&experiment, pairs, gpu))),
        0.2,
    );
    report.add(
        format!("batch {pairs}: whole forward, loss"),
        relative_gap(&whole_cpu, &whole_gpu),
    );
}

/// Training step 2's views of `pairs` images of the experiment's dataset, on `device`.
fn views(experiment: &Experiment, pairs: usize, device: &Device) -> Tensor<4> {
    let images = experiment.dataset.load().unwrap().train;
    let batch = make_view_batch(&images, &experiment.views, experiment.seed, 2, pairs);
    let side = batch.size;
    Tensor::from_data(
        TensorData::new(batch.data, [2 * pairs, 3, side, side]),
        device,
    )
}

/// The wgpu device, software adapters and wrong long sums allowed: these tests look at
/// what it computes, whatever the workbench's probe would say of it.
#[allow(unsafe_code)]
fn wgpu_device() -> Device {
    static ALLOW: std::sync::Once = std::sync::Once::new();
    // SAFETY: every test of this binary sets the same two values, once, before any
    // device opens; nothing else here writes the environment.
    ALLOW.call_once(|| unsafe {
        std::env::set_var("CW_ALLOW_SOFTWARE_GPU", "1");
        std::env::set_var(long_sums::ALLOW_WRONG_SUMS, "1");
        // The CPU runs burn's own ops too, not its fused stage.
        std::env::set_var("CW_BURN_CONV", "1");
    });
    let (gpu, info) = select_local(BackendChoice::Gpu).unwrap();
    println!("{}", info.name);
    gpu
}

#[test]
#[ignore = "slow: compiles the wgpu kernels; run with --features gpu -- --ignored"]
fn each_piece_of_the_step_gives_the_cpus_result_on_wgpu() {
    let gpu = wgpu_device();
    let sums_right = long_sums::verify(&gpu);
    let gpu = gpu.autodiff();
    let mut report = Report(Vec::new());
    // 16 pairs keep every batch norm's rows below where wrong long sums start; 64 pairs
    // reach them, so they count only on a device that sums long rows right.
    compare_pieces(16, &gpu, &mut report);
    if sums_right.is_ok() {
        compare_pieces(64, &gpu, &mut report);
    } else {
        let mut beyond = Report(Vec::new());
        compare_pieces(64, &gpu, &mut beyond);
        println!("(64 pairs not counted: {sums_right:?})");
    }
    let worst: Vec<_> = report
        .0
        .iter()
        .filter(|(_, gap)| gap.is_nan() || *gap >= 1e-4)
        .collect();
    assert!(worst.is_empty(), "pieces off by more than 1e-4: {worst:?}");
}

/// Row sums of `rows` x `len` small integers on `gpu`: how many rows are wrong (the
/// exact sums are integers below 2^24, so any order of summation gives them).
fn wrong_row_sums(rows: usize, len: usize, gpu: &Device) -> usize {
    let values: Vec<f32> = (0..rows * len).map(|i| ((i * 7) % 5) as f32).collect();
    let exact: Vec<f32> = values
        .chunks(len)
        .map(|r| r.iter().map(|&v| f64::from(v)).sum::<f64>() as f32)
        .collect();
    let got: Vec<f32> = Tensor::<2>::from_data(TensorData::new(values, [rows, len]), gpu)
        .sum_dim(1)
        .into_data()
        .iter::<f32>()
        .collect();
    exact.iter().zip(&got).filter(|(e, g)| e != g).count()
}

#[test]
#[ignore = "slow: compiles the wgpu kernels; run with --features gpu -- --ignored"]
fn a_device_is_refused_exactly_when_it_sums_long_rows_wrong() {
    let gpu = wgpu_device();
    let verdict = long_sums::verify(&gpu);
    // Where lavapipe goes wrong: rows of 65,536 values or more in 262,144 or more.
    let mut wrong = Vec::new();
    for (rows, len) in [
        (1, 1 << 20),
        (4, 1 << 16),
        (4, 1 << 17),
        (32, 1 << 16),
        (32, 1 << 17),
        (128, 1 << 16),
        (128, 1 << 10),
        (32, 1 << 14),
        (1, 1 << 17),
    ] {
        let bad = wrong_row_sums(rows, len, &gpu);
        println!("{rows:>4} rows of {len:>8}: {bad} wrong");
        if bad > 0 {
            wrong.push((rows, len, bad));
        }
    }
    println!("probe: {verdict:?}");
    match verdict {
        Ok(()) => assert!(
            wrong.is_empty(),
            "the probe passed a device with wrong sums: {wrong:?}"
        ),
        Err(why) => {
            assert!(
                !wrong.is_empty(),
                "the probe refused a device whose sums are right: {why}"
            );
            assert!(why.contains("sum long rows wrong"), "{why}");
        }
    }
    // Short rows are right everywhere, or the pieces test's 16 pairs would not count.
    assert!(
        !wrong.iter().any(|&(_, len, _)| len <= 1 << 14),
        "{wrong:?}"
    );
}

#[test]
#[ignore = "slow: compiles the wgpu kernels; run with --features gpu -- --ignored"]
fn a_second_run_in_the_same_process_gets_the_same_gpu() {
    // The window's second run and a sweep's members each select their device; wgpu
    // registers its device once per process, so opening it again used to fail.
    let first = wgpu_device();
    let (again, info) = select_local(BackendChoice::Gpu).unwrap();
    assert_eq!(again, first, "{}", info.name);
    let sum = Tensor::<1>::from_floats([1.0, 2.0], &again)
        .sum()
        .into_scalar::<f32>();
    assert_eq!(sum, 3.0);
}
