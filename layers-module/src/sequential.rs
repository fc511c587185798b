//! [`Sequential`]: a list of [`Layer`]s for the simple cases, with PyTorch's index paths.

use crate::val_forward::{sub, Lift, ValForward};
use crate::*;
use duet_core::burn::module::{
    Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor,
};
use duet_core::burn::tensor::Device;
use duet_core::{DynTensor, Mode, Val};

/// Runs `$f` on `$x` at its rank (1 to 6) and erases the rank again.
macro_rules! by_rank {
    ($x:expr, |$t:ident| $f:expr) => {
        match $x.rank() {
            1 => {
                let $t = $x.into_rank::<1>();
                DynTensor::from($f)
            }
            2 => {
                let $t = $x.into_rank::<2>();
                DynTensor::from($f)
            }
            3 => {
                let $t = $x.into_rank::<3>();
                DynTensor::from($f)
            }
            4 => {
                let $t = $x.into_rank::<4>();
                DynTensor::from($f)
            }
            5 => {
                let $t = $x.into_rank::<5>();
                DynTensor::from($f)
            }
            _ => {
                let $t = $x.into_rank::<6>();
                DynTensor::from($f)
            }
        }
    };
}

/// The enum of built-in layers, its `From` impls and its forward pass, from one list: a new
/// layer is one line here (its type, its doc and how it runs on a rank-erased tensor).
macro_rules! catalog {
    ($($(#[doc = $doc:literal])* $ty:ident => |$l:ident, $x:ident, $mode:ident| $run:expr),* $(,)?) => {
        /// One layer of a [`Sequential`]: any of duet's single-input layers. An enum variant adds no
        /// path segment, so layer `i`'s params are at `i.weight`, ... (`Layer` is itself a burn module).
        #[derive(Module, Debug)]
        pub enum Layer {
            $($(#[doc = $doc])* $ty($ty),)*
        }

        $(impl From<$ty> for Layer {
            fn from(l: $ty) -> Self {
                Layer::$ty(l)
            }
        })*

        impl Layer {
            /// Runs one layer on a rank-erased tensor; `mode` is this layer's own (see
            /// [`Sequential::forward`]).
            ///
            /// # Shapes
            /// Linear, layer/RMS norm, activations, dropout: any rank; conv1d `[N, C, L]`; conv2d,
            /// pooling `[N, C, H, W]`; batch/group norm `[N, C, ...]`; flatten `[N, ...] -> [N, prod]`.
            #[allow(unused_variables)]
            pub fn forward(&self, x: DynTensor, mode: Mode) -> DynTensor {
                match self {
                    $(Layer::$ty($l) => {
                        let ($x, $mode) = (x, mode);
                        $run
                    })*
                }
            }
        }

        impl ValForward for Layer {
            fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
                match self {
                    $(Layer::$ty(l) => l.forward_val(lift, x, mode),)*
                }
            }
        }
    };
}

catalog! {
    /// [`Linear`] on the last axis.
    Linear => |l, x, mode| by_rank!(x, |t| l.forward(t)),
    /// [`Conv1d`], `[N, C, L]`.
    Conv1d => |l, x, mode| l.forward(x.into_rank::<3>()).into(),
    /// [`Conv2d`], `[N, C, H, W]`.
    Conv2d => |l, x, mode| l.forward(x.into_rank::<4>()).into(),
    /// [`ConvTranspose2d`], `[N, C, H, W]`.
    ConvTranspose2d => |l, x, mode| l.forward(x.into_rank::<4>()).into(),
    /// [`BatchNorm`] over axis 1 (params and running state).
    BatchNorm => |l, x, mode| by_rank!(x, |t| l.forward(t, mode)),
    /// [`LayerNorm`] over the last axis.
    LayerNorm => |l, x, mode| by_rank!(x, |t| l.forward(t)),
    /// [`GroupNorm`], `[N, C, ...]`.
    GroupNorm => |l, x, mode| by_rank!(x, |t| l.forward(t)),
    /// [`RmsNorm`] over the last axis.
    RmsNorm => |l, x, mode| by_rank!(x, |t| l.forward(t)),
    /// [`MaxPool2d`].
    MaxPool2d => |l, x, mode| l.forward(x.into_rank::<4>()).into(),
    /// [`AvgPool2d`].
    AvgPool2d => |l, x, mode| l.forward(x.into_rank::<4>()).into(),
    /// [`AdaptiveAvgPool2d`].
    AdaptiveAvgPool2d => |l, x, mode| l.forward(x.into_rank::<4>()).into(),
    /// [`Dropout`] (keyed by the mode).
    Dropout => |l, x, mode| x.map_flat(|t| l.forward(t, mode)),
    /// An [`Activation`].
    Activation => |l, x, mode| by_rank!(x, |t| l.forward(t)),
    /// [`PRelu`] (learned slopes).
    PRelu => |l, x, mode| l.forward_dyn(x),
    /// [`Flatten`].
    Flatten => |l, x, mode| {
        let d = x.dims();
        x.reshape(&[d[0], d[1..].iter().product()])
    },
}

impl From<Act> for Layer {
    fn from(act: Act) -> Self {
        Layer::Activation(Activation::new(act))
    }
}

/// Layers applied in order. Child `i`'s params live under `i` (weightless layers keep their
/// index), as in PyTorch's `nn.Sequential` and duet-functional's `Serial`: a model field
/// `features: Sequential` has paths `features.0.weight`, `features.3.bias`, ...
///
/// `Sequential` implements burn's `Module` by hand (delegating to its `Vec<Layer>`) so that the
/// list adds no `layers` segment to the paths.
///
/// # Shapes
/// Whatever the layers chain to; each checks its input's rank.
///
/// # Example
/// ```
/// use duet_module::{Act, Linear, Mode, Rngs, Sequential};
/// use duet_core::{burn::tensor::{Device, Tensor}, module_params, DynTensor};
/// let dev = Device::flex();
/// let mut r = Rngs::new(0);
/// let mut mlp = Sequential::new(vec![
///     Linear::new(2, 2, &mut r, &dev).into(),
///     Act::Relu.into(),
///     Linear::new(2, 1, &mut r, &dev).into(),
/// ]);
/// assert_eq!(module_params(&mlp).paths(), vec!["0.weight", "0.bias", "2.weight", "2.bias"]);
/// // Known weights: relu([1, -1] @ I + 0) = [1, 0]; [1, 0] @ [[2], [3]] + 1 = 3.
/// let tree = duet_core::Params::new()
///     .with("0.weight", Tensor::<2>::eye(2, &dev))
///     .with("0.bias", Tensor::<1>::zeros([2], &dev))
///     .with("2.weight", Tensor::<2>::from_floats([[2.0], [3.0]], &dev))
///     .with("2.bias", Tensor::<1>::ones([1], &dev));
/// mlp = duet_core::load_module_params(mlp, &tree).unwrap();
/// let y = mlp.forward(Tensor::<2>::from_floats([[1.0, -1.0]], &dev).into(), Mode::Eval);
/// assert_eq!(y.to_vec(), vec![3.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Sequential {
    /// The layers.
    pub layers: Vec<Layer>,
}

impl Sequential {
    /// The layers, in order.
    pub fn new(layers: Vec<Layer>) -> Self {
        Sequential { layers }
    }

    /// Runs every layer; layer `i` gets `mode.child(i)` (its own dropout key, as the functional
    /// `Serial` hands out), so the same key gives the same masks in both APIs.
    ///
    /// # Shapes
    /// As the layers chain.
    pub fn forward(&self, x: DynTensor, mode: Mode) -> DynTensor {
        self.layers
            .iter()
            .enumerate()
            .fold(x, |x, (i, l)| l.forward(x, mode.child(i)))
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn collect_devices(&self, devices: Devices) -> Devices {
        self.layers.collect_devices(devices)
    }

    fn fork(self, device: &Device) -> Self {
        Sequential::new(self.layers.fork(device))
    }

    fn to_device(self, device: &Device) -> Self {
        Sequential::new(self.layers.to_device(device))
    }

    fn train(self) -> Self {
        Sequential::new(self.layers.train())
    }

    fn valid(&self) -> Self {
        Sequential::new(self.layers.valid())
    }

    fn materialize(self) -> Self {
        Sequential::new(self.layers.materialize())
    }

    fn num_params(&self) -> usize {
        Module::num_params(&self.layers)
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        for (i, l) in self.layers.iter().enumerate() {
            let name = i.to_string();
            visitor.enter_module(&name, "Struct:Sequential");
            l.visit(visitor);
            visitor.exit_module(&name, "Struct:Sequential");
        }
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let layers = self
            .layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let name = i.to_string();
                mapper.enter_module(&name, "Struct:Sequential");
                let l = l.map(mapper);
                mapper.exit_module(&name, "Struct:Sequential");
                l
            })
            .collect();
        Sequential::new(layers)
    }
}

impl ModuleDisplayDefault for Sequential {
    fn content(&self, content: Content) -> Option<Content> {
        self.layers
            .iter()
            .enumerate()
            .fold(content, |acc, (i, l)| acc.add(&i.to_string(), l))
            .set_top_level_type("Sequential")
            .optional()
    }
}

impl ModuleDisplay for Sequential {}

/// Layer `i` reads its params under `i.`, as in the module's own paths.
impl ValForward for Sequential {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        self.layers.iter().enumerate().fold(x, |x, (i, l)| {
            let prefix = i.to_string();
            let child = sub(lift, &prefix);
            l.forward_val(&child, x, mode.child(i))
        })
    }
}
