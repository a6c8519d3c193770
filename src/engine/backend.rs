//! Choosing the compute device. The only place that knows which backends exist.
//!
//! The CPU backend is burn's `flex`, always available and the one tests use. The GPU
//! backend is burn's wgpu (WGSL shaders), compiled in with the `gpu` feature and used only
//! when the adapter is a real GPU: software adapters (lavapipe, llvmpipe) report
//! `DeviceType::Cpu` and are slower than flex, so they count as no GPU.

use burn::tensor::Device;

use super::BackendInfo;
use crate::preset::BackendChoice;

/// The device to train on and a description of the choice, or why `Gpu` is impossible.
pub fn select_device(choice: BackendChoice) -> Result<(Device, BackendInfo), String> {
    match choice {
        BackendChoice::Cpu => Ok(cpu("CPU chosen in the settings")),
        BackendChoice::Auto => Ok(match gpu() {
            Ok(found) => found,
            Err(why) => cpu(&why),
        }),
        BackendChoice::Gpu => gpu().map_err(|why| format!("GPU backend unavailable: {why}")),
    }
}

/// The CPU device, for work that always runs there: browsing and embedding with an
/// encoder loaded from a run folder, the CPU benchmark.
pub fn cpu_device() -> Device {
    Device::flex()
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

#[cfg(feature = "gpu")]
fn gpu() -> Result<(Device, BackendInfo), String> {
    use burn::tensor::DeviceKind;
    use burn::tensor::wgpu::wgpu::DeviceType;
    // Probing can panic inside driver loaders on broken setups: contain it.
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
    if info.device_type == DeviceType::Cpu {
        return Err(format!(
            "only a software adapter was found ({}), which is slower than the CPU backend",
            info.name
        ));
    }
    Ok((
        device,
        BackendInfo {
            name: format!("GPU (wgpu: {})", info.name),
            reason: format!(
                "hardware adapter {:?} via {:?}",
                info.device_type, info.backend
            ),
        },
    ))
}

#[cfg(not(feature = "gpu"))]
fn gpu() -> Result<(Device, BackendInfo), String> {
    Err("this build has no GPU backend (rebuild with `--features gpu`)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available_and_says_why() {
        let (_, info) = select_device(BackendChoice::Cpu).unwrap();
        assert_eq!(info.name, "CPU (flex)");
        let (_, info) = select_device(BackendChoice::Auto).unwrap();
        assert!(!info.reason.is_empty());
    }

    #[cfg(not(feature = "gpu"))]
    #[test]
    fn asking_for_a_gpu_without_one_is_a_clear_error() {
        let err = select_device(BackendChoice::Gpu).unwrap_err();
        assert!(err.contains("GPU backend unavailable"), "{err}");
    }
}
