//! The [`Transform`] contract, [`chain`], [`apply_updates`], errors.

use crate::state::OptState;
use duet_core::kernels::add_scaled;
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

    /// One optimizer step applied: `params + a * update(grads)`, returning the new params and
    /// state. The default runs [`update`](Self::update), then adds in one pass
    /// ([`duet_core::kernels::add_scaled`]); a transform that can write the params in its own pass
    /// (Adam) overrides it. The result equals the two-step form bit for bit.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    ///
    /// # Example
    /// ```
    /// use duet_optim::{adam, apply_updates, Adam, Transform};
    /// use duet_core::{burn::tensor::{Device, Tensor}, Params};
    /// let dev = Device::flex();
    /// let p = Params::new().with("w", Tensor::<1>::from_floats([1.0, -2.0], &dev));
    /// let g = Params::new().with("w", Tensor::<1>::from_floats([3.0, -0.5], &dev));
    /// let tx = adam(0.1, Adam::default());
    /// // Adam's first step moves each weight by lr against the sign of its gradient.
    /// let (stepped, _) = tx.step(g.clone(), tx.init(&p), p.clone(), 1.0).unwrap();
    /// let w = stepped.get_dyn("w").unwrap().to_vec();
    /// assert!((w[0] - 0.9).abs() < 1e-6 && (w[1] + 1.9).abs() < 1e-6);
    /// // The same bits as the update followed by `apply_updates`.
    /// let (u, _) = tx.update(g, tx.init(&p), &p).unwrap();
    /// let mut q = p.clone();
    /// apply_updates(&mut q, &u).unwrap();
    /// assert_eq!(q.get_dyn("w").unwrap().to_vec(), w);
    /// ```
    fn step(
        &self,
        grads: Params,
        state: OptState,
        params: Params,
        a: f32,
    ) -> Result<(Params, OptState), OptimError> {
        update_then_add(self, grads, state, params, a)
    }

    /// `Some(a)` if the next update is `a * grads`, element by element (a constant scale, a
    /// learning rate): a [`Chain`] ending in it folds `a` into its previous child's
    /// [`step`](Self::step).
    fn factor(&self, _state: &OptState) -> Option<f32> {
        None
    }
}

/// [`Transform::step`]'s two-step form: `t`'s update, then `params + a * updates` in one pass per
/// path (the default, and what a transform that overrides `step` falls back to).
pub(crate) fn update_then_add<T: Transform + ?Sized>(
    t: &T,
    grads: Params,
    state: OptState,
    params: Params,
    a: f32,
) -> Result<(Params, OptState), OptimError> {
    let (u, state) = t.update(grads, state, &params)?;
    Ok((add_scaled_tree(params, u, a)?, state))
}

/// `params + a * updates`, path by path, in one pass each.
fn add_scaled_tree(params: Params, updates: Params, a: f32) -> Result<Params, OptimError> {
    params.check_same_structure(&updates)?;
    let mut updates = updates;
    Ok(params
        .into_iter()
        .map(|(path, p)| {
            let u = updates.remove(&path).expect("same structure");
            (path, add_scaled(p, u, a))
        })
        .collect())
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
    fn step(
        &self,
        grads: Params,
        state: OptState,
        params: Params,
        a: f32,
    ) -> Result<(Params, OptState), OptimError> {
        (**self).step(grads, state, params, a)
    }
    fn factor(&self, state: &OptState) -> Option<f32> {
        (**self).factor(state)
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

    /// The children's updates in turn; the last one that is not a pure scale takes the step,
    /// with a trailing scale (`adam`'s learning rate) folded into its factor, so that Adam
    /// writes the params in the pass that computes its direction.
    fn step(
        &self,
        grads: Params,
        state: OptState,
        params: Params,
        a: f32,
    ) -> Result<(Params, OptState), OptimError> {
        let mut state = state;
        let n = self.0.len();
        // A trailing scale: its factor now, its state advanced by an update of nothing.
        let (n, a, last) = match self.0.last() {
            Some(t) if n >= 2 && a == 1.0 => {
                let key = (n - 1).to_string();
                let s = state.take_sub(&key);
                match t.factor(&s) {
                    Some(f) => {
                        let (_, s) = t.update(Params::new(), s, &params)?;
                        (n - 1, f, Some((key, s)))
                    }
                    None => {
                        state.nest(&key, s);
                        (n, a, None)
                    }
                }
            }
            _ => (n, a, None),
        };
        let mut out = OptState::new();
        let mut g = grads;
        for (i, t) in self.0[..n.saturating_sub(1)].iter().enumerate() {
            let key = i.to_string();
            let (u, s) = t.update(g, state.take_sub(&key), &params)?;
            out.nest(&key, s);
            g = u;
        }
        let params = match self.0[..n].last() {
            Some(t) => {
                let key = (n - 1).to_string();
                let (p, s) = t.step(g, state.take_sub(&key), params, a)?;
                out.nest(&key, s);
                p
            }
            None => add_scaled_tree(params, g, a)?,
        };
        if let Some((key, s)) = last {
            out.nest(&key, s);
        }
        Ok((params, out))
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
