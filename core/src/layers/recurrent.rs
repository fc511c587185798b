//! [`LstmConfig`], [`GruConfig`] and the cells, written once over [`Val`] (PyTorch gate order,
//! duet's `[in, out]` layout). `duet_core::ops`'s typed cells and loops wrap these.

use super::{check_rank, Act, Ctx, LayerConfig, Val};
use crate::{DynTensor, Fans, Initializer, Key, Params};
use burn::tensor::{Device, Tensor};

crate::param_tree! {
    /// A recurrent cell's params: `weight_ih` `[I, G*H]`, `weight_hh` `[H, G*H]`, optional
    /// `bias_ih`, `bias_hh` `[G*H]` (`G` = 4 for LSTM, 3 for GRU).
    pub struct RnnParams { leaf weight_ih: V, leaf weight_hh: V, opt bias_ih: Option<V>, opt bias_hh: Option<V> }
}

impl<V: Val> RnnParams<V> {
    fn gates(&self, op: &str, g: usize, x: V, h: V) -> (V, V) {
        let (xd, hd) = (x.dims(), h.dims());
        let n = hd[1];
        let (wi, wh) = (self.weight_ih.dims(), self.weight_hh.dims());
        assert!(
            xd[0] == hd[0] && wi == [xd[1], g * n] && wh == [n, g * n],
            "{op}: x {xd:?} and h {hd:?} do not match weight_ih {wi:?} / weight_hh {wh:?} \
             (expected [{}, {}] / [{n}, {}])",
            xd[1],
            g * n,
            g * n
        );
        (
            x.dense(self.weight_ih.clone(), self.bias_ih.clone()),
            h.dense(self.weight_hh.clone(), self.bias_hh.clone()),
        )
    }
}

fn chunk<V: Val>(t: V, n: usize) -> Vec<V> {
    let size = t.dims()[1] / n;
    (0..n)
        .map(|i| t.clone().narrow(1, i * size, size))
        .collect()
}

/// One LSTM step over any value (see `ops::lstm_cell`). Returns `(h', c')`.
///
/// # Shapes
/// `x`: `[B, I]`, `h`, `c`: `[B, H]` -> `([B, H], [B, H])`.
pub fn lstm_cell<V: Val>(x: V, h: V, c: V, w: &RnnParams<V>) -> (V, V) {
    let (gi, gh) = w.gates("lstm_cell", 4, x, h);
    let g = chunk(gi.add(gh), 4);
    let s = |i: usize| g[i].clone().act(Act::Sigmoid);
    let c2 = s(1).mul(c).add(s(0).mul(g[2].clone().act(Act::Tanh)));
    let h2 = s(3).mul(c2.clone().act(Act::Tanh));
    (h2, c2)
}

/// One GRU step over any value (see `ops::gru_cell`).
///
/// # Shapes
/// `x`: `[B, I]`, `h`: `[B, H]` -> `[B, H]`.
pub fn gru_cell<V: Val>(x: V, h: V, w: &RnnParams<V>) -> V {
    let (gi, gh) = w.gates("gru_cell", 3, x, h.clone());
    let (xi, hh) = (chunk(gi, 3), chunk(gh, 3));
    let r = xi[0].clone().add(hh[0].clone()).act(Act::Sigmoid);
    let z = xi[1].clone().add(hh[1].clone()).act(Act::Sigmoid);
    let n = xi[2].clone().add(r.mul(hh[2].clone())).act(Act::Tanh);
    z.clone().scale(-1.0).shift(1.0).mul(n).add(z.mul(h))
}

fn steps<V: Val>(x: &V) -> Vec<V> {
    let d = x.dims();
    (0..d[1])
        .map(|s| x.clone().narrow(1, s, 1).reshape(&[d[0], d[2]]))
        .collect()
}

fn stack<V: Val>(outs: Vec<V>) -> V {
    let outs = outs
        .into_iter()
        .map(|h| {
            let d = h.dims();
            h.reshape(&[d[0], 1, d[1]])
        })
        .collect();
    V::cat(outs, 1)
}

/// [`lstm_cell`] over a sequence. Returns every step's `h` and the final `(h, c)`.
///
/// # Shapes
/// `x`: `[B, T, I]`, `h0`, `c0`: `[B, H]` -> `([B, T, H], ([B, H], [B, H]))`.
pub fn lstm<V: Val>(x: V, h0: V, c0: V, w: &RnnParams<V>) -> (V, (V, V)) {
    let (mut h, mut c) = (h0, c0);
    let mut outs = Vec::new();
    for xt in steps(&x) {
        (h, c) = lstm_cell(xt, h, c, w);
        outs.push(h.clone());
    }
    (stack(outs), (h, c))
}

/// [`gru_cell`] over a sequence. Returns every step's `h` and the final `h`.
///
/// # Shapes
/// `x`: `[B, T, I]`, `h0`: `[B, H]` -> `([B, T, H], [B, H])`.
pub fn gru<V: Val>(x: V, h0: V, w: &RnnParams<V>) -> (V, V) {
    let mut h = h0;
    let mut outs = Vec::new();
    for xt in steps(&x) {
        h = gru_cell(xt, h, w);
        outs.push(h.clone());
    }
    (stack(outs), h)
}

/// PyTorch's init: every weight and bias `U(-1/sqrt(H), 1/sqrt(H))`, from `key.split(4)`.
fn rnn_init(
    gates: usize,
    bias: bool,
    input: usize,
    hidden: usize,
    key: Key,
    dev: &Device,
) -> RnnParams<DynTensor> {
    let bound = 1.0 / (hidden as f32).sqrt();
    let u = Initializer::Uniform {
        low: -bound,
        high: bound,
    };
    let ks = key.split(4);
    let g = gates * hidden;
    RnnParams {
        weight_ih: u
            .init([input, g], Fans::linear(&[input, g]), ks[0], dev)
            .into(),
        weight_hh: u
            .init([hidden, g], Fans::linear(&[hidden, g]), ks[1], dev)
            .into(),
        bias_ih: bias.then(|| u.init([g], Fans::infer(&[g]), ks[2], dev).into()),
        bias_hh: bias.then(|| u.init([g], Fans::infer(&[g]), ks[3], dev).into()),
    }
}

macro_rules! rnn_config {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $kind:literal, $gates:literal, |$x:ident, $h0:ident, $p:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $ty {
            /// Hidden units.
            pub hidden: usize,
            /// Whether there are biases (default true).
            pub bias: bool,
        }
        impl $ty {
            /// `hidden` units, with biases.
            pub fn new(hidden: usize) -> Self {
                $ty { hidden, bias: true }
            }
            /// With or without biases.
            pub fn with_bias(mut self, bias: bool) -> Self {
                self.bias = bias;
                self
            }
        }
        impl LayerConfig for $ty {
            const KIND: &'static str = $kind;
            type Params<V: Val> = RnnParams<V>;
            fn name(&self) -> String {
                format!("{}({})", $name, self.hidden)
            }
            fn input_size(&self, s: &[usize]) -> Result<usize, String> {
                check_rank(s, 3, false).map(|_| s[2])
            }
            fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
                check_rank(s, 3, false).map(|_| vec![s[0], s[1], self.hidden])
            }
            fn init(&self, d_in: usize, key: Key, dev: &Device) -> (RnnParams<DynTensor>, Params) {
                (rnn_init($gates, self.bias, d_in, self.hidden, key, dev), Params::new())
            }
            fn apply<V: Val>(&self, $p: &RnnParams<V>, $x: V, _: &mut Ctx<'_>) -> V {
                let zeros = Tensor::<2>::zeros([$x.dims()[0], self.hidden], &$x.device());
                let $h0 = V::constant(zeros.into());
                $body
            }
        }
    };
}

rnn_config!(
    /// An LSTM over a sequence (gate order i, f, g, o; zero initial state), returning every
    /// step's hidden state. Params: see [`RnnParams`] (`G = 4`), PyTorch's init.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    ///
    /// # Example
    /// ```
    /// use duet_core::layers::{LayerConfig, LstmConfig};
    /// assert_eq!(LstmConfig::new(5).output_shape(&[2, 3, 4]).unwrap(), vec![2, 3, 5]);
    /// ```
    LstmConfig, "Lstm", "lstm", 4, |x, h0, p| lstm(x, h0.clone(), h0, p).0
);
rnn_config!(
    /// A GRU over a sequence (gate order r, z, n; zero initial state), returning every step's
    /// hidden state. Params: see [`RnnParams`] (`G = 3`), PyTorch's init.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    ///
    /// # Example
    /// ```
    /// use duet_core::layers::{GruConfig, LayerConfig};
    /// assert_eq!(GruConfig::new(5).input_size(&[2, 3, 4]).unwrap(), 4);
    /// ```
    GruConfig, "Gru", "gru", 3, |x, h0, p| gru(x, h0, p).0
);
