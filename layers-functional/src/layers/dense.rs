//! [`Dense`]: `y = x @ W + b`, the functional face of [`DenseConfig`].

use crate::layer::config_layer;
pub use duet_core::layers::DenseConfig;

/// A dense layer with `units` outputs; the input size is inferred at init. The definition
/// (defaults, init, maths) is [`DenseConfig`]'s.
///
/// Params: `weight` `[in, units]`, `bias` `[units]`, both PyTorch's default
/// (`U(-1/sqrt(in), 1/sqrt(in))`) unless set with `with_init`.
///
/// # Shapes
/// `[..., in] -> [..., units]`
///
/// # Example
/// ```
/// use duet_functional::{Dense, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let dev = Device::flex();
/// let layer = Dense::new(3);
/// let (p, s) = layer.init_model(&[2, 4], Key::new(0), &dev).unwrap();
/// assert_eq!(p.get_dyn("weight").unwrap().dims(), vec![4, 3]);
/// let (y, _) = layer.apply(&p, &s, DynTensor::zeros(&[2, 4], &dev), Mode::Eval);
/// assert_eq!(y.to_vec(), p.get_dyn("bias").unwrap().to_vec().repeat(2)); // zero input: y = b
/// ```
#[doc(alias = "Linear")]
pub type Dense = DenseConfig;

config_layer!(DenseConfig);
