//! [`Dense`]: `y = x @ W + b`.

use super::single;
use crate::layer::{BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::Device;
use duet_core::{ops, DynTensor, Fans, Initializer, Key, Params};

/// A dense layer with `units` outputs; the input size is inferred at init.
///
/// Params: `weight` `[in, units]`, `bias` `[units]`, both PyTorch's default
/// (`U(-1/sqrt(in), 1/sqrt(in))`) unless set with [`Dense::with_init`].
///
/// # Shapes
/// `[..., in] -> [..., units]`
///
/// # Example
/// ```
/// use duet_functional::{Dense, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let dev = Device::flex();
/// let layer = Dense::new(3);
/// let (p, s) = layer.init_model(&[2, 4], Key::new(0), &dev).unwrap();
/// assert_eq!(p.get_dyn("weight").unwrap().dims(), vec![4, 3]);
/// let (y, _) = layer.apply(&p, &s, DynTensor::zeros(&[2, 4], &dev), Mode::Eval);
/// assert_eq!(y.to_vec(), p.get_dyn("bias").unwrap().to_vec().repeat(2)); // zero input: y = b
/// ```
#[derive(Clone, Debug)]
pub struct Dense {
    units: usize,
    use_bias: bool,
    weight_init: Initializer,
    bias_init: Initializer,
}

impl Dense {
    /// A dense layer with `units` outputs and a bias.
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            use_bias: true,
            weight_init: Initializer::TorchDefault,
            bias_init: Initializer::TorchDefault,
        }
    }

    /// Without a bias.
    pub fn without_bias(mut self) -> Self {
        self.use_bias = false;
        self
    }

    /// Other initializers for the weight and the bias.
    pub fn with_init(mut self, weight: Initializer, bias: Initializer) -> Self {
        self.weight_init = weight;
        self.bias_init = bias;
        self
    }
}

impl Layer for Dense {
    fn name(&self) -> String {
        format!("Dense({})", self.units)
    }

    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 1, true)?;
        let mut out = s.clone();
        *out.last_mut().expect("rank >= 1") = self.units;
        Ok(vec![out])
    }

    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        let s = single(self, inputs, 1, true)?;
        let shape = [*s.last().expect("rank >= 1"), self.units];
        let fans = Fans::linear(&shape);
        let [kw, kb] = key.split2();
        let mut params =
            Params::new().with("weight", self.weight_init.init(shape, fans, kw, device));
        if self.use_bias {
            params.insert("bias", self.bias_init.init([self.units], fans, kb, device));
        }
        Ok(Init {
            params,
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
        let w = p.get::<2>("weight").expect("Dense: weight");
        let b = self
            .use_bias
            .then(|| p.get::<1>("bias").expect("Dense: bias"));
        let x = x.into_iter().next().expect("one input");
        let y: DynTensor = match x.rank() {
            2 => ops::dense(x.into_rank::<2>(), w, b).into(),
            3 => ops::dense(x.into_rank::<3>(), w, b).into(),
            _ => {
                let mut dims = x.dims();
                let inp = *dims.last().expect("rank >= 1");
                let rows = x.num_elements() / inp;
                let y = ops::dense(x.flatten().reshape([rows, inp]), w, b);
                *dims.last_mut().expect("rank >= 1") = self.units;
                DynTensor::from(y).reshape(&dims)
            }
        };
        (vec![y], s.clone())
    }
}
