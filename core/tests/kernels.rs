//! The fast `flex` kernels against burn's own kernels: outputs and every gradient, over
//! geometries the PyTorch golden cases do not reach (asymmetric padding, strides that do not
//! divide the input, odd batch sizes, groups with dilation, tied and NaN maxima).

use burn::tensor::module::{conv2d as burn_conv2d, max_pool2d as burn_max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};
use duet_core::kernels::{conv2d, max_pool2d, ConvGeom};
use duet_core::Key;

fn rand<const D: usize>(key: Key, shape: [usize; D]) -> Tensor<D> {
    let n = shape.iter().product::<usize>();
    let v: Vec<f32> = key.normal_vec(n, 0.0, 1.0);
    Tensor::<1>::from_floats(v.as_slice(), &Device::flex().autodiff()).reshape(shape)
}

fn assert_close<const D: usize>(what: &str, a: Tensor<D>, b: Tensor<D>) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let (a, b) = (
        a.into_data().try_to_vec::<f32>().unwrap(),
        b.into_data().try_to_vec::<f32>().unwrap(),
    );
    let scale = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * scale,
            "{what}[{i}]: fast {x} vs burn {y} (scale {scale})"
        );
    }
}

/// Runs the fast conv and burn's conv on the same inputs with the same upstream gradient.
fn check_conv(x: [usize; 4], w: [usize; 4], geom: ConvGeom, seed: u64) {
    let keys = Key::new(seed).split(4);
    let (xv, wv, bv) = (rand(keys[0], x), rand(keys[1], w), rand(keys[2], [w[0]]));
    let run = |fast: bool| {
        let (xt, wt, bt) = (
            xv.clone().require_grad(),
            wv.clone().require_grad(),
            bv.clone().require_grad(),
        );
        let y = if fast {
            conv2d(xt.clone(), wt.clone(), bt.clone(), geom)
        } else {
            let pad = [geom.pad[0], geom.pad[1]];
            let opts = ConvOptions::new_with_padding(geom.stride, pad, geom.dilation, geom.groups);
            burn_conv2d(xt.clone(), wt.clone(), Some(bt.clone()), opts)
        };
        let up = rand(keys[3], y.dims());
        let grads = (y.clone() * up).sum().backward();
        let g = |t: &Tensor<4>| t.grad(&grads).unwrap();
        (y, g(&xt), g(&wt), bt.grad(&grads).unwrap())
    };
    let (fast, slow) = (run(true), run(false));
    let case = format!("x{x:?} w{w:?} {geom:?}");
    assert_close(&format!("{case} y"), fast.0, slow.0);
    assert_close(&format!("{case} dx"), fast.1, slow.1);
    assert_close(&format!("{case} dw"), fast.2, slow.2);
    assert_close(&format!("{case} db"), fast.3, slow.3);
}

fn geom(
    stride: [usize; 2],
    pad: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
) -> ConvGeom {
    ConvGeom {
        stride,
        pad,
        dilation,
        groups,
    }
}

#[test]
fn conv2d_matches_burn_on_every_geometry() {
    check_conv(
        [4, 3, 12, 11],
        [5, 3, 3, 4],
        geom([1, 1], [(0, 0); 2], [1, 1], 1),
        1,
    );
    check_conv(
        [3, 3, 32, 32],
        [6, 3, 5, 5],
        geom([1, 1], [(0, 0); 2], [1, 1], 1),
        2,
    );
    check_conv(
        [5, 4, 9, 10],
        [6, 4, 3, 3],
        geom([2, 3], [(1, 1), (1, 1)], [1, 1], 1),
        3,
    );
    // The direct stride-1 kernel: output channels not a multiple of its 4-channel block, input
    // and output channel counts that differ (its input gradient swaps them), rows narrower
    // than one 8-float vector, and a wide grid that is not a whole number of 24-position blocks.
    check_conv(
        [3, 9, 5, 6],
        [7, 9, 3, 3],
        geom([1, 1], [(1, 1), (1, 1)], [1, 1], 1),
        8,
    );
    // Its rows share their horizontal padding: more on the left than on the right.
    check_conv(
        [2, 3, 6, 9],
        [5, 3, 3, 3],
        geom([1, 1], [(0, 2), (2, 1)], [1, 1], 1),
        9,
    );
    // Winograd F(2x2, 3x3) (3x3 kernels, 64 or more channels each way and 8192 pairs;
    // forward, input and weight gradients): output sides that are not a multiple of the 2x2
    // tile, uneven padding, and (10 images of 64 tiles) several chunks per thread in the weight
    // gradient's sum.
    check_conv(
        [3, 67, 7, 9],
        [130, 67, 3, 3],
        geom([1, 1], [(1, 1), (1, 1)], [1, 1], 1),
        10,
    );
    check_conv(
        [10, 129, 16, 15],
        [65, 129, 3, 3],
        geom([1, 1], [(0, 2), (2, 1)], [1, 1], 1),
        11,
    );
    // "same" padding with an even kernel: more padding at the end.
    check_conv(
        [2, 2, 7, 8],
        [3, 2, 4, 2],
        geom([1, 1], [(1, 2), (0, 1)], [1, 1], 1),
        4,
    );
    check_conv(
        [3, 4, 11, 9],
        [6, 2, 3, 2],
        geom([1, 2], [(2, 2), (0, 0)], [2, 3], 2),
        5,
    );
    // Depthwise, padding larger than the dilated kernel reaches.
    check_conv(
        [1, 4, 5, 5],
        [4, 1, 3, 3],
        geom([1, 1], [(3, 3), (3, 3)], [1, 1], 4),
        6,
    );
    // Output wider than the input row stride would suggest: stride 3 that does not divide.
    check_conv(
        [7, 1, 10, 13],
        [2, 1, 2, 3],
        geom([3, 3], [(0, 1), (2, 0)], [1, 1], 1),
        7,
    );
}

#[test]
fn conv2d_without_tracked_inputs_needs_no_graph() {
    let dev = Device::flex();
    let x = Tensor::<4>::ones([2, 1, 3, 3], &dev);
    let w = Tensor::<4>::ones([1, 1, 3, 3], &dev);
    let y = conv2d(
        x,
        w,
        Tensor::zeros([1], &dev),
        geom([1, 1], [(1, 1); 2], [1, 1], 1),
    );
    let v = y.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(&v[..9], &[4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]);
}

fn check_pool(x: [usize; 4], kernel: [usize; 2], stride: [usize; 2], seed: u64) {
    let keys = Key::new(seed).split(2);
    let xv = rand(keys[0], x);
    let run = |fast: bool| {
        let xt = xv.clone().require_grad();
        let y = if fast {
            max_pool2d(xt.clone(), kernel, stride)
        } else {
            let mut o = MaxPoolOptions::new(kernel);
            o.stride = stride;
            burn_max_pool2d(xt.clone(), o)
        };
        let up = rand(keys[1], y.dims());
        let grads = (y.clone() * up).sum().backward();
        (y, xt.grad(&grads).unwrap())
    };
    let (fast, slow) = (run(true), run(false));
    assert_close(
        &format!("pool {x:?} k{kernel:?} s{stride:?} y"),
        fast.0,
        slow.0,
    );
    assert_close(
        &format!("pool {x:?} k{kernel:?} s{stride:?} dx"),
        fast.1,
        slow.1,
    );
}

#[test]
fn max_pool2d_matches_burn() {
    check_pool([3, 6, 28, 28], [2, 2], [2, 2], 10);
    check_pool([2, 3, 9, 7], [2, 2], [2, 2], 11); // odd sizes drop the last row/column
    check_pool([2, 3, 9, 11], [3, 2], [2, 3], 12);
    check_pool([1, 2, 8, 8], [3, 3], [1, 1], 13); // overlapping windows accumulate
}

#[test]
fn max_pool2d_ties_go_to_the_first_maximum_and_nan_propagates() {
    let dev = Device::flex().autodiff();
    let x = Tensor::<4>::from_floats([[[[1.0, 1.0, f32::NAN, 0.0], [1.0, 0.5, 2.0, 3.0]]]], &dev)
        .require_grad();
    let y = max_pool2d(x.clone(), [2, 2], [2, 2]);
    let v = y.clone().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(v[0], 1.0);
    assert!(v[1].is_nan(), "NaN must propagate, got {}", v[1]);
    let g = x
        .grad(&y.sum().backward())
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(g, vec![1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

/// Rows long enough for the vectorized gradient (11 and 8 windows: a shifted last block and an
/// exact one), with values from {-1, 0, 1} so most windows tie, and NaNs: every output and every
/// gradient element, and the tangent map's pick, equals a plain first-maximum, NaN-wins reference.
#[test]
fn max_pool2d_long_rows_with_ties_and_nans_match_a_reference() {
    let dev = Device::flex().autodiff();
    for (h, w) in [(6, 22), (4, 17), (2, 16)] {
        let n = 2 * 3 * h * w;
        let noise = Key::new(w as u64).normal_vec(n, 0.0, 1.0);
        let xv: Vec<f32> = noise
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i % 37 == 5 {
                    f32::NAN
                } else {
                    v.round().clamp(-1.0, 1.0)
                }
            })
            .collect();
        let (oh, ow) = (h / 2, w / 2);
        let gv: Vec<f32> = (0..2 * 3 * oh * ow).map(|i| 1.0 + i as f32).collect();
        let (mut want_y, mut want_dx) = (vec![0.0f32; gv.len()], vec![0.0f32; n]);
        let mut want_at = vec![0usize; gv.len()];
        for p in 0..6 {
            for (o, q) in (0..oh).flat_map(|o| (0..ow).map(move |q| (o, q))) {
                let at = |i: usize, j: usize| p * h * w + (2 * o + i) * w + 2 * q + j;
                let mut best = at(0, 0);
                for k in [at(0, 1), at(1, 0), at(1, 1)] {
                    let (v, m) = (xv[k], xv[best]);
                    if v > m || (v.is_nan() && !m.is_nan()) {
                        best = k;
                    }
                }
                let out = p * oh * ow + o * ow + q;
                (want_y[out], want_dx[best], want_at[out]) = (xv[best], gv[out], best);
            }
        }
        let x = Tensor::<1>::from_floats(xv.as_slice(), &dev)
            .reshape([2, 3, h, w])
            .require_grad();
        let y = max_pool2d(x.clone(), [2, 2], [2, 2]);
        let g = Tensor::<1>::from_floats(gv.as_slice(), &dev).reshape([2, 3, oh, ow]);
        let dx = x.grad(&(y.clone() * g).sum().backward()).unwrap();
        // The tangent map picks t at the same first maxima.
        let tv: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let t = Tensor::<1>::from_floats(tv.as_slice(), &dev).reshape([2, 3, h, w]);
        let picked = duet_core::kernels::max_pool2d_select(x.clone(), t, [2, 2], [2, 2]);
        let want_t: Vec<f32> = want_at.iter().map(|&i| tv[i]).collect();
        let bits = |v: Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(picked.into_data().try_to_vec::<f32>().unwrap()),
            bits(want_t),
            "select, {h}x{w}"
        );
        let canon = |v: Vec<f32>| {
            bits(
                v.into_iter()
                    .map(|f| if f.is_nan() { f32::NAN } else { f })
                    .collect(),
            )
        };
        assert_eq!(
            canon(y.into_data().try_to_vec::<f32>().unwrap()),
            canon(want_y),
            "y, {h}x{w}"
        );
        assert_eq!(
            bits(dx.into_data().try_to_vec::<f32>().unwrap()),
            bits(want_dx),
            "dx, {h}x{w}"
        );
    }
}

/// Attention written with burn's ops: heads split, `softmax(Q Kᵀ / √Dh + mask) V`, merged.
fn attention_by_ops(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    heads: usize,
    causal: bool,
) -> Tensor<3> {
    let ([b, tq, e], tk) = (q.dims(), k.dims()[1]);
    let dh = e / heads;
    let split = |t: Tensor<3>, n: usize| t.reshape([b, n, heads, dh]).swap_dims(1, 2);
    let (q, k, v) = (split(q, tq), split(k, tk), split(v, tk));
    let mut s = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f32).sqrt());
    if causal {
        let mask = Tensor::<2, burn::tensor::Bool>::tril_mask([tq, tk], 0, &s.device());
        s = s.mask_fill(mask.reshape([1, 1, tq, tk]), f32::NEG_INFINITY);
    }
    burn::tensor::activation::softmax(s, 3)
        .matmul(v)
        .swap_dims(1, 2)
        .reshape([b, tq, e])
}

/// The fused attention kernel against the op-by-op form: output and the gradients of q, k and
/// v, causal or not, self-attention and `Tq != Tk` (causal with more queries than keys too).
#[test]
fn attention_matches_the_op_by_op_form() {
    use duet_core::kernels::{attention, AttentionSpec};
    for (i, &(b, tq, tk, e, heads, causal)) in [
        (2, 5, 5, 12, 3, true),
        (3, 4, 7, 8, 2, false),
        (1, 6, 3, 6, 1, true),
        (2, 1, 9, 16, 4, false),
    ]
    .iter()
    .enumerate()
    {
        let keys = Key::new(40 + i as u64).split(4);
        let (q, k, v) = (
            rand(keys[0], [b, tq, e]).mul_scalar(2.0),
            rand(keys[1], [b, tk, e]),
            rand(keys[2], [b, tk, e]),
        );
        let up = rand(keys[3], [b, tq, e]);
        let run = |fast: bool| {
            let (q, k, v) = (
                q.clone().require_grad(),
                k.clone().require_grad(),
                v.clone().require_grad(),
            );
            let y = if fast {
                attention(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    AttentionSpec { heads, causal },
                )
            } else {
                attention_by_ops(q.clone(), k.clone(), v.clone(), heads, causal)
            };
            let grads = (y.clone() * up.clone()).sum().backward();
            let g = |t: &Tensor<3>| t.grad(&grads).unwrap();
            (y, g(&q), g(&k), g(&v))
        };
        let (fast, slow) = (run(true), run(false));
        let case = format!("b{b} tq{tq} tk{tk} e{e} h{heads} causal {causal}");
        assert_close(&format!("{case} y"), fast.0, slow.0);
        assert_close(&format!("{case} dq"), fast.1, slow.1);
        assert_close(&format!("{case} dk"), fast.2, slow.2);
        assert_close(&format!("{case} dv"), fast.3, slow.3);
    }
}

/// A query's output under the causal mask does not depend on later keys or values.
#[test]
fn causal_attention_ignores_later_positions() {
    use duet_core::kernels::{attention, AttentionSpec};
    let keys = Key::new(7).split(3);
    let (q, k, v) = (
        rand(keys[0], [1, 6, 8]),
        rand(keys[1], [1, 6, 8]),
        rand(keys[2], [1, 6, 8]),
    );
    let spec = AttentionSpec {
        heads: 2,
        causal: true,
    };
    let y = attention(q.clone(), k.clone(), v.clone(), spec);
    let later = |t: Tensor<3>| {
        t.slice_assign(
            [0..1, 4..6, 0..8],
            Tensor::ones([1, 2, 8], &Device::flex().autodiff()).mul_scalar(9.0),
        )
    };
    let y2 = attention(q, later(k), later(v), spec);
    assert_close(
        "rows 0..4",
        y2.clone().slice([0..1, 0..4, 0..8]),
        y.clone().slice([0..1, 0..4, 0..8]),
    );
    let (a, b) = (
        y.slice([0..1, 5..6, 0..8]).into_data(),
        y2.slice([0..1, 5..6, 0..8]).into_data(),
    );
    assert_ne!(a, b, "the last row must see the changed keys");
}

/// Layer norm and its gradients in float64 from the rows of `x` and the upstream gradient.
fn layer_norm_f64(x: &[f32], w: &[f32], b: &[f32], up: &[f32], eps: f64) -> [Vec<f32>; 4] {
    let f = w.len();
    let (mut y, mut dx, mut dw, mut db) = (vec![], vec![], vec![0f64; f], vec![0f64; f]);
    for (x, up) in x.chunks(f).zip(up.chunks(f)) {
        let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mu = x.iter().sum::<f64>() / f as f64;
        let var = x.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / f as f64;
        let r = 1.0 / (var + eps).sqrt();
        let xh: Vec<f64> = x.iter().map(|v| (v - mu) * r).collect();
        let g: Vec<f64> = (0..f).map(|j| up[j] as f64 * w[j] as f64).collect();
        let mg = g.iter().sum::<f64>() / f as f64;
        let mgx = g.iter().zip(&xh).map(|(g, x)| g * x).sum::<f64>() / f as f64;
        for j in 0..f {
            y.push((xh[j] * w[j] as f64 + b[j] as f64) as f32);
            dx.push((r * (g[j] - mg - xh[j] * mgx)) as f32);
            dw[j] += up[j] as f64 * xh[j];
            db[j] += up[j] as f64;
        }
    }
    let f32s = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    [y, dx, f32s(dw), f32s(db)]
}

/// The fused layer norm against float64, with the gradients of x, weight and bias (1e-5 of
/// each output's largest entry; rows far from zero mean included, where float32 cancels).
#[test]
fn layer_norm_matches_float64() {
    use duet_core::kernels::layer_norm;
    let vec = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    for (i, &(rows, f, shift)) in [(3, 5, 0.0f32), (130, 192, 50.0), (1, 1, 0.0), (70, 7, -3.0)]
        .iter()
        .enumerate()
    {
        let keys = Key::new(60 + i as u64).split(4);
        let x = rand(keys[0], [rows, f]).add_scalar(shift);
        let (w, b) = (rand(keys[1], [f]), rand(keys[2], [f]));
        let up = rand(keys[3], [rows, f]);
        let eps = 1e-5;
        let (xg, wg, bg) = (
            x.clone().require_grad(),
            w.clone().require_grad(),
            b.clone().require_grad(),
        );
        let y = layer_norm(xg.clone(), wg.clone(), bg.clone(), eps);
        let grads = (y.clone() * up.clone()).sum().backward();
        let got = [
            vec(y),
            vec(xg.grad(&grads).unwrap()),
            wg.grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
            bg.grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
        ];
        let d1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let want = layer_norm_f64(&vec(x), &d1(w), &d1(b), &vec(up), eps);
        for ((name, got), want) in ["y", "dx", "dw", "db"].iter().zip(got).zip(want) {
            let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * scale,
                    "[{rows}, {f}] + {shift} {name}[{j}]: fused {g} vs float64 {w} (scale {scale})"
                );
            }
        }
    }
}

/// The fused dense layer against burn's `linear` (matmul + broadcast bias): output and the
/// gradients of x, weight and bias, for rank-2 and rank-3 inputs, shapes on both sides of the
/// two-thread threshold, and a single row.
#[test]
fn dense_matches_burns_linear() {
    use duet_core::kernels::dense;
    for (i, (xs, n)) in [
        (vec![5, 7], 3),
        (vec![2, 3, 8], 6),
        (vec![256, 300], 200),
        (vec![1, 4], 1),
    ]
    .into_iter()
    .enumerate()
    {
        let keys = Key::new(80 + i as u64).split(4);
        let k = *xs.last().unwrap();
        let (w, b) = (rand(keys[1], [k, n]), rand(keys[2], [n]));
        let check = |x: Tensor<3>| {
            let up = rand(keys[3], {
                let d = x.dims();
                [d[0], d[1], n]
            });
            let run = |fast: bool| {
                let (x, w, b) = (
                    x.clone().require_grad(),
                    w.clone().require_grad(),
                    b.clone().require_grad(),
                );
                let y = if fast {
                    dense(x.clone(), w.clone(), b.clone())
                } else {
                    burn::tensor::module::linear(x.clone(), w.clone(), Some(b.clone()))
                };
                let grads = (y.clone() * up.clone()).sum().backward();
                (
                    y,
                    x.grad(&grads).unwrap(),
                    w.grad(&grads).unwrap(),
                    b.grad(&grads).unwrap(),
                )
            };
            let (fast, slow) = (run(true), run(false));
            let case = format!("x{:?} -> {n}", x.dims());
            assert_close(&format!("{case} y"), fast.0, slow.0);
            assert_close(&format!("{case} dx"), fast.1, slow.1);
            assert_close(&format!("{case} dw"), fast.2, slow.2);
            assert_close(&format!("{case} db"), fast.3, slow.3);
        };
        let x = if xs.len() == 2 {
            rand(keys[0], [xs[0], xs[1]]).unsqueeze::<3>()
        } else {
            rand(keys[0], [xs[0], xs[1], xs[2]])
        };
        check(x);
    }
}

/// The fused batch norm (training mode) against float64: output, batch mean and variance, and
/// the gradients of x, weight and bias, for [N, C, H, W] and [N, C] inputs, channels far from
/// zero mean included.
#[test]
fn batch_norm_matches_float64() {
    use duet_core::kernels::batch_norm;
    for (i, &(n, c, s, shift)) in [
        (4, 3, 10, 0.0f32),
        (8, 16, 64, 30.0),
        (5, 7, 1, -2.0),
        (2, 2, 9, 0.0),
    ]
    .iter()
    .enumerate()
    {
        let keys = Key::new(90 + i as u64).split(4);
        let x = rand(keys[0], [n, c, s]).add_scalar(shift);
        let (w, b) = (rand(keys[1], [c]), rand(keys[2], [c]));
        let up = rand(keys[3], [n, c, s]);
        let eps = 1e-5;
        let (xg, wg, bg) = (
            x.clone().require_grad(),
            w.clone().require_grad(),
            b.clone().require_grad(),
        );
        let (y, mean, var) = batch_norm(xg.clone(), wg.clone(), bg.clone(), eps);
        let grads = (y.clone() * up.clone()).sum().backward();
        let v3 = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
        let v1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let got = [
            v3(y),
            v1(mean),
            v1(var),
            v3(xg.grad(&grads).unwrap()),
            v1(wg.grad(&grads).unwrap()),
            v1(bg.grad(&grads).unwrap()),
        ];
        // float64 reference.
        let (xs, ws, bs, ups) = (v3(x), v1(w), v1(b), v3(up));
        let at = |img: usize, ch: usize, p: usize| img * c * s + ch * s + p;
        let m = (n * s) as f64;
        let mut want: [Vec<f32>; 6] = [
            vec![0.0; n * c * s],
            vec![],
            vec![],
            vec![0.0; n * c * s],
            vec![],
            vec![],
        ];
        for ch in 0..c {
            let vals: Vec<(usize, f64)> = (0..n)
                .flat_map(|img| (0..s).map(move |p| at(img, ch, p)))
                .map(|j| (j, xs[j] as f64))
                .collect();
            let mu = vals.iter().map(|v| v.1).sum::<f64>() / m;
            let var = vals.iter().map(|v| (v.1 - mu).powi(2)).sum::<f64>() / m;
            let r = 1.0 / (var + eps).sqrt();
            let (wc, bc) = (ws[ch] as f64, bs[ch] as f64);
            let db: f64 = vals.iter().map(|&(j, _)| ups[j] as f64).sum();
            let dw: f64 = vals
                .iter()
                .map(|&(j, v)| ups[j] as f64 * (v - mu) * r)
                .sum();
            for &(j, v) in &vals {
                let xh = (v - mu) * r;
                want[0][j] = (xh * wc + bc) as f32;
                want[3][j] = (wc * r * (ups[j] as f64 - db / m - xh * dw / m)) as f32;
            }
            want[1].push(mu as f32);
            want[2].push(var as f32);
            want[4].push(dw as f32);
            want[5].push(db as f32);
        }
        for ((name, got), want) in ["y", "mean", "var", "dx", "dw", "db"]
            .iter()
            .zip(got)
            .zip(want)
        {
            let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            assert_eq!(got.len(), want.len(), "{name}");
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * scale,
                    "[{n}, {c}, {s}] + {shift} {name}[{j}]: fused {g} vs float64 {w} (scale {scale})"
                );
            }
        }
    }
}

/// Max pooling's tangent map against burn's argmax indices and a gather, output and the
/// gradient with respect to the tangent, for 2x2/2 and overlapping 3x3/2 windows.
#[test]
fn max_pool2d_select_matches_burns_indices_and_gather() {
    use duet_core::kernels::max_pool2d_select;
    for (i, &(k, s)) in [(2usize, 2usize), (3, 2), (2, 1)].iter().enumerate() {
        let keys = Key::new(120 + i as u64).split(3);
        let (n, c, h, w) = (3, 4, 9, 8);
        let x = rand(keys[0], [n, c, h, w]);
        let t = rand(keys[1], [n, c, h, w]);
        let run = |fast: bool| {
            let t = t.clone().require_grad();
            let y = if fast {
                max_pool2d_select(x.clone(), t.clone(), [k, k], [s, s])
            } else {
                let mut o = MaxPoolOptions::new([k, k]);
                o.stride = [s, s];
                let (_, idx) = burn::tensor::module::max_pool2d_with_indices(x.clone(), o);
                let [_, _, ho, wo] = idx.dims();
                t.clone()
                    .reshape([n, c, h * w])
                    .gather(2, idx.reshape([n, c, ho * wo]))
                    .reshape([n, c, ho, wo])
            };
            let up = rand(keys[2], y.dims());
            let grads = (y.clone() * up).sum().backward();
            (y, t.grad(&grads).unwrap())
        };
        let (fast, slow) = (run(true), run(false));
        assert_close(&format!("k{k} s{s} y"), fast.0, slow.0);
        assert_close(&format!("k{k} s{s} dt"), fast.1, slow.1);
    }
}

/// NaN propagates through the fused kernels as through burn's ops (never a finite number from a
/// NaN input): softplus, GELU, attention (the row that sees it), layer norm.
#[test]
fn nan_propagates_through_the_fused_kernels() {
    use duet_core::kernels::{attention, gelu, layer_norm, softplus, AttentionSpec};
    let dev = Device::flex();
    let nan = Tensor::<1>::from_floats([f32::NAN, 1.0], &dev);
    for (name, y) in [
        ("softplus", softplus(nan.clone())),
        ("gelu", gelu(nan.clone())),
    ] {
        let y = y.into_data().try_to_vec::<f32>().unwrap();
        assert!(y[0].is_nan() && y[1].is_finite(), "{name}: {y:?}");
    }
    let mut qv = vec![0.5f32; 2 * 4];
    qv[4] = f32::NAN; // query row 1
    let q = Tensor::<1>::from_floats(qv.as_slice(), &dev).reshape([1, 2, 4]);
    let kv = Tensor::<3>::ones([1, 2, 4], &dev);
    let y = attention(
        q,
        kv.clone(),
        kv,
        AttentionSpec {
            heads: 1,
            causal: false,
        },
    );
    let y = y.into_data().try_to_vec::<f32>().unwrap();
    assert!(
        y[..4].iter().all(|v| v.is_finite()) && y[4..].iter().all(|v| v.is_nan()),
        "attention: {y:?}"
    );
    let x = Tensor::<2>::from_floats([[f32::NAN, 1.0], [2.0, 1.0]], &dev);
    let y = layer_norm(x, Tensor::ones([2], &dev), Tensor::zeros([2], &dev), 1e-5);
    let y = y.into_data().try_to_vec::<f32>().unwrap();
    assert!(
        y[0].is_nan() && y[1].is_nan() && y[2].is_finite(),
        "layer_norm: {y:?}"
    );
}
