//! THE table from a golden case to the layer under test, for both APIs: the functional layer
//! (the `duet_core` config itself) and the module its config builds. One row per kind; a new
//! layer adds one row here and nothing in the drivers.

use crate::manifest::Case;
use duet_core::burn::tensor::Device;
use duet_core::layers::{
    AdaptiveAvgPool2dConfig, AvgPool2dConfig, BatchNormConfig, Conv1dConfig, Conv2dConfig,
    ConvTranspose2dConfig, DenseConfig, EmbeddingConfig, GroupNormConfig, LayerConfig,
    LayerNormConfig, MaxPool2dConfig, PReluConfig,
};
use duet_core::ops::CrossEntropy;
use duet_functional as functional;
use duet_module as module;

/// Builds the module for an input shape.
pub type ModuleBuilder = Box<dyn Fn(&[usize], &Device) -> module::Layer>;

/// Checks the config's maths on a second value type for an input shape
/// ([`crate::check_generic`]).
pub type GenericCheck = Box<dyn Fn(&[usize])>;

/// A case's layer in each API.
pub struct UnderTest {
    /// The functional layer.
    pub functional: Box<dyn functional::Layer>,
    /// The module (`None` for functions that are not modules: the losses).
    pub module: Option<ModuleBuilder>,
    /// The check that its maths is generic over `Val` (`None` for the losses).
    pub generic: Option<GenericCheck>,
}

/// A config: the functional layer is the config, the module is what it builds.
fn config<C>(c: C) -> UnderTest
where
    C: LayerConfig + functional::Layer + module::Build + Clone + 'static,
    C::Module: Into<module::Layer>,
{
    let (build, generic) = (c.clone(), c.clone());
    let module: ModuleBuilder = Box::new(move |input, device| {
        let d_in = build
            .input_size(input)
            .unwrap_or_else(|e| panic!("{}: {e}", LayerConfig::name(&build)));
        build.build(d_in, &mut module::Rngs::new(0), device).into()
    });
    let generic: GenericCheck = Box::new(move |input| crate::check_generic(&generic, input));
    UnderTest {
        functional: Box::new(c),
        module: Some(module),
        generic: Some(generic),
    }
}

/// A layer checked through the functional API only (a loss; an embedding, whose module takes
/// integer ids).
fn function(l: impl functional::Layer + 'static) -> UnderTest {
    UnderTest {
        functional: Box::new(l),
        module: None,
        generic: None,
    }
}

/// The layer under test for `case`, or `None` for the kinds whose layer form differs from the
/// op the case was generated from (recurrent cells, packed attention): the module suite checks
/// those with its own arms, the core suite at the op level.
///
/// # Panics
/// A kind that is not in the table (add a row), or an unknown hyper-parameter.
pub fn under_test(case: &Case) -> Option<UnderTest> {
    let h = &case.hyper;
    // PyTorch's weight shape and the output shape give the sizes.
    let weight = |i: usize| case.tensors["weight"][i];
    let out = |i: usize| case.tensors["output"][i];
    let eps = || h.f64_or("eps", 1e-5);
    Some(match case.kind.as_str() {
        "linear" => config(DenseConfig::new(weight(0))),
        "conv1d" => config(Conv1dConfig::new(weight(0), weight(2)).with_spec(h.conv_spec())),
        "conv2d" => config(Conv2dConfig::new(weight(0), weight(2)).with_spec(h.conv_spec())),
        "conv_transpose2d" => {
            let spec = h.conv_transpose_spec();
            config(ConvTranspose2dConfig::new(out(1), weight(2)).with_spec(spec))
        }
        "max_pool2d" => config(MaxPool2dConfig::new(1).with_spec(h.pool_spec())),
        "avg_pool2d" => config(
            AvgPool2dConfig::new(1)
                .with_spec(h.pool_spec())
                .with_count_include_pad(h.bool_or("count_include_pad", true)),
        ),
        "adaptive_avg_pool2d" => config(AdaptiveAvgPool2dConfig::new([h.usize("output"); 2])),
        "batch_norm2d" => config(BatchNormConfig::new().with_eps(eps())),
        "layer_norm" => config(LayerNormConfig::new().with_eps(eps())),
        "group_norm" => config(GroupNormConfig::new(h.usize("groups")).with_eps(eps())),
        "prelu" => config(PReluConfig::new().with_num_parameters(h.usize("num_parameters"))),
        "activation" => config(h.act()),
        "loss" => match h.str("function") {
            Some("softmax_cross_entropy") => {
                let label_smoothing = h.f64_or("label_smoothing", 0.0);
                let ce = CrossEntropy {
                    label_smoothing,
                    ..Default::default()
                };
                function(functional::CrossEntropyLoss(ce))
            }
            Some("bce_with_logits") => function(functional::BceWithLogitsLoss::default()),
            Some("mse") => function(functional::MseLoss::default()),
            Some("l1") => function(functional::L1Loss::default()),
            Some("huber") => function(functional::HuberLoss {
                delta: h.f64_or("delta", 1.0),
            }),
            f => panic!("{}: unknown loss {f:?}", case.name),
        },
        // Ids travel as floats in the functional stack; the module takes integer ids, so its
        // form is checked by the module suite's own arm.
        "embedding" => function(EmbeddingConfig::new(weight(0), weight(1))),
        "lstm_cell" | "gru_cell" | "multi_head_attention" => return None,
        k => panic!(
            "{}: unknown kind `{k}`: add a row to testing/src/catalog.rs",
            case.name
        ),
    })
}

/// The kinds [`under_test`] has a row for (kept next to the table; `testing/tests/catalog.rs`
/// checks that the two agree on every case of the manifest).
pub const KINDS: &[&str] = &[
    "linear",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "batch_norm2d",
    "layer_norm",
    "group_norm",
    "prelu",
    "activation",
    "embedding",
    "loss",
];

/// Whether the table has a row for `kind` (the op-level suite leaves the kinds it has no op for
/// to the catalog).
pub fn covers(kind: &str) -> bool {
    KINDS.contains(&kind)
}
