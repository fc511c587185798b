//! The transforms one by one: MultiSteps, clipping, partitioning, state layout, the stateful
//! `Optimizer` over a `Parameterized` model, and schedules inside a chain.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{Parameterized, Params, TreeError};
use duet_optim::*;

fn dev() -> Device {
    Device::flex()
}

fn vec1(v: &[f32]) -> Tensor<1> {
    Tensor::<1>::from_floats(v, &dev())
}

fn tree(a: &[f32], b: &[f32]) -> Params {
    Params::new().with("a", vec1(a)).with("b", vec1(b))
}

fn values(p: &Params, path: &str) -> Vec<f32> {
    p.get_dyn(path).unwrap().to_vec()
}

#[test]
fn multi_steps_equals_one_step_on_the_mean_gradient() {
    let p0 = tree(&[1.0, -2.0], &[0.5]);
    let grads = [
        tree(&[0.3, -0.1], &[2.0]),
        tree(&[0.5, 0.4], &[-1.0]),
        tree(&[-0.2, 0.9], &[0.5]),
    ];
    let mean = tree(&[0.2, 0.4], &[0.5]);
    // Accumulated: two zero updates, then Adam on the mean.
    let mut acc = p0.clone();
    let mut opt = Optimizer::new(multi_steps(3, adam(0.1, Adam::default())));
    for (i, g) in grads.iter().enumerate() {
        opt.update_params(&mut acc, g.clone()).unwrap();
        if i < 2 {
            assert_eq!(values(&acc, "a"), values(&p0, "a"), "micro-step {i}");
        }
    }
    let mut direct = p0.clone();
    Optimizer::new(adam(0.1, Adam::default()))
        .update_params(&mut direct, mean)
        .unwrap();
    for path in ["a", "b"] {
        let (x, y) = (values(&acc, path), values(&direct, path));
        assert_eq!(x.len(), y.len(), "{path}: {x:?} vs {y:?}");
        assert!(
            x.iter().zip(&y).all(|(x, y)| (x - y).abs() < 1e-6),
            "{path}: {x:?} vs {y:?}"
        );
        // The mean gradient did move the params: equal to `p0` would mean no update at all.
        assert_ne!(x, values(&p0, path), "{path}: no update");
    }
    // The accumulator is reset and the micro-step counter back at 0.
    let st = opt.state().unwrap();
    assert_eq!(st.counter("micro"), 0);
    assert_eq!(values(&st.tensors, "acc.a"), vec![0.0, 0.0]);
}

#[test]
fn clip_by_value_and_by_global_norm() {
    let p = tree(&[0.0, 0.0], &[0.0]);
    let g = tree(&[3.0, -0.5], &[-4.0]);
    let tx = clip(1.0);
    let (u, _) = tx.update(g.clone(), tx.init(&p), &p).unwrap();
    assert_eq!(values(&u, "a"), vec![1.0, -0.5]);
    assert_eq!(values(&u, "b"), vec![-1.0]);
    // ||g|| = sqrt(9 + 0.25 + 16) = 5.0249...; clipped to 2.
    let tx = clip_by_global_norm(2.0);
    let (u, _) = tx.update(g.clone(), tx.init(&p), &p).unwrap();
    let n = global_norm(&u).into_scalar::<f32>();
    assert!((n - 2.0).abs() < 1e-5, "{n}");
    // Below the threshold nothing changes.
    let tx = clip_by_global_norm(10.0);
    let (u, _) = tx.update(g.clone(), tx.init(&p), &p).unwrap();
    assert_eq!(values(&u, "a"), values(&g, "a"));
}

#[test]
fn partition_gives_a_subset_another_optimizer() {
    let mut p = Params::new()
        .with("body.w", vec1(&[1.0]))
        .with("head.w", vec1(&[1.0]))
        .with("head.b", vec1(&[1.0]));
    let mut opt = Optimizer::new(partition(
        vec![(
            Box::new(|path: &str| path.starts_with("head.")),
            Box::new(sgd(0.5, Sgd::default())),
        )],
        Some(Box::new(adam(0.1, Adam::default()))),
    ));
    let g = p.map(|t| t.full_like(2.0));
    opt.update_params(&mut p, g).unwrap();
    assert_eq!(values(&p, "head.w"), vec![0.0]); // 1 - 0.5 * 2
    assert!((values(&p, "body.w")[0] - 0.9).abs() < 1e-6); // Adam's first step
                                                           // The order of the params is kept, and each group's state lives under its own prefix.
    assert_eq!(p.paths(), vec!["body.w", "head.w", "head.b"]);
    let st = opt.state().unwrap();
    assert!(st.tensors.paths().contains(&"default.1.mu.body.w"));
    assert!(!st.tensors.paths().iter().any(|k| k.contains("head.")));
}

#[test]
fn chain_state_paths_are_prefixed_by_position() {
    let p = Params::new().with("conv1.weight", vec1(&[1.0, 2.0]));
    let tx = adam(0.1, Adam::default());
    let st = tx.init(&p);
    assert_eq!(
        st.tensors.paths(),
        vec!["1.mu.conv1.weight", "1.nu.conv1.weight"]
    );
    assert_eq!(st.counter("2.count"), 0);
    let (_, st) = tx.update(p.clone(), st, &p).unwrap();
    assert_eq!((st.counter("1.count"), st.counter("2.count")), (1, 1));
}

#[test]
fn a_state_from_another_optimizer_is_an_error() {
    let p = Params::new().with("w", vec1(&[1.0]));
    let other = Params::new().with("v", vec1(&[1.0]));
    let tx = adam(0.1, Adam::default());
    let e = tx
        .update(p.clone(), tx.init(&other), &p)
        .map(|_| ())
        .expect_err("state for other params");
    assert!(
        matches!(&e, OptimError::State(m) if m.contains("`w`")),
        "{e}"
    );
}

/// A stand-in for a module: owns its params, exposes them as a tree.
struct Model {
    w: Tensor<1>,
}

impl Parameterized for Model {
    fn params(&self) -> Params {
        Params::new().with("w", self.w.clone())
    }
    fn load_params(&mut self, p: &Params) -> Result<(), TreeError> {
        self.w = p.get::<1>("w")?;
        Ok(())
    }
}

#[test]
fn optimizer_updates_a_model_in_place() {
    let mut m = Model {
        w: vec1(&[1.0, 2.0]),
    };
    let mut opt = Optimizer::new(sgd(
        0.1,
        Sgd {
            momentum: 0.9,
            ..Default::default()
        },
    ));
    let g = Params::new().with("w", vec1(&[1.0, -1.0]));
    opt.update(&mut m, g.clone()).unwrap();
    opt.update(&mut m, g).unwrap();
    // buf = 1, then 1.9: w -= 0.1 * 2.9.
    let w = m.w.into_data().try_to_vec::<f32>().unwrap();
    assert!(
        (w[0] - 0.71).abs() < 1e-6 && (w[1] - 2.29).abs() < 1e-6,
        "{w:?}"
    );
    // A wrong gradient tree names the parameter that has no gradient, and leaves the model as
    // it was.
    let mut m = Model { w: vec1(&[1.0]) };
    let e = opt
        .update(&mut m, Params::new().with("v", vec1(&[1.0])))
        .unwrap_err();
    assert!(
        matches!(&e, OptimError::Tree(TreeError::Structure { path, .. }) if path == "w"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`w`"), "{e}");
    assert_eq!(m.w.into_data().try_to_vec::<f32>().unwrap(), vec![1.0]);
}

#[test]
fn the_schedule_advances_once_per_update() {
    let mut p = Params::new().with("w", vec1(&[0.0]));
    let sched = Piecewise {
        lr: 1.0,
        steps: vec![(2, 0.1)],
    };
    let mut opt = Optimizer::new(chain(vec![Box::new(skip_not_finite(sgd(
        sched,
        Sgd::default(),
    )))]));
    let g = |v: f32| Params::new().with("w", vec1(&[v]));
    opt.update_params(&mut p, g(1.0)).unwrap(); // lr 1
    opt.update_params(&mut p, g(f32::NAN)).unwrap(); // skipped: the schedule does not advance
    opt.update_params(&mut p, g(1.0)).unwrap(); // lr 1
    opt.update_params(&mut p, g(1.0)).unwrap(); // lr 0.1
    assert!(
        (values(&p, "w")[0] + 2.1).abs() < 1e-6,
        "{:?}",
        values(&p, "w")
    );
    assert_eq!(opt.state().unwrap().counter("0.skipped"), 1);
}
