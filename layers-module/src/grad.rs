//! Gradients with respect to a module, and the summary table.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::Tensor;
use duet_core::{load_module_params, module_params, module_state, Params};

/// Evaluates `f(model)` and its gradient with respect to every trainable parameter, as a tree
/// with the module's paths (S4TF's `valueWithGradient`). The model itself is not modified.
///
/// # Shapes
/// `f(model)`: `[1]`.
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

/// Like [`value_and_grad`] with an auxiliary output.
///
/// # Shapes
/// `f(model).0`: `[1]`.
pub fn value_and_grad_with_aux<M: Module, A>(
    f: impl FnOnce(&M) -> (Tensor<1>, A),
    model: &M,
) -> (Tensor<1>, A, Params) {
    duet_core::value_and_grad_with_aux(
        |p: &Params| {
            let lifted = load_module_params(model.clone(), p).expect("the module's own paths");
            f(&lifted)
        },
        &module_params(model),
    )
}

/// The parameter and state tables of a module (path, shape, count, totals).
///
/// # Example
/// ```
/// use duet_module::{summary, Linear, Rngs};
/// let fc = Linear::new(4, 3, &mut Rngs::new(0), &duet_core::burn::tensor::Device::flex());
/// assert!(summary(&fc).contains("weight") && summary(&fc).contains("15"));
/// ```
pub fn summary<M: Module>(model: &M) -> String {
    let (p, s) = (module_params(model), module_state(model));
    let mut out = format!("params:\n{p}\n");
    if !s.is_empty() {
        out.push_str(&format!("state:\n{s}\n"));
    }
    out
}
