//! Initial weights never change by accident: the init tree of every catalog layer and of the
//! example models, in both APIs, for one key, compared bit for bit with a blessed file.
//!
//! `DUET_BLESS=1 cargo test -p duet-examples --test init_stable` rewrites
//! `fixtures/init_before.json`: per path, the shape and an FNV-1a hash of the f32 bits (AlexNet's
//! weights themselves would be 75 MB). The module `MultiHeadAttention` entry was added
//! (blessed) in issue 16 stage 4, when its init became the functional one on purpose.

use duet_core::burn::tensor::Device;
use duet_core::layers::{Conv2dConfig, ConvTranspose2dConfig, DenseConfig};
use duet_core::ops::{ConvSpec, ConvTransposeSpec};
use duet_core::{module_params, module_state, Key, Params};
use duet_examples::{functional_models, module_models};
use duet_functional::{self as f, Layer, LayerExt};
use duet_module::{self as m, Build, Rngs};
use std::collections::BTreeMap;

const SEED: u64 = 7;

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/init_before.json")
}

/// Every functional layer's params and state under `f.<name>.`.
fn functional(dev: &Device) -> Params {
    let cases: Vec<(&str, Box<dyn Layer>, Vec<usize>)> = vec![
        ("dense", Box::new(f::Dense::new(3)), vec![2, 4]),
        (
            "dense_nobias",
            Box::new(f::Dense::new(3).without_bias()),
            vec![2, 4],
        ),
        ("conv1d", Box::new(f::Conv1d::new(4, 3)), vec![1, 2, 8]),
        ("conv2d", Box::new(f::Conv2d::new(6, 3)), vec![1, 3, 8, 8]),
        (
            "conv2d_groups",
            Box::new(f::Conv2d::new(4, 3).with_spec(ConvSpec {
                groups: 2,
                ..Default::default()
            })),
            vec![1, 4, 8, 8],
        ),
        (
            "conv_transpose2d",
            Box::new(f::ConvTranspose2d::new(4, 3).with_spec(ConvTransposeSpec {
                stride: 2,
                ..Default::default()
            })),
            vec![1, 2, 5, 5],
        ),
        (
            "batch_norm",
            Box::new(f::BatchNorm::new()),
            vec![2, 3, 4, 4],
        ),
        ("layer_norm", Box::new(f::LayerNorm::default()), vec![2, 5]),
        ("rms_norm", Box::new(f::RmsNorm::default()), vec![2, 5]),
        ("group_norm", Box::new(f::GroupNorm::new(2)), vec![2, 4, 3]),
        ("embedding", Box::new(f::Embedding::new(10, 4)), vec![2, 3]),
        ("lstm", Box::new(f::Lstm::new(5)), vec![2, 3, 4]),
        ("gru", Box::new(f::Gru::new(5)), vec![2, 3, 4]),
        (
            "mha",
            Box::new(f::MultiHeadAttention::new(2)),
            vec![2, 3, 8],
        ),
        (
            "lenet",
            Box::new(functional_models::lenet(10)),
            vec![1, 3, 32, 32],
        ),
        (
            "alexnet",
            Box::new(functional_models::alexnet(10)),
            vec![1, 3, 32, 32],
        ),
        (
            "mlp",
            Box::new(functional_models::mlp(10)),
            vec![1, 3, 32, 32],
        ),
    ];
    let mut all = Params::new();
    for (name, layer, input) in cases {
        let (p, s) = layer.init_model(&input, Key::new(SEED), dev).unwrap();
        all.extend(p.prefix(&format!("f.{name}.params")));
        all.extend(s.prefix(&format!("f.{name}.state")));
    }
    all
}

/// Every module's params and state under `m.<name>.`.
fn modules(dev: &Device) -> Params {
    let mut all = Params::new();
    let mut add = |name: &str, p: Params, s: Params| {
        all.extend(p.prefix(&format!("m.{name}.params")));
        all.extend(s.prefix(&format!("m.{name}.state")));
    };
    macro_rules! module {
        ($name:literal, |$r:ident| $build:expr) => {{
            let $r = &mut Rngs::new(SEED);
            let module = $build;
            add($name, module_params(&module), module_state(&module));
        }};
    }
    module!("dense", |r| m::Linear::new(4, 3, r, dev));
    module!("dense_nobias", |r| DenseConfig::new(3)
        .without_bias()
        .build(4, r, dev));
    module!("conv1d", |r| m::Conv1d::new(2, 4, 3, r, dev));
    module!("conv2d", |r| m::Conv2d::new(3, 6, 3, r, dev));
    module!("conv2d_groups", |r| Conv2dConfig::new(4, 3)
        .with_spec(ConvSpec {
            groups: 2,
            ..Default::default()
        })
        .build(4, r, dev));
    module!("conv_transpose2d", |r| ConvTranspose2dConfig::new(4, 3)
        .with_spec(ConvTransposeSpec {
            stride: 2,
            ..Default::default()
        })
        .build(2, r, dev));
    module!("batch_norm", |r| {
        let _ = r;
        m::BatchNorm::new(3, dev)
    });
    module!("layer_norm", |r| {
        let _ = r;
        m::LayerNorm::new(5, dev)
    });
    module!("rms_norm", |r| {
        let _ = r;
        m::RmsNorm::new(5, dev)
    });
    module!("group_norm", |r| {
        let _ = r;
        m::GroupNorm::new(4, 2, dev)
    });
    module!("embedding", |r| m::Embedding::new(10, 4, r, dev));
    module!("lstm", |r| m::Lstm::new(4, 5, r, dev));
    module!("gru", |r| m::Gru::new(4, 5, r, dev));
    // Blessed in issue 16 stage 4, when the module took the functional layer's init.
    module!("mha", |r| m::MultiHeadAttention::new(8, 2, r, dev));
    module!("lenet", |r| module_models::LeNet::new(3, 10, r, dev));
    module!("alexnet", |r| module_models::AlexNet::new(10, r, dev));
    module!("mlp", |r| module_models::Mlp::new(3 * 32 * 32, 10, r, dev));
    all
}

/// `path -> "dims hash"`, the hash an FNV-1a over the values' bits.
fn fingerprints(tree: &Params) -> BTreeMap<String, String> {
    tree.iter()
        .map(|(path, t)| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for v in t.to_vec() {
                for b in v.to_bits().to_le_bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
            }
            (path.to_string(), format!("{:?} {h:016x}", t.dims()))
        })
        .collect()
}

#[test]
fn initial_weights_are_bitwise_unchanged() {
    let dev = Device::flex();
    let mut now = functional(&dev);
    now.extend(modules(&dev));
    let now = fingerprints(&now);
    if std::env::var_os("DUET_BLESS").is_some() {
        let json = serde_json::to_string_pretty(&now).unwrap();
        std::fs::write(fixture(), json + "\n").unwrap();
        return;
    }
    let before: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let paths = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(paths(&now), paths(&before), "the init trees' paths changed");
    for (path, fp) in &now {
        assert_eq!(fp, &before[path], "{path}: shape or values changed");
    }
}
