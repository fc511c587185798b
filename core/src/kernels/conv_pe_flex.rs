//! Per-example convolution on `flex`: image `n` convolved with its own weights `w[n]` (what
//! `transform::per_example_grads` needs, `vmap` over a convolution's weights), parallel over
//! images. The forward and input-gradient kernels are the shared-weight ones with each image's
//! weight slice; the weight gradient writes each image's `dW` apart instead of summing them.

use super::conv_flex::{col2im, im2col, matmul, slice, tensor, Dims};
use super::ConvGeom;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// A contiguous copy and its shape.
fn data(t: &FlexTensor) -> (FlexTensor, Vec<usize>) {
    let t = t.to_contiguous();
    let s = t.layout().shape().to_vec();
    (t, s)
}

/// The shared-weight sizes of one image (`n` = the batch) for per-example weights `[N, O, C/g, kh, kw]`.
fn dims(n: usize, x_chw: [usize; 3], ws: &[usize], geom: ConvGeom) -> Dims {
    assert_eq!(
        ws.len(),
        5,
        "per-example conv2d: weights [N, O, C/g, kh, kw], got {ws:?}"
    );
    assert_eq!(
        ws[0], n,
        "per-example conv2d: {} weight copies for {n} images",
        ws[0]
    );
    Dims::new(
        [n, x_chw[0], x_chw[1], x_chw[2]],
        [ws[1], ws[2], ws[3], ws[4]],
        geom,
    )
}

/// `y[n] = conv(x[n], w[n])` (no bias): `[N, C, H, W]`, `[N, O, C/g, kh, kw]` -> `[N, O, oh, ow]`.
pub(super) fn forward(x: FlexTensor, w: FlexTensor, geom: ConvGeom) -> FlexTensor {
    let ((x, xs), (w, ws)) = (data(&x), data(&w));
    let d = dims(xs[0], [xs[1], xs[2], xs[3]], &ws, geom);
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let (in_img, w_img) = (d.c_in * d.h * d.w, d.c_out * kg);
    let (xv, wv) = (slice(&x), slice(&w));
    let mut out = vec![0.0f32; d.n * d.c_out * p];
    out.par_chunks_mut(d.c_out * p).enumerate().for_each_init(
        || vec![0.0f32; kg * d.g.groups * p],
        |col, (i, y)| {
            im2col(&d, &xv[i * in_img..][..in_img], col, p, 0);
            let wi = &wv[i * w_img..][..w_img];
            for g in 0..d.g.groups {
                let (lhs, rhs) = (&wi[g * cog * kg..], &col[g * kg * p..]);
                matmul(
                    (cog, p, kg),
                    &mut y[g * cog * p..],
                    p,
                    false,
                    lhs,
                    (kg, 1),
                    rhs,
                    (p, 1),
                );
            }
        },
    );
    tensor(out, vec![d.n, d.c_out, d.oh, d.ow])
}

/// `dx[n]` from `w[n]` and `dy[n]`.
pub(super) fn grad_input(
    w: FlexTensor,
    dy: FlexTensor,
    geom: ConvGeom,
    in_hw: [usize; 2],
) -> FlexTensor {
    let ((w, ws), (dy, ys)) = (data(&w), data(&dy));
    let d = dims(ys[0], [ws[2] * geom.groups, in_hw[0], in_hw[1]], &ws, geom);
    assert_eq!(
        [d.oh, d.ow],
        [ys[2], ys[3]],
        "per-example conv2d dx: output size"
    );
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let (in_img, w_img) = (d.c_in * d.h * d.w, d.c_out * kg);
    let (wv, dyv) = (slice(&w), slice(&dy));
    let mut dx = vec![0.0f32; d.n * in_img];
    dx.par_chunks_mut(in_img).enumerate().for_each_init(
        || vec![0.0f32; kg * d.g.groups * p],
        |col, (i, dxi)| {
            let (wi, dyi) = (
                &wv[i * w_img..][..w_img],
                &dyv[i * d.c_out * p..][..d.c_out * p],
            );
            for g in 0..d.g.groups {
                let (lhs, rhs) = (&wi[g * cog * kg..], &dyi[g * cog * p..]);
                matmul(
                    (kg, p, cog),
                    &mut col[g * kg * p..],
                    p,
                    false,
                    lhs,
                    (1, kg),
                    rhs,
                    (p, 1),
                );
            }
            col2im(&d, col, dxi, p, 0);
        },
    );
    tensor(dx, vec![d.n, d.c_in, d.h, d.w])
}

/// `dw[n] = dy[n] · im2col(x[n])ᵀ`, each image's apart: `[N, O, C/g, kh, kw]`.
pub(super) fn grad_weight(
    x: FlexTensor,
    dy: FlexTensor,
    geom: ConvGeom,
    k_hw: [usize; 2],
) -> FlexTensor {
    let ((x, xs), (dy, ys)) = (data(&x), data(&dy));
    let ws = [xs[0], ys[1], xs[1] / geom.groups, k_hw[0], k_hw[1]];
    let d = dims(xs[0], [xs[1], xs[2], xs[3]], &ws, geom);
    assert_eq!(
        [d.oh, d.ow],
        [ys[2], ys[3]],
        "per-example conv2d dw: output size"
    );
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let (in_img, w_img) = (d.c_in * d.h * d.w, d.c_out * kg);
    let (xv, dyv) = (slice(&x), slice(&dy));
    let mut dw = vec![0.0f32; d.n * w_img];
    dw.par_chunks_mut(w_img).enumerate().for_each_init(
        || vec![0.0f32; kg * d.g.groups * p],
        |col, (i, dwi)| {
            im2col(&d, &xv[i * in_img..][..in_img], col, p, 0);
            let dyi = &dyv[i * d.c_out * p..][..d.c_out * p];
            for g in 0..d.g.groups {
                let (lhs, rhs) = (&dyi[g * cog * p..], &col[g * kg * p..]);
                matmul(
                    (cog, kg, p),
                    &mut dwi[g * cog * kg..],
                    kg,
                    false,
                    lhs,
                    (p, 1),
                    rhs,
                    (1, p),
                );
            }
        },
    );
    tensor(dw, ws.to_vec())
}

#[cfg(test)]
mod tests {
    use crate::ops::{conv2d, conv2d_per_example, ConvSpec, Padding};
    use crate::{value_and_grad, Key, Params};
    use burn::tensor::{Device, Tensor};

    /// The per-example kernel against one grouped convolution over the batch folded into
    /// channels (the shared-weight kernel), forward and both gradients, on a geometry with
    /// stride, padding and groups.
    #[test]
    fn per_example_conv_matches_the_grouped_convolution() {
        let dev = Device::flex();
        let (n, c, o, g) = (3, 4, 6, 2);
        let spec = ConvSpec {
            stride: 2,
            padding: Padding::Explicit(1),
            groups: g,
            ..ConvSpec::default()
        };
        let p = Params::new()
            .with("x", Key::new(1).normal([n, c, 7, 6], 0.0, 1.0, &dev))
            .with("w", Key::new(2).normal([n, o, c / g, 3, 3], 0.0, 1.0, &dev));
        let probe = Key::new(3).normal([n, o, 4, 3], 0.0, 1.0, &dev);
        let kernel =
            |p: &Params| conv2d_per_example(p.get("x").unwrap(), p.get("w").unwrap(), &spec);
        let grouped = |p: &Params| {
            let (x, w): (Tensor<4>, Tensor<5>) = (p.get("x").unwrap(), p.get("w").unwrap());
            let y = conv2d(
                x.reshape([1, n * c, 7, 6]),
                w.reshape([n * o, c / g, 3, 3]),
                None,
                &ConvSpec {
                    groups: g * n,
                    ..spec
                },
            );
            y.reshape([n, o, 4, 3])
        };
        let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
            assert_eq!(a.len(), b.len(), "{what}");
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                    "{what}: {x} vs {y}"
                );
            }
        };
        let v = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        close(v(kernel(&p)), v(grouped(&p)), "forward");
        let (_, ga) = value_and_grad(|p| (kernel(p) * probe.clone()).sum(), &p);
        let (_, gb) = value_and_grad(|p| (grouped(p) * probe.clone()).sum(), &p);
        for k in ["x", "w"] {
            close(
                ga.get_dyn(k).unwrap().to_vec(),
                gb.get_dyn(k).unwrap().to_vec(),
                k,
            );
        }
    }
}
