//! Every case of `fixtures/layers.json` (PyTorch, float64 reference): outputs and every gradient
//! of `sum(output * probe)`, at 1e-5 relative (max-abs error over max-abs reference) or 1e-6
//! absolute.
//!
//! Driven by the manifest, so the fixtures can be regenerated in place with another seed (or
//! other shapes) by `fixtures/generate.py`: hyper-parameters, shapes and ranks are read from the
//! files, never hard-coded. An unknown case kind, function, reduction or hyper-parameter fails
//! the test, so nothing is skipped silently.

use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::golden::{assert_close, errors, Fixture};
use duet_core::ops::{
    self, activation as act, AttentionMask, ConvSpec, ConvTransposeSpec, CrossEntropy, Padding,
    PoolSpec, QkvProjection, Reduction,
};
use duet_core::{value_and_grad_with_aux, DynTensor, Params};
use serde_json::Value;

const REL: f64 = 1e-5;
const ABS: f64 = 1e-6;
thread_local! {
    static WORST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// [`assert_close`] at the suite's tolerance, remembering the worst relative error seen.
fn check(what: &str, actual: &[f32], expected: &[f32]) {
    let (rel, _) = errors(actual, expected);
    WORST.with(|w| w.set(w.get().max(rel)));
    assert_close(what, actual, expected, REL, ABS);
}

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Applies a rank-generic expression to a [`DynTensor`] of rank 1 to 5.
macro_rules! by_rank {
    ($t:expr, |$x:ident| $body:expr) => {{
        let t: DynTensor = $t;
        match t.rank() {
            1 => {
                let $x = t.into_rank::<1>();
                DynTensor::from($body)
            }
            2 => {
                let $x = t.into_rank::<2>();
                DynTensor::from($body)
            }
            3 => {
                let $x = t.into_rank::<3>();
                DynTensor::from($body)
            }
            4 => {
                let $x = t.into_rank::<4>();
                DynTensor::from($body)
            }
            5 => {
                let $x = t.into_rank::<5>();
                DynTensor::from($body)
            }
            r => panic!("rank {r} is not supported by the golden test"),
        }
    }};
}

/// One case: its name, kind, hyper-parameters, leaves (autodiff-tracked, duet layouts) and the
/// fixture (for integer inputs and constants).
struct Case<'a> {
    name: &'a str,
    kind: &'a str,
    hyper: &'a Value,
    inputs: Vec<String>,
    p: &'a Params,
    fx: &'a Fixture,
    dev: &'a Device,
}

impl Case<'_> {
    fn has(&self, n: &str) -> bool {
        self.p.contains(n)
    }
    fn t(&self, n: &str) -> DynTensor {
        self.p
            .get_dyn(n)
            .unwrap_or_else(|_| panic!("{}: no float tensor `{n}`", self.name))
            .clone()
    }
    fn f<const D: usize>(&self, n: &str) -> Tensor<D> {
        self.t(n).into_rank::<D>()
    }
    fn opt1(&self, n: &str) -> Option<Tensor<1>> {
        self.has(n).then(|| self.f::<1>(n))
    }
    /// An integer tensor from the fixture (labels, ids), as a rank-1 tensor and its shape.
    fn ints(&self, n: &str) -> (Tensor<1, Int>, Vec<usize>) {
        let s = self.fx.get(&format!("{}.{n}", self.name));
        let len = s.i64s.len();
        let data = TensorData::new(s.i64s.clone(), [len]);
        (Tensor::from_data(data, self.dev), s.shape.clone())
    }
    fn is_int(&self, n: &str) -> bool {
        !self.has(n)
    }
    /// Checks that every hyper-parameter is one this test reads.
    fn known_hyper(&self, keys: &[&str]) {
        for k in self.hyper.as_object().unwrap().keys() {
            assert!(
                keys.contains(&k.as_str()),
                "{}: hyper-parameter `{k}` is unknown to the golden test",
                self.name
            );
        }
    }
    /// A spatial hyper-parameter: an integer, or a list of equal integers.
    fn usize_or(&self, k: &str, default: usize) -> usize {
        match self.hyper.get(k) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) => n.as_u64().unwrap() as usize,
            Some(Value::Array(a)) => {
                let v: Vec<u64> = a.iter().map(|x| x.as_u64().unwrap()).collect();
                assert!(
                    v.iter().all(|x| *x == v[0]),
                    "{}: `{k}` = {v:?}: duet's ops take one value for every axis",
                    self.name
                );
                v[0] as usize
            }
            Some(v) => panic!("{}: `{k}` = {v} is not an integer", self.name),
        }
    }
    fn usize(&self, k: &str) -> usize {
        assert!(
            self.hyper.get(k).is_some(),
            "{}: hyper `{k}` missing",
            self.name
        );
        self.usize_or(k, 0)
    }
    fn f64_or(&self, k: &str, default: f64) -> f64 {
        self.hyper.get(k).and_then(Value::as_f64).unwrap_or(default)
    }
    fn bool_or(&self, k: &str, default: bool) -> bool {
        self.hyper
            .get(k)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }
    fn conv_padding(&self) -> Padding {
        match self.hyper.get("padding") {
            Some(Value::String(s)) if s == "same" => Padding::Same,
            Some(Value::String(s)) if s == "valid" => Padding::Valid,
            Some(Value::String(s)) => panic!("{}: padding `{s}`", self.name),
            _ => Padding::Explicit(self.usize_or("padding", 0)),
        }
    }
    fn conv_spec(&self) -> ConvSpec {
        ConvSpec {
            stride: self.usize_or("stride", 1),
            padding: self.conv_padding(),
            dilation: self.usize_or("dilation", 1),
            groups: self.usize_or("groups", 1),
        }
    }
    fn reduction(&self) -> Reduction {
        match self
            .hyper
            .get("reduction")
            .and_then(Value::as_str)
            .unwrap_or("mean")
        {
            "mean" => Reduction::Mean,
            "sum" => Reduction::Sum,
            "none" => Reduction::None,
            r => panic!("{}: unknown reduction `{r}`", self.name),
        }
    }
}

/// Params stored in PyTorch's `[out, in]` linear layout, which duet stores as `[in, out]`.
fn transposed(kind: &str, name: &str) -> bool {
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
type RunningStats = (Vec<f32>, Vec<f32>);

/// Runs one case's forward pass. Returns the output and, for batch norm in training, the updated
/// running statistics.
fn forward(c: &Case) -> (DynTensor, Option<RunningStats>) {
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
                    return (y, Some((v(s.running_mean), v(s.running_var))));
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
        k => panic!(
            "{}: unknown case kind `{k}`: the golden test must learn it",
            c.name
        ),
    };
    (out, None)
}

/// Transposes a row-major `[r, c]` matrix.
fn t2(v: &[f32], shape: &[usize]) -> Vec<f32> {
    let (r, c) = (shape[0], shape[1]);
    (0..c)
        .flat_map(|j| (0..r).map(move |i| v[i * c + j]))
        .collect()
}

fn non_scalar(s: &[usize]) -> Vec<usize> {
    if s.is_empty() {
        vec![1]
    } else {
        s.to_vec()
    }
}

/// Runs one case; returns how many tensors were compared.
fn run_case(name: &str, entry: &Value, fx: &Fixture, dev: &Device) -> usize {
    let kind = entry["kind"].as_str().unwrap();
    let list = |k: &str| -> Vec<String> {
        entry[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let inputs = list("inputs");
    // Float leaves in duet layout; integer inputs (labels, ids, masks) stay constants.
    let mut leaves = Params::new();
    for n in inputs.iter().chain(&list("params")) {
        let s = fx.get(&format!("{name}.{n}"));
        if s.f32s.is_empty() && !s.i64s.is_empty() {
            continue;
        }
        let t = if transposed(kind, n) {
            assert_eq!(s.shape.len(), 2, "{name}: {n} should be a matrix");
            DynTensor::from_floats(t2(&s.f32s, &s.shape), &[s.shape[1], s.shape[0]], dev)
        } else {
            DynTensor::from_floats(s.f32s.clone(), &non_scalar(&s.shape), dev)
        };
        leaves.insert(n.clone(), t);
    }
    let probe = fx.get(&format!("{name}.probe"));
    let probe_shape = non_scalar(&probe.shape);
    let (_, (out, stats), grads) = value_and_grad_with_aux(
        |p| {
            let c = Case {
                name,
                kind,
                hyper: &entry["hyper"],
                inputs: inputs.clone(),
                p,
                fx,
                dev,
            };
            let (y, stats) = forward(&c);
            if kind == "loss" {
                // Reduced losses are `[1]` (PyTorch: `[]`); unreduced ones may be flattened.
                assert_eq!(y.num_elements(), probe.f32s.len(), "{name}: output size");
            } else {
                assert_eq!(y.dims(), probe_shape, "{name}: output shape");
            }
            let y = y.reshape(&probe_shape);
            let pr = DynTensor::from_floats(probe.f32s.clone(), &probe_shape, dev);
            ((y.clone() * pr).sum(), (y.without_autodiff(), stats))
        },
        &leaves,
    );
    let want = |k: &str| fx.get(&format!("{name}.{k}")).f32s.clone();
    check(&format!("{name}: output"), &out.to_vec(), &want("output"));
    let mut checked = 1;
    let expected: Vec<&String> = entry["tensors"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("grad_"))
        .collect();
    for key in &expected {
        let n = &key["grad_".len()..];
        let got = grads
            .get_dyn(n)
            .unwrap_or_else(|_| {
                panic!("{name}: `{key}` is in the manifest but `{n}` is no float leaf")
            })
            .to_vec();
        let w = fx.get(&format!("{name}.{key}"));
        let got = if transposed(kind, n) {
            t2(&got, &[w.shape[1], w.shape[0]])
        } else {
            got
        };
        check(&format!("{name}: {key}"), &got, &w.f32s);
        checked += 1;
    }
    if let Some((rm, rv)) = stats {
        check(
            &format!("{name}: running_mean"),
            &rm,
            &want("running_mean_after"),
        );
        check(
            &format!("{name}: running_var"),
            &rv,
            &want("running_var_after"),
        );
        checked += 2;
    } else {
        assert!(
            !entry["tensors"]
                .as_object()
                .unwrap()
                .contains_key("running_mean_after"),
            "{name}: running statistics in the manifest were not checked"
        );
    }
    checked
}

#[test]
fn every_golden_layer_case_matches_pytorch() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(format!("{DIR}/layers.safetensors"));
    let dev = Device::flex();
    let cases = m["cases"].as_object().unwrap();
    assert!(!cases.is_empty(), "the manifest has no cases");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, entry) in cases {
        WORST.with(|w| w.set(0.0));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(name, entry, &fx, &dev)
        }));
        match r {
            Ok(n) => {
                compared += n;
                eprintln!(
                    "ok   {name} ({n} tensors, worst relative error {:.1e})",
                    WORST.with(|w| w.get())
                );
            }
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("FAIL {name}: {msg}");
                failures.push(format!("{name}: {msg}"));
            }
        }
    }
    eprintln!("{} cases, {compared} tensors compared", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn first_case(kind: &str) -> (String, Value) {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let (name, entry) = m["cases"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, e)| e["kind"] == kind)
        .map(|(n, e)| (n.clone(), e.clone()))
        .unwrap_or_else(|| panic!("no `{kind}` case in the manifest"));
    (name, entry)
}

#[test]
#[should_panic(expected = "unknown case kind `frobnicate`")]
fn a_case_kind_the_test_does_not_know_fails() {
    let (name, mut entry) = first_case("activation");
    entry["kind"] = "frobnicate".into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

#[test]
#[should_panic(expected = "unknown activation `frobnicate`")]
fn an_activation_the_test_does_not_know_fails() {
    let (name, mut entry) = first_case("activation");
    entry["hyper"]["function"] = "frobnicate".into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

#[test]
#[should_panic(expected = "hyper-parameter `ceil_mode` is unknown")]
fn a_hyper_parameter_the_test_does_not_know_fails() {
    let (name, mut entry) = first_case("max_pool2d");
    entry["hyper"]["ceil_mode"] = true.into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

#[test]
#[should_panic(expected = "output: relative error")]
fn a_wrong_hyper_parameter_is_caught_by_the_comparison() {
    // Guards against a comparison that passes vacuously.
    let (name, mut entry) = first_case("layer_norm");
    entry["hyper"]["eps"] = 0.5.into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}
