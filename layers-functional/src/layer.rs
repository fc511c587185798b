//! The layer contract: a layer describes a computation and owns no weights.

use crate::values::Values;
use duet_core::burn::tensor::Device;
use duet_core::layers::{to_params, Ctx, Dual, LayerConfig, ParamTree, PerExample};
use duet_core::transform::{DualParams, PerExampleParams, Unsupported};
use duet_core::{DynTensor, Key, Params};
use std::fmt;

/// A tensor shape, e.g. `vec![128, 3, 32, 32]`.
pub type Shape = Vec<usize>;

pub use duet_core::Mode;

/// A model that cannot be built: the error names the layer's path and kind.
///
/// Displayed as "`features.3` (Conv2d): expected 64 input channels, got 32".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct BuildError {
    /// Dotted path of the failing layer (empty for the outermost layer).
    pub path: String,
    /// The failing layer's name.
    pub layer: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "<model>"
        } else {
            &self.path
        };
        write!(f, "`{path}` ({}): {}", self.layer, self.message)
    }
}

impl BuildError {
    /// An error raised by `layer` itself.
    pub fn new(layer: &dyn Layer, message: impl Into<String>) -> Self {
        BuildError {
            path: String::new(),
            layer: layer.name(),
            message: message.into(),
        }
    }

    /// The same error seen from a parent that names this child `segment`.
    pub fn within(mut self, segment: &str) -> Self {
        self.path = if self.path.is_empty() {
            segment.to_string()
        } else {
            format!("{segment}.{}", self.path)
        };
        self
    }
}

/// The weights and state a layer's `init` creates.
#[derive(Clone, Debug, Default)]
pub struct Init {
    /// Trainable parameters.
    pub params: Params,
    /// Non-trainable state (batch-norm running statistics).
    pub state: Params,
}

/// A layer: `init` creates weights from an input signature and a key; `forward` is a pure
/// function of (params, state, inputs, mode).
///
/// A layer takes `n_in` tensors and returns `n_out` (Trax's data stack). Counts and shapes are
/// checked when the model is built (`output_signature`/`init`), with errors naming the path.
pub trait Layer: Send + Sync {
    /// A short description, e.g. `Dense(120)`.
    fn name(&self) -> String;

    /// The number of inputs taken from the stack.
    fn n_in(&self) -> usize {
        1
    }

    /// The number of outputs pushed onto the stack.
    fn n_out(&self) -> usize {
        1
    }

    /// The output shapes for these input shapes, without computing anything.
    ///
    /// # Errors
    /// A [`BuildError`] naming the layer when the inputs do not fit.
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError>;

    /// Creates the params and state for these input shapes. Weightless layers keep the default,
    /// which only checks the signature.
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        let _ = (key, device);
        self.output_signature(inputs)?;
        Ok(Init::default())
    }

    /// Runs the layer. Returns the outputs and the new state (the input state in eval mode).
    ///
    /// # Shapes
    /// `inputs.len() == n_in()`; the result has `n_out()` tensors with the shapes
    /// `output_signature` promises.
    fn forward(
        &self,
        params: &Params,
        state: &Params,
        inputs: Vec<DynTensor>,
        mode: Mode,
    ) -> (Vec<DynTensor>, Params);

    /// Forward mode: the layer on values carrying tangents (`params.tangent` holds the params'
    /// tangents; missing ones are zero). Returns the outputs with their tangents, and the new
    /// state. Every built-in layer and combinator has it; see [`duet_core::transform`].
    ///
    /// # Shapes
    /// As [`forward`](Self::forward), for values and tangents alike.
    ///
    /// # Errors
    /// [`Unsupported`] naming a layer without a forward-mode rule (a custom [`crate::Fn`]).
    fn forward_jvp(
        &self,
        params: &DualParams,
        state: &Params,
        inputs: Vec<Dual<DynTensor>>,
        mode: Mode,
    ) -> Result<(Vec<Dual<DynTensor>>, Params), Unsupported> {
        let _ = (params, state, inputs, mode);
        Err(Unsupported {
            op: self.name(),
            transform: "jvp",
        })
    }

    /// Per-example gradients: the layer on [`PerExample`] values, its params read from `params`
    /// (tapped: the dense and 2-D convolution layers that use them record what each example's
    /// gradient needs). Returns the outputs and the new state. Run a whole model this way inside
    /// [`duet_core::transform::per_example_grads`], which does the backward pass. Every built-in
    /// combinator has it, and the layers that act on each example alone: dense and 2-D
    /// convolution (whose params get per-example gradients), activations, pooling, dropout,
    /// flatten, the merge and stack layers, cross-entropy with `Reduction::None`.
    ///
    /// # Shapes
    /// As [`forward`](Self::forward); axis 0 of every activation is the batch.
    ///
    /// # Errors
    /// [`Unsupported`] naming a layer without a per-example rule: one with other params (a norm's
    /// scale, an embedding, attention), one that mixes examples (batch norm), a custom
    /// [`crate::Fn`], [`crate::OnDevice`].
    ///
    /// # Example
    /// Each example's gradient of `(w x_n)^2 / 2` with `w = 3` is `w x_n^2`.
    /// ```
    /// use duet_functional::{serial, Dense, Layer, LayerExt, Mode};
    /// use duet_core::{burn::tensor::Device, layers::PerExample, transform::per_example_grads, DynTensor, Key, Params, Val};
    /// let dev = Device::flex();
    /// let model = serial!["fc" => Dense::new(1).without_bias()];
    /// let (p, s) = model.init_model(&[2, 1], Key::new(0), &dev).unwrap();
    /// let p = p.map(|w| w.zeros_like() + 3.0);
    /// let x = PerExample::plain(DynTensor::from_floats(vec![1.0, 2.0], &[2, 1], &dev));
    /// let (_, g) = per_example_grads(|p| {
    ///     let (y, _) = model.forward_per_example(p, &s, vec![x.clone()], Mode::Eval).unwrap();
    ///     y[0].clone().square().scale(0.5)
    /// }, &p, 2);
    /// assert_eq!(g.get_dyn("fc.weight").unwrap().to_vec(), vec![3.0, 12.0]);
    /// ```
    fn forward_per_example(
        &self,
        params: &PerExampleParams,
        state: &Params,
        inputs: Vec<PerExample>,
        mode: Mode,
    ) -> Result<(Vec<PerExample>, Params), Unsupported> {
        let _ = (params, state, inputs, mode);
        Err(Unsupported {
            op: self.name(),
            transform: "per_example_grads",
        })
    }

    /// The sublayers with their names and the input shapes each sees, for summaries.
    /// Leaf layers return nothing; combinators list their children.
    fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
        let _ = inputs;
        Vec::new()
    }

    /// The PyTorch-adapter kind of a layer defined by a `duet_core` config
    /// ([`LayerConfig::KIND`]: `"linear"`, `"conv2d"`, ...); `None` for combinators and others.
    fn kind(&self) -> Option<&'static str> {
        None
    }
}

impl fmt::Debug for dyn Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Checks that exactly `n` input shapes were given.
pub(crate) fn expect_inputs(layer: &dyn Layer, inputs: &[Shape]) -> Result<(), BuildError> {
    if inputs.len() != layer.n_in() {
        return Err(BuildError::new(
            layer,
            format!("takes {} input(s), got {}", layer.n_in(), inputs.len()),
        ));
    }
    Ok(())
}

/// Extension methods on every layer: build and run a whole model.
pub trait LayerExt: Layer {
    /// Builds params and state for a model with a single input of shape `input`.
    ///
    /// # Errors
    /// The first layer that does not fit, by path.
    fn init_model(
        &self,
        input: &[usize],
        key: Key,
        device: &Device,
    ) -> Result<(Params, Params), BuildError> {
        let init = self.init(&[input.to_vec()], key, device)?;
        Ok((init.params, init.state))
    }

    /// Runs a single-input, single-output model.
    ///
    /// # Shapes
    /// `x`: the model's input shape -> its output shape.
    fn apply(
        &self,
        params: &Params,
        state: &Params,
        x: DynTensor,
        mode: Mode,
    ) -> (DynTensor, Params) {
        let (mut ys, s) = self.forward(params, state, vec![x], mode);
        assert_eq!(
            ys.len(),
            1,
            "{}: apply() needs a single output, got {}",
            self.name(),
            ys.len()
        );
        (ys.pop().expect("one output"), s)
    }
}

impl<L: Layer + ?Sized> LayerExt for L {}

impl<L: Layer + ?Sized> Layer for Box<L> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn n_in(&self) -> usize {
        (**self).n_in()
    }
    fn n_out(&self) -> usize {
        (**self).n_out()
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        (**self).output_signature(inputs)
    }
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        (**self).init(inputs, key, device)
    }
    fn forward(
        &self,
        params: &Params,
        state: &Params,
        inputs: Vec<DynTensor>,
        mode: Mode,
    ) -> (Vec<DynTensor>, Params) {
        (**self).forward(params, state, inputs, mode)
    }
    fn forward_jvp(
        &self,
        params: &DualParams,
        state: &Params,
        inputs: Vec<Dual<DynTensor>>,
        mode: Mode,
    ) -> Result<(Vec<Dual<DynTensor>>, Params), Unsupported> {
        (**self).forward_jvp(params, state, inputs, mode)
    }
    fn forward_per_example(
        &self,
        params: &PerExampleParams,
        state: &Params,
        inputs: Vec<PerExample>,
        mode: Mode,
    ) -> Result<(Vec<PerExample>, Params), Unsupported> {
        (**self).forward_per_example(params, state, inputs, mode)
    }
    fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
        (**self).expand(inputs)
    }
    fn kind(&self) -> Option<&'static str> {
        (**self).kind()
    }
}

/// [`Layer::output_signature`] of a config layer: one input, the config's output shape.
pub(crate) fn config_signature<C: LayerConfig + Layer>(
    c: &C,
    inputs: &[Shape],
) -> Result<Vec<Shape>, BuildError> {
    expect_inputs(c, inputs)?;
    let out = c.output_shape(&inputs[0]);
    Ok(vec![out.map_err(|m| BuildError::new(c, m))?])
}

/// [`Layer::init`] of a config layer: the config's (only) initialisation, as trees.
pub(crate) fn config_init<C: LayerConfig + Layer>(
    c: &C,
    inputs: &[Shape],
    key: Key,
    device: &Device,
) -> Result<Init, BuildError> {
    config_signature(c, inputs)?;
    let d_in = c
        .input_size(&inputs[0])
        .map_err(|m| BuildError::new(c, m))?;
    let (params, state) = LayerConfig::init(c, d_in, key, device);
    Ok(Init {
        params: to_params(params),
        state,
    })
}

/// A config layer's run on values of kind `F`: typed params from the view, then the config's
/// maths. A layer with params that `F` does not admit ([`Values::admits`]) is [`Unsupported`].
pub(crate) fn config_run<C: LayerConfig + Layer, F: Values>(
    c: &C,
    params: &F::P,
    state: &Params,
    inputs: Vec<F::V>,
    mode: Mode,
) -> Result<(Vec<F::V>, Params), Unsupported> {
    let mut found = 0;
    let p = C::Params::<F::V>::read(&mut |n| {
        let v = F::param(params, n);
        found += usize::from(v.is_some());
        v
    })
    .unwrap_or_else(|e| panic!("{}: no param `{}`", Layer::name(c), e.0));
    if found > 0 && !F::admits::<C>() {
        return Err(Unsupported {
            op: Layer::name(c),
            transform: F::TRANSFORM,
        });
    }
    let mut state = state.clone();
    let x = inputs.into_iter().next().expect("one input");
    let y = c.apply(
        &p,
        x,
        &mut Ctx {
            mode,
            state: &mut state,
        },
    );
    Ok((vec![y], state))
}

/// Implements [`Layer`] for `duet_core` layer configs by delegating to [`LayerConfig`]. (A
/// blanket impl over every `LayerConfig` would overlap `impl Layer for Box<L>`.)
macro_rules! config_layer {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::layer::Layer for $t {
            fn name(&self) -> String {
                duet_core::layers::LayerConfig::name(self)
            }
            fn output_signature(
                &self,
                inputs: &[$crate::layer::Shape],
            ) -> Result<Vec<$crate::layer::Shape>, $crate::layer::BuildError> {
                $crate::layer::config_signature(self, inputs)
            }
            fn init(
                &self,
                inputs: &[$crate::layer::Shape],
                key: duet_core::Key,
                device: &duet_core::burn::tensor::Device,
            ) -> Result<$crate::layer::Init, $crate::layer::BuildError> {
                $crate::layer::config_init(self, inputs, key, device)
            }
            $crate::values::forward_via_run!();
            fn kind(&self) -> Option<&'static str> {
                Some(<$t as duet_core::layers::LayerConfig>::KIND)
            }
        }
        impl $crate::values::Runs for $t {
            fn run<F: $crate::values::Values>(
                &self,
                p: &F::P,
                s: &duet_core::Params,
                x: Vec<F::V>,
                mode: $crate::layer::Mode,
            ) -> Result<(Vec<F::V>, duet_core::Params), duet_core::transform::Unsupported> {
                $crate::layer::config_run::<$t, F>(self, p, s, x, mode)
            }
        }
    )*};
}
pub(crate) use config_layer;
