//! Multi-head attention (batch first), with packed or separate q/k/v projections.

use super::linear::dense;
use crate::layers;
use crate::DynTensor;
use burn::tensor::{Bool, Tensor};

/// The input projections of [`multi_head_attention`], in duet's `[in, out]` layout.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // tensors are handles; boxing would only add an allocation
pub enum QkvProjection {
    /// One `[E, 3E]` weight (columns `[W_q | W_k | W_v]`) and an optional `[3E]` bias: the
    /// transpose of PyTorch's `in_proj_weight`.
    Packed {
        /// `[E, 3E]`.
        weight: Tensor<2>,
        /// `[3E]`.
        bias: Option<Tensor<1>>,
    },
    /// Three `[E, E]` weights and optional `[E]` biases.
    Separate {
        /// `(weight, bias)` of the query projection.
        q: (Tensor<2>, Option<Tensor<1>>),
        /// `(weight, bias)` of the key projection.
        k: (Tensor<2>, Option<Tensor<1>>),
        /// `(weight, bias)` of the value projection.
        v: (Tensor<2>, Option<Tensor<1>>),
    },
}

/// Masks for [`multi_head_attention`].
#[derive(Clone, Debug, Default)]
pub struct AttentionMask {
    /// Query `i` may not attend to keys `j > i`.
    pub causal: bool,
    /// `[B, Tk]`, true where a key is padding (ignored).
    pub key_padding: Option<Tensor<2, Bool>>,
}

/// Multi-head scaled dot-product attention (PyTorch's `nn.MultiheadAttention`, batch first):
/// project `q, k, v`, split the embedding into `heads` of size `Dh = E / heads`, compute
/// `softmax(Q K^T / sqrt(Dh) + mask) V` per head, merge the heads and apply the output projection.
///
/// # Shapes
/// - `query`: `[B, Tq, E]`; `key`, `value`: `[B, Tk, E]`
/// - `out_weight`: `[E, E]`, `out_bias`: `[E]`
/// - output: `[B, Tq, E]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{multi_head_attention, AttentionMask, QkvProjection}};
/// let dev = Device::flex();
/// let eye = Tensor::<2>::eye(2, &dev);
/// let proj = QkvProjection::Separate { q: (eye.clone(), None), k: (eye.clone(), None), v: (eye.clone(), None) };
/// let x = Tensor::<3>::from_floats([[[1.0, 0.0], [1.0, 0.0]]], &dev);
/// // Identical keys: uniform attention, the output is the mean of the values.
/// let y = multi_head_attention(x.clone(), x.clone(), x, &proj, eye, None, 1, &AttentionMask::default());
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0, 1.0, 0.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn multi_head_attention(
    query: Tensor<3>,
    key: Tensor<3>,
    value: Tensor<3>,
    proj: &QkvProjection,
    out_weight: Tensor<2>,
    out_bias: Option<Tensor<1>>,
    heads: usize,
    mask: &AttentionMask,
) -> Tensor<3> {
    let [b, _, e] = query.dims();
    assert!(
        key.dims() == value.dims() && key.dims()[0] == b && key.dims()[2] == e,
        "multi_head_attention: query {:?}, key {:?} and value {:?} do not match ([B, T, E])",
        query.dims(),
        key.dims(),
        value.dims()
    );
    assert!(
        heads > 0 && e.is_multiple_of(heads),
        "multi_head_attention: embed dim {e} is not divisible by {heads} heads"
    );
    assert!(
        out_weight.dims() == [e, e],
        "multi_head_attention: out_weight is {:?} but query {:?} needs [{e}, {e}]",
        out_weight.dims(),
        query.dims()
    );
    let (q, k, v) = match proj {
        QkvProjection::Packed { weight, bias } => {
            assert!(
                weight.dims() == [e, 3 * e],
                "multi_head_attention: packed weight is {:?} but query {:?} needs [{e}, {}]",
                weight.dims(),
                query.dims(),
                3 * e
            );
            let w = |i: usize| weight.clone().slice([0..e, i * e..(i + 1) * e]);
            let bb = |i: usize| bias.clone().map(|b| b.narrow(0, i * e, e));
            (
                dense(query, w(0), bb(0)),
                dense(key, w(1), bb(1)),
                dense(value, w(2), bb(2)),
            )
        }
        QkvProjection::Separate { q, k, v } => (
            dense(query, q.0.clone(), q.1.clone()),
            dense(key, k.0.clone(), k.1.clone()),
            dense(value, v.0.clone(), v.1.clone()),
        ),
    };
    let (q, k, v) = (DynTensor::from(q), DynTensor::from(k), DynTensor::from(v));
    let out = layers::scaled_dot_product(q, k, v, heads, mask).into_rank::<3>();
    dense(out, out_weight, out_bias)
}
