//! [`Lstm`] and [`Gru`]: recurrent layers over whole sequences (`duet_core::ops::{lstm, gru}`).
//!
//! Both hold `weight_ih` `[I, G*H]`, `weight_hh` `[H, G*H]`, `bias_ih`, `bias_hh` `[G*H]` directly
//! under the module's path (PyTorch's gate order, transposed to duet's `[in, out]` convention), the
//! names and layouts of duet-functional's `Lstm`/`Gru`. Init: PyTorch's `U(-1/sqrt(H), 1/sqrt(H))`
//! for all four, drawn from `rngs.params.next().split(4)` in that order (as the functional layers).

use crate::config::{param, Build};
use crate::rngs::Rngs;
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{GruConfig, LayerConfig, LstmConfig};
use duet_core::ops::{self, RnnWeights};
use duet_core::DynTensor;

macro_rules! recurrent {
    ($(#[$doc:meta])* $ty:ident, $config:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Module, Debug)]
        pub struct $ty {
            #[doc = concat!("`[I, ", $what, "]`: input-to-gates weights.")]
            pub weight_ih: Param<Tensor<2>>,
            #[doc = concat!("`[H, ", $what, "]`: hidden-to-gates weights.")]
            pub weight_hh: Param<Tensor<2>>,
            #[doc = concat!("`[", $what, "]`: input-side bias.")]
            pub bias_ih: Param<Tensor<1>>,
            #[doc = concat!("`[", $what, "]`: hidden-side bias.")]
            pub bias_hh: Param<Tensor<1>>,
        }

        impl $ty {
            /// `input` features to `hidden` units, weights from `rngs.params`.
            pub fn new(input: usize, hidden: usize, rngs: &mut Rngs, device: &Device) -> Self {
                $config::new(hidden).build(input, rngs, device)
            }

            /// The number of hidden units `H`.
            pub fn hidden(&self) -> usize {
                self.weight_hh.val().dims()[0]
            }

            /// The weights as the ops take them.
            pub fn weights(&self) -> RnnWeights {
                RnnWeights {
                    weight_ih: self.weight_ih.val(),
                    weight_hh: self.weight_hh.val(),
                    bias_ih: Some(self.bias_ih.val()),
                    bias_hh: Some(self.bias_hh.val()),
                }
            }

            fn zeros(&self, x: &Tensor<3>) -> Tensor<2> {
                Tensor::zeros([x.dims()[0], self.hidden()], &x.device())
            }
        }

        impl Build for $config {
            type Module = $ty;
            fn build(&self, d_in: usize, rngs: &mut Rngs, device: &Device) -> $ty {
                let (p, _) = self.init(d_in, rngs.params.next(), device);
                let bias = |b: Option<DynTensor>| param(b.expect("a recurrent module has biases"));
                $ty {
                    weight_ih: param(p.weight_ih),
                    weight_hh: param(p.weight_hh),
                    bias_ih: bias(p.bias_ih),
                    bias_hh: bias(p.bias_hh),
                }
            }
        }
    };
}

recurrent!(
    /// An LSTM over sequences (gates `i, f, g, o`; `c' = f c + i g`, `h' = o tanh(c')`).
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    ///
    /// # Example
    /// ```
    /// use duet_module::{Lstm, Rngs};
    /// use duet_core::burn::tensor::{Device, Tensor};
    /// let dev = Device::flex();
    /// let mut lstm = Lstm::new(3, 2, &mut Rngs::new(0), &dev);
    /// assert_eq!(lstm.forward(Tensor::<3>::ones([4, 5, 3], &dev)).dims(), [4, 5, 2]);
    /// // All-zero weights: every gate is sigmoid(0) = 0.5 and g = tanh(0) = 0, so h stays 0.
    /// lstm.weight_ih = lstm.weight_ih.map(|w| w.zeros_like());
    /// lstm.weight_hh = lstm.weight_hh.map(|w| w.zeros_like());
    /// lstm.bias_ih = lstm.bias_ih.map(|b| b.zeros_like());
    /// lstm.bias_hh = lstm.bias_hh.map(|b| b.zeros_like());
    /// let y = lstm.forward(Tensor::<3>::ones([1, 2, 3], &dev));
    /// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![0.0; 4]);
    /// ```
    Lstm, LstmConfig, "4H"
);

impl Lstm {
    /// Every step's hidden state, from a zero initial state.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h0 = self.zeros(&x);
        self.forward_with_state(x, h0.clone(), h0).0
    }

    /// Every step's hidden state and the final `(h, c)`, from `(h0, c0)`.
    ///
    /// # Shapes
    /// `x` `[B, T, I]`, `h0`, `c0` `[B, H]` -> `([B, T, H], ([B, H], [B, H]))`
    pub fn forward_with_state(
        &self,
        x: Tensor<3>,
        h0: Tensor<2>,
        c0: Tensor<2>,
    ) -> (Tensor<3>, (Tensor<2>, Tensor<2>)) {
        ops::lstm(x, h0, c0, &self.weights())
    }

    /// One step (`duet_core::ops::lstm_cell`): the new `(h, c)`.
    ///
    /// # Shapes
    /// `x` `[B, I]`, `h`, `c` `[B, H]` -> `([B, H], [B, H])`
    pub fn step(&self, x: Tensor<2>, h: Tensor<2>, c: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        ops::lstm_cell(x, h, c, &self.weights())
    }
}

recurrent!(
    /// A GRU over sequences (gates `r, z, n`; `n = tanh(x W_in + b_in + r (h W_hn + b_hn))`,
    /// `h' = (1 - z) n + z h`).
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    ///
    /// # Example
    /// ```
    /// use duet_module::{Gru, Rngs};
    /// use duet_core::burn::tensor::{Device, Tensor};
    /// let dev = Device::flex();
    /// let mut gru = Gru::new(3, 2, &mut Rngs::new(0), &dev);
    /// assert_eq!(gru.forward(Tensor::<3>::ones([4, 5, 3], &dev)).dims(), [4, 5, 2]);
    /// // All-zero weights: z = 0.5, n = tanh(0) = 0, so h' = 0.5 h: 2 -> 1 -> 0.5.
    /// gru.weight_ih = gru.weight_ih.map(|w| w.zeros_like());
    /// gru.weight_hh = gru.weight_hh.map(|w| w.zeros_like());
    /// gru.bias_ih = gru.bias_ih.map(|b| b.zeros_like());
    /// gru.bias_hh = gru.bias_hh.map(|b| b.zeros_like());
    /// let (y, h) = gru.forward_with_state(Tensor::<3>::ones([1, 2, 3], &dev), Tensor::<2>::full([1, 2], 2.0, &dev));
    /// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![1.0, 1.0, 0.5, 0.5]);
    /// assert_eq!(h.into_data().to_vec::<f32>().unwrap(), vec![0.5, 0.5]);
    /// ```
    Gru, GruConfig, "3H"
);

impl Gru {
    /// Every step's hidden state, from a zero initial state.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h0 = self.zeros(&x);
        self.forward_with_state(x, h0).0
    }

    /// Every step's hidden state and the final `h`, from `h0`.
    ///
    /// # Shapes
    /// `x` `[B, T, I]`, `h0` `[B, H]` -> `([B, T, H], [B, H])`
    pub fn forward_with_state(&self, x: Tensor<3>, h0: Tensor<2>) -> (Tensor<3>, Tensor<2>) {
        ops::gru(x, h0, &self.weights())
    }

    /// One step (`duet_core::ops::gru_cell`): the new `h`.
    ///
    /// # Shapes
    /// `x` `[B, I]`, `h` `[B, H]` -> `[B, H]`
    pub fn step(&self, x: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
        ops::gru_cell(x, h, &self.weights())
    }
}
