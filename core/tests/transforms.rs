//! Nested forward mode against PyTorch's `torch.func` (fixtures/transforms.*): a PINN's u_x and
//! u_xx with respect to its input (forward over forward, `Dual<Dual<_>>` through the layer
//! configs) and the gradient of its residual loss with respect to the params (reverse over
//! forward over forward). At 1e-4 relative. The layer jvps and LeNet's Hessian-vector product
//! run through the functional API (`layers-functional/tests/transforms.rs`).

use duet_core::burn::tensor::Device;
use duet_core::layers::{Ctx, DenseConfig, DenseParams, Dual, LayerConfig};
use duet_core::{value_and_grad, Act, DynTensor, Mode, Params, Val};
use duet_testing::{assert_close, cases, Fixture};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
fn fixture() -> Fixture {
    Fixture::open(format!("{DIR}/transforms.safetensors"))
}

/// A plain tensor from the fixture, PyTorch's rank (a scalar as `[1]`).
fn t(fx: &Fixture, name: &str, dev: &Device) -> DynTensor {
    let s = fx.get(name);
    let shape = if s.shape.is_empty() {
        vec![1]
    } else {
        s.shape.clone()
    };
    DynTensor::from_floats(s.f32s.clone(), &shape, dev)
}

fn transpose(x: DynTensor) -> DynTensor {
    x.into_rank::<2>().transpose().into()
}

fn dense<V: Val>(p: &Params, name: &str, x: V, lift: &impl Fn(&str) -> V) -> V {
    let _ = p;
    let params = DenseParams {
        weight: lift(&format!("{name}.weight")),
        bias: Some(lift(&format!("{name}.bias"))),
    };
    let units = params.weight.dims()[1];
    DenseConfig::new(units).apply(
        &params,
        x,
        &mut Ctx {
            mode: Mode::Eval,
            state: &mut Params::new(),
        },
    )
}

/// The PINN's MLP on any value type: Linear(1,16), tanh, Linear(16,16), tanh, Linear(16,1).
fn pinn_net<V: Val>(p: &Params, x: V, lift: &impl Fn(&str) -> V) -> V {
    let h = dense(p, "0", x, lift).act(Act::Tanh);
    let h = dense(p, "2", h, lift).act(Act::Tanh);
    dense(p, "4", h, lift)
}

/// Params in duet's layout (linear weights `[in, out]`) from PyTorch's names.
fn duet_tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    let mut p = Params::new();
    for n in names {
        let v = t(fx, &format!("{prefix}{n}"), dev);
        let linear = n.ends_with("weight") && v.rank() == 2;
        p.insert(n.as_str(), if linear { transpose(v) } else { v });
    }
    p
}

fn manifest_params(case: &str) -> Vec<String> {
    let all = cases(DIR, "transforms");
    all.into_iter()
        .find(|c| c.name == case)
        .expect("the case")
        .params
}

#[test]
fn a_pinns_input_derivatives_and_residual_gradient_match_torch_func() {
    let (fx, dev) = (fixture(), Device::flex());
    let names = manifest_params("pinn");
    let params = duet_tree(&fx, "pinn.", &names, &dev);
    let x = t(&fx, "pinn.x", &dev);
    let ones = DynTensor::from_floats(vec![1.0; x.num_elements()], &x.dims(), &dev);
    // Forward over forward: x + e1 + e2, both directions along the input.
    let seed =
        |x: DynTensor| Dual::new(Dual::new(x, ones.clone()), Dual::zero_tangent(ones.clone()));
    fn lift(p: &Params) -> impl Fn(&str) -> Dual<Dual<DynTensor>> + '_ {
        move |n| Dual::zero_tangent(Dual::zero_tangent(p.get_dyn(n).unwrap().clone()))
    }
    let y = pinn_net(&params, seed(x.clone()), &lift(&params));
    let (u, u_x, u_xx) = (
        y.value.value,
        y.value.tangent.unwrap(),
        y.tangent.unwrap().tangent.unwrap(),
    );
    let want = |k: &str| fx.get(&format!("pinn.{k}")).f32s.clone();
    assert_close("pinn: u", &u.to_vec(), &want("u"), 1e-4, 1e-6);
    assert_close("pinn: u_x", &u_x.to_vec(), &want("u_x"), 1e-4, 1e-6);
    assert_close("pinn: u_xx", &u_xx.to_vec(), &want("u_xx"), 1e-4, 1e-6);
    // Reverse over both: d/dtheta mean((u_xx + sin(pi x))^2).
    let source = x.clone().map_flat(|v| (v * std::f64::consts::PI).sin());
    let (loss, grads) = value_and_grad(
        |p| {
            let y = pinn_net(p, seed(x.clone()), &lift(p));
            let u_xx = y.tangent.unwrap().tangent.unwrap();
            let r = u_xx.add(source.clone());
            r.square().mean_dim(0).reshape(&[1]).into_rank::<1>()
        },
        &params,
    );
    assert_close(
        "pinn: loss",
        &DynTensor::from(loss).to_vec(),
        &want("loss"),
        1e-4,
        1e-7,
    );
    for n in &names {
        let g = grads.get_dyn(n).unwrap().clone();
        let g = if g.rank() == 2 { transpose(g) } else { g };
        assert_close(
            &format!("pinn: grad {n}"),
            &g.to_vec(),
            &want(&format!("pinn_grad.{n}")),
            1e-4,
            1e-6,
        );
    }
}
