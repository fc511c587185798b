//! Function transformations over parameter trees, in the style of `torch.func` and JAX: [`jvp`]
//! (forward mode, on [`Dual`] values), [`hvp`] (exact Hessian-vector products, reverse over
//! forward), [`hessian`], [`jacfwd`], [`jacrev`], and [`per_example_grads`] /
//! [`try_per_example_grads`] (on [`PerExample`] values, one backward pass).

use crate::layers::per_example::Taps;
use crate::layers::{Dual, PerExample};
use crate::{value_and_grad_with_aux, DynTensor, Params, Val};
use burn::tensor::Tensor;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

/// A parameter tree with a tangent per leaf (missing tangents are zero): what a function under
/// [`jvp`] or [`hvp`] reads its params from.
#[derive(Clone, Debug, Default)]
pub struct DualParams {
    /// The values.
    pub primal: Params,
    /// The tangents (a subset of the paths; the others are zero).
    pub tangent: Params,
}

impl DualParams {
    /// `primal` with tangents `tangent`.
    pub fn new(primal: Params, tangent: Params) -> Self {
        DualParams { primal, tangent }
    }

    /// The leaf at `path` with its tangent, if the tree has it.
    pub fn get(&self, path: &str) -> Option<Dual<DynTensor>> {
        let value = self.primal.get_dyn(path).ok()?.clone();
        Some(Dual {
            value,
            tangent: self.tangent.get_dyn(path).ok().cloned(),
        })
    }

    /// The subtree under `prefix` (both halves).
    pub fn subtree(&self, prefix: &str) -> DualParams {
        DualParams {
            primal: self.primal.subtree(prefix),
            tangent: self.tangent.subtree(prefix),
        }
    }
}

/// A transformation that an op or layer does not support, by name: never a wrong number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{op}: not supported under {transform}")]
pub struct Unsupported {
    /// The op or layer.
    pub op: String,
    /// The transformation (`"jvp"`, `"hvp"`, ...).
    pub transform: &'static str,
}

/// Forward mode: `f` evaluated at `primals` and its directional derivative along `tangents`
/// (`torch.func.jvp`, `jax.jvp`), in one pass.
///
/// # Shapes
/// `tangents` has the paths (a subset) and shapes of `primals`; the result is `f`'s value and
/// tangent, both of `f`'s output shape.
///
/// # Example
/// `f(w) = sum(w^2)` at `w = [1, 2]` along `[1, 0]`: value 5, derivative `2 * 1 = 2`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, transform::jvp, Params, Val};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<1>::from_floats([1.0, 2.0], &dev));
/// let v = Params::new().with("w", Tensor::<1>::from_floats([1.0, 0.0], &dev));
/// let (y, t) = jvp(|p| p.get("w").unwrap().square().sum_dim(0), &p, &v);
/// assert_eq!((y.to_vec(), t.to_vec()), (vec![5.0], vec![2.0]));
/// ```
pub fn jvp<F>(f: F, primals: &Params, tangents: &Params) -> (DynTensor, DynTensor)
where
    F: FnOnce(&DualParams) -> Dual<DynTensor>,
{
    let y = f(&DualParams::new(primals.clone(), tangents.clone()));
    let t = y.tangent_or_zeros();
    (y.value, t)
}

/// The exact Hessian-vector product `H v` of a scalar `f` at `params` (reverse over forward:
/// the gradient of `<grad f, v>`, itself the tangent of `f` along `v`), with that directional
/// derivative. Costs about one forward pass with tangents and one backward pass.
///
/// # Shapes
/// `f` returns one element; `v` and the result have the paths and shapes of `params`.
///
/// # Example
/// `f(w) = w0^2 w1` at `(1, 2)`: `H = [[2 w1, 2 w0], [2 w0, 0]] = [[4, 2], [2, 0]]`;
/// `H [1, 1] = [6, 2]`, and `<grad f, v> = 2 w0 w1 + w0^2 = 5`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, transform::hvp, Params, Val};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<1>::from_floats([1.0, 2.0], &dev));
/// let v = Params::new().with("w", Tensor::<1>::from_floats([1.0, 1.0], &dev));
/// let (dir, hv) = hvp(|p| {
///     let w = p.get("w").unwrap();
///     let (w0, w1) = (w.clone().narrow(0, 0, 1), w.narrow(0, 1, 1));
///     w0.square().mul(w1)
/// }, &p, &v);
/// assert_eq!(dir.into_scalar::<f32>(), 5.0);
/// assert_eq!(hv.get_dyn("w").unwrap().to_vec(), vec![6.0, 2.0]);
/// ```
pub fn hvp<F>(f: F, params: &Params, v: &Params) -> (Tensor<1>, Params)
where
    F: FnOnce(&DualParams) -> Dual<DynTensor>,
{
    let (dir, (), hv) = value_and_grad_with_aux(
        |p| {
            let y = f(&DualParams::new(p.clone(), v.clone()));
            let n = y.value.num_elements();
            assert_eq!(
                n,
                1,
                "hvp: the function must return one element, got {:?}",
                y.value.dims()
            );
            (y.tangent_or_zeros().reshape(&[1]).into_rank::<1>(), ())
        },
        params,
    );
    (dir, hv)
}

/// The one-hot tree for flat index `k` of `like` (same paths and shapes, zeros elsewhere).
fn basis(like: &Params, k: usize) -> Params {
    let mut offset = 0;
    let mut out = Params::new();
    for (path, t) in like.iter() {
        let n = t.num_elements();
        let mut v = vec![0.0f32; n];
        if (offset..offset + n).contains(&k) {
            v[k - offset] = 1.0;
        }
        offset += n;
        out.insert(path, DynTensor::from_floats(v, &t.dims(), &t.device()));
    }
    out
}

/// Every leaf flattened, in the tree's order, as one row.
fn flat(tree: &Params) -> Vec<f32> {
    tree.iter().flat_map(|(_, t)| t.clone().to_vec()).collect()
}

/// The full Hessian of a scalar `f` over every element of `params` (flattened row-major, leaf
/// after leaf in the tree's order): one [`hvp`] per element, so for small trees.
///
/// # Shapes
/// `[n, n]` with `n` the number of elements of `params`.
///
/// # Example
/// `f(w) = w0^2 w1` at `(1, 2)` has the Hessian `[[4, 2], [2, 0]]`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, transform::hessian, Params, Val};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<1>::from_floats([1.0, 2.0], &dev));
/// let h = hessian(|p| {
///     let w = p.get("w").unwrap();
///     w.clone().narrow(0, 0, 1).square().mul(w.narrow(0, 1, 1))
/// }, &p);
/// assert_eq!(h.to_vec(), vec![4.0, 2.0, 2.0, 0.0]);
/// ```
pub fn hessian<F>(f: F, params: &Params) -> DynTensor
where
    F: Fn(&DualParams) -> Dual<DynTensor>,
{
    let n: usize = params.iter().map(|(_, t)| t.num_elements()).sum();
    let device = params
        .iter()
        .next()
        .map(|(_, t)| t.device())
        .expect("a non-empty tree");
    let rows: Vec<f32> = (0..n)
        .flat_map(|k| flat(&hvp(&f, params, &basis(params, k)).1))
        .collect();
    DynTensor::from_floats(rows, &[n, n], &device)
}

/// The Jacobian of `f` at `x` by forward mode: one [`Dual`] pass per input element (cheap when
/// the input is small).
///
/// # Shapes
/// `x: [..]` with `m` elements, `f(x): [..]` with `k` elements -> `[k, m]`.
///
/// # Example
/// `f(x) = (x0 x1, x0 + x1)` at `(2, 3)`: `[[3, 2], [1, 1]]`.
/// ```
/// use duet_core::{burn::tensor::Device, transform::jacfwd, DynTensor, Val};
/// let x = DynTensor::from_floats(vec![2.0, 3.0], &[2], &Device::flex());
/// let j = jacfwd(|x| {
///     let (a, b) = (x.clone().narrow(0, 0, 1), x.narrow(0, 1, 1));
///     Val::cat(vec![a.clone().mul(b.clone()), a.add(b)], 0)
/// }, &x);
/// assert_eq!(j.to_vec(), vec![3.0, 2.0, 1.0, 1.0]);
/// ```
pub fn jacfwd<F>(f: F, x: &DynTensor) -> DynTensor
where
    F: Fn(Dual<DynTensor>) -> Dual<DynTensor>,
{
    let m = x.num_elements();
    let mut cols = Vec::with_capacity(m);
    for i in 0..m {
        let mut e = vec![0.0f32; m];
        e[i] = 1.0;
        let t = DynTensor::from_floats(e, &x.dims(), &x.device());
        cols.push(f(Dual::new(x.clone(), t)).tangent_or_zeros().to_vec());
    }
    let k = cols.first().map_or(0, Vec::len);
    let rows: Vec<f32> = (0..k)
        .flat_map(|r| cols.iter().map(move |c| c[r]))
        .collect();
    DynTensor::from_floats(rows, &[k, m], &x.device())
}

/// The Jacobian of `f` at `x` by reverse mode: one backward pass per output element (cheap when
/// the output is small).
///
/// # Shapes
/// As [`jacfwd`]: `[k, m]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::Device, transform::jacrev, DynTensor, Val};
/// let x = DynTensor::from_floats(vec![2.0, 3.0], &[2], &Device::flex());
/// let j = jacrev(|x| {
///     let (a, b) = (x.clone().narrow(0, 0, 1), x.narrow(0, 1, 1));
///     Val::cat(vec![a.clone().mul(b.clone()), a.add(b)], 0)
/// }, &x);
/// assert_eq!(j.to_vec(), vec![3.0, 2.0, 1.0, 1.0]);
/// ```
pub fn jacrev<F>(f: F, x: &DynTensor) -> DynTensor
where
    F: Fn(DynTensor) -> DynTensor,
{
    let tree = Params::new().with("x", x.clone());
    let k = f(x.clone()).num_elements();
    let rows: Vec<f32> = (0..k)
        .flat_map(|r| {
            let (_, g) = crate::value_and_grad(
                |p| {
                    let y = f(p.get_dyn("x").expect("the input").clone());
                    let n = y.num_elements();
                    y.reshape(&[n]).narrow(0, r, 1).into_rank::<1>()
                },
                &tree,
            );
            g.get_dyn("x").expect("its gradient").clone().to_vec()
        })
        .collect();
    DynTensor::from_floats(rows, &[k, x.num_elements()], &x.device())
}

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
