//! ResNet-20 for CIFAR (He et al. 2016, section 4.2) in both APIs, with PyTorch's state-dict
//! paths (`conv1.weight`, `layer2.0.bn1.running_mean`, `linear.bias`: the layout of the widely
//! used akamaster/pytorch_resnet_cifar10), so one checkpoint serves both and a PyTorch-trained
//! ResNet-20 imports.
//!
//! Architecture: a 3x3 convolution to 16 channels, batch norm, ReLU; three stages of three
//! basic blocks (16, 32, 64 channels; the first block of stages 2 and 3 halves the map);
//! global average pooling; a linear classifier. A basic block is `relu(bn2(conv2(relu(bn1(
//! conv1(x))))) + shortcut(x))` with bias-free 3x3 convolutions. Shortcuts are **option A**
//! (the paper's CIFAR choice, parameter-free): identity, or when the shape changes, every
//! second pixel with the new channels zero-padded (`planes / 4` on each side). 269,722 params.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::ops::Padding;
use duet_core::{DynTensor, Mode};
use duet_functional::{
    serial, BatchNorm, Conv2d, Dense, Fn, GlobalAvgPool, Relu, Residual, Serial,
};
use duet_module::{BatchNorm as BatchNormModule, Conv2d as Conv2dModule, Linear, Rngs};
use duet_train::Forward;

/// Channels of the three stages.
pub const STAGES: [usize; 3] = [16, 32, 64];
/// Basic blocks per stage (ResNet-20: 3; ResNet-32: 5; ResNet-56: 9).
pub const BLOCKS: usize = 3;

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

fn conv3(planes: usize, stride: usize) -> Conv2d {
    Conv2d::new(planes, 3)
        .with_padding(Padding::Explicit(1))
        .with_stride(stride)
        .with_bias(false)
}

/// A basic block (functional): the residual is inlined, so its params are the block's own
/// (`conv1.weight`, `bn1.weight`, ...).
fn block(in_planes: usize, planes: usize, stride: usize) -> Serial {
    let main = serial![
        "conv1" => conv3(planes, stride), "bn1" => BatchNorm::new(), Relu,
        "conv2" => conv3(planes, 1), "bn2" => BatchNorm::new(),
    ];
    let residual = Residual::new(main).inline();
    let residual = if stride != 1 || in_planes != planes {
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
        residual.with_shortcut(Fn::new("ShortcutA", f).with_shape(shape))
    } else {
        residual
    };
    serial!["" => residual, Relu]
}

/// ResNet-20 (functional) for `[N, 3, 32, 32]` inputs and `classes` outputs; see the module
/// docs.
///
/// # Shapes
/// `[N, 3, H, W] -> [N, classes]` (`H`, `W` divisible by 4)
///
/// # Example
/// ```
/// use duet_functional::LayerExt;
/// use duet_core::{burn::tensor::Device, Key};
/// let (p, s) = duet_examples::resnet::resnet20(10).init_model(&[1, 3, 32, 32], Key::new(0), &Device::flex()).unwrap();
/// assert_eq!(p.num_params(), 269_722);
/// assert!(p.contains("layer3.2.bn2.weight") && s.contains("layer2.0.bn1.running_var"));
/// ```
pub fn resnet20(classes: usize) -> Serial {
    let mut layers: Vec<(String, Box<dyn duet_functional::Layer>)> = vec![
        ("conv1".into(), Box::new(conv3(STAGES[0], 1))),
        ("bn1".into(), Box::new(BatchNorm::new())),
        ("relu".into(), Box::new(Relu)),
    ];
    let mut in_planes = STAGES[0];
    for (i, &planes) in STAGES.iter().enumerate() {
        let stage: Vec<Box<dyn duet_functional::Layer>> = (0..BLOCKS)
            .map(|b| {
                let stride = if i > 0 && b == 0 { 2 } else { 1 };
                let blk = block(in_planes, planes, stride);
                in_planes = planes;
                Box::new(blk) as Box<dyn duet_functional::Layer>
            })
            .collect();
        layers.push((format!("layer{}", i + 1), Box::new(Serial::new(stage))));
    }
    layers.push(("pool".into(), Box::new(GlobalAvgPool)));
    layers.push(("linear".into(), Box::new(Dense::new(classes))));
    Serial::named(layers)
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
    /// Output channels when the shortcut is option A's (the map halves), else 0 (identity).
    #[module(skip)]
    pub pad_to: usize,
}

impl BasicBlock {
    /// `in_planes -> planes` channels, the first convolution with `stride`.
    pub fn new(
        in_planes: usize,
        planes: usize,
        stride: usize,
        rngs: &mut Rngs,
        dev: &Device,
    ) -> Self {
        use duet_module::Build;
        BasicBlock {
            conv1: conv3(planes, stride).build(in_planes, rngs, dev),
            bn1: BatchNormModule::new(planes, dev),
            conv2: conv3(planes, 1).build(planes, rngs, dev),
            bn2: BatchNormModule::new(planes, dev),
            pad_to: if stride != 1 || in_planes != planes {
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
        let short = match self.pad_to {
            0 => x,
            planes => shortcut_a(x, planes),
        };
        relu(h + short)
    }
}

/// ResNet-20 (module API); see the module docs.
///
/// # Shapes
/// `[N, 3, H, W] -> [N, classes]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::Device, module_params};
/// let m = duet_examples::resnet::ResNet20::new(3, 10, &mut duet_module::Rngs::new(0), &Device::flex());
/// let p = module_params(&m);
/// assert_eq!(p.num_params(), 269_722);
/// assert_eq!(p.get_dyn("layer2.0.conv1.weight").unwrap().dims(), vec![32, 16, 3, 3]);
/// ```
#[derive(Module, Debug)]
pub struct ResNet20 {
    /// 3 -> 16, 3x3.
    pub conv1: Conv2dModule,
    /// After `conv1`.
    pub bn1: BatchNormModule,
    /// 16 channels.
    pub layer1: Vec<BasicBlock>,
    /// 32 channels, the first block halves the map.
    pub layer2: Vec<BasicBlock>,
    /// 64 channels, the first block halves the map.
    pub layer3: Vec<BasicBlock>,
    /// 64 -> classes (`[in, out]`).
    pub linear: Linear,
}

impl ResNet20 {
    /// For `channels`-channel images (3 for CIFAR) and `classes` outputs.
    pub fn new(channels: usize, classes: usize, rngs: &mut Rngs, dev: &Device) -> Self {
        use duet_module::Build;
        let mut in_planes = STAGES[0];
        let mut stage = |i: usize, rngs: &mut Rngs| -> Vec<BasicBlock> {
            (0..BLOCKS)
                .map(|b| {
                    let stride = if i > 0 && b == 0 { 2 } else { 1 };
                    let blk = BasicBlock::new(in_planes, STAGES[i], stride, rngs, dev);
                    in_planes = STAGES[i];
                    blk
                })
                .collect()
        };
        let conv1 = conv3(STAGES[0], 1).build(channels, rngs, dev);
        let (layer1, layer2, layer3) = (stage(0, rngs), stage(1, rngs), stage(2, rngs));
        ResNet20 {
            conv1,
            bn1: BatchNormModule::new(STAGES[0], dev),
            layer1,
            layer2,
            layer3,
            linear: Linear::new(STAGES[2], classes, rngs, dev),
        }
    }
}

impl Forward<Tensor<4>, Tensor<2>> for ResNet20 {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<2> {
        use duet_core::ops::activation::relu;
        let mut h = relu(self.bn1.forward(self.conv1.forward(x), mode));
        for blk in self.layer1.iter().chain(&self.layer2).chain(&self.layer3) {
            h = blk.forward(h, mode);
        }
        let pooled: Tensor<2> = h.mean_dim(3).mean_dim(2).flatten(1, 3);
        self.linear.forward(pooled)
    }
}
