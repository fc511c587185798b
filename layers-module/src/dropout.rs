//! [`Dropout`]: inverted dropout keyed by the [`Mode`] (`duet_core::ops::dropout`).
//!
//! Design: a module holds no key and no mutable counter. In training, the caller passes
//! `Mode::Train(key)` (e.g. `rngs.train()`, which takes the next key of the `dropout` stream);
//! containers hand child `i` the key `key.fold_in(i)`. So one key per step gives every dropout
//! layer its own mask, the same key gives the same masks (in both APIs, which fold in the same
//! indices), and a model stays `Sync` and cloneable without shared RNG state.

use crate::val_forward::{eval_state, Lift, ValForward};
use duet_core::burn::module::Module;
use duet_core::burn::tensor::Tensor;
use duet_core::layers::{DropoutConfig, NoParams};
use duet_core::{ops, Mode};
use duet_core::{Params, Val};

/// Inverted dropout: in [`Mode::Train`] each element is zeroed with probability `p` and the
/// survivors are scaled by `1 / (1 - p)`; in [`Mode::Eval`] the identity.
///
/// # Shapes
/// Any shape, unchanged.
///
/// # Example
/// ```
/// use duet_module::{Dropout, Mode, Rngs};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<1>::ones([1000], &Device::flex());
/// let drop = Dropout::new(0.5);
/// let mut rngs = Rngs::new(0);
/// let y = drop.forward(x.clone(), rngs.train()).into_data().to_vec::<f32>().unwrap();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// assert!((400..600).contains(&y.iter().filter(|&&v| v > 0.0).count()));
/// // Same seed, same mask; evaluation is the identity.
/// let again = drop.forward(x.clone(), Rngs::new(0).train()).into_data().to_vec::<f32>().unwrap();
/// assert_eq!(y, again);
/// assert_eq!(drop.forward(x.clone(), Mode::Eval).into_data(), x.into_data());
/// ```
#[derive(Module, Debug)]
pub struct Dropout {
    /// Drop probability, in `[0, 1)`.
    #[module(skip)]
    pub p: f64,
}

impl Dropout {
    /// Drops with probability `p` (panics unless `0 <= p < 1`).
    pub fn new(p: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&p),
            "Dropout: probability {p} must be in [0, 1)"
        );
        Dropout { p }
    }

    /// Applies it; the mask comes from the key of [`Mode::Train`].
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, mode: Mode) -> Tensor<D> {
        ops::dropout(x, self.p, mode.key())
    }
}

impl ValForward for Dropout {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, mode: Mode) -> V {
        eval_state(
            DropoutConfig::new(self.p),
            &NoParams,
            x,
            mode,
            Params::new(),
        )
    }
}
