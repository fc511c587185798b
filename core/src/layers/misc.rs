//! [`DropoutConfig`], [`FlattenConfig`] and [`EmbeddingConfig`].

use super::pool::weightless;
use super::{check_rank, Ctx, LayerConfig, NoParams, Val};
use crate::ops::dropout_mask;
use crate::{DynTensor, Fans, Initializer, Key, Params};
use burn::tensor::{Device, Int, Tensor};

/// Inverted dropout: in train mode each element is zeroed with probability `p` and the rest
/// scaled by `1 / (1 - p)` (the mode's key draws the mask); the identity in eval mode.
///
/// # Shapes
/// Any shape, unchanged.
///
/// # Example
/// ```
/// use duet_core::layers::DropoutConfig;
/// assert_eq!(DropoutConfig::new(0.5).p, 0.5);
/// assert!(DropoutConfig::try_new(1.0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DropoutConfig {
    /// The drop probability, in `[0, 1)`.
    pub p: f64,
}

impl DropoutConfig {
    /// Drops with probability `p`, or why `p` is not in `[0, 1)`.
    ///
    /// # Errors
    /// `p` outside `[0, 1)`.
    pub fn try_new(p: f64) -> Result<Self, String> {
        if (0.0..1.0).contains(&p) {
            Ok(DropoutConfig { p })
        } else {
            Err(format!("Dropout: p = {p} must be in [0, 1)"))
        }
    }
    /// Drops with probability `p`. Panics if `p` is not in `[0, 1)`.
    pub fn new(p: f64) -> Self {
        Self::try_new(p).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl LayerConfig for DropoutConfig {
    fn name(&self) -> String {
        format!("Dropout({})", self.p)
    }
    const KIND: &'static str = "dropout";
    const PER_EXAMPLE: bool = true;
    type Params<V: Val> = NoParams;
    fn input_size(&self, input: &[usize]) -> Result<usize, String> {
        check_rank(input, 1, true).map(|_| 0)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(input, 1, true).map(|_| input.to_vec())
    }
    fn init(&self, _: usize, _: Key, _: &Device) -> (NoParams, Params) {
        (NoParams, Params::new())
    }
    fn apply<V: Val>(&self, _: &NoParams, x: V, cx: &mut Ctx<'_>) -> V {
        let dims = x.dims();
        match dropout_mask(&dims, self.p, cx.mode.key()) {
            Some(mask) => {
                let mask = DynTensor::from_floats(mask, &dims, &x.device());
                x.mul(V::constant(mask))
            }
            None => x,
        }
    }
}

/// Flattens every axis after the batch axis (C, H, W order, as PyTorch's `flatten(1)`).
///
/// # Shapes
/// `[N, ...] -> [N, prod(...)]`
///
/// # Example
/// ```
/// use duet_core::layers::{FlattenConfig, LayerConfig};
/// assert_eq!(FlattenConfig.output_shape(&[8, 16, 5, 5]).unwrap(), vec![8, 400]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlattenConfig;

impl LayerConfig for FlattenConfig {
    fn name(&self) -> String {
        "Flatten".into()
    }
    weightless!(
        "flatten",
        |c, s| {
            let _ = c;
            check_rank(s, 2, true).map(|_| vec![s[0], s[1..].iter().product()])
        },
        |c, x| {
            let _ = c;
            let d = x.dims();
            x.reshape(&[d[0], d[1..].iter().product()])
        }
    );
}

crate::param_tree! {
    /// An embedding's params: `weight` `[vocab, dim]`.
    pub struct EmbeddingParams { leaf weight: V }
}

/// Embedding lookup: integer ids (carried as floats in the value) to vectors. Default init
/// `N(0, 1)`, as PyTorch.
///
/// # Shapes
/// `[B, T]` ids -> `[B, T, dim]`
///
/// # Example
/// ```
/// use duet_core::layers::{EmbeddingConfig, LayerConfig};
/// assert_eq!(EmbeddingConfig::new(100, 8).output_shape(&[2, 5]).unwrap(), vec![2, 5, 8]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddingConfig {
    /// The number of ids.
    pub vocab: usize,
    /// The vectors' size.
    pub dim: usize,
    /// The table's initializer (default `Normal(0, 1)`).
    pub init: Initializer,
}

impl EmbeddingConfig {
    /// A `vocab` x `dim` table.
    pub fn new(vocab: usize, dim: usize) -> Self {
        let init = Initializer::Normal {
            mean: 0.0,
            std: 1.0,
        };
        EmbeddingConfig { vocab, dim, init }
    }
    /// Another initializer for the table.
    pub fn with_init(mut self, init: Initializer) -> Self {
        self.init = init;
        self
    }
}

impl LayerConfig for EmbeddingConfig {
    const KIND: &'static str = "embedding";
    type Params<V: Val> = EmbeddingParams<V>;

    fn name(&self) -> String {
        format!("Embedding({}, {})", self.vocab, self.dim)
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        check_rank(s, 2, false).map(|_| 0)
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, 2, false).map(|_| vec![s[0], s[1], self.dim])
    }
    fn init(&self, _: usize, key: Key, device: &Device) -> (EmbeddingParams<DynTensor>, Params) {
        let shape = [self.vocab, self.dim];
        let weight = self
            .init
            .init(shape, Fans::infer(&shape), key, device)
            .into();
        (EmbeddingParams { weight }, Params::new())
    }
    fn apply<V: Val>(&self, p: &EmbeddingParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        let ids: Tensor<2, Int> = x.primal().clone().into_rank::<2>().int();
        V::embedding(ids, p.weight.clone())
    }
}
