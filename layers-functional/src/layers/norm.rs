//! Normalization layers. Batch norm keeps its running statistics in the state tree.

use super::single;
use crate::layer::{BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{ops, DynTensor, Key, Params};

fn ones_zeros(n: usize, bias: bool, device: &Device) -> Params {
    let mut p = Params::new().with("weight", Tensor::<1>::ones([n], device));
    if bias {
        p.insert("bias", Tensor::<1>::zeros([n], device));
    }
    p
}

/// Batch normalization over the channel axis 1 (PyTorch's `BatchNorm1d/2d`, eps 1e-5, momentum 0.1).
///
/// Params `weight` (ones), `bias` (zeros); state `running_mean` (zeros), `running_var` (ones).
/// In [`Mode::Train`] it normalizes with batch statistics and returns updated running
/// statistics as the new state; in [`Mode::Eval`] it uses the running statistics.
///
/// # Shapes
/// `[N, C]`, `[N, C, L]` or `[N, C, H, W]` -> the same shape.
///
/// # Example
/// ```
/// use duet_functional::{BatchNorm, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let dev = Device::flex();
/// let (p, s) = BatchNorm::new().init_model(&[2, 1], Key::new(0), &dev).unwrap();
/// let x = DynTensor::from_floats(vec![1.0, 3.0], &[2, 1], &dev);
/// let (_, s2) = BatchNorm::new().apply(&p, &s, x, Mode::Train(Key::new(1)));
/// let rm = s2.get_dyn("running_mean").unwrap().to_vec()[0];
/// assert!((rm - 0.2).abs() < 1e-6); // 0.9 * 0 + 0.1 * 2
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BatchNorm {
    eps: f64,
    momentum: f64,
}

impl BatchNorm {
    /// eps 1e-5, momentum 0.1.
    pub fn new() -> Self {
        BatchNorm {
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    /// Sets eps and momentum (PyTorch convention: `new = (1 - m) old + m batch`).
    pub fn with(eps: f64, momentum: f64) -> Self {
        BatchNorm { eps, momentum }
    }
}

impl Default for BatchNorm {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for BatchNorm {
    fn name(&self) -> String {
        "BatchNorm".into()
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 2, true)?;
        if s.len() > 4 {
            return Err(BuildError::new(
                self,
                format!("expected rank 2 to 4, got {s:?}"),
            ));
        }
        Ok(inputs.to_vec())
    }
    fn init(&self, inputs: &[Shape], _: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let c = inputs[0][1];
        let state = Params::new()
            .with("running_mean", Tensor::<1>::zeros([c], device))
            .with("running_var", Tensor::<1>::ones([c], device));
        Ok(Init {
            params: ones_zeros(c, true, device),
            state,
        })
    }
    fn forward(
        &self,
        p: &Params,
        s: &Params,
        x: Vec<DynTensor>,
        mode: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let g = |t: &Params, n: &str| t.get::<1>(n).unwrap_or_else(|e| panic!("BatchNorm: {e}"));
        let (w, b, rm, rv) = (
            g(p, "weight"),
            g(p, "bias"),
            g(s, "running_mean"),
            g(s, "running_var"),
        );
        let x = x.into_iter().next().expect("one input");
        macro_rules! run {
            ($d:literal) => {{
                let x = x.into_rank::<$d>();
                if mode.is_train() {
                    let (y, st) = ops::batch_norm_train(x, w, b, rm, rv, self.momentum, self.eps);
                    let state = Params::new()
                        .with("running_mean", st.running_mean)
                        .with("running_var", st.running_var);
                    (DynTensor::from(y), state)
                } else {
                    (
                        DynTensor::from(ops::batch_norm_eval(x, w, b, rm, rv, self.eps)),
                        s.clone(),
                    )
                }
            }};
        }
        let (y, state) = match x.rank() {
            2 => run!(2),
            3 => run!(3),
            _ => run!(4),
        };
        (vec![y], state)
    }
}

/// `[rows, last]` view of `x`.
fn rows(x: DynTensor) -> (Tensor<2>, Vec<usize>) {
    let dims = x.dims();
    let last = *dims.last().expect("rank >= 1");
    let r = x.num_elements() / last;
    (x.flatten().reshape([r, last]), dims)
}

macro_rules! last_axis_norm {
    ($(#[$doc:meta])* $ty:ident, $bias:literal, |$x:ident, $p:ident, $eps:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $ty {
            eps: f64,
        }
        impl $ty {
            /// With `eps` added to the variance (PyTorch's default is 1e-5).
            pub fn new(eps: f64) -> Self {
                $ty { eps }
            }
        }
        impl Default for $ty {
            fn default() -> Self {
                Self::new(1e-5)
            }
        }
        impl Layer for $ty {
            fn name(&self) -> String {
                stringify!($ty).into()
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                single(self, inputs, 1, true)?;
                Ok(inputs.to_vec())
            }
            fn init(&self, inputs: &[Shape], _: Key, device: &Device) -> Result<Init, BuildError> {
                let s = single(self, inputs, 1, true)?;
                Ok(Init { params: ones_zeros(*s.last().expect("rank >= 1"), $bias, device), state: Params::new() })
            }
            fn forward(&self, $p: &Params, s: &Params, x: Vec<DynTensor>, _: Mode) -> (Vec<DynTensor>, Params) {
                let ($x, dims) = rows(x.into_iter().next().expect("one input"));
                let $eps = self.eps;
                let y: Tensor<2> = $body;
                (vec![DynTensor::from(y).reshape(&dims)], s.clone())
            }
        }
    };
}

last_axis_norm!(
    /// Layer normalization over the last axis; params `weight` (ones), `bias` (zeros).
    ///
    /// # Shapes
    /// `[..., F] -> [..., F]`
    LayerNorm, true, |x, p, eps| ops::layer_norm(x, p.get::<1>("weight").ok(), p.get::<1>("bias").ok(), eps)
);
last_axis_norm!(
    /// RMS normalization over the last axis; param `weight` (ones).
    ///
    /// # Shapes
    /// `[..., F] -> [..., F]`
    RmsNorm, false, |x, p, eps| ops::rms_norm(x, p.get::<1>("weight").expect("RmsNorm: weight"), eps)
);

/// Group normalization with `groups` groups over axis 1; params `weight` (ones), `bias` (zeros).
///
/// # Shapes
/// `[N, C, ...] -> [N, C, ...]`, `C % groups == 0`.
#[derive(Clone, Copy, Debug)]
pub struct GroupNorm {
    groups: usize,
    eps: f64,
}

impl GroupNorm {
    /// `groups` groups, eps 1e-5.
    pub fn new(groups: usize) -> Self {
        GroupNorm { groups, eps: 1e-5 }
    }
    /// `groups` groups and the given eps.
    pub fn with_eps(groups: usize, eps: f64) -> Self {
        GroupNorm { groups, eps }
    }
}

impl Layer for GroupNorm {
    fn name(&self) -> String {
        format!("GroupNorm({})", self.groups)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 2, true)?;
        if self.groups == 0 || s[1] % self.groups != 0 {
            return Err(BuildError::new(
                self,
                format!("{} channels do not split into {} groups", s[1], self.groups),
            ));
        }
        Ok(inputs.to_vec())
    }
    fn init(&self, inputs: &[Shape], _: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        Ok(Init {
            params: ones_zeros(inputs[0][1], true, device),
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
        let x = x.into_iter().next().expect("one input");
        let d = x.dims();
        let x3 = x
            .reshape(&[d[0], d[1], d[2..].iter().product::<usize>().max(1)])
            .into_rank::<3>();
        let (w, b) = (
            p.get::<1>("weight").expect("GroupNorm: weight"),
            p.get::<1>("bias").expect("GroupNorm: bias"),
        );
        let y = ops::group_norm(x3, self.groups, w, b, self.eps);
        (vec![DynTensor::from(y).reshape(&d)], s.clone())
    }
}
