//! Data-stack plumbing: [`Select`], [`Dup`], [`Swap`], [`Drop`]. Weightless.

use crate::layer::{expect_inputs, BuildError, Layer, Mode, Shape};
use crate::values::{forward_via_run, Runs, Values};
use duet_core::transform::Unsupported;
use duet_core::Params;

/// Copies stack items by index: `Select::new(vec![0, 0, 1], 2)` turns `(a, b)` into `(a, a, b)`.
///
/// # Example
/// ```
/// use duet_functional::{Layer, Select};
/// let s = Select::new(vec![1, 0], 2);
/// assert_eq!(s.output_signature(&[vec![1], vec![2]]).unwrap(), vec![vec![2], vec![1]]);
/// ```
#[derive(Clone, Debug)]
pub struct Select {
    indices: Vec<usize>,
    n_in: usize,
}

impl Select {
    /// Outputs `inputs[i]` for each `i` of `indices`, reading `n_in` inputs.
    /// Panics if an index is not below `n_in`.
    pub fn new(indices: Vec<usize>, n_in: usize) -> Self {
        assert!(
            indices.iter().all(|&i| i < n_in),
            "Select: indices {indices:?} must be < n_in = {n_in}"
        );
        Select { indices, n_in }
    }
}

impl Layer for Select {
    fn name(&self) -> String {
        format!("Select{:?}", self.indices)
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.indices.len()
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        Ok(self.indices.iter().map(|&i| inputs[i].clone()).collect())
    }
    forward_via_run!();
}

impl Runs for Select {
    fn run<F: Values>(
        &self,
        _: &F::P,
        state: &Params,
        inputs: Vec<F::V>,
        _: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        let out = self.indices.iter().map(|&i| inputs[i].clone()).collect();
        Ok((out, state.clone()))
    }
}

macro_rules! plumbing {
    ($(#[$doc:meta])* $ty:ident, $n_in:expr, [$($i:expr),*]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $ty;
        impl Layer for $ty {
            fn name(&self) -> String {
                stringify!($ty).into()
            }
            fn n_in(&self) -> usize {
                $n_in
            }
            fn n_out(&self) -> usize {
                let outs: &[usize] = &[$($i),*];
                outs.len()
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                expect_inputs(self, inputs)?;
                Ok(vec![$(inputs[$i].clone()),*])
            }
            forward_via_run!();
        }
        impl Runs for $ty {
            fn run<F: Values>(&self, _: &F::P, state: &Params, inputs: Vec<F::V>, _: Mode) -> Result<(Vec<F::V>, Params), Unsupported> {
                let _ = &inputs;
                Ok((vec![$(inputs[$i].clone()),*], state.clone()))
            }
        }
    };
}

plumbing!(
    /// Duplicates the top of the stack: `x -> (x, x)`.
    Dup, 1, [0, 0]
);
plumbing!(
    /// Swaps the top two items: `(a, b) -> (b, a)`.
    Swap, 2, [1, 0]
);
plumbing!(
    /// Drops the top of the stack: `x -> ()`.
    Drop, 1, []
);
