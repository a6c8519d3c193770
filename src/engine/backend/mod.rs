//! Choosing the compute device. The only place that knows which backends exist.
//!
//! The CPU backend is burn's `flex`, always available and the one tests use. The GPU
//! backends, each compiled in by its feature, are CUDA (`cuda`) and wgpu (`gpu`, WGSL
//! shaders on Vulkan/Metal/DX12), both with autotuned kernels and fusion; `Auto` tries
//! them in that order and falls back to the CPU, saying why. wgpu counts only when its
//! adapter is a real GPU: software adapters (lavapipe, llvmpipe) report `DeviceType::Cpu`
//! and are slower than flex. `remote` trains on another process's device (`serve`).
//!
//! `select_device` gives a run's device for its `[train]` choice, `select_local` one of
//! this machine's devices (what `serve` hosts and `bench` measures), and `cpu_device` the
//! device for work that always runs on the CPU; everything else takes the device it is
//! given. `make_the_cpu_burns_default` keeps burn's own default device (where it loads
//! what it is given no device for) off a GPU no run chose.
//!
//! # Several GPUs (not implemented: nothing here can test it)
//! burn 0.22 has data-parallel all-reduce (`burn::tensor::distributed`: NCCL for CUDA devices
//! in one process, and Remote); flex and wgpu panic on collectives, there is no SyncBN and no
//! all-gather. How it would fit:
//! - One replica per GPU on its own thread, each with its own device and a copy of the
//!   method; the session still makes one batch of views per step and hands each replica a
//!   slice of rows (both views of an image on the same replica, so the pairs stay local);
//!   gradients are all-reduced (mean) before each replica's identical optimiser step, so the
//!   weights stay equal. Seeding stays (seed, step), plus the replica's index.
//! - Methods whose loss compares a batch against itself lose negatives without an
//!   all-gather: SimCLR and the loss ladder's NCE / InfoNCE (2N/k - 2 negatives per anchor
//!   instead of 2N - 2 on k replicas), triplet and margin (negatives drawn from the batch),
//!   DIM (other images' features), CPC (other images' and positions' patches). Barlow Twins
//!   and VICReg need the whole batch's cross-correlation and covariance: these are sums over
//!   samples, so all-reducing the per-replica sums gives the exact matrices, but burn's
//!   all-reduce is not differentiable, so the gradient would be the local one. MoCo's queue
//!   needs every replica's keys (an all-gather) or one queue per replica, and its Shuffle-BN
//!   substitute a cross-replica shuffle. InstDisc's and CMC's memory banks need every
//!   replica's updates (gather the indices and features) or one bank on one device. BYOL,
//!   SimSiam and PixPro need no negatives and split cleanly.
//! - BatchNorm normalises each replica's slice with its own statistics (no SyncBN): smaller
//!   per-replica batches give noisier statistics, and SimCLR and BYOL's projector BatchNorm
//!   were published with global (synchronised) BN. Running statistics drift apart between
//!   replicas; the export would take replica 0's, or average them with an all-reduce before
//!   each evaluation and checkpoint.
//! - Metrics, evaluation and checkpoints read replica 0 (its weights equal the others').

mod gpu;
pub mod long_sums;
pub mod remote;
#[cfg(feature = "remote")]
pub mod remote_link;

use burn::tensor::Device;

use super::BackendInfo;
use crate::preset::{BackendChoice, TrainSpec};

/// The device a run trains on and a description of the choice, or why it is impossible.
pub fn select_device(train: &TrainSpec) -> Result<(Device, BackendInfo), String> {
    match train.backend {
        BackendChoice::Remote => remote::connect(&train.remote, &train.remote_token_file),
        local => select_local(local),
    }
}

/// A device on this machine: what `serve` hosts and what `bench` measures.
pub fn select_local(choice: BackendChoice) -> Result<(Device, BackendInfo), String> {
    match choice {
        BackendChoice::Cpu => Ok(cpu("CPU chosen in the settings")),
        BackendChoice::Auto => Ok(
            match gpu::cuda()
                .or_else(|cuda| gpu::wgpu().map_err(|wgpu| format!("CUDA: {cuda}; wgpu: {wgpu}")))
            {
                Ok(found) => found,
                Err(why) => cpu(&why),
            },
        ),
        BackendChoice::Gpu => gpu::wgpu().map_err(|why| format!("GPU backend unavailable: {why}")),
        BackendChoice::Cuda => {
            gpu::cuda().map_err(|why| format!("CUDA backend unavailable: {why}"))
        }
        BackendChoice::Remote => Err(
            "backend \"remote\" names another machine: choose a device of this one (auto, cpu, \
             gpu or cuda)"
                .into(),
        ),
    }
}

/// The CPU device, for work that always runs there: browsing and embedding with an
/// encoder loaded from a run folder, the CPU benchmark.
pub fn cpu_device() -> Device {
    Device::flex()
}

/// Makes burn's default device the CPU for this process. burn puts on `Device::default()`
/// what it loads without being given a device, a resumed checkpoint's optimiser state among
/// it (`ModuleOptimizer::load_record`; each parameter's state moves to its device at the next
/// step). Left alone, that default is CUDA, then wgpu, in a build that has them: resuming on
/// the CPU then opened a GPU the run had not chosen, and panicked where CUDA's driver is
/// missing. Nothing here asks burn for its default otherwise: every run names its device.
/// Call it first in `main`, before any other thread exists (it sets `BURN_DEVICE`).
#[allow(unsafe_code)]
pub fn make_the_cpu_burns_default() {
    // SAFETY: `main` calls this before it starts any thread, so nothing reads the
    // environment concurrently.
    unsafe { std::env::set_var("BURN_DEVICE", "flex") }
}

fn cpu(reason: &str) -> (Device, BackendInfo) {
    (
        cpu_device(),
        BackendInfo {
            name: "CPU (flex)".into(),
            reason: reason.into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available_and_says_why() {
        let (_, info) = select_local(BackendChoice::Cpu).unwrap();
        assert_eq!(info.name, "CPU (flex)");
        let (_, info) = select_local(BackendChoice::Auto).unwrap();
        assert!(!info.reason.is_empty());
    }

    #[cfg(not(feature = "gpu"))]
    #[test]
    fn asking_for_a_gpu_without_one_is_a_clear_error() {
        let err = select_local(BackendChoice::Gpu).unwrap_err();
        assert!(err.contains("GPU backend unavailable"), "{err}");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn asking_for_cuda_without_it_is_a_clear_error() {
        let err = select_local(BackendChoice::Cuda).unwrap_err();
        assert!(err.contains("CUDA backend unavailable"), "{err}");
        assert!(err.contains("--features cuda"), "{err}");
    }

    #[test]
    fn a_server_cannot_host_another_server() {
        let err = select_local(BackendChoice::Remote).unwrap_err();
        assert!(err.contains("this one"), "{err}");
    }
}
