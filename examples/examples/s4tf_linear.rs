//! Swift for TensorFlow's first example, in duet: a `Linear { w, b }` model, its value and
//! gradient at `x = 3`, and an optimizer step.
//!
//!     cargo run -p duet-examples --example s4tf_linear

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{value_and_grad, Params};
use duet_optim::{sgd, Optimizer, Sgd};

fn main() {
    let dev = Device::flex();
    let mut model = Params::new()
        .with("w", Tensor::<1>::from_floats([2.0], &dev))
        .with("b", Tensor::<1>::from_floats([0.5], &dev));
    let x = 3.0;
    // let (value, grad) = valueWithGradient(at: model) { m in m.w * x + m.b }
    let (y, grads) = value_and_grad(
        |m| m.get::<1>("w").unwrap() * x + m.get::<1>("b").unwrap(),
        &model,
    );
    println!("y = {}", y.into_scalar::<f32>());
    println!(
        "dy/dw = {}, dy/db = {}",
        grads.get_dyn("w").unwrap().to_vec()[0],
        grads.get_dyn("b").unwrap().to_vec()[0]
    );
    // optimizer.update(&model, along: grad)
    let mut opt = Optimizer::new(sgd(0.1, Sgd::default()));
    opt.update(&mut model, grads).unwrap();
    println!(
        "after one SGD step: w = {}, b = {}",
        model.get_dyn("w").unwrap().to_vec()[0],
        model.get_dyn("b").unwrap().to_vec()[0]
    );
}
