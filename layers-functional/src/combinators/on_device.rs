//! [`OnDevice`]: run part of a model on another device.

use crate::layer::{BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::Device;
use duet_core::layers::Dual;
use duet_core::transform::{DualParams, Unsupported};
use duet_core::{DynTensor, Key, Params};

/// Runs `layer` on `device`: its params and state are created there, and its inputs are moved
/// there (explicitly, with `to_device`) before it runs. Outputs stay on `device`; the next
/// `OnDevice` (or the loss) moves them on. Gradients flow back across devices as for any op.
///
/// Transparent for paths: the wrapped layer's params keep their names, so a checkpoint does not
/// depend on placement (and [`Params::to_device`] can re-place a loaded tree).
///
/// Typical uses: a large embedding table in host memory with the rest on a GPU, or a model
/// split over two GPUs (pipeline style).
///
/// # Example
/// ```
/// use duet_functional::{serial, Dense, LayerExt, Mode, OnDevice, Relu};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let (cpu, other) = (Device::flex(), Device::flex()); // e.g. duet_core::device("wgpu")?
/// let model = serial![OnDevice::new(Dense::new(4), cpu.clone()), Relu, OnDevice::new(Dense::new(2), other)];
/// let (p, s) = model.init_model(&[3, 5], Key::new(0), &cpu).unwrap();
/// assert_eq!(p.paths(), ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// let x = DynTensor::from_floats(vec![0.5; 15], &[3, 5], &cpu);
/// let (y, _) = model.apply(&p, &s, x, Mode::Eval);
/// assert_eq!(y.dims(), vec![3, 2]);
/// ```
pub struct OnDevice {
    layer: Box<dyn Layer>,
    device: Device,
}

impl OnDevice {
    /// Places `layer` on `device` (a plain device; autodiff is handled per call).
    pub fn new(layer: impl Layer + 'static, device: Device) -> Self {
        OnDevice {
            layer: Box::new(layer),
            device: device.inner(),
        }
    }

    /// The device the layer runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Moves `t` to `device`, with autodiff when `t` records gradients (so the graph continues).
    fn moved(&self, t: DynTensor) -> DynTensor {
        let d = if t.device().is_autodiff() {
            self.device.clone().autodiff()
        } else {
            self.device.clone()
        };
        t.to_device(&d)
    }

    fn place(&self, tree: &Params) -> Params {
        tree.map(|t| self.moved(t))
    }
}

impl Layer for OnDevice {
    fn name(&self) -> String {
        format!("OnDevice({}, {:?})", self.layer.name(), self.device)
    }

    fn n_in(&self) -> usize {
        self.layer.n_in()
    }

    fn n_out(&self) -> usize {
        self.layer.n_out()
    }

    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        self.layer.output_signature(inputs)
    }

    fn init(&self, inputs: &[Shape], key: Key, _device: &Device) -> Result<Init, BuildError> {
        self.layer.init(inputs, key, &self.device)
    }

    fn forward(
        &self,
        params: &Params,
        state: &Params,
        inputs: Vec<DynTensor>,
        mode: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let inputs = inputs.into_iter().map(|x| self.moved(x)).collect();
        self.layer
            .forward(&self.place(params), &self.place(state), inputs, mode)
    }

    fn forward_jvp(
        &self,
        params: &DualParams,
        state: &Params,
        inputs: Vec<Dual<DynTensor>>,
        mode: Mode,
    ) -> Result<(Vec<Dual<DynTensor>>, Params), Unsupported> {
        let moved = |x: Dual<DynTensor>| Dual {
            value: self.moved(x.value),
            tangent: x.tangent.map(|t| self.moved(t)),
        };
        let inputs = inputs.into_iter().map(moved).collect();
        let params = DualParams::new(self.place(&params.primal), self.place(&params.tangent));
        self.layer
            .forward_jvp(&params, &self.place(state), inputs, mode)
    }

    fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
        self.layer.expand(inputs)
    }
}
