//! [`Conv1d`], [`Conv2d`], [`ConvTranspose2d`]: modules built from `duet_core`'s conv configs
//! (the only conv init code). `bias` is optional (`with_bias(false)` on the config); its path is
//! unchanged, so older checkpoints load.

use crate::config::{param, Build};
use crate::rngs::Rngs;
use crate::val_forward::{Lift, ValForward};
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{Conv1dConfig, Conv2dConfig, ConvTranspose2dConfig, LayerConfig};
use duet_core::ops::{self, ConvSpec, ConvTransposeSpec};
use duet_core::{Mode, Val};

macro_rules! conv_module {
    ($(#[$doc:meta])* $ty:ident, $config:ident, $spec:ty, $rank:literal, $w:literal, $op:path) => {
        $(#[$doc])*
        #[derive(Module, Debug)]
        pub struct $ty {
            #[doc = $w]
            pub weight: Param<Tensor<$rank>>,
            /// `[out]`, if the config has a bias.
            pub bias: Option<Param<Tensor<1>>>,
            /// Stride, padding, dilation, groups.
            #[module(skip)]
            pub spec: $spec,
        }

        impl $ty {
            /// `inputs` to `outputs` channels with a `kernel`-sized window and the config's
            /// defaults (stride 1, no padding); other settings through
            #[doc = concat!("`", stringify!($config), "::new(outputs, kernel).with_spec(..).build(inputs, ..)`.")]
            pub fn new(inputs: usize, outputs: usize, kernel: usize, rngs: &mut Rngs, device: &Device) -> Self {
                $config::new(outputs, kernel).build(inputs, rngs, device)
            }

            /// Applies the layer.
            ///
            /// # Shapes
            #[doc = concat!("`Tensor<", stringify!($rank), ">` `[N, in, ..] -> [N, out, ..]`")]
            pub fn forward(&self, x: Tensor<$rank>) -> Tensor<$rank> {
                $op(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()), &self.spec)
            }
        }

        impl Build for $config {
            type Module = $ty;
            fn build(&self, d_in: usize, rngs: &mut Rngs, device: &Device) -> $ty {
                let (p, _) = self.init(d_in, rngs.params.next(), device);
                $ty { weight: param(p.weight), bias: p.bias.map(param), spec: self.spec }
            }
        }
    };
}

conv_module!(
    /// 2-D convolution: `weight` `[out, in/groups, k, k]`, `bias` `[out]` (see `duet_core::ops::conv2d`).
    ///
    /// # Shapes
    /// `[N, in, H, W] -> [N, out, H_out, W_out]`
    ///
    /// # Example
    /// ```
    /// use duet_module::{Conv2d, Rngs};
    /// use duet_core::burn::tensor::{Device, Tensor};
    /// let dev = Device::flex();
    /// let c = Conv2d::new(3, 6, 5, &mut Rngs::new(0), &dev);
    /// assert_eq!(c.forward(Tensor::<4>::zeros([2, 3, 32, 32], &dev)).dims(), [2, 6, 28, 28]);
    /// ```
    Conv2d, Conv2dConfig, ConvSpec, 4, "`[out, in/groups, k, k]`.", ops::conv2d
);
conv_module!(
    /// 1-D convolution over `[N, C, L]`: `weight` `[out, in/groups, k]`, `bias` `[out]` (see
    /// `duet_core::ops::conv1d`).
    ///
    /// # Shapes
    /// `[N, in, L] -> [N, out, L_out]`
    Conv1d, Conv1dConfig, ConvSpec, 3, "`[out, in/groups, k]`.", ops::conv1d
);
conv_module!(
    /// 2-D transposed convolution: `weight` `[in, out/groups, k, k]`, `bias` `[out]` (see
    /// `duet_core::ops::conv_transpose2d`).
    ///
    /// # Shapes
    /// `[N, in, H, W] -> [N, out, H_out, W_out]`
    ConvTranspose2d, ConvTranspose2dConfig, ConvTransposeSpec, 4, "`[in, out/groups, k, k]`.", ops::conv_transpose2d
);

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
