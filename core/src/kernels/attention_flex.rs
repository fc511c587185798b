//! Fused scaled dot-product attention on `flex` ([`super::attention`]), forward and backward.
//!
//! Per batch entry `b` (in parallel) and head `h`, with `Q, K, V` the head's `[T, Dh]` column
//! blocks of the `[B, T, E]` inputs (read in place through strides, no head split or merge):
//! - forward: `S = Q Kᵀ` (one gemm, written straight into the probabilities' buffer), then one
//!   pass per row: scale by `1/√Dh`, causal mask (keys `j > i` get probability 0), max, `e^{s - max}`
//!   (the polynomial `exp` of `unary_flex`, vectorized), normalise; `O = P V` into the output's
//!   column block;
//! - backward, from the saved `P`: `dP = dO Vᵀ`, `dV = Pᵀ dO`,
//!   `dS = P ∘ (dP - rowsum(dP ∘ P)) / √Dh`, `dQ = dS K`, `dK = dSᵀ Q`.
//!
//! The tensor-op form is a head split (copy), a batched matmul, a scale, a mask add, a softmax
//! (five passes) and a batched matmul and merge (copy), each with an autodiff node and a buffer.

use super::conv_flex::{matmul, slice, tensor};
use super::unary_flex::exp_nonpositive;
use super::AttentionSpec;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// `[B, T, E]` dims of a contiguous tensor.
fn dims3(t: &FlexTensor, what: &str) -> [usize; 3] {
    let s = t.layout().shape();
    assert!(s.len() == 3, "attention: {what} is {s:?}, not [B, T, E]");
    [s[0], s[1], s[2]]
}

struct Geom {
    b: usize,
    tq: usize,
    tk: usize,
    e: usize,
    heads: usize,
    dh: usize,
}

fn geom(q: &FlexTensor, k: &FlexTensor, v: &FlexTensor, spec: AttentionSpec) -> Geom {
    let ([b, tq, e], kd, vd) = (dims3(q, "query"), dims3(k, "key"), dims3(v, "value"));
    assert!(
        kd == vd && kd[0] == b && kd[2] == e,
        "attention: query {:?}, key {kd:?} and value {vd:?} do not match",
        [b, tq, e]
    );
    assert!(
        spec.heads > 0 && e % spec.heads == 0,
        "attention: {e} features do not split into {} heads",
        spec.heads
    );
    Geom {
        b,
        tq,
        tk: kd[1],
        e,
        heads: spec.heads,
        dh: e / spec.heads,
    }
}

/// Keys row `i` may attend to: all, or `j <= i` when causal (top-left aligned, as a
/// `tril` mask).
fn valid(i: usize, tk: usize, causal: bool) -> usize {
    if causal {
        (i + 1).min(tk)
    } else {
        tk
    }
}

#[inline(always)]
fn softmax_rows(p: &mut [f32], tk: usize, scale: f32, causal: bool) {
    for (i, row) in p.chunks_mut(tk).enumerate() {
        let (live, dead) = row.split_at_mut(valid(i, tk, causal));
        let max = live.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)) * scale;
        let mut sum = 0.0f32;
        for s in live.iter_mut() {
            *s = exp_nonpositive(*s * scale - max);
            sum += *s;
        }
        let inv = 1.0 / sum;
        live.iter_mut().for_each(|s| *s *= inv);
        dead.fill(0.0);
    }
}

/// `dS = P ∘ (dP - rowsum(dP ∘ P)) * scale`, in place in `dp`.
#[inline(always)]
fn softmax_backward_rows(dp: &mut [f32], p: &[f32], tk: usize, scale: f32) {
    for (d, p) in dp.chunks_mut(tk).zip(p.chunks(tk)) {
        let dot: f32 = d.iter().zip(p).map(|(d, p)| d * p).sum();
        d.iter_mut()
            .zip(p)
            .for_each(|(d, &p)| *d = p * (*d - dot) * scale);
    }
}

/// Forward: `(out [B, Tq, E], probs [B, H, Tq, Tk])`.
pub(super) fn forward(
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    spec: AttentionSpec,
) -> (FlexTensor, FlexTensor) {
    let (q, k, v) = (q.to_contiguous(), k.to_contiguous(), v.to_contiguous());
    let g = geom(&q, &k, &v, spec);
    let (qs, ks, vs) = (slice(&q), slice(&k), slice(&v));
    let scale = 1.0 / (g.dh as f32).sqrt();
    let (e, dh, tq, tk) = (g.e, g.dh, g.tq, g.tk);
    let mut out = vec![0.0f32; g.b * tq * e];
    let mut probs = vec![0.0f32; g.b * g.heads * tq * tk];
    out.par_chunks_mut(tq * e)
        .zip(probs.par_chunks_mut(g.heads * tq * tk))
        .enumerate()
        .for_each(|(b, (o, p))| {
            let (qb, kb, vb) = (
                &qs[b * tq * e..][..tq * e],
                &ks[b * tk * e..][..tk * e],
                &vs[b * tk * e..][..tk * e],
            );
            for (h, p) in p.chunks_mut(tq * tk).enumerate() {
                let c = h * dh;
                // S = Q K^T: K^T[d, j] = k[j, c + d].
                matmul(
                    (tq, tk, dh),
                    p,
                    tk,
                    false,
                    &qb[c..],
                    (e, 1),
                    &kb[c..],
                    (1, e),
                );
                widest!(softmax_rows(p, tk, scale, spec.causal));
                matmul(
                    (tq, dh, tk),
                    &mut o[c..],
                    e,
                    false,
                    p,
                    (tk, 1),
                    &vb[c..],
                    (e, 1),
                );
            }
        });
    (
        tensor(out, vec![g.b, tq, e]),
        tensor(probs, vec![g.b, g.heads, tq, tk]),
    )
}

/// Backward: `(dq, dk, dv)` from the saved probabilities and `dout [B, Tq, E]`.
pub(super) fn backward(
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    probs: FlexTensor,
    dout: FlexTensor,
    spec: AttentionSpec,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (q, k, v) = (q.to_contiguous(), k.to_contiguous(), v.to_contiguous());
    let (probs, dout) = (probs.to_contiguous(), dout.to_contiguous());
    let g = geom(&q, &k, &v, spec);
    let (e, dh, tq, tk) = (g.e, g.dh, g.tq, g.tk);
    assert_eq!(dims3(&dout, "output gradient"), [g.b, tq, e]);
    assert_eq!(slice(&probs).len(), g.b * g.heads * tq * tk);
    let (qs, ks, vs, ps, dos) = (slice(&q), slice(&k), slice(&v), slice(&probs), slice(&dout));
    let scale = 1.0 / (dh as f32).sqrt();
    let (mut dq, mut dk, mut dv) = (
        vec![0.0f32; g.b * tq * e],
        vec![0.0f32; g.b * tk * e],
        vec![0.0f32; g.b * tk * e],
    );
    dq.par_chunks_mut(tq * e)
        .zip(dk.par_chunks_mut(tk * e))
        .zip(dv.par_chunks_mut(tk * e))
        .enumerate()
        .for_each(|(b, ((dq, dk), dv))| {
            let (qb, kb, vb, dob) = (
                &qs[b * tq * e..][..tq * e],
                &ks[b * tk * e..][..tk * e],
                &vs[b * tk * e..][..tk * e],
                &dos[b * tq * e..][..tq * e],
            );
            let mut ds = vec![0.0f32; tq * tk];
            for h in 0..g.heads {
                let (c, p) = (h * dh, &ps[(b * g.heads + h) * tq * tk..][..tq * tk]);
                // dP = dO V^T, dV = P^T dO.
                matmul(
                    (tq, tk, dh),
                    &mut ds,
                    tk,
                    false,
                    &dob[c..],
                    (e, 1),
                    &vb[c..],
                    (1, e),
                );
                matmul(
                    (tk, dh, tq),
                    &mut dv[c..],
                    e,
                    false,
                    p,
                    (1, tk),
                    &dob[c..],
                    (e, 1),
                );
                widest!(softmax_backward_rows(&mut ds, p, tk, scale));
                // dQ = dS K, dK = dS^T Q.
                matmul(
                    (tq, dh, tk),
                    &mut dq[c..],
                    e,
                    false,
                    &ds,
                    (tk, 1),
                    &kb[c..],
                    (e, 1),
                );
                matmul(
                    (tk, dh, tq),
                    &mut dk[c..],
                    e,
                    false,
                    &ds,
                    (1, tk),
                    &qb[c..],
                    (e, 1),
                );
            }
        });
    (
        tensor(dq, vec![g.b, tq, e]),
        tensor(dk, vec![g.b, tk, e]),
        tensor(dv, vec![g.b, tk, e]),
    )
}
