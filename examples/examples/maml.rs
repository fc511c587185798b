//! MAML on sinusoid regression (Finn et al. 2017): learn an initialisation from which two SGD
//! steps on 10 points of a new sine wave fit it. The second-order meta-gradient differentiates
//! through the inner steps with exact Hessian-vector products (`transform::hvp`):
//! `u = grad L_q(theta_2)`, then `u <- u - alpha H_s(theta_k) u` for `k = 1, 0`. Compares it with
//! first-order MAML (`u = grad L_q(theta_2)`) and with plain joint training, on 200 new tasks.
//!
//!     cargo run --release -p duet-examples --example maml

use duet_core::burn::tensor::Device;
use duet_core::layers::{mse, Dual};
use duet_core::transform::{hvp, DualParams};
use duet_core::{value_and_grad, Act, DynTensor, Key, Params, Val};
use duet_examples::on_values::mlp;
use duet_functional::{serial, Dense, LayerExt, Relu};
use duet_optim::{adam, Adam, Optimizer};

const ALPHA: f32 = 0.01;
const INNER: usize = 2;
const K: usize = 10;

/// `1 -> 40 -> 40 -> 1` (relu) on any value type.
fn net<V: Val>(x: V, lift: &impl Fn(&str) -> V) -> V {
    mlp(&["0", "2", "4"], Act::Relu, x, lift)
}

/// One task: `(support x, support y, query x, query y)`, each `[K, 1]`.
type Task = (DynTensor, DynTensor, DynTensor, DynTensor);

fn task(key: Key, dev: &Device) -> Task {
    let [k1, k2, k3] = <[Key; 3]>::try_from(key.split(3)).expect("three keys");
    let amplitude = k1.uniform_vec(1, 0.1, 5.0)[0];
    let phase = k1.fold_in(1).uniform_vec(1, 0.0, std::f32::consts::PI)[0];
    let points = |k: Key| {
        let x = k.uniform_vec(K, -5.0, 5.0);
        let y: Vec<f32> = x.iter().map(|x| amplitude * (x + phase).sin()).collect();
        (
            DynTensor::from_floats(x, &[K, 1], dev),
            DynTensor::from_floats(y, &[K, 1], dev),
        )
    };
    let ((sx, sy), (qx, qy)) = (points(k2), points(k3));
    (sx, sy, qx, qy)
}

fn loss_grad(p: &Params, x: &DynTensor, y: &DynTensor) -> (f32, Params) {
    let (l, g) = value_and_grad(
        |p| {
            mse(
                net(x.clone(), &|n| p.get_dyn(n).unwrap().clone()),
                y.clone(),
            )
            .into_rank::<1>()
        },
        p,
    );
    (l.into_scalar(), g)
}

fn sgd_step(p: &Params, g: &Params) -> Params {
    p.zip_map(g, |p, g| p - g * ALPHA).expect("same paths")
}

/// The inner loop from `theta`: every iterate `theta_0..theta_INNER`.
fn adapt(theta: &Params, (sx, sy, _, _): &Task) -> Vec<Params> {
    let mut thetas = vec![theta.clone()];
    for _ in 0..INNER {
        let (_, g) = loss_grad(thetas.last().unwrap(), sx, sy);
        thetas.push(sgd_step(thetas.last().unwrap(), &g));
    }
    thetas
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    SecondOrder,
    FirstOrder,
    Joint,
}

/// The meta-gradient of one task at `theta`.
fn meta_grad(theta: &Params, t: &Task, method: Method) -> Params {
    let (sx, sy, qx, qy) = t;
    if method == Method::Joint {
        return loss_grad(theta, qx, qy).1;
    }
    let thetas = adapt(theta, t);
    let (_, mut u) = loss_grad(&thetas[INNER], qx, qy);
    if method == Method::SecondOrder {
        for th in thetas[..INNER].iter().rev() {
            let support = |p: &DualParams| {
                mse(
                    net(Dual::zero_tangent(sx.clone()), &|n| p.get(n).unwrap()),
                    Dual::zero_tangent(sy.clone()),
                )
            };
            let (_, hu) = hvp(support, th, &u);
            u = u.zip_map(&hu, |u, hu| u - hu * ALPHA).expect("same paths");
        }
    }
    u
}

fn main() {
    let dev = Device::flex();
    let model = serial![Dense::new(40), Relu, Dense::new(40), Relu, Dense::new(1)];
    let (init, _) = model
        .init_model(&[1, 1], Key::new(0), &dev)
        .expect("a valid model");
    let test: Vec<Task> = (0..200)
        .map(|i| task(Key::new(7).fold_in(i), &dev))
        .collect();
    let meta_test = |theta: &Params| -> f32 {
        let total: f32 = test
            .iter()
            .map(|t| loss_grad(&adapt(theta, t)[INNER], &t.2, &t.3).0)
            .sum();
        total / test.len() as f32
    };
    println!(
        "meta-test query loss after {INNER} steps of SGD (alpha {ALPHA}) from the initialisation:"
    );
    println!("  random initialisation: {:.3}", meta_test(&init));
    for (name, method) in [
        ("joint training", Method::Joint),
        ("first-order MAML", Method::FirstOrder),
        ("second-order MAML", Method::SecondOrder),
    ] {
        let (mut theta, mut opt) = (init.clone(), Optimizer::new(adam(1e-3, Adam::default())));
        for step in 0..1500u64 {
            let grads: Vec<Params> = (0..4)
                .map(|i| {
                    meta_grad(
                        &theta,
                        &task(Key::new(1).fold_in(step * 4 + i), &dev),
                        method,
                    )
                })
                .collect();
            let mean = grads[1..]
                .iter()
                .fold(grads[0].clone(), |a, g| {
                    a.zip_map(g, |a, g| a + g).expect("same paths")
                })
                .map(|g| g / 4.0);
            opt.update(&mut theta, mean).expect("same paths");
        }
        println!(
            "  {name:<18} (1500 meta-steps of 4 tasks): {:.3}",
            meta_test(&theta)
        );
    }
}
