//! [`Embedding`], the functional face of [`EmbeddingConfig`].

use crate::layer::config_layer;
pub use duet_core::layers::EmbeddingConfig;

/// Embedding lookup: integer ids (carried on the stack as floats) to vectors. Param `weight`
/// `[vocab, dim]`, `N(0, 1)` as PyTorch. See [`EmbeddingConfig`].
///
/// # Shapes
/// `[B, T]` ids -> `[B, T, dim]`
///
/// # Example
/// ```
/// use duet_functional::{Embedding, Layer};
/// assert_eq!(Embedding::new(100, 8).output_signature(&[vec![2, 5]]).unwrap(), vec![vec![2, 5, 8]]);
/// ```
pub type Embedding = EmbeddingConfig;

config_layer!(EmbeddingConfig);
