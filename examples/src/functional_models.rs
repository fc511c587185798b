//! LeNet-5, AlexNet and an MLP with the functional API. Paths match PyTorch's state dicts
//! (`conv1.weight`, `features.3.weight`, `classifier.6.bias`), with duet's `[in, out]` dense layout.

use duet_core::ops::Padding;
use duet_functional::{serial, Conv2d, Dense, Dropout, Flatten, MaxPool2d, Relu, Serial};

/// LeNet-5 for `[N, C, 32, 32]` inputs: conv 6@5x5, pool, conv 16@5x5, pool, dense 120-84-classes.
///
/// # Shapes
/// `[N, C, 32, 32] -> [N, classes]`
///
/// # Example
/// ```
/// use duet_functional::LayerExt;
/// let (p, _) = duet_examples::functional_models::lenet(10).init_model(&[2, 3, 32, 32], duet_core::Key::new(0), &duet_core::burn::tensor::Device::flex()).unwrap();
/// assert_eq!(p.num_params(), 62_006);
/// ```
pub fn lenet(classes: usize) -> Serial {
    serial![
        "conv1" => Conv2d::new(6, 5), Relu, MaxPool2d::new(2),
        "conv2" => Conv2d::new(16, 5), Relu, MaxPool2d::new(2),
        Flatten,
        "fc1" => Dense::new(120), Relu,
        "fc2" => Dense::new(84), Relu,
        "fc3" => Dense::new(classes),
    ]
}

/// CIFAR-sized AlexNet: 3x3 convs 64-192-384-256-256 (padding 1) with 2x2 max pools after the
/// 1st, 2nd and 5th, then dropout 0.5 and dense 1024-1024-classes.
///
/// # Shapes
/// `[N, 3, 32, 32] -> [N, classes]`
pub fn alexnet(classes: usize) -> Serial {
    let conv = |c| Conv2d::new(c, 3).with_padding(Padding::Explicit(1));
    serial![
        "features" => serial![
            conv(64), Relu, MaxPool2d::new(2),
            conv(192), Relu, MaxPool2d::new(2),
            conv(384), Relu, conv(256), Relu, conv(256), Relu, MaxPool2d::new(2),
        ],
        Flatten,
        "classifier" => serial![
            Dropout::new(0.5), Dense::new(1024), Relu,
            Dropout::new(0.5), Dense::new(1024), Relu,
            Dense::new(classes),
        ],
    ]
}

/// MLP with two hidden layers of 512 over flattened inputs.
///
/// # Shapes
/// `[N, C, H, W] -> [N, classes]`
pub fn mlp(classes: usize) -> Serial {
    serial![Flatten, "fc1" => Dense::new(512), Relu, "fc2" => Dense::new(512), Relu, "fc3" => Dense::new(classes)]
}

/// The functional model of `kind` with `classes` outputs (for the GPT: a vocabulary of
/// `classes` tokens and [`GptConfig::small`](crate::gpt::GptConfig::small)'s sizes; for the
/// VAE: `classes` pixels).
pub fn of_kind(kind: crate::models::ModelKind, classes: usize) -> Serial {
    use crate::models::ModelKind;
    match kind {
        ModelKind::Lenet => lenet(classes),
        ModelKind::Alexnet => alexnet(classes),
        ModelKind::Mlp => mlp(classes),
        ModelKind::Resnet20 => crate::resnet::resnet(crate::resnet::RESNET20, classes),
        ModelKind::Resnet18 => crate::resnet::resnet(crate::resnet::RESNET18, classes),
        // `classes` is the vocabulary here.
        ModelKind::Gpt => crate::gpt::gpt(crate::gpt::GptConfig::small(classes)),
        // `classes` is the number of pixels here.
        ModelKind::Vae => crate::vae::vae(crate::vae::VaeConfig::for_pixels(classes)),
    }
}

/// The layer kinds of a `kind` model by path, for the PyTorch layout adapter
/// (`duet_core::checkpoint::torch`); the same in both APIs, whose paths are the same.
///
/// # Example
/// ```
/// use duet_examples::{functional_models::torch_kinds, models::ModelKind};
/// let kinds = torch_kinds(ModelKind::Lenet, [3, 32, 32], 10);
/// assert_eq!((kinds["conv1"], kinds["fc1"]), ("conv2d", "linear"));
/// ```
pub fn torch_kinds(
    kind: crate::models::ModelKind,
    chw: [usize; 3],
    classes: usize,
) -> duet_core::checkpoint::torch::Kinds {
    duet_functional::torch_kinds(&of_kind(kind, classes), &[1, chw[0], chw[1], chw[2]])
}
