//! [`Fn`]: a closure as a weightless layer (Trax's `Fn`).

use crate::layer::{expect_inputs, BuildError, Layer, Mode, Shape};
use duet_core::burn::tensor::Device;
use duet_core::{DynTensor, Params};
use std::sync::Arc;

type Body = Arc<dyn std::ops::Fn(Vec<DynTensor>) -> Vec<DynTensor> + Send + Sync>;
type ShapeFn = Arc<dyn std::ops::Fn(&[Shape]) -> Result<Vec<Shape>, String> + Send + Sync>;

/// A weightless layer from a closure over the inputs.
///
/// Shape inference runs the closure once on zeros on the CPU, unless a shape function is given
/// with [`Fn::with_shape`] (cheaper for large inputs).
///
/// # Example
/// ```
/// use duet_functional::{Fn, Layer};
/// use duet_core::DynTensor;
/// let sum_diff = Fn::new("SumDiff", |x: Vec<DynTensor>| vec![x[0].clone() + x[1].clone(), x[0].clone() - x[1].clone()])
///     .with_io(2, 2);
/// assert_eq!(sum_diff.output_signature(&[vec![3], vec![3]]).unwrap(), vec![vec![3], vec![3]]);
/// ```
#[derive(Clone)]
pub struct Fn {
    name: String,
    n_in: usize,
    n_out: usize,
    body: Body,
    shape: Option<ShapeFn>,
}

impl Fn {
    /// A one-input, one-output layer computing `f`.
    pub fn new(
        name: &str,
        f: impl std::ops::Fn(Vec<DynTensor>) -> Vec<DynTensor> + Send + Sync + 'static,
    ) -> Self {
        Fn {
            name: name.to_string(),
            n_in: 1,
            n_out: 1,
            body: Arc::new(f),
            shape: None,
        }
    }

    /// Sets the number of inputs and outputs.
    pub fn with_io(mut self, n_in: usize, n_out: usize) -> Self {
        self.n_in = n_in;
        self.n_out = n_out;
        self
    }

    /// Gives an explicit shape function instead of running the closure on zeros.
    pub fn with_shape(
        mut self,
        f: impl std::ops::Fn(&[Shape]) -> Result<Vec<Shape>, String> + Send + Sync + 'static,
    ) -> Self {
        self.shape = Some(Arc::new(f));
        self
    }
}

impl Layer for Fn {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        if let Some(f) = &self.shape {
            return f(inputs).map_err(|m| BuildError::new(self, m));
        }
        let dev = Device::flex();
        let zeros = inputs.iter().map(|s| DynTensor::zeros(s, &dev)).collect();
        let body = self.body.clone();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(zeros))).map_err(
            |_| BuildError::new(self, format!("the function panicked on inputs {inputs:?}")),
        )?;
        if out.len() != self.n_out {
            return Err(BuildError::new(
                self,
                format!("returned {} outputs, declared {}", out.len(), self.n_out),
            ));
        }
        Ok(out.iter().map(DynTensor::dims).collect())
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        inputs: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        ((self.body)(inputs), state.clone())
    }
}
