//! [`MultiHeadAttention`].

use crate::layer::{expect_inputs, BuildError, Init, Layer, Mode, Shape};
use crate::values::{forward_via_run, Runs, Values};
use duet_core::burn::tensor::Device;
use duet_core::layers::{
    to_params, AttentionParams, LayerConfig, MultiHeadAttentionConfig, ParamTree,
};
use duet_core::ops::AttentionMask;
use duet_core::transform::Unsupported;
use duet_core::{Key, Params};

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
    /// The shared definition (init and maths): [`MultiHeadAttentionConfig`].
    pub fn config(&self) -> MultiHeadAttentionConfig {
        MultiHeadAttentionConfig::new(self.heads).with_causal(self.causal)
    }
}

impl Runs for MultiHeadAttention {
    fn run<F: Values>(
        &self,
        p: &F::P,
        s: &Params,
        x: Vec<F::V>,
        _: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        if !F::admits::<MultiHeadAttentionConfig>() {
            return Err(Unsupported {
                op: self.name(),
                transform: F::TRANSFORM,
            });
        }
        let p = AttentionParams::<F::V>::read(&mut |n| F::param(p, n))
            .unwrap_or_else(|e| panic!("{}: no param `{}`", self.name(), e.0));
        let mut it = x.into_iter();
        let q = it.next().expect("query");
        let (k, v) = if self.cross {
            (it.next().expect("key"), it.next().expect("value"))
        } else {
            (q.clone(), q.clone())
        };
        let y = self.config().attend(&p, q, k, v, &AttentionMask::default());
        Ok((vec![y], s.clone()))
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
        if !ok || !q[2].is_multiple_of(self.heads) {
            return Err(BuildError::new(self, format!("inputs {inputs:?} do not fit {} heads (need [B, T, E] with E divisible by heads)", self.heads)));
        }
        Ok(vec![q.clone()])
    }
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let (params, state) = self.config().init(inputs[0][2], key, device);
        Ok(Init {
            params: to_params(params),
            state,
        })
    }
    forward_via_run!();
    fn kind(&self) -> Option<&'static str> {
        Some(MultiHeadAttentionConfig::KIND)
    }
}
