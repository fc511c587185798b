//! Fused optimizer updates: one pass over each parameter instead of one pass per element-wise op.
//!
//! An Adam step written as tensor ops (`m * b1 + g * c1`, `g.square()`, `sqrt`, ...) reads and
//! writes every parameter-sized buffer about a dozen times; on `flex` that is a quarter of an MLP
//! training step. [`adam_moments`] and [`rms_moments`] do the same arithmetic, in the same order
//! (so the results are bit-identical to the tensor-op form), in one pass, writing into the
//! buffers of the moments and the gradient when they are uniquely owned. On other devices and
//! dtypes they run the tensor-op form, which is the reference.

use super::{is_plain_flex, FusedUpdateOps};
use crate::DynTensor;
use burn::backend::{tensor::FloatTensor, Dispatch};
use burn::tensor::{DType, Tensor};

/// Scalars of one Adam step, computed on the host by the optimizer: decays `b1`, `b2`, their
/// complements `c1 = 1 - b1`, `c2 = 1 - b2` (rounded from f64), the bias corrections
/// `bc1 = 1 - b1^t` and `bc2_sqrt = sqrt(1 - b2^t)`, and `eps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamCoeffs {
    /// First-moment decay.
    pub b1: f32,
    /// `1 - b1`.
    pub c1: f32,
    /// Second-moment decay.
    pub b2: f32,
    /// `1 - b2`.
    pub c2: f32,
    /// `1 - b1^t`.
    pub bc1: f32,
    /// `sqrt(1 - b2^t)`.
    pub bc2_sqrt: f32,
    /// Added to the denominator after bias correction.
    pub eps: f32,
}

/// One Adam step on one parameter: returns `(m', v', u)` with
/// `m' = b1 m + c1 g`, `v' = b2 v + c2 g^2`, `u = m' / (sqrt(v') / bc2_sqrt + eps) / bc1`.
///
/// Fused into one pass on `flex` `f32` (reusing the buffers of `m`, `v` and `g` when nothing
/// else holds them); tensor ops elsewhere, with the same rounding.
///
/// # Shapes
/// `m`, `v`, `g` share one shape; so do the three outputs.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::{adam_moments, AdamCoeffs}, DynTensor};
/// let dev = Device::flex();
/// let t = |x: f32| DynTensor::from(Tensor::<1>::from_floats([x], &dev));
/// let c = AdamCoeffs { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, bc1: 0.1, bc2_sqrt: 0.001f32.sqrt(), eps: 0.0 };
/// let (m, v, u) = adam_moments(t(0.0), t(0.0), t(-2.0), c);
/// assert_eq!((m.to_vec()[0], v.to_vec()[0]), (-0.2, 0.004));
/// assert!((u.to_vec()[0] + 1.0).abs() < 1e-6); // the first step is sign(g)
/// ```
pub fn adam_moments(
    m: DynTensor,
    v: DynTensor,
    g: DynTensor,
    c: AdamCoeffs,
) -> (DynTensor, DynTensor, DynTensor) {
    if !fusable(&[&m, &v, &g]) {
        return adam_composed(m, v, g, c);
    }
    let dims = g.dims();
    let (m, v, u) = Dispatch::fused_adam(flat(m), flat(v), flat(g), c);
    (unflat(m, &dims), unflat(v, &dims), unflat(u, &dims))
}

/// One RMSProp step on one parameter (PyTorch's form, not centered, no momentum): returns
/// `(v', u)` with `v' = a v + c g^2`, `u = g / (sqrt(v') + eps)`, where `c = 1 - a`.
///
/// Fused on `flex` `f32` as [`adam_moments`]; tensor ops elsewhere, with the same rounding.
///
/// # Shapes
/// `v` and `g` share one shape; so do both outputs.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::rms_moments, DynTensor};
/// let dev = Device::flex();
/// let t = |x: f32| DynTensor::from(Tensor::<1>::from_floats([x], &dev));
/// let (v, u) = rms_moments(t(0.0), t(3.0), 0.75, 0.25, 0.0);
/// assert_eq!((v.to_vec()[0], u.to_vec()[0]), (2.25, 2.0)); // 3 / sqrt(0.25 * 9)
/// ```
pub fn rms_moments(v: DynTensor, g: DynTensor, a: f32, c: f32, eps: f32) -> (DynTensor, DynTensor) {
    if !fusable(&[&v, &g]) {
        return rms_composed(v, g, a, c, eps);
    }
    let dims = g.dims();
    let (v, u) = Dispatch::fused_rms(flat(v), flat(g), a, c, eps);
    (unflat(v, &dims), unflat(u, &dims))
}

/// `a t`: a learning rate applied to an update.
///
/// One parallel pass on `flex` `f32`, in the buffer of `t` when nothing else holds it (burn's
/// scalar multiply is one thread); `t * a` elsewhere. Bit-identical to `t * a`.
///
/// # Shapes
/// Any; the output has the shape of `t`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::scale_by, DynTensor};
/// let t = DynTensor::from(Tensor::<2>::from_floats([[1.0, -2.0], [0.5, 4.0]], &Device::flex()));
/// assert_eq!(scale_by(t, -0.5).to_vec(), vec![-0.5, 1.0, -0.25, -2.0]);
/// ```
pub fn scale_by(t: DynTensor, a: f32) -> DynTensor {
    if !fusable(&[&t]) {
        return t * a;
    }
    let dims = t.dims();
    unflat(Dispatch::fused_scale(flat(t), a), &dims)
}

/// `p + a u`: an update, scaled by `a`, applied to a parameter. The result has no autodiff
/// association.
///
/// One parallel pass on `flex` `f32`, in the buffer of `p` or of `u`, whichever nothing else
/// holds (burn's operations are one thread each); `p + u * a` elsewhere. Bit-identical to
/// `p + u * a` (and, for `a = 1`, to `p + u`).
///
/// # Shapes
/// `p` and `u` share one shape; so does the output.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::add_scaled, DynTensor};
/// let dev = Device::flex();
/// let p = DynTensor::from(Tensor::<1>::from_floats([1.0, 2.0, 3.0], &dev));
/// let u = DynTensor::from(Tensor::<1>::from_floats([0.5, -2.0, 0.25], &dev));
/// assert_eq!(add_scaled(p, u, -2.0).to_vec(), vec![0.0, 6.0, 2.5]);
/// ```
pub fn add_scaled(p: DynTensor, u: DynTensor, a: f32) -> DynTensor {
    let (p, u) = (p.without_autodiff(), u.without_autodiff());
    if !fusable(&[&p, &u]) || p.dims() != u.dims() {
        return p + u * a;
    }
    let dims = p.dims();
    unflat(Dispatch::fused_add_scaled(flat(p), flat(u), a), &dims)
}

/// One Adam step applied to a parameter: [`adam_moments`], then `p' = p + a u`; returns
/// `(p', m', v')`.
///
/// One pass on `flex` `f32` (the moments in place when nothing else holds them, `p'` in the
/// buffer of `g`), bit-identical to [`adam_moments`] followed by [`add_scaled`], which is what it
/// runs elsewhere. `a` is the step's scale, `-lr` for plain Adam.
///
/// # Shapes
/// `p`, `m`, `v`, `g` share one shape; so do the three outputs.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::{adam_step, AdamCoeffs}, DynTensor};
/// let dev = Device::flex();
/// let t = |x: f32| DynTensor::from(Tensor::<1>::from_floats([x], &dev));
/// let c = AdamCoeffs { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, bc1: 0.1, bc2_sqrt: 0.001f32.sqrt(), eps: 0.0 };
/// let (p, m, v) = adam_step(t(1.0), t(0.0), t(0.0), t(-2.0), c, -0.5);
/// assert_eq!((m.to_vec()[0], v.to_vec()[0]), (-0.2, 0.004));
/// assert!((p.to_vec()[0] - 1.5).abs() < 1e-6); // the first step moves by lr against sign(g)
/// ```
pub fn adam_step(
    p: DynTensor,
    m: DynTensor,
    v: DynTensor,
    g: DynTensor,
    c: AdamCoeffs,
    a: f32,
) -> (DynTensor, DynTensor, DynTensor) {
    let p = p.without_autodiff();
    if !fusable(&[&p, &m, &v, &g]) || p.dims() != g.dims() {
        let (m, v, u) = adam_moments(m, v, g, c);
        return (add_scaled(p, u, a), m, v);
    }
    let dims = g.dims();
    let (p, m, v) = Dispatch::fused_adam_step(flat(p), flat(m), flat(v), flat(g), c, a);
    (unflat(p, &dims), unflat(m, &dims), unflat(v, &dims))
}

/// The tensor-op form of [`adam_moments`] (the reference; used off `flex`).
fn adam_composed(
    m: DynTensor,
    v: DynTensor,
    g: DynTensor,
    c: AdamCoeffs,
) -> (DynTensor, DynTensor, DynTensor) {
    let m = m * c.b1 + g.clone() * c.c1;
    let v = v * c.b2 + g.square() * c.c2;
    let u = m.clone() / (v.clone().sqrt() / c.bc2_sqrt + c.eps) / c.bc1;
    (m, v, u)
}

/// The tensor-op form of [`rms_moments`].
fn rms_composed(v: DynTensor, g: DynTensor, a: f32, c: f32, eps: f32) -> (DynTensor, DynTensor) {
    let v = v * a + g.clone().square() * c;
    let u = g / (v.clone().sqrt() + eps);
    (v, u)
}

/// Whether every tensor is `f32` on plain `flex` (optimizer state never carries autodiff).
fn fusable(ts: &[&DynTensor]) -> bool {
    ts.iter()
        .all(|t| t.dtype() == DType::F32 && is_plain_flex(&t.device()))
}

fn flat(t: DynTensor) -> FloatTensor<Dispatch> {
    t.flatten().into_dispatch()
}

fn unflat(t: FloatTensor<Dispatch>, dims: &[usize]) -> DynTensor {
    DynTensor::from(Tensor::<1>::from_dispatch(t)).reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn random(n: usize, lo: f64, dev: &Device) -> DynTensor {
        DynTensor::from(Tensor::<1>::random(
            [n],
            Distribution::Uniform(lo, 1.0),
            dev,
        ))
        .reshape(&[n / 10, 10])
    }

    /// The fused kernels equal the tensor-op form bit for bit, over several steps (so the
    /// in-place path runs on buffers the previous step wrote), on a size that spans chunks.
    #[test]
    fn fused_equals_composed() {
        let dev = Device::flex();
        let n = 200_010;
        let c = AdamCoeffs {
            b1: 0.9,
            c1: 0.1,
            b2: 0.999,
            c2: 1.0e-3,
            bc1: 0.271,
            bc2_sqrt: 0.054_74,
            eps: 1e-8,
        };
        let (mut m, mut v) = (random(n, -1.0, &dev), random(n, 0.0, &dev));
        let (mut m2, mut v2) = (m.clone() * 1.0, v.clone() * 1.0);
        let (mut rv, mut rv2) = (v.clone() * 1.0, v.clone() * 1.0);
        for _ in 0..3 {
            let g = random(n, -1.0, &dev);
            let (a, b, u) = adam_moments(m, v, g.clone() * 1.0, c);
            let (a2, b2, u2) = adam_composed(m2, v2, g.clone(), c);
            for (x, y) in [(&a, &a2), (&b, &b2), (&u, &u2)] {
                assert_eq!(x.dims(), vec![n / 10, 10]);
                assert_eq!(x.to_vec(), y.to_vec());
            }
            (m, v, m2, v2) = (a, b, a2, b2);
            let (x, ux) = rms_moments(rv, g.clone() * 1.0, 0.9, 0.1, 1e-8);
            let (y, uy) = rms_composed(rv2, g, 0.9, 0.1, 1e-8);
            assert_eq!((x.to_vec(), ux.to_vec()), (y.to_vec(), uy.to_vec()));
            (rv, rv2) = (x, y);
        }
        // The learning rate and the parameter update, on unique and on shared buffers.
        let (p, u) = (random(n, -1.0, &dev), random(n, -1.0, &dev));
        let want = (u.clone() * -0.01f32).to_vec();
        assert_eq!(scale_by(u.clone() * 1.0, -0.01).to_vec(), want);
        for a in [1.0, -0.01] {
            let want = (p.clone() + u.clone() * a).to_vec();
            assert_eq!(
                add_scaled(p.clone() * 1.0, u.clone() * 1.0, a).to_vec(),
                want
            );
            assert_eq!(add_scaled(p.clone(), u.clone() * 1.0, a).to_vec(), want);
            assert_eq!(add_scaled(p.clone() * 1.0, u.clone(), a).to_vec(), want);
            assert_eq!(add_scaled(p.clone(), u.clone(), a).to_vec(), want);
        }
        assert_eq!(
            add_scaled(p.clone(), u.clone(), 1.0).to_vec(),
            (p.clone() + u.clone()).to_vec()
        );
        // Adam and the parameter update in one pass: the same bits as the separate passes.
        let (m, v, g) = (
            random(n, -1.0, &dev),
            random(n, 0.0, &dev),
            random(n, -1.0, &dev),
        );
        let (p1, m1, v1) = adam_step(
            p.clone(),
            m.clone() * 1.0,
            v.clone() * 1.0,
            g.clone() * 1.0,
            c,
            -0.01,
        );
        let (m2, v2, u2) = adam_composed(m, v, g, c);
        let p2 = p.clone() + u2 * -0.01f32;
        assert_eq!(
            (p1.to_vec(), m1.to_vec(), v1.to_vec()),
            (p2.to_vec(), m2.to_vec(), v2.to_vec())
        );
    }

    /// Shared inputs are not written through: the caller's handles keep their values.
    #[test]
    fn shared_inputs_are_left_intact() {
        let dev = Device::flex();
        let t = |x: f32| DynTensor::from(Tensor::<1>::from_floats([x, x], &dev));
        let (m, v, g) = (t(1.0), t(4.0), t(2.0));
        let c = AdamCoeffs {
            b1: 0.5,
            c1: 0.5,
            b2: 0.5,
            c2: 0.5,
            bc1: 1.0,
            bc2_sqrt: 1.0,
            eps: 0.0,
        };
        let (m2, v2, u) = adam_moments(m.clone(), v.clone(), g.clone(), c);
        assert_eq!(
            (m.to_vec(), v.to_vec(), g.to_vec()),
            (vec![1.0; 2], vec![4.0; 2], vec![2.0; 2])
        );
        assert_eq!((m2.to_vec(), v2.to_vec()), (vec![1.5; 2], vec![4.0; 2]));
        assert_eq!(u.to_vec(), vec![0.75; 2]);
        let (p, u) = (t(1.0), t(0.25));
        assert_eq!(scale_by(u.clone(), 2.0).to_vec(), vec![0.5; 2]);
        assert_eq!(
            add_scaled(p.clone(), u.clone(), 1.0).to_vec(),
            vec![1.25; 2]
        );
        let (p2, _, _) = adam_step(p.clone(), m.clone(), v.clone(), g.clone(), c, -1.0);
        assert_eq!(p2.to_vec(), vec![0.25; 2]);
        assert_eq!(
            (p.to_vec(), u.to_vec(), m.to_vec(), v.to_vec(), g.to_vec()),
            (
                vec![1.0; 2],
                vec![0.25; 2],
                vec![1.0; 2],
                vec![4.0; 2],
                vec![2.0; 2]
            )
        );
    }
}
