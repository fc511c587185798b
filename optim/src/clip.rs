//! Clipping: element-wise [`clip`] and [`clip_by_global_norm`].

use crate::state::OptState;
use crate::transform::{check, OptimError, Transform};
use duet_core::{DynTensor, Params};

/// Clips every element to `[-c, c]`.
pub struct Clip(f64);

/// Clips updates element-wise to `[-max, max]`.
pub fn clip(max: f64) -> Clip {
    Clip(max)
}

impl Transform for Clip {
    fn init(&self, _: &Params) -> OptState {
        OptState::new()
    }
    fn update(&self, g: Params, s: OptState, _: &Params) -> Result<(Params, OptState), OptimError> {
        let c = self.0 as f32;
        Ok((g.map(|t| t.clamp(-c, c)), s))
    }
}

/// Global-norm clipping (PyTorch's `clip_grad_norm_`).
pub struct ClipByGlobalNorm(f64);

/// Scales the whole tree by `min(1, max_norm / (||g|| + 1e-6))`, `||g||` the norm of all
/// elements of all tensors. Computed on the device: no host round trip.
///
/// # Example
/// ```
/// use duet_optim::{clip_by_global_norm, Transform};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let g = Params::new().with("a", Tensor::<1>::from_floats([3.0], &dev)).with("b", Tensor::<1>::from_floats([4.0], &dev));
/// let tx = clip_by_global_norm(1.0);
/// let (u, _) = tx.update(g.clone(), tx.init(&g), &g).unwrap();
/// let a = u.get_dyn("a").unwrap().to_vec()[0];
/// assert!((a - 0.6).abs() < 1e-6); // norm 5
/// ```
pub fn clip_by_global_norm(max_norm: f64) -> ClipByGlobalNorm {
    ClipByGlobalNorm(max_norm)
}

/// The global L2 norm of a tree, as a one-element device tensor.
pub fn global_norm(tree: &Params) -> duet_core::burn::tensor::Tensor<1> {
    let mut it = tree.iter().map(|(_, t)| t.clone().sum_squares());
    let first = it.next().expect("global_norm of an empty tree");
    it.fold(first, |a, b| a + b).sqrt()
}

impl Transform for ClipByGlobalNorm {
    fn init(&self, _: &Params) -> OptState {
        OptState::new()
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        if g.is_empty() {
            return Ok((g, s));
        }
        let factor = ((global_norm(&g) + 1e-6).recip() * self.0 as f32).clamp_max(1.0);
        Ok((g.map(|t: DynTensor| t.mul_scalar_tensor(factor.clone())), s))
    }
}
