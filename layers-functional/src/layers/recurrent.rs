//! [`Lstm`] and [`Gru`] over whole sequences (zero initial state).

use super::single;
use crate::layer::{BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::ops::{self, RnnWeights};
use duet_core::{DynTensor, Fans, Initializer, Key, Params};

fn rnn_init(gates: usize, input: usize, hidden: usize, key: Key, device: &Device) -> Init {
    // PyTorch: every weight and bias U(-1/sqrt(H), 1/sqrt(H)).
    let bound = 1.0 / (hidden as f32).sqrt();
    let u = Initializer::Uniform {
        low: -bound,
        high: bound,
    };
    let ks = key.split(4);
    let g = gates * hidden;
    let params = Params::new()
        .with(
            "weight_ih",
            u.init([input, g], Fans::linear(&[input, g]), ks[0], device),
        )
        .with(
            "weight_hh",
            u.init([hidden, g], Fans::linear(&[hidden, g]), ks[1], device),
        )
        .with("bias_ih", u.init([g], Fans::infer(&[g]), ks[2], device))
        .with("bias_hh", u.init([g], Fans::infer(&[g]), ks[3], device));
    Init {
        params,
        state: Params::new(),
    }
}

fn weights(p: &Params) -> RnnWeights {
    RnnWeights {
        weight_ih: p.get::<2>("weight_ih").expect("weight_ih"),
        weight_hh: p.get::<2>("weight_hh").expect("weight_hh"),
        bias_ih: p.get::<1>("bias_ih").ok(),
        bias_hh: p.get::<1>("bias_hh").ok(),
    }
}

macro_rules! rnn_layer {
    ($(#[$doc:meta])* $ty:ident, $gates:literal, |$x:ident, $h0:ident, $w:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $ty {
            hidden: usize,
        }
        impl $ty {
            /// A layer with `hidden` units.
            pub fn new(hidden: usize) -> Self {
                $ty { hidden }
            }
        }
        impl Layer for $ty {
            fn name(&self) -> String {
                format!("{}({})", stringify!($ty), self.hidden)
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                let s = single(self, inputs, 3, false)?;
                Ok(vec![vec![s[0], s[1], self.hidden]])
            }
            fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
                let s = single(self, inputs, 3, false)?;
                Ok(rnn_init($gates, s[2], self.hidden, key, device))
            }
            fn forward(&self, p: &Params, s: &Params, x: Vec<DynTensor>, _: Mode) -> (Vec<DynTensor>, Params) {
                let $x = x.into_iter().next().expect("one input").into_rank::<3>();
                let $h0 = Tensor::<2>::zeros([$x.dims()[0], self.hidden], &$x.device());
                let $w = weights(p);
                let y: Tensor<3> = $body;
                (vec![y.into()], s.clone())
            }
        }
    };
}

rnn_layer!(
    /// LSTM over a sequence (PyTorch gate order i, f, g, o; zero initial state); returns every
    /// step's hidden state. Params `weight_ih` `[I, 4H]`, `weight_hh` `[H, 4H]`, `bias_ih`, `bias_hh`.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    Lstm, 4, |x, h0, w| ops::lstm(x, h0.clone(), h0, &w).0
);
rnn_layer!(
    /// GRU over a sequence (gate order r, z, n; zero initial state); returns every step's hidden
    /// state. Params `weight_ih` `[I, 3H]`, `weight_hh` `[H, 3H]`, `bias_ih`, `bias_hh`.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    Gru, 3, |x, h0, w| ops::gru(x, h0, &w).0
);
