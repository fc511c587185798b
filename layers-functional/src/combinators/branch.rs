//! [`Branch`] and [`Parallel`]: several layers side by side.

use crate::layer::{expect_inputs, BuildError, Init, Layer, Mode, Shape};
use crate::values::{forward_via_run, Runs, Values};
use duet_core::burn::tensor::Device;
use duet_core::transform::Unsupported;
use duet_core::{Key, Params};

/// Which inputs each child of a side-by-side combinator sees.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// Every child reads (copies of) the same top inputs.
    Shared,
    /// Children read consecutive slices of the inputs.
    Split,
}

struct SideBySide {
    kind: &'static str,
    feed: Feed,
    layers: Vec<Box<dyn Layer>>,
}

impl SideBySide {
    fn slices(&self) -> Vec<(usize, usize)> {
        let mut start = 0;
        self.layers
            .iter()
            .map(|l| {
                let s = if self.feed == Feed::Shared { 0 } else { start };
                start += l.n_in();
                (s, s + l.n_in())
            })
            .collect()
    }
    fn n_in(&self) -> usize {
        match self.feed {
            Feed::Shared => self.layers.iter().map(|l| l.n_in()).max().unwrap_or(0),
            Feed::Split => self.layers.iter().map(|l| l.n_in()).sum(),
        }
    }
    fn n_out(&self) -> usize {
        self.layers.iter().map(|l| l.n_out()).sum()
    }
    fn signature(&self, me: &dyn Layer, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(me, inputs)?;
        let mut out = Vec::new();
        for (i, (l, (a, b))) in self.layers.iter().zip(self.slices()).enumerate() {
            out.extend(
                l.output_signature(&inputs[a..b])
                    .map_err(|e| e.within(&i.to_string()))?,
            );
        }
        Ok(out)
    }
    fn init(
        &self,
        me: &dyn Layer,
        inputs: &[Shape],
        key: Key,
        device: &Device,
    ) -> Result<Init, BuildError> {
        expect_inputs(me, inputs)?;
        let mut init = Init::default();
        for (i, (l, (a, b))) in self.layers.iter().zip(self.slices()).enumerate() {
            let name = i.to_string();
            let c = l
                .init(&inputs[a..b], key.fold_in(i as u64), device)
                .map_err(|e| e.within(&name))?;
            init.params.extend(c.params.prefix(&name));
            init.state.extend(c.state.prefix(&name));
        }
        Ok(init)
    }
    fn run<F: Values>(
        &self,
        params: &F::P,
        state: &Params,
        inputs: Vec<F::V>,
        mode: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        assert_eq!(
            inputs.len(),
            self.n_in(),
            "{}: expected {} inputs, got {}",
            self.kind,
            self.n_in(),
            inputs.len()
        );
        let mut out = Vec::new();
        let mut new_state = Params::new();
        for (i, (l, (a, b))) in self.layers.iter().zip(self.slices()).enumerate() {
            let name = i.to_string();
            let (ys, s) = F::run(
                l.as_ref(),
                &F::subtree(params, &name),
                &state.subtree(&name),
                inputs[a..b].to_vec(),
                mode.child(i),
            )?;
            out.extend(ys);
            new_state.extend(s.prefix(&name));
        }
        Ok((out, new_state))
    }

    fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
        let slices = self.slices();
        let get = |a: usize, b: usize| inputs.get(a..b).map(<[Shape]>::to_vec).unwrap_or_default();
        self.layers
            .iter()
            .zip(slices)
            .enumerate()
            .map(|(i, (l, (a, b)))| (i.to_string(), l.as_ref(), get(a, b)))
            .collect()
    }
}

macro_rules! side_by_side {
    ($ty:ident, $feed:expr, $doc_n_in:literal) => {
        impl $ty {
            /// Combines `layers` side by side; child `i`'s params live under `i`.
            pub fn new(layers: Vec<Box<dyn Layer>>) -> Self {
                $ty(SideBySide {
                    kind: stringify!($ty),
                    feed: $feed,
                    layers,
                })
            }
        }
        impl Runs for $ty {
            fn run<F: Values>(
                &self,
                p: &F::P,
                s: &Params,
                x: Vec<F::V>,
                mode: Mode,
            ) -> Result<(Vec<F::V>, Params), Unsupported> {
                self.0.run::<F>(p, s, x, mode)
            }
        }
        impl Layer for $ty {
            fn name(&self) -> String {
                format!("{}[{}]", stringify!($ty), self.0.layers.len())
            }
            #[doc = $doc_n_in]
            fn n_in(&self) -> usize {
                self.0.n_in()
            }
            fn n_out(&self) -> usize {
                self.0.n_out()
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                self.0.signature(self, inputs)
            }
            fn init(
                &self,
                inputs: &[Shape],
                key: Key,
                device: &Device,
            ) -> Result<Init, BuildError> {
                self.0.init(self, inputs, key, device)
            }
            forward_via_run!();
            fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
                self.0.expand(inputs)
            }
        }
    };
}

/// Runs every child on (copies of) the same inputs and stacks their outputs, first child first
/// (Trax's `Branch`). `n_in` is the largest child `n_in`; `n_out` the sum.
///
/// # Example
/// ```
/// use duet_functional::{Branch, Fn, Layer, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Params};
/// let b = Branch::new(vec![
///     Box::new(Fn::new("Neg", |x: Vec<DynTensor>| vec![-x[0].clone()])),
///     Box::new(Fn::new("Sq", |x: Vec<DynTensor>| vec![x[0].clone().square()])),
/// ]);
/// assert_eq!((b.n_in(), b.n_out()), (1, 2));
/// let x = DynTensor::from_floats(vec![3.0], &[1], &Device::flex());
/// let (ys, _) = b.forward(&Params::new(), &Params::new(), vec![x], Mode::Eval);
/// assert_eq!((ys[0].to_vec(), ys[1].to_vec()), (vec![-3.0], vec![9.0]));
/// ```
pub struct Branch(SideBySide);
side_by_side!(Branch, Feed::Shared, "The largest child `n_in`.");

/// Runs child `i` on its own slice of the inputs (Trax's `Parallel`). `n_in` and `n_out` are sums.
///
/// # Example
/// ```
/// use duet_functional::{Fn, Layer, Mode, Parallel};
/// use duet_core::{burn::tensor::Device, DynTensor, Params};
/// let p = Parallel::new(vec![
///     Box::new(Fn::new("Neg", |x: Vec<DynTensor>| vec![-x[0].clone()])),
///     Box::new(Fn::new("Sq", |x: Vec<DynTensor>| vec![x[0].clone().square()])),
/// ]);
/// assert_eq!((p.n_in(), p.n_out()), (2, 2));
/// let dev = Device::flex();
/// let xs = vec![DynTensor::from_floats(vec![3.0], &[1], &dev), DynTensor::from_floats(vec![4.0], &[1], &dev)];
/// let (ys, _) = p.forward(&Params::new(), &Params::new(), xs, Mode::Eval);
/// assert_eq!((ys[0].to_vec(), ys[1].to_vec()), (vec![-3.0], vec![16.0]));
/// ```
pub struct Parallel(SideBySide);
side_by_side!(Parallel, Feed::Split, "The sum of the children's `n_in`.");
