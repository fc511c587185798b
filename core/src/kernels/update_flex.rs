//! The `flex` implementations of the fused optimizer updates: one parallel pass, in place.

use super::update::AdamCoeffs;
use super::FusedUpdateOps;
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use rayon::prelude::*;

/// Elements per rayon task: large enough to amortize scheduling, small enough to split a
/// 512x512 weight across both cores.
const CHUNK: usize = 1 << 15;

/// The tensor's elements as a mutable contiguous slice, copying first only if the buffer is
/// shared or strided (so a caller's handle is never written through).
fn values(t: &mut FlexTensor) -> &mut [f32] {
    if !t.is_contiguous() {
        *t = t.to_contiguous();
    }
    let (start, end) = t
        .layout()
        .contiguous_offsets()
        .expect("contiguous after to_contiguous");
    &mut t.storage_mut::<f32>()[start..end]
}

/// Adam on one chunk: the same operations, in the same order, as the tensor-op form (no FMA
/// contraction, so the result is bit-identical).
#[inline(always)]
fn adam_body(m: &mut [f32], v: &mut [f32], g: &mut [f32], c: AdamCoeffs) {
    for ((m, v), g) in m.iter_mut().zip(v.iter_mut()).zip(g.iter_mut()) {
        *m = *m * c.b1 + *g * c.c1;
        *v = *v * c.b2 + (*g * *g) * c.c2;
        *g = *m / (v.sqrt() / c.bc2_sqrt + c.eps) / c.bc1;
    }
}

/// [`adam_body`], then the parameter: `g` becomes `p + a u` (the same operations in the same
/// order as the separate passes, so the result is bit-identical).
#[inline(always)]
fn adam_step_body(p: &[f32], m: &mut [f32], v: &mut [f32], g: &mut [f32], c: AdamCoeffs, a: f32) {
    for (((p, m), v), g) in p
        .iter()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(g.iter_mut())
    {
        *m = *m * c.b1 + *g * c.c1;
        *v = *v * c.b2 + (*g * *g) * c.c2;
        let u = *m / (v.sqrt() / c.bc2_sqrt + c.eps) / c.bc1;
        *g = *p + u * a;
    }
}

/// RMSProp on one chunk, as [`adam_body`].
#[inline(always)]
fn rms_body(v: &mut [f32], g: &mut [f32], (a, c, eps): (f32, f32, f32)) {
    for (v, g) in v.iter_mut().zip(g.iter_mut()) {
        *v = *v * a + (*g * *g) * c;
        *g /= v.sqrt() + eps;
    }
}

impl FusedUpdateOps for Flex {
    fn fused_adam(
        mut m: FlexTensor,
        mut v: FlexTensor,
        mut g: FlexTensor,
        c: AdamCoeffs,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (ms, vs, gs) = (values(&mut m), values(&mut v), values(&mut g));
        assert!(
            ms.len() == gs.len() && vs.len() == gs.len(),
            "fused_adam: sizes m {}, v {}, g {}",
            ms.len(),
            vs.len(),
            gs.len()
        );
        ms.par_chunks_mut(CHUNK)
            .zip(vs.par_chunks_mut(CHUNK).zip(gs.par_chunks_mut(CHUNK)))
            .for_each(|(m, (v, g))| widest!(adam_body(m, v, g, c)));
        (m, v, g)
    }

    fn fused_rms(
        mut v: FlexTensor,
        mut g: FlexTensor,
        a: f32,
        c: f32,
        eps: f32,
    ) -> (FlexTensor, FlexTensor) {
        let (vs, gs) = (values(&mut v), values(&mut g));
        assert_eq!(vs.len(), gs.len(), "fused_rms: sizes v, g");
        vs.par_chunks_mut(CHUNK)
            .zip(gs.par_chunks_mut(CHUNK))
            .for_each(|(v, g)| widest!(rms_body(v, g, (a, c, eps))));
        (v, g)
    }

    fn fused_scale(mut t: FlexTensor, a: f32) -> FlexTensor {
        values(&mut t)
            .par_chunks_mut(CHUNK)
            .for_each(|t| t.iter_mut().for_each(|t| *t *= a));
        t
    }

    fn fused_add_scaled(p: FlexTensor, u: FlexTensor, a: f32) -> FlexTensor {
        // Written into whichever buffer nothing else holds (asked before any second handle
        // exists: `to_contiguous` returns one).
        let into_p = p.is_unique() || !u.is_unique();
        let (mut dst, src) = if into_p { (p, u) } else { (u, p) };
        let src = src.to_contiguous();
        let s = src.as_slice::<f32>().expect("contiguous f32 tensor");
        let d = values(&mut dst);
        assert_eq!(
            d.len(),
            s.len(),
            "fused_add_scaled: sizes {} and {}",
            d.len(),
            s.len()
        );
        let body = |d: &mut [f32], s: &[f32]| {
            if into_p {
                d.iter_mut().zip(s).for_each(|(p, u)| *p += *u * a);
            } else {
                d.iter_mut().zip(s).for_each(|(u, p)| *u = *p + *u * a);
            }
        };
        d.par_chunks_mut(CHUNK)
            .zip(s.par_chunks(CHUNK))
            .for_each(|(d, s)| body(d, s));
        dst
    }

    fn fused_adam_step(
        p: FlexTensor,
        mut m: FlexTensor,
        mut v: FlexTensor,
        mut g: FlexTensor,
        c: AdamCoeffs,
        a: f32,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let p = p.to_contiguous();
        let ps = p.as_slice::<f32>().expect("contiguous f32 tensor");
        let (ms, vs, gs) = (values(&mut m), values(&mut v), values(&mut g));
        assert!(
            ms.len() == gs.len() && vs.len() == gs.len() && ps.len() == gs.len(),
            "fused_adam_step: sizes p {}, m {}, v {}, g {}",
            ps.len(),
            ms.len(),
            vs.len(),
            gs.len()
        );
        // The new parameter goes into the gradient's buffer, which the step consumes.
        ms.par_chunks_mut(CHUNK)
            .zip(vs.par_chunks_mut(CHUNK))
            .zip(gs.par_chunks_mut(CHUNK).zip(ps.par_chunks(CHUNK)))
            .for_each(|((m, v), (g, p))| widest!(adam_step_body(p, m, v, g, c, a)));
        (g, m, v)
    }
}
