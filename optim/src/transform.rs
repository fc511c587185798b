//! The [`Transform`] contract, [`chain`], [`apply_updates`], errors.

use crate::state::OptState;
use duet_core::{Parameterized, Params, TreeError};

/// Optimizer errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// The gradient tree does not match the parameter tree (names the first path).
    #[error("gradients do not match the parameters: {0}")]
    Tree(#[from] TreeError),
    /// The state does not hold what the transform expects (a state from another optimizer).
    #[error("optimizer state: {0}")]
    State(String),
}

/// A gradient transformation (optax's `GradientTransformation`): a pure pair
/// `init(params) -> state` and `update(grads, state, params) -> (updates, state)`.
///
/// Updates are *added* to the params by [`apply_updates`]: a learning-rate transform turns
/// directions into steps (`-lr * direction`).
pub trait Transform: Send + Sync {
    /// The initial state for `params`.
    fn init(&self, params: &Params) -> OptState;

    /// Transforms `grads` into updates, returning the new state.
    ///
    /// # Errors
    /// [`OptimError::Tree`] if `grads` does not have exactly the paths and shapes of `params`.
    fn update(
        &self,
        grads: Params,
        state: OptState,
        params: &Params,
    ) -> Result<(Params, OptState), OptimError>;

    /// The learning rate of the last update (of the first one before any), for logging;
    /// `None` for a transform without one. A chain answers with its first child that has one.
    fn learning_rate(&self, _state: &OptState) -> Option<f64> {
        None
    }
}

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn init(&self, params: &Params) -> OptState {
        (**self).init(params)
    }
    fn update(
        &self,
        grads: Params,
        state: OptState,
        params: &Params,
    ) -> Result<(Params, OptState), OptimError> {
        (**self).update(grads, state, params)
    }
    fn learning_rate(&self, state: &OptState) -> Option<f64> {
        (**self).learning_rate(state)
    }
}

/// Transforms applied in sequence; child `i`'s state lives under `i.`.
pub struct Chain(Vec<Box<dyn Transform>>);

/// Chains transforms: the updates of one are the gradients of the next.
///
/// # Example
/// ```
/// use duet_optim::{apply_updates, chain, clip, scale, Transform};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
/// let g = Params::new().with("w", Tensor::<1>::from_floats([5.0], &dev));
/// let tx = chain(vec![Box::new(clip(1.0)), Box::new(scale(-0.1))]);
/// let (u, _) = tx.update(g, tx.init(&p), &p).unwrap();
/// apply_updates(&mut p, &u).unwrap();
/// assert_eq!(p.get_dyn("w").unwrap().to_vec(), vec![0.9]);
/// ```
pub fn chain(transforms: Vec<Box<dyn Transform>>) -> Chain {
    Chain(transforms)
}

impl Transform for Chain {
    fn init(&self, params: &Params) -> OptState {
        let mut s = OptState::new();
        for (i, t) in self.0.iter().enumerate() {
            s.nest(&i.to_string(), t.init(params));
        }
        s
    }

    fn update(
        &self,
        grads: Params,
        state: OptState,
        params: &Params,
    ) -> Result<(Params, OptState), OptimError> {
        let (mut g, mut state) = (grads, state);
        let mut out = OptState::new();
        for (i, t) in self.0.iter().enumerate() {
            let key = i.to_string();
            let (u, s) = t.update(g, state.take_sub(&key), params)?;
            out.nest(&key, s);
            g = u;
        }
        Ok((g, out))
    }

    fn learning_rate(&self, state: &OptState) -> Option<f64> {
        self.0
            .iter()
            .enumerate()
            .find_map(|(i, t)| t.learning_rate(&state.sub(&i.to_string())))
    }
}

/// `params += updates`, tensor by tensor. The result has no autodiff association.
///
/// # Errors
/// The first path where the trees differ.
pub fn apply_updates(params: &mut Params, updates: &Params) -> Result<(), OptimError> {
    apply_owned_updates(params, updates.clone())
}

/// [`apply_updates`] taking the updates by value: `p + u` then writes into the buffer of `p` or
/// of `u`, whichever nothing else holds, instead of allocating a new parameter.
pub(crate) fn apply_owned_updates(params: &mut Params, updates: Params) -> Result<(), OptimError> {
    Ok(params.apply_updates(updates)?)
}

/// Checks that `grads` matches `params` (paths and shapes).
pub(crate) fn check(grads: &Params, params: &Params) -> Result<(), OptimError> {
    params.check_same_structure(grads).map_err(OptimError::from)
}

/// Boxes a transform for a [`chain`].
pub(crate) fn boxed(t: impl Transform + 'static) -> Box<dyn Transform> {
    Box::new(t)
}
