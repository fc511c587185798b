//! One definition per layer family, shared by both front-ends.
//!
//! A layer is a *config* ([`LayerConfig`]): its hyper-parameters with documented defaults, the
//! only parameter-initialisation code of the family (`init`), and the maths (`apply`), written
//! once against [`Val`] so that values other than plain tensors can flow through it.
//! `duet-functional` wraps a config as a `Layer` (shape inference, the params tree);
//! `duet-module` holds the config's params as module fields.
//!
//! Params are typed structs over the value type ([`ParamTree`]), read from and written to a
//! [`Params`] tree by leaf name (`weight`, `bias`, `q_proj.weight`, ...).

mod activation;
mod attention;
mod conv;
mod dense;
mod dual;
mod dual_act;
mod losses;
mod misc;
mod norm;
mod norm_ops;
pub(crate) mod per_example;
mod pool;
mod recurrent;
mod val;

pub use activation::*;
pub use attention::*;
pub use conv::*;
pub use dense::*;
pub use dual::Dual;
pub use losses::{bce_with_logits, cross_entropy, huber, l1, mse};
pub use misc::*;
pub use norm::*;
pub use norm_ops::*;
pub use per_example::PerExample;
pub use pool::*;
pub use recurrent::*;
pub use val::Val;

use crate::{DynTensor, Key, Mode, Params};
use burn::tensor::Device;
use std::fmt;

/// A leaf a [`ParamTree`] needs is not in the tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("missing parameter `{0}`")]
pub struct MissingParam(pub String);

/// A layer's params as a struct over the value type, read and written by leaf name.
pub trait ParamTree<V>: Sized {
    /// Reads every leaf through `get` (by its dotted name).
    ///
    /// # Errors
    /// The first required leaf `get` does not have.
    fn read(get: &mut dyn FnMut(&str) -> Option<V>) -> Result<Self, MissingParam>;
    /// Hands every present leaf to `put` with its dotted name.
    fn write(self, put: &mut dyn FnMut(&str, V));
}

/// Declares a params struct over a value type `V` and its [`ParamTree`] impl. Fields are
/// `leaf name: V` (required), `opt name: Option<V>` (optional) or `sub name: Struct<V>` (nested
/// under `name.`).
///
/// # Example
/// ```
/// use duet_core::layers::{DenseParams, ParamTree};
/// duet_core::param_tree! {
///     /// Two projections.
///     pub struct Pair { sub a: DenseParams<V>, leaf scale: V }
/// }
/// let mut names = Vec::new();
/// Pair { a: DenseParams { weight: 1.0f32, bias: None }, scale: 2.0 }.write(&mut |n, _| names.push(n.to_string()));
/// assert_eq!(names, ["a.weight", "scale"]);
/// ```
#[macro_export]
macro_rules! param_tree {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $kind:ident $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name<V> {
            $($(#[$fm])* #[doc = concat!("The `", stringify!($field), "` leaf.")] pub $field: $ty,)*
        }
        impl<V> $crate::layers::ParamTree<V> for $name<V> {
            fn read(get: &mut dyn FnMut(&str) -> Option<V>) -> Result<Self, $crate::layers::MissingParam> {
                Ok($name { $($field: $crate::param_tree!(@read $kind get $field $ty),)* })
            }
            fn write(self, put: &mut dyn FnMut(&str, V)) {
                $($crate::param_tree!(@write $kind put self.$field, $field);)*
            }
        }
    };
    (@read leaf $get:ident $f:ident $ty:ty) => {
        $get(stringify!($f)).ok_or_else(|| $crate::layers::MissingParam(stringify!($f).into()))?
    };
    (@read opt $get:ident $f:ident $ty:ty) => { $get(stringify!($f)) };
    (@read sub $get:ident $f:ident $ty:ty) => {
        <$ty as $crate::layers::ParamTree<V>>::read(&mut |p: &str| $get(&format!("{}.{p}", stringify!($f))))
            .map_err(|e| $crate::layers::MissingParam(format!("{}.{}", stringify!($f), e.0)))?
    };
    (@write leaf $put:ident $v:expr, $f:ident) => { $put(stringify!($f), $v) };
    (@write opt $put:ident $v:expr, $f:ident) => { if let Some(v) = $v { $put(stringify!($f), v) } };
    (@write sub $put:ident $v:expr, $f:ident) => {
        $crate::layers::ParamTree::write($v, &mut |p: &str, v| $put(&format!("{}.{p}", stringify!($f)), v))
    };
}

/// The params of a weightless layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoParams;

impl<V> ParamTree<V> for NoParams {
    fn read(_: &mut dyn FnMut(&str) -> Option<V>) -> Result<Self, MissingParam> {
        Ok(NoParams)
    }
    fn write(self, _: &mut dyn FnMut(&str, V)) {}
}

/// Reads typed params from a tree (tensor handles are cloned, no data moves).
///
/// # Errors
/// The first missing leaf.
pub fn from_params<P: ParamTree<DynTensor>>(tree: &Params) -> Result<P, MissingParam> {
    P::read(&mut |n| tree.get_dyn(n).ok().cloned())
}

/// Writes typed params into a tree.
pub fn to_params<P: ParamTree<DynTensor>>(p: P) -> Params {
    let mut tree = Params::new();
    p.write(&mut |n, t| tree.insert(n, t));
    tree
}

/// What `apply` gets besides params and input: the mode and the layer's state (batch norm's
/// running statistics; empty otherwise), which it may replace.
pub struct Ctx<'a> {
    /// Train (with a key) or eval.
    pub mode: Mode,
    /// This layer's state tree.
    pub state: &'a mut Params,
}

/// One layer family's definition: hyper-parameters, initialisation and maths.
pub trait LayerConfig: Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The layer's kind, the key of the PyTorch layout adapter: `"linear"`, `"conv2d"`, ...
    const KIND: &'static str;
    /// Whether [`crate::transform::per_example_grads`] can run the layer: each example's output
    /// depends on that example alone, and its params (if any) are a dense or 2-D convolution
    /// weight and bias, whose per-example gradients [`PerExample`] forms. `false` (the default)
    /// makes the functional layers return [`crate::transform::Unsupported`] there.
    const PER_EXAMPLE: bool = false;
    /// The params, over a value type.
    type Params<V: Val>: ParamTree<V> + Clone;
    /// A short description, e.g. `Dense(120)`.
    fn name(&self) -> String;
    /// The size the params depend on (last axis, axis 1, or 0 for weightless layers).
    ///
    /// # Errors
    /// Why the input shape does not fit.
    fn input_size(&self, input: &[usize]) -> Result<usize, String>;
    /// The output shape for an input shape, without computing anything.
    ///
    /// # Errors
    /// Why the input shape does not fit.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String>;
    /// The family's initialisation: params and state for input size `d_in`.
    fn init(&self, d_in: usize, key: Key, device: &Device) -> (Self::Params<DynTensor>, Params);
    /// Runs the layer.
    ///
    /// # Shapes
    /// `x`: an input `output_shape` accepts -> the shape it returns.
    fn apply<V: Val>(&self, p: &Self::Params<V>, x: V, cx: &mut Ctx<'_>) -> V;
}

/// Checks the rank of `input`: exactly `rank`, or at least `rank` when `at_least`.
pub(crate) fn check_rank(input: &[usize], rank: usize, at_least: bool) -> Result<(), String> {
    let ok = if at_least {
        input.len() >= rank
    } else {
        input.len() == rank
    };
    if ok {
        return Ok(());
    }
    let want = if at_least {
        format!("rank >= {rank}")
    } else {
        format!("rank {rank}")
    };
    Err(format!("expected an input of {want}, got shape {input:?}"))
}
