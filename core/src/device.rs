//! Choosing a device by name at run time.
//!
//! burn 0.22 picks the backend from the [`Device`] value, so one binary can run on any backend
//! compiled into it. The default build has burn's `flex` CPU backend; the `wgpu` and `cuda`
//! cargo features add the GPU backends.

use burn::tensor::{Device, Tensor};

/// A device name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The name is not `cpu`, `wgpu[:N]` or `cuda[:N]`.
    #[error("unknown device `{0}`: expected cpu, wgpu, wgpu:N, wgpu:cpu, cuda or cuda:N")]
    Unknown(String),
    /// The backend exists but this binary was built without it.
    #[error("device `{name}` needs the `{feature}` feature: rebuild with `cargo build --release --features {feature}`")]
    NotCompiled {
        /// The name asked for.
        name: String,
        /// The cargo feature that compiles the backend in.
        feature: &'static str,
    },
    /// The backend is compiled in but no such device could be opened.
    #[error("device `{name}` is not available on this machine: {reason}")]
    NotPresent {
        /// The name asked for.
        name: String,
        /// What the backend said.
        reason: String,
    },
}

/// Parses a device name and opens the device.
///
/// | name | device |
/// |---|---|
/// | `cpu` | burn's `flex` CPU backend |
/// | `wgpu` | the best wgpu adapter (a GPU, or lavapipe on a CPU-only Linux box) |
/// | `wgpu:N` | the N-th discrete GPU seen by wgpu |
/// | `wgpu:cpu` | a software (CPU) wgpu adapter such as lavapipe |
/// | `cuda`, `cuda:N` | CUDA device N (default 0) |
///
/// GPU devices are opened with a one-element computation, so a missing driver is reported here
/// as [`DeviceError::NotPresent`] rather than as a panic later.
///
/// The returned device does not record gradients; [`crate::value_and_grad`] lifts tensors to
/// autodiff itself, and `device.autodiff()` gives an autodiff device where one is wanted.
///
/// # Example
/// ```
/// let cpu = duet_core::device("cpu").unwrap();
/// assert_eq!(cpu, duet_core::burn::tensor::Device::flex());
/// assert!(duet_core::device("tpu").unwrap_err().to_string().contains("unknown device"));
/// # #[cfg(not(feature = "cuda"))]
/// assert!(duet_core::device("cuda:0").unwrap_err().to_string().contains("--features cuda"));
/// ```
pub fn device(name: &str) -> Result<Device, DeviceError> {
    let name = name.trim();
    let (backend, index) = match name.split_once(':') {
        Some((b, i)) => (b, Some(i)),
        None => (name, None),
    };
    let bad = || DeviceError::Unknown(name.to_string());
    match (backend.to_ascii_lowercase().as_str(), index) {
        ("cpu" | "flex", None) => Ok(Device::flex()),
        ("wgpu", index) => wgpu_device(name, index),
        ("cuda", index) => {
            let i = match index {
                None => 0,
                Some(i) => i.parse::<usize>().map_err(|_| bad())?,
            };
            cuda_device(name, i)
        }
        _ => Err(bad()),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device(name: &str, index: Option<&str>) -> Result<Device, DeviceError> {
    use burn::tensor::DeviceKind;
    let kind = match index {
        None => DeviceKind::DefaultDevice,
        Some("cpu") => DeviceKind::Cpu,
        Some(i) => DeviceKind::DiscreteGpu(
            i.parse()
                .map_err(|_| DeviceError::Unknown(name.to_string()))?,
        ),
    };
    probe(name, Device::wgpu(kind))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device(name: &str, index: Option<&str>) -> Result<Device, DeviceError> {
    if let Some(i) = index {
        if i != "cpu" && i.parse::<usize>().is_err() {
            return Err(DeviceError::Unknown(name.to_string()));
        }
    }
    Err(DeviceError::NotCompiled {
        name: name.to_string(),
        feature: "wgpu",
    })
}

#[cfg(feature = "cuda")]
fn cuda_device(name: &str, index: usize) -> Result<Device, DeviceError> {
    probe(name, Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(name: &str, _index: usize) -> Result<Device, DeviceError> {
    Err(DeviceError::NotCompiled {
        name: name.to_string(),
        feature: "cuda",
    })
}

/// Runs a one-element computation on `device`, turning a backend panic into an error.
#[allow(dead_code)] // unused when no GPU backend is compiled in
fn probe(name: &str, device: Device) -> Result<Device, DeviceError> {
    let d = device.clone();
    let run = std::panic::catch_unwind(move || {
        let t = Tensor::<1>::ones([1], &d) + 1.0;
        t.into_data().try_to_vec::<f32>().map(|v| v[0])
    });
    match run {
        Ok(Ok(2.0)) => Ok(device),
        Ok(other) => Err(DeviceError::NotPresent {
            name: name.into(),
            reason: format!("{other:?}"),
        }),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the backend panicked while opening it".into());
            Err(DeviceError::NotPresent {
                name: name.into(),
                reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(device("cpu").unwrap(), Device::flex());
        assert_eq!(device(" CPU ").unwrap(), Device::flex());
        for bad in ["", "gpu", "cpu:1", "cuda:x", "wgpu:abc", "tpu:0"] {
            assert!(matches!(device(bad), Err(DeviceError::Unknown(_))), "{bad}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_enable_it() {
        let e = device("cuda:1").unwrap_err();
        assert_eq!(
            e,
            DeviceError::NotCompiled {
                name: "cuda:1".into(),
                feature: "cuda"
            }
        );
        assert!(e.to_string().contains("--features cuda"));
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_says_how_to_enable_it() {
        assert!(matches!(
            device("wgpu:0"),
            Err(DeviceError::NotCompiled {
                feature: "wgpu",
                ..
            })
        ));
    }
}
