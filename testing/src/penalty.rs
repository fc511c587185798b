//! The stretch golden driver: WGAN-GP's gradient penalty (`grad_penalty` of `transforms.*`,
//! PyTorch's double backward) and its gradient with respect to a critic's params through
//! [`grad_of_input_grad`], for a critic of either API.

use crate::fixture::{assert_close, tolerance_scale, Fixture};
use crate::manifest::cases;
use crate::run::leaf;
use duet_core::burn::tensor::Device;
use duet_core::checkpoint::torch::{layout, Layout};
use duet_core::layers::Dual;
use duet_core::transform::{grad_of_input_grad, DualParams};
use duet_core::{DynTensor, Params, Val};

/// Runs the `grad_penalty` case of `dir/transforms.*`: `critic` (`[6, 10] -> [6, 1]` on `Dual`
/// values, reading its params `0.*` and `2.*` in duet's layout from its `DualParams`; a Linear,
/// Tanh, Linear stack), the penalty `mean_i (||∇ₓ critic(x_i)||₂ - 1)²` and its gradient, against
/// PyTorch's at 1e-4 relative (three passes of float32 rounding).
///
/// # Panics
/// A mismatch, naming `what` and the tensor.
pub fn grad_penalty_case(
    what: &str,
    dir: &str,
    dev: &Device,
    critic: impl Fn(&DualParams, Dual<DynTensor>) -> Dual<DynTensor>,
) {
    let fx = Fixture::open(format!("{dir}/transforms.safetensors"));
    let case = cases(dir, "transforms")
        .into_iter()
        .find(|c| c.name == "grad_penalty")
        .expect("the grad_penalty case");
    let tol = tolerance_scale(dev);
    // Linear weights: PyTorch's `[out, in]`, duet's `[in, out]`.
    let param_layout = |k: &str| layout("linear", k.rsplit('.').next().unwrap_or(k));
    let params: Params = case
        .params
        .iter()
        .map(|k| {
            let key = format!("grad_penalty.{k}");
            (k.clone(), leaf(&fx, &key, param_layout(k), dev))
        })
        .collect();
    let x = leaf(&fx, "grad_penalty.x", Layout::Same, dev);
    let n = x.dims()[0];
    let (penalty, grads) = grad_of_input_grad(
        |p, x| critic(p, x).reshape(&[n]).sum_dim(0),
        &params,
        &x,
        |g| {
            g.square()
                .sum_dim(1)
                .sqrt()
                .shift(-1.0)
                .square()
                .mean_dim(0)
        },
    );
    let want = |k: &str| fx.get(&format!("grad_penalty.{k}")).f32s.clone();
    let (rel, abs) = (1e-4 * tol, 1e-6 * tol);
    let got = DynTensor::from(penalty).to_vec();
    assert_close(
        &format!("{what}: penalty"),
        &got,
        &want("penalty"),
        rel,
        abs,
    );
    for k in &case.params {
        let g = grads.get_dyn(k).expect("a gradient per param").clone();
        let g = match param_layout(k) {
            Layout::Transpose => Val::swap_dims(g, 0, 1),
            Layout::Same => g,
        };
        let key = format!("gp_grad.{k}");
        assert_close(
            &format!("{what}: {key}"),
            &g.to_vec(),
            &want(&key),
            rel,
            abs,
        );
    }
}
