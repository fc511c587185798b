//! [`Linear`] and [`Embedding`].

use crate::rngs::Rngs;
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::{ops, Fans, Initializer};

/// A dense layer `y = x @ W + b`: `weight` `[in, out]`, `bias` `[out]`, PyTorch's default init.
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
/// ```
#[derive(Module, Debug)]
pub struct Linear {
    /// `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// `inputs` to `outputs` features with a bias, weights drawn from `rngs.params`.
    pub fn new(inputs: usize, outputs: usize, rngs: &mut Rngs, device: &Device) -> Self {
        let [kw, kb] = rngs.params.next().split2();
        let fans = Fans::linear(&[inputs, outputs]);
        Linear {
            weight: Param::from_tensor(Initializer::TorchDefault.init(
                [inputs, outputs],
                fans,
                kw,
                device,
            )),
            bias: Some(Param::from_tensor(Initializer::TorchDefault.init(
                [outputs],
                fans,
                kb,
                device,
            ))),
        }
    }

    /// Applies the layer (`duet_core::ops::dense`).
    ///
    /// # Shapes
    /// `[..., in] -> [..., out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        ops::dense(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }
}

/// An embedding table `weight` `[vocab, dim]`, `N(0, 1)` as PyTorch.
///
/// # Shapes
/// `[B, T]` ids -> `[B, T, dim]`
#[derive(Module, Debug)]
pub struct Embedding {
    /// `[vocab, dim]`.
    pub weight: Param<Tensor<2>>,
}

impl Embedding {
    /// A `vocab` x `dim` table.
    pub fn new(vocab: usize, dim: usize, rngs: &mut Rngs, device: &Device) -> Self {
        let w = Initializer::Normal {
            mean: 0.0,
            std: 1.0,
        }
        .init(
            [vocab, dim],
            Fans::infer(&[vocab, dim]),
            rngs.params.next(),
            device,
        );
        Embedding {
            weight: Param::from_tensor(w),
        }
    }

    /// Looks up `ids`.
    ///
    /// # Shapes
    /// `[B, T] -> [B, T, dim]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        ops::embedding(ids, self.weight.val())
    }
}
