//! [`Dropout`], pooling modules, [`MultiHeadAttention`], [`Lstm`], [`Gru`].

use crate::linear::Linear;
use crate::rngs::Rngs;
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::ops::{self, AttentionMask, PoolSpec, QkvProjection, RnnWeights};
use duet_core::{Fans, Initializer, Mode};

/// Inverted dropout with probability `p`; the mask comes from the [`Mode::Train`] key (pass
/// `rngs.dropout.next()` per step), identity in [`Mode::Eval`].
///
/// # Shapes
/// Output shape = input shape.
#[derive(Module, Debug)]
pub struct Dropout {
    /// Drop probability.
    #[module(skip)]
    pub p: f64,
}

impl Dropout {
    /// Drops with probability `p`.
    pub fn new(p: f64) -> Self {
        Dropout { p }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, mode: Mode) -> Tensor<D> {
        ops::dropout(x, self.p, mode.key())
    }
}

/// Max pooling (weightless).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, H_out, W_out]`
#[derive(Module, Debug)]
pub struct MaxPool2d {
    /// Window.
    #[module(skip)]
    pub spec: PoolSpec,
}

impl MaxPool2d {
    /// A `k` x `k` window with stride `k`.
    pub fn new(k: usize) -> Self {
        MaxPool2d {
            spec: PoolSpec::new(k),
        }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, C, H_out, W_out]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::max_pool2d(x, &self.spec)
    }
}

/// Average pooling (weightless; counts padding as PyTorch's default).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, H_out, W_out]`
#[derive(Module, Debug)]
pub struct AvgPool2d {
    /// Window.
    #[module(skip)]
    pub spec: PoolSpec,
}

impl AvgPool2d {
    /// A `k` x `k` window with stride `k`.
    pub fn new(k: usize) -> Self {
        AvgPool2d {
            spec: PoolSpec::new(k),
        }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, C, H_out, W_out]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::avg_pool2d(x, &self.spec, true)
    }
}

/// Multi-head attention with separate projections `q_proj`, `k_proj`, `v_proj`, `out_proj`.
///
/// # Shapes
/// `query [B, Tq, E]`, `key`/`value` `[B, Tk, E]` -> `[B, Tq, E]`
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    /// Query projection.
    pub q_proj: Linear,
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Output projection.
    pub out_proj: Linear,
    /// Number of heads.
    #[module(skip)]
    pub heads: usize,
}

impl MultiHeadAttention {
    /// `heads` heads over `embed` features.
    pub fn new(embed: usize, heads: usize, rngs: &mut Rngs, device: &Device) -> Self {
        let mut lin = || Linear::new(embed, embed, rngs, device);
        MultiHeadAttention {
            q_proj: lin(),
            k_proj: lin(),
            v_proj: lin(),
            out_proj: lin(),
            heads,
        }
    }

    /// Attends `query` to `key`/`value`.
    ///
    /// # Shapes
    /// `[B, Tq, E]`, `[B, Tk, E]`, `[B, Tk, E]` -> `[B, Tq, E]`
    pub fn forward(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: &AttentionMask,
    ) -> Tensor<3> {
        let p = |l: &Linear| (l.weight.val(), l.bias.as_ref().map(|b| b.val()));
        let proj = QkvProjection::Separate {
            q: p(&self.q_proj),
            k: p(&self.k_proj),
            v: p(&self.v_proj),
        };
        let (ow, ob) = p(&self.out_proj);
        ops::multi_head_attention(query, key, value, &proj, ow, ob, self.heads, mask)
    }
}

/// The weights of a recurrent layer: `weight_ih` `[I, G*H]`, `weight_hh` `[H, G*H]`, biases `[G*H]`.
#[derive(Module, Debug)]
pub struct Recurrent {
    /// `[I, G*H]`.
    pub weight_ih: Param<Tensor<2>>,
    /// `[H, G*H]`.
    pub weight_hh: Param<Tensor<2>>,
    /// `[G*H]`.
    pub bias_ih: Param<Tensor<1>>,
    /// `[G*H]`.
    pub bias_hh: Param<Tensor<1>>,
}

impl Recurrent {
    fn new(gates: usize, input: usize, hidden: usize, rngs: &mut Rngs, device: &Device) -> Self {
        let b = 1.0 / (hidden as f32).sqrt();
        let u = Initializer::Uniform { low: -b, high: b };
        let g = gates * hidden;
        let k = rngs.params.next().split(4);
        Recurrent {
            weight_ih: Param::from_tensor(u.init(
                [input, g],
                Fans::linear(&[input, g]),
                k[0],
                device,
            )),
            weight_hh: Param::from_tensor(u.init(
                [hidden, g],
                Fans::linear(&[hidden, g]),
                k[1],
                device,
            )),
            bias_ih: Param::from_tensor(u.init([g], Fans::infer(&[g]), k[2], device)),
            bias_hh: Param::from_tensor(u.init([g], Fans::infer(&[g]), k[3], device)),
        }
    }
    fn weights(&self) -> RnnWeights {
        RnnWeights {
            weight_ih: self.weight_ih.val(),
            weight_hh: self.weight_hh.val(),
            bias_ih: Some(self.bias_ih.val()),
            bias_hh: Some(self.bias_hh.val()),
        }
    }
    fn hidden(&self) -> usize {
        self.weight_hh.val().dims()[0]
    }
}

/// An LSTM over sequences (PyTorch gate order, zero initial state); see `duet_core::ops::lstm`.
///
/// # Shapes
/// `[B, T, I] -> [B, T, H]`
#[derive(Module, Debug)]
pub struct Lstm {
    /// The weights (`weight_ih`, ... directly under the module's path).
    pub cell: Recurrent,
}

impl Lstm {
    /// `input` to `hidden` features.
    pub fn new(input: usize, hidden: usize, rngs: &mut Rngs, device: &Device) -> Self {
        Lstm {
            cell: Recurrent::new(4, input, hidden, rngs, device),
        }
    }

    /// Every step's hidden state.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h0 = Tensor::<2>::zeros([x.dims()[0], self.cell.hidden()], &x.device());
        ops::lstm(x, h0.clone(), h0, &self.cell.weights()).0
    }
}

/// A GRU over sequences (gate order r, z, n, zero initial state); see `duet_core::ops::gru`.
///
/// # Shapes
/// `[B, T, I] -> [B, T, H]`
#[derive(Module, Debug)]
pub struct Gru {
    /// The weights.
    pub cell: Recurrent,
}

impl Gru {
    /// `input` to `hidden` features.
    pub fn new(input: usize, hidden: usize, rngs: &mut Rngs, device: &Device) -> Self {
        Gru {
            cell: Recurrent::new(3, input, hidden, rngs, device),
        }
    }

    /// Every step's hidden state.
    ///
    /// # Shapes
    /// `[B, T, I] -> [B, T, H]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h0 = Tensor::<2>::zeros([x.dims()[0], self.cell.hidden()], &x.device());
        ops::gru(x, h0, &self.cell.weights()).0
    }
}
