//! Activations. Each is element-wise over any shape unless it names an axis.
//!
//! Formulas (PyTorch's definitions and defaults):
//! `relu = max(x, 0)`, `relu6 = min(max(x, 0), 6)`, `leaky_relu = x if x > 0 else a*x`,
//! `elu = x if x > 0 else a*(e^x - 1)` (a = 1), `selu = l*elu(x, a)` with PyTorch's constants,
//! `gelu = x*Phi(x)`, `gelu_tanh = 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))`,
//! `silu = swish = x*sigmoid(x)`, `mish = x*tanh(softplus(x))`, `sigmoid = 1/(1+e^-x)`,
//! `hard_sigmoid = relu6(x + 3)/6`, `hard_swish = x*hard_sigmoid(x)`, `softplus = log(1 + e^x)`
//! (linear above 20, as PyTorch), `softsign = x/(1+|x|)`, `log_sigmoid = -softplus(-x)`,
//! `softmax_i = e^{x_i} / sum_j e^{x_j}` and `log_softmax` over an axis.
//!
//! # Shapes
//! Output shape = input shape.
//!
//! # Example
//! ```
//! use duet_core::{burn::tensor::{Device, Tensor}, ops::activation as act};
//! let x = Tensor::<1>::from_floats([-1.0, 0.0, 8.0], &Device::flex());
//! assert_eq!(act::relu6(x.clone()).into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 0.0, 6.0]);
//! assert_eq!(act::hard_sigmoid(x.clone()).into_data().try_to_vec::<f32>().unwrap()[1], 0.5);
//! let s = act::softmax(x, 0).into_data().try_to_vec::<f32>().unwrap();
//! assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! ```

use burn::tensor::activation as a;
use burn::tensor::Tensor;

/// `max(x, 0)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::relu(x)
}
/// `min(max(x, 0), 6)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::relu6(x)
}
/// `x` if `x > 0`, else `slope * x` (PyTorch default slope 0.01).
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    a::leaky_relu(x, slope)
}
/// `x` if `x > 0`, else `alpha * (e^x - 1)` (PyTorch default alpha 1).
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn elu<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    a::elu(x, alpha)
}
/// SELU: `scale * (x if x > 0 else alpha * (e^x - 1))` with `scale = 1.0507009873554805`,
/// `alpha = 1.6732632423543772` (PyTorch's constants; self-normalizing).
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn selu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::selu(x)
}
/// Exact GELU: `x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2)))` (one fused pass on `flex`,
/// [`crate::kernels::gelu`]).
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if crate::kernels::supports(&x) {
        crate::kernels::gelu(x)
    } else {
        a::gelu(x)
    }
}
/// GELU with the tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::gelu_approximate(x)
}
/// SiLU / swish: `x * sigmoid(x)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::silu(x)
}
/// Swish, another name for [`silu`]: `x * sigmoid(x)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn swish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::silu(x)
}
/// Mish: `x * tanh(softplus(x))`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn mish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::mish(x)
}
/// `1 / (1 + e^-x)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::sigmoid(x)
}
/// `relu6(x + 3) / 6` (PyTorch's `hardsigmoid`).
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn hard_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::hard_sigmoid(x, 1.0 / 6.0, 0.5)
}
/// `x * hard_sigmoid(x)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn hard_swish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::hard_swish(x)
}
/// `tanh(x)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::tanh(x)
}
/// `log(1 + e^x)`, and `x` itself where `x > 20` (PyTorch's threshold). On `flex` it is one
/// fused pass, `max(x, 0) + log(1 + e^{-|x|})` ([`crate::kernels::softplus`]; above 20 the
/// correction is below half an ulp of `x`, so the threshold is implied).
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if crate::kernels::supports(&x) {
        crate::kernels::softplus(x)
    } else {
        a::softplus_with_threshold(x, 1.0, 20.0)
    }
}
/// `x / (1 + |x|)`.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn softsign<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::softsign(x)
}
/// `log(sigmoid(x)) = -softplus(-x)`, computed stably.
///
/// # Shapes
/// Any shape; the output has the input's shape (element-wise).
pub fn log_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::log_sigmoid(x)
}
/// Softmax over `axis`.
///
/// # Shapes
/// Any shape `[d0, ..., d_{D-1}]` with `axis < D`; the output has the input's shape.
pub fn softmax<const D: usize>(x: Tensor<D>, axis: usize) -> Tensor<D> {
    a::softmax(x, axis)
}
/// Log-softmax over `axis`: `x_i - logsumexp(x)`, computed stably.
///
/// # Shapes
/// Any shape `[d0, ..., d_{D-1}]` with `axis < D`; the output has the input's shape.
pub fn log_softmax<const D: usize>(x: Tensor<D>, axis: usize) -> Tensor<D> {
    a::log_softmax(x, axis)
}
