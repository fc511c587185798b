//! A convolution's weight gradient per image on `flex` (what `transform::per_example_grads`
//! needs), parallel over images: the shared-weight kernel's `im2col` + gemm, each image's `dW`
//! written apart instead of summed; and a dense layer's, one outer product per example.

use super::conv_flex::{im2col, slice, tensor, untranspose_weight_grad, weight_grad_t, Dims};
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
    let (p, kg) = (d.p(), d.kg());
    let (in_img, w_img) = (d.c_in * d.h * d.w, d.c_out * kg);
    let (xv, dyv) = (slice(&x), slice(&dy));
    let mut dw = vec![0.0f32; d.n * w_img];
    dw.par_chunks_mut(w_img).enumerate().for_each_init(
        || (vec![0.0f32; kg * d.g.groups * p], vec![0.0f32; w_img]),
        |(col, dw_t), (i, dwi)| {
            im2col(&d, &xv[i * in_img..][..in_img], col, p, 0);
            let dyi = &dyv[i * d.c_out * p..][..d.c_out * p];
            weight_grad_t(&d, dyi, col, p, dw_t, false);
            untranspose_weight_grad(&d, dw_t, dwi);
        },
    );
    tensor(dw, ws.to_vec())
}

/// `out[n, i, o] = x[n, i] dy[n, o]`, parallel over examples.
pub(super) fn outer(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
    let ((x, xs), (dy, ys)) = (data(&x), data(&dy));
    assert!(
        xs.len() == 2 && ys.len() == 2 && xs[0] == ys[0],
        "outer_per_example: {xs:?} and {ys:?}"
    );
    let (n, i, o) = (xs[0], xs[1], ys[1]);
    let (xv, dyv) = (slice(&x), slice(&dy));
    let mut out = vec![0.0f32; n * i * o];
    if i * o > 0 {
        out.par_chunks_mut(i * o).enumerate().for_each(|(e, out)| {
            let (xe, dye) = (&xv[e * i..][..i], &dyv[e * o..][..o]);
            for (row, &a) in out.chunks_mut(o).zip(xe) {
                row.iter_mut().zip(dye).for_each(|(r, &d)| *r = a * d);
            }
        });
    }
    tensor(out, vec![n, i, o])
}

#[cfg(test)]
mod tests {
    use crate::ops::{conv2d, conv2d_weight_grad_per_example, ConvSpec, Padding};
    use crate::{value_and_grad, Key, Params};
    use burn::tensor::{Device, Tensor};

    /// Each image's weight gradient equals the gradient of a convolution of that image alone
    /// (burn's autodiff through the shared-weight kernel), on a geometry with stride, padding
    /// and groups; and they differ between images.
    #[test]
    fn per_image_weight_gradients_match_one_image_convolutions() {
        let dev = Device::flex();
        let (n, c, o, g) = (3, 4, 6, 2);
        let spec = ConvSpec {
            stride: 2,
            padding: Padding::Explicit(1),
            groups: g,
            ..ConvSpec::default()
        };
        let x = Key::new(1).normal([n, c, 7, 6], 0.0, 1.0, &dev);
        let w = Key::new(2).normal([o, c / g, 3, 3], 0.0, 1.0, &dev);
        let dy = Key::new(3).normal([n, o, 4, 3], 0.0, 1.0, &dev);
        let per_image = conv2d_weight_grad_per_example(x.clone(), dy.clone(), &spec, [3, 3]);
        assert_eq!(per_image.dims(), [n, o, c / g, 3, 3]);
        let mut rows = vec![];
        for i in 0..n {
            let xi: Tensor<4> = x.clone().narrow(0, i, 1);
            let dyi: Tensor<4> = dy.clone().narrow(0, i, 1);
            let p = Params::new().with("w", w.clone());
            let (_, gw) = value_and_grad(
                |p| (conv2d(xi.clone(), p.get("w").unwrap(), None, &spec) * dyi.clone()).sum(),
                &p,
            );
            rows.push(gw.get_dyn("w").unwrap().to_vec());
        }
        let got = per_image.into_data().try_to_vec::<f32>().unwrap();
        for (i, want) in rows.iter().enumerate() {
            let row = &got[i * want.len()..][..want.len()];
            for (a, b) in row.iter().zip(want) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "image {i}: {a} vs {b}"
                );
            }
        }
        assert_ne!(rows[0], rows[1]);
    }
}
