//! The forward pass of every case kind, with duet's ops.

use super::Case;
use duet_core::burn::tensor::Tensor;

use duet_core::ops::{
    self, activation as act, AttentionMask, ConvTransposeSpec, CrossEntropy, PoolSpec,
    QkvProjection, Reduction,
};
use duet_core::DynTensor;
use serde_json::Value;

/// Params stored in PyTorch's `[out, in]` linear layout, which duet stores as `[in, out]`.
pub fn transposed(kind: &str, name: &str) -> bool {
    match kind {
        "linear" => name == "weight",
        "lstm_cell" | "gru_cell" | "lstm" | "gru" => name.starts_with("weight_"),
        "multi_head_attention" => name.ends_with("proj_weight"),
        _ => false,
    }
}

/// Applies the activation named by the manifest (PyTorch defaults unless the name carries a
/// parameter, as `leaky_relu_0.01`).
fn activation(c: &Case, x: DynTensor) -> DynTensor {
    let f = c.hyper["function"].as_str().unwrap();
    let rank = x.rank();
    let axis = |s: &str| -> usize {
        match s {
            "last" => rank - 1,
            "first" => 0,
            i => {
                let i: i64 = i
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: axis `{i}`", c.name));
                if i < 0 {
                    (rank as i64 + i) as usize
                } else {
                    i as usize
                }
            }
        }
    };
    let param = |prefix: &str, default: f64| -> f64 {
        f.strip_prefix(prefix)
            .and_then(|s| s.strip_prefix('_'))
            .map(|s| s.parse().unwrap())
            .unwrap_or(default)
    };
    if let Some(ax) = f.strip_prefix("log_softmax_") {
        let ax = axis(ax);
        return by_rank!(x, |x| act::log_softmax(x, ax));
    }
    if let Some(ax) = f.strip_prefix("softmax_") {
        let ax = axis(ax);
        return by_rank!(x, |x| act::softmax(x, ax));
    }
    let name = f
        .split('_')
        .take_while(|s| s.parse::<f64>().is_err())
        .collect::<Vec<_>>()
        .join("_");
    match name.as_str() {
        "relu" => by_rank!(x, |x| act::relu(x)),
        "relu6" => by_rank!(x, |x| act::relu6(x)),
        "leaky_relu" => by_rank!(x, |x| act::leaky_relu(x, param("leaky_relu", 0.01))),
        "elu" => by_rank!(x, |x| act::elu(x, param("elu", 1.0))),
        "selu" => by_rank!(x, |x| act::selu(x)),
        "gelu" | "gelu_erf" => by_rank!(x, |x| act::gelu(x)),
        "gelu_tanh" => by_rank!(x, |x| act::gelu_tanh(x)),
        "silu" | "swish" => by_rank!(x, |x| act::silu(x)),
        "mish" => by_rank!(x, |x| act::mish(x)),
        "sigmoid" => by_rank!(x, |x| act::sigmoid(x)),
        "hard_sigmoid" | "hardsigmoid" => by_rank!(x, |x| act::hard_sigmoid(x)),
        "hard_swish" | "hardswish" => by_rank!(x, |x| act::hard_swish(x)),
        "tanh" => by_rank!(x, |x| act::tanh(x)),
        "softplus" => by_rank!(x, |x| act::softplus(x)),
        "softsign" => by_rank!(x, |x| act::softsign(x)),
        "log_sigmoid" | "logsigmoid" => by_rank!(x, |x| act::log_sigmoid(x)),
        _ => panic!(
            "{}: unknown activation `{f}`: the golden test must learn it",
            c.name
        ),
    }
}

/// The losses; inputs are taken in the manifest's order (prediction first, target second).
fn loss(c: &Case) -> DynTensor {
    c.known_hyper(&[
        "function",
        "reduction",
        "label_smoothing",
        "ignore_index",
        "delta",
        "beta",
    ]);
    let batchmean = c.hyper.get("reduction").and_then(Value::as_str) == Some("batchmean");
    let red = if batchmean {
        Reduction::Sum
    } else {
        c.reduction()
    };
    let (a, b) = (&c.inputs[0], &c.inputs[1]);
    let f = c.hyper["function"].as_str().unwrap();
    let flat = |n: &str| c.t(n).flatten();
    match f {
        "softmax_cross_entropy" | "cross_entropy" | "nll" => {
            // Class axis 1 (PyTorch); extra axes after it are folded into the batch.
            let logits = c.t(a);
            let (logits, k) = {
                let d = logits.dims();
                let k = d[1];
                let moved = match d.len() {
                    2 => logits.into_rank::<2>(),
                    3 => {
                        let t = logits.into_rank::<3>().swap_dims(1, 2);
                        t.reshape([d[0] * d[2], k])
                    }
                    r => panic!("{}: logits of rank {r}", c.name),
                };
                (moved, k)
            };
            if f == "nll" {
                assert!(c.is_int(b));
                return ops::nll(logits, c.ints(b).0, red).into();
            }
            if c.is_int(b) {
                let opts = CrossEntropy {
                    label_smoothing: c.f64_or("label_smoothing", 0.0),
                    ignore_index: c.hyper.get("ignore_index").and_then(Value::as_i64),
                    reduction: red,
                };
                ops::cross_entropy(logits, c.ints(b).0, &opts).into()
            } else {
                assert!(
                    c.hyper.get("ignore_index").is_none(),
                    "{}: probability targets with an ignore_index",
                    c.name
                );
                let probs = c.t(b);
                let probs = match probs.rank() {
                    2 => probs.into_rank::<2>(),
                    _ => {
                        let d = probs.dims();
                        probs
                            .into_rank::<3>()
                            .swap_dims(1, 2)
                            .reshape([d[0] * d[2], k])
                    }
                };
                ops::cross_entropy_probs(logits, probs, c.f64_or("label_smoothing", 0.0), red)
                    .into()
            }
        }
        "bce_with_logits" => ops::bce_with_logits(flat(a), flat(b), red).into(),
        "mse" => ops::mse(flat(a), flat(b), red).into(),
        "l1" => ops::l1(flat(a), flat(b), red).into(),
        "huber" => ops::huber(flat(a), flat(b), c.f64_or("delta", 1.0), red).into(),
        "smooth_l1" => ops::smooth_l1(flat(a), flat(b), c.f64_or("beta", 1.0), red).into(),
        "kl_div" => {
            let batch = c.t(a).dims()[0] as f64;
            let l = ops::kl_div(flat(a), flat(b), red);
            if batchmean {
                (l / batch).into()
            } else {
                l.into()
            }
        }
        _ => panic!(
            "{}: unknown loss `{f}`: the golden test must learn it",
            c.name
        ),
    }
}

/// Updated running mean and variance (batch norm in training).
pub type RunningStats = (Vec<f32>, Vec<f32>);

/// Runs one case's forward pass. Returns the output and, for batch norm in training, the updated
/// running statistics.
/// `None` for the kinds only the layer catalog covers (`duet_testing::under_test`): layers
/// with no typed op of their own, checked through both front-ends by that suite.
pub fn forward(c: &Case) -> Option<(DynTensor, Option<RunningStats>)> {
    let out: DynTensor = match c.kind {
        "linear" => {
            c.known_hyper(&[]);
            let (w, b) = (c.f::<2>("weight"), c.opt1("bias"));
            by_rank!(c.t("x"), |x| ops::dense(x, w, b))
        }
        "conv2d" => {
            c.known_hyper(&["stride", "padding", "dilation", "groups"]);
            ops::conv2d(c.f("x"), c.f("weight"), c.opt1("bias"), &c.conv_spec()).into()
        }
        "conv1d" => {
            c.known_hyper(&["stride", "padding", "dilation", "groups"]);
            ops::conv1d(c.f("x"), c.f("weight"), c.opt1("bias"), &c.conv_spec()).into()
        }
        "conv_transpose2d" => {
            c.known_hyper(&[
                "stride",
                "padding",
                "output_padding",
                "dilation",
                "groups",
                "weight_layout",
            ]);
            let spec = ConvTransposeSpec {
                stride: c.usize_or("stride", 1),
                padding: c.usize_or("padding", 0),
                output_padding: c.usize_or("output_padding", 0),
                dilation: c.usize_or("dilation", 1),
                groups: c.usize_or("groups", 1),
            };
            ops::conv_transpose2d(c.f("x"), c.f("weight"), c.opt1("bias"), &spec).into()
        }
        "max_pool2d" | "avg_pool2d" => {
            c.known_hyper(&["kernel", "stride", "padding", "count_include_pad"]);
            let kernel = c.usize("kernel");
            let spec = PoolSpec {
                kernel,
                stride: c.usize_or("stride", kernel),
                padding: c.usize_or("padding", 0),
            };
            if c.kind == "max_pool2d" {
                ops::max_pool2d(c.f("x"), &spec).into()
            } else {
                ops::avg_pool2d(c.f("x"), &spec, c.bool_or("count_include_pad", true)).into()
            }
        }
        "adaptive_avg_pool2d" => {
            c.known_hyper(&["output"]);
            let o = match &c.hyper["output"] {
                Value::Array(a) => [
                    a[0].as_u64().unwrap() as usize,
                    a[1].as_u64().unwrap() as usize,
                ],
                v => [v.as_u64().unwrap() as usize; 2],
            };
            ops::adaptive_avg_pool2d(c.f("x"), o).into()
        }
        "global_avg_pool2d" => ops::global_avg_pool2d(c.f("x")).into(),
        "batch_norm1d" | "batch_norm2d" | "batch_norm3d" | "batch_norm" => {
            c.known_hyper(&["eps", "mode", "momentum"]);
            let eps = c.f64_or("eps", 1e-5);
            let x = c.t("x");
            let ch = x.dims()[1];
            let w = c
                .opt1("weight")
                .unwrap_or_else(|| Tensor::ones([ch], c.dev));
            let b = c.opt1("bias").unwrap_or_else(|| Tensor::zeros([ch], c.dev));
            match c.hyper["mode"].as_str().unwrap() {
                "train" => {
                    let stat = |s: &str| c.fx.float::<1>(&format!("{}.{s}", c.name), c.dev);
                    let (rm, rv) = (stat("running_mean_before"), stat("running_var_before"));
                    let m = c.f64_or("momentum", 0.1);
                    let mut stats = Vec::new();
                    let y = by_rank!(x, |x| {
                        let (y, s) = ops::batch_norm_train(x, w, b, rm, rv, m, eps);
                        stats.push(s);
                        y
                    });
                    let s = stats.pop().unwrap();
                    let v = |t: Tensor<1>| DynTensor::from(t).to_vec();
                    return Some((y, Some((v(s.running_mean), v(s.running_var)))));
                }
                "eval" => {
                    let (rm, rv) = (c.f::<1>("running_mean"), c.f::<1>("running_var"));
                    by_rank!(x, |x| ops::batch_norm_eval(x, w, b, rm, rv, eps))
                }
                m => panic!("{}: unknown batch norm mode `{m}`", c.name),
            }
        }
        "layer_norm" => {
            c.known_hyper(&["eps"]);
            // Normalized over the trailing axes that the weight covers (flattened into one).
            let x = c.t("x");
            let xd = x.dims();
            let wd = c.t("weight").dims();
            let lead = xd.len() - wd.len();
            assert_eq!(&xd[lead..], &wd[..], "{}: weight vs x", c.name);
            let f: usize = wd.iter().product();
            let mut shape = xd[..lead].to_vec();
            shape.push(f);
            let w = c.has("weight").then(|| c.t("weight").flatten());
            let b = c.has("bias").then(|| c.t("bias").flatten());
            let eps = c.f64_or("eps", 1e-5);
            by_rank!(x.reshape(&shape), |x| ops::layer_norm(x, w, b, eps)).reshape(&xd)
        }
        "group_norm" => {
            c.known_hyper(&["eps", "groups"]);
            let (g, eps) = (c.usize("groups"), c.f64_or("eps", 1e-5));
            let (w, b) = (c.f::<1>("weight"), c.f::<1>("bias"));
            by_rank!(c.t("x"), |x| ops::group_norm(x, g, w, b, eps))
        }
        "rms_norm" => {
            c.known_hyper(&["eps"]);
            let (w, eps) = (c.f::<1>("weight"), c.f64_or("eps", 1e-6));
            by_rank!(c.t("x"), |x| ops::rms_norm(x, w, eps))
        }
        "embedding" => {
            c.known_hyper(&[]);
            let (ids, shape) = c.ints(&c.inputs[0]);
            let n = ids.dims()[0];
            let y = ops::embedding(ids.reshape([1, n]), c.f("weight"));
            let mut out = shape;
            out.push(y.dims()[2]);
            DynTensor::from(y).reshape(&out)
        }
        "activation" => {
            c.known_hyper(&["function"]);
            activation(c, c.t(&c.inputs[0]))
        }
        "loss" => loss(c),
        "lstm_cell" | "gru_cell" => {
            c.known_hyper(&["gate_order", "output"]);
            let w = ops::RnnWeights {
                weight_ih: c.f("weight_ih"),
                weight_hh: c.f("weight_hh"),
                bias_ih: c.opt1("bias_ih"),
                bias_hh: c.opt1("bias_hh"),
            };
            if c.kind == "lstm_cell" {
                assert_eq!(c.hyper["gate_order"], "i,f,g,o");
                let (hn, cn) = ops::lstm_cell(c.f("x"), c.f("h"), c.f("c"), &w);
                Tensor::cat(vec![hn, cn], 1).into()
            } else {
                assert_eq!(c.hyper["gate_order"], "r,z,n");
                ops::gru_cell(c.f("x"), c.f("h"), &w).into()
            }
        }
        "multi_head_attention" => {
            c.known_hyper(&[
                "batch_first",
                "embed_dim",
                "heads",
                "note",
                "causal",
                "is_causal",
            ]);
            assert!(
                c.bool_or("batch_first", true),
                "{}: only batch_first",
                c.name
            );
            let proj = if c.has("in_proj_weight") {
                QkvProjection::Packed {
                    weight: c.f("in_proj_weight"),
                    bias: c.opt1("in_proj_bias"),
                }
            } else {
                let e = c.usize("embed_dim");
                let bias = |i: usize| c.opt1("in_proj_bias").map(|b| b.narrow(0, i * e, e));
                QkvProjection::Separate {
                    q: (c.f("q_proj_weight"), bias(0)),
                    k: (c.f("k_proj_weight"), bias(1)),
                    v: (c.f("v_proj_weight"), bias(2)),
                }
            };
            let key_padding =
                c.fx.contains(&format!("{}.key_padding_mask", c.name))
                    .then(|| {
                        let (m, shape) = c.ints("key_padding_mask");
                        m.reshape([shape[0], shape[1]]).not_equal_elem(0)
                    });
            let mask = AttentionMask {
                causal: c.bool_or("causal", false) || c.bool_or("is_causal", false),
                key_padding,
            };
            ops::multi_head_attention(
                c.f("q"),
                c.f("k"),
                c.f("v"),
                &proj,
                c.f("out_proj_weight"),
                c.opt1("out_proj_bias"),
                c.usize("heads"),
                &mask,
            )
            .into()
        }
        k if duet_testing::covers(k) => return None,
        k => panic!(
            "{}: unknown case kind `{k}`: the golden test must learn it",
            c.name
        ),
    };
    Some((out, None))
}
