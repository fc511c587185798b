//! A decoder-only Transformer language model (GPT-2's structure as in nanoGPT) in both APIs,
//! with nanoGPT's parameter paths (`transformer.wte.weight`, `transformer.h.0.ln_1.weight`,
//! `transformer.h.0.mlp.c_fc.weight`, `lm_head.weight`) and separate attention projections
//! named as GPT-Neo's (`attn.q_proj`, `k_proj`, `v_proj`, `out_proj`).
//!
//! `logits = lm_head(ln_f(blocks(wte(ids) + wpe(0..T))))`, each block pre-norm:
//! `x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))` with causal multi-head self-attention and an
//! MLP `c_proj(gelu(c_fc(x)))` of width `4 C`. No weight tying; no dropout.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::layers::DenseConfig;
use duet_core::ops::AttentionMask;
use duet_core::{DynTensor, Mode};
use duet_functional::{
    serial, Add, Dense, Dup, Embedding, Fn, Gelu, LayerNorm, MultiHeadAttention, Residual, Serial,
    Swap,
};
use duet_module::{
    Build, Embedding as EmbeddingModule, LayerNorm as LayerNormModule, Linear,
    MultiHeadAttention as AttentionModule, Rngs,
};
use duet_train::Forward;

/// A GPT's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptConfig {
    /// Vocabulary size (characters for the character-level model).
    pub vocab: usize,
    /// Longest context (rows of the position embedding).
    pub block_size: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads (divide `embd`).
    pub heads: usize,
    /// Width `C`.
    pub embd: usize,
}

impl GptConfig {
    /// The benchmark's model (issue W7): 6 layers, 6 heads, width 192, context 128.
    pub fn small(vocab: usize) -> Self {
        GptConfig {
            vocab,
            block_size: 128,
            layers: 6,
            heads: 6,
            embd: 192,
        }
    }
}

/// The checkpoint metadata key of a GPT's sizes and vocabulary ([`GptConfig::to_json`]).
pub const GPT_KEY: &str = "duet.gpt";

impl GptConfig {
    /// The sizes and the vocabulary (the characters of the ids, in order) as JSON, for a
    /// checkpoint's [`GPT_KEY`]: what `duet generate` needs to rebuild the model and decode.
    ///
    /// # Example
    /// ```
    /// use duet_examples::gpt::GptConfig;
    /// let cfg = GptConfig { vocab: 3, block_size: 8, layers: 1, heads: 2, embd: 4 };
    /// let json = cfg.to_json(&['\n', 'a', 'b']);
    /// assert_eq!(GptConfig::from_json(&json).unwrap(), (cfg, vec!['\n', 'a', 'b']));
    /// assert!(GptConfig::from_json(&json.replace("\"heads\":2", "\"heads\":3")).is_err());
    /// ```
    pub fn to_json(&self, vocab: &[char]) -> String {
        let chars: String = vocab.iter().collect();
        serde_json::json!({
            "vocab": chars, "block_size": self.block_size, "layers": self.layers,
            "heads": self.heads, "embd": self.embd,
        })
        .to_string()
    }

    /// Reads [`to_json`](Self::to_json)'s JSON back, checking every size (what a file can
    /// claim is bounded before anything is allocated).
    ///
    /// # Errors
    /// A phrase naming the field that is missing or out of range.
    pub fn from_json(json: &str) -> Result<(GptConfig, Vec<char>), String> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("{GPT_KEY} is not JSON: {e}"))?;
        let size = |k: &str, max: u64| -> Result<usize, String> {
            match v[k].as_u64() {
                Some(n) if (1..=max).contains(&n) => Ok(n as usize),
                _ => Err(format!(
                    "{GPT_KEY}: `{k}` must be an integer in 1..={max}, got {}",
                    v[k]
                )),
            }
        };
        let vocab: Vec<char> = v["vocab"]
            .as_str()
            .ok_or_else(|| format!("{GPT_KEY}: no `vocab` string"))?
            .chars()
            .collect();
        if vocab.is_empty() || vocab.len() > 65_536 || vocab.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "{GPT_KEY}: `vocab` must be 1 to 65536 distinct characters in sorted order"
            ));
        }
        let cfg = GptConfig {
            vocab: vocab.len(),
            block_size: size("block_size", 4096)?,
            layers: size("layers", 64)?,
            heads: size("heads", 64)?,
            embd: size("embd", 4096)?,
        };
        if !cfg.embd.is_multiple_of(cfg.heads) {
            return Err(format!(
                "{GPT_KEY}: {} heads do not divide the width {}",
                cfg.heads, cfg.embd
            ));
        }
        Ok((cfg, vocab))
    }
}

/// Position ids `0..T` for every row of `[B, T]` ids (carried as floats, as token ids are).
fn positions() -> Fn {
    Fn::new("Positions", |x: Vec<DynTensor>| {
        let ids = x.into_iter().next().expect("one input");
        let dims = ids.dims();
        let (b, t) = (dims[0], dims[1]);
        let row = Tensor::<1, Int>::arange(0..t as i64, &ids.device()).float();
        vec![DynTensor::from(row.reshape([1, t]).repeat_dim(0, b))]
    })
    .with_shape(|s| match s {
        [x] if x.len() == 2 => Ok(vec![x.clone()]),
        _ => Err(format!("Positions expects one [B, T] input, got {s:?}")),
    })
}

/// The GPT (functional) for `[B, T]` token ids (floats holding integers, `T <= block_size`).
///
/// # Shapes
/// `[B, T] -> [B, T, vocab]`
///
/// # Example
/// ```
/// use duet_examples::gpt::{gpt, GptConfig};
/// use duet_functional::LayerExt;
/// use duet_core::{burn::tensor::Device, Key};
/// let cfg = GptConfig { vocab: 11, block_size: 8, layers: 2, heads: 2, embd: 16 };
/// let (p, _) = gpt(cfg).init_model(&[1, 8], Key::new(0), &Device::flex()).unwrap();
/// assert_eq!(p.num_params(), 7_072);
/// assert!(p.contains("transformer.h.1.attn.q_proj.weight") && p.contains("lm_head.weight"));
/// ```
pub fn gpt(cfg: GptConfig) -> Serial {
    let c = cfg.embd;
    let embed = serial![
        Dup,
        "wte" => Embedding::new(cfg.vocab, c),
        Swap,
        "wpe" => serial![positions(), "" => Embedding::new(cfg.block_size, c)],
        Add,
    ];
    let block = || {
        let attn = serial!["ln_1" => LayerNorm::new(), "attn" => MultiHeadAttention::new(cfg.heads).causal()];
        let mlp = serial!["c_fc" => Dense::new(4 * c), Gelu, "c_proj" => Dense::new(c)];
        let mlp = serial!["ln_2" => LayerNorm::new(), "mlp" => mlp];
        serial!["" => Residual::new(attn).inline(), "" => Residual::new(mlp).inline()]
    };
    let blocks: Vec<Box<dyn duet_functional::Layer>> = (0..cfg.layers)
        .map(|_| Box::new(block()) as Box<dyn duet_functional::Layer>)
        .collect();
    serial![
        "transformer" => serial!["" => embed, "h" => Serial::new(blocks), "ln_f" => LayerNorm::new()],
        "lm_head" => Dense::new(cfg.vocab).without_bias(),
    ]
}

/// The MLP of a block: `c_proj(gelu(c_fc(x)))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `C -> 4C`.
    pub c_fc: Linear,
    /// `4C -> C`.
    pub c_proj: Linear,
}

/// A pre-norm Transformer block.
#[derive(Module, Debug)]
pub struct Block {
    /// Before attention.
    pub ln_1: LayerNormModule,
    /// Causal self-attention.
    pub attn: AttentionModule,
    /// Before the MLP.
    pub ln_2: LayerNormModule,
    /// The MLP.
    pub mlp: Mlp,
}

impl Block {
    /// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
    ///
    /// # Shapes
    /// `[B, T, C] -> [B, T, C]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let causal = AttentionMask {
            causal: true,
            key_padding: None,
        };
        let h = self.ln_1.forward(x.clone());
        let x = x + self.attn.forward(h.clone(), h.clone(), h, &causal);
        let h = self.ln_2.forward(x.clone());
        let h = duet_core::ops::activation::gelu(self.mlp.c_fc.forward(h));
        x + self.mlp.c_proj.forward(h)
    }
}

/// Embeddings, blocks and the final norm.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Token embedding `[vocab, C]`.
    pub wte: EmbeddingModule,
    /// Position embedding `[block_size, C]`.
    pub wpe: EmbeddingModule,
    /// The blocks.
    pub h: Vec<Block>,
    /// The final layer norm.
    pub ln_f: LayerNormModule,
}

/// The GPT (module API); see the module docs.
///
/// # Shapes
/// `[B, T]` ids -> `[B, T, vocab]` logits (`T <= block_size`)
///
/// # Example
/// ```
/// use duet_examples::gpt::{Gpt, GptConfig};
/// use duet_core::{burn::tensor::Device, module_params};
/// let cfg = GptConfig { vocab: 11, block_size: 8, layers: 2, heads: 2, embd: 16 };
/// let m = Gpt::new(cfg, &mut duet_module::Rngs::new(0), &Device::flex());
/// assert_eq!(module_params(&m).num_params(), 7_072);
/// ```
#[derive(Module, Debug)]
pub struct Gpt {
    /// Everything up to the final norm.
    pub transformer: Transformer,
    /// `C -> vocab`, no bias.
    pub lm_head: Linear,
}

impl Gpt {
    /// A GPT of `cfg`'s sizes.
    pub fn new(cfg: GptConfig, rngs: &mut Rngs, dev: &Device) -> Self {
        let c = cfg.embd;
        let h = (0..cfg.layers)
            .map(|_| Block {
                ln_1: LayerNormModule::new(c, dev),
                attn: AttentionModule::new(c, cfg.heads, rngs, dev),
                ln_2: LayerNormModule::new(c, dev),
                mlp: Mlp {
                    c_fc: Linear::new(c, 4 * c, rngs, dev),
                    c_proj: Linear::new(4 * c, c, rngs, dev),
                },
            })
            .collect();
        Gpt {
            transformer: Transformer {
                wte: EmbeddingModule::new(cfg.vocab, c, rngs, dev),
                wpe: EmbeddingModule::new(cfg.block_size, c, rngs, dev),
                h,
                ln_f: LayerNormModule::new(c, dev),
            },
            lm_head: DenseConfig::new(cfg.vocab)
                .without_bias()
                .build(c, rngs, dev),
        }
    }
}

impl Forward<Tensor<2, Int>, Tensor<3>> for Gpt {
    fn forward(&self, ids: Tensor<2, Int>, _: Mode) -> Tensor<3> {
        let [b, t] = ids.dims();
        let pos = Tensor::<1, Int>::arange(0..t as i64, &ids.device())
            .reshape([1, t])
            .repeat_dim(0, b);
        let tr = &self.transformer;
        let mut x = tr.wte.forward(ids) + tr.wpe.forward(pos);
        for blk in &tr.h {
            x = blk.forward(x);
        }
        self.lm_head.forward(tr.ln_f.forward(x))
    }
}
