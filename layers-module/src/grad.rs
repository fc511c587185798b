//! Gradients with respect to a module: [`value_and_grad`], [`value_and_grad_with_aux`].
//!
//! Built on `duet_core::value_and_grad`: the module's params are exported as a tree, the tree's
//! leaves are lifted to autodiff leaves, a clone of the module is loaded from them and `f` runs
//! on it. The gradient tree has the module's paths, so `duet_optim` applies it to the module.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::Tensor;
use duet_core::{load_module_params, module_params, Params};

/// Evaluates `f(model)` and its gradient with respect to every trainable parameter, as a tree
/// with the module's paths (S4TF's `valueWithGradient`, JAX's `value_and_grad` over `nnx.Param`).
/// The model's params are not modified; running statistics updated by a training forward pass
/// (batch norm) are written to the model's state in place, as burn's `RunningState` does.
///
/// # Shapes
/// `f(model)`: `[1]`; the gradient of each param has that param's shape.
///
/// # Example
/// ```
/// use duet_module::{value_and_grad, Linear, Rngs};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let fc = Linear::new(2, 1, &mut Rngs::new(0), &dev);
/// let x = Tensor::<2>::from_floats([[3.0, 4.0]], &dev);
/// let (_, g) = value_and_grad(|m: &Linear| m.forward(x.clone()).sum(), &fc);
/// // d/dW sum(x W + b) = x^T, d/db = 1
/// assert_eq!(g.get_dyn("weight").unwrap().to_vec(), vec![3.0, 4.0]);
/// assert_eq!(g.get_dyn("bias").unwrap().to_vec(), vec![1.0]);
/// ```
pub fn value_and_grad<M: Module>(
    f: impl FnOnce(&M) -> Tensor<1>,
    model: &M,
) -> (Tensor<1>, Params) {
    let (loss, (), g) = value_and_grad_with_aux(|m| (f(m), ()), model);
    (loss, g)
}

/// Like [`value_and_grad`], with an auxiliary output that is not differentiated (logits,
/// metrics, or the new batch-norm state as `duet_core::module_state(m)` of the module `f` gets).
///
/// # Shapes
/// `f(model).0`: `[1]`.
///
/// # Example
/// ```
/// use duet_module::{value_and_grad_with_aux, BatchNorm};
/// use duet_core::{burn::tensor::{Device, Tensor}, module_state, Key, Mode};
/// let dev = Device::flex();
/// let bn = BatchNorm::new(1, &dev);
/// let x = Tensor::<2>::from_floats([[1.0], [3.0]], &dev);
/// let (_, state, g) = value_and_grad_with_aux(
///     |m: &BatchNorm| {
///         let y = m.forward(x.clone(), Mode::Train(Key::new(0)));
///         ((y * x.clone()).sum(), module_state(m))
///     },
///     &bn,
/// );
/// // Batch mean 2, unbiased variance 2: running stats 0.9 * (0, 1) + 0.1 * (2, 2).
/// assert_eq!(state.get_dyn("running_mean").unwrap().to_vec(), vec![0.2]);
/// assert!((state.get_dyn("running_var").unwrap().to_vec()[0] - 1.1).abs() < 1e-6);
/// // y = (x - 2) / 1 (biased std), so d sum(y x) / d bias = sum(x) = 4.
/// assert_eq!(g.get_dyn("bias").unwrap().to_vec(), vec![4.0]);
/// ```
pub fn value_and_grad_with_aux<M: Module, A>(
    f: impl FnOnce(&M) -> (Tensor<1>, A),
    model: &M,
) -> (Tensor<1>, A, Params) {
    duet_core::value_and_grad_with_aux(
        |p: &Params| {
            let lifted = load_module_params(model.clone(), p)
                .expect("a module's own params tree loads back into it");
            f(&lifted)
        },
        &module_params(model),
    )
}
