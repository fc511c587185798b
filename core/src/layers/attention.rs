//! [`MultiHeadAttentionConfig`] and multi-head attention written once over [`Val`].

use super::{Act, Ctx, DenseParams, LayerConfig, Val};
use crate::kernels::AttentionSpec;
use crate::ops::AttentionMask;
use crate::{DynTensor, Fans, Initializer, Key, Params};
use burn::tensor::{Bool, Device, Tensor};

crate::param_tree! {
    /// Attention's params: four `[E, E]` projections with optional `[E]` biases.
    pub struct AttentionParams {
        sub q_proj: DenseParams<V>,
        sub k_proj: DenseParams<V>,
        sub v_proj: DenseParams<V>,
        sub out_proj: DenseParams<V>,
    }
}

/// `0` where allowed, `-inf` where `mask` is true: an additive mask.
fn additive(mask: Tensor<4, Bool>, dims: [usize; 4], device: &Device) -> DynTensor {
    Tensor::<4>::zeros(dims, device)
        .mask_fill(mask, f32::NEG_INFINITY)
        .into()
}

/// Scaled dot-product attention over projected `q`, `k`, `v` (see
/// `ops::multi_head_attention`): split into heads, `softmax(Q K^T / sqrt(Dh) + mask) V`, merge.
/// Masks enter as additive constants (0 / -inf). Without a key-padding mask, values with a fused
/// kernel ([`Val::fused_attention`]: tensors on `flex`) run it instead.
///
/// # Shapes
/// `q`: `[B, Tq, E]`; `k`, `v`: `[B, Tk, E]` -> `[B, Tq, E]` (before the output projection).
pub fn scaled_dot_product<V: Val>(q: V, k: V, v: V, heads: usize, mask: &AttentionMask) -> V {
    let (qd, kd) = (q.dims(), k.dims());
    let (b, tq, e, tk) = (qd[0], qd[1], qd[2], kd[1]);
    if mask.key_padding.is_none() {
        let spec = AttentionSpec {
            heads,
            causal: mask.causal,
        };
        if let Some(out) = V::fused_attention(&q, &k, &v, spec) {
            return out;
        }
    }
    let dh = e / heads;
    let split = |t: V, len: usize| t.reshape(&[b, len, heads, dh]).swap_dims(1, 2); // [B, H, T, Dh]
    let (q, k, v) = (split(q, tq), split(k, tk), split(v, tk));
    let mut scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt()); // [B, H, Tq, Tk]
    let dev = scores.device();
    if mask.causal {
        let causal = Tensor::<2, Bool>::tril_mask([tq, tk], 0, &dev).reshape([1, 1, tq, tk]);
        scores = scores.add(V::constant(additive(causal, [1, 1, tq, tk], &dev)));
    }
    if let Some(pad) = &mask.key_padding {
        assert_eq!(
            pad.dims(),
            [b, tk],
            "multi_head_attention: key_padding {:?} for key {:?}",
            pad.dims(),
            [b, tk, e]
        );
        let pad = pad.clone().reshape([b, 1, 1, tk]);
        scores = scores.add(V::constant(additive(pad, [b, 1, 1, tk], &dev)));
    }
    let attn = scores.act(Act::Softmax);
    attn.matmul(v).swap_dims(1, 2).reshape(&[b, tq, e])
}

/// Multi-head attention (batch first) with separate projections `q_proj`, `k_proj`, `v_proj`,
/// `out_proj`. Defaults: not causal, biases, Glorot-uniform weights, zero biases. As a
/// [`LayerConfig`] it is self-attention; [`MultiHeadAttentionConfig::attend`] takes separate
/// query, key and value.
///
/// # Shapes
/// `[B, T, E] -> [B, T, E]`, `E % heads == 0`.
///
/// # Example
/// ```
/// use duet_core::layers::{LayerConfig, MultiHeadAttentionConfig};
/// let a = MultiHeadAttentionConfig::new(2).with_causal(true);
/// assert_eq!(a.output_shape(&[3, 5, 8]).unwrap(), vec![3, 5, 8]);
/// assert!(MultiHeadAttentionConfig::new(3).output_shape(&[3, 5, 8]).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MultiHeadAttentionConfig {
    /// The number of heads.
    pub heads: usize,
    /// Whether query `i` may only attend to keys `j <= i` (default false).
    pub causal: bool,
    /// Whether the projections have biases (default true).
    pub bias: bool,
    /// The projections' weight initializer (default `GlorotUniform`).
    pub weight_init: Initializer,
    /// The projections' bias initializer (default `Zeros`).
    pub bias_init: Initializer,
}

impl MultiHeadAttentionConfig {
    /// `heads` heads, the defaults.
    pub fn new(heads: usize) -> Self {
        MultiHeadAttentionConfig {
            heads,
            causal: false,
            bias: true,
            weight_init: Initializer::GlorotUniform,
            bias_init: Initializer::Zeros,
        }
    }
    /// With or without a causal mask.
    pub fn with_causal(mut self, causal: bool) -> Self {
        self.causal = causal;
        self
    }
    /// With or without biases.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Attention of `q` over `k`/`v` with these params and `mask` (its `causal` is or-ed with
    /// the config's).
    ///
    /// # Shapes
    /// `q`: `[B, Tq, E]`; `k`, `v`: `[B, Tk, E]` -> `[B, Tq, E]`.
    pub fn attend<V: Val>(
        &self,
        p: &AttentionParams<V>,
        q: V,
        k: V,
        v: V,
        mask: &AttentionMask,
    ) -> V {
        let proj = |d: &DenseParams<V>, x: V| x.dense(d.weight.clone(), d.bias.clone());
        let (q, k, v) = (proj(&p.q_proj, q), proj(&p.k_proj, k), proj(&p.v_proj, v));
        let mask = AttentionMask {
            causal: mask.causal || self.causal,
            key_padding: mask.key_padding.clone(),
        };
        proj(&p.out_proj, scaled_dot_product(q, k, v, self.heads, &mask))
    }
}

impl LayerConfig for MultiHeadAttentionConfig {
    const KIND: &'static str = "multi_head_attention";
    type Params<V: Val> = AttentionParams<V>;

    fn name(&self) -> String {
        format!("MultiHeadAttention({})", self.heads)
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        self.output_shape(s).map(|_| s[2])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        if s.len() != 3 || self.heads == 0 || !s[2].is_multiple_of(self.heads) {
            return Err(format!(
                "inputs {:?} do not fit {} heads (need [B, T, E] with E divisible by heads)",
                [s],
                self.heads
            ));
        }
        Ok(s.to_vec())
    }
    fn init(&self, e: usize, key: Key, device: &Device) -> (AttentionParams<DynTensor>, Params) {
        let proj = |i: u64| {
            let [kw, kb] = key.fold_in(i).split2();
            let fans = Fans::linear(&[e, e]);
            DenseParams {
                weight: self.weight_init.init([e, e], fans, kw, device).into(),
                bias: self
                    .bias
                    .then(|| self.bias_init.init([e], fans, kb, device).into()),
            }
        };
        let p = AttentionParams {
            q_proj: proj(0),
            k_proj: proj(1),
            v_proj: proj(2),
            out_proj: proj(3),
        };
        (p, Params::new())
    }
    fn apply<V: Val>(&self, p: &AttentionParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        self.attend(p, x.clone(), x.clone(), x, &AttentionMask::default())
    }
}
