//! [`Embedding`]: a lookup table (`duet_core::ops::embedding`).

use crate::config::{param, Build};
use crate::rngs::Rngs;
use crate::val_forward::{eval_state, Lift, ValForward};
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::layers::EmbeddingParams;
use duet_core::layers::{EmbeddingConfig, LayerConfig};
use duet_core::ops;
use duet_core::{Mode, Params, Val};

/// An embedding table `weight` `[vocab, dim]`: `y[b, t] = weight[ids[b, t]]`. Init `N(0, 1)` as
/// PyTorch, from `rngs.params.next()`.
///
/// # Shapes
/// `[B, T]` ids -> `[B, T, dim]`
///
/// # Example
/// ```
/// use duet_module::{Embedding, Rngs};
/// use duet_core::burn::tensor::{Device, Int, Tensor};
/// let dev = Device::flex();
/// let mut emb = Embedding::new(3, 2, &mut Rngs::new(0), &dev);
/// emb.weight = emb.weight.map(|_| Tensor::from_floats([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]], &dev));
/// let y = emb.forward(Tensor::<2, Int>::from_ints([[2, 0]], &dev));
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![2.0, 2.5, 0.0, 0.5]);
/// ```
#[derive(Module, Debug)]
pub struct Embedding {
    /// `[vocab, dim]`.
    pub weight: Param<Tensor<2>>,
}

impl Embedding {
    /// A `vocab` x `dim` table.
    pub fn new(vocab: usize, dim: usize, rngs: &mut Rngs, device: &Device) -> Self {
        EmbeddingConfig::new(vocab, dim).build(0, rngs, device)
    }

    /// Looks up `ids` (ids outside `0..vocab` are not checked on the host).
    ///
    /// # Shapes
    /// `[B, T] -> [B, T, dim]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        ops::embedding(ids, self.weight.val())
    }
}

impl Build for EmbeddingConfig {
    type Module = Embedding;
    fn build(&self, d_in: usize, rngs: &mut Rngs, device: &Device) -> Embedding {
        let (p, _) = self.init(d_in, rngs.params.next(), device);
        Embedding {
            weight: param(p.weight),
        }
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
