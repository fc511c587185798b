//! Residual networks for CIFAR in both APIs with PyTorch's state-dict paths, so one checkpoint
//! serves both and a PyTorch-trained network imports:
//! - **ResNet-20** (He et al. 2016, section 4.2; the layout of akamaster/pytorch_resnet_cifar10:
//!   `conv1.weight`, `layer2.0.bn1.running_mean`, `linear.bias`): three stages of three basic
//!   blocks (16, 32, 64 channels) and **option A** shortcuts (the paper's CIFAR choice,
//!   parameter-free: every second pixel, the new channels zero-padded, `planes / 4` on each
//!   side). 269,722 params.
//! - **ResNet-18** (torchvision's layout adapted to 32x32 as is usual for CIFAR: a 3x3 stride-1
//!   first convolution and no max pool): four stages of two basic blocks (64 to 512 channels)
//!   and **option B** shortcuts where the shape changes (`downsample.0` a 1x1 convolution,
//!   `downsample.1` batch norm), `fc` head. 11,173,962 params.
//!
//! A basic block is `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))` with bias-free 3x3
//! convolutions; the first block of every stage after the first halves the map.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{BatchNormConfig, Conv2dConfig};
use duet_core::ops::Padding;
use duet_core::{DynTensor, Mode};
use duet_functional::{serial, BatchNorm, Conv2d, Dense, Fn, GlobalAvgPool, Layer, Relu};
use duet_functional::{Residual, Serial};
use duet_module::{
    BatchNorm as BatchNormModule, Build, Conv2d as Conv2dModule, Layer as ModuleLayer, Linear,
    Rngs, Sequential,
};
use duet_train::Forward;

/// How a block's shortcut matches a changed shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// Every second pixel, new channels zero-padded (no params).
    A,
    /// A 1x1 convolution with the stride, then batch norm (`downsample.0`, `downsample.1`).
    B,
}

/// A residual network's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResNetSpec {
    /// Channels of each stage (the first convolution has the first stage's).
    pub stages: &'static [usize],
    /// Basic blocks per stage.
    pub blocks: usize,
    /// The shortcut where the shape changes.
    pub shortcut: Shortcut,
    /// The classifier's path (`linear` or `fc`).
    pub head: &'static str,
}

/// ResNet-20; see the module docs.
pub const RESNET20: ResNetSpec = ResNetSpec {
    stages: &[16, 32, 64],
    blocks: 3,
    shortcut: Shortcut::A,
    head: "linear",
};

/// ResNet-18 for 32x32 inputs; see the module docs.
pub const RESNET18: ResNetSpec = ResNetSpec {
    stages: &[64, 128, 256, 512],
    blocks: 2,
    shortcut: Shortcut::B,
    head: "fc",
};

impl ResNetSpec {
    /// `(in_planes, planes, stride)` of every block of stage `i`.
    fn stage(&self, i: usize) -> Vec<(usize, usize, usize)> {
        let planes = self.stages[i];
        let first_in = if i == 0 { planes } else { self.stages[i - 1] };
        (0..self.blocks)
            .map(|b| match b {
                0 => (first_in, planes, if i == 0 { 1 } else { 2 }),
                _ => (planes, planes, 1),
            })
            .collect()
    }
}

/// Option A's shortcut when a block halves the map and changes `in_planes` to `planes`: every
/// second row and column, the new channels as zeros on both sides.
///
/// # Shapes
/// `[N, in_planes, H, W] -> [N, planes, H/2, W/2]` (`H`, `W` even)
///
/// # Example
/// ```
/// use duet_core::burn::tensor::{Device, Int, Tensor};
/// let x = Tensor::<1, Int>::arange(0..32, &Device::flex()).float().reshape([1, 2, 4, 4]);
/// let y = duet_examples::resnet::shortcut_a(x, 4);
/// assert_eq!(y.dims(), [1, 4, 2, 2]);
/// let v = y.into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(&v[..4], &[0.0; 4]); // padded channel
/// assert_eq!(&v[4..8], &[0.0, 2.0, 8.0, 10.0]); // channel 0, every second pixel
/// ```
pub fn shortcut_a(x: Tensor<4>, planes: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let sub = x
        .reshape([n, c, h / 2, 2, w / 2, 2])
        .slice([0..n, 0..c, 0..h / 2, 0..1, 0..w / 2, 0..1])
        .reshape([n, c, h / 2, w / 2]);
    let pad = (planes - c) / 2;
    let zeros = Tensor::<4>::zeros([n, pad, h / 2, w / 2], &sub.device());
    Tensor::cat(vec![zeros.clone(), sub, zeros], 1)
}

fn conv3(planes: usize, stride: usize) -> Conv2dConfig {
    Conv2d::new(planes, 3)
        .with_padding(Padding::Explicit(1))
        .with_stride(stride)
        .with_bias(false)
}

fn conv1x1(planes: usize, stride: usize) -> Conv2dConfig {
    Conv2d::new(planes, 1).with_stride(stride).with_bias(false)
}

/// Option A as a functional layer.
fn shortcut_a_layer(planes: usize) -> Fn {
    let f = move |x: Vec<DynTensor>| {
        let x = x.into_iter().next().expect("one input").into_rank::<4>();
        vec![DynTensor::from(shortcut_a(x, planes))]
    };
    let shape = move |s: &[Vec<usize>]| match s {
        [x] if x.len() == 4 => Ok(vec![vec![x[0], planes, x[2] / 2, x[3] / 2]]),
        _ => Err(format!(
            "ShortcutA expects one [N, C, H, W] input, got {s:?}"
        )),
    };
    Fn::new("ShortcutA", f).with_shape(shape)
}

/// A basic block (functional): the residual is inlined, so its params are the block's own
/// (`conv1.weight`, `bn1.weight`, ..., `downsample.0.weight`).
fn block(spec: &ResNetSpec, in_planes: usize, planes: usize, stride: usize) -> Serial {
    let main = serial![
        "conv1" => conv3(planes, stride), "bn1" => BatchNorm::new(), Relu,
        "conv2" => conv3(planes, 1), "bn2" => BatchNorm::new(),
    ];
    let residual = Residual::new(main).inline();
    let residual = match (stride != 1 || in_planes != planes, spec.shortcut) {
        (false, _) => residual,
        (true, Shortcut::A) => residual.with_shortcut(shortcut_a_layer(planes)),
        (true, Shortcut::B) => residual.with_shortcut_named(
            "downsample",
            serial![conv1x1(planes, stride), BatchNorm::new()],
        ),
    };
    serial!["" => residual, Relu]
}

/// A residual network of `spec` (functional) for `classes` outputs; see the module docs.
///
/// # Shapes
/// `[N, C, H, W] -> [N, classes]` (`H`, `W` divisible by `2^(stages - 1)`)
///
/// # Example
/// ```
/// use duet_functional::LayerExt;
/// use duet_core::{burn::tensor::Device, Key};
/// use duet_examples::resnet::{resnet, RESNET18, RESNET20};
/// let dev = Device::flex();
/// let (p, s) = resnet(RESNET20, 10).init_model(&[1, 3, 32, 32], Key::new(0), &dev).unwrap();
/// assert_eq!(p.num_params(), 269_722);
/// assert!(p.contains("layer3.2.bn2.weight") && s.contains("layer2.0.bn1.running_var"));
/// let (p, _) = resnet(RESNET18, 10).init_model(&[1, 3, 32, 32], Key::new(0), &dev).unwrap();
/// assert_eq!(p.num_params(), 11_173_962);
/// assert!(p.contains("layer2.0.downsample.0.weight") && p.contains("fc.bias"));
/// ```
pub fn resnet(spec: ResNetSpec, classes: usize) -> Serial {
    let mut layers: Vec<(String, Box<dyn Layer>)> = vec![
        ("conv1".into(), Box::new(conv3(spec.stages[0], 1))),
        ("bn1".into(), Box::new(BatchNorm::new())),
        ("relu".into(), Box::new(Relu)),
    ];
    for i in 0..spec.stages.len() {
        let stage: Vec<Box<dyn Layer>> = spec
            .stage(i)
            .into_iter()
            .map(|(cin, planes, stride)| {
                Box::new(block(&spec, cin, planes, stride)) as Box<dyn Layer>
            })
            .collect();
        layers.push((format!("layer{}", i + 1), Box::new(Serial::new(stage))));
    }
    layers.push(("pool".into(), Box::new(GlobalAvgPool)));
    layers.push((spec.head.into(), Box::new(Dense::new(classes))));
    Serial::named(layers)
}

/// ResNet-20 (functional): [`resnet`] of [`RESNET20`].
pub fn resnet20(classes: usize) -> Serial {
    resnet(RESNET20, classes)
}

/// A basic block (module API): the same maths and paths as the functional block.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// 3x3, stride 1 or 2, no bias.
    pub conv1: Conv2dModule,
    /// After `conv1`.
    pub bn1: BatchNormModule,
    /// 3x3, stride 1, no bias.
    pub conv2: Conv2dModule,
    /// After `conv2`.
    pub bn2: BatchNormModule,
    /// Option B's shortcut (1x1 convolution, batch norm), where the shape changes.
    pub downsample: Option<Sequential>,
    /// Option A's output channels where the shape changes, else 0 (identity).
    #[module(skip)]
    pub pad_to: usize,
}

impl BasicBlock {
    /// `in_planes -> planes` channels, the first convolution with `stride`.
    pub fn new(
        spec: &ResNetSpec,
        (in_planes, planes, stride): (usize, usize, usize),
        rngs: &mut Rngs,
        dev: &Device,
    ) -> Self {
        let conv1 = conv3(planes, stride).build(in_planes, rngs, dev);
        let conv2 = conv3(planes, 1).build(planes, rngs, dev);
        let changes = stride != 1 || in_planes != planes;
        let downsample = (changes && spec.shortcut == Shortcut::B).then(|| {
            Sequential::new(vec![
                ModuleLayer::Conv2d(conv1x1(planes, stride).build(in_planes, rngs, dev)),
                ModuleLayer::BatchNorm(BatchNormConfig::new().build(planes, rngs, dev)),
            ])
        });
        BasicBlock {
            conv1,
            bn1: BatchNormModule::new(planes, dev),
            conv2,
            bn2: BatchNormModule::new(planes, dev),
            downsample,
            pad_to: if changes && spec.shortcut == Shortcut::A {
                planes
            } else {
                0
            },
        }
    }

    /// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
    ///
    /// # Shapes
    /// `[N, in, H, W] -> [N, planes, H / stride, W / stride]`
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        use duet_core::ops::activation::relu;
        let h = relu(self.bn1.forward(self.conv1.forward(x.clone()), mode));
        let h = self.bn2.forward(self.conv2.forward(h), mode);
        let short = match (&self.downsample, self.pad_to) {
            (Some(d), _) => d.forward(x.into(), mode).into_rank::<4>(),
            (None, 0) => x,
            (None, planes) => shortcut_a(x, planes),
        };
        relu(h + short)
    }
}

/// A residual network of a [`ResNetSpec`] (module API); see the module docs. Stages beyond the
/// spec's are empty, and only the spec's head exists, so the paths are PyTorch's.
///
/// # Shapes
/// `[N, C, H, W] -> [N, classes]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::Device, module_params};
/// use duet_examples::resnet::{ResNet, RESNET18, RESNET20};
/// let dev = Device::flex();
/// let m = ResNet::new(RESNET20, 3, 10, &mut duet_module::Rngs::new(0), &dev);
/// let p = module_params(&m);
/// assert_eq!(p.num_params(), 269_722);
/// assert_eq!(p.get_dyn("layer2.0.conv1.weight").unwrap().dims(), vec![32, 16, 3, 3]);
/// let m = ResNet::new(RESNET18, 3, 10, &mut duet_module::Rngs::new(0), &dev);
/// assert_eq!(module_params(&m).num_params(), 11_173_962);
/// ```
#[derive(Module, Debug)]
pub struct ResNet {
    /// 3x3 to the first stage's channels.
    pub conv1: Conv2dModule,
    /// After `conv1`.
    pub bn1: BatchNormModule,
    /// Stage 1.
    pub layer1: Vec<BasicBlock>,
    /// Stage 2 (halves the map).
    pub layer2: Vec<BasicBlock>,
    /// Stage 3 (halves the map).
    pub layer3: Vec<BasicBlock>,
    /// Stage 4 (ResNet-18; empty for ResNet-20).
    pub layer4: Vec<BasicBlock>,
    /// ResNet-20's classifier (`[in, out]`).
    pub linear: Option<Linear>,
    /// ResNet-18's classifier (`[in, out]`).
    pub fc: Option<Linear>,
}

impl ResNet {
    /// A network of `spec` for `channels`-channel images (3 for CIFAR) and `classes` outputs.
    pub fn new(
        spec: ResNetSpec,
        channels: usize,
        classes: usize,
        rngs: &mut Rngs,
        dev: &Device,
    ) -> Self {
        assert!(
            (1..=4).contains(&spec.stages.len()),
            "ResNet: 1 to 4 stages"
        );
        let conv1 = conv3(spec.stages[0], 1).build(channels, rngs, dev);
        let mut stages: Vec<Vec<BasicBlock>> = (0..spec.stages.len())
            .map(|i| {
                spec.stage(i)
                    .into_iter()
                    .map(|b| BasicBlock::new(&spec, b, rngs, dev))
                    .collect()
            })
            .collect();
        stages.resize_with(4, Vec::new);
        let head = Linear::new(*spec.stages.last().expect("a stage"), classes, rngs, dev);
        let (linear, fc) = match spec.head {
            "linear" => (Some(head), None),
            _ => (None, Some(head)),
        };
        let mut stages = stages.into_iter();
        let mut next = || stages.next().expect("four stages");
        ResNet {
            conv1,
            bn1: BatchNormModule::new(spec.stages[0], dev),
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            linear,
            fc,
        }
    }
}

impl Forward<Tensor<4>, Tensor<2>> for ResNet {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<2> {
        use duet_core::ops::activation::relu;
        let mut h = relu(self.bn1.forward(self.conv1.forward(x), mode));
        let blocks = self.layer1.iter().chain(&self.layer2).chain(&self.layer3);
        for blk in blocks.chain(&self.layer4) {
            h = blk.forward(h, mode);
        }
        let pooled: Tensor<2> = h.mean_dim(3).mean_dim(2).flatten(1, 3);
        let head = self.linear.as_ref().or(self.fc.as_ref()).expect("a head");
        head.forward(pooled)
    }
}
