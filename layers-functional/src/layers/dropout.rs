//! [`Dropout`].

use crate::layer::{expect_inputs, BuildError, Layer, Mode, Shape};
use duet_core::{ops, DynTensor, Params};

/// Inverted dropout with probability `p` in [`Mode::Train`] (the mode's key draws the mask);
/// the identity in [`Mode::Eval`]. See `duet_core::ops::dropout`.
///
/// # Shapes
/// Output shape = input shape.
///
/// # Example
/// ```
/// use duet_functional::{Dropout, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key, Params};
/// let x = DynTensor::from_floats(vec![1.0; 100], &[100], &Device::flex());
/// let none = Params::new();
/// let (y, _) = Dropout::new(0.5).apply(&none, &none, x.clone(), Mode::Train(Key::new(0)));
/// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
/// let (y, _) = Dropout::new(0.5).apply(&none, &none, x.clone(), Mode::Eval);
/// assert_eq!(y.to_vec(), x.to_vec());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// Drops each element with probability `p` (in `[0, 1)`).
    pub fn new(p: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&p),
            "Dropout: p = {p} must be in [0, 1)"
        );
        Dropout { p }
    }
}

impl Layer for Dropout {
    fn name(&self) -> String {
        format!("Dropout({})", self.p)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        Ok(inputs.to_vec())
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        x: Vec<DynTensor>,
        mode: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let x = x.into_iter().next().expect("one input");
        let key = match mode {
            Mode::Train(k) => Some(k),
            Mode::Eval => None,
        };
        (
            vec![x.map_flat(|t| ops::dropout(t, self.p, key))],
            state.clone(),
        )
    }
}
