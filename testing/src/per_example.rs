//! The per-example golden check: LeNet's per-example gradients against `torch.func`'s
//! `vmap(grad)` (`lenet.*` of `transforms.*`), for whichever front-end computed them.

use crate::fixture::{assert_close, tolerance_scale, Fixture};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Params, Val};

/// Compares `total` (the sum of the batch's per-example losses) with `fx`'s `lenet.loss` (their
/// mean), and `grads` (duet's layout: dense weights `[B, in, out]`) with
/// `lenet.per_example_grad.<name>` (PyTorch's `[B, out, in]`), at 1e-4 relative.
///
/// # Panics
/// A mismatch, naming `what` and the tensor.
pub fn assert_lenet_per_example(
    what: &str,
    fx: &Fixture,
    names: &[String],
    (total, grads): (Tensor<1>, &Params),
    dev: &Device,
) {
    let tol = tolerance_scale(dev);
    let (rel, abs) = (1e-4 * tol, 1e-6 * tol);
    let g0 = grads.get_dyn(&names[0]).expect("a gradient per param");
    let mean = total.into_scalar::<f32>() / g0.dims()[0] as f32;
    assert_close(
        &format!("{what}: loss"),
        &[mean],
        &fx.get("lenet.loss").f32s,
        rel,
        abs,
    );
    for n in names {
        let g: DynTensor = grads.get_dyn(n).expect("a gradient per param").clone();
        // Dense weights [B, in, out] back to PyTorch's [B, out, in].
        let g = if g.rank() == 3 {
            Val::swap_dims(g, 1, 2)
        } else {
            g
        };
        let want = &fx.get(&format!("lenet.per_example_grad.{n}")).f32s;
        assert_close(
            &format!("{what}: per-example grad {n}"),
            &g.to_vec(),
            want,
            rel,
            abs,
        );
    }
}
