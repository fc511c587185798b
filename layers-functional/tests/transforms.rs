//! Forward mode through the functional API against PyTorch's `torch.func`
//! (core/tests/fixtures/transforms.*): the jvp of every layer and loss case the catalog covers
//! (`Layer::forward_jvp`), and LeNet's Hessian-vector product (`transform::hvp`, reverse over
//! forward) with its jvp of the logits and the loss; per-example gradients through the layers
//! (`Layer::forward_per_example`): LeNet's against `torch.func.vmap(grad)`, and every combinator
//! against one backward pass per example; the stretch case, a gradient penalty's gradient
//! (`transform::grad_of_input_grad`), against `torch.autograd`'s double backward. At 1e-4
//! relative.

use duet_core::burn::tensor::Device;
use duet_core::layers::{cross_entropy, Dual, PerExample};
use duet_core::ops::{CrossEntropy, Reduction};
use duet_core::transform::{hvp, jvp, per_example_grads, try_per_example_grads};
use duet_core::{DynTensor, Key, Mode, Params, Val};
use duet_functional::*;
use duet_testing::{
    assert_close, assert_lenet_per_example, cases, grad_penalty_case, jvp_case, test_device,
    under_test, Api, Fixture,
};

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

/// The transformation fixture, LeNet's fixture (its params and batch), and LeNet's PyTorch
/// param names.
fn lenet_fixtures() -> (Fixture, Fixture, Vec<String>) {
    let names = cases(DIR, "transforms")
        .into_iter()
        .find(|c| c.name == "lenet")
        .unwrap()
        .params;
    let fx = Fixture::open(format!("{DIR}/transforms.safetensors"));
    (fx, Fixture::open(LENET), names)
}

#[test]
fn lenets_hessian_vector_product_matches_torch_func() {
    let dev = test_device();
    let tol = duet_testing::tolerance_scale(&dev);
    let (fx, lenet_fx, names) = lenet_fixtures();
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

/// LeNet with its loss, the layers taking `(images, labels)` and returning each example's loss.
fn lenet_with_loss() -> Serial {
    serial![
        "conv1" => Conv2d::new(6, 5), Relu, MaxPool2d::new(2),
        "conv2" => Conv2d::new(16, 5), Relu, MaxPool2d::new(2),
        Flatten,
        "fc1" => Dense::new(120), Relu, "fc2" => Dense::new(84), Relu, "fc3" => Dense::new(10),
        CrossEntropyLoss(CrossEntropy { reduction: Reduction::None, ..Default::default() }),
    ]
}

#[test]
fn lenets_per_example_gradients_through_the_layers_match_torch_func() {
    let dev = test_device();
    let (fx, lenet_fx, names) = lenet_fixtures();
    let model = lenet_with_loss();
    let params = tree(&lenet_fx, "init.", &names, &dev);
    let x = lenet_fx.tensor("x", &dev);
    // Labels travel on the stack as floats.
    let labels = DynTensor::from(lenet_fx.int::<1>("labels", &dev).float());
    let b = x.dims()[0];
    let (total, grads) = per_example_grads(
        |p| {
            let inputs = vec![
                PerExample::plain(x.clone()),
                PerExample::plain(labels.clone()),
            ];
            let (mut l, _) = model
                .forward_per_example(p, &Params::new(), inputs, Mode::Eval)
                .expect("every LeNet layer has a per-example rule");
            l.remove(0)
        },
        &params,
        b,
    );
    assert_lenet_per_example(
        "lenet through the layers",
        &fx,
        &names,
        (total, &grads),
        &dev,
    );
}

/// Per-example gradients through `Residual`, `Branch`, `Parallel`, `Concatenate`, nested and
/// inlined names equal those of one backward pass per example through `forward`.
#[test]
fn per_example_gradients_through_every_combinator_equal_one_backward_pass_per_example() {
    let dev = test_device();
    let tol = duet_testing::tolerance_scale(&dev);
    let block = Residual::new(serial!["fc1" => Dense::new(5), Tanh, "fc2" => Dense::new(5)]);
    let model = serial![
        "proj" => Dense::new(5),
        "res" => block,
        "heads" => Branch::new(vec![Box::new(Dense::new(3)), Box::new(serial![Relu, Dense::new(2)])]),
        Parallel::new(vec![Box::new(Relu), Box::new(Sigmoid)]),
        Concatenate::new(2, -1),
        "" => serial!["out" => Dense::new(1)],
    ];
    let (params, state) = model.init_model(&[4, 3], Key::new(7), &dev).unwrap();
    let x = DynTensor::from_floats(
        (0..12).map(|i| (i as f32 * 0.37).sin()).collect(),
        &[4, 3],
        &dev,
    );
    // Each example's loss: the squared output.
    let (_, grads) = per_example_grads(
        |p| {
            let (mut y, _) = model
                .forward_per_example(p, &state, vec![PerExample::plain(x.clone())], Mode::Eval)
                .unwrap();
            y.remove(0).square()
        },
        &params,
        4,
    );
    assert_eq!(grads.paths(), params.paths());
    for n in 0..4 {
        let xn = Val::narrow(x.clone(), 0, n, 1);
        let (_, want) = duet_core::value_and_grad(
            |p| {
                let (y, _) = model.apply(p, &state, xn.clone(), Mode::Eval);
                y.square().reshape(&[1]).into_rank::<1>()
            },
            &params,
        );
        for (path, w) in want.iter() {
            let got = Val::narrow(grads.get_dyn(path).unwrap().clone(), 0, n, 1);
            assert_close(
                &format!("example {n}: {path}"),
                &got.to_vec(),
                &w.clone().to_vec(),
                1e-5 * tol,
                1e-6 * tol,
            );
        }
    }
}

#[test]
fn layers_without_a_per_example_rule_are_refused_by_name() {
    let dev = test_device();
    let run = |model: Serial, input: &[usize]| {
        let (p, s) = model.init_model(input, Key::new(0), &dev).unwrap();
        let x = PerExample::plain(DynTensor::zeros(input, &dev));
        try_per_example_grads(
            |p| {
                let (mut y, _) = model.forward_per_example(p, &s, vec![x.clone()], Mode::Eval)?;
                Ok(y.remove(0))
            },
            &p,
            input[0],
        )
        .err()
        .map(|e: duet_core::transform::Unsupported| e.to_string())
    };
    assert_eq!(
        run(serial![Dense::new(4), BatchNorm::new()], &[2, 3]).as_deref(),
        Some("BatchNorm: not supported under per_example_grads")
    );
    let cube = Fn::new("Cube", |x: Vec<DynTensor>| {
        vec![x[0].clone() * x[0].clone() * x[0].clone()]
    });
    assert_eq!(
        run(serial![Dense::new(1), cube], &[2, 3]).as_deref(),
        Some("Cube: not supported under per_example_grads")
    );
    // Weightless layers run.
    assert_eq!(run(serial![Dense::new(1), Relu, Flatten], &[2, 3]), None);
}

/// The stretch case: WGAN-GP's gradient penalty `mean_i (||∇ₓ critic(x_i)||₂ - 1)²` and its
/// gradient with respect to the critic's params (`transform::grad_of_input_grad`, reverse over
/// forward), against `torch.autograd`'s double backward.
#[test]
fn a_gradient_penalty_and_its_gradient_match_torch_double_backward() {
    let critic = serial![Dense::new(16), Tanh, Dense::new(1)];
    let state = Params::new();
    grad_penalty_case("functional critic", DIR, &test_device(), |p, x| {
        let (mut y, _) = critic
            .forward_jvp(p, &state, vec![x], Mode::Eval)
            .expect("forward mode");
        y.remove(0)
    });
}
