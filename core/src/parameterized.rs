//! [`Parameterized`]: anything whose trainable parameters can be read and written as a tree.
//!
//! This is the seam that lets one optimizer serve both front-ends: a functional model's params
//! are a [`Params`] already; a module (duet-module) exposes and accepts its fields as one.

use crate::params::{Params, TreeError};

/// A value whose trainable parameters can be exported to and loaded from a [`Params`] tree.
///
/// Contract: `load_params(&self.params())` is a no-op, and `load_params` accepts exactly the
/// paths and shapes that `params` returns (otherwise an error naming the first mismatch).
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, Params, Parameterized};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::ones([2], &dev));
/// let doubled = p.params().map(|t| t * 2.0);
/// p.load_params(&doubled).unwrap();
/// assert_eq!(p.get_dyn("w").unwrap().to_vec(), vec![2.0, 2.0]);
/// ```
pub trait Parameterized {
    /// The trainable parameters as a tree (cheap handle clones, no data copies).
    fn params(&self) -> Params;

    /// Replaces the trainable parameters with `params` (same paths and shapes).
    ///
    /// # Errors
    /// [`TreeError`] naming the first path or shape that does not match.
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError>;

    /// `params += updates`, path by path (an optimizer step). The result has no autodiff
    /// association. The default reads, adds and loads; a [`Params`] adds in place (reusing a
    /// buffer it alone holds) and a module in one pass over its fields.
    ///
    /// # Errors
    /// [`TreeError`] naming the first path or shape that does not match.
    fn apply_updates(&mut self, updates: Params) -> Result<(), TreeError> {
        let mut p = self.params();
        p.apply_updates(updates)?;
        self.load_params(&p)
    }
}

impl Parameterized for Params {
    fn params(&self) -> Params {
        self.clone()
    }

    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.check_same_structure(params)?;
        *self = params.clone();
        Ok(())
    }

    fn apply_updates(&mut self, updates: Params) -> Result<(), TreeError> {
        self.check_same_structure(&updates)?;
        let mut updates = updates;
        *self = std::mem::take(self)
            .into_iter()
            .map(|(path, p)| {
                let u = updates.remove(&path).expect("same structure");
                (path, crate::kernels::add_scaled(p, u, 1.0))
            })
            .collect();
        Ok(())
    }
}
