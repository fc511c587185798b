//! The transformations through a module model: LeNet written with the module API
//! (`ValForward` for its struct); its Hessian-vector product, jvps and per-example gradients
//! against `torch.func` (core/tests/fixtures/transforms.*).

use duet_core::burn::tensor::Device;
use duet_core::checkpoint::torch::{from_torch, Kinds};
use duet_core::layers::{cross_entropy, Dual};
use duet_core::transform::{hvp, jvp, DualParams};
use duet_core::{load_module_params, module_params, DynTensor, Mode, Params};
use duet_examples::functional_models::torch_kinds;
use duet_examples::models::ModelKind;
use duet_examples::module_models::LeNet;
use duet_module::{Rngs, ValForward};
use duet_testing::{assert_close, cases, Fixture};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures");
const LENET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/lenet.safetensors"
);

/// PyTorch-named tensors under `prefix`, in PyTorch's layout.
fn torch_tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    names
        .iter()
        .map(|n| (n.clone(), fx.tensor(&format!("{prefix}{n}"), dev)))
        .collect()
}

/// Both fixtures, LeNet's PyTorch param names and layer kinds, and a module LeNet loaded with
/// the fixture's initial params (also returned, in duet's layout).
struct Setup {
    dev: Device,
    fx: Fixture,
    lenet_fx: Fixture,
    names: Vec<String>,
    kinds: Kinds,
    m: LeNet,
    params: Params,
}

fn setup() -> Setup {
    let dev = duet_testing::test_device();
    let (fx, lenet_fx) = (
        Fixture::open(format!("{DIR}/transforms.safetensors")),
        Fixture::open(LENET),
    );
    let names = cases(DIR, "transforms")
        .into_iter()
        .find(|c| c.name == "lenet")
        .unwrap()
        .params;
    let kinds = torch_kinds(ModelKind::Lenet, [3, 32, 32], 10);
    let m = LeNet::new(3, 10, &mut Rngs::new(0), &dev);
    let torch = torch_tree(&lenet_fx, "init.", &names, &dev);
    let params = from_torch(&torch, &module_params(&m), &kinds).unwrap();
    let m = load_module_params(m, &params).unwrap();
    Setup {
        dev,
        fx,
        lenet_fx,
        names,
        kinds,
        m,
        params,
    }
}

#[test]
fn a_module_lenets_hessian_vector_product_matches_torch_func() {
    let Setup {
        dev,
        fx,
        lenet_fx,
        names,
        kinds,
        m,
        params,
    } = setup();
    let v = from_torch(&torch_tree(&fx, "lenet.v.", &names, &dev), &params, &kinds).unwrap();
    let x = DynTensor::from(lenet_fx.float::<4>("x", &dev));
    let labels = lenet_fx.int::<1>("labels", &dev);
    let logits = |p: &DualParams| {
        m.forward_val(
            &|n| p.get(n).unwrap(),
            Dual::zero_tangent(x.clone()),
            Mode::Eval,
        )
    };
    let want = |k: &str| fx.get(&format!("lenet.{k}")).f32s.clone();
    let (_, ty) = jvp(logits, &params, &v);
    assert_close(
        "module lenet: jvp_logits",
        &ty.to_vec(),
        &want("jvp_logits"),
        1e-4 * duet_testing::tolerance_scale(&dev),
        1e-6 * duet_testing::tolerance_scale(&dev),
    );
    let loss = |p: &DualParams| cross_entropy(logits(p), labels.clone(), &Default::default());
    let (dir, hv) = hvp(loss, &params, &v);
    assert_close(
        "module lenet: jvp_loss",
        &DynTensor::from(dir).to_vec(),
        &want("jvp_loss"),
        1e-4 * duet_testing::tolerance_scale(&dev),
        1e-6 * duet_testing::tolerance_scale(&dev),
    );
    let hv = duet_core::checkpoint::torch::to_torch(&hv, &kinds);
    for n in &names {
        assert_close(
            &format!("module lenet: hvp {n}"),
            &hv.get_dyn(n).unwrap().clone().to_vec(),
            &want(&format!("hvp.{n}")),
            1e-4 * duet_testing::tolerance_scale(&dev),
            1e-6 * duet_testing::tolerance_scale(&dev),
        );
    }
}

#[test]
fn a_module_lenets_per_example_gradients_match_torch_func() {
    use duet_core::layers::PerExample;
    use duet_core::transform::per_example_grads;
    use duet_core::{Act, Val};
    let Setup {
        dev,
        fx,
        lenet_fx,
        names,
        m,
        params,
        ..
    } = setup();
    let x = PerExample::plain(DynTensor::from(lenet_fx.float::<4>("x", &dev)));
    let labels = lenet_fx.int::<1>("labels", &dev);
    let b = x.dims()[0];
    let (total, grads) = per_example_grads(
        |p| {
            m.forward_val(&|n| p.get(n).unwrap(), x.clone(), Mode::Eval)
                .act(Act::LogSoftmax)
                .pick(labels.clone())
                .scale(-1.0)
        },
        &params,
        b,
    );
    duet_testing::assert_lenet_per_example("module lenet", &fx, &names, (total, &grads), &dev);
}

/// The stretch case through a module critic (`Sequential` of Linear, Tanh, Linear): WGAN-GP's
/// gradient penalty and its gradient with respect to the params
/// (`transform::grad_of_input_grad` over `forward_val` on `Dual` values) against
/// `torch.autograd`'s double backward.
#[test]
fn a_module_critics_gradient_penalty_matches_torch_double_backward() {
    use duet_core::Act;
    use duet_module::{Activation, Linear, Sequential};
    let dev = duet_testing::test_device();
    let rngs = &mut Rngs::new(0);
    let m = Sequential::new(vec![
        Linear::new(10, 16, rngs, &dev).into(),
        Activation::new(Act::Tanh).into(),
        Linear::new(16, 1, rngs, &dev).into(),
    ]);
    duet_testing::grad_penalty_case("module critic", DIR, &dev, |p, x| {
        m.forward_val(&|k| p.get(k).unwrap(), x, Mode::Eval)
    });
}
