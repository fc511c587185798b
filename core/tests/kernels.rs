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
