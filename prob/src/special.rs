//! Special functions on tensors: `ln Γ(x)` and the digamma function `ψ(x) = d/dx ln Γ(x)`.
//!
//! burn has neither. Both are built from element-wise tensor ops (a shift by six with the
//! recurrence `Γ(x + 1) = x Γ(x)`, then the Stirling / asymptotic series at `z = x + 6 >= 6`), so
//! they run on every backend and autodiff differentiates them: the gradient of [`lgamma`] is the
//! derivative of its series, which approximates `ψ` as closely as [`digamma`] does, and the
//! gradient of [`digamma`] approximates the trigamma function the same way.
//!
//! Accuracy in float32 (measured against float64 references in `tests/special.rs`, over
//! `x` in `[1e-4, 1e6]`): absolute error below `3e-6 + 1e-6 |f(x)|` for both functions and for the
//! trigamma function reached by autodiff. The domain is `x > 0`, which is all the distributions
//! need; `x <= 0` gives NaN.

use burn::tensor::Tensor;

/// `0.5 ln(2π)`.
const HALF_LN_2PI: f32 = 0.918_938_5;
/// How far the recurrence shifts `x` before the asymptotic series is used.
const SHIFT: usize = 6;

/// `ln Γ(x)`, element-wise, for `x > 0`.
///
/// `ln Γ(x) = ln Γ(x + 6) - Σ_{k=0}^{5} ln(x + k)`, and at `z = x + 6`:
/// `ln Γ(z) ≈ (z - ½) ln z - z + ½ ln 2π + 1/(12z) - 1/(360z³) + 1/(1260z⁵) - 1/(1680z⁷)`.
///
/// # Shapes
/// Any; the result has the shape of `x`.
///
/// # Example
/// ```
/// use duet_prob::special::lgamma;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<1>::from_floats([0.5, 1.0, 4.0, 100.0], &Device::flex());
/// let y = lgamma(x).into_data().try_to_vec::<f32>().unwrap();
/// let want = [0.572_364_9, 0.0, 1.791_759_5, 359.134_2]; // ln(√π), ln 1, ln 6, ln 99!
/// for (a, b) in y.iter().zip(want) {
///     assert!((a - b).abs() < 3e-6 + 1e-6 * b.abs(), "{a} vs {b}");
/// }
/// ```
pub fn lgamma<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let mut shift_logs = x.clone().log();
    for k in 1..SHIFT {
        shift_logs = shift_logs + (x.clone() + k as f32).log();
    }
    let z = x + SHIFT as f32;
    let zi = z.clone().recip();
    let zi2 = zi.clone().square();
    let series = zi
        * ((((zi2.clone() * (-1.0 / 1680.0) + 1.0 / 1260.0) * zi2.clone()) - 1.0 / 360.0) * zi2
            + 1.0 / 12.0);
    (z.clone() - 0.5) * z.clone().log() - z + HALF_LN_2PI + series - shift_logs
}

/// The digamma function `ψ(x) = d/dx ln Γ(x)`, element-wise, for `x > 0`.
///
/// `ψ(x) = ψ(x + 6) - Σ_{k=0}^{5} 1/(x + k)`, and at `z = x + 6`:
/// `ψ(z) ≈ ln z - 1/(2z) - 1/(12z²) + 1/(120z⁴) - 1/(252z⁶) + 1/(240z⁸) - 1/(132z¹⁰)`.
///
/// # Shapes
/// Any; the result has the shape of `x`.
///
/// # Example
/// ```
/// use duet_prob::special::digamma;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 0.5], &Device::flex());
/// let y = digamma(x).into_data().try_to_vec::<f32>().unwrap();
/// // -γ, 1 - γ, -γ - 2 ln 2
/// let want = [-0.577_215_7, 0.422_784_3, -1.963_510_0];
/// for (a, b) in y.iter().zip(want) {
///     assert!((a - b).abs() < 3e-6, "{a} vs {b}");
/// }
/// ```
pub fn digamma<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let mut shift = x.clone().recip();
    for k in 1..SHIFT {
        shift = shift + (x.clone() + k as f32).recip();
    }
    let z = x + SHIFT as f32;
    let zi = z.clone().recip();
    let zi2 = zi.clone().square();
    // -1/(12z²) + 1/(120z⁴) - 1/(252z⁶) + 1/(240z⁸) - 1/(132z¹⁰), by Horner in 1/z².
    let series = zi2.clone()
        * (((((zi2.clone() * (-1.0 / 132.0) + 1.0 / 240.0) * zi2.clone() - 1.0 / 252.0)
            * zi2.clone()
            + 1.0 / 120.0)
            * zi2)
            - 1.0 / 12.0);
    z.log() - zi * 0.5 + series - shift
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b)`, element-wise.
///
/// # Shapes
/// `a` and `b` of one shape; the result has it too.
///
/// # Example
/// ```
/// use duet_prob::special::lbeta;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let a = Tensor::<1>::from_floats([1.0, 2.0], &dev);
/// let b = Tensor::<1>::from_floats([1.0, 3.0], &dev);
/// let y = lbeta(a, b).into_data().try_to_vec::<f32>().unwrap();
/// assert!(y[0].abs() < 3e-6); // B(1, 1) = 1
/// assert!((y[1] - (1.0f32 / 12.0).ln()).abs() < 3e-6); // B(2, 3) = 1/12
/// ```
pub fn lbeta<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    lgamma(a.clone()) + lgamma(b.clone()) - lgamma(a + b)
}
