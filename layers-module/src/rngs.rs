//! [`Rngs`]: NNX-style named key streams for building modules.

use duet_core::{Key, Mode};

/// A key stream: each call of [`KeyStream::next`] returns `key.fold_in(count)` and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyStream {
    key: Key,
    count: u64,
}

impl KeyStream {
    /// A stream starting at `key`.
    pub fn new(key: Key) -> Self {
        KeyStream { key, count: 0 }
    }

    /// The next key of the stream.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Key {
        self.count += 1;
        self.key.fold_in(self.count - 1)
    }
}

/// Flax NNX's `Rngs { params, dropout }`: one stream for initial weights, one for dropout.
///
/// Constructors take `&mut Rngs` and draw one key per layer from `params` (so layer order fixes
/// the weights). Training steps take `rngs.train()`, a [`Mode::Train`] with the next `dropout`
/// key; everything is deterministic per seed.
///
/// # Example
/// ```
/// use duet_module::Rngs;
/// let mut a = Rngs::new(0);
/// let mut b = Rngs::new(0);
/// assert_eq!(a.params.next(), b.params.next()); // same seed, same keys
/// assert_ne!(a.params.next(), a.dropout.next());
/// // `train()` is training mode with the next dropout key: a drew key 0 above, so both are key 1.
/// let mut c = Rngs::new(0);
/// c.dropout.next();
/// assert_eq!(a.train(), c.train());
/// assert_ne!(a.train(), Rngs::new(0).train());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rngs {
    /// Keys for parameter initialization.
    pub params: KeyStream,
    /// Keys for dropout masks.
    pub dropout: KeyStream,
}

impl Rngs {
    /// Streams derived from `seed`.
    pub fn new(seed: u64) -> Self {
        let [p, d] = Key::new(seed).split2();
        Rngs {
            params: KeyStream::new(p),
            dropout: KeyStream::new(d),
        }
    }

    /// Training mode with the next key of the `dropout` stream (one call per training step).
    pub fn train(&mut self) -> Mode {
        Mode::Train(self.dropout.next())
    }
}
