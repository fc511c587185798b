//! [`Dropout`], the functional face of [`DropoutConfig`].

use crate::layer::config_layer;
pub use duet_core::layers::DropoutConfig;

/// Inverted dropout with probability `p` in [`crate::Mode::Train`] (the mode's key draws the
/// mask); the identity in [`crate::Mode::Eval`]. See [`DropoutConfig`].
///
/// # Shapes
/// Output shape = input shape.
///
/// # Example
/// ```
/// use duet_functional::{Dropout, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key, Params};
/// let x = DynTensor::from_floats(vec![1.0; 100], &[100], &Device::flex());
/// let none = Params::new();
/// let (y, _) = Dropout::new(0.5).apply(&none, &none, x.clone(), Mode::Train(Key::new(0)));
/// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
/// let (y, _) = Dropout::new(0.5).apply(&none, &none, x.clone(), Mode::Eval);
/// assert_eq!(y.to_vec(), x.to_vec());
/// ```
pub type Dropout = DropoutConfig;

config_layer!(DropoutConfig);
