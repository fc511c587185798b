//! Models written once over any value type ([`Val`]): plain tensors, [`duet_core::layers::Dual`]
//! values (forward mode, Hessian-vector products, nested input derivatives) or
//! [`duet_core::layers::PerExample`] values (per-example gradients). They run the same layer
//! configs as the functional models, with params read by path through `lift`, so a tree from
//! `functional_models::lenet(..).init_model(..)` (or a PyTorch import) drives them.

use duet_core::layers::{
    Conv2dConfig, ConvParams, Ctx, DenseConfig, DenseParams, LayerConfig, MaxPool2dConfig, NoParams,
};
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

/// LeNet-5 (`functional_models::lenet`'s paths: `conv1`, `conv2`, `fc1`..`fc3`) on any value type.
///
/// # Shapes
/// `[N, C, 32, 32] -> [N, classes]`
pub fn lenet<V: Val>(x: V, lift: &impl Fn(&str) -> V) -> V {
    let conv = |name: &str, x: V| {
        let weight = lift(&format!("{name}.weight"));
        let (filters, kernel) = (weight.dims()[0], weight.dims()[3]);
        let p = ConvParams {
            weight,
            bias: Some(lift(&format!("{name}.bias"))),
        };
        run(Conv2dConfig::new(filters, kernel), &p, x)
    };
    let pool = |x: V| run(MaxPool2dConfig::new(2), &NoParams, x);
    let h = pool(conv("conv1", x).act(Act::Relu));
    let h = pool(conv("conv2", h).act(Act::Relu));
    let n = h.dims()[0];
    let flat = h.dims()[1..].iter().product();
    mlp(
        &["fc1", "fc2", "fc3"],
        Act::Relu,
        h.reshape(&[n, flat]),
        lift,
    )
}
