//! Bijectors: invertible, differentiable maps with a tractable log-Jacobian, for
//! [`Transformed`](crate::Transformed) distributions.

use burn::tensor::activation::sigmoid;
use burn::tensor::Tensor;
use duet_core::ops::activation::softplus;
use std::fmt::Debug;

/// An element-wise bijection `y = f(x)`.
///
/// # Shapes
/// Every method maps `[S, N]` to `[S, N]` (`S` draws of the `N` elements of one batch of events).
pub trait Bijector: Debug + 'static {
    /// `y = f(x)`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2>;
    /// `x = f⁻¹(y)`.
    fn inverse(&self, y: Tensor<2>) -> Tensor<2>;
    /// `ln |f'(x)|`, given both `x` and `y = f(x)`.
    fn log_abs_det_jacobian(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<2>;
}

/// `y = eˣ`: maps the real line to `(0, ∞)` (a [`LogNormal`](crate::LogNormal) is a normal
/// through it).
///
/// # Example
/// ```
/// use duet_prob::{Bijector, Exp};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<2>::from_floats([[0.0, 1.0]], &Device::flex());
/// let y = Exp.forward(x.clone());
/// assert_eq!(Exp.log_abs_det_jacobian(x, y.clone()).into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 1.0]);
/// assert!((Exp.inverse(y).into_data().try_to_vec::<f32>().unwrap()[1] - 1.0).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Exp;

impl Bijector for Exp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.exp()
    }
    fn inverse(&self, y: Tensor<2>) -> Tensor<2> {
        y.log()
    }
    fn log_abs_det_jacobian(&self, x: Tensor<2>, _y: Tensor<2>) -> Tensor<2> {
        x
    }
}

/// `y = loc + scale · x` with constant `loc`, `scale != 0`.
///
/// # Example
/// ```
/// use duet_prob::{Affine, Bijector};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let b = Affine { loc: 1.0, scale: -2.0 };
/// let x = Tensor::<2>::from_floats([[3.0]], &Device::flex());
/// let y = b.forward(x.clone());
/// assert_eq!(y.clone().into_data().try_to_vec::<f32>().unwrap(), vec![-5.0]);
/// assert!((b.log_abs_det_jacobian(x, y).into_data().try_to_vec::<f32>().unwrap()[0] - 2f32.ln()).abs() < 1e-7);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    /// The shift.
    pub loc: f32,
    /// The scale (non-zero).
    pub scale: f32,
}

impl Bijector for Affine {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x * self.scale + self.loc
    }
    fn inverse(&self, y: Tensor<2>) -> Tensor<2> {
        (y - self.loc) / self.scale
    }
    fn log_abs_det_jacobian(&self, x: Tensor<2>, _y: Tensor<2>) -> Tensor<2> {
        x.zeros_like() + self.scale.abs().ln()
    }
}

/// `y = σ(x) = 1 / (1 + e⁻ˣ)`: maps the real line to `(0, 1)`;
/// `ln σ'(x) = -softplus(-x) - softplus(x)`.
///
/// # Example
/// ```
/// use duet_prob::{Bijector, Sigmoid};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<2>::from_floats([[0.0]], &Device::flex());
/// let y = Sigmoid.forward(x.clone());
/// assert_eq!(y.clone().into_data().try_to_vec::<f32>().unwrap(), vec![0.5]);
/// assert!((Sigmoid.log_abs_det_jacobian(x, y).into_data().try_to_vec::<f32>().unwrap()[0] - 0.25f32.ln()).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Sigmoid;

impl Bijector for Sigmoid {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(x)
    }
    fn inverse(&self, y: Tensor<2>) -> Tensor<2> {
        y.clone().log() - y.neg().log1p()
    }
    fn log_abs_det_jacobian(&self, x: Tensor<2>, _y: Tensor<2>) -> Tensor<2> {
        (softplus(x.clone().neg()) + softplus(x)).neg()
    }
}

/// `y = tanh(x)`: maps the real line to `(-1, 1)`;
/// `ln(1 - tanh²x) = 2 (ln 2 - x - softplus(-2x))`, stable for large `|x|`.
///
/// # Example
/// ```
/// use duet_prob::{Bijector, Tanh};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<2>::from_floats([[0.5]], &Device::flex());
/// let y = Tanh.forward(x.clone());
/// let want = (1.0 - 0.5f32.tanh().powi(2)).ln();
/// assert!((Tanh.log_abs_det_jacobian(x, y.clone()).into_data().try_to_vec::<f32>().unwrap()[0] - want).abs() < 1e-6);
/// assert!((Tanh.inverse(y).into_data().try_to_vec::<f32>().unwrap()[0] - 0.5).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Tanh;

impl Bijector for Tanh {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.tanh()
    }
    fn inverse(&self, y: Tensor<2>) -> Tensor<2> {
        // atanh(y) = ½ (ln(1 + y) - ln(1 - y))
        (y.clone().log1p() - y.neg().log1p()) * 0.5
    }
    fn log_abs_det_jacobian(&self, x: Tensor<2>, _y: Tensor<2>) -> Tensor<2> {
        (x.clone().neg() - softplus(x * -2.0) + std::f32::consts::LN_2) * 2.0
    }
}
