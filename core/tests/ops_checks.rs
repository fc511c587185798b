//! Hand-checkable values and error messages of the shared ops (beyond the doctests).

use duet_core::burn::tensor::{Bool, Device, Int, Tensor};
use duet_core::ops::{
    self, AttentionMask, ConvSpec, CrossEntropy, Padding, QkvProjection, Reduction,
};

fn v<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn same_padding_keeps_the_size_for_odd_and_even_kernels_and_strides() {
    let dev = Device::flex();
    for (k, s, n) in [(3usize, 1usize, 7usize), (4, 1, 7), (3, 2, 9), (5, 2, 8)] {
        let spec = ConvSpec {
            stride: s,
            padding: Padding::Same,
            ..Default::default()
        };
        let y = ops::conv2d(
            Tensor::ones([1, 1, n, n], &dev),
            Tensor::ones([1, 1, k, k], &dev),
            None,
            &spec,
        );
        assert_eq!(y.dims()[2], n.div_ceil(s), "k={k} s={s} n={n}");
        assert_eq!(spec.out_len(n, k), n.div_ceil(s));
    }
}

#[test]
fn causal_mask_hides_the_future() {
    let dev = Device::flex();
    let eye = Tensor::<2>::eye(1, &dev);
    let proj = QkvProjection::Separate {
        q: (eye.clone(), None),
        k: (eye.clone(), None),
        v: (eye.clone(), None),
    };
    let x = Tensor::<3>::from_floats([[[1.0], [2.0], [3.0]]], &dev);
    let y = ops::multi_head_attention(
        x.clone(),
        x.clone(),
        x.clone(),
        &proj,
        eye.clone(),
        None,
        1,
        &AttentionMask {
            causal: true,
            key_padding: None,
        },
    );
    let y = v(y);
    assert_eq!(y[0], 1.0, "the first query sees only the first key");
    assert!(y[1] > 1.0 && y[1] < 2.0);
    // Padding the last key away makes the last query ignore it too.
    let pad = Tensor::<2, Bool>::from_data(
        duet_core::burn::tensor::TensorData::from([[false, false, true]]),
        &dev,
    );
    let y = v(ops::multi_head_attention(
        x.clone(),
        x.clone(),
        x,
        &proj,
        eye,
        None,
        1,
        &AttentionMask {
            causal: false,
            key_padding: Some(pad),
        },
    ));
    assert!(y.iter().all(|&a| a < 2.0), "{y:?}");
}

#[test]
fn cross_entropy_ignore_index_and_reductions() {
    let dev = Device::flex();
    let logits = Tensor::<2>::zeros([3, 2], &dev);
    let labels = Tensor::<1, Int>::from_ints([0, -100, 1], &dev);
    let opts = CrossEntropy {
        ignore_index: Some(-100),
        ..Default::default()
    };
    let mean = ops::cross_entropy(logits.clone(), labels.clone(), &opts).into_scalar::<f32>();
    assert!(
        (mean - 2f32.ln()).abs() < 1e-6,
        "mean over the two kept samples: {mean}"
    );
    let none = v(ops::cross_entropy(
        logits.clone(),
        labels.clone(),
        &CrossEntropy {
            reduction: Reduction::None,
            ..opts
        },
    ));
    assert_eq!(none[1], 0.0);
    let sum = ops::cross_entropy(
        logits,
        labels,
        &CrossEntropy {
            reduction: Reduction::Sum,
            ..opts
        },
    )
    .into_scalar::<f32>();
    assert!((sum - 2.0 * 2f32.ln()).abs() < 1e-6);
}

#[test]
fn recurrent_sequences_match_repeated_cells() {
    let dev = Device::flex();
    let w = ops::RnnWeights {
        weight_ih: Tensor::from_floats([[0.1, 0.2, 0.3, 0.4]], &dev),
        weight_hh: Tensor::from_floats([[0.5, -0.5, 0.25, 0.1]], &dev),
        bias_ih: None,
        bias_hh: None,
    };
    let x = Tensor::<3>::from_floats([[[1.0], [2.0]]], &dev);
    let (outs, (h, c)) = ops::lstm(
        x,
        Tensor::zeros([1, 1], &dev),
        Tensor::zeros([1, 1], &dev),
        &w,
    );
    let (h1, c1) = ops::lstm_cell(
        Tensor::from_floats([[1.0]], &dev),
        Tensor::zeros([1, 1], &dev),
        Tensor::zeros([1, 1], &dev),
        &w,
    );
    let (h2, c2) = ops::lstm_cell(Tensor::from_floats([[2.0]], &dev), h1.clone(), c1, &w);
    assert_eq!(v(outs), vec![v(h1)[0], v(h2.clone())[0]]);
    assert_eq!((v(h), v(c)), (v(h2), v(c2)));
}

#[test]
#[should_panic(expected = "dense: x has 5 features (shape [2, 5]) but weight is [4, 3]")]
fn dense_shape_error_names_both_shapes() {
    let dev = Device::flex();
    let _ = ops::dense(
        Tensor::<2>::zeros([2, 5], &dev),
        Tensor::zeros([4, 3], &dev),
        None,
    );
}

#[test]
#[should_panic(expected = "conv2d: input [1, 3, 8, 8] has 3 channels but weight [6, 4, 3, 3]")]
fn conv_shape_error_names_both_shapes() {
    let dev = Device::flex();
    let _ = ops::conv2d(
        Tensor::zeros([1, 3, 8, 8], &dev),
        Tensor::zeros([6, 4, 3, 3], &dev),
        None,
        &ConvSpec::default(),
    );
}

#[test]
fn accuracy_metrics() {
    let dev = Device::flex();
    let logits = Tensor::<2>::from_floats([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], &dev);
    let labels = Tensor::<1, Int>::from_ints([2, 1], &dev);
    assert_eq!(ops::accuracy(logits.clone(), labels.clone()), 0.5);
    assert_eq!(ops::top_k_accuracy(logits, labels, 2), 1.0);
}

#[test]
#[should_panic(expected = "layer_norm: weight has shape [4] but input [2, 3] has 3 features")]
fn layer_norm_shape_error_names_both_shapes() {
    let dev = Device::flex();
    let _ = ops::layer_norm(
        Tensor::<2>::zeros([2, 3], &dev),
        Some(Tensor::ones([4], &dev)),
        None,
        1e-5,
    );
}

#[test]
#[should_panic(expected = "batch_norm: weight has shape [3] but input [2, 4, 5] has 4 channels")]
fn batch_norm_shape_error_names_both_shapes() {
    let dev = Device::flex();
    let _ = ops::batch_norm_eval(
        Tensor::<3>::zeros([2, 4, 5], &dev),
        Tensor::ones([3], &dev),
        Tensor::zeros([4], &dev),
        Tensor::zeros([4], &dev),
        Tensor::ones([4], &dev),
        1e-5,
    );
}

#[test]
#[should_panic(expected = "lstm_cell: x [2, 5] and h [2, 3] do not match weight_ih [4, 12]")]
fn lstm_shape_error_names_the_shapes() {
    let dev = Device::flex();
    let w = ops::RnnWeights {
        weight_ih: Tensor::zeros([4, 12], &dev),
        weight_hh: Tensor::zeros([3, 12], &dev),
        bias_ih: None,
        bias_hh: None,
    };
    let _ = ops::lstm_cell(
        Tensor::zeros([2, 5], &dev),
        Tensor::zeros([2, 3], &dev),
        Tensor::zeros([2, 3], &dev),
        &w,
    );
}

#[test]
#[should_panic(expected = "mse: prediction [2, 3] vs target [3, 2]")]
fn loss_shape_error_names_both_shapes() {
    let dev = Device::flex();
    let _ = ops::mse(
        Tensor::<2>::zeros([2, 3], &dev),
        Tensor::zeros([3, 2], &dev),
        Reduction::Mean,
    );
}

#[test]
fn constant_weight_layers_give_hand_computed_values() {
    let dev = Device::flex();
    // dense over a rank-3 input: every output is sum(x_row) * 0.5 + 1.
    let x = Tensor::<3>::from_floats([[[1.0, 2.0, 3.0], [0.0, 0.0, 4.0]]], &dev);
    let y = ops::dense(
        x,
        Tensor::full([3, 2], 0.5, &dev),
        Some(Tensor::ones([2], &dev)),
    );
    assert_eq!(y.dims(), [1, 2, 2]);
    assert_eq!(v(y), vec![4.0, 4.0, 3.0, 3.0]);
    // conv2d with groups = 2, ones weights: each output channel sums its group's 2 channels
    // over a 2x2 window.
    let x = Tensor::<4>::ones([1, 4, 2, 2], &dev);
    let y = ops::conv2d(
        x,
        Tensor::ones([2, 2, 2, 2], &dev),
        Some(Tensor::from_floats([0.0, 1.0], &dev)),
        &ConvSpec {
            groups: 2,
            ..Default::default()
        },
    );
    assert_eq!(v(y), vec![8.0, 9.0]);
    // avg pool 3x3, stride 1, padding 1 on ones: the corner counts 4 of 9 cells with padding,
    // all 4 real cells without.
    let spec = ops::PoolSpec {
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let x = Tensor::<4>::ones([1, 1, 3, 3], &dev);
    assert_eq!(v(ops::avg_pool2d(x.clone(), &spec, true))[0], 4.0 / 9.0);
    assert_eq!(v(ops::avg_pool2d(x, &spec, false))[0], 1.0);
    // huber = smooth_l1 * delta at delta 2: |d| = 3 -> 2 * (3 - 1) = 4.
    let p = Tensor::<1>::from_floats([3.0], &dev);
    let z = Tensor::<1>::zeros([1], &dev);
    assert_eq!(
        v(ops::huber(p.clone(), z.clone(), 2.0, Reduction::Sum)),
        vec![4.0]
    );
    assert_eq!(v(ops::smooth_l1(p, z, 2.0, Reduction::Sum)), vec![2.0]);
    // dropout: same key, same mask; evaluation is the identity.
    let x = Tensor::<2>::ones([16, 16], &dev);
    let k = duet_core::Key::new(7);
    let y = v(ops::dropout(x.clone(), 0.25, Some(k)));
    assert_eq!(y, v(ops::dropout(x.clone(), 0.25, Some(k))));
    // It does drop: every value is 0 or 1 / (1 - 0.25), and about a quarter are 0 (64 of 256
    // expected; the bounds are 5 standard deviations).
    assert!(
        y.iter().all(|&a| a == 0.0 || (a - 4.0 / 3.0).abs() < 1e-6),
        "{y:?}"
    );
    let dropped = y.iter().filter(|&&a| a == 0.0).count();
    assert!((30..=98).contains(&dropped), "{dropped} of 256 dropped");
    let other = v(ops::dropout(x.clone(), 0.25, Some(duet_core::Key::new(8))));
    assert_ne!(y, other, "another key, another mask");
    assert_eq!(v(ops::dropout(x.clone(), 0.25, None)), v(x));
}

#[test]
fn activations_outside_the_golden_set_match_their_formulas() {
    // References from Python's math module at x = [-3, -0.5, 0, 0.7, 4].
    use ops::activation as act;
    let dev = Device::flex();
    let x = || Tensor::<1>::from_floats([-3.0, -0.5, 0.0, 0.7, 4.0], &dev);
    let cases: Vec<(&str, Tensor<1>, [f32; 5])> = vec![
        ("relu6", act::relu6(x()), [0.0, 0.0, 0.0, 0.7, 4.0]),
        (
            "selu",
            act::selu(x()),
            [-1.6705687, -0.6917582, 0.0, 0.7354907, 4.202_804],
        ),
        (
            "hard_swish",
            act::hard_swish(x()),
            [0.0, -0.2083333, 0.0, 0.4316667, 4.0],
        ),
        (
            "softsign",
            act::softsign(x()),
            [-0.75, -0.3333333, 0.0, 0.4117647, 0.8],
        ),
        (
            "log_sigmoid",
            act::log_sigmoid(x()),
            [
                -3.0485874,
                -0.974077,
                -std::f32::consts::LN_2,
                -0.403186,
                -0.0181499,
            ],
        ),
        (
            "elu_0.5",
            act::elu(x(), 0.5),
            [-0.4751065, -0.1967347, 0.0, 0.7, 4.0],
        ),
        (
            "swish",
            act::swish(x()),
            [-0.1422776, -0.1887703, 0.0, 0.4677314, 3.9280552],
        ),
    ];
    for (name, got, want) in cases {
        duet_testing::assert_close(name, &v(got), &want, 1e-6, 1e-6);
    }
}

#[test]
fn loss_gradients_are_hand_checkable() {
    use duet_core::{grad, Params};
    let dev = Device::flex();
    // d/dlogits of mean softmax cross-entropy against probabilities q is (softmax - q) / N.
    let p = Params::new().with("logits", Tensor::<2>::zeros([1, 2], &dev));
    let q = Tensor::<2>::from_floats([[1.0, 0.0]], &dev);
    let g = grad(
        |p| {
            ops::cross_entropy_probs(
                p.get::<2>("logits").unwrap(),
                q.clone(),
                0.0,
                Reduction::Mean,
            )
        },
        &p,
    );
    assert_eq!(g.get_dyn("logits").unwrap().to_vec(), vec![-0.5, 0.5]);
    // d/dlogp of mean NLL is -1/N at each label.
    let p = Params::new().with("logp", Tensor::<2>::zeros([2, 3], &dev));
    let labels = Tensor::<1, Int>::from_ints([2, 0], &dev);
    let g = grad(
        |p| ops::nll(p.get::<2>("logp").unwrap(), labels.clone(), Reduction::Mean),
        &p,
    );
    assert_eq!(
        g.get_dyn("logp").unwrap().to_vec(),
        vec![0.0, 0.0, -0.5, -0.5, 0.0, 0.0]
    );
    // rms_norm of a constant row is weight (the rms is the constant), with eps 0.
    let y = ops::rms_norm(
        Tensor::<2>::full([1, 3], -2.0, &dev),
        Tensor::from_floats([1.0, 2.0, 3.0], &dev),
        0.0,
    );
    assert_eq!(v(y), vec![-1.0, -2.0, -3.0]);
}
