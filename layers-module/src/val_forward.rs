//! [`ValForward`]: a module's forward pass on any value type ([`Val`]), so the function
//! transformations of `duet_core::transform` (jvp, Hessian-vector products, per-example
//! gradients) apply to modules too. The params are read by path through a `lift` closure,
//! typically from `module_params(&m)` paired with tangents (`DualParams::get`).

use duet_core::layers::{Ctx, LayerConfig};
use duet_core::{Mode, Params, Val};

/// Reads a param of a module by its path relative to the module.
pub type Lift<'a, V> = &'a dyn Fn(&str) -> V;

/// A module's forward pass on values of any type `V` (plain tensors, `Dual` values carrying
/// tangents, `PerExample` copies), with its params read through `lift` instead of its fields.
/// Running statistics are read from the module and not updated.
///
/// Implemented by every built-in module, `Layer` and `Sequential`; implement it for a model
/// struct by calling its fields with [`sub`] (see `duet_examples::module_models::LeNet`).
///
/// # Shapes
/// As the module's `forward`.
///
/// # Example
/// The jvp of a linear layer along its weight: `x dW`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, layers::Dual, module_params, DynTensor, Mode};
/// use duet_module::{Linear, Rngs, ValForward};
/// let dev = Device::flex();
/// let fc = Linear::new(2, 1, &mut Rngs::new(0), &dev);
/// let p = module_params(&fc);
/// let dw = Tensor::<2>::from_floats([[1.0], [10.0]], &dev);
/// let lift = |n: &str| {
///     let value = p.get_dyn(n).unwrap().clone();
///     let tangent = (n == "weight").then(|| DynTensor::from(dw.clone()));
///     Dual { value, tangent }
/// };
/// let x = Dual::zero_tangent(DynTensor::from_floats(vec![1.0, 2.0], &[1, 2], &dev));
/// let y = fc.forward_val(&lift, x, Mode::Eval);
/// assert_eq!(y.tangent.unwrap().to_vec(), vec![21.0]); // 1 * 1 + 2 * 10
/// ```
pub trait ValForward {
    /// The forward pass on `x` with params from `lift`.
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V;
}

/// `lift` for a child module under `prefix` (`"conv1"` reads `conv1.weight` as `weight`).
pub fn sub<'a, V>(lift: Lift<'a, V>, prefix: &'a str) -> impl Fn(&str) -> V + 'a {
    move |n| lift(&format!("{prefix}.{n}"))
}

pub(crate) fn eval_state<C: LayerConfig, V: Val>(
    c: C,
    p: &C::Params<V>,
    x: V,
    mode: Mode,
    state: Params,
) -> V {
    let mut state = state;
    c.apply(
        p,
        x,
        &mut Ctx {
            mode,
            state: &mut state,
        },
    )
}
