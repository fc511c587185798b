//! [`Sequential`]: a list of layers for the simple cases, with PyTorch's index paths.

use crate::conv::Conv2d;
use crate::linear::Linear;
use crate::misc::{Dropout, MaxPool2d};
use crate::norm::BatchNorm;
use duet_core::burn::module::Module;
use duet_core::{ops, DynTensor, Mode};

/// A weightless activation or reshape inside a [`Sequential`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `sigmoid(x)`.
    Sigmoid,
    /// `[N, ...] -> [N, prod(...)]`.
    Flatten,
}

/// A weightless step, as a module with no parameters.
#[derive(Module, Debug)]
pub struct Weightless {
    /// What it computes.
    #[module(skip)]
    pub op: Op,
}

/// One layer of a [`Sequential`].
#[derive(Module, Debug)]
pub enum Layer {
    /// A dense layer (rank-2 input).
    Linear(Linear),
    /// A 2-D convolution.
    Conv2d(Conv2d),
    /// Batch normalization.
    BatchNorm(BatchNorm),
    /// Max pooling.
    MaxPool2d(MaxPool2d),
    /// Dropout.
    Dropout(Dropout),
    /// An activation or flatten.
    Op(Weightless),
}

impl From<Op> for Layer {
    fn from(op: Op) -> Self {
        Layer::Op(Weightless { op })
    }
}

/// Layers applied in order. Child `i`'s params live under `i` (weightless layers keep their
/// index), as in PyTorch's `nn.Sequential` and duet-functional's `Serial`.
///
/// # Shapes
/// Whatever the layers chain to; each checks its input's rank.
///
/// # Example
/// ```
/// use duet_module::{Linear, Mode, Op, Rngs, Sequential};
/// use duet_core::{burn::tensor::Device, module_params, DynTensor};
/// let dev = Device::flex();
/// let mut r = Rngs::new(0);
/// let mlp = Sequential::new(vec![Linear::new(4, 8, &mut r, &dev).into(), Op::Relu.into(), Linear::new(8, 2, &mut r, &dev).into()]);
/// assert_eq!(module_params(&mlp).paths(), vec!["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
/// let y = mlp.forward(DynTensor::zeros(&[3, 4], &dev), Mode::Eval);
/// assert_eq!(y.dims(), vec![3, 2]);
/// ```
#[derive(Module, Debug)]
pub struct Sequential {
    /// The layers.
    pub layers: Vec<Layer>,
}

impl From<Linear> for Layer {
    fn from(l: Linear) -> Self {
        Layer::Linear(l)
    }
}
impl From<Conv2d> for Layer {
    fn from(l: Conv2d) -> Self {
        Layer::Conv2d(l)
    }
}
impl From<BatchNorm> for Layer {
    fn from(l: BatchNorm) -> Self {
        Layer::BatchNorm(l)
    }
}
impl From<MaxPool2d> for Layer {
    fn from(l: MaxPool2d) -> Self {
        Layer::MaxPool2d(l)
    }
}
impl From<Dropout> for Layer {
    fn from(l: Dropout) -> Self {
        Layer::Dropout(l)
    }
}

impl Sequential {
    /// The layers, in order.
    pub fn new(layers: Vec<Layer>) -> Self {
        Sequential { layers }
    }

    /// Runs every layer; child `i` gets `mode.child(i)` (its own dropout key).
    ///
    /// # Shapes
    /// As the layers chain.
    pub fn forward(&self, x: DynTensor, mode: Mode) -> DynTensor {
        run(&self.layers, x, mode)
    }
}

/// Runs `layers` in order; layer `i` gets `mode.child(i)`. A model field of type `Vec<Layer>`
/// named `features` has PyTorch's paths `features.0.weight`, ... (a [`Sequential`] field adds
/// `layers.` in between).
///
/// # Shapes
/// As the layers chain.
pub fn run(layers: &[Layer], x: DynTensor, mode: Mode) -> DynTensor {
    layers
        .iter()
        .enumerate()
        .fold(x, |x, (i, l)| l.forward(x, mode.child(i)))
}

impl Layer {
    /// Runs one layer on a rank-erased tensor.
    ///
    /// # Shapes
    /// Linear: `[N, in]`; conv, pool: `[N, C, H, W]`; batch norm `[N, C, ...]`; the rest any.
    pub fn forward(&self, x: DynTensor, mode: Mode) -> DynTensor {
        match self {
            Layer::Linear(l) => l.forward(x.into_rank::<2>()).into(),
            Layer::Conv2d(l) => l.forward(x.into_rank::<4>()).into(),
            Layer::MaxPool2d(l) => l.forward(x.into_rank::<4>()).into(),
            Layer::BatchNorm(l) => match x.rank() {
                2 => l.forward(x.into_rank::<2>(), mode).into(),
                3 => l.forward(x.into_rank::<3>(), mode).into(),
                _ => l.forward(x.into_rank::<4>(), mode).into(),
            },
            Layer::Dropout(l) => x.map_flat(|t| l.forward(t, mode)),
            Layer::Op(w) => match w.op {
                Op::Relu => x.map_flat(ops::activation::relu),
                Op::Tanh => x.map_flat(ops::activation::tanh),
                Op::Sigmoid => x.map_flat(ops::activation::sigmoid),
                Op::Flatten => {
                    let d = x.dims();
                    x.reshape(&[d[0], d[1..].iter().product()])
                }
            },
        }
    }
}
