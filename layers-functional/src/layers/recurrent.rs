//! [`Lstm`] and [`Gru`] over whole sequences (zero initial state), the functional faces of
//! [`LstmConfig`] and [`GruConfig`].

use crate::layer::config_layer;
pub use duet_core::layers::{GruConfig, LstmConfig};

/// LSTM over a sequence (PyTorch gate order i, f, g, o; zero initial state); returns every
/// step's hidden state. Params `weight_ih` `[I, 4H]`, `weight_hh` `[H, 4H]`, `bias_ih`, `bias_hh`.
///
/// # Shapes
/// `[B, T, I] -> [B, T, H]`
pub type Lstm = LstmConfig;

/// GRU over a sequence (gate order r, z, n; zero initial state); returns every step's hidden
/// state. Params `weight_ih` `[I, 3H]`, `weight_hh` `[H, 3H]`, `bias_ih`, `bias_hh`.
///
/// # Shapes
/// `[B, T, I] -> [B, T, H]`
pub type Gru = GruConfig;

config_layer!(LstmConfig, GruConfig);
