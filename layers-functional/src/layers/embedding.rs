//! [`Embedding`].

use super::single;
use crate::layer::{BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::{Device, Int};
use duet_core::{ops, DynTensor, Fans, Initializer, Key, Params};

/// Embedding lookup: integer ids (carried on the stack as floats) to vectors. Param `weight`
/// `[vocab, dim]`, `N(0, 1)` as PyTorch.
///
/// # Shapes
/// `[B, T]` ids -> `[B, T, dim]`
///
/// # Example
/// ```
/// use duet_functional::{Embedding, Layer};
/// assert_eq!(Embedding::new(100, 8).output_signature(&[vec![2, 5]]).unwrap(), vec![vec![2, 5, 8]]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Embedding {
    vocab: usize,
    dim: usize,
}

impl Embedding {
    /// A `vocab` x `dim` table.
    pub fn new(vocab: usize, dim: usize) -> Self {
        Embedding { vocab, dim }
    }
}

impl Layer for Embedding {
    fn name(&self) -> String {
        format!("Embedding({}, {})", self.vocab, self.dim)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 2, false)?;
        Ok(vec![vec![s[0], s[1], self.dim]])
    }
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let shape = [self.vocab, self.dim];
        let w = Initializer::Normal {
            mean: 0.0,
            std: 1.0,
        }
        .init(shape, Fans::infer(&shape), key, device);
        Ok(Init {
            params: Params::new().with("weight", w),
            state: Params::new(),
        })
    }
    fn forward(
        &self,
        p: &Params,
        s: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let ids = x
            .into_iter()
            .next()
            .expect("one input")
            .into_rank::<2>()
            .int();
        let ids: duet_core::burn::tensor::Tensor<2, Int> = ids;
        (
            vec![ops::embedding(ids, p.get::<2>("weight").expect("Embedding: weight")).into()],
            s.clone(),
        )
    }
}
