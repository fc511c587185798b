//! Per-example gradients ([`per_example_grads`], [`try_per_example_grads`]) on [`PerExample`]
//! values: one forward and one backward pass, no copies of the params.

use crate::layers::per_example::Taps;
use crate::layers::PerExample;
use crate::{DynTensor, Params, Val};
use burn::tensor::Tensor;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

/// The params as [`per_example_grads`] hands them to the function: each one tapped (see
/// [`PerExample`]), so the dense or convolution layer that uses it records what its per-example
/// gradient needs.
#[derive(Clone, Debug)]
pub struct PerExampleParams {
    params: Arc<Params>,
    /// The path of this view inside the whole tree (`""` or ending in `.`).
    prefix: String,
    taps: Taps,
}

impl PerExampleParams {
    /// The param at `path` (relative to this view), tapped, if the tree has it.
    pub fn get(&self, path: &str) -> Option<PerExample> {
        let full = format!("{}{path}", self.prefix);
        let value = self.params.get_dyn(&full).ok()?.clone();
        Some(self.taps.param(&full, value))
    }

    /// The view of the subtree under `prefix`, as [`Params::subtree`]; its params keep their
    /// whole paths in the gradients (`conv1` then `weight` is `conv1.weight`).
    ///
    /// # Example
    /// ```
    /// use duet_core::{burn::tensor::{Device, Tensor}, layers::PerExample, transform::per_example_grads, DynTensor, Params, Val};
    /// let dev = Device::flex();
    /// let p = Params::new().with("fc.w", Tensor::<2>::from_floats([[3.0]], &dev));
    /// let x = PerExample::plain(DynTensor::from_floats(vec![1.0, 2.0], &[2, 1], &dev));
    /// let (_, g) = per_example_grads(|p| x.dense(p.subtree("fc").get("w").unwrap(), None), &p, 2);
    /// assert_eq!(g.get_dyn("fc.w").unwrap().to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn subtree(&self, prefix: &str) -> PerExampleParams {
        let prefix = if prefix.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}{prefix}.", self.prefix)
        };
        PerExampleParams {
            prefix,
            ..self.clone()
        }
    }
}

/// Every example's own gradient (JAX's `vmap(grad(loss))`, `torch.func.vmap(grad)`) from one
/// forward and one backward pass: `f` returns the `batch` per-example losses `l_n`; the result
/// is their sum and, for every param `θ`, the stack of `∂l_n/∂θ`. No param is copied: the
/// layers that use the params add zero probes to their outputs, the backward pass gives each
/// example's output gradient, and each param's per-example gradient is formed from it and the
/// layer's input (see [`PerExample`]). A param used by several layers gets the sum; one that no
/// layer uses gets zeros.
///
/// # Shapes
/// `f` returns `[B]` or `[B, 1]`; every gradient is `[B, ...param]`.
///
/// # Panics
/// A layer with per-example params other than dense and 2-D convolution weights and biases
/// (named by [`PerExample`]), or `f` returning other than `batch` losses.
///
/// # Example
/// Loss `(w x_i)^2 / 2` with `w = 3` and `x = (1, 2)`: the gradients are `w x_i^2 = (3, 12)`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, layers::PerExample, transform::per_example_grads, DynTensor, Params, Val};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<2>::from_floats([[3.0]], &dev));
/// let x = PerExample::plain(DynTensor::from_floats(vec![1.0, 2.0], &[2, 1], &dev));
/// let (_, g) = per_example_grads(|p| x.dense(p.get("w").unwrap(), None).square().scale(0.5), &p, 2);
/// assert_eq!(g.get_dyn("w").unwrap().dims(), vec![2, 1, 1]);
/// assert_eq!(g.get_dyn("w").unwrap().to_vec(), vec![3.0, 12.0]);
/// ```
pub fn per_example_grads<F>(f: F, params: &Params, batch: usize) -> (Tensor<1>, Params)
where
    F: FnOnce(&PerExampleParams) -> PerExample,
{
    match try_per_example_grads(|p| Ok::<_, Infallible>(f(p)), params, batch) {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// [`per_example_grads`] of a function that can fail, such as a functional model's
/// `Layer::forward_per_example` (which refuses layers without a per-example rule): the first
/// error is returned and no backward pass runs.
///
/// # Shapes
/// As [`per_example_grads`].
///
/// # Errors
/// The error `f` returns.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, layers::PerExample, transform::try_per_example_grads, DynTensor, Params, Val};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<2>::from_floats([[3.0]], &dev));
/// let x = PerExample::plain(DynTensor::from_floats(vec![1.0, 2.0], &[2, 1], &dev));
/// let ok = try_per_example_grads(|p| Ok::<_, String>(x.clone().dense(p.get("w").unwrap(), None)), &p, 2);
/// assert_eq!(ok.unwrap().1.get_dyn("w").unwrap().to_vec(), vec![1.0, 2.0]);
/// let err = try_per_example_grads(|_| Err::<PerExample, _>("no rule"), &p, 2);
/// assert_eq!(err.unwrap_err(), "no rule");
/// ```
pub fn try_per_example_grads<F, E>(
    f: F,
    params: &Params,
    batch: usize,
) -> Result<(Tensor<1>, Params), E>
where
    F: FnOnce(&PerExampleParams) -> Result<PerExample, E>,
{
    let taps = Taps::default();
    let losses = f(&PerExampleParams {
        params: Arc::new(params.clone()),
        prefix: String::new(),
        taps: taps.clone(),
    })?
    .value;
    let n = losses.num_elements();
    assert_eq!(
        n,
        batch,
        "per_example_grads: expected {batch} losses, got {:?}",
        losses.dims()
    );
    let total = losses.reshape(&[n]).sum_dim(0).into_rank::<1>();
    let taps = taps.take();
    let mut grads = (!taps.is_empty()).then(|| total.backward());
    let mut sums: BTreeMap<Arc<str>, DynTensor> = BTreeMap::new();
    let mut add = |path: Option<Arc<str>>, g: DynTensor| {
        if let Some(path) = path {
            let g = match sums.remove(&path) {
                Some(s) => Val::add(s, g),
                None => g,
            };
            sums.insert(path, g);
        }
    };
    for tap in taps {
        let dy = grads
            .as_mut()
            .and_then(|g| tap.probe.grad_remove(g))
            .unwrap_or_else(|| tap.probe.zeros_like().without_autodiff());
        assert_eq!(
            dy.dims()[0],
            batch,
            "per_example_grads: a layer's output {:?} is not over the batch of {batch}",
            dy.dims()
        );
        let (dw, db) = match tap.conv {
            None => {
                let (x, g) = (tap.input.into_rank::<2>(), dy.clone().into_rank::<2>());
                let dw = if crate::kernels::supports(&x) {
                    crate::kernels::outer_per_example(x, g)
                } else {
                    x.unsqueeze_dim::<3>(2) * g.unsqueeze_dim::<3>(1)
                };
                (DynTensor::from(dw), dy)
            }
            Some((spec, k_hw)) => {
                let dw = crate::ops::conv2d_weight_grad_per_example(
                    tap.input.into_rank(),
                    dy.clone().into_rank(),
                    &spec,
                    k_hw,
                );
                let db = dy.into_rank::<4>().sum_dim(3).sum_dim(2).flatten::<2>(1, 3);
                (DynTensor::from(dw), DynTensor::from(db))
            }
        };
        add(tap.weight, dw);
        add(tap.bias, db);
    }
    let grads = params.map_with_path(|path, t| {
        sums.remove(path).unwrap_or_else(|| {
            let mut dims = vec![batch];
            dims.extend(t.dims());
            DynTensor::zeros(&dims, &t.device())
        })
    });
    Ok((total.without_autodiff(), grads))
}
