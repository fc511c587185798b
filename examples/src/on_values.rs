//! The MLP written once over any value type ([`Val`]), for what the functional layers (whose
//! `Layer` methods take plain tensors, `Dual<DynTensor>` or `PerExample` values) cannot carry:
//! nested [`duet_core::layers::Dual`] values (`Dual<Dual<_>>`: a PINN's `u_xx`, MAML's
//! second-order meta-gradient). It runs the same dense config as the functional models, with
//! params read by path through `lift`.

use duet_core::layers::{Ctx, DenseConfig, DenseParams, LayerConfig};
use duet_core::{Act, Mode, Params, Val};

/// A config's maths in evaluation mode (for layers without state).
fn run<C: LayerConfig, V: Val>(c: C, p: &C::Params<V>, x: V) -> V {
    c.apply(
        p,
        x,
        &mut Ctx {
            mode: Mode::Eval,
            state: &mut Params::new(),
        },
    )
}

/// The dense layer `name` (`name.weight` `[in, out]`, `name.bias`) on `x`.
///
/// # Shapes
/// `[N, in] -> [N, out]`
pub fn dense<V: Val>(name: &str, x: V, lift: &impl Fn(&str) -> V) -> V {
    let weight = lift(&format!("{name}.weight"));
    let units = weight.dims()[1];
    let p = DenseParams {
        weight,
        bias: Some(lift(&format!("{name}.bias"))),
    };
    run(DenseConfig::new(units), &p, x)
}

/// Dense layers named `names`, with `act` between them (not after the last).
///
/// # Shapes
/// `[N, in] -> [N, out of the last]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, Act, DynTensor, Params};
/// let dev = Device::flex();
/// let p = Params::new()
///     .with("0.weight", Tensor::<2>::from_floats([[2.0]], &dev))
///     .with("0.bias", Tensor::<1>::from_floats([-1.0], &dev));
/// let x = DynTensor::from_floats(vec![3.0], &[1, 1], &dev);
/// let y = duet_examples::on_values::mlp(&["0"], Act::Relu, x, &|n| p.get_dyn(n).unwrap().clone());
/// assert_eq!(y.to_vec(), vec![5.0]);
/// ```
pub fn mlp<V: Val>(names: &[&str], act: Act, x: V, lift: &impl Fn(&str) -> V) -> V {
    let mut h = x;
    for (i, name) in names.iter().enumerate() {
        h = dense(name, h, lift);
        if i + 1 < names.len() {
            h = h.act(act);
        }
    }
    h
}
