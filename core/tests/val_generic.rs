//! Every layer config's maths is generic over `Val`: run through a value type that forwards
//! each op to `DynTensor` and counts it, every config gives the same numbers as on plain tensors
//! (and calls at least one op). A layer calling a typed `ops::` function directly would not
//! compile here.

use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::layers::*;
use duet_core::ops::{ConvSpec, ConvTransposeSpec, PoolSpec};
use duet_core::{DynTensor, Key, Mode, Params};
use std::cell::Cell;
use std::collections::BTreeMap;

thread_local!(static OPS: Cell<usize> = const { Cell::new(0) });

/// A `DynTensor` that counts the ops applied to it.
#[derive(Clone, Debug)]
struct Counting(DynTensor);

fn count<T>(t: T) -> T {
    OPS.with(|c| c.set(c.get() + 1));
    t
}

impl Val for Counting {
    fn dims(&self) -> Vec<usize> {
        self.0.dims()
    }
    fn device(&self) -> Device {
        self.0.device()
    }
    fn reshape(self, d: &[usize]) -> Self {
        count(Counting(Val::reshape(self.0, d)))
    }
    fn swap_dims(self, a: usize, b: usize) -> Self {
        count(Counting(self.0.swap_dims(a, b)))
    }
    fn narrow(self, axis: usize, start: usize, len: usize) -> Self {
        count(Counting(self.0.narrow(axis, start, len)))
    }
    fn cat(xs: Vec<Self>, axis: usize) -> Self {
        count(Counting(Val::cat(
            xs.into_iter().map(|x| x.0).collect(),
            axis,
        )))
    }
    fn constant(t: DynTensor) -> Self {
        Counting(t)
    }
    fn primal(&self) -> &DynTensor {
        &self.0
    }
    fn add(self, o: Self) -> Self {
        count(Counting(Val::add(self.0, o.0)))
    }
    fn sub(self, o: Self) -> Self {
        count(Counting(Val::sub(self.0, o.0)))
    }
    fn mul(self, o: Self) -> Self {
        count(Counting(Val::mul(self.0, o.0)))
    }
    fn div(self, o: Self) -> Self {
        count(Counting(Val::div(self.0, o.0)))
    }
    fn scale(self, s: f64) -> Self {
        count(Counting(self.0.scale(s)))
    }
    fn div_scalar(self, s: f64) -> Self {
        count(Counting(Val::div_scalar(self.0, s)))
    }
    fn shift(self, s: f64) -> Self {
        count(Counting(self.0.shift(s)))
    }
    fn sqrt(self) -> Self {
        count(Counting(Val::sqrt(self.0)))
    }
    fn square(self) -> Self {
        count(Counting(Val::square(self.0)))
    }
    fn exp(self) -> Self {
        count(Counting(Val::exp(self.0)))
    }
    fn log(self) -> Self {
        count(Counting(Val::log(self.0)))
    }
    fn act(self, a: Act) -> Self {
        count(Counting(self.0.act(a)))
    }
    fn sum_dim(self, axis: usize) -> Self {
        count(Counting(self.0.sum_dim(axis)))
    }
    fn mean_dim(self, axis: usize) -> Self {
        count(Counting(self.0.mean_dim(axis)))
    }
    fn matmul(self, rhs: Self) -> Self {
        count(Counting(self.0.matmul(rhs.0)))
    }
    fn dense(self, w: Self, b: Option<Self>) -> Self {
        count(Counting(self.0.dense(w.0, b.map(|b| b.0))))
    }
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self {
        count(Counting(self.0.conv(w.0, b.map(|b| b.0), spec)))
    }
    fn conv_transpose2d(self, w: Self, b: Option<Self>, spec: &ConvTransposeSpec) -> Self {
        count(Counting(self.0.conv_transpose2d(w.0, b.map(|b| b.0), spec)))
    }
    fn max_pool2d(self, spec: &PoolSpec) -> Self {
        count(Counting(self.0.max_pool2d(spec)))
    }
    fn avg_pool2d(self, spec: &PoolSpec, include: bool) -> Self {
        count(Counting(self.0.avg_pool2d(spec, include)))
    }
    fn adaptive_avg_pool2d(self, out: [usize; 2]) -> Self {
        count(Counting(self.0.adaptive_avg_pool2d(out)))
    }
    fn embedding(ids: Tensor<2, Int>, w: Self) -> Self {
        count(Counting(DynTensor::embedding(ids, w.0)))
    }
    fn pick(self, labels: Tensor<1, Int>) -> Self {
        count(Counting(self.0.pick(labels)))
    }
}

/// Runs `c` on plain tensors and on `Counting`, in `mode`; both outputs and the op count.
fn both<C: LayerConfig>(c: C, input: &[usize], mode: Mode) -> (Vec<f32>, Vec<f32>, usize) {
    let dev = Device::flex();
    let d_in = c.input_size(input).unwrap();
    let (p, state) = c.init(d_in, Key::new(3), &dev);
    let n: usize = input.iter().product();
    let x = DynTensor::from_floats(
        (0..n).map(|i| (i % 7) as f32 * 0.3 - 0.8).collect(),
        input,
        &dev,
    );
    let mut leaves = BTreeMap::new();
    p.clone().write(&mut |name, t| {
        leaves.insert(name.to_string(), t);
    });
    let pc =
        C::Params::<Counting>::read(&mut |name| leaves.get(name).cloned().map(Counting)).unwrap();
    let mut s1: Params = state.clone();
    let plain = c.apply(
        &p,
        x.clone(),
        &mut Ctx {
            mode,
            state: &mut s1,
        },
    );
    OPS.with(|o| o.set(0));
    let mut s2 = state;
    let counted = c.apply(
        &pc,
        Counting(x),
        &mut Ctx {
            mode,
            state: &mut s2,
        },
    );
    assert_eq!(
        c.output_shape(input).unwrap(),
        plain.dims(),
        "{c:?}: output shape"
    );
    (plain.to_vec(), counted.0.to_vec(), OPS.with(|o| o.get()))
}

macro_rules! check {
    ($($c:expr, $input:expr);* $(;)?) => {$(
        let mut ops = 0;
        for mode in [Mode::Eval, Mode::Train(Key::new(9))] {
            let (a, b, n) = both($c, &$input, mode);
            assert_eq!(a, b, "{:?}", $c);
            ops += n;
        }
        assert!(ops >= 1, "{:?} called no Val op", $c);
    )*};
}

#[test]
fn every_config_runs_through_another_value_type() {
    check! {
        DenseConfig::new(3), [2, 4];
        DenseConfig::new(3).without_bias(), [2, 2, 2, 4];
        Conv1dConfig::new(4, 3), [1, 2, 8];
        Conv2dConfig::new(4, 3), [1, 2, 6, 6];
        ConvTranspose2dConfig::new(2, 3), [1, 2, 4, 4];
        BatchNormConfig::new(), [4, 3, 2, 2];
        LayerNormConfig::new(), [2, 3, 5];
        RmsNormConfig::new(), [2, 5];
        GroupNormConfig::new(2), [2, 4, 3];
        MaxPool2dConfig::new(2), [1, 2, 4, 4];
        AvgPool2dConfig::new(2), [1, 2, 4, 4];
        AdaptiveAvgPool2dConfig::new([2, 1]), [1, 2, 4, 4];
        GlobalAvgPoolConfig, [1, 2, 4, 4];
        DropoutConfig::new(0.5), [4, 6];
        FlattenConfig, [2, 3, 2];
        LstmConfig::new(3), [2, 4, 5];
        GruConfig::new(3), [2, 4, 5];
        MultiHeadAttentionConfig::new(2).with_causal(true), [2, 3, 4];
        Act::Gelu, [2, 3];
        PReluConfig::new().with_num_parameters(3), [2, 3, 4];
        PReluConfig::new(), [5];
        Act::LogSoftmax, [2, 3, 4];
    }
}

#[test]
fn embedding_runs_through_another_value_type() {
    let ids = DynTensor::from_floats(vec![0.0, 3.0, 1.0, 2.0], &[2, 2], &Device::flex());
    let c = EmbeddingConfig::new(4, 3);
    let (p, _) = c.init(0, Key::new(1), &Device::flex());
    let pc = EmbeddingParams {
        weight: Counting(p.weight.clone()),
    };
    let mut s = Params::new();
    let a = c.apply(
        &p,
        ids.clone(),
        &mut Ctx {
            mode: Mode::Eval,
            state: &mut s,
        },
    );
    let b = c.apply(
        &pc,
        Counting(ids),
        &mut Ctx {
            mode: Mode::Eval,
            state: &mut s,
        },
    );
    assert_eq!(a.to_vec(), b.0.to_vec());
    assert_eq!(a.dims(), vec![2, 2, 3]);
}

#[test]
fn activation_names_round_trip() {
    for name in [
        "relu",
        "ReLU",
        "LeakyReLU",
        "gelu_erf",
        "gelu_tanh",
        "swish",
        "hardsigmoid",
        "hard_swish",
        "logsigmoid",
        "softmax_last",
        "log_softmax",
        "leaky_relu_0.2",
        "elu_1.0",
        "Tanh",
        "mish",
        "selu",
        "relu6",
        "softplus",
        "softsign",
        "sigmoid",
    ] {
        let a: Act = name.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.to_string().parse::<Act>().unwrap(), a, "{name}");
    }
    assert_eq!("leaky_relu".parse::<Act>().unwrap(), Act::LeakyRelu(0.01));
    assert!("frobnicate"
        .parse::<Act>()
        .unwrap_err()
        .contains("unknown activation `frobnicate`"));
}

#[test]
fn params_round_trip_through_a_tree() {
    let c = MultiHeadAttentionConfig::new(2);
    let (p, _) = c.init(4, Key::new(0), &Device::flex());
    let tree = to_params(p);
    assert_eq!(tree.paths()[..2], ["q_proj.weight", "q_proj.bias"]);
    let back: AttentionParams<DynTensor> = from_params(&tree).unwrap();
    assert_eq!(back.out_proj.weight.dims(), vec![4, 4]);
    let missing = from_params::<AttentionParams<DynTensor>>(&tree.filter(|p| p != "k_proj.weight"));
    assert_eq!(missing.unwrap_err().0, "k_proj.weight");
}
