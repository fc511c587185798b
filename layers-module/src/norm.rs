//! [`BatchNorm`], [`LayerNorm`], [`GroupNorm`], [`RmsNorm`].

use duet_core::burn::module::{Module, Param, RunningState};
use duet_core::burn::tensor::{Device, Tensor};
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
        BatchNorm {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            eps: 1e-5,
            momentum: 0.1,
        }
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
        LayerNorm {
            weight: Param::from_tensor(Tensor::ones([features], device)),
            bias: Param::from_tensor(Tensor::zeros([features], device)),
            eps: 1e-5,
        }
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
    /// `groups` groups over `channels` channels, eps 1e-5.
    pub fn new(groups: usize, channels: usize, device: &Device) -> Self {
        GroupNorm {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            groups,
            eps: 1e-5,
        }
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
        RmsNorm {
            weight: Param::from_tensor(Tensor::ones([features], device)),
            eps: 1e-5,
        }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[..., F] -> [..., F]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        ops::rms_norm(x, self.weight.val(), self.eps)
    }
}
