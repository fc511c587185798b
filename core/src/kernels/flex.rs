//! The `flex` implementation of [`FastCpuOps`]: each method calls its kernel module.

use super::conv_flex::{
    f32_data, forward, grad_input, grad_weight, slice, tensor, Dims, GRAD_COLS,
};
use super::{ConvGeom, FastCpuOps};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;

impl FastCpuOps for Flex {
    fn fast_conv2d(x: FlexTensor, w: FlexTensor, b: FlexTensor, geom: ConvGeom) -> FlexTensor {
        let ((x, xs), (w, ws)) = (f32_data(&x), f32_data(&w));
        let b = b.to_contiguous();
        let d = Dims::new(xs, ws, geom);
        let out = forward(&d, slice(&x), slice(&w), slice(&b));
        tensor(out, vec![d.n, d.c_out, d.oh, d.ow])
    }

    fn fast_conv2d_dx(
        w: FlexTensor,
        dy: FlexTensor,
        geom: ConvGeom,
        in_hw: [usize; 2],
    ) -> FlexTensor {
        let ((w, ws), (dy, ys)) = (f32_data(&w), f32_data(&dy));
        let d = Dims::new([ys[0], ws[1] * geom.groups, in_hw[0], in_hw[1]], ws, geom);
        assert_eq!([d.oh, d.ow], [ys[2], ys[3]], "conv2d dx: output size");
        let dx = grad_input(&d, slice(&w), slice(&dy), GRAD_COLS);
        tensor(dx, vec![d.n, d.c_in, d.h, d.w])
    }

    fn fast_conv2d_dw(
        x: FlexTensor,
        dy: FlexTensor,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FlexTensor {
        let ((x, xs), (dy, ys)) = (f32_data(&x), f32_data(&dy));
        let ws = [ys[1], xs[1] / geom.groups, k_hw[0], k_hw[1]];
        let d = Dims::new(xs, ws, geom);
        assert_eq!([d.oh, d.ow], [ys[2], ys[3]], "conv2d dw: output size");
        tensor(
            grad_weight(&d, slice(&x), slice(&dy), GRAD_COLS),
            ws.to_vec(),
        )
    }

    fn fast_conv2d_db(dy: FlexTensor) -> FlexTensor {
        use rayon::prelude::*;
        let (dy, ys) = f32_data(&dy);
        let (n, c, p) = (ys[0], ys[1], ys[2] * ys[3]);
        let dys = slice(&dy);
        // Per channel in parallel (a fixed order within each, so the result is deterministic),
        // each plane over eight lanes (vectorizes).
        let db = (0..c)
            .into_par_iter()
            .map(|ch| {
                let mut lanes = [0.0f32; 8];
                let mut rest = 0.0f32;
                for img in 0..n {
                    let plane = &dys[(img * c + ch) * p..][..p];
                    let mut chunks = plane.chunks_exact(8);
                    for ch8 in &mut chunks {
                        lanes.iter_mut().zip(ch8).for_each(|(a, v)| *a += v);
                    }
                    rest += chunks.remainder().iter().sum::<f32>();
                }
                lanes.iter().sum::<f32>() + rest
            })
            .collect();
        tensor(db, vec![c])
    }

    fn fast_max_pool2d(x: FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> FlexTensor {
        super::pool_flex::max_pool2d(x, kernel, stride)
    }

    fn fast_max_pool2d_backward(
        x: FlexTensor,
        dy: FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FlexTensor {
        super::pool_flex::max_pool2d_backward(x, dy, kernel, stride)
    }

    fn fast_max_pool2d_select(
        x: FlexTensor,
        t: FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FlexTensor {
        super::pool_flex::max_pool2d_select(x, t, kernel, stride)
    }

    fn fast_conv2d_per_example_dw(
        x: FlexTensor,
        dy: FlexTensor,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FlexTensor {
        super::conv_pe_flex::grad_weight(x, dy, geom, k_hw)
    }

    fn fast_dense(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        super::dense_flex::forward(x, w, b)
    }

    fn fast_dense_dx(dy: FlexTensor, w: FlexTensor) -> FlexTensor {
        super::dense_flex::grad_input(dy, w)
    }

    fn fast_dense_dw(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
        super::dense_flex::grad_weight(x, dy)
    }

    fn fast_dense_db(dy: FlexTensor) -> FlexTensor {
        super::dense_flex::grad_bias(dy)
    }

    fn fast_outer_per_example(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
        super::conv_pe_flex::outer(x, dy)
    }

    fn fast_unary(x: FlexTensor, op: super::Unary) -> FlexTensor {
        super::unary_flex::forward(x, op)
    }

    fn fast_unary_backward(x: FlexTensor, dy: FlexTensor, op: super::Unary) -> FlexTensor {
        super::unary_flex::backward(x, dy, op)
    }

    fn fast_attention(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        spec: super::AttentionSpec,
    ) -> (FlexTensor, FlexTensor) {
        super::attention_flex::forward(q, k, v, spec)
    }

    fn fast_attention_backward(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        probs: FlexTensor,
        dout: FlexTensor,
        spec: super::AttentionSpec,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        super::attention_flex::backward(q, k, v, probs, dout, spec)
    }

    fn fast_layer_norm(
        x: FlexTensor,
        w: FlexTensor,
        b: FlexTensor,
        eps: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        super::norm_flex::forward(x, w, b, eps)
    }

    fn fast_batch_norm(
        x: FlexTensor,
        w: FlexTensor,
        b: FlexTensor,
        eps: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        super::batch_norm_flex::forward(x, w, b, eps)
    }

    fn fast_batch_norm_backward(
        x: FlexTensor,
        w: FlexTensor,
        mean: FlexTensor,
        var: FlexTensor,
        dy: FlexTensor,
        eps: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        super::batch_norm_flex::backward(x, w, mean, var, dy, eps)
    }

    fn fast_layer_norm_backward(
        x: FlexTensor,
        w: FlexTensor,
        mean: FlexTensor,
        rstd: FlexTensor,
        dy: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        super::norm_flex::backward(x, w, mean, rstd, dy)
    }
}
