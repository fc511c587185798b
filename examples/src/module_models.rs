//! LeNet-5, AlexNet and the MLP with the module API. Field names give the same paths as the
//! functional models (and PyTorch's state dicts): `conv1.weight`, `features.3.weight`, ...

use crate::models::{ModelError, ModelKind};
use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::Conv2dConfig;
use duet_core::ops::{ConvSpec, Padding};
use duet_core::{Key, Mode, Val};
use duet_module::{
    sub, Act, Build, Conv2d, Dropout, Flatten, Layer, Lift, Linear, MaxPool2d, Rngs, Sequential,
    ValForward,
};
use duet_train::{Forward, ImageClassifier, ModuleModel};

/// LeNet-5 for `[N, C, 32, 32]`: conv1 `C -> 6` (5x5), ReLU, 2x2 max pool, conv2 `6 -> 16`
/// (5x5), ReLU, 2x2 max pool, flatten (400), fc1 120, ReLU, fc2 84, ReLU, fc3 `classes`. Field
/// names are PyTorch's state-dict names (`conv1.weight`, ..., `fc3.bias`) and the functional
/// LeNet's paths.
///
/// # Shapes
/// `[N, C, 32, 32] -> [N, classes]`
///
/// # Example
/// ```
/// use duet_examples::module_models::LeNet;
/// use duet_core::{burn::tensor::Device, module_params};
/// let m = LeNet::new(3, 10, &mut duet_module::Rngs::new(0), &Device::flex());
/// assert_eq!(module_params(&m).num_params(), 62_006);
/// ```
#[derive(Module, Debug)]
pub struct LeNet {
    /// 6@5x5.
    pub conv1: Conv2d,
    /// 16@5x5.
    pub conv2: Conv2d,
    /// 400 -> 120.
    pub fc1: Linear,
    /// 120 -> 84.
    pub fc2: Linear,
    /// 84 -> classes.
    pub fc3: Linear,
    /// 2x2 max pooling.
    pub pool: MaxPool2d,
}

impl LeNet {
    /// For `channels` input channels and `classes` outputs.
    pub fn new(channels: usize, classes: usize, rngs: &mut Rngs, device: &Device) -> Self {
        LeNet {
            conv1: Conv2d::new(channels, 6, 5, rngs, device),
            conv2: Conv2d::new(6, 16, 5, rngs, device),
            fc1: Linear::new(400, 120, rngs, device),
            fc2: Linear::new(120, 84, rngs, device),
            fc3: Linear::new(84, classes, rngs, device),
            pool: MaxPool2d::new(2),
        }
    }
}

impl Forward<Tensor<4>, Tensor<2>> for LeNet {
    fn forward(&self, x: Tensor<4>, _: Mode) -> Tensor<2> {
        use duet_core::ops::activation::relu;
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

/// LeNet on any value type (the function transformations of `duet_core::transform`): each
/// field reads its params under its own name.
impl ValForward for LeNet {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        let pool = |x: V| self.pool.forward_val(lift, x, mode);
        let h = self.conv1.forward_val(&sub(lift, "conv1"), x, mode);
        let h = pool(h.act(Act::Relu));
        let h = self.conv2.forward_val(&sub(lift, "conv2"), h, mode);
        let h = pool(h.act(Act::Relu));
        let n = h.dims()[0];
        let flat = h.dims()[1..].iter().product();
        let h = self
            .fc1
            .forward_val(&sub(lift, "fc1"), h.reshape(&[n, flat]), mode)
            .act(Act::Relu);
        let h = self
            .fc2
            .forward_val(&sub(lift, "fc2"), h, mode)
            .act(Act::Relu);
        self.fc3.forward_val(&sub(lift, "fc3"), h, mode)
    }
}

/// CIFAR-sized AlexNet as two [`Sequential`]s with PyTorch's `features.i` / `classifier.i`
/// paths (weightless layers keep their index): 3x3 convolutions 64-192-384-256-256 (padding 1)
/// with ReLUs and three 2x2 max pools (`32 -> 4`), then dropout 0.5, dense 4096-1024-1024-10.
///
/// # Shapes
/// `[N, 3, 32, 32] -> [N, classes]`
///
/// # Example
/// ```
/// use duet_examples::module_models::AlexNet;
/// use duet_core::{burn::tensor::Device, module_params};
/// let m = AlexNet::new(10, &mut duet_module::Rngs::new(0), &Device::flex());
/// let p = module_params(&m);
/// assert_eq!(p.paths()[..2], ["features.0.weight", "features.0.bias"]);
/// assert_eq!(p.get_dyn("features.3.weight").unwrap().dims(), vec![192, 64, 3, 3]);
/// assert_eq!(p.get_dyn("classifier.1.weight").unwrap().dims(), vec![4096, 1024]);
/// assert_eq!(p.get_dyn("classifier.6.weight").unwrap().dims(), vec![1024, 10]);
/// ```
#[derive(Module, Debug)]
pub struct AlexNet {
    /// Convolutions, ReLUs and pools.
    pub features: Sequential,
    /// Dropout and dense layers.
    pub classifier: Sequential,
}

impl AlexNet {
    /// For 3 x 32 x 32 inputs and `classes` outputs.
    pub fn new(classes: usize, rngs: &mut Rngs, device: &Device) -> Self {
        let spec = ConvSpec {
            padding: Padding::Explicit(1),
            ..Default::default()
        };
        let mut conv = |i, o| -> Layer {
            Conv2dConfig::new(o, 3)
                .with_spec(spec)
                .build(i, rngs, device)
                .into()
        };
        let features = Sequential::new(vec![
            conv(3, 64),
            Act::Relu.into(),
            MaxPool2d::new(2).into(),
            conv(64, 192),
            Act::Relu.into(),
            MaxPool2d::new(2).into(),
            conv(192, 384),
            Act::Relu.into(),
            conv(384, 256),
            Act::Relu.into(),
            conv(256, 256),
            Act::Relu.into(),
            MaxPool2d::new(2).into(),
        ]);
        let classifier = Sequential::new(vec![
            Dropout::new(0.5).into(),
            Linear::new(256 * 4 * 4, 1024, rngs, device).into(),
            Act::Relu.into(),
            Dropout::new(0.5).into(),
            Linear::new(1024, 1024, rngs, device).into(),
            Act::Relu.into(),
            Linear::new(1024, classes, rngs, device).into(),
        ]);
        AlexNet {
            features,
            classifier,
        }
    }
}

impl Forward<Tensor<4>, Tensor<2>> for AlexNet {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<2> {
        let x = self.features.forward(x.into(), mode.child(0));
        let x = Flatten.forward(x.into_rank::<4>());
        // Child 2, as in the functional AlexNet (features, Flatten, classifier): same dropout masks.
        self.classifier
            .forward(x.into(), mode.child(2))
            .into_rank::<2>()
    }
}

/// MLP with two hidden layers of 512.
#[derive(Module, Debug)]
pub struct Mlp {
    /// in -> 512.
    pub fc1: Linear,
    /// 512 -> 512.
    pub fc2: Linear,
    /// 512 -> classes.
    pub fc3: Linear,
}

impl Mlp {
    /// For `inputs` features (flattened images) and `classes` outputs.
    pub fn new(inputs: usize, classes: usize, rngs: &mut Rngs, device: &Device) -> Self {
        Mlp {
            fc1: Linear::new(inputs, 512, rngs, device),
            fc2: Linear::new(512, 512, rngs, device),
            fc3: Linear::new(512, classes, rngs, device),
        }
    }
}

impl Forward<Tensor<4>, Tensor<2>> for Mlp {
    fn forward(&self, x: Tensor<4>, _: Mode) -> Tensor<2> {
        use duet_core::ops::activation::relu;
        let x: Tensor<2> = x.flatten(1, 3);
        self.fc3
            .forward(relu(self.fc2.forward(relu(self.fc1.forward(x)))))
    }
}

/// A module model of `kind` as an [`ImageClassifier`], initialized from `key`.
///
/// # Errors
/// [`ModelError::InputSize`] or [`ModelError::Channels`]: an input shape the model cannot take
/// (LeNet and AlexNet need 32x32, AlexNet 3 channels).
///
/// # Example
/// ```
/// use duet_examples::models::{ModelError, ModelKind};
/// use duet_examples::module_models::build;
/// let dev = duet_core::burn::tensor::Device::flex();
/// let key = duet_core::Key::new(0);
/// assert!(build(ModelKind::Mlp, [1, 28, 28], 10, key, &dev).is_ok());
/// let e = build(ModelKind::Lenet, [1, 28, 28], 10, key, &dev).err().unwrap();
/// assert_eq!(e, ModelError::InputSize { model: ModelKind::Lenet, chw: [1, 28, 28] });
/// ```
pub fn build(
    kind: ModelKind,
    chw: [usize; 3],
    classes: usize,
    key: Key,
    device: &Device,
) -> Result<Box<ImageClassifier<'static>>, ModelError> {
    let mut rngs = Rngs::new(key.to_raw()[0]);
    let need32 = |model| {
        if chw[1..] == [32, 32] {
            Ok(())
        } else {
            Err(ModelError::InputSize { model, chw })
        }
    };
    Ok(match kind {
        ModelKind::Lenet => {
            need32(kind)?;
            Box::new(ModuleModel(LeNet::new(chw[0], classes, &mut rngs, device)))
        }
        ModelKind::Alexnet => {
            need32(kind)?;
            if chw[0] != 3 {
                return Err(ModelError::Channels {
                    model: kind,
                    channels: 3,
                    chw,
                });
            }
            Box::new(ModuleModel(AlexNet::new(classes, &mut rngs, device)))
        }
        ModelKind::Mlp => Box::new(ModuleModel(Mlp::new(
            chw.iter().product(),
            classes,
            &mut rngs,
            device,
        ))),
        ModelKind::Gpt => return Err(ModelError::NotImages { model: kind }),
        ModelKind::Vae => return Err(ModelError::NotClassifier { model: kind }),
        ModelKind::Resnet20 | ModelKind::Resnet18 => {
            let spec = kind.resnet().expect("a ResNet");
            let side = 1 << (spec.stages.len() - 1);
            let fits = |s: usize| s > 0 && s.is_multiple_of(side);
            if !fits(chw[1]) || !fits(chw[2]) {
                return Err(ModelError::InputSize { model: kind, chw });
            }
            let net = crate::resnet::ResNet::new(spec, chw[0], classes, &mut rngs, device);
            Box::new(ModuleModel(net))
        }
    })
}
