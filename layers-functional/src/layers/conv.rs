//! [`Conv1d`], [`Conv2d`], [`ConvTranspose2d`]: the functional faces of `duet_core`'s conv
//! configs; input channels inferred at init.

use crate::layer::config_layer;
pub use duet_core::layers::{Conv1dConfig, Conv2dConfig, ConvConfig, ConvTranspose2dConfig};

/// 1-D convolution over `[N, C, L]` ([`Conv1dConfig`]). Params: `weight` `[filters, C/groups, k]`,
/// `bias` `[filters]`.
///
/// # Shapes
/// `[N, C, L] -> [N, filters, L_out]`
pub type Conv1d = Conv1dConfig;

/// 2-D convolution over `[N, C, H, W]` ([`Conv2dConfig`]). Params: `weight`
/// `[filters, C/groups, k, k]`, `bias` `[filters]`, PyTorch's default init.
///
/// # Shapes
/// `[N, C, H, W] -> [N, filters, H_out, W_out]`
///
/// # Example
/// ```
/// use duet_functional::{Conv2d, Layer};
/// use duet_core::ops::Padding;
/// let c = Conv2d::new(6, 5);
/// assert_eq!(c.output_signature(&[vec![8, 3, 32, 32]]).unwrap(), vec![vec![8, 6, 28, 28]]);
/// let same = Conv2d::new(6, 3).with_padding(Padding::Same);
/// assert_eq!(same.output_signature(&[vec![8, 3, 32, 32]]).unwrap(), vec![vec![8, 6, 32, 32]]);
/// ```
pub type Conv2d = Conv2dConfig;

/// 2-D transposed convolution ([`ConvTranspose2dConfig`]). Params: `weight`
/// `[C, filters, k, k]`, `bias` `[filters]`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, filters, (H-1)*s - 2p + (k-1) + output_padding + 1, ..]`
///
/// # Example
/// ```
/// use duet_functional::{ConvTranspose2d, Layer};
/// use duet_core::ops::ConvTransposeSpec;
/// let up = ConvTranspose2d::new(4, 3).with_spec(ConvTransposeSpec { stride: 2, padding: 1, output_padding: 1, ..Default::default() });
/// assert_eq!(up.output_signature(&[vec![1, 8, 5, 5]]).unwrap(), vec![vec![1, 4, 10, 10]]);
/// ```
pub type ConvTranspose2d = ConvTranspose2dConfig;

config_layer!(Conv1dConfig, Conv2dConfig, ConvTranspose2dConfig);
