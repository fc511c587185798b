//! [`MultiHeadAttention`].

use crate::layer::{expect_inputs, BuildError, Init, Layer, Mode, Shape};
use duet_core::burn::tensor::Device;
use duet_core::ops::{self, AttentionMask, QkvProjection};
use duet_core::{DynTensor, Fans, Initializer, Key, Params};

/// Multi-head attention (batch first) with separate projections `q_proj`, `k_proj`, `v_proj`,
/// `out_proj` (each `weight` `[E, E]` + `bias` `[E]`). Self-attention takes one input; built with
/// [`MultiHeadAttention::cross`] it takes `(query, key, value)`.
///
/// # Shapes
/// `[B, Tq, E]` (and `[B, Tk, E]` twice) -> `[B, Tq, E]`
///
/// # Example
/// ```
/// use duet_functional::{Layer, MultiHeadAttention};
/// let a = MultiHeadAttention::new(2).causal();
/// assert_eq!(a.output_signature(&[vec![3, 5, 8]]).unwrap(), vec![vec![3, 5, 8]]);
/// assert!(MultiHeadAttention::new(3).output_signature(&[vec![3, 5, 8]]).is_err()); // 8 % 3 != 0
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MultiHeadAttention {
    heads: usize,
    causal: bool,
    cross: bool,
}

impl MultiHeadAttention {
    /// Self-attention with `heads` heads.
    pub fn new(heads: usize) -> Self {
        MultiHeadAttention {
            heads,
            causal: false,
            cross: false,
        }
    }
    /// Attention with separate `(query, key, value)` inputs.
    pub fn cross(heads: usize) -> Self {
        MultiHeadAttention {
            heads,
            causal: false,
            cross: true,
        }
    }
    /// With a causal mask.
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }
}

impl Layer for MultiHeadAttention {
    fn name(&self) -> String {
        format!("MultiHeadAttention({})", self.heads)
    }
    fn n_in(&self) -> usize {
        if self.cross {
            3
        } else {
            1
        }
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        let q = &inputs[0];
        let ok = q.len() == 3
            && inputs
                .iter()
                .all(|s| s.len() == 3 && s[0] == q[0] && s[2] == q[2])
            && inputs.last()
                == inputs.get(
                    inputs
                        .len()
                        .saturating_sub(2)
                        .max(if self.cross { 1 } else { 0 }),
                );
        if !ok || q[2] % self.heads != 0 {
            return Err(BuildError::new(self, format!("inputs {inputs:?} do not fit {} heads (need [B, T, E] with E divisible by heads)", self.heads)));
        }
        Ok(vec![q.clone()])
    }
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let e = inputs[0][2];
        let mut params = Params::new();
        for (i, name) in ["q_proj", "k_proj", "v_proj", "out_proj"]
            .iter()
            .enumerate()
        {
            let [kw, kb] = key.fold_in(i as u64).split2();
            let fans = Fans::linear(&[e, e]);
            params.insert(
                format!("{name}.weight"),
                Initializer::GlorotUniform.init([e, e], fans, kw, device),
            );
            params.insert(
                format!("{name}.bias"),
                Initializer::Zeros.init([e], fans, kb, device),
            );
        }
        Ok(Init {
            params,
            state: Params::new(),
        })
    }
    fn forward(
        &self,
        p: &Params,
        s: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let w = |n: &str| {
            (
                p.get::<2>(&format!("{n}.weight"))
                    .expect("attention weight"),
                p.get::<1>(&format!("{n}.bias")).ok(),
            )
        };
        let proj = QkvProjection::Separate {
            q: w("q_proj"),
            k: w("k_proj"),
            v: w("v_proj"),
        };
        let (ow, ob) = w("out_proj");
        let mut it = x.into_iter().map(|t| t.into_rank::<3>());
        let q = it.next().expect("query");
        let (k, v) = if self.cross {
            (it.next().expect("key"), it.next().expect("value"))
        } else {
            (q.clone(), q.clone())
        };
        let mask = AttentionMask {
            causal: self.causal,
            key_padding: None,
        };
        (
            vec![ops::multi_head_attention(q, k, v, &proj, ow, ob, self.heads, &mask).into()],
            s.clone(),
        )
    }
}
