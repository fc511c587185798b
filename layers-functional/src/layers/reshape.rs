//! [`Flatten`], the functional face of [`FlattenConfig`].

use crate::layer::config_layer;
pub use duet_core::layers::FlattenConfig;

/// Flattens every axis after the batch axis: `[N, C, H, W] -> [N, C*H*W]` (C, H, W order, as
/// PyTorch's `flatten(1)`).
///
/// # Shapes
/// `[N, ...] -> [N, prod(...)]`
///
/// # Example
/// ```
/// use duet_functional::{Flatten, Layer};
/// assert_eq!(Flatten.output_signature(&[vec![8, 16, 5, 5]]).unwrap(), vec![vec![8, 400]]);
/// ```
pub type Flatten = FlattenConfig;

/// `Flatten` as a value (a unit struct's type alias cannot be used as one).
#[allow(non_upper_case_globals)]
pub const Flatten: FlattenConfig = FlattenConfig;

config_layer!(FlattenConfig);
