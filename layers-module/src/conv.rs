//! [`Conv1d`], [`Conv2d`], [`ConvTranspose2d`].

use crate::rngs::Rngs;
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Tensor, TensorData};
use duet_core::ops::{self, ConvSpec, ConvTransposeSpec};
use duet_core::{Fans, Initializer, Key};

fn init<const D: usize>(
    shape: [usize; D],
    fans: Fans,
    bias: usize,
    key: Key,
    device: &Device,
) -> (Param<Tensor<D>>, Param<Tensor<1>>) {
    let [kw, kb] = key.split2();
    let w = Initializer::TorchDefault.sample(&shape, fans, kw);
    (
        Param::from_tensor(Tensor::from_data(TensorData::new(w, shape), device)),
        Param::from_tensor(Initializer::TorchDefault.init([bias], fans, kb, device)),
    )
}

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
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[out, in/groups, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    /// Stride, padding, dilation, groups.
    #[module(skip)]
    pub spec: ConvSpec,
}

impl Conv2d {
    /// `inputs` to `outputs` channels with a `kernel` x `kernel` window, stride 1, no padding.
    pub fn new(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        rngs: &mut Rngs,
        device: &Device,
    ) -> Self {
        Self::with_spec(inputs, outputs, kernel, ConvSpec::default(), rngs, device)
    }

    /// As [`Conv2d::new`] with stride, padding, dilation and groups.
    pub fn with_spec(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        spec: ConvSpec,
        rngs: &mut Rngs,
        device: &Device,
    ) -> Self {
        let shape = [outputs, inputs / spec.groups, kernel, kernel];
        let (weight, bias) = init(
            shape,
            Fans::conv(&shape),
            outputs,
            rngs.params.next(),
            device,
        );
        Conv2d { weight, bias, spec }
    }

    /// Applies the convolution.
    ///
    /// # Shapes
    /// `[N, in, H, W] -> [N, out, H_out, W_out]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::conv2d(x, self.weight.val(), Some(self.bias.val()), &self.spec)
    }
}

/// 1-D convolution: `weight` `[out, in/groups, k]`, `bias` `[out]`.
///
/// # Shapes
/// `[N, in, L] -> [N, out, L_out]`
#[derive(Module, Debug)]
pub struct Conv1d {
    /// `[out, in/groups, k]`.
    pub weight: Param<Tensor<3>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    /// Stride, padding, dilation, groups.
    #[module(skip)]
    pub spec: ConvSpec,
}

impl Conv1d {
    /// `inputs` to `outputs` channels with a `kernel`-wide window.
    pub fn new(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        spec: ConvSpec,
        rngs: &mut Rngs,
        device: &Device,
    ) -> Self {
        let shape = [outputs, inputs / spec.groups, kernel];
        let (weight, bias) = init(
            shape,
            Fans::conv(&shape),
            outputs,
            rngs.params.next(),
            device,
        );
        Conv1d { weight, bias, spec }
    }

    /// Applies the convolution.
    ///
    /// # Shapes
    /// `[N, in, L] -> [N, out, L_out]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        ops::conv1d(x, self.weight.val(), Some(self.bias.val()), &self.spec)
    }
}

/// 2-D transposed convolution: `weight` `[in, out/groups, k, k]`, `bias` `[out]`.
///
/// # Shapes
/// `[N, in, H, W] -> [N, out, (H-1)s - 2p + (k-1) + output_padding + 1, ..]`
#[derive(Module, Debug)]
pub struct ConvTranspose2d {
    /// `[in, out/groups, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    /// Stride, padding, output padding, dilation, groups.
    #[module(skip)]
    pub spec: ConvTransposeSpec,
}

impl ConvTranspose2d {
    /// `inputs` to `outputs` channels with a `kernel` x `kernel` window.
    pub fn new(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        spec: ConvTransposeSpec,
        rngs: &mut Rngs,
        device: &Device,
    ) -> Self {
        let shape = [inputs, outputs / spec.groups, kernel, kernel];
        let (weight, bias) = init(
            shape,
            Fans::conv_transpose(&shape),
            outputs,
            rngs.params.next(),
            device,
        );
        ConvTranspose2d { weight, bias, spec }
    }

    /// Applies the transposed convolution.
    ///
    /// # Shapes
    /// `[N, in, H, W] -> [N, out, H_out, W_out]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::conv_transpose2d(x, self.weight.val(), Some(self.bias.val()), &self.spec)
    }
}
