//! [`Optimizer`]: the stateful convenience (S4TF's `optimizer.update(&model, along: grads)`,
//! NNX's `Optimizer`).

use crate::state::OptState;
use crate::transform::{OptimError, Transform};
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
        self.update(params, grads)
    }

    /// The learning rate of the last update (of the first one before any update), read from
    /// the transform's state: what a training loop logs, with no second schedule to keep in
    /// step. `None` for a transform without a rate.
    ///
    /// # Example
    /// ```
    /// use duet_optim::{sgd, Cosine, Optimizer, Sgd};
    /// use duet_core::{burn::tensor::{Device, Tensor}, Params};
    /// let dev = Device::flex();
    /// let mut p = Params::new().with("x", Tensor::<1>::from_floats([1.0], &dev));
    /// let mut opt = Optimizer::new(sgd(Cosine { lr: 1.0, steps: 2, alpha: 0.0 }, Sgd::default()));
    /// assert_eq!(opt.learning_rate(), Some(1.0));
    /// for _ in 0..2 {
    ///     let zero = p.map(|t| t * 0.0);
    ///     opt.update(&mut p, zero).unwrap();
    /// }
    /// // The second update used lr(1) = (1 + cos(pi / 2)) / 2 = 0.5.
    /// assert!((opt.learning_rate().unwrap() - 0.5).abs() < 1e-12);
    /// ```
    pub fn learning_rate(&self) -> Option<f64> {
        let empty = OptState::new();
        self.tx.learning_rate(self.state.as_ref().unwrap_or(&empty))
    }

    /// One step on any model whose params are a tree (functional params, a module): the
    /// transform's [`Transform::step`] computes the new params (for Adam in the same pass as its
    /// moments), then [`Parameterized::load_params`] puts them in the model.
    ///
    /// # Errors
    /// [`OptimError::Tree`] naming the first path where `grads` and the params differ.
    pub fn update<M: Parameterized + ?Sized>(
        &mut self,
        model: &mut M,
        grads: Params,
    ) -> Result<(), OptimError> {
        let params = model.params();
        params.check_same_structure(&grads)?;
        let state = match self.state.take() {
            Some(s) => s,
            None => self.tx.init(&params),
        };
        let (params, state) = self.tx.step(grads, state, params, 1.0)?;
        self.state = Some(state);
        model.load_params(&params)?;
        Ok(())
    }
}
