//! [`BatchNorm`], [`LayerNorm`], [`GroupNorm`], [`RmsNorm`].

use crate::config::{param, Build};
use crate::rngs::Rngs;
use crate::val_forward::{eval_state, Lift, ValForward};
use duet_core::burn::module::{Module, Param, RunningState};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::NormParams;
use duet_core::layers::{
    BatchNormConfig, GroupNormConfig, LayerConfig, LayerNormConfig, RmsNormConfig,
};
use duet_core::{module_state, Params, Val};
use duet_core::{ops, Mode};

/// Batch normalization over channel axis 1 (eps 1e-5, momentum 0.1, PyTorch's convention).
///
/// Params `weight`, `bias`; state `running_mean`, `running_var` (burn `RunningState`s, so they
/// are updated in place by a training forward pass and are never trained).
///
/// # Shapes
/// `[N, C, ...] -> [N, C, ...]`
///
/// # Example
/// ```
/// use duet_module::BatchNorm;
/// use duet_core::{burn::tensor::{Device, Tensor}, Key, Mode};
/// let dev = Device::flex();
/// let bn = BatchNorm::new(1, &dev);
/// let y = bn.forward(Tensor::<2>::from_floats([[1.0], [3.0]], &dev), Mode::Train(Key::new(0)));
/// assert!((y.into_data().to_vec::<f32>().unwrap()[1] - 1.0).abs() < 1e-4);
/// let rm = bn.running_mean.value().into_scalar::<f32>();
/// assert!((rm - 0.2).abs() < 1e-6); // 0.9 * 0 + 0.1 * 2
/// ```
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale `[C]`.
    pub weight: Param<Tensor<1>>,
    /// Shift `[C]`.
    pub bias: Param<Tensor<1>>,
    /// Running mean `[C]` (state).
    pub running_mean: RunningState<Tensor<1>>,
    /// Running variance `[C]` (state).
    pub running_var: RunningState<Tensor<1>>,
    /// Added to the variance.
    #[module(skip)]
    pub eps: f64,
    /// Weight of the new batch in the running statistics.
    #[module(skip)]
    pub momentum: f64,
}

impl BatchNorm {
    /// For `channels` channels: weight 1, bias 0, running mean 0, running variance 1.
    pub fn new(channels: usize, device: &Device) -> Self {
        BatchNormConfig::new().build(channels, &mut Rngs::new(0), device)
    }

    /// Normalizes with batch statistics (and updates the running ones) in training, with the
    /// running statistics in evaluation.
    ///
    /// # Shapes
    /// `[N, C, ...] -> [N, C, ...]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>, mode: Mode) -> Tensor<D> {
        let (w, b, rm, rv) = (
            self.weight.val(),
            self.bias.val(),
            self.running_mean.value(),
            self.running_var.value(),
        );
        if mode.is_train() {
            let (y, s) = ops::batch_norm_train(x, w, b, rm, rv, self.momentum, self.eps);
            // `update` then `value_sync` stores the new value at once (burn's running state would
            // otherwise expose it one update late to visitors and checkpoints).
            self.running_mean.update(s.running_mean);
            self.running_var.update(s.running_var);
            let _ = (
                self.running_mean.value_sync(),
                self.running_var.value_sync(),
            );
            y
        } else {
            ops::batch_norm_eval(x, w, b, rm, rv, self.eps)
        }
    }
}

/// Layer normalization over the last axis: `weight`, `bias` `[F]`.
///
/// # Shapes
/// `[..., F] -> [..., F]`
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// `[F]`.
    pub weight: Param<Tensor<1>>,
    /// `[F]`.
    pub bias: Param<Tensor<1>>,
    /// Added to the variance.
    #[module(skip)]
    pub eps: f64,
}

impl LayerNorm {
    /// For `features` features, eps 1e-5.
    pub fn new(features: usize, device: &Device) -> Self {
        LayerNormConfig::new().build(features, &mut Rngs::new(0), device)
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[..., F] -> [..., F]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        ops::layer_norm(x, Some(self.weight.val()), Some(self.bias.val()), self.eps)
    }
}

/// Group normalization: `weight`, `bias` `[C]`.
///
/// # Shapes
/// `[N, C, ...] -> [N, C, ...]`
#[derive(Module, Debug)]
pub struct GroupNorm {
    /// `[C]`.
    pub weight: Param<Tensor<1>>,
    /// `[C]`.
    pub bias: Param<Tensor<1>>,
    /// Number of groups.
    #[module(skip)]
    pub groups: usize,
    /// Added to the variance.
    #[module(skip)]
    pub eps: f64,
}

impl GroupNorm {
    /// `channels` channels in `groups` groups, eps 1e-5 (the input size first, as every module).
    pub fn new(channels: usize, groups: usize, device: &Device) -> Self {
        GroupNormConfig::new(groups).build(channels, &mut Rngs::new(0), device)
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[N, C, ...] -> [N, C, ...]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        ops::group_norm(x, self.groups, self.weight.val(), self.bias.val(), self.eps)
    }
}

/// RMS normalization over the last axis: `weight` `[F]`.
///
/// # Shapes
/// `[..., F] -> [..., F]`
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// `[F]`.
    pub weight: Param<Tensor<1>>,
    /// Added to the mean square.
    #[module(skip)]
    pub eps: f64,
}

impl RmsNorm {
    /// For `features` features, eps 1e-5.
    pub fn new(features: usize, device: &Device) -> Self {
        RmsNormConfig::new().build(features, &mut Rngs::new(0), device)
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[..., F] -> [..., F]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        ops::rms_norm(x, self.weight.val(), self.eps)
    }
}

impl Build for BatchNormConfig {
    type Module = BatchNorm;
    fn build(&self, c: usize, rngs: &mut Rngs, device: &Device) -> BatchNorm {
        let (p, s) = self.init(c, rngs.params.next(), device);
        let stat = |n: &str| RunningState::new(s.get::<1>(n).expect("batch-norm state"));
        BatchNorm {
            weight: param(p.weight),
            bias: param(p.bias.expect("batch norm has a bias")),
            running_mean: stat("running_mean"),
            running_var: stat("running_var"),
            eps: self.eps,
            momentum: self.momentum,
        }
    }
}

impl Build for LayerNormConfig {
    type Module = LayerNorm;
    fn build(&self, f: usize, rngs: &mut Rngs, device: &Device) -> LayerNorm {
        let (p, _) = self.init(f, rngs.params.next(), device);
        LayerNorm {
            weight: param(p.weight),
            bias: param(p.bias.expect("a layer-norm module has a bias")),
            eps: self.eps,
        }
    }
}

impl Build for GroupNormConfig {
    type Module = GroupNorm;
    fn build(&self, c: usize, rngs: &mut Rngs, device: &Device) -> GroupNorm {
        let (p, _) = self.init(c, rngs.params.next(), device);
        GroupNorm {
            weight: param(p.weight),
            bias: param(p.bias.expect("group norm has a bias")),
            groups: self.groups,
            eps: self.eps,
        }
    }
}

impl Build for RmsNormConfig {
    type Module = RmsNorm;
    fn build(&self, f: usize, rngs: &mut Rngs, device: &Device) -> RmsNorm {
        let (p, _) = self.init(f, rngs.params.next(), device);
        RmsNorm {
            weight: param(p.weight),
            eps: self.eps,
        }
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
