//! [`ValForward`]: a module's forward pass on any value type ([`Val`]), so the function
//! transformations of `duet_core::transform` (jvp, Hessian-vector products, per-example
//! gradients) apply to modules too. The params are read by path through a `lift` closure,
//! typically from `module_params(&m)` paired with tangents (`DualParams::get`).

use crate::activation::{Activation, Flatten, PRelu};
use crate::conv::{Conv1d, Conv2d, ConvTranspose2d};
use crate::dropout::Dropout;
use crate::embedding::Embedding;
use crate::linear::Linear;
use crate::norm::{BatchNorm, GroupNorm, LayerNorm, RmsNorm};
use crate::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use duet_core::layers::{
    BatchNormConfig, Ctx, DropoutConfig, EmbeddingConfig, EmbeddingParams, FlattenConfig,
    GroupNormConfig, LayerConfig, LayerNormConfig, NoParams, NormParams, PReluParams,
    RmsNormConfig,
};
use duet_core::{module_state, Mode, Params, Val};

/// Reads a param of a module by its path relative to the module.
pub type Lift<'a, V> = &'a dyn Fn(&str) -> V;

/// A module's forward pass on values of any type `V` (plain tensors, `Dual` values carrying
/// tangents, `PerExample` copies), with its params read through `lift` instead of its fields.
/// Running statistics are read from the module and not updated.
///
/// Implemented by every built-in module, `Layer` and `Sequential`; implement it for a model
/// struct by calling its fields with [`sub`] (see `duet_examples::module_models::LeNet`).
///
/// # Shapes
/// As the module's `forward`.
///
/// # Example
/// The jvp of a linear layer along its weight: `x dW`.
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, layers::Dual, module_params, DynTensor, Mode};
/// use duet_module::{Linear, Rngs, ValForward};
/// let dev = Device::flex();
/// let fc = Linear::new(2, 1, &mut Rngs::new(0), &dev);
/// let p = module_params(&fc);
/// let dw = Tensor::<2>::from_floats([[1.0], [10.0]], &dev);
/// let lift = |n: &str| {
///     let value = p.get_dyn(n).unwrap().clone();
///     let tangent = (n == "weight").then(|| DynTensor::from(dw.clone()));
///     Dual { value, tangent }
/// };
/// let x = Dual::zero_tangent(DynTensor::from_floats(vec![1.0, 2.0], &[1, 2], &dev));
/// let y = fc.forward_val(&lift, x, Mode::Eval);
/// assert_eq!(y.tangent.unwrap().to_vec(), vec![21.0]); // 1 * 1 + 2 * 10
/// ```
pub trait ValForward {
    /// The forward pass on `x` with params from `lift`.
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V;
}

/// `lift` for a child module under `prefix` (`"conv1"` reads `conv1.weight` as `weight`).
pub fn sub<'a, V>(lift: Lift<'a, V>, prefix: &'a str) -> impl Fn(&str) -> V + 'a {
    move |n| lift(&format!("{prefix}.{n}"))
}

fn eval_state<C: LayerConfig, V: Val>(
    c: C,
    p: &C::Params<V>,
    x: V,
    mode: Mode,
    state: Params,
) -> V {
    let mut state = state;
    c.apply(
        p,
        x,
        &mut Ctx {
            mode,
            state: &mut state,
        },
    )
}

impl ValForward for Linear {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, _: Mode) -> V {
        x.dense(lift("weight"), self.bias.as_ref().map(|_| lift("bias")))
    }
}

impl ValForward for Conv1d {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, _: Mode) -> V {
        x.conv(
            lift("weight"),
            self.bias.as_ref().map(|_| lift("bias")),
            &self.spec,
        )
    }
}

impl ValForward for Conv2d {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, _: Mode) -> V {
        x.conv(
            lift("weight"),
            self.bias.as_ref().map(|_| lift("bias")),
            &self.spec,
        )
    }
}

impl ValForward for ConvTranspose2d {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, _: Mode) -> V {
        x.conv_transpose2d(
            lift("weight"),
            self.bias.as_ref().map(|_| lift("bias")),
            &self.spec,
        )
    }
}

impl ValForward for BatchNorm {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        let c = BatchNormConfig::new()
            .with_eps(self.eps)
            .with_momentum(self.momentum);
        let p = NormParams {
            weight: lift("weight"),
            bias: Some(lift("bias")),
        };
        eval_state(c, &p, x, mode, module_state(self))
    }
}

impl ValForward for LayerNorm {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        let p = NormParams {
            weight: lift("weight"),
            bias: Some(lift("bias")),
        };
        eval_state(
            LayerNormConfig::new().with_eps(self.eps),
            &p,
            x,
            mode,
            Params::new(),
        )
    }
}

impl ValForward for GroupNorm {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        let p = NormParams {
            weight: lift("weight"),
            bias: Some(lift("bias")),
        };
        let c = GroupNormConfig::new(self.groups).with_eps(self.eps);
        eval_state(c, &p, x, mode, Params::new())
    }
}

impl ValForward for RmsNorm {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        let p = NormParams {
            weight: lift("weight"),
            bias: None,
        };
        eval_state(
            RmsNormConfig::new().with_eps(self.eps),
            &p,
            x,
            mode,
            Params::new(),
        )
    }
}

impl ValForward for MaxPool2d {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.max_pool2d(&self.spec)
    }
}

impl ValForward for AvgPool2d {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.avg_pool2d(&self.spec, self.count_include_pad)
    }
}

impl ValForward for AdaptiveAvgPool2d {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.adaptive_avg_pool2d(self.output)
    }
}

impl ValForward for Activation {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.act(self.act)
    }
}

impl ValForward for PRelu {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        eval_state(
            self.config,
            &PReluParams {
                weight: lift("weight"),
            },
            x,
            mode,
            Params::new(),
        )
    }
}

impl ValForward for Dropout {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, mode: Mode) -> V {
        eval_state(
            DropoutConfig::new(self.p),
            &NoParams,
            x,
            mode,
            Params::new(),
        )
    }
}

impl ValForward for Flatten {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, mode: Mode) -> V {
        eval_state(FlattenConfig, &NoParams, x, mode, Params::new())
    }
}

/// Integer ids travel as float values (`x.primal()` is read as ids).
impl ValForward for Embedding {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        let [vocab, dim] = self.weight.val().dims();
        let p = EmbeddingParams {
            weight: lift("weight"),
        };
        eval_state(EmbeddingConfig::new(vocab, dim), &p, x, mode, Params::new())
    }
}
