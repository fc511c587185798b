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
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::relu(x)
}
/// `min(max(x, 0), 6)`.
pub fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::relu6(x)
}
/// `x` if `x > 0`, else `slope * x` (PyTorch default slope 0.01).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    a::leaky_relu(x, slope)
}
/// `x` if `x > 0`, else `alpha * (e^x - 1)` (PyTorch default alpha 1).
pub fn elu<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    a::elu(x, alpha)
}
/// `1.0507 * elu(x, 1.67326)` (self-normalizing).
pub fn selu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::selu(x)
}
/// Exact GELU: `x * Phi(x)` with the normal CDF via `erf`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::gelu(x)
}
/// GELU with the tanh approximation.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::gelu_approximate(x)
}
/// SiLU / swish: `x * sigmoid(x)`.
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::silu(x)
}
/// Mish: `x * tanh(softplus(x))`.
pub fn mish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::mish(x)
}
/// `1 / (1 + e^-x)`.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::sigmoid(x)
}
/// `relu6(x + 3) / 6` (PyTorch's `hardsigmoid`).
pub fn hard_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::hard_sigmoid(x, 1.0 / 6.0, 0.5)
}
/// `x * hard_sigmoid(x)`.
pub fn hard_swish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::hard_swish(x)
}
/// `tanh(x)`.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::tanh(x)
}
/// `log(1 + e^x)`, and `x` itself where `x > 20` (PyTorch's threshold).
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::softplus_with_threshold(x, 1.0, 20.0)
}
/// `x / (1 + |x|)`.
pub fn softsign<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::softsign(x)
}
/// `log(sigmoid(x)) = -softplus(-x)`, computed stably.
pub fn log_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    a::log_sigmoid(x)
}
/// Softmax over `axis`.
pub fn softmax<const D: usize>(x: Tensor<D>, axis: usize) -> Tensor<D> {
    a::softmax(x, axis)
}
/// Log-softmax over `axis`: `x_i - logsumexp(x)`, computed stably.
pub fn log_softmax<const D: usize>(x: Tensor<D>, axis: usize) -> Tensor<D> {
    a::log_softmax(x, axis)
}
