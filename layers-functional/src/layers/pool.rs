//! Pooling layers over `[N, C, H, W]`, the functional faces of `duet_core`'s pool configs.

use crate::layer::config_layer;
pub use duet_core::layers::{
    AdaptiveAvgPool2dConfig, AvgPool2dConfig, GlobalAvgPoolConfig, MaxPool2dConfig,
};

/// Max pooling ([`MaxPool2dConfig`]).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, floor((H + 2p - k)/s) + 1, ..]`
///
/// # Example
/// ```
/// use duet_functional::{Layer, MaxPool2d};
/// assert_eq!(MaxPool2d::new(2).output_signature(&[vec![1, 6, 28, 28]]).unwrap(), vec![vec![1, 6, 14, 14]]);
/// ```
pub type MaxPool2d = MaxPool2dConfig;

/// Average pooling ([`AvgPool2dConfig`]); counts padding unless built with `excluding_padding`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, floor((H + 2p - k)/s) + 1, ..]`
pub type AvgPool2d = AvgPool2dConfig;

/// Adaptive average pooling to `[out_h, out_w]` ([`AdaptiveAvgPool2dConfig`]).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, out_h, out_w]`
pub type AdaptiveAvgPool2d = AdaptiveAvgPool2dConfig;

/// Global average pooling: the mean over `H` and `W` ([`GlobalAvgPoolConfig`]).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C]`
pub type GlobalAvgPool = GlobalAvgPoolConfig;

/// `GlobalAvgPool` as a value (a unit struct's type alias cannot be used as one).
#[allow(non_upper_case_globals)]
pub const GlobalAvgPool: GlobalAvgPoolConfig = GlobalAvgPoolConfig;

config_layer!(
    MaxPool2dConfig,
    AvgPool2dConfig,
    AdaptiveAvgPool2dConfig,
    GlobalAvgPoolConfig
);
