//! The benchmark networks written directly against burn (`burn::nn`, `burn::optim`): the overhead
//! baseline for `duet bench --api burn`. No duet code runs in these models' forward or update.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, RmsPropConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use duet_core::burn;

/// LeNet-5 with burn's modules.
#[derive(Module, Debug)]
pub struct BurnLeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
    pool: MaxPool2d,
}

impl BurnLeNet {
    /// A LeNet for `in_channels` x 32 x 32 inputs and `classes` outputs.
    pub fn new(in_channels: usize, classes: usize, device: &Device) -> Self {
        BurnLeNet {
            conv1: Conv2dConfig::new([in_channels, 6], [5, 5]).init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            fc1: LinearConfig::new(400, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, classes).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// `[N, C, 32, 32] -> [N, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

/// CIFAR-sized AlexNet with burn's modules (3x3 convs 64-192-384-256-256, dense 1024-1024-10).
#[derive(Module, Debug)]
pub struct BurnAlexNet {
    convs: Vec<Conv2d>,
    /// The dense layers (public for the optimizer benchmark).
    pub fcs: Vec<Linear>,
    pool: MaxPool2d,
    dropout: Dropout,
}

impl BurnAlexNet {
    /// An AlexNet for 3 x 32 x 32 inputs.
    pub fn new(classes: usize, device: &Device) -> Self {
        let chans = [3, 64, 192, 384, 256, 256];
        let convs = (0..5)
            .map(|i| {
                Conv2dConfig::new([chans[i], chans[i + 1]], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let fcs = vec![
            LinearConfig::new(256 * 4 * 4, 1024).init(device),
            LinearConfig::new(1024, 1024).init(device),
            LinearConfig::new(1024, classes).init(device),
        ];
        BurnAlexNet {
            convs,
            fcs,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dropout: DropoutConfig::new(0.5).init(),
        }
    }

    /// Logits (pools after convs 1, 2 and 5).
    ///
    /// # Shapes
    /// `[N, 3, 32, 32] -> [N, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for (i, conv) in self.convs.iter().enumerate() {
            x = relu(conv.forward(x));
            if matches!(i, 0 | 1 | 4) {
                x = self.pool.forward(x);
            }
        }
        let mut x: Tensor<2> = x.flatten(1, 3);
        for fc in &self.fcs[..2] {
            x = relu(fc.forward(self.dropout.forward(x)));
        }
        self.fcs[2].forward(x)
    }
}

/// MLP 784-512-512-10 with burn's modules.
#[derive(Module, Debug)]
pub struct BurnMlp {
    fcs: Vec<Linear>,
}

impl BurnMlp {
    /// An MLP over flattened inputs of `inputs` features.
    pub fn new(inputs: usize, classes: usize, device: &Device) -> Self {
        let sizes = [inputs, 512, 512, classes];
        BurnMlp {
            fcs: (0..3)
                .map(|i| LinearConfig::new(sizes[i], sizes[i + 1]).init(device))
                .collect(),
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, classes]` (flattened first).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = x.flatten(1, 3);
        for fc in &self.fcs[..2] {
            x = relu(fc.forward(x));
        }
        self.fcs[2].forward(x)
    }
}

/// One of the baseline networks. (Built once per benchmark run: boxing AlexNet's variant
/// would buy nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BurnNet {
    /// LeNet-5.
    LeNet(BurnLeNet),
    /// AlexNet.
    AlexNet(BurnAlexNet),
    /// MLP.
    Mlp(BurnMlp),
}

impl BurnNet {
    /// Logits.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            BurnNet::LeNet(m) => m.forward(x),
            BurnNet::AlexNet(m) => m.forward(x),
            BurnNet::Mlp(m) => m.forward(x),
        }
    }
}

/// A burn training setup: model on an autodiff device, burn's optimizer, a fixed learning rate.
pub struct BurnTrainer {
    /// The model.
    pub model: BurnNet,
    optim: ModuleOptimizer,
    lr: f64,
}

impl BurnTrainer {
    /// RMSProp (alpha 0.9, eps 1e-8, no momentum: PyTorch's defaults) or Adam (eps 1e-8).
    pub fn new(model: BurnNet, optimizer: &str, lr: f64) -> Self {
        let optim = match optimizer {
            "rmsprop" => RmsPropConfig::new()
                .with_alpha(0.9)
                .with_momentum(0.0)
                .with_epsilon(1e-8)
                .init(),
            _ => AdamConfig::new().with_epsilon(1e-8).init(),
        };
        BurnTrainer { model, optim, lr }
    }

    /// One step: forward, cross-entropy, backward, update. Returns the loss (not read back).
    ///
    /// # Shapes
    /// `x: [N, C, H, W]`, `y: [N]` -> `[1]`
    pub fn step(&mut self, x: Tensor<4>, y: Tensor<1, Int>) -> Tensor<1> {
        let device = x.device();
        let logits = self.model.forward(x);
        let loss = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(logits, y);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = std::mem::replace(&mut self.model, placeholder());
        self.model = self.optim.step(self.lr, model, grads);
        loss
    }
}

fn placeholder() -> BurnNet {
    BurnNet::Mlp(BurnMlp { fcs: Vec::new() })
}
