//! [`Task`]: what is trained (batch type, loss as a value, metrics), apart from the loop.
//! [`Classification`] and [`Regression`] are two tasks; a VAE's ELBO or a language model's
//! next-token loss are others, written outside this crate the same way.

use crate::checkpoints::Better;
use crate::shard::Shard;
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::ops::{correct, cross_entropy, huber, l1, mse, CrossEntropy, Reduction};
use std::collections::BTreeMap;
use std::ops::Range;

/// Named per-batch sums (on the device, so accumulating them does not wait for it); divided by
/// the number of examples when logged.
///
/// # Example
/// ```
/// use duet_core::burn::tensor::{Device, Tensor};
/// use duet_train::Metrics;
/// let dev = Device::flex();
/// let mut m = Metrics::default();
/// m.add("correct", Tensor::<1>::from_floats([3.0], &dev));
/// let mut n = Metrics::default();
/// n.add("correct", Tensor::<1>::from_floats([1.0], &dev));
/// m.merge(n);
/// assert_eq!(m.means(8)["correct"], 0.5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Metrics(Vec<(&'static str, Tensor<1>)>);

impl Metrics {
    /// Adds `sum` (one element) to the sum named `name`.
    pub fn add(&mut self, name: &'static str, sum: Tensor<1>) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => {
                let device = s.device();
                *s = s.clone() + sum.to_device(&device);
            }
            None => self.0.push((name, sum)),
        }
    }

    /// Adds every sum of `other`.
    pub fn merge(&mut self, other: Metrics) {
        for (name, sum) in other.0 {
            self.add(name, sum);
        }
    }

    /// The sums without autodiff association, on `device`.
    pub fn detached(self, device: &Device) -> Metrics {
        let plain = self.0.into_iter();
        Metrics(
            plain
                .map(|(n, s)| (n, s.without_autodiff().to_device(device)))
                .collect(),
        )
    }

    /// The sums in the order they were first added (reads every sum from the device).
    pub fn values(&self) -> Vec<(&'static str, f32)> {
        let read = |s: &Tensor<1>| s.clone().into_scalar::<f32>();
        self.0.iter().map(|(n, s)| (*n, read(s))).collect()
    }

    /// Each sum divided by `count` (reads every sum from the device).
    pub fn means(&self, count: usize) -> BTreeMap<String, f64> {
        let count = count.max(1) as f64;
        let read = |s: &Tensor<1>| s.clone().into_scalar::<f32>() as f64 / count;
        self.0
            .iter()
            .map(|(n, s)| (n.to_string(), read(s)))
            .collect()
    }
}

/// A task's verdict on one output: the loss to differentiate and the metric sums to log.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The loss, averaged over the examples of the output (one element).
    pub loss: Tensor<1>,
    /// Per-example metrics summed over the output's examples.
    pub sums: Metrics,
}

/// What a [`crate::Trainer`] trains: how a batch splits into the model's input and the target,
/// the loss of an output, and the metrics.
pub trait Task: Send + Sync {
    /// What the data source yields.
    type Batch: Send;
    /// The model's input.
    type Input: Send;
    /// What the loss compares the output with.
    type Target: Send + Sync;
    /// The model's output.
    type Output: Send;

    /// The model's input, the target and the number of examples of a batch.
    fn split(&self, batch: Self::Batch) -> (Self::Input, Self::Target, usize);

    /// The loss (mean over the output's examples) and metric sums. `rows` is `None` when
    /// `out` covers the whole batch, else the rows of the batch it covers (take them from the
    /// target with [`Shard::part`]).
    fn loss(&self, out: Self::Output, target: &Self::Target, rows: Option<Range<usize>>) -> Scored;

    /// The metric that picks `best.safetensors` (after evaluation) and which way is better.
    fn best(&self) -> (&'static str, Better) {
        ("loss", Better::Lower)
    }

    /// Derived metrics from the means of an evaluation or a log window (e.g. perplexity from
    /// the loss), added in place.
    fn finish(&self, _means: &mut BTreeMap<String, f64>) {}
}

/// Image classification: softmax cross-entropy of logits against class ids, and the accuracy.
///
/// # Shapes
/// input `[N, C, H, W]`, target `[N]` ids, output `[N, classes]` logits.
///
/// # Example
/// ```
/// use duet_core::burn::tensor::{Device, Int, Tensor};
/// use duet_train::{Classification, Task};
/// let dev = Device::flex();
/// let logits = Tensor::<2>::from_floats([[2.0, 0.0], [0.0, 0.0]], &dev);
/// let labels = Tensor::<1, Int>::from_ints([0, 1], &dev);
/// let s = Classification::default().loss(logits, &labels, None);
/// // ln(1 + e^-2) and ln 2, averaged; one of two correct (argmax of a tie is the first).
/// let want = ((1.0f64 + (-2.0f64).exp()).ln() + 2f64.ln()) / 2.0;
/// assert!((s.loss.into_scalar::<f32>() as f64 - want).abs() < 1e-6);
/// assert_eq!(s.sums.means(2)["accuracy"], 0.5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Classification {
    /// Label smoothing and ignored labels.
    pub loss: CrossEntropy,
}

impl Task for Classification {
    type Batch = duet_datasets::Batch;
    type Input = Tensor<4>;
    type Target = Tensor<1, Int>;
    type Output = Tensor<2>;

    fn split(&self, b: duet_datasets::Batch) -> (Tensor<4>, Tensor<1, Int>, usize) {
        let n = b.labels.dims()[0];
        (b.images, b.labels, n)
    }

    fn loss(
        &self,
        logits: Tensor<2>,
        labels: &Tensor<1, Int>,
        rows: Option<Range<usize>>,
    ) -> Scored {
        let labels = labels.part(rows, &logits.device().without_autodiff());
        let mut sums = Metrics::default();
        sums.add(
            "accuracy",
            correct(logits.clone().without_autodiff(), labels.clone()),
        );
        Scored {
            loss: cross_entropy(logits, labels, &self.loss),
            sums,
        }
    }

    fn best(&self) -> (&'static str, Better) {
        ("accuracy", Better::Higher)
    }
}

/// The loss of a [`Regression`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RegressionLoss {
    /// Mean squared error.
    #[default]
    Mse,
    /// Mean absolute error.
    L1,
    /// Huber with this `delta`: quadratic within `delta`, linear outside.
    Huber(f64),
}

/// Regression of `[N, F]` targets: a [`RegressionLoss`], also reported as the metric `mae`
/// (mean absolute error per element).
///
/// # Shapes
/// input `[N, D]`, target and output `[N, F]`.
///
/// # Example
/// ```
/// use duet_core::burn::tensor::{Device, Tensor};
/// use duet_train::{Regression, RegressionLoss, Task};
/// let dev = Device::flex();
/// let pred = Tensor::<2>::from_floats([[1.0], [3.0]], &dev);
/// let target = Tensor::<2>::from_floats([[0.0], [0.0]], &dev);
/// let s = Regression { loss: RegressionLoss::Mse }.loss(pred, &target, None);
/// assert_eq!(s.loss.into_scalar::<f32>(), 5.0); // (1 + 9) / 2
/// assert_eq!(s.sums.means(2)["mae"], 2.0);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Regression {
    /// The loss.
    pub loss: RegressionLoss,
}

impl Task for Regression {
    type Batch = (Tensor<2>, Tensor<2>);
    type Input = Tensor<2>;
    type Target = Tensor<2>;
    type Output = Tensor<2>;

    fn split(&self, (x, y): (Tensor<2>, Tensor<2>)) -> (Tensor<2>, Tensor<2>, usize) {
        let n = x.dims()[0];
        (x, y, n)
    }

    fn loss(&self, pred: Tensor<2>, target: &Tensor<2>, rows: Option<Range<usize>>) -> Scored {
        let target = target.part(rows, &pred.device().without_autodiff());
        let features = pred.dims()[1].max(1) as f64;
        let abs = (pred.clone().without_autodiff() - target.clone())
            .abs()
            .sum()
            / features;
        let mut sums = Metrics::default();
        sums.add("mae", abs);
        let loss = match self.loss {
            RegressionLoss::Mse => mse(pred, target, Reduction::Mean),
            RegressionLoss::L1 => l1(pred, target, Reduction::Mean),
            RegressionLoss::Huber(d) => huber(pred, target, d, Reduction::Mean),
        };
        Scored { loss, sums }
    }
}
