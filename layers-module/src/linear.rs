//! [`Linear`]: a dense layer (`duet_core::ops::dense`).

use crate::config::{param, Build};
use crate::rngs::Rngs;
use crate::val_forward::{Lift, ValForward};
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{DenseConfig, LayerConfig};
use duet_core::ops;
use duet_core::{Mode, Val};

/// A dense layer `y = x @ W + b`: `weight` `[in, out]` (duet's layout, the transpose of
/// PyTorch's), `bias` `[out]`. Init: PyTorch's default, `U(-1/sqrt(in), 1/sqrt(in))` for both,
/// the weight from `k.split2()[0]` and the bias from `k.split2()[1]` of `k = rngs.params.next()`.
///
/// # Shapes
/// `[..., in] -> [..., out]`
///
/// # Example
/// ```
/// use duet_module::{Linear, Rngs};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let fc = Linear::new(4, 3, &mut Rngs::new(0), &dev);
/// let y = fc.forward(Tensor::<2>::zeros([2, 4], &dev));
/// assert_eq!(y.dims(), [2, 3]);
/// // Zero input: the output is the bias.
/// assert_eq!(y.slice([0..1, 0..3]).into_data(), fc.bias.as_ref().unwrap().val().reshape([1, 3]).into_data());
/// // Known weights: [1, 2] @ [[1, 0], [0, 1]] + [0.5, 0.5] = [1.5, 2.5].
/// let mut fc = Linear::new(2, 2, &mut Rngs::new(0), &dev);
/// fc.weight = fc.weight.map(|w| Tensor::eye(2, &w.device()));
/// fc.bias = fc.bias.map(|b| b.map(|b| b.ones_like() * 0.5));
/// let y = fc.forward(Tensor::<2>::from_floats([[1.0, 2.0]], &dev));
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![1.5, 2.5]);
/// ```
#[derive(Module, Debug)]
#[doc(alias = "Dense")]
pub struct Linear {
    /// `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// `inputs` to `outputs` features with a bias, weights drawn from `rngs.params`.
    pub fn new(inputs: usize, outputs: usize, rngs: &mut Rngs, device: &Device) -> Self {
        DenseConfig::new(outputs).build(inputs, rngs, device)
    }

    /// Applies the layer (`duet_core::ops::dense`).
    ///
    /// # Shapes
    /// `[..., in] -> [..., out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        ops::dense(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }
}

impl Build for DenseConfig {
    type Module = Linear;
    fn build(&self, d_in: usize, rngs: &mut Rngs, device: &Device) -> Linear {
        let (p, _) = self.init(d_in, rngs.params.next(), device);
        Linear {
            weight: param(p.weight),
            bias: p.bias.map(param),
        }
    }
}

impl ValForward for Linear {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, _: Mode) -> V {
        x.dense(lift("weight"), self.bias.as_ref().map(|_| lift("bias")))
    }
}
