//! Function transformations over parameter trees, built on [`Dual`] values: [`jvp`] (forward
//! mode) and [`hvp`] (exact Hessian-vector products, reverse over forward), in the style of
//! `torch.func` and JAX.

use crate::layers::Dual;
use crate::{value_and_grad_with_aux, DynTensor, Params};
use burn::tensor::Tensor;

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
