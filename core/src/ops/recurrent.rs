//! LSTM and GRU cells (PyTorch gate order) and loops over time.
//!
//! Weights use duet's `[in, out]` layout: `weight_ih: [I, G*H]`, `weight_hh: [H, G*H]`, biases
//! `[G*H]` (`G = 4` for LSTM with gates `i, f, g, o`; `G = 3` for GRU with gates `r, z, n`). They
//! are the transposes of PyTorch's `weight_ih_l0` / `weight_hh_l0`.

use crate::layers::{self, RnnParams};
use crate::DynTensor;
use burn::tensor::Tensor;

/// The weights of one recurrent cell.
#[derive(Clone, Debug)]
pub struct RnnWeights {
    /// `[I, G*H]`.
    pub weight_ih: Tensor<2>,
    /// `[H, G*H]`.
    pub weight_hh: Tensor<2>,
    /// `[G*H]`.
    pub bias_ih: Option<Tensor<1>>,
    /// `[G*H]`.
    pub bias_hh: Option<Tensor<1>>,
}

impl RnnWeights {
    /// The same weights as [`crate::layers::RnnParams`] over [`DynTensor`].
    pub fn to_params(&self) -> RnnParams<DynTensor> {
        RnnParams {
            weight_ih: self.weight_ih.clone().into(),
            weight_hh: self.weight_hh.clone().into(),
            bias_ih: self.bias_ih.clone().map(DynTensor::from),
            bias_hh: self.bias_hh.clone().map(DynTensor::from),
        }
    }
}

/// One LSTM step: `[i, f, g, o] = x W_ih + b_ih + h W_hh + b_hh`,
/// `c' = sigmoid(f) c + sigmoid(i) tanh(g)`, `h' = sigmoid(o) tanh(c')`. Returns `(h', c')`.
///
/// # Shapes
/// `x`: `[B, I]`, `h`, `c`: `[B, H]` -> `([B, H], [B, H])`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{lstm_cell, RnnWeights}};
/// let dev = Device::flex();
/// let w = RnnWeights { weight_ih: Tensor::zeros([1, 4], &dev), weight_hh: Tensor::zeros([1, 4], &dev), bias_ih: None, bias_hh: None };
/// let (h, c) = lstm_cell(Tensor::ones([1, 1], &dev), Tensor::zeros([1, 1], &dev), Tensor::ones([1, 1], &dev), &w);
/// // all gates 0: c' = 0.5 * 1 + 0.5 * tanh(0) = 0.5, h' = 0.5 * tanh(0.5)
/// assert_eq!(c.into_scalar::<f32>(), 0.5);
/// assert!((h.into_scalar::<f32>() - 0.5 * 0.5f32.tanh()).abs() < 1e-7);
/// ```
pub fn lstm_cell(
    x: Tensor<2>,
    h: Tensor<2>,
    c: Tensor<2>,
    w: &RnnWeights,
) -> (Tensor<2>, Tensor<2>) {
    let (h, c) = layers::lstm_cell(x.into(), h.into(), c.into(), &w.to_params());
    (h.into_rank(), c.into_rank())
}

/// One GRU step: `r = sigmoid(x_r + h_r)`, `z = sigmoid(x_z + h_z)`, `n = tanh(x_n + r * h_n)`,
/// `h' = (1 - z) n + z h`, where `x_* = x W_ih + b_ih` and `h_* = h W_hh + b_hh` split by gate.
///
/// # Shapes
/// `x`: `[B, I]`, `h`: `[B, H]` -> `[B, H]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{gru_cell, RnnWeights}};
/// let dev = Device::flex();
/// let w = RnnWeights { weight_ih: Tensor::zeros([1, 3], &dev), weight_hh: Tensor::zeros([1, 3], &dev), bias_ih: None, bias_hh: None };
/// // z = 0.5, n = 0: h' = 0.5 h
/// let h = gru_cell(Tensor::ones([1, 1], &dev), Tensor::from_floats([[2.0]], &dev), &w);
/// assert_eq!(h.into_scalar::<f32>(), 1.0);
/// ```
pub fn gru_cell(x: Tensor<2>, h: Tensor<2>, w: &RnnWeights) -> Tensor<2> {
    layers::gru_cell(x.into(), h.into(), &w.to_params()).into_rank()
}

/// Runs [`lstm_cell`] over a sequence. Returns every step's `h` and the final `(h, c)`.
///
/// # Shapes
/// `x`: `[B, T, I]`, `h0`, `c0`: `[B, H]` -> `([B, T, H], ([B, H], [B, H]))`.
pub fn lstm(
    x: Tensor<3>,
    h0: Tensor<2>,
    c0: Tensor<2>,
    w: &RnnWeights,
) -> (Tensor<3>, (Tensor<2>, Tensor<2>)) {
    let (y, (h, c)) = layers::lstm(x.into(), h0.into(), c0.into(), &w.to_params());
    (y.into_rank(), (h.into_rank(), c.into_rank()))
}

/// Runs [`gru_cell`] over a sequence. Returns every step's `h` and the final `h`.
///
/// # Shapes
/// `x`: `[B, T, I]`, `h0`: `[B, H]` -> `([B, T, H], [B, H])`.
pub fn gru(x: Tensor<3>, h0: Tensor<2>, w: &RnnWeights) -> (Tensor<3>, Tensor<2>) {
    let (y, h) = layers::gru(x.into(), h0.into(), &w.to_params());
    (y.into_rank(), h.into_rank())
}
