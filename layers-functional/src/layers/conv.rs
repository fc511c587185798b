//! [`Conv1d`], [`Conv2d`], [`ConvTranspose2d`]: input channels inferred at init.

use super::single;
use crate::layer::{BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::Device;
use duet_core::ops::{self, ConvSpec, ConvTransposeSpec, Padding};
use duet_core::{DynTensor, Fans, Initializer, Key, Params};

fn conv_init(shape: &[usize], fans: Fans, bias: Option<usize>, key: Key, device: &Device) -> Init {
    let [kw, kb] = key.split2();
    let w = Initializer::TorchDefault.sample(shape, fans, kw);
    let mut params = Params::new().with("weight", DynTensor::from_floats(w, shape, device));
    if let Some(n) = bias {
        params.insert(
            "bias",
            Initializer::TorchDefault.init([n], fans, kb, device),
        );
    }
    Init {
        params,
        state: Params::new(),
    }
}

macro_rules! conv_layer {
    ($(#[$doc:meta])* $ty:ident, $rank:literal, $k:literal, $name:literal, $op:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty {
            filters: usize,
            kernel: usize,
            spec: ConvSpec,
            use_bias: bool,
        }

        impl $ty {
            /// `filters` output channels, a `kernel`-sized window, stride 1, no padding.
            pub fn new(filters: usize, kernel: usize) -> Self {
                $ty { filters, kernel, spec: ConvSpec::default(), use_bias: true }
            }
            /// Sets stride, padding, dilation and groups.
            pub fn with_spec(mut self, spec: ConvSpec) -> Self {
                self.spec = spec;
                self
            }
            /// Sets the padding.
            pub fn with_padding(mut self, padding: Padding) -> Self {
                self.spec.padding = padding;
                self
            }
            /// Sets the stride.
            pub fn with_stride(mut self, stride: usize) -> Self {
                self.spec.stride = stride;
                self
            }
            /// Without a bias.
            pub fn without_bias(mut self) -> Self {
                self.use_bias = false;
                self
            }
            fn weight_shape(&self, in_ch: usize) -> Vec<usize> {
                let mut s = vec![self.filters, in_ch / self.spec.groups];
                s.extend([self.kernel; $k]);
                s
            }
        }

        impl Layer for $ty {
            fn name(&self) -> String {
                format!("{}({}, k={})", $name, self.filters, self.kernel)
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                let s = single(self, inputs, $rank, false)?;
                let g = self.spec.groups;
                if s[1] % g != 0 || self.filters % g != 0 {
                    return Err(BuildError::new(self, format!("{} input channels and {} filters do not split into {g} groups", s[1], self.filters)));
                }
                let mut out = vec![s[0], self.filters];
                for &n in &s[2..] {
                    let eff = self.spec.dilation * (self.kernel - 1) + 1;
                    let (a, b) = self.spec.padding.resolve(n, self.kernel, self.spec.stride, self.spec.dilation);
                    if n + a + b < eff {
                        return Err(BuildError::new(self, format!("input {s:?} is smaller than the kernel extent {eff}")));
                    }
                    out.push(self.spec.out_len(n, self.kernel));
                }
                Ok(vec![out])
            }
            fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
                self.output_signature(inputs)?;
                let shape = self.weight_shape(inputs[0][1]);
                Ok(conv_init(&shape, Fans::conv(&shape), self.use_bias.then_some(self.filters), key, device))
            }
            fn forward(&self, p: &Params, s: &Params, x: Vec<DynTensor>, _: Mode) -> (Vec<DynTensor>, Params) {
                let w = p.get::<$rank>("weight").expect(concat!($name, ": weight"));
                let b = self.use_bias.then(|| p.get::<1>("bias").expect(concat!($name, ": bias")));
                let x = x.into_iter().next().expect("one input").into_rank::<$rank>();
                (vec![$op(x, w, b, &self.spec).into()], s.clone())
            }
        }
    };
}

conv_layer!(
    /// 1-D convolution over `[N, C, L]` (see `duet_core::ops::conv1d`). Params: `weight`
    /// `[filters, C/groups, k]`, `bias` `[filters]`.
    ///
    /// # Shapes
    /// `[N, C, L] -> [N, filters, L_out]`
    Conv1d, 3, 1, "Conv1d", ops::conv1d
);
conv_layer!(
    /// 2-D convolution over `[N, C, H, W]` (see `duet_core::ops::conv2d`). Params: `weight`
    /// `[filters, C/groups, k, k]`, `bias` `[filters]`, PyTorch's default init.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, filters, H_out, W_out]`
    ///
    /// # Example
    /// ```
    /// use duet_functional::{Conv2d, Layer};
    /// use duet_core::ops::Padding;
    /// let c = Conv2d::new(6, 5);
    /// assert_eq!(c.output_signature(&[vec![8, 3, 32, 32]]).unwrap(), vec![vec![8, 6, 28, 28]]);
    /// let same = Conv2d::new(6, 3).with_padding(Padding::Same);
    /// assert_eq!(same.output_signature(&[vec![8, 3, 32, 32]]).unwrap(), vec![vec![8, 6, 32, 32]]);
    /// ```
    Conv2d, 4, 2, "Conv2d", ops::conv2d
);

/// 2-D transposed convolution (see `duet_core::ops::conv_transpose2d`). Params: `weight`
/// `[C, filters, k, k]`, `bias` `[filters]`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, filters, (H-1)*s - 2p + (k-1) + output_padding + 1, ..]`
///
/// # Example
/// ```
/// use duet_functional::{ConvTranspose2d, Layer};
/// use duet_core::ops::ConvTransposeSpec;
/// let up = ConvTranspose2d::new(4, 3).with_spec(ConvTransposeSpec { stride: 2, padding: 1, output_padding: 1, ..Default::default() });
/// assert_eq!(up.output_signature(&[vec![1, 8, 5, 5]]).unwrap(), vec![vec![1, 4, 10, 10]]);
/// ```
#[derive(Clone, Debug)]
pub struct ConvTranspose2d {
    filters: usize,
    kernel: usize,
    spec: ConvTransposeSpec,
}

impl ConvTranspose2d {
    /// `filters` output channels and a `kernel` x `kernel` window.
    pub fn new(filters: usize, kernel: usize) -> Self {
        ConvTranspose2d {
            filters,
            kernel,
            spec: ConvTransposeSpec::default(),
        }
    }

    /// Sets stride, padding, output padding, dilation, groups.
    pub fn with_spec(mut self, spec: ConvTransposeSpec) -> Self {
        self.spec = spec;
        self
    }
}

impl Layer for ConvTranspose2d {
    fn name(&self) -> String {
        format!("ConvTranspose2d({}, k={})", self.filters, self.kernel)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 4, false)?;
        if s[1] % self.spec.groups != 0
            || 2 * self.spec.padding
                > self.spec.dilation * (self.kernel - 1)
                    + self.spec.output_padding
                    + (s[2].min(s[3]) - 1) * self.spec.stride
        {
            return Err(BuildError::new(
                self,
                format!("input {s:?} does not fit {:?}", self.spec),
            ));
        }
        Ok(vec![vec![
            s[0],
            self.filters,
            self.spec.out_len(s[2], self.kernel),
            self.spec.out_len(s[3], self.kernel),
        ]])
    }
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let shape = [
            inputs[0][1],
            self.filters / self.spec.groups,
            self.kernel,
            self.kernel,
        ];
        Ok(conv_init(
            &shape,
            Fans::conv_transpose(&shape),
            Some(self.filters),
            key,
            device,
        ))
    }
    fn forward(
        &self,
        p: &Params,
        s: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let w = p.get::<4>("weight").expect("ConvTranspose2d: weight");
        let b = p.get::<1>("bias").expect("ConvTranspose2d: bias");
        let x = x.into_iter().next().expect("one input").into_rank::<4>();
        (
            vec![ops::conv_transpose2d(x, w, Some(b), &self.spec).into()],
            s.clone(),
        )
    }
}
