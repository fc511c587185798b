//! [`DenseConfig`]: `y = x @ W + b`.

use super::{check_rank, Ctx, LayerConfig, Val};
use crate::{DynTensor, Fans, Initializer, Key, Params};
use burn::tensor::Device;

crate::param_tree! {
    /// A dense layer's params: `weight` `[in, units]`, `bias` `[units]` (optional).
    pub struct DenseParams { leaf weight: V, opt bias: Option<V> }
}

/// A dense (fully connected) layer with `units` outputs; the input size comes from the input.
///
/// Defaults: a bias; weight and bias PyTorch's default init (`U(-1/sqrt(in), 1/sqrt(in))`).
///
/// # Shapes
/// `[..., in] -> [..., units]`
///
/// # Example
/// ```
/// use duet_core::layers::{DenseConfig, LayerConfig};
/// use duet_core::{burn::tensor::Device, Key};
/// let c = DenseConfig::new(3);
/// assert_eq!(c.output_shape(&[2, 4]).unwrap(), vec![2, 3]);
/// let (p, _) = c.init(4, Key::new(0), &Device::flex());
/// assert_eq!((p.weight.dims(), p.bias.unwrap().dims()), (vec![4, 3], vec![3]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[doc(alias = "Linear")]
pub struct DenseConfig {
    /// Output features.
    pub units: usize,
    /// Whether there is a bias (default true).
    pub bias: bool,
    /// The weight's initializer (default `TorchDefault`).
    pub weight_init: Initializer,
    /// The bias's initializer (default `TorchDefault`).
    pub bias_init: Initializer,
}

impl DenseConfig {
    /// `units` outputs, with the defaults.
    pub fn new(units: usize) -> Self {
        DenseConfig {
            units,
            bias: true,
            weight_init: Initializer::TorchDefault,
            bias_init: Initializer::TorchDefault,
        }
    }
    /// With or without a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Without a bias.
    pub fn without_bias(self) -> Self {
        self.with_bias(false)
    }
    /// Other initializers for the weight and the bias.
    pub fn with_init(mut self, weight: Initializer, bias: Initializer) -> Self {
        self.weight_init = weight;
        self.bias_init = bias;
        self
    }
}

impl LayerConfig for DenseConfig {
    const KIND: &'static str = "linear";
    const PER_EXAMPLE: bool = true;
    type Params<V: Val> = DenseParams<V>;

    fn name(&self) -> String {
        format!("Dense({})", self.units)
    }
    fn input_size(&self, input: &[usize]) -> Result<usize, String> {
        check_rank(input, 1, true)?;
        Ok(input[input.len() - 1])
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(input, 1, true)?;
        let mut out = input.to_vec();
        *out.last_mut().expect("rank >= 1") = self.units;
        Ok(out)
    }
    fn init(&self, d_in: usize, key: Key, device: &Device) -> (DenseParams<DynTensor>, Params) {
        let shape = [d_in, self.units];
        let fans = Fans::linear(&shape);
        let [kw, kb] = key.split2();
        let weight = self.weight_init.init(shape, fans, kw, device).into();
        let bias = self
            .bias
            .then(|| self.bias_init.init([self.units], fans, kb, device).into());
        (DenseParams { weight, bias }, Params::new())
    }
    fn apply<V: Val>(&self, p: &DenseParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        x.dense(p.weight.clone(), p.bias.clone())
    }
}
