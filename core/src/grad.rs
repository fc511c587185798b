//! Differentiation as a function of the parameter tree: [`value_and_grad`] and [`grad`].
//!
//! The params may live on a plain device: every leaf is lifted to a fresh autodiff leaf for the
//! call, so the caller never manages autodiff devices or `require_grad`. Inputs that are plain
//! tensors are constants for the graph. The returned gradient tree is plain (no autodiff), on the
//! params' device, with the params' paths; a parameter the loss does not use gets a zero gradient.

use crate::params::Params;
use crate::tensor::DynTensor;
use burn::tensor::Tensor;

/// Evaluates `f(params)` and its gradient with respect to every tensor of `params`.
///
/// `f` returns a one-element loss tensor. Returns the loss (detached, plain) and `d loss / d params`.
///
/// # Shapes
/// - `f(params)`: `[1]`
/// - the gradient tree: the shapes of `params`.
///
/// # Example
/// Swift for TensorFlow's first example: a `Linear { w, b }` model `y = w * x + b` at `x = 3`
/// has gradient `w: 3, b: 1`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, value_and_grad, Params};
/// let dev = Device::flex();
/// let params = Params::new()
///     .with("w", Tensor::<1>::from_floats([2.0], &dev))
///     .with("b", Tensor::<1>::from_floats([0.5], &dev));
/// let (y, g) = value_and_grad(|p| p.get::<1>("w").unwrap() * 3.0 + p.get::<1>("b").unwrap(), &params);
/// assert_eq!(y.into_scalar::<f32>(), 6.5);
/// assert_eq!(g.get::<1>("w").unwrap().into_scalar::<f32>(), 3.0);
/// assert_eq!(g.get::<1>("b").unwrap().into_scalar::<f32>(), 1.0);
/// ```
pub fn value_and_grad<F>(f: F, params: &Params) -> (Tensor<1>, Params)
where
    F: FnOnce(&Params) -> Tensor<1>,
{
    let (loss, (), grads) = value_and_grad_with_aux(|p| (f(p), ()), params);
    (loss, grads)
}

/// Like [`value_and_grad`], for an `f` that also returns auxiliary outputs (new batch-norm state,
/// logits for metrics, ...). The auxiliary value is returned as `f` produced it.
///
/// # Shapes
/// `f(params).0`: `[1]`.
pub fn value_and_grad_with_aux<A, F>(f: F, params: &Params) -> (Tensor<1>, A, Params)
where
    F: FnOnce(&Params) -> (Tensor<1>, A),
{
    let tracked = params.map(DynTensor::as_grad_leaf);
    let (loss, aux) = f(&tracked);
    let [n] = loss.dims();
    assert_eq!(
        n, 1,
        "value_and_grad: the loss must have one element, got shape [{n}]"
    );
    let mut grads = loss.backward();
    let g = tracked.map(|leaf| {
        leaf.grad_remove(&mut grads)
            .unwrap_or_else(|| leaf.zeros_like().without_autodiff())
    });
    (loss.without_autodiff(), aux, g)
}

/// The gradient of `f` with respect to `params` (see [`value_and_grad`]).
///
/// # Shapes
/// `f(params)`: `[1]`; the result has the shapes of `params`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, grad, Params};
/// let dev = Device::flex();
/// let p = Params::new().with("x", Tensor::<1>::from_floats([1.0, -2.0], &dev));
/// // d/dx sum(x^2) = 2x
/// let g = grad(|p| p.get::<1>("x").unwrap().square().sum(), &p);
/// assert_eq!(g.get::<1>("x").unwrap().into_data().try_to_vec::<f32>().unwrap(), vec![2.0, -4.0]);
/// ```
pub fn grad<F>(f: F, params: &Params) -> Params
where
    F: FnOnce(&Params) -> Tensor<1>,
{
    value_and_grad(f, params).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn unused_param_gets_zero_grad_and_grads_are_plain() {
        let dev = Device::flex();
        let p = Params::new()
            .with("used", Tensor::<2>::ones([2, 2], &dev))
            .with("unused", Tensor::<1>::ones([3], &dev));
        let (loss, g) = value_and_grad(|p| (p.get::<2>("used").unwrap() * 2.0).sum(), &p);
        assert_eq!(loss.into_scalar::<f32>(), 8.0);
        assert_eq!(g.get_dyn("used").unwrap().to_vec(), vec![2.0; 4]);
        assert_eq!(g.get_dyn("unused").unwrap().to_vec(), vec![0.0; 3]);
        assert!(!g.get::<2>("used").unwrap().is_autodiff());
        assert_eq!(g.paths(), p.paths());
    }

    #[test]
    fn repeated_calls_on_the_same_params_work() {
        let dev = Device::flex();
        let mut p = Params::new().with("x", Tensor::<1>::from_floats([3.0], &dev));
        for _ in 0..3 {
            let g = grad(|p| p.get::<1>("x").unwrap().square().sum(), &p);
            p = p.zip_map(&g, |x, g| x - g * 0.25).unwrap();
        }
        // x <- x - 0.5 x = x / 2, three times.
        assert_eq!(p.get_dyn("x").unwrap().to_vec(), vec![0.375]);
    }

    #[test]
    fn aux_is_returned() {
        let dev = Device::flex();
        let p = Params::new().with("x", Tensor::<1>::from_floats([1.0, 2.0], &dev));
        let (l, aux, g) = value_and_grad_with_aux(|p| (p.get::<1>("x").unwrap().sum(), "aux"), &p);
        assert_eq!(l.into_scalar::<f32>(), 3.0);
        assert_eq!(aux, "aux");
        assert_eq!(g.get_dyn("x").unwrap().to_vec(), vec![1.0, 1.0]);
    }

    #[test]
    #[should_panic(expected = "one element")]
    fn non_scalar_loss_is_rejected() {
        let dev = Device::flex();
        let p = Params::new().with("x", Tensor::<1>::from_floats([1.0, 2.0], &dev));
        let _ = grad(|p| p.get::<1>("x").unwrap(), &p);
    }
}
