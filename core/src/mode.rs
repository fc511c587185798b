//! [`Mode`]: training (with a key for stochastic layers) or evaluation, shared by both APIs.

use crate::key::Key;

/// Training or evaluation. Training carries the key for stochastic layers (dropout).
///
/// Combinators and containers hand each child `key.fold_in(i)`, so every stochastic layer draws
/// its own stream and the same key gives the same masks.
///
/// # Example
/// ```
/// use duet_core::{Key, Mode};
/// let m = Mode::Train(Key::new(0));
/// assert!(m.is_train() && m.child(1) != m.child(2));
/// assert_eq!(Mode::Eval.key(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: dropout is active, batch norm uses batch statistics and updates its state.
    Train(Key),
    /// Evaluation: deterministic; batch norm uses its running statistics.
    Eval,
}

impl Mode {
    /// The mode for the `i`-th child of a container.
    pub fn child(self, i: usize) -> Mode {
        match self {
            Mode::Train(k) => Mode::Train(k.fold_in(i as u64)),
            Mode::Eval => Mode::Eval,
        }
    }

    /// Whether this is training mode.
    pub fn is_train(self) -> bool {
        matches!(self, Mode::Train(_))
    }

    /// The key in training mode.
    pub fn key(self) -> Option<Key> {
        match self {
            Mode::Train(k) => Some(k),
            Mode::Eval => None,
        }
    }
}
