//! The example architectures by name ([`ModelKind`]) and the errors of building one
//! ([`ModelError`]). Independent of the command line: [`crate::module_models`] and
//! [`crate::functional_models`] use these, and the `duet` command ([`crate::cli`]) parses its
//! `--model` flag into a [`ModelKind`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A model architecture. Its name ([`ModelKind::name`]: `lenet`, `alexnet`, `mlp`) is what
/// [`Display`](fmt::Display) prints, [`FromStr`] parses (case-insensitive) and serde writes.
///
/// # Example
/// ```
/// use duet_examples::models::ModelKind;
/// for kind in ModelKind::ALL {
///     assert_eq!(kind.to_string().parse::<ModelKind>().unwrap(), kind);
/// }
/// assert_eq!("AlexNet".parse::<ModelKind>().unwrap(), ModelKind::Alexnet);
/// assert_eq!(ModelKind::Lenet.to_string(), "lenet");
/// let err = "resnet".parse::<ModelKind>().unwrap_err().to_string();
/// assert!(err.contains("lenet, alexnet, mlp"), "{err}");
/// assert_eq!(serde_json::to_string(&ModelKind::Mlp).unwrap(), "\"mlp\"");
/// assert_eq!(serde_json::from_str::<ModelKind>("\"lenet\"").unwrap(), ModelKind::Lenet);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// LeNet-5 (32x32 inputs).
    Lenet,
    /// CIFAR-sized AlexNet (3x32x32 inputs).
    Alexnet,
    /// MLP with two hidden layers of 512.
    Mlp,
    /// ResNet-20 for CIFAR (option A shortcuts; any size divisible by 4).
    Resnet20,
    /// ResNet-18, torchvision's layout adapted to 32x32 (any size divisible by 8).
    Resnet18,
    /// A GPT character language model (not an image classifier: `--dataset text`).
    Gpt,
    /// A variational autoencoder (images; not a classifier).
    Vae,
}

impl ModelKind {
    /// Every kind, in the order of the command line's list.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Lenet,
        ModelKind::Alexnet,
        ModelKind::Mlp,
        ModelKind::Resnet20,
        ModelKind::Resnet18,
        ModelKind::Gpt,
        ModelKind::Vae,
    ];

    /// The name on command lines and in checkpoint metadata: `lenet`, `alexnet`, `mlp`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lenet => "lenet",
            ModelKind::Alexnet => "alexnet",
            ModelKind::Mlp => "mlp",
            ModelKind::Resnet20 => "resnet20",
            ModelKind::Resnet18 => "resnet18",
            ModelKind::Gpt => "gpt",
            ModelKind::Vae => "vae",
        }
    }

    /// The residual network's shape, for the ResNets.
    pub fn resnet(self) -> Option<crate::resnet::ResNetSpec> {
        match self {
            ModelKind::Resnet20 => Some(crate::resnet::RESNET20),
            ModelKind::Resnet18 => Some(crate::resnet::RESNET18),
            _ => None,
        }
    }

    /// The input sizes it takes, in prose.
    fn sizes(self) -> &'static str {
        match self {
            ModelKind::Resnet20 => "height and width divisible by 4",
            ModelKind::Resnet18 => "height and width divisible by 8",
            _ => "32x32",
        }
    }

    /// The name in prose (`LeNet`, `AlexNet`, `MLP`), for messages.
    fn title(self) -> &'static str {
        match self {
            ModelKind::Lenet => "LeNet",
            ModelKind::Alexnet => "AlexNet",
            ModelKind::Mlp => "MLP",
            ModelKind::Resnet20 => "ResNet-20",
            ModelKind::Resnet18 => "ResNet-18",
            ModelKind::Gpt => "GPT",
            ModelKind::Vae => "VAE",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = ModelError;

    /// Parses a [`ModelKind::name`], ignoring case.
    ///
    /// # Errors
    /// [`ModelError::Unknown`], listing the names.
    fn from_str(s: &str) -> Result<Self, ModelError> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ModelError::Unknown { name: s.into() })
    }
}

/// The names of [`ModelKind::ALL`], comma-separated.
fn names() -> String {
    ModelKind::ALL.map(ModelKind::name).join(", ")
}

/// Why a model could not be named or built. Each prints as one phrase.
///
/// # Example
/// ```
/// use duet_examples::models::{ModelError, ModelKind};
/// let e = ModelError::InputSize { model: ModelKind::Lenet, chw: [1, 28, 28] };
/// assert_eq!(e.to_string(), "LeNet needs 32x32 inputs, got [1, 28, 28]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A name that is not one of [`ModelKind::ALL`].
    #[error("unknown model `{name}` (expected one of: {})", names())]
    Unknown {
        /// The name given.
        name: String,
    },
    /// An input height and width the architecture cannot take.
    #[error("{} needs {} inputs, got {chw:?}", .model.title(), .model.sizes())]
    InputSize {
        /// The architecture.
        model: ModelKind,
        /// The `[C, H, W]` asked for.
        chw: [usize; 3],
    },
    /// A language model asked to classify images.
    #[error("{} is a language model, not an image classifier: train it with --dataset text, sample with `duet generate`", .model.title())]
    NotImages {
        /// The architecture.
        model: ModelKind,
    },
    /// A generative model asked to classify images.
    #[error("{} is a generative model, not a classifier: `duet train --model {}` trains it on its ELBO", .model.title(), .model.name())]
    NotClassifier {
        /// The architecture.
        model: ModelKind,
    },
    /// A number of input channels the architecture cannot take.
    #[error("{} needs {channels} channels, got {chw:?}", .model.title())]
    Channels {
        /// The architecture.
        model: ModelKind,
        /// The channels it needs.
        channels: usize,
        /// The `[C, H, W]` asked for.
        chw: [usize; 3],
    },
}
