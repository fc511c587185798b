//! The `flex` softplus kernels: `y = max(x, 0) + ln(1 + e^{-|x|})` and its gradient
//! `dx = dy σ(x)`, one pass each (the tensor-op form takes six forward and as many backward
//! passes, each allocating). Rounding is that of the tensor-op form (the same libm calls).

use super::conv_flex::{slice, tensor};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Elements per parallel chunk (below two chunks the call stays on this thread).
const CHUNK: usize = 1 << 14;

fn map2(a: &FlexTensor, b: Option<&FlexTensor>, f: impl Fn(f32, f32) -> f32 + Sync) -> FlexTensor {
    let a = a.to_contiguous();
    let shape = a.layout().shape().to_vec();
    let b = b.map(FlexTensor::to_contiguous);
    let xs = slice(&a);
    let ys = b.as_ref().map(slice);
    let mut out = vec![0.0f32; xs.len()];
    let run = |(i, o): (usize, &mut [f32])| {
        let x = &xs[i * CHUNK..][..o.len()];
        match ys {
            Some(ys) => {
                let y = &ys[i * CHUNK..][..o.len()];
                for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                    *o = f(x, y);
                }
            }
            None => {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = f(x, 0.0);
                }
            }
        }
    };
    if xs.len() >= 2 * CHUNK {
        out.par_chunks_mut(CHUNK).enumerate().for_each(run);
    } else {
        out.chunks_mut(CHUNK).enumerate().for_each(run);
    }
    tensor(out, shape)
}

/// `max(x, 0) + ln(1 + e^{-|x|})`.
pub(super) fn softplus(x: FlexTensor) -> FlexTensor {
    map2(&x, None, |x, _| x.max(0.0) + (-x.abs()).exp().ln_1p())
}

/// `dy σ(x)`.
pub(super) fn softplus_backward(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
    map2(&x, Some(&dy), |x, dy| {
        let e = (-x.abs()).exp();
        let s = if x >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        dy * s
    })
}

#[cfg(test)]
mod tests {
    use crate::{value_and_grad, Key, Params};
    use burn::tensor::{activation, Device};

    #[test]
    fn fused_softplus_matches_the_tensor_op_form_and_its_gradient_is_the_sigmoid() {
        let dev = Device::flex();
        // Spans both chunked paths (over 2 * CHUNK elements) and large |x|.
        let x = Key::new(0).normal([3, 20_000], 0.0, 15.0, &dev);
        let reference = x.clone().clamp_min(0.0) + x.clone().abs().neg().exp().log1p();
        let got = super::super::softplus(x.clone());
        assert_eq!(
            got.into_data().try_to_vec::<f32>().unwrap(),
            reference.into_data().try_to_vec::<f32>().unwrap()
        );
        let p = Params::new().with("x", x.clone());
        let (_, g) = value_and_grad(
            |p| super::super::softplus(p.get::<2>("x").unwrap()).sum(),
            &p,
        );
        let want = activation::sigmoid(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let got = g.get_dyn("x").unwrap().to_vec();
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-30) + 1e-37,
                "{a} vs {b}"
            );
        }
    }
}
