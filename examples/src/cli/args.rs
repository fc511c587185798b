//! The `duet` command's flags (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// duet: train, evaluate and benchmark LeNet, AlexNet and an MLP with either API.
#[derive(Parser, Debug)]
#[command(name = "duet", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model (default: LeNet on the embedded digits, functional API, CPU).
    Train(TrainArgs),
    /// Evaluate a checkpoint on a dataset's test split.
    Eval(EvalArgs),
    /// Run a checkpoint on tensor `x` of a safetensors file and write `logits`.
    Predict(PredictArgs),
    /// Convert a PyTorch state dict (safetensors) into a duet checkpoint.
    ImportTorch(ImportArgs),
    /// Print a model's parameter table.
    Summary(SummaryArgs),
    /// Print a dataset's split and class counts; optionally write a grid of samples.
    Data(DataArgs),
    /// Time training steps on synthetic data; prints one JSON line.
    Bench(BenchArgs),
}

/// A model architecture.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// LeNet-5 (32x32 inputs).
    Lenet,
    /// CIFAR-sized AlexNet (3x32x32 inputs).
    Alexnet,
    /// MLP with two hidden layers of 512.
    Mlp,
}

/// Which front-end builds the model.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Trax-style layers and combinators.
    Functional,
    /// Flax-NNX-style modules.
    Module,
    /// Plain burn (benchmark baseline only).
    Burn,
}

/// A dataset.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetKind {
    /// The UCI handwritten digits shipped in the repository (upscaled to 32x32).
    Digits,
    /// CIFAR-10 binary distribution.
    Cifar10,
    /// CIFAR-100 binary distribution.
    Cifar100,
    /// MNIST IDX files.
    Mnist,
    /// Fashion-MNIST IDX files.
    FashionMnist,
    /// A folder with one subfolder of images per class.
    Folder,
}

/// An optimizer.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// RMSProp (alpha 0.9).
    Rmsprop,
    /// Adam.
    Adam,
    /// AdamW (weight decay 1e-2).
    Adamw,
    /// SGD with momentum 0.9.
    Sgd,
}

/// Where the data comes from.
#[derive(Args, Debug, Clone)]
pub struct DataSource {
    /// The dataset.
    #[arg(long, value_enum, default_value = "digits")]
    pub dataset: DatasetKind,
    /// The directory holding the dataset's files (not needed for digits).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `duet train` flags.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The architecture.
    #[arg(long, value_enum, default_value = "lenet")]
    pub model: ModelKind,
    /// The front-end.
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// The data.
    #[command(flatten)]
    pub data: DataSource,
    /// The device: cpu, wgpu, wgpu:N, cuda, cuda:N; several, comma-separated (`cuda:0,cuda:1`),
    /// train data-parallel (each batch split across them, gradients averaged).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Number of epochs (default 20 when --steps is not given).
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<u64>,
    /// Total number of optimizer steps, counted from the start of training.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Seed of every random key (init, shuffling, augmentation, dropout).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (checkpoints, metrics.jsonl, curves.png); default: the `--resume`
    /// directory, or the first of `runs/train`, `runs/train2`, ... that holds no run. A
    /// directory that holds another run is refused (see --overwrite).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the run already in --out: deletes its checkpoints, metrics and curves (only
    /// those files) before training.
    #[arg(long)]
    pub overwrite: bool,
    /// With --resume: start a fresh optimizer state instead of the checkpoint's (needed to
    /// resume with a different --optimizer or hyper-parameters).
    #[arg(long, requires = "resume")]
    pub reset_optimizer: bool,
    /// Continue from the latest checkpoint in this directory (written by a previous --out).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Save a checkpoint every N steps (0: only at the end of each epoch and at the end).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_every: u64,
    /// Keep the last K step checkpoints (plus the best).
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// No progress bar (for logs).
    #[arg(long)]
    pub quiet: bool,
}

/// `duet eval` flags.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The checkpoint file.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The front-end to evaluate with (either loads either API's checkpoint).
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// The data.
    #[command(flatten)]
    pub data: DataSource,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Batch size.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
}

/// `duet predict` flags.
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// The checkpoint file.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// A safetensors file with tensor `x` (`[N, C, H, W]` float32, preprocessed).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write tensor `logits`.
    #[arg(long)]
    pub output: PathBuf,
    /// The front-end.
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `duet import-torch` flags.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The architecture of the state dict.
    #[arg(long, value_enum)]
    pub model: ModelKind,
    /// A PyTorch state dict saved with `safetensors.torch.save_file`.
    #[arg(long)]
    pub input: PathBuf,
    /// The duet checkpoint to write.
    #[arg(long)]
    pub output: PathBuf,
    /// The device used for the conversion.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `duet summary` flags.
#[derive(Args, Debug, Clone)]
pub struct SummaryArgs {
    /// The architecture.
    #[arg(long, value_enum, default_value = "lenet")]
    pub model: ModelKind,
    /// The front-end.
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// Input channels (1 for digits/MNIST, 3 for CIFAR).
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `duet data` flags.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// The data.
    #[command(flatten)]
    pub data: DataSource,
    /// Write a labelled grid of sample images to this PNG.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `duet bench` flags.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The architecture.
    #[arg(long, value_enum, default_value = "lenet")]
    pub model: ModelKind,
    /// The front-end (`burn`: the same network written directly with burn).
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Timed steps (after warm-up).
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Time the forward pass only (inference), not a training step.
    #[arg(long)]
    pub inference: bool,
    /// Time the data pipeline alone (W5): 10,000 synthetic CIFAR-10-format images through
    /// shuffling, random crops, flips, normalization, batching and tensor conversion.
    #[arg(long)]
    pub pipeline: bool,
    /// Time the optimizer update alone: duet's Adam on AlexNet-sized parameter trees against
    /// burn's own `Adam` on the same parameters (`--api` is ignored).
    #[arg(long)]
    pub update_only: bool,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}
