//! The `flex` element-wise activation kernels ([`Unary`]), one pass forward and one backward each
//! (the tensor-op forms take four to six passes each way, each allocating):
//! - softplus `max(x, 0) + ln(1 + e^{-|x|})`, gradient `σ(x)`;
//! - exact GELU `x Φ(x)`, gradient `Φ(x) + x φ(x)`.
//!
//! `eˣ`, `ln(1 + u)` and `erfc` are polynomials (Cephes' `expf`; the `atanh` series of
//! `ln(1 + u)`; Numerical Recipes' Chebyshev `erfc`, relative error below 1.2e-7 everywhere), so
//! the loops vectorize at the CPU's widest width instead of calling scalar libm (`tests` below
//! check them against float64).

use super::conv_flex::{slice, tensor};
use super::Unary;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Elements per parallel chunk (below two chunks the call stays on this thread).
const CHUNK: usize = 1 << 14;

/// `eˣ` for `x <= 0`: `x = n ln 2 + r`, `|r| <= ln 2 / 2`, Cephes' degree-6 polynomial for `eʳ`,
/// scaled by `2ⁿ` through the exponent bits; 0 below -87.3 (the smallest normal float); NaN for NaN.
#[inline(always)]
pub(super) fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round to nearest by adding and removing 1.5 * 2^23 (no `floor` call to vectorize).
    const ROUND: f32 = 12_582_912.0;
    let x_in = x;
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
    // 2^n from the exponent bits: n + 127 lands in the low mantissa bits of `n + 127 + 2^23`,
    // and the shift moves them into the exponent field (no float-to-int conversion, which
    // Rust's saturating `as` would keep scalar).
    const BIAS: f32 = 8_388_608.0 + 127.0;
    let scale = f32::from_bits((n + BIAS).to_bits() << 23);
    // NaN in, NaN out (`max` above had replaced it by the clamp; a select, so it still vectorizes).
    if under {
        0.0
    } else if x_in.is_nan() {
        x_in
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

/// `erfc(z)` for `z >= 0` (Numerical Recipes' `erfcc`, relative error < 1.2e-7).
#[inline(always)]
fn erfc_nonnegative(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let mut p = 0.170_872_77;
    p = p * t - 0.822_152_23;
    p = p * t + 1.488_515_9;
    p = p * t - 1.135_204;
    p = p * t + 0.278_868_07;
    p = p * t - 0.186_288_06;
    p = p * t + 0.096_784_18;
    p = p * t + 0.374_091_96;
    p = p * t + 1.000_023_7;
    p = p * t - 1.265_512_2;
    t * exp_nonpositive((p - z * z).min(0.0))
}

/// The standard normal CDF `Φ(x) = ½ erfc(-x / √2)`.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    let half_tail = 0.5 * erfc_nonnegative(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    if x >= 0.0 {
        1.0 - half_tail
    } else {
        half_tail
    }
}

#[inline(always)]
fn forward_body(op: Unary, x: &[f32], out: &mut [f32]) {
    match op {
        Unary::Softplus => {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = x.max(0.0) + log1p_unit(exp_nonpositive(-x.abs()));
            }
        }
        Unary::Gelu => {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = x * normal_cdf(x);
            }
        }
    }
}

#[inline(always)]
fn backward_body(op: Unary, x: &[f32], dy: &[f32], out: &mut [f32]) {
    match op {
        Unary::Softplus => {
            for ((o, &x), &dy) in out.iter_mut().zip(x).zip(dy) {
                let e = exp_nonpositive(-x.abs());
                let inv = 1.0 / (1.0 + e);
                *o = dy * if x >= 0.0 { inv } else { e * inv };
            }
        }
        Unary::Gelu => {
            // 1 / sqrt(2 pi)
            const INV_SQRT_2PI: f32 = 0.398_942_3;
            for ((o, &x), &dy) in out.iter_mut().zip(x).zip(dy) {
                let pdf = INV_SQRT_2PI * exp_nonpositive(-0.5 * x * x);
                *o = dy * (normal_cdf(x) + x * pdf);
            }
        }
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

/// `op(x)`.
pub(super) fn forward(x: FlexTensor, op: Unary) -> FlexTensor {
    let x = x.to_contiguous();
    let shape = x.layout().shape().to_vec();
    let xs = slice(&x);
    let mut out = vec![0.0f32; xs.len()];
    chunked(&mut out, |i, o| {
        let x = &xs[i * CHUNK..][..o.len()];
        widest!(forward_body(op, x, o))
    });
    tensor(out, shape)
}

/// `dy op'(x)`.
pub(super) fn backward(x: FlexTensor, dy: FlexTensor, op: Unary) -> FlexTensor {
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
        widest!(backward_body(op, x, dy, o))
    });
    tensor(out, shape)
}

#[cfg(test)]
mod tests {
    use crate::{value_and_grad, Key, Params};
    use burn::tensor::Device;

    #[test]
    fn gelu_and_its_gradient_match_float64() {
        let dev = Device::flex();
        let mut v = Key::new(1).normal_vec(50_000, 0.0, 3.0);
        v.extend([
            0.0, 1e-30, -1e-30, 5.0, -5.0, 9.0, -9.0, 13.0, -13.0, 40.0, -40.0,
        ]);
        let x = burn::tensor::Tensor::<1>::from_floats(v.as_slice(), &dev);
        let y = super::super::gelu(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let p = Params::new().with("x", x);
        let (_, g) = value_and_grad(|p| super::super::gelu(p.get::<1>("x").unwrap()).sum(), &p);
        let g = g.get_dyn("x").unwrap().to_vec();
        for ((&x, &y), &g) in v.iter().zip(&y).zip(&g) {
            let x = x as f64;
            let cdf = 0.5 * erfc(-x / std::f64::consts::SQRT_2);
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let (want_y, want_g) = (x * cdf, cdf + x * pdf);
            // Relative to the value, plus what rounding x itself costs near the kink.
            let tol = |w: f64| 1e-6 * w.abs() + 1e-7 * x.abs().min(1.0) + 1e-37;
            assert!(
                (y as f64 - want_y).abs() <= tol(want_y),
                "gelu({x}) = {y}, want {want_y}"
            );
            assert!(
                (g as f64 - want_g).abs() <= tol(want_g),
                "gelu'({x}) = {g}, want {want_g}"
            );
        }
    }

    /// `erfc` in float64 (the complementary error function by its continued fraction for
    /// large arguments and `1 - erf` by its series for small ones).
    fn erfc(z: f64) -> f64 {
        if z < 0.0 {
            return 2.0 - erfc(-z);
        }
        if z < 3.0 {
            // erf by its Maclaurin series: converges fast for z < 3 in float64.
            let (mut term, mut sum, mut k) = (z, z, 0.0);
            while term.abs() > 1e-18 * sum.abs() {
                k += 1.0;
                term *= -z * z / k;
                sum += term / (2.0 * k + 1.0);
            }
            return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum;
        }
        // Lentz's continued fraction for erfc.
        let mut f = 0.0;
        for n in (1..200).rev() {
            f = (n as f64 / 2.0) / (z + f);
        }
        (-z * z).exp() / std::f64::consts::PI.sqrt() / (z + f)
    }

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
