//! Forward mode through the functional API against PyTorch's `torch.func`
//! (core/tests/fixtures/transforms.*): the jvp of every layer and loss case the catalog covers
//! (`Layer::forward_jvp`), and LeNet's Hessian-vector product (`transform::hvp`, reverse over
//! forward) with its jvp of the logits and the loss. At 1e-4 relative.

use duet_core::burn::tensor::Device;
use duet_core::layers::{cross_entropy, Dual};
use duet_core::transform::{hvp, jvp};
use duet_core::{DynTensor, Key, Mode, Params};
use duet_functional::*;
use duet_testing::{assert_close, cases, jvp_case, test_device, under_test, Api, Fixture};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures");
const LENET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/tests/fixtures/lenet.safetensors"
);

#[test]
fn the_jvp_of_every_catalog_layer_and_loss_matches_torch_func() {
    let (fx, dev) = (
        Fixture::open(format!("{DIR}/transforms.safetensors")),
        test_device(),
    );
    let mut ran = Vec::new();
    for case in cases(DIR, "transforms")
        .iter()
        .filter(|c| c.name.starts_with("jvp."))
    {
        let Some(ut) = under_test(case) else { continue };
        jvp_case(&ut, Api::Functional, case, &fx, &dev);
        ran.push(case.name.clone());
    }
    eprintln!("{} cases: {ran:?}", ran.len());
    assert!(ran.len() >= 36, "only {} cases: {ran:?}", ran.len());
}

fn transposed(x: DynTensor) -> DynTensor {
    if x.rank() == 2 {
        x.into_rank::<2>().transpose().into()
    } else {
        x
    }
}

/// A tree in duet's layout (dense weights `[in, out]`) from PyTorch names under `prefix`.
fn tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    names
        .iter()
        .map(|n| {
            (
                n.clone(),
                transposed(fx.tensor(&format!("{prefix}{n}"), dev)),
            )
        })
        .collect()
}

#[test]
fn lenets_hessian_vector_product_matches_torch_func() {
    let dev = test_device();
    let tol = duet_testing::tolerance_scale(&dev);
    let (fx, lenet_fx) = (
        Fixture::open(format!("{DIR}/transforms.safetensors")),
        Fixture::open(LENET),
    );
    let names = cases(DIR, "transforms")
        .into_iter()
        .find(|c| c.name == "lenet")
        .unwrap()
        .params;
    let lenet = serial![
        "conv1" => Conv2d::new(6, 5), Relu, MaxPool2d::new(2),
        "conv2" => Conv2d::new(16, 5), Relu, MaxPool2d::new(2),
        Flatten,
        "fc1" => Dense::new(120), Relu, "fc2" => Dense::new(84), Relu, "fc3" => Dense::new(10),
    ];
    let params = tree(&lenet_fx, "init.", &names, &dev);
    let v = tree(&fx, "lenet.v.", &names, &dev);
    let x = lenet_fx.tensor("x", &dev);
    let labels = lenet_fx.int::<1>("labels", &dev);
    let state = Params::new();
    let logits = |p: &duet_core::transform::DualParams| {
        let (mut ys, _) = lenet
            .forward_jvp(p, &state, vec![Dual::zero_tangent(x.clone())], Mode::Eval)
            .expect("every LeNet layer has a forward-mode rule");
        ys.remove(0)
    };
    let want = |k: &str| fx.get(&format!("lenet.{k}")).f32s.clone();
    // jvp of the logits along v.
    let (y, ty) = jvp(logits, &params, &v);
    assert_close(
        "lenet: logits",
        &y.to_vec(),
        &lenet_fx.get("logits").f32s,
        1e-4 * tol,
        1e-6 * tol,
    );
    assert_close(
        "lenet: jvp_logits",
        &ty.to_vec(),
        &want("jvp_logits"),
        1e-4 * tol,
        1e-6 * tol,
    );
    // H v and <grad loss, v>.
    let loss = |p: &duet_core::transform::DualParams| {
        cross_entropy(logits(p), labels.clone(), &Default::default())
    };
    let (dir, hv) = hvp(loss, &params, &v);
    assert_close(
        "lenet: jvp_loss",
        &DynTensor::from(dir).to_vec(),
        &want("jvp_loss"),
        1e-4 * tol,
        1e-6 * tol,
    );
    for n in &names {
        let got = transposed(hv.get_dyn(n).unwrap().clone()).to_vec();
        assert_close(
            &format!("lenet: hvp {n}"),
            &got,
            &want(&format!("hvp.{n}")),
            1e-4 * tol,
            1e-6 * tol,
        );
    }
    // A custom function layer has no forward-mode rule: an error naming it, not a number.
    let custom = serial![
        Dense::new(2),
        Fn::new("Cube", |x: Vec<DynTensor>| vec![
            x[0].clone() * x[0].clone() * x[0].clone()
        ])
    ];
    let (p, s) = custom.init_model(&[1, 3], Key::new(0), &dev).unwrap();
    let x3 = Dual::zero_tangent(DynTensor::zeros(&[1, 3], &dev));
    let e = custom
        .forward_jvp(
            &duet_core::transform::DualParams::new(p, Params::new()),
            &s,
            vec![x3],
            Mode::Eval,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "Cube: not supported under jvp");
}
