//! [`NextToken`]: language modelling as a [`Task`]: windows of token ids in, the next token of
//! every position predicted, perplexity reported.

use crate::shard::Shard;
use crate::task::{Metrics, Scored, Task};
use duet_core::burn::tensor::{Int, Tensor};
use duet_core::ops::{correct, cross_entropy, CrossEntropy};
use std::collections::BTreeMap;
use std::ops::Range;

/// Next-token prediction over windows of `T + 1` ids: the model reads the first `T` and its
/// logits at position `t` are scored against id `t + 1` (mean softmax cross-entropy over every
/// position). Metrics: `accuracy` (of the most likely next token) and `perplexity`
/// (`exp(loss)`, derived); `best.safetensors` is the lowest loss.
///
/// # Shapes
/// batch `[B, T + 1]` ids; input `[B, T]` ids; target `[B, T]` ids; output `[B, T, vocab]`.
///
/// # Example
/// ```
/// use duet_core::burn::tensor::{Device, Int, Tensor};
/// use duet_train::{NextToken, Task};
/// let dev = Device::flex();
/// let (x, next, n) = NextToken.split(Tensor::<2, Int>::from_ints([[0, 1, 1]], &dev));
/// assert_eq!((x.dims(), next.dims(), n), ([1, 2], [1, 2], 1));
/// // Uniform logits over 4 tokens: the loss is ln 4, the perplexity 4.
/// let s = NextToken.loss(Tensor::<3>::zeros([1, 2, 4], &dev), &next, None);
/// let loss = s.loss.into_scalar::<f32>() as f64;
/// assert!((loss - 4f64.ln()).abs() < 1e-6);
/// let mut means = std::collections::BTreeMap::from([("loss".to_string(), loss)]);
/// NextToken.finish(&mut means);
/// assert!((means["perplexity"] - 4.0).abs() < 1e-5);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NextToken;

impl Task for NextToken {
    type Batch = Tensor<2, Int>;
    type Input = Tensor<2, Int>;
    type Target = Tensor<2, Int>;
    type Output = Tensor<3>;

    fn split(&self, window: Tensor<2, Int>) -> (Tensor<2, Int>, Tensor<2, Int>, usize) {
        let [b, t1] = window.dims();
        let x = window.clone().slice([0..b, 0..t1 - 1]);
        (x, window.slice([0..b, 1..t1]), b)
    }

    fn loss(&self, logits: Tensor<3>, next: &Tensor<2, Int>, rows: Option<Range<usize>>) -> Scored {
        let next = next.part(rows, &logits.device().without_autodiff());
        let [b, t, v] = logits.dims();
        let (flat, ids) = (logits.reshape([b * t, v]), next.reshape([b * t]));
        let hits = correct(flat.clone().detach().without_autodiff(), ids.clone());
        let mut sums = Metrics::default();
        // Per window: the fraction of its positions predicted right.
        sums.add("accuracy", hits / t as f32);
        Scored {
            loss: cross_entropy(flat, ids, &CrossEntropy::default()),
            sums,
        }
    }

    fn finish(&self, means: &mut BTreeMap<String, f64>) {
        if let Some(loss) = means.get("loss").copied() {
            means.insert("perplexity".into(), loss.exp());
        }
    }
}
