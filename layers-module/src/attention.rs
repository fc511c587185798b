//! [`MultiHeadAttention`] (`duet_core::ops::multi_head_attention`, separate projections).

use crate::config::{param, Build};
use crate::linear::Linear;
use crate::rngs::Rngs;
use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{DenseParams, LayerConfig, MultiHeadAttentionConfig};
use duet_core::ops::{self, AttentionMask, QkvProjection};
use duet_core::DynTensor;

/// Multi-head scaled dot-product attention (PyTorch's `nn.MultiheadAttention`, batch first):
/// `out_proj(concat_h softmax(Q_h K_h^T / sqrt(E / heads) + mask) V_h)` with `Q = q_proj(query)`,
/// `K = k_proj(key)`, `V = v_proj(value)`. Params `q_proj`, `k_proj`, `v_proj`, `out_proj`, each
/// a [`Linear`] `weight` `[E, E]` + `bias` `[E]` (duet-functional's names and layouts). Init:
/// [`MultiHeadAttentionConfig`]'s (Glorot-uniform weights, zero biases), the functional layer's
/// draws; before issue 16 the module drew PyTorch's default `Linear` init instead.
///
/// # Shapes
/// `query [B, Tq, E]`, `key`/`value` `[B, Tk, E]` -> `[B, Tq, E]`
///
/// # Example
/// ```
/// use duet_module::{MultiHeadAttention, Rngs};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let mha = MultiHeadAttention::new(8, 2, &mut Rngs::new(0), &dev);
/// let (q, kv) = (Tensor::<3>::ones([2, 5, 8], &dev), Tensor::<3>::ones([2, 6, 8], &dev));
/// let y = mha.forward(q, kv.clone(), kv, &Default::default());
/// assert_eq!(y.dims(), [2, 5, 8]);
/// // Identical keys give uniform attention: the output is out_proj(v_proj(1)), for every query.
/// let one = Tensor::<2>::ones([1, 8], &dev);
/// let want = mha.out_proj.forward(mha.v_proj.forward(one)).into_data().to_vec::<f32>().unwrap();
/// let got = y.into_data().to_vec::<f32>().unwrap();
/// assert!(got.iter().zip(want.iter().cycle()).all(|(a, b)| (a - b).abs() < 1e-5));
/// ```
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    /// Query projection `[E, E]`.
    pub q_proj: Linear,
    /// Key projection `[E, E]`.
    pub k_proj: Linear,
    /// Value projection `[E, E]`.
    pub v_proj: Linear,
    /// Output projection `[E, E]`.
    pub out_proj: Linear,
    /// Number of heads (divides `E`).
    #[module(skip)]
    pub heads: usize,
}

impl MultiHeadAttention {
    /// `heads` heads over `embed` features; the four projections draw their keys from
    /// `rngs.params` in the order q, k, v, out.
    pub fn new(embed: usize, heads: usize, rngs: &mut Rngs, device: &Device) -> Self {
        assert!(
            heads > 0 && embed.is_multiple_of(heads),
            "MultiHeadAttention: {heads} heads do not divide the embedding size {embed}"
        );
        MultiHeadAttentionConfig::new(heads).build(embed, rngs, device)
    }

    /// Attends `query` to `key`/`value` under `mask` (causal and/or key padding).
    ///
    /// # Shapes
    /// `[B, Tq, E]`, `[B, Tk, E]`, `[B, Tk, E]` -> `[B, Tq, E]`
    pub fn forward(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: &AttentionMask,
    ) -> Tensor<3> {
        let p = |l: &Linear| (l.weight.val(), l.bias.as_ref().map(|b| b.val()));
        let proj = QkvProjection::Separate {
            q: p(&self.q_proj),
            k: p(&self.k_proj),
            v: p(&self.v_proj),
        };
        let (ow, ob) = p(&self.out_proj);
        ops::multi_head_attention(query, key, value, &proj, ow, ob, self.heads, mask)
    }
}

/// Builds the module from the config's init (Glorot-uniform weights, zero biases, the
/// functional layer's draws). The config's `causal` is not stored: pass a mask to `forward`.
impl Build for MultiHeadAttentionConfig {
    type Module = MultiHeadAttention;
    fn build(&self, embed: usize, rngs: &mut Rngs, device: &Device) -> MultiHeadAttention {
        let (p, _) = self.init(embed, rngs.params.next(), device);
        let lin = |d: DenseParams<DynTensor>| Linear {
            weight: param(d.weight),
            bias: d.bias.map(param),
        };
        MultiHeadAttention {
            q_proj: lin(p.q_proj),
            k_proj: lin(p.k_proj),
            v_proj: lin(p.v_proj),
            out_proj: lin(p.out_proj),
            heads: self.heads,
        }
    }
}
