//! The `gpu` build's wgpu path, run for real: on a machine without a GPU it runs on Mesa's
//! software Vulkan adapter (lavapipe, which `.ci/run` installs), allowed by
//! `CW_ALLOW_SOFTWARE_GPU`. Only in `gpu` builds, and in the slow tier because that build
//! and its kernels' compilation are slow:
//! `cargo test --release --features gpu --test gpu_backend -- --ignored`.
#![cfg(feature = "gpu")]
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

use common::{assert_succeeded, step_losses, tiny_preset_file};

const BIN: &str = env!("CARGO_BIN_EXE_contrastive-workbench");

fn train(preset: &Path, out: &Path, steps: u64, backend: &str, resume: bool) -> Output {
    train_with(preset, out, steps, backend, resume, "cpu")
}

/// [`train`], the views made on the CPU or on the training `device`.
fn train_with(
    preset: &Path,
    out: &Path,
    steps: u64,
    backend: &str,
    resume: bool,
    views_on: &str,
) -> Output {
    let cache = out.parent().unwrap().join("cache");
    let mut cmd = Command::new(BIN);
    cmd.args(["train", "--backend", backend, "--force", "--preset"])
        .arg(preset)
        .arg("--out")
        .arg(out)
        .args(["--steps", &steps.to_string()])
        .args(["--augment-on", views_on])
        // The CPU runs burn's own ops too, not its fused stage.
        .env("CW_BURN_CONV", "1")
        .env("CW_ALLOW_SOFTWARE_GPU", "1")
        // lavapipe cuts sums past ~262,000 values a thread short (its loop limit); 16
        // images keep every batch norm's rows far below (tests/gpu_ops_agreement.rs).
        .env("CW_ALLOW_WRONG_GPU_SUMS", "1")
        // The user's cache directory, where the autotune results are kept.
        .env("XDG_CACHE_HOME", cache)
        .stdin(Stdio::null());
    if resume {
        cmd.arg("--resume");
    }
    let out = cmd.output().unwrap();
    assert_succeeded(&out);
    out
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
#[ignore = "slow: compiles the wgpu kernels; run with --features gpu -- --ignored"]
fn a_step_on_wgpu_from_a_cpu_checkpoint_gives_the_cpu_loss() {
    // Two steps on the CPU, then the third from that checkpoint on each device: the same
    // weights, optimiser state and batch, so the same loss up to the order of float sums.
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 3);
    let (cpu_run, gpu_run) = (dir.path().join("cpu"), dir.path().join("gpu"));
    train(&preset, &cpu_run, 2, "cpu", false);
    copy_folder(&cpu_run, &gpu_run);
    let cpu = train(&preset, &cpu_run, 3, "cpu", true);
    let gpu = train(&preset, &gpu_run, 3, "gpu", true);
    let said = String::from_utf8_lossy(&gpu.stderr);
    assert!(said.contains("backend: GPU (wgpu: "), "{said}");
    // A resumed run reports the checkpoint's curve first: step 3 is the new step.
    let (cpu, gpu) = (step_losses(&cpu), step_losses(&gpu));
    assert_eq!(cpu.len(), 3, "{cpu:?}");
    assert_eq!(gpu.len(), 3, "{gpu:?}");
    assert_eq!(cpu[..2], gpu[..2], "the same checkpoint");
    assert!(
        (cpu[2] - gpu[2]).abs() < 1e-4,
        "step 3: cpu {cpu:?} vs wgpu {gpu:?}"
    );
    // The GPU run's encoder was read back and exported.
    assert!(gpu_run.join("encoder.safetensors").exists());
    // Its kernels' autotune results were kept in the user's cache directory, for the next
    // run (the CPU runs tune nothing).
    let kept = walkdir::WalkDir::new(dir.path().join("cache/cubecl"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();
    assert!(kept > 0, "no autotune cache under XDG_CACHE_HOME/cubecl");
}

#[test]
#[ignore = "slow: compiles the wgpu kernels; run with --features gpu -- --ignored"]
fn views_made_on_wgpu_train_as_the_cpus_do() {
    // The same run on wgpu twice: its views made on the CPU, then rendered on the GPU
    // by the producer thread while the trainer's thread steps (train.augment_on).
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 3);
    let (cpu_made, gpu_made) = (dir.path().join("cpu-made"), dir.path().join("gpu-made"));
    let cpu = step_losses(&train_with(&preset, &cpu_made, 3, "gpu", false, "cpu"));
    let gpu = step_losses(&train_with(&preset, &gpu_made, 3, "gpu", false, "device"));
    assert_eq!(cpu.len(), 3, "{cpu:?}");
    assert_eq!(gpu.len(), 3, "{gpu:?}");
    for (a, b) in cpu.iter().zip(&gpu) {
        assert!((a - b).abs() <= 1e-4 * a.abs(), "{cpu:?} vs {gpu:?}");
    }
}
