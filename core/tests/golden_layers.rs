//! Every case of `fixtures/layers.json` (PyTorch, float64 reference): outputs and every gradient
//! of `sum(output * probe)`, at 1e-5 relative (max-abs error over max-abs reference) or 1e-6
//! absolute. Driven by the manifest: an unknown case kind or function fails the test.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::golden::{assert_close, Fixture};
use duet_core::ops::{
    self, activation as act, ConvSpec, ConvTransposeSpec, CrossEntropy, Padding, PoolSpec,
    Reduction,
};
use duet_core::{value_and_grad_with_aux, DynTensor, Params};
use serde_json::Value;

const REL: f64 = 1e-5;
const ABS: f64 = 1e-6;

fn manifest() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/layers.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

fn fixture() -> Fixture {
    Fixture::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/layers.safetensors"
    ))
}

/// Params stored in PyTorch's `[out, in]` linear layout, which duet stores as `[in, out]`.
fn transposed(kind: &str, name: &str) -> bool {
    matches!(
        (kind, name),
        ("linear", "weight")
            | ("lstm_cell" | "gru_cell", "weight_ih" | "weight_hh")
            | ("multi_head_attention", "in_proj_weight" | "out_proj_weight")
    )
}

fn hyper_usize(h: &Value, k: &str) -> usize {
    h[k].as_u64()
        .unwrap_or_else(|| panic!("hyper `{k}` missing in {h}")) as usize
}

fn hyper_f64(h: &Value, k: &str, default: f64) -> f64 {
    h.get(k).and_then(Value::as_f64).unwrap_or(default)
}

/// Runs one case's forward pass on the leaves `p` (duet layouts). Returns the output and, for
/// batch norm in training, the updated running statistics.
fn forward(
    kind: &str,
    h: &Value,
    p: &Params,
    fx: &Fixture,
    case: &str,
    dev: &Device,
) -> (DynTensor, Option<(Vec<f32>, Vec<f32>)>) {
    let f1 = |n: &str| p.get::<1>(n).unwrap();
    let f2 = |n: &str| p.get::<2>(n).unwrap();
    let f3 = |n: &str| p.get::<3>(n).unwrap();
    let f4 = |n: &str| p.get::<4>(n).unwrap();
    let out: DynTensor = match kind {
        "linear" => ops::dense(f2("x"), f2("weight"), Some(f1("bias"))).into(),
        "conv2d" => {
            let spec = ConvSpec {
                stride: hyper_usize(h, "stride"),
                padding: Padding::Explicit(hyper_usize(h, "padding")),
                dilation: hyper_usize(h, "dilation"),
                groups: hyper_usize(h, "groups"),
            };
            ops::conv2d(f4("x"), f4("weight"), Some(f1("bias")), &spec).into()
        }
        "conv1d" => {
            let spec = ConvSpec {
                stride: hyper_usize(h, "stride"),
                padding: Padding::Explicit(hyper_usize(h, "padding")),
                ..Default::default()
            };
            ops::conv1d(f3("x"), f3("weight"), Some(f1("bias")), &spec).into()
        }
        "conv_transpose2d" => {
            let spec = ConvTransposeSpec {
                stride: hyper_usize(h, "stride"),
                padding: hyper_usize(h, "padding"),
                output_padding: hyper_usize(h, "output_padding"),
                ..Default::default()
            };
            ops::conv_transpose2d(f4("x"), f4("weight"), Some(f1("bias")), &spec).into()
        }
        "max_pool2d" | "avg_pool2d" => {
            let spec = PoolSpec {
                kernel: hyper_usize(h, "kernel"),
                stride: hyper_usize(h, "stride"),
                padding: hyper_usize(h, "padding"),
            };
            if kind == "max_pool2d" {
                ops::max_pool2d(f4("x"), &spec).into()
            } else {
                let include = h
                    .get("count_include_pad")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                ops::avg_pool2d(f4("x"), &spec, include).into()
            }
        }
        "adaptive_avg_pool2d" => {
            let o = hyper_usize(h, "output");
            ops::adaptive_avg_pool2d(f4("x"), [o, o]).into()
        }
        "batch_norm2d" => {
            let eps = hyper_f64(h, "eps", 1e-5);
            match h["mode"].as_str().unwrap() {
                "train" => {
                    let rm = fx.float::<1>(&format!("{case}.running_mean_before"), dev);
                    let rv = fx.float::<1>(&format!("{case}.running_var_before"), dev);
                    let (y, s) =
                        ops::batch_norm_train(f4("x"), f1("weight"), f1("bias"), rm, rv, 0.1, eps);
                    let stats = (
                        DynTensor::from(s.running_mean).to_vec(),
                        DynTensor::from(s.running_var).to_vec(),
                    );
                    return (y.into(), Some(stats));
                }
                "eval" => ops::batch_norm_eval(
                    f4("x"),
                    f1("weight"),
                    f1("bias"),
                    f1("running_mean"),
                    f1("running_var"),
                    eps,
                )
                .into(),
                m => panic!("{case}: unknown batch norm mode {m}"),
            }
        }
        "layer_norm" => ops::layer_norm(
            f3("x"),
            Some(f1("weight")),
            Some(f1("bias")),
            hyper_f64(h, "eps", 1e-5),
        )
        .into(),
        "group_norm" => ops::group_norm(
            f4("x"),
            hyper_usize(h, "groups"),
            f1("weight"),
            f1("bias"),
            hyper_f64(h, "eps", 1e-5),
        )
        .into(),
        "embedding" => {
            ops::embedding(fx.int::<2>(&format!("{case}.ids"), dev), f2("weight")).into()
        }
        "activation" => {
            let x = f2("x");
            let y = match h["function"].as_str().unwrap() {
                "relu" => act::relu(x),
                "sigmoid" => act::sigmoid(x),
                "tanh" => act::tanh(x),
                "gelu_erf" => act::gelu(x),
                "gelu_tanh" => act::gelu_tanh(x),
                "silu" => act::silu(x),
                "softplus" => act::softplus(x),
                "elu" => act::elu(x, 1.0),
                "leaky_relu_0.01" => act::leaky_relu(x, 0.01),
                "log_softmax_last" => act::log_softmax(x, 1),
                "softmax_last" => act::softmax(x, 1),
                "hard_sigmoid" => act::hard_sigmoid(x),
                "mish" => act::mish(x),
                f => panic!("{case}: unknown activation `{f}`"),
            };
            y.into()
        }
        "loss" => {
            let red = match h["reduction"].as_str().unwrap_or("mean") {
                "mean" => Reduction::Mean,
                "sum" => Reduction::Sum,
                r => panic!("{case}: unknown reduction {r}"),
            };
            let y = match h["function"].as_str().unwrap() {
                "softmax_cross_entropy" => {
                    let opts = CrossEntropy {
                        label_smoothing: hyper_f64(h, "label_smoothing", 0.0),
                        ignore_index: None,
                        reduction: red,
                    };
                    ops::cross_entropy(
                        f2("logits"),
                        fx.int::<1>(&format!("{case}.labels"), dev),
                        &opts,
                    )
                }
                "bce_with_logits" => ops::bce_with_logits(f2("logits"), f2("targets"), red),
                "mse" => ops::mse(f2("pred"), f2("target"), red),
                "l1" => ops::l1(f2("pred"), f2("target"), red),
                "huber" => ops::huber(f2("pred"), f2("target"), hyper_f64(h, "delta", 1.0), red),
                f => panic!("{case}: unknown loss `{f}`"),
            };
            y.into()
        }
        "lstm_cell" | "gru_cell" => {
            let w = ops::RnnWeights {
                weight_ih: f2("weight_ih"),
                weight_hh: f2("weight_hh"),
                bias_ih: Some(f1("bias_ih")),
                bias_hh: Some(f1("bias_hh")),
            };
            if kind == "lstm_cell" {
                let (hn, cn) = ops::lstm_cell(f2("x"), f2("h"), f2("c"), &w);
                Tensor::cat(vec![hn, cn], 1).into()
            } else {
                ops::gru_cell(f2("x"), f2("h"), &w).into()
            }
        }
        "multi_head_attention" => {
            let proj = ops::QkvProjection::Packed {
                weight: f2("in_proj_weight"),
                bias: Some(f1("in_proj_bias")),
            };
            let heads = hyper_usize(h, "heads");
            ops::multi_head_attention(
                f3("q"),
                f3("k"),
                f3("v"),
                &proj,
                f2("out_proj_weight"),
                Some(f1("out_proj_bias")),
                heads,
                &Default::default(),
            )
            .into()
        }
        k => panic!("{case}: unknown case kind `{k}`: the golden test must learn it"),
    };
    (out, None)
}

fn t2(v: &[f32], shape: &[usize]) -> Vec<f32> {
    // transpose a [r, c] row-major matrix
    let (r, c) = (shape[0], shape[1]);
    (0..c)
        .flat_map(|j| (0..r).map(move |i| v[i * c + j]))
        .collect()
}

#[test]
fn every_golden_layer_case_matches_pytorch() {
    let m = manifest();
    let fx = fixture();
    let dev = Device::flex();
    let cases = m["cases"].as_object().unwrap();
    assert!(
        cases.len() >= 39,
        "expected at least 39 cases, manifest has {}",
        cases.len()
    );
    for (case, entry) in cases {
        let kind = entry["kind"].as_str().unwrap();
        let h = &entry["hyper"];
        let names: Vec<String> = entry["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .chain(entry["params"].as_array().unwrap())
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        // Float leaves, in duet layout.
        let mut leaves = Params::new();
        for n in &names {
            let s = fx.get(&format!("{case}.{n}"));
            if s.f32s.is_empty() && !s.i64s.is_empty() {
                continue; // integer inputs (labels, ids) are constants
            }
            let t = if transposed(kind, n) {
                DynTensor::from_floats(t2(&s.f32s, &s.shape), &[s.shape[1], s.shape[0]], &dev)
            } else {
                let shape = if s.shape.is_empty() {
                    vec![1]
                } else {
                    s.shape.clone()
                };
                DynTensor::from_floats(s.f32s.clone(), &shape, &dev)
            };
            leaves.insert(n.clone(), t);
        }
        let probe = fx.get(&format!("{case}.probe")).f32s.clone();
        let probe_shape = {
            let s = &fx.get(&format!("{case}.probe")).shape;
            if s.is_empty() {
                vec![1]
            } else {
                s.clone()
            }
        };
        let (_, (out, stats), grads) = value_and_grad_with_aux(
            |p| {
                let (y, stats) = forward(kind, h, p, &fx, case, &dev);
                let probe = DynTensor::from_floats(probe.clone(), &probe_shape, &dev);
                assert_eq!(y.dims(), probe.dims(), "{case}: output shape");
                ((y.clone() * probe).sum(), (y.without_autodiff(), stats))
            },
            &leaves,
        );
        assert_close(
            &format!("{case}: output"),
            &out.to_vec(),
            &fx.get(&format!("{case}.output")).f32s,
            REL,
            ABS,
        );
        let mut checked = 0;
        for n in leaves.paths() {
            let key = format!("{case}.grad_{n}");
            if !fx.contains(&key) {
                continue; // constants (running statistics in eval mode)
            }
            let want = fx.get(&key);
            let got = grads.get_dyn(n).unwrap().to_vec();
            let got = if transposed(kind, n) {
                t2(&got, &[want.shape[1], want.shape[0]])
            } else {
                got
            };
            assert_close(&format!("{case}: grad_{n}"), &got, &want.f32s, REL, ABS);
            checked += 1;
        }
        let expected_grads = entry["tensors"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("grad_"))
            .count();
        assert_eq!(
            checked, expected_grads,
            "{case}: every gradient in the manifest must be checked"
        );
        if let Some((rm, rv)) = stats {
            assert_close(
                &format!("{case}: running_mean"),
                &rm,
                &fx.get(&format!("{case}.running_mean_after")).f32s,
                REL,
                ABS,
            );
            assert_close(
                &format!("{case}: running_var"),
                &rv,
                &fx.get(&format!("{case}.running_var_after")).f32s,
                REL,
                ABS,
            );
        }
    }
}
