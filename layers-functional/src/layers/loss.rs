//! Loss layers: two inputs `(prediction, target)`, one output `[1]`.
//!
//! Labels travel on the stack as floats (class ids) and are converted to integers inside.
//!
//! # Example
//! ```
//! use duet_functional::{CrossEntropyLoss, Layer, Mode};
//! use duet_core::{burn::tensor::Device, DynTensor, Params};
//! let dev = Device::flex();
//! let logits = DynTensor::zeros(&[2, 4], &dev);
//! let labels = DynTensor::from_floats(vec![0.0, 3.0], &[2], &dev);
//! let (l, _) = CrossEntropyLoss::default().forward(&Params::new(), &Params::new(), vec![logits, labels], Mode::Eval);
//! assert!((l[0].to_vec()[0] - 4f32.ln()).abs() < 1e-6);
//! ```

use crate::layer::{expect_inputs, BuildError, Layer, Mode, Shape};
use crate::values::{Jvp, PerExampleGrads, Values};
use duet_core::burn::tensor::Tensor;
use duet_core::layers::{self, Dual, PerExample};
use duet_core::ops::{self, CrossEntropy, Reduction};
use duet_core::transform::{DualParams, PerExampleParams, Unsupported};
use duet_core::{DynTensor, Params, Val};

/// The output signature of a loss of `(prediction, target)`: `[1]`, or `[N]` when not reduced.
fn two(
    layer: &dyn Layer,
    inputs: &[Shape],
    same: bool,
    reduced: bool,
) -> Result<Vec<Shape>, BuildError> {
    expect_inputs(layer, inputs)?;
    let (a, b) = (&inputs[0], &inputs[1]);
    let ok = if same {
        a == b
    } else {
        a.len() == 2 && b.len() == 1 && a[0] == b[0]
    };
    if !ok {
        return Err(BuildError::new(
            layer,
            format!("prediction {a:?} and target {b:?} do not match"),
        ));
    }
    Ok(vec![vec![if reduced { 1 } else { a[0] }]])
}

/// Softmax cross-entropy of logits `[N, K]` against labels `[N]` (see `duet_core::ops::cross_entropy`):
/// `[1]`, or the per-example losses `[N]` with `Reduction::None` (what
/// [`Layer::forward_per_example`] needs).
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossEntropyLoss(pub CrossEntropy);

impl Layer for CrossEntropyLoss {
    fn name(&self) -> String {
        "CrossEntropyLoss".into()
    }
    fn n_in(&self) -> usize {
        2
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        two(self, inputs, false, self.0.reduction != Reduction::None)
    }
    fn forward(
        &self,
        _: &Params,
        s: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let mut it = x.into_iter();
        let logits = it.next().expect("logits").into_rank::<2>();
        let labels = it.next().expect("labels").into_rank::<1>().int();
        (
            vec![ops::cross_entropy(logits, labels, &self.0).into()],
            s.clone(),
        )
    }
    /// Forward mode (without `ignore_index`).
    fn forward_jvp(
        &self,
        _: &DualParams,
        s: &Params,
        x: Vec<Dual<DynTensor>>,
        _: Mode,
    ) -> Result<(Vec<Dual<DynTensor>>, Params), Unsupported> {
        self.on_values::<Jvp>(s, x)
    }
    /// Per-example losses with `Reduction::None` (without `ignore_index`).
    fn forward_per_example(
        &self,
        _: &PerExampleParams,
        s: &Params,
        x: Vec<PerExample>,
        _: Mode,
    ) -> Result<(Vec<PerExample>, Params), Unsupported> {
        self.on_values::<PerExampleGrads>(s, x)
    }
}

impl CrossEntropyLoss {
    /// The loss on transformed values ([`layers::cross_entropy`]); an `ignore_index` is
    /// [`Unsupported`] there.
    fn on_values<F: Values>(
        &self,
        s: &Params,
        x: Vec<F::V>,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        if self.0.ignore_index.is_some() {
            return Err(Unsupported {
                op: format!("{} with ignore_index", self.name()),
                transform: F::TRANSFORM,
            });
        }
        let mut it = x.into_iter();
        let logits = it.next().expect("logits");
        let labels = it.next().expect("labels");
        let labels = labels.primal().clone().into_rank::<1>().int();
        Ok((
            vec![layers::cross_entropy(logits, labels, &self.0)],
            s.clone(),
        ))
    }
}

macro_rules! pair_loss {
    ($(#[$doc:meta])* $ty:ident $( ( $field:ident ) )?, |$a:ident, $b:ident, $me:ident| $body:expr, $val:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $ty { $(
            #[doc = "The loss's threshold."]
            pub $field: f64,
        )? }
        impl Layer for $ty {
            fn name(&self) -> String {
                stringify!($ty).into()
            }
            fn n_in(&self) -> usize {
                2
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                two(self, inputs, true, true)
            }
            fn forward(&self, _: &Params, s: &Params, x: Vec<DynTensor>, _: Mode) -> (Vec<DynTensor>, Params) {
                let mut it = x.into_iter();
                let ($a, $b): (Tensor<1>, Tensor<1>) = (it.next().expect("prediction").flatten(), it.next().expect("target").flatten());
                let $me = self;
                let _ = $me;
                (vec![$body.into()], s.clone())
            }
            fn forward_jvp(&self, _: &DualParams, s: &Params, x: Vec<Dual<DynTensor>>, _: Mode) -> Result<(Vec<Dual<DynTensor>>, Params), Unsupported> {
                let mut it = x.into_iter();
                let ($a, $b) = (it.next().expect("prediction"), it.next().expect("target"));
                let $me = self;
                let _ = $me;
                Ok((vec![$val], s.clone()))
            }
        }
    };
}

pair_loss!(/// Mean squared error.
    MseLoss, |a, b, me| ops::mse(a, b, Reduction::Mean), layers::mse(a, b));
pair_loss!(/// Mean absolute error.
    L1Loss, |a, b, me| ops::l1(a, b, Reduction::Mean), layers::l1(a, b));
pair_loss!(/// Huber loss with threshold `delta` (`HuberLoss { delta: 1.0 }` is PyTorch's default).
    HuberLoss(delta), |a, b, me| ops::huber(a, b, me.delta, Reduction::Mean), layers::huber(a, b, me.delta));
pair_loss!(/// Binary cross-entropy with logits (targets in `[0, 1]`).
    BceWithLogitsLoss, |a, b, me| ops::bce_with_logits(a, b, Reduction::Mean), layers::bce_with_logits(a, b));

macro_rules! unit_default {
    ($($ty:ident),*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                $ty {}
            }
        }
    )*};
}
unit_default!(MseLoss, L1Loss, BceWithLogitsLoss);

impl Default for HuberLoss {
    /// `delta = 1`, PyTorch's default.
    fn default() -> Self {
        HuberLoss { delta: 1.0 }
    }
}
