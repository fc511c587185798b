//! LSTM and GRU cells (PyTorch gate order) and loops over time.
//!
//! Weights use duet's `[in, out]` layout: `weight_ih: [I, G*H]`, `weight_hh: [H, G*H]`, biases
//! `[G*H]` (`G = 4` for LSTM with gates `i, f, g, o`; `G = 3` for GRU with gates `r, z, n`). They
//! are the transposes of PyTorch's `weight_ih_l0` / `weight_hh_l0`.

use super::linear::dense;
use burn::tensor::activation::{sigmoid, tanh};
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
    fn gates(&self, op: &str, g: usize, x: Tensor<2>, h: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (xd, hdims) = (x.dims(), h.dims());
        let hd = hdims[1];
        assert!(
            xd[0] == hdims[0]
                && self.weight_ih.dims() == [xd[1], g * hd]
                && self.weight_hh.dims() == [hd, g * hd],
            "{op}: x {xd:?} and h {hdims:?} do not match weight_ih {:?} / weight_hh {:?} \
             (expected [{}, {}] / [{hd}, {}])",
            self.weight_ih.dims(),
            self.weight_hh.dims(),
            xd[1],
            g * hd,
            g * hd
        );
        (
            dense(x, self.weight_ih.clone(), self.bias_ih.clone()),
            dense(h, self.weight_hh.clone(), self.bias_hh.clone()),
        )
    }
}

fn chunk(t: Tensor<2>, n: usize) -> Vec<Tensor<2>> {
    t.chunk(n, 1)
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
    let (gi, gh) = w.gates("lstm_cell", 4, x, h);
    let g = chunk(gi + gh, 4);
    let c2 = sigmoid(g[1].clone()) * c + sigmoid(g[0].clone()) * tanh(g[2].clone());
    let h2 = sigmoid(g[3].clone()) * tanh(c2.clone());
    (h2, c2)
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
    let (gi, gh) = w.gates("gru_cell", 3, x, h.clone());
    let (xi, hh) = (chunk(gi, 3), chunk(gh, 3));
    let r = sigmoid(xi[0].clone() + hh[0].clone());
    let z = sigmoid(xi[1].clone() + hh[1].clone());
    let n = tanh(xi[2].clone() + r * hh[2].clone());
    (z.clone().neg() + 1.0) * n + z * h
}

fn steps(x: &Tensor<3>) -> Vec<Tensor<2>> {
    let [b, t, i] = x.dims();
    (0..t)
        .map(|s| x.clone().slice([0..b, s..s + 1, 0..i]).reshape([b, i]))
        .collect()
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
    let (mut h, mut c) = (h0, c0);
    let mut outs = Vec::new();
    for xt in steps(&x) {
        (h, c) = lstm_cell(xt, h, c, w);
        outs.push(h.clone());
    }
    (Tensor::stack(outs, 1), (h, c))
}

/// Runs [`gru_cell`] over a sequence. Returns every step's `h` and the final `h`.
///
/// # Shapes
/// `x`: `[B, T, I]`, `h0`: `[B, H]` -> `([B, T, H], [B, H])`.
pub fn gru(x: Tensor<3>, h0: Tensor<2>, w: &RnnWeights) -> (Tensor<3>, Tensor<2>) {
    let mut h = h0;
    let mut outs = Vec::new();
    for xt in steps(&x) {
        h = gru_cell(xt, h, w);
        outs.push(h.clone());
    }
    (Tensor::stack(outs, 1), h)
}
