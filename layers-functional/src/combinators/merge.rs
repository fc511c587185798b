//! Layers that merge stack items: [`Concatenate`], [`Add`], [`Multiply`]. Weightless.

use crate::layer::{expect_inputs, BuildError, Layer, Mode, Shape};
use crate::values::{forward_via_run, Runs, Values};
use duet_core::transform::Unsupported;
use duet_core::{Params, Val};

/// Concatenates the top `n` items along `axis` (negative counts from the end).
///
/// # Shapes
/// `n` tensors `[.., a_i, ..]` -> `[.., sum a_i, ..]`.
///
/// # Example
/// ```
/// use duet_functional::{Concatenate, Layer};
/// let c = Concatenate::new(2, -1);
/// assert_eq!(c.output_signature(&[vec![4, 3], vec![4, 5]]).unwrap(), vec![vec![4, 8]]);
/// assert!(c.output_signature(&[vec![4, 3], vec![2, 5]]).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Concatenate {
    n: usize,
    axis: isize,
}

impl Concatenate {
    /// Concatenates `n` items along `axis`.
    pub fn new(n: usize, axis: isize) -> Self {
        Concatenate { n, axis }
    }

    fn axis(&self, rank: usize) -> Option<usize> {
        let a = if self.axis < 0 {
            rank as isize + self.axis
        } else {
            self.axis
        };
        (0..rank as isize).contains(&a).then_some(a as usize)
    }
}

impl Layer for Concatenate {
    fn name(&self) -> String {
        format!("Concatenate(axis={})", self.axis)
    }
    fn n_in(&self) -> usize {
        self.n
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        let first = &inputs[0];
        let axis = self
            .axis(first.len())
            .ok_or_else(|| BuildError::new(self, format!("axis out of range for {first:?}")))?;
        let mut out = first.clone();
        out[axis] = 0;
        for s in inputs {
            let same_rest =
                s.len() == first.len() && (0..s.len()).all(|d| d == axis || s[d] == first[d]);
            if !same_rest {
                return Err(BuildError::new(
                    self,
                    format!("shapes {inputs:?} differ off axis {axis}"),
                ));
            }
            out[axis] += s[axis];
        }
        Ok(vec![out])
    }
    forward_via_run!();
}

impl Runs for Concatenate {
    fn run<F: Values>(
        &self,
        _: &F::P,
        state: &Params,
        inputs: Vec<F::V>,
        _: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        let axis = self.axis(inputs[0].dims().len()).expect("checked at init");
        Ok((vec![Val::cat(inputs, axis)], state.clone()))
    }
}

macro_rules! elementwise {
    ($(#[$doc:meta])* $ty:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $ty;
        impl Layer for $ty {
            fn name(&self) -> String {
                stringify!($ty).into()
            }
            fn n_in(&self) -> usize {
                2
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                expect_inputs(self, inputs)?;
                if inputs[0] != inputs[1] {
                    return Err(BuildError::new(self, format!("shapes differ: {:?} vs {:?}", inputs[0], inputs[1])));
                }
                Ok(vec![inputs[0].clone()])
            }
            forward_via_run!();
        }
        impl Runs for $ty {
            fn run<F: Values>(&self, _: &F::P, state: &Params, inputs: Vec<F::V>, _: Mode) -> Result<(Vec<F::V>, Params), Unsupported> {
                let mut it = inputs.into_iter();
                let (a, b) = (it.next().expect("two inputs"), it.next().expect("two inputs"));
                Ok((vec![Val::$method(a, b)], state.clone()))
            }
        }
    };
}

elementwise!(
    /// Adds the top two items: `(a, b) -> a + b` (same shapes).
    Add, add
);
elementwise!(
    /// Multiplies the top two items element-wise: `(a, b) -> a * b` (same shapes).
    Multiply, mul
);
