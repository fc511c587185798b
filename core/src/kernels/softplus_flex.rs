//! The `flex` softplus kernels: `y = max(x, 0) + ln(1 + e^{-|x|})` and its gradient
//! `dx = dy σ(x)`, one pass each (the tensor-op form takes six forward and as many backward
//! passes, each allocating). `e^{-|x|}` and `ln(1 + u)` are polynomials (Cephes' `expf`; the
//! `atanh` series of `ln(1 + u)`), so the loops vectorize at the CPU's widest width instead of
//! calling scalar libm: within 4e-7 relative of float64 (`tests` below).

use super::conv_flex::{slice, tensor};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Elements per parallel chunk (below two chunks the call stays on this thread).
const CHUNK: usize = 1 << 14;

/// `eˣ` for `x <= 0`: `x = n ln 2 + r`, `|r| <= ln 2 / 2`, Cephes' degree-6 polynomial for `eʳ`,
/// scaled by `2ⁿ` through the exponent bits; 0 below -87.3 (the smallest normal float).
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round to nearest by adding and removing 1.5 * 2^23 (no `floor` call to vectorize).
    const ROUND: f32 = 12_582_912.0;
    let under = x < -87.3;
    let x = x.max(-87.3);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if under {
        0.0
    } else {
        y * scale
    }
}

/// `ln(1 + u)` for `u` in `[0, 1]`: `2 atanh(s)`, `s = u / (2 + u) <= 1/3`, by its series to `s¹⁵`.
#[inline(always)]
fn log1p_unit(u: f32) -> f32 {
    let s = u / (2.0 + u);
    let z = s * s;
    let mut p = 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    2.0 * s * (p * z + 1.0)
}

#[inline(always)]
fn softplus_body(x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = x.max(0.0) + log1p_unit(exp_nonpositive(-x.abs()));
    }
}

#[inline(always)]
fn backward_body(x: &[f32], dy: &[f32], out: &mut [f32]) {
    for ((o, &x), &dy) in out.iter_mut().zip(x).zip(dy) {
        let e = exp_nonpositive(-x.abs());
        let inv = 1.0 / (1.0 + e);
        *o = dy * if x >= 0.0 { inv } else { e * inv };
    }
}

/// Runs `f(chunk index, output chunk)` over `out`, in parallel when it is large.
fn chunked(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    if out.len() >= 2 * CHUNK {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, o)| f(i, o));
    } else {
        out.chunks_mut(CHUNK).enumerate().for_each(|(i, o)| f(i, o));
    }
}

/// `max(x, 0) + ln(1 + e^{-|x|})`.
pub(super) fn softplus(x: FlexTensor) -> FlexTensor {
    let x = x.to_contiguous();
    let shape = x.layout().shape().to_vec();
    let xs = slice(&x);
    let mut out = vec![0.0f32; xs.len()];
    chunked(&mut out, |i, o| {
        let x = &xs[i * CHUNK..][..o.len()];
        widest!(softplus_body(x, o))
    });
    tensor(out, shape)
}

/// `dy σ(x)`.
pub(super) fn softplus_backward(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let shape = x.layout().shape().to_vec();
    let (xs, dys) = (slice(&x), slice(&dy));
    assert_eq!(
        xs.len(),
        dys.len(),
        "softplus backward: x and dy differ in size"
    );
    let mut out = vec![0.0f32; xs.len()];
    chunked(&mut out, |i, o| {
        let (x, dy) = (&xs[i * CHUNK..][..o.len()], &dys[i * CHUNK..][..o.len()]);
        widest!(backward_body(x, dy, o))
    });
    tensor(out, shape)
}

#[cfg(test)]
mod tests {
    use crate::{value_and_grad, Key, Params};
    use burn::tensor::Device;

    #[test]
    fn softplus_and_its_gradient_match_float64() {
        let dev = Device::flex();
        // Spans both chunked paths (over 2 * CHUNK elements), large |x| and the exp cut-off.
        let mut v = Key::new(0).normal_vec(60_000, 0.0, 15.0);
        v.extend([
            0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0, 87.0, -87.0, -87.5, 88.0, -100.0, 100.0,
        ]);
        let x = burn::tensor::Tensor::<1>::from_floats(v.as_slice(), &dev);
        let y = super::super::softplus(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let p = Params::new().with("x", x);
        let (_, g) = value_and_grad(
            |p| super::super::softplus(p.get::<1>("x").unwrap()).sum(),
            &p,
        );
        let g = g.get_dyn("x").unwrap().to_vec();
        for ((&x, &y), &g) in v.iter().zip(&y).zip(&g) {
            let x = x as f64;
            let want = x.max(0.0) + (-x.abs()).exp().ln_1p();
            let sig = 1.0 / (1.0 + (-x).exp());
            // Results below the smallest normal float flush to 0 (exp cut-off at -87.3).
            let tiny = 1.2e-38;
            assert!(
                (y as f64 - want).abs() <= 4e-7 * want.abs() + tiny,
                "softplus({x}) = {y}, want {want}"
            );
            assert!(
                (g as f64 - sig).abs() <= 4e-7 * sig + tiny,
                "sigmoid({x}) = {g}, want {sig}"
            );
        }
    }
}
