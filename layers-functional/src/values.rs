//! [`Values`]: the kinds of value a layer runs on (plain tensors, [`Dual`] values for forward
//! mode, [`PerExample`] values for per-example gradients), so that a layer or combinator is
//! written once, generic over them, and [`Layer`]'s three entry points (`forward`,
//! `forward_jvp`, `forward_per_example`) are one line each.

use crate::layer::{Layer, Mode};
use duet_core::layers::{Dual, LayerConfig, PerExample};
use duet_core::transform::{DualParams, PerExampleParams, Unsupported};
use duet_core::{DynTensor, Params, Val};

/// A kind of value a layer runs on, with the params view it reads them from.
///
/// A combinator written as `fn run<F: Values>(..)` over `F::V` and `F::P` calls its children
/// with [`Values::run`], which picks the child's matching [`Layer`] method.
pub trait Values {
    /// The value: [`DynTensor`], [`Dual<DynTensor>`] or [`PerExample`].
    type V: Val + Clone;
    /// Where a layer reads its params: [`Params`], [`DualParams`] or [`PerExampleParams`].
    type P;
    /// The transformation's name in [`Unsupported`] errors.
    const TRANSFORM: &'static str;
    /// The view of the subtree under `name` (all of `p` for `""`).
    fn subtree(p: &Self::P, name: &str) -> Self::P;
    /// The param at `path`, if the view has it.
    fn param(p: &Self::P, path: &str) -> Option<Self::V>;
    /// Whether a layer of config `C` that has params runs under this transformation.
    fn admits<C: LayerConfig>() -> bool;
    /// Runs `layer` on these values (its `forward`, `forward_jvp` or `forward_per_example`).
    ///
    /// # Errors
    /// [`Unsupported`] naming a layer without a rule for the transformation.
    fn run(
        layer: &dyn Layer,
        p: &Self::P,
        state: &Params,
        inputs: Vec<Self::V>,
        mode: Mode,
    ) -> Result<(Vec<Self::V>, Params), Unsupported>;
}

/// Plain tensors: [`Layer::forward`].
pub struct Plain;

/// [`Dual`] values with tangents: [`Layer::forward_jvp`].
pub struct Jvp;

/// [`PerExample`] values with tapped params: [`Layer::forward_per_example`].
pub struct PerExampleGrads;

impl Values for Plain {
    type V = DynTensor;
    type P = Params;
    const TRANSFORM: &'static str = "forward";
    fn subtree(p: &Params, name: &str) -> Params {
        p.subtree(name)
    }
    fn param(p: &Params, path: &str) -> Option<DynTensor> {
        p.get_dyn(path).ok().cloned()
    }
    fn admits<C: LayerConfig>() -> bool {
        true
    }
    fn run(
        layer: &dyn Layer,
        p: &Params,
        state: &Params,
        inputs: Vec<DynTensor>,
        mode: Mode,
    ) -> Result<(Vec<DynTensor>, Params), Unsupported> {
        Ok(layer.forward(p, state, inputs, mode))
    }
}

impl Values for Jvp {
    type V = Dual<DynTensor>;
    type P = DualParams;
    const TRANSFORM: &'static str = "jvp";
    fn subtree(p: &DualParams, name: &str) -> DualParams {
        p.subtree(name)
    }
    fn param(p: &DualParams, path: &str) -> Option<Dual<DynTensor>> {
        p.get(path)
    }
    fn admits<C: LayerConfig>() -> bool {
        true
    }
    fn run(
        layer: &dyn Layer,
        p: &DualParams,
        state: &Params,
        inputs: Vec<Dual<DynTensor>>,
        mode: Mode,
    ) -> Result<(Vec<Dual<DynTensor>>, Params), Unsupported> {
        layer.forward_jvp(p, state, inputs, mode)
    }
}

impl Values for PerExampleGrads {
    type V = PerExample;
    type P = PerExampleParams;
    const TRANSFORM: &'static str = "per_example_grads";
    fn subtree(p: &PerExampleParams, name: &str) -> PerExampleParams {
        p.subtree(name)
    }
    fn param(p: &PerExampleParams, path: &str) -> Option<PerExample> {
        p.get(path)
    }
    fn admits<C: LayerConfig>() -> bool {
        C::PER_EXAMPLE
    }
    fn run(
        layer: &dyn Layer,
        p: &PerExampleParams,
        state: &Params,
        inputs: Vec<PerExample>,
        mode: Mode,
    ) -> Result<(Vec<PerExample>, Params), Unsupported> {
        layer.forward_per_example(p, state, inputs, mode)
    }
}

/// A layer or combinator written once over [`Values`]; [`forward_via_run!`] turns it into the
/// three [`Layer`] methods.
pub(crate) trait Runs {
    /// Runs on values of kind `F`.
    fn run<F: Values>(
        &self,
        p: &F::P,
        state: &Params,
        inputs: Vec<F::V>,
        mode: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported>;
}

/// The result of a plain run, which has no transformation to refuse.
pub(crate) fn plain<T>(r: Result<T, Unsupported>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Implements [`Layer::forward`], [`Layer::forward_jvp`] and [`Layer::forward_per_example`]
/// inside an `impl Layer` block by [`Runs::run`].
macro_rules! forward_via_run {
    () => {
        fn forward(
            &self,
            p: &duet_core::Params,
            s: &duet_core::Params,
            x: Vec<duet_core::DynTensor>,
            mode: $crate::layer::Mode,
        ) -> (Vec<duet_core::DynTensor>, duet_core::Params) {
            $crate::values::plain($crate::values::Runs::run::<$crate::values::Plain>(
                self, p, s, x, mode,
            ))
        }
        fn forward_jvp(
            &self,
            p: &duet_core::transform::DualParams,
            s: &duet_core::Params,
            x: Vec<duet_core::layers::Dual<duet_core::DynTensor>>,
            mode: $crate::layer::Mode,
        ) -> Result<
            (
                Vec<duet_core::layers::Dual<duet_core::DynTensor>>,
                duet_core::Params,
            ),
            duet_core::transform::Unsupported,
        > {
            $crate::values::Runs::run::<$crate::values::Jvp>(self, p, s, x, mode)
        }
        fn forward_per_example(
            &self,
            p: &duet_core::transform::PerExampleParams,
            s: &duet_core::Params,
            x: Vec<duet_core::layers::PerExample>,
            mode: $crate::layer::Mode,
        ) -> Result<
            (Vec<duet_core::layers::PerExample>, duet_core::Params),
            duet_core::transform::Unsupported,
        > {
            $crate::values::Runs::run::<$crate::values::PerExampleGrads>(self, p, s, x, mode)
        }
    };
}
pub(crate) use forward_via_run;
