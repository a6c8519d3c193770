//! Probing the GPU backends this build has: CUDA (`cuda` feature) and wgpu (`gpu`).
//! Each probe opens the device and runs one small kernel, so a driver that loads but
//! cannot compile (no NVRTC, no CUDA headers, a broken Vulkan loader) is refused here
//! with its reason rather than failing the first training step; so is one whose kernels
//! sum long rows wrong (`long_sums`). Probes can panic
//! inside driver loaders on broken setups: that is contained too. cubecl's autotune cache
//! is pointed at the user's cache directory, so a later run from anywhere does not re-tune.

use burn::tensor::Device;
#[cfg(any(feature = "gpu", feature = "cuda"))]
use burn::tensor::Tensor;

use crate::engine::BackendInfo;

/// The autotune results go under the user's cache directory (`~/.cache/cubecl`), not the
/// current directory's `target/`, so a second run, from anywhere, does not re-tune.
/// Must run before the first cubecl device opens; a configuration the user set first
/// (a `cubecl.toml`) wins.
#[cfg(any(feature = "gpu", feature = "cuda"))]
fn persist_tuning_cache() {
    use burn::cubecl::config::cache::CacheConfig;
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if matches!(config.environment.path, CacheConfig::Target) {
            config.environment.path = CacheConfig::Global;
        }
        CubeClRuntimeConfig::try_set(config);
    });
}

/// Whether `device` runs a kernel and reads its result back.
#[cfg(any(feature = "gpu", feature = "cuda"))]
fn runs_a_kernel(device: &Device) -> Result<(), String> {
    let device = device.clone();
    let sum = std::panic::catch_unwind(move || {
        Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device)
            .sum()
            .into_scalar::<f32>()
    })
    .map_err(|panic| crate::worker::panic_message(panic.as_ref()))?;
    if sum == 6.0 {
        Ok(())
    } else {
        Err(format!("a test kernel returned {sum} instead of 6"))
    }
}

/// What compiling kernels needs at run time, beside the driver: the compiler this build
/// chose (`cuda-nvrtc` or the default LLVM) looks for different files of the toolkit.
#[cfg(all(feature = "cuda", feature = "cuda-nvrtc"))]
const CUDA_NEEDS: &str = "this build compiles kernels with NVRTC: it needs libnvrtc and the \
     CUDA headers of a toolkit (CUDA_PATH or /usr/local/cuda)";
#[cfg(all(feature = "cuda", not(feature = "cuda-nvrtc")))]
const CUDA_NEEDS: &str = "this build compiles kernels with LLVM: it needs the toolkit's \
     nvvm/libdevice/libdevice.10.bc (under CUDA_PATH, /usr/local/cuda, /opt/cuda or /usr)";

/// What a probe found, kept for the rest of the process: wgpu registers its device once
/// per process (a second `init_with_setup` fails with "Service already initialized"), so
/// the window's second run, or a sweep's second member, must reuse the first one's device.
/// The outcome is the same for every caller, and the checks run once.
#[cfg(any(feature = "gpu", feature = "cuda"))]
type Probed = std::sync::OnceLock<Result<(Device, BackendInfo), String>>;

#[cfg(feature = "cuda")]
pub fn cuda() -> Result<(Device, BackendInfo), String> {
    static PROBED: Probed = Probed::new();
    PROBED.get_or_init(probe_cuda).clone()
}

#[cfg(feature = "cuda")]
fn probe_cuda() -> Result<(Device, BackendInfo), String> {
    use burn::tensor::DeviceType;
    persist_tuning_cache();
    let found = std::panic::catch_unwind(|| Device::enumerate(DeviceType::Cuda))
        .map_err(|_| "the CUDA driver (libcuda) could not be loaded".to_string())?;
    let count = found.len();
    let device = found
        .into_iter()
        .next()
        .ok_or("no NVIDIA GPU is visible to CUDA")?;
    runs_a_kernel(&device)
        .map_err(|why| format!("the GPU was found but cannot run kernels ({why}); {CUDA_NEEDS}"))?;
    let name = device
        .identity()
        .map(|id| id.name)
        .unwrap_or_else(|| "NVIDIA GPU".into());
    super::long_sums::check(&device).map_err(|why| format!("{name}: {why}"))?;
    Ok((
        device,
        BackendInfo {
            name: format!("GPU (CUDA: {name})"),
            reason: format!("CUDA device 0 of {count}, preferred over wgpu and the CPU"),
        },
    ))
}

#[cfg(not(feature = "cuda"))]
pub fn cuda() -> Result<(Device, BackendInfo), String> {
    Err("this build has no CUDA backend (rebuild with `--features cuda`)".into())
}

/// Set, a software Vulkan adapter (Mesa's lavapipe) counts as a GPU: the wgpu code path
/// (its kernels, autotune and fusion) then runs, slowly, on a machine without one, as the
/// `gpu` build's test does.
#[cfg(feature = "gpu")]
pub const ALLOW_SOFTWARE_GPU: &str = "CW_ALLOW_SOFTWARE_GPU";

#[cfg(feature = "gpu")]
pub fn wgpu() -> Result<(Device, BackendInfo), String> {
    static PROBED: Probed = Probed::new();
    PROBED.get_or_init(probe_wgpu).clone()
}

#[cfg(feature = "gpu")]
fn probe_wgpu() -> Result<(Device, BackendInfo), String> {
    use burn::tensor::DeviceKind;
    use burn::tensor::wgpu::wgpu::DeviceType;
    persist_tuning_cache();
    let probe = std::panic::catch_unwind(|| {
        Device::wgpu_options()
            .device_kind(DeviceKind::DefaultDevice)
            .init_with_setup()
    });
    let (device, setup) = match probe {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(format!("no usable GPU adapter ({e})")),
        Err(_) => return Err("the GPU driver crashed while probing".into()),
    };
    let info = setup.adapter.get_info();
    let software = info.device_type == DeviceType::Cpu;
    if software && std::env::var(ALLOW_SOFTWARE_GPU).as_deref() != Ok("1") {
        return Err(format!(
            "only a software adapter was found ({}), which is slower than the CPU backend \
             ({ALLOW_SOFTWARE_GPU}=1 uses it anyway, to test the GPU code path)",
            info.name
        ));
    }
    runs_a_kernel(&device).map_err(|why| format!("{} cannot run kernels ({why})", info.name))?;
    super::long_sums::check(&device).map_err(|why| format!("{}: {why}", info.name))?;
    Ok((
        device,
        BackendInfo {
            name: format!("GPU (wgpu: {})", info.name),
            reason: if software {
                format!(
                    "software adapter via {:?}, allowed by {ALLOW_SOFTWARE_GPU} (slower than \
                     the CPU backend: for testing the GPU code path)",
                    info.backend
                )
            } else {
                format!(
                    "hardware adapter {:?} via {:?}",
                    info.device_type, info.backend
                )
            },
        },
    ))
}

#[cfg(not(feature = "gpu"))]
pub fn wgpu() -> Result<(Device, BackendInfo), String> {
    Err("this build has no GPU backend (rebuild with `--features gpu`)".into())
}
