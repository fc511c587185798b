//! [`Optimizer`]: the stateful convenience (S4TF's `optimizer.update(&model, along: grads)`,
//! NNX's `Optimizer`).

use crate::state::OptState;
use crate::transform::{apply_owned_updates, OptimError, Transform};
use duet_core::{Parameterized, Params};

/// A transform plus its state. The state is created from the params on the first update.
///
/// # Example
/// ```
/// use duet_optim::{sgd, Optimizer, Sgd};
/// use duet_core::{burn::tensor::{Device, Tensor}, grad, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("x", Tensor::<1>::from_floats([4.0], &dev));
/// let mut opt = Optimizer::new(sgd(0.25, Sgd::default()));
/// for _ in 0..2 {
///     let g = grad(|p| p.get::<1>("x").unwrap().square().sum(), &p); // 2x
///     opt.update(&mut p, g).unwrap(); // x <- x - 0.5 x
/// }
/// assert_eq!(p.get_dyn("x").unwrap().to_vec(), vec![1.0]);
/// ```
pub struct Optimizer {
    tx: Box<dyn Transform>,
    state: Option<OptState>,
}

impl Optimizer {
    /// An optimizer for `tx`; its state is initialized on the first update.
    pub fn new(tx: impl Transform + 'static) -> Self {
        Optimizer {
            tx: Box::new(tx),
            state: None,
        }
    }

    /// The state (`None` before the first update or [`Optimizer::init`]).
    pub fn state(&self) -> Option<&OptState> {
        self.state.as_ref()
    }

    /// Replaces the state (resuming from a checkpoint).
    pub fn set_state(&mut self, state: OptState) {
        self.state = Some(state);
    }

    /// Drops the state: the next update starts from the transform's `init`, as a new optimizer.
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Initializes the state for `params` now.
    pub fn init(&mut self, params: &Params) -> &OptState {
        self.state.insert(self.tx.init(params))
    }

    /// The transform.
    pub fn transform(&self) -> &dyn Transform {
        self.tx.as_ref()
    }

    /// One step on a parameter tree.
    ///
    /// # Errors
    /// [`OptimError::Tree`] naming the first path where `grads` and `params` differ.
    pub fn update_params(&mut self, params: &mut Params, grads: Params) -> Result<(), OptimError> {
        params.check_same_structure(&grads)?;
        let state = match self.state.take() {
            Some(s) => s,
            None => self.tx.init(params),
        };
        let (updates, state) = self.tx.update(grads, state, params)?;
        self.state = Some(state);
        apply_owned_updates(params, updates)
    }

    /// One step on any model whose params are a tree (functional params, a module).
    ///
    /// # Errors
    /// As [`update_params`](Self::update_params).
    pub fn update<M: Parameterized + ?Sized>(
        &mut self,
        model: &mut M,
        grads: Params,
    ) -> Result<(), OptimError> {
        let mut p = model.params();
        self.update_params(&mut p, grads)?;
        model.load_params(&p)?;
        Ok(())
    }
}
