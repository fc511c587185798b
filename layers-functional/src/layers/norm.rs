//! Normalization layers, the functional faces of `duet_core`'s norm configs. Batch norm keeps
//! its running statistics in the state tree.

use crate::layer::config_layer;
pub use duet_core::layers::{BatchNormConfig, GroupNormConfig, LayerNormConfig, RmsNormConfig};

/// Batch normalization over the channel axis 1 ([`BatchNormConfig`]: eps 1e-5, momentum 0.1).
///
/// Params `weight` (ones), `bias` (zeros); state `running_mean` (zeros), `running_var` (ones).
/// In [`crate::Mode::Train`] it normalizes with batch statistics and returns updated running
/// statistics as the new state; in [`crate::Mode::Eval`] it uses the running statistics.
///
/// # Shapes
/// `[N, C]`, `[N, C, L]` or `[N, C, H, W]` -> the same shape.
///
/// # Example
/// ```
/// use duet_functional::{BatchNorm, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let dev = Device::flex();
/// let (p, s) = BatchNorm::new().init_model(&[2, 1], Key::new(0), &dev).unwrap();
/// let x = DynTensor::from_floats(vec![1.0, 3.0], &[2, 1], &dev);
/// let (_, s2) = BatchNorm::new().apply(&p, &s, x, Mode::Train(Key::new(1)));
/// let rm = s2.get_dyn("running_mean").unwrap().to_vec()[0];
/// assert!((rm - 0.2).abs() < 1e-6); // 0.9 * 0 + 0.1 * 2
/// ```
pub type BatchNorm = BatchNormConfig;

/// Layer normalization over the last axis ([`LayerNormConfig`]); params `weight` (ones),
/// `bias` (zeros).
///
/// # Shapes
/// `[..., F] -> [..., F]`
pub type LayerNorm = LayerNormConfig;

/// RMS normalization over the last axis ([`RmsNormConfig`]); param `weight` (ones).
///
/// # Shapes
/// `[..., F] -> [..., F]`
pub type RmsNorm = RmsNormConfig;

/// Group normalization over axis 1 ([`GroupNormConfig`]); params `weight` (ones), `bias`
/// (zeros).
///
/// # Shapes
/// `[N, C, ...] -> [N, C, ...]`, `C % groups == 0`.
pub type GroupNorm = GroupNormConfig;

config_layer!(
    BatchNormConfig,
    LayerNormConfig,
    RmsNormConfig,
    GroupNormConfig
);
