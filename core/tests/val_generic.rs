//! Every layer config's maths is generic over `Val`: run through a value type that forwards
//! each op to `DynTensor` and counts it (`duet_testing::Counting`), every config gives the same
//! numbers as on plain tensors (and calls at least one op). A layer calling a typed `ops::`
//! function directly would not compile there. The catalog's layers are checked on every golden
//! case's input shape; the layers outside the catalog are listed here.

use duet_core::burn::tensor::Device;
use duet_core::layers::*;
use duet_core::{DynTensor, Key, Mode, Params};
use duet_testing::{cases, check_generic, under_test, Counting, LAYER_FIXTURES};

#[test]
fn every_catalog_layer_runs_through_another_value_type() {
    let mut checked = 0;
    for case in cases(LAYER_FIXTURES, "layers") {
        let Some(generic) = under_test(&case).and_then(|u| u.generic) else {
            continue;
        };
        generic(&case.tensors[&case.inputs[0]]);
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} cases");
}

#[test]
fn every_other_config_runs_through_another_value_type() {
    check_generic(&DenseConfig::new(3).without_bias(), &[2, 2, 2, 4]);
    check_generic(&RmsNormConfig::new(), &[2, 5]);
    check_generic(&GlobalAvgPoolConfig, &[1, 2, 4, 4]);
    check_generic(&DropoutConfig::new(0.5), &[4, 6]);
    check_generic(&FlattenConfig, &[2, 3, 2]);
    check_generic(&LstmConfig::new(3), &[2, 4, 5]);
    check_generic(&GruConfig::new(3), &[2, 4, 5]);
    check_generic(
        &MultiHeadAttentionConfig::new(2).with_causal(true),
        &[2, 3, 4],
    );
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
