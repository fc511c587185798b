//! Convergence, exact resume through a checkpoint, and error reporting.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{checkpoint, value_and_grad, CheckpointFile, Params, TreeError};
use duet_optim::*;
use std::collections::BTreeMap;

/// Every optimizer; `sgd_lr` for the plain-gradient ones (Rosenbrock's curvature needs a small one).
fn all_optimizers(sgd_lr: f64) -> Vec<(&'static str, Box<dyn Transform>)> {
    vec![
        (
            "sgd",
            Box::new(sgd(
                sgd_lr,
                Sgd {
                    momentum: 0.9,
                    ..Default::default()
                },
            )),
        ),
        (
            "nesterov",
            Box::new(sgd(
                sgd_lr,
                Sgd {
                    momentum: 0.9,
                    nesterov: true,
                    ..Default::default()
                },
            )),
        ),
        ("adam", Box::new(adam(0.02, Adam::default()))),
        (
            "amsgrad",
            Box::new(adam(
                0.02,
                Adam {
                    amsgrad: true,
                    ..Default::default()
                },
            )),
        ),
        (
            "adamw",
            Box::new(adamw(
                0.02,
                Adam {
                    weight_decay: 1e-4,
                    ..Default::default()
                },
            )),
        ),
        ("rmsprop", Box::new(rmsprop(0.003, RmsProp::default()))),
        (
            "rmsprop_centered",
            Box::new(rmsprop(
                0.003,
                RmsProp {
                    centered: true,
                    momentum: 0.5,
                    ..Default::default()
                },
            )),
        ),
        (
            "rmsprop_s4tf",
            Box::new(rmsprop(
                InverseTimeDecay {
                    lr: 0.01,
                    decay: 1e-3,
                },
                RmsProp {
                    alpha: 0.9,
                    ..Default::default()
                },
            )),
        ),
        ("adagrad", Box::new(adagrad(0.3, Adagrad::default()))),
        (
            "lion",
            Box::new(lion(
                WarmupCosine {
                    peak: 0.01,
                    warmup: 10,
                    total: 3000,
                    end: 1e-4,
                },
                0.9,
                0.99,
                0.0,
            )),
        ),
        ("lamb", Box::new(lamb(0.01, 0.9, 0.999, 0.0))),
    ]
}

/// Minimizes `f(x, y)` with both coordinates in one `[2]` parameter (LAMB's trust ratio is
/// per tensor, so a tensor per scalar would be degenerate for it).
fn minimize(
    tx: Box<dyn Transform>,
    start: [f32; 2],
    steps: usize,
    f: impl Fn(Tensor<1>, Tensor<1>) -> Tensor<1>,
) -> [f32; 2] {
    let dev = Device::flex();
    let mut p = Params::new().with("xy", Tensor::<1>::from_floats(start, &dev));
    let mut opt = Optimizer::new(tx);
    for _ in 0..steps {
        let (_, g) = value_and_grad(
            |p| {
                let xy = p.get::<1>("xy").unwrap();
                f(xy.clone().slice(0..1), xy.slice(1..2))
            },
            &p,
        );
        opt.update_params(&mut p, g).unwrap();
    }
    let v = p.get_dyn("xy").unwrap().to_vec();
    [v[0], v[1]]
}

#[test]
fn every_optimizer_minimizes_a_quadratic() {
    for (name, tx) in all_optimizers(0.01) {
        let [x, y] = minimize(tx, [3.0, -2.0], 3000, |x, y| {
            ((x - 1.0).square() + (y + 0.5).square() * 4.0).sum()
        });
        assert!(
            (x - 1.0).abs() < 0.05 && (y + 0.5).abs() < 0.05,
            "{name}: ({x}, {y})"
        );
    }
}

#[test]
fn every_optimizer_makes_progress_on_rosenbrock() {
    // f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1, 1): f = 4. The valley is hard; ask for a
    // tenfold decrease of f within 3000 steps, and the minimum for Adam.
    let f = |x: Tensor<1>, y: Tensor<1>| {
        ((x.clone().neg() + 1.0).square() + (y - x.square()).square() * 100.0).sum()
    };
    let value = |[x, y]: [f32; 2]| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    for (name, tx) in all_optimizers(1e-3) {
        let end = minimize(tx, [-1.0, 1.0], 3000, f);
        assert!(value(end) < 0.4, "{name}: f{end:?} = {}", value(end));
    }
    let end = minimize(Box::new(adam(0.02, Adam::default())), [-1.0, 1.0], 5000, f);
    assert!(
        (end[0] - 1.0).abs() < 0.05 && (end[1] - 1.0).abs() < 0.1,
        "adam: {end:?}"
    );
}

#[test]
fn state_saved_mid_run_resumes_to_the_identical_result() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opt.safetensors");
    let loss = |p: &Params| {
        (p.get::<2>("w").unwrap().square() * p.get::<2>("w").unwrap() + p.get::<2>("w").unwrap())
            .sum()
    };
    let make = || {
        adam(
            WarmupCosine {
                peak: 0.05,
                warmup: 3,
                total: 20,
                end: 0.0,
            },
            Adam {
                amsgrad: true,
                ..Default::default()
            },
        )
    };
    let start = Params::new().with(
        "w",
        Tensor::<2>::from_floats([[0.5, -1.0], [2.0, 0.1]], &dev),
    );
    // Uninterrupted.
    let (mut a, mut opt_a) = (start.clone(), Optimizer::new(make()));
    for _ in 0..10 {
        let g = value_and_grad(loss, &a).1;
        opt_a.update_params(&mut a, g).unwrap();
    }
    // Five steps, save, reload into a fresh optimizer, five more.
    let (mut b, mut opt_b) = (start, Optimizer::new(make()));
    for _ in 0..5 {
        let g = value_and_grad(loss, &b).1;
        opt_b.update_params(&mut b, g).unwrap();
    }
    let st = opt_b.state().unwrap();
    let meta = BTreeMap::from([("opt.counters".to_string(), st.counters_json())]);
    checkpoint::save(&file, &[("params", &b), ("opt", &st.tensors)], &meta).unwrap();
    let ck = CheckpointFile::open(&file).unwrap();
    let mut b = ck.tree("params", &dev).unwrap();
    let mut opt_b = Optimizer::new(make());
    opt_b.set_state(
        OptState::from_parts(
            ck.tree("opt", &dev).unwrap(),
            &ck.metadata()["opt.counters"],
        )
        .unwrap(),
    );
    for _ in 0..5 {
        let g = value_and_grad(loss, &b).1;
        opt_b.update_params(&mut b, g).unwrap();
    }
    assert_eq!(
        a.get_dyn("w").unwrap().to_vec(),
        b.get_dyn("w").unwrap().to_vec(),
        "bitwise identical"
    );
}

/// `Optimizer::update` applies each step through `Transform::step` (Adam writes the params in
/// the pass of its moments, a trailing learning rate folded in): the same bits, params and state,
/// as `update` followed by `apply_updates`, for every optimizer, over several steps.
#[test]
fn stepping_equals_updating_then_adding() {
    let dev = Device::flex();
    let loss = |p: &Params| {
        let (w, b) = (p.get::<2>("w").unwrap(), p.get::<1>("b").unwrap());
        (w.clone().square() * w).sum() + (b.clone().exp() - b).sum()
    };
    let start = Params::new()
        .with(
            "w",
            Tensor::<2>::from_floats([[0.5, -1.0, 0.25], [2.0, 0.1, -0.7]], &dev),
        )
        .with("b", Tensor::<1>::from_floats([0.3, -0.2], &dev));
    for ((name, stepped), (_, updated)) in
        all_optimizers(0.01).into_iter().zip(all_optimizers(0.01))
    {
        let (mut a, mut opt) = (start.clone(), Optimizer::new(stepped));
        let (mut b, mut state) = (start.clone(), updated.init(&start));
        for t in 0..6 {
            let g = value_and_grad(loss, &a).1;
            opt.update_params(&mut a, g.clone()).unwrap();
            let (u, s) = updated.update(g, state, &b).unwrap();
            apply_updates(&mut b, &u).unwrap();
            state = s;
            for path in ["w", "b"] {
                let (x, y) = (
                    a.get_dyn(path).unwrap().to_vec(),
                    b.get_dyn(path).unwrap().to_vec(),
                );
                assert_eq!(x, y, "{name}, step {t}, {path}");
            }
            let s = opt.state().unwrap();
            assert_eq!(s.counters_json(), state.counters_json(), "{name}, step {t}");
            assert_eq!(s.tensors.paths(), state.tensors.paths(), "{name}, step {t}");
            for path in state.tensors.paths() {
                let (x, y) = (
                    s.tensors.get_dyn(path).unwrap(),
                    state.tensors.get_dyn(path).unwrap(),
                );
                assert_eq!(x.to_vec(), y.to_vec(), "{name}, step {t}, state {path}");
            }
        }
    }
}

#[test]
fn mismatched_gradients_name_the_path() {
    let dev = Device::flex();
    let mut p = Params::new()
        .with("a.w", Tensor::<1>::zeros([2], &dev))
        .with("b.w", Tensor::<1>::zeros([3], &dev));
    let mut opt = Optimizer::new(adam(0.1, Adam::default()));
    let g = Params::new().with("a.w", Tensor::<1>::zeros([2], &dev));
    let e = opt.update_params(&mut p, g).unwrap_err();
    assert_eq!(
        e,
        OptimError::Tree(TreeError::Structure {
            path: "b.w".into(),
            side: "missing from the second tree"
        })
    );
    let g = Params::new()
        .with("a.w", Tensor::<1>::zeros([2], &dev))
        .with("b.w", Tensor::<1>::zeros([4], &dev));
    let e = opt.update_params(&mut p, g).unwrap_err().to_string();
    assert!(
        e.contains("b.w") && e.contains("[3]") && e.contains("[4]"),
        "{e}"
    );
}

#[test]
fn freeze_keeps_frozen_params_and_their_state_out() {
    let dev = Device::flex();
    let mut p = Params::new()
        .with("features.w", Tensor::<1>::ones([2], &dev))
        .with("head.w", Tensor::<1>::ones([2], &dev));
    let mut opt = Optimizer::new(freeze(
        |path| path.starts_with("features."),
        adam(0.1, Adam::default()),
    ));
    let g = p.map(|t| t.full_like(1.0));
    opt.update_params(&mut p, g).unwrap();
    assert_eq!(p.get_dyn("features.w").unwrap().to_vec(), vec![1.0, 1.0]);
    assert!(p.get_dyn("head.w").unwrap().to_vec()[0] < 1.0);
    assert!(opt
        .state()
        .unwrap()
        .tensors
        .paths()
        .iter()
        .all(|k| !k.contains("features")));
}

#[test]
fn skipped_steps_leave_params_and_moments_alone() {
    let dev = Device::flex();
    let mut p = Params::new().with("w", Tensor::<1>::ones([1], &dev));
    let mut opt = Optimizer::new(skip_not_finite(adam(0.1, Adam::default())));
    opt.update_params(
        &mut p,
        Params::new().with("w", Tensor::<1>::from_floats([f32::INFINITY], &dev)),
    )
    .unwrap();
    assert_eq!(p.get_dyn("w").unwrap().to_vec(), vec![1.0]);
    opt.update_params(
        &mut p,
        Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev)),
    )
    .unwrap();
    // The first real step of Adam moves by exactly lr: the infinite step left no trace.
    assert!((p.get_dyn("w").unwrap().to_vec()[0] - 0.9).abs() < 1e-6);
    assert_eq!(opt.state().unwrap().counter("skipped"), 1);
}

#[test]
fn schedules_have_their_shapes() {
    assert_eq!(
        Piecewise {
            lr: 1.0,
            steps: vec![(10, 0.1), (20, 0.1)]
        }
        .lr(15),
        0.1
    );
    assert!(
        (Exponential {
            lr: 1.0,
            rate: 0.5,
            decay_steps: 10,
            staircase: true
        }
        .lr(25)
            - 0.25)
            .abs()
            < 1e-12
    );
    assert_eq!(
        Polynomial {
            lr: 1.0,
            end: 0.0,
            power: 1.0,
            steps: 10
        }
        .lr(5),
        0.5
    );
    assert!(
        (Cosine {
            lr: 1.0,
            steps: 10,
            alpha: 0.0
        }
        .lr(10))
        .abs()
            < 1e-12
    );
    let oc = OneCycle::new(1.0, 100);
    assert!((oc.lr(0) - 0.04).abs() < 1e-9 && (oc.lr(29) - 1.0).abs() < 1e-9 && oc.lr(99) < 1e-5);
}
