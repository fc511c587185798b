//! [`Flatten`].

use super::single;
use crate::layer::{BuildError, Layer, Mode, Shape};
use duet_core::{DynTensor, Params};

/// Flattens every axis after the batch axis: `[N, C, H, W] -> [N, C*H*W]` (C, H, W order, as
/// PyTorch's `flatten(1)`).
///
/// # Shapes
/// `[N, ...] -> [N, prod(...)]`
///
/// # Example
/// ```
/// use duet_functional::{Flatten, Layer};
/// assert_eq!(Flatten.output_signature(&[vec![8, 16, 5, 5]]).unwrap(), vec![vec![8, 400]]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten;

impl Layer for Flatten {
    fn name(&self) -> String {
        "Flatten".into()
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 2, true)?;
        Ok(vec![vec![s[0], s[1..].iter().product()]])
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let x = x.into_iter().next().expect("one input");
        let d = x.dims();
        (
            vec![x.reshape(&[d[0], d[1..].iter().product()])],
            state.clone(),
        )
    }
}
