//! A physics-informed network: solve `u'' = -pi^2 sin(pi x)` on `[-1, 1]` with `u(-1) = u(1) = 0`
//! (exact solution `sin(pi x)`) by a small MLP whose second derivative with respect to its input
//! comes from nested forward mode (`Dual<Dual<_>>`), trained by the gradient of the residual with
//! respect to its params (reverse over forward over forward). Prints the max error.
//!
//!     cargo run --release -p duet-examples --example pinn

use duet_core::burn::tensor::Device;
use duet_core::layers::Dual;
use duet_core::{value_and_grad, Act, DynTensor, Key, Val};
use duet_examples::on_values::mlp;
use duet_functional::{serial, Dense, LayerExt, Tanh};
use duet_optim::{adam, Adam, Optimizer};
use std::f64::consts::PI;

/// The MLP `1 -> 16 -> 16 -> 1` (tanh) on any value type.
fn net<V: Val>(x: V, lift: &impl Fn(&str) -> V) -> V {
    mlp(&["0", "2", "4"], Act::Tanh, x, lift)
}

fn main() {
    let dev = Device::flex();
    // The same architecture as a functional model: its init gives the params' paths and shapes.
    let model = serial![Dense::new(16), Tanh, Dense::new(16), Tanh, Dense::new(1)];
    let (mut params, _) = model
        .init_model(&[1, 1], Key::new(0), &dev)
        .expect("a valid model");
    let points = 64;
    let xs: Vec<f32> = (0..points)
        .map(|i| -1.0 + 2.0 * i as f32 / (points - 1) as f32)
        .collect();
    let x = DynTensor::from_floats(xs.clone(), &[points, 1], &dev);
    let ones = DynTensor::from_floats(vec![1.0; points], &[points, 1], &dev);
    let rhs = x.clone().map_flat(|v| (v * PI).sin() * (-PI * PI));
    let ends = DynTensor::from_floats(vec![-1.0, 1.0], &[2, 1], &dev);
    let mut opt = Optimizer::new(adam(5e-3, Adam::default()));
    for step in 0..=2000 {
        let (loss, grads) = value_and_grad(
            |p| {
                let get = |n: &str| p.get_dyn(n).expect("a param").clone();
                // x with two unit tangents: the outer tangent's inner tangent is u''(x).
                let seed = Dual::new(
                    Dual::new(x.clone(), ones.clone()),
                    Dual::zero_tangent(ones.clone()),
                );
                let u = net(seed, &|n| Dual::zero_tangent(Dual::zero_tangent(get(n))));
                let u_xx = u
                    .tangent
                    .and_then(|t| t.tangent)
                    .expect("second derivative");
                let residual = u_xx.sub(rhs.clone()).square().mean_dim(0);
                let boundary = net(ends.clone(), &get).square().mean_dim(0);
                residual
                    .add(boundary.scale(100.0))
                    .reshape(&[1])
                    .into_rank::<1>()
            },
            &params,
        );
        if step % 500 == 0 {
            println!("step {step:>4}: loss {:.5}", loss.into_scalar::<f32>());
        }
        opt.update(&mut params, grads)
            .expect("gradients have the params' paths");
    }
    let u = net(x, &|n| params.get_dyn(n).expect("a param").clone()).to_vec();
    let err = u
        .iter()
        .zip(&xs)
        .map(|(u, x)| (u - (PI as f32 * x).sin()).abs())
        .fold(0.0f32, f32::max);
    println!("max |u(x) - sin(pi x)| over {points} points: {err:.4}");
}
