//! Layers: the functional faces of `duet_core::layers`' configs (each infers its weight shapes
//! from the input signature), multi-head attention and the losses.
//!
//! Parameter names and layouts are shared with duet-module: `weight` (dense `[in, out]`, conv
//! `[out, in/groups, k..]`, conv-transpose `[in, out/groups, kh, kw]`, embedding `[vocab, dim]`),
//! `bias`; batch norm keeps `running_mean` and `running_var` in the state tree; recurrent layers
//! use `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`; attention `q_proj`, `k_proj`, `v_proj`,
//! `out_proj` (each `weight` + `bias`).

mod activation;
mod attention;
mod conv;
mod dense;
mod dropout;
mod embedding;
mod loss;
mod norm;
mod pool;
mod recurrent;
mod reshape;

pub use activation::*;
pub use attention::*;
pub use conv::*;
pub use dense::*;
pub use dropout::*;
pub use embedding::*;
pub use loss::*;
pub use norm::*;
pub use pool::*;
pub use recurrent::*;
pub use reshape::*;
