//! Function transformations over parameter trees, in the style of `torch.func` and JAX: [`jvp`]
//! (forward mode, on [`Dual`] values), [`hvp`] (exact Hessian-vector products, reverse over
//! forward), [`hessian`], [`jacfwd`], [`jacrev`], and [`per_example_grads`] /
//! [`try_per_example_grads`] (on [`crate::layers::PerExample`] values, one backward pass), and
//! [`grad_of_input_grad`] (the gradient of a function of an input gradient: a gradient penalty).

use crate::layers::Dual;
use crate::{value_and_grad_with_aux, DynTensor, Params, Val};
use burn::tensor::Tensor;

mod per_example;
pub use per_example::{per_example_grads, try_per_example_grads, PerExampleParams};

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

/// The gradient with respect to the params of `phi(∇ₓ f(x; θ))`, a scalar function of the
/// gradient of a scalar `f` with respect to its input (double backpropagation: WGAN-GP's
/// gradient penalty, input-gradient regularisers), exact, without a second reverse level:
/// with `g = ∇ₓ f` and `c = ∇_g phi(g)` held fixed, `∇_θ phi(g(θ)) = (∂g/∂θ)ᵀ c = ∇_θ ⟨∇ₓ f, c⟩`,
/// and `⟨∇ₓ f, c⟩` is the forward-mode derivative of `f` along the input tangent `c`, so reverse
/// mode over one [`Dual`] pass gives it (as [`hvp`] does with a param tangent). Costs one
/// backward pass for `g`, one for `c` (on `g` alone), and one forward pass with tangents plus
/// its backward pass.
///
/// `f` runs on [`Dual`] values: the input `x` (with a tangent, or none) and the params (no
/// tangents); it returns one element (sum a batch's outputs: each example's input gradient is
/// then its own, as long as examples do not interact, as PyTorch's `autograd.grad` of
/// `D(x).sum()`). `phi` runs on plain tensors and returns one element.
///
/// # Shapes
/// `x`: any; `g = ∇ₓ f` and `phi`'s input: `x`'s shape; the result: `phi(g)` `[1]` and a tree with
/// the paths and shapes of `params`.
///
/// # Panics
/// `f` or `phi` returning other than one element.
///
/// # Example
/// `f(x; w) = w x²` (summed) at `x = (1, 2)`, `w = 3`: `g = 2 w x = (6, 12)`, and
/// `phi(g) = Σ g² = 4 w² Σ x² = 180`, so `∂phi/∂w = 8 w Σ x² = 120`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, transform::grad_of_input_grad, DynTensor, Params, Val};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<1>::from_floats([3.0], &dev));
/// let x = DynTensor::from_floats(vec![1.0, 2.0], &[2], &dev);
/// let (phi, g) = grad_of_input_grad(
///     |p, x| x.clone().mul(x).mul(p.get("w").unwrap()).sum_dim(0),
///     &p,
///     &x,
///     |g| g.square().sum_dim(0),
/// );
/// assert_eq!(phi.into_scalar::<f32>(), 180.0);
/// assert_eq!(g.get_dyn("w").unwrap().to_vec(), vec![120.0]);
/// ```
pub fn grad_of_input_grad<F, Phi>(
    f: F,
    params: &Params,
    x: &DynTensor,
    phi: Phi,
) -> (Tensor<1>, Params)
where
    F: Fn(&DualParams, Dual<DynTensor>) -> Dual<DynTensor>,
    Phi: FnOnce(DynTensor) -> DynTensor,
{
    let one = |y: DynTensor, what: &str| {
        let n = y.num_elements();
        assert_eq!(
            n,
            1,
            "grad_of_input_grad: {what} must return one element, got {:?}",
            y.dims()
        );
        y.reshape(&[1]).into_rank::<1>()
    };
    let plain = DualParams::new(params.clone(), Params::new());
    // g = ∇ₓ f.
    let (_, gx) = crate::value_and_grad(
        |t| {
            one(
                f(
                    &plain,
                    Dual::zero_tangent(t.get_dyn("x").expect("x").clone()),
                )
                .value,
                "f",
            )
        },
        &Params::new().with("x", x.clone()),
    );
    let g = gx.get_dyn("x").expect("the input gradient").clone();
    // c = ∇_g phi(g).
    let (value, gc) = crate::value_and_grad(
        |t| one(phi(t.get_dyn("g").expect("g").clone()), "phi"),
        &Params::new().with("g", g),
    );
    let c = gc.get_dyn("g").expect("phi's gradient").clone();
    // ∇_θ ⟨∇ₓ f, c⟩ by reverse over forward.
    let (_, grads) = crate::value_and_grad(
        |p| {
            let y = f(
                &DualParams::new(p.clone(), Params::new()),
                Dual::new(x.clone(), c.clone()),
            );
            one(y.tangent_or_zeros(), "f")
        },
        params,
    );
    (value, grads)
}
