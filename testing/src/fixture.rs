//! Reading reference fixtures (safetensors + a JSON manifest, as produced by PyTorch) and
//! comparing tensors against them. duet's own golden tests use this; it is public so users can
//! check their layers against PyTorch the same way.

use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::DynTensor;
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// One stored tensor: its shape and values (floats as `f32`, integers as `i64`).
#[derive(Clone, Debug)]
pub struct Stored {
    /// The shape (a scalar is `[]`).
    pub shape: Vec<usize>,
    /// Float values (empty for integer tensors).
    pub f32s: Vec<f32>,
    /// Integer values (empty for float tensors).
    pub i64s: Vec<i64>,
}

/// All tensors of a fixture file, by name.
#[derive(Clone, Debug)]
pub struct Fixture {
    tensors: HashMap<String, Stored>,
}

impl Fixture {
    /// Reads a safetensors file of F32, F64 (converted to f32) and I64 tensors.
    ///
    /// Panics with the file name on an unreadable file (this is test support).
    pub fn open(path: impl AsRef<Path>) -> Fixture {
        let path = path.as_ref();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let st =
            SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let d = view.data();
            let mut s = Stored {
                shape: view.shape().to_vec(),
                f32s: Vec::new(),
                i64s: Vec::new(),
            };
            match view.dtype() {
                Dtype::F32 => {
                    s.f32s = d
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect()
                }
                Dtype::F64 => {
                    s.f32s = d
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                        .collect()
                }
                Dtype::I64 => {
                    s.i64s = d
                        .chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect()
                }
                other => panic!(
                    "{}: tensor {name} has unsupported dtype {other:?}",
                    path.display()
                ),
            }
            tensors.insert(name, s);
        }
        Fixture { tensors }
    }

    /// How many tensors have names starting with `prefix`.
    pub fn tensors_named(&self, prefix: &str) -> usize {
        self.tensors
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count()
    }

    /// The stored tensor `name`. Panics naming it if absent.
    pub fn get(&self, name: &str) -> &Stored {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no tensor `{name}`"))
    }

    /// Whether the fixture has `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// A float tensor of any rank, as stored (a scalar becomes `[1]`).
    pub fn tensor(&self, name: &str, device: &Device) -> DynTensor {
        let s = self.get(name);
        let shape = if s.shape.is_empty() {
            vec![1]
        } else {
            s.shape.clone()
        };
        DynTensor::from_floats(s.f32s.clone(), &shape, device)
    }

    /// A float tensor of rank `D` (a scalar becomes `[1]`).
    pub fn float<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        let s = self.get(name);
        let shape = if s.shape.is_empty() {
            vec![1]
        } else {
            s.shape.clone()
        };
        assert_eq!(
            shape.len(),
            D,
            "fixture tensor `{name}` has shape {shape:?}, not rank {D}"
        );
        Tensor::from_data(TensorData::new(s.f32s.clone(), shape), device)
    }

    /// An integer tensor of rank `D`.
    pub fn int<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D, Int> {
        let s = self.get(name);
        assert_eq!(
            s.shape.len(),
            D,
            "fixture tensor `{name}` has shape {:?}, not rank {D}",
            s.shape
        );
        Tensor::from_data(TensorData::new(s.i64s.clone(), s.shape.clone()), device)
    }
}

/// The relative error `max|a - b| / max|b|` and the absolute error `max|a - b|`.
pub fn errors(actual: &[f32], expected: &[f32]) -> (f64, f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "compared tensors differ in length"
    );
    let abs = actual
        .iter()
        .zip(expected)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(0.0, f64::max);
    let scale = expected
        .iter()
        .map(|b| (*b as f64).abs())
        .fold(0.0, f64::max);
    (if scale > 0.0 { abs / scale } else { abs }, abs)
}

/// Asserts `actual ~= expected`: relative error (max-abs over max-abs) at most `rel`, or absolute
/// error at most `abs`. Panics with `what` and both errors.
///
/// # Example
/// ```
/// duet_testing::assert_close("x", &[1.0, 2.0], &[1.0, 2.000001], 1e-5, 1e-6);
/// ```
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], rel: f64, abs: f64) {
    let (r, a) = errors(actual, expected);
    assert!(
        r <= rel || a <= abs,
        "{what}: relative error {r:.3e} (limit {rel:.0e}), absolute {a:.3e} (limit {abs:.0e})"
    );
}

/// The device the golden suites run on: the [`duet_core::device()`] name in `DUET_TEST_DEVICE`, or the
/// CPU (`flex`) when it is unset. CI runs the suites once on the CPU and once with
/// `DUET_TEST_DEVICE=wgpu` (lavapipe).
///
/// Panics with the device error when the name cannot be opened (this is test support).
///
/// # Example
/// ```
/// # std::env::remove_var("DUET_TEST_DEVICE");
/// assert_eq!(duet_testing::test_device(), duet_core::burn::tensor::Device::flex());
/// ```
pub fn test_device() -> Device {
    let name = std::env::var("DUET_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    duet_core::device(&name).unwrap_or_else(|e| panic!("DUET_TEST_DEVICE={name}: {e}"))
}

/// How much looser than the CPU tolerance a comparison on `device` may be: 1 on `flex`; 20 on
/// the GPU backends. Why 20: wgpu/CUDA kernels reduce in a different order (tiled matmul and
/// convolution, tree reductions for sums and softmax) and WGSL's `exp`/`tanh`/`pow` are not
/// correctly rounded; measured on lavapipe the worst golden case is ~1e-5 relative against the
/// float64 reference, within 2e-4.
///
/// # Example
/// ```
/// use duet_core::burn::tensor::Device;
/// use duet_testing::tolerance_scale;
/// assert_eq!(tolerance_scale(&Device::flex()), 1.0);
/// ```
pub fn tolerance_scale(device: &Device) -> f64 {
    if duet_core::kernels::is_flex(device) {
        1.0
    } else {
        20.0
    }
}

/// [`tolerance_scale`] for one golden case whose activation is `function` (the manifest's
/// `hyper.function`, if any). On GPU backends, cases through `erf` (exact GELU) get 100: burn's
/// GPU `erf` is a polynomial approximation (cubecl), and the exact-GELU input gradient is off by
/// 6.7e-4 relative on lavapipe.
///
/// # Example
/// ```
/// use duet_core::burn::tensor::Device;
/// use duet_testing::case_tolerance_scale;
/// assert_eq!(case_tolerance_scale(&Device::flex(), Some("gelu_erf")), 1.0);
/// ```
pub fn case_tolerance_scale(device: &Device, function: Option<&str>) -> f64 {
    let scale = tolerance_scale(device);
    if scale > 1.0 && function.is_some_and(|f| f.contains("erf")) {
        100.0
    } else {
        scale
    }
}
