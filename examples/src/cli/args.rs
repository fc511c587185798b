//! The `duet` command's flags (clap derive).

use crate::models::ModelKind;
use clap::builder::{PossibleValue, PossibleValuesParser, RangedU64ValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use duet_datasets::DatasetKind;
use std::path::PathBuf;

/// The largest `--batch-size` accepted.
pub const MAX_BATCH_SIZE: usize = 1 << 16;
/// The largest `--epochs`, `--steps` and `--checkpoint-every` accepted (so that epochs times
/// steps per epoch cannot overflow a `u64`).
pub const MAX_STEPS: u64 = 1_000_000_000;

/// `--batch-size`: 1 to [`MAX_BATCH_SIZE`].
fn batch_size() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_BATCH_SIZE as u64)
}

/// `--epochs`, `--steps`: 1 to [`MAX_STEPS`].
fn steps() -> RangedU64ValueParser<u64> {
    RangedU64ValueParser::new().range(1..=MAX_STEPS)
}

/// Parses a learning rate: a finite number above 0.
pub fn positive_finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} must be a finite number above 0"))
    }
}

/// A finite number `>= 0` on the command line.
pub fn non_negative_finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} must be a finite number >= 0"))
    }
}

/// How the learning rate changes over a run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// The peak rate throughout (after any warmup).
    Constant,
    /// Half a cosine from the peak to 0 over the run (after any warmup).
    Cosine,
}

/// A comma-separated list of finite numbers on the command line (`0.5,0.5,0.5`).
#[derive(Clone, Debug, PartialEq)]
pub struct FloatList(pub Vec<f32>);

/// Parses a [`FloatList`] ([`parse_floats`](crate::run_info::parse_floats), as the checkpoint
/// metadata).
pub fn finite_list(s: &str) -> Result<FloatList, String> {
    crate::run_info::parse_floats(s).map(FloatList)
}

/// `--model`'s help line for each architecture.
fn model_help(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Lenet => "LeNet-5 (32x32 inputs)",
        ModelKind::Alexnet => "CIFAR-sized AlexNet (3x32x32 inputs)",
        ModelKind::Mlp => "MLP with two hidden layers of 512",
        ModelKind::Resnet20 => "ResNet-20 (He et al. 2016, option A shortcuts, 0.27 M params)",
        ModelKind::Resnet18 => "ResNet-18 (torchvision's layout for 32x32 inputs, 11.2 M params)",
        ModelKind::Gpt => "GPT character language model (nanoGPT layout; --dataset text)",
        ModelKind::Vae => {
            "variational autoencoder (D-400-20, as PyTorch's MNIST example; image datasets)"
        }
    }
}

/// `--model`: one of the [`ModelKind::name`]s (exactly, as listed by `--help`).
fn model_kind() -> impl TypedValueParser<Value = ModelKind> {
    PossibleValuesParser::new(
        ModelKind::ALL.map(|k| PossibleValue::new(k.name()).help(model_help(k))),
    )
    .map(|name| name.parse::<ModelKind>().expect("a listed model name"))
}

/// `--dataset`'s help line for each dataset.
fn dataset_help(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Digits => {
            "The UCI handwritten digits shipped in the repository (upscaled to 32x32)"
        }
        DatasetKind::Cifar10 => "CIFAR-10 binary distribution",
        DatasetKind::Cifar100 => "CIFAR-100 binary distribution",
        DatasetKind::Mnist => "MNIST IDX files",
        DatasetKind::FashionMnist => "Fashion-MNIST IDX files",
        DatasetKind::Folder => "A folder with one subfolder of images per class",
        DatasetKind::Text => "duet's own source code as characters (embedded; for --model gpt)",
    }
}

/// `--dataset`: one of the [`DatasetKind::name`]s (exactly, as listed by `--help`).
fn dataset_kind() -> impl TypedValueParser<Value = DatasetKind> {
    PossibleValuesParser::new(
        DatasetKind::ALL.map(|k| PossibleValue::new(k.name()).help(dataset_help(k))),
    )
    .map(|name| name.parse::<DatasetKind>().expect("a listed dataset name"))
}

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
    /// Sample text from a GPT checkpoint (`duet train --model gpt --dataset text`).
    Generate(GenerateArgs),
}

/// `duet generate` flags.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The GPT checkpoint.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The text to continue (every character must be in the model's vocabulary).
    #[arg(long, default_value = "// ")]
    pub prompt: String,
    /// Characters to generate, 1 to 100000.
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub tokens: usize,
    /// Divides the logits before sampling (a finite number above 0; lower is more conservative).
    #[arg(long, default_value_t = 0.8, value_parser = positive_finite, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Sample among the K most likely characters only (1 to 65536; default: all).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    pub top_k: Option<usize>,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The front-end that runs the model (either reads either API's checkpoint).
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
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
    #[arg(long, value_parser = dataset_kind(), default_value = "digits")]
    pub dataset: DatasetKind,
    /// The directory holding the dataset's files (not needed for digits).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `duet train` flags.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The architecture.
    #[arg(long, value_parser = model_kind(), default_value = "lenet")]
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
    /// Number of epochs, 1 to 10^9 (default when --steps is not given: 20; 1 pass over the text
    /// for gpt).
    #[arg(long, conflicts_with = "steps", value_parser = steps())]
    pub epochs: Option<u64>,
    /// Total number of optimizer steps, counted from the start of training (1 to 10^9).
    #[arg(long, value_parser = steps())]
    pub steps: Option<u64>,
    /// Batch size, 1 to 65536 (default 128; 32 windows for gpt).
    #[arg(long, value_parser = batch_size())]
    pub batch_size: Option<usize>,
    /// GPT only: the context (window) length, 1 to 4096 (default 128).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub context: Option<usize>,
    /// GPT only: Transformer blocks, 1 to 64 (default 6).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub layers: Option<usize>,
    /// GPT only: attention heads, 1 to 64, dividing --width (default 6).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub heads: Option<usize>,
    /// GPT only: the model width, 1 to 4096 (default 192).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub width: Option<usize>,
    /// Optimizer (default: adam; for resnet20, sgd with momentum 0.9, as in the paper; for gpt,
    /// adamw).
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Peak learning rate, a finite number above 0 (default 2e-3; 0.1 for resnet20, 1e-3 for gpt).
    #[arg(long, value_parser = positive_finite, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Weight decay, finite and >= 0: L2 for sgd, adam and rmsprop, decoupled for adamw
    /// (default 0; 1e-2 for adamw, 5e-4 for resnet20, 0.1 for gpt).
    #[arg(long, value_parser = non_negative_finite, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule over the run (default constant; cosine for resnet20 and gpt).
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleKind>,
    /// Steps of linear warmup to the peak learning rate, 0 to 10^9 (default 0; for gpt 100, or a
    /// tenth of a shorter run).
    #[arg(long, value_parser = RangedU64ValueParser::<u64>::new().range(0..=MAX_STEPS))]
    pub warmup: Option<u64>,
    /// Clip each step's gradients to this global L2 norm, a finite number above 0 (default: no
    /// clipping; 1.0 for gpt).
    #[arg(long, value_parser = positive_finite, allow_negative_numbers = true)]
    pub clip_norm: Option<f64>,
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
    /// Save a checkpoint every N steps (0: only at the end of each epoch and at the end; at most
    /// 10^9).
    #[arg(long, default_value_t = 0, value_parser = RangedU64ValueParser::<u64>::new().range(0..=MAX_STEPS))]
    pub checkpoint_every: u64,
    /// Keep the last K step checkpoints (plus the best), 1 to 10^6.
    #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub keep: usize,
    /// Write the training loss and metrics to metrics.jsonl every N steps, 1 to 10^9
    /// (default: every epoch or every 20 steps, whichever comes first).
    #[arg(long, value_parser = steps())]
    pub log_every: Option<u64>,
    /// No progress bar (for logs).
    #[arg(long)]
    pub quiet: bool,
    /// Train as one rank of a multi-process job: `mpirun -np N duet train ... --distributed
    /// mpi` (each rank reads its share of every batch; rank 0 writes the run's files). Needs a
    /// duet built with `--features mpi`.
    #[arg(long, value_enum)]
    pub distributed: Option<Distributed>,
}

/// How `duet train` spreads over processes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distributed {
    /// MPI (Open MPI, MPICH): ranks, collectives and launch come from `mpirun`.
    Mpi,
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
    /// Batch size (1 to 65536).
    #[arg(long, default_value_t = 256, value_parser = batch_size())]
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
    #[arg(long, value_parser = model_kind())]
    pub model: ModelKind,
    /// A PyTorch state dict saved with `safetensors.torch.save_file`.
    #[arg(long)]
    pub input: PathBuf,
    /// The duet checkpoint to write.
    #[arg(long)]
    pub output: PathBuf,
    /// The per-channel mean the PyTorch model's inputs were normalized with (`0.5,0.5,0.5`);
    /// stored as `duet.norm_mean` for `duet eval` (which refuses a checkpoint without it).
    #[arg(long, value_parser = finite_list, requires = "norm_std")]
    pub norm_mean: Option<FloatList>,
    /// The per-channel standard deviation, with --norm-mean (each above 0).
    #[arg(long, value_parser = finite_list, requires = "norm_mean")]
    pub norm_std: Option<FloatList>,
    /// The device used for the conversion.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `duet summary` flags.
#[derive(Args, Debug, Clone)]
pub struct SummaryArgs {
    /// The architecture.
    #[arg(long, value_parser = model_kind(), default_value = "lenet")]
    pub model: ModelKind,
    /// The front-end.
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// Input channels (1 for digits/MNIST, 3 for CIFAR; at most 1024).
    #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
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
    #[arg(long, value_parser = model_kind(), default_value = "lenet")]
    pub model: ModelKind,
    /// The front-end (`burn`: the same network written directly with burn).
    #[arg(long, value_enum, default_value = "functional")]
    pub api: Api,
    /// Batch size (1 to 65536).
    #[arg(long, default_value_t = 128, value_parser = batch_size())]
    pub batch_size: usize,
    /// Timed steps (after warm-up), 1 to 10^6.
    #[arg(long, default_value_t = 30, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub steps: usize,
    /// Untimed warm-up steps (at most 10^6).
    #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
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
    /// Time single-precision matrix products of the workloads' shapes (the `gemm` crate that
    /// duet's kernels call), one JSON line per shape (`--model` and `--api` are ignored).
    #[arg(long)]
    pub gemm: bool,
    /// With `--distributed mpi`: time the gradient all-reduce of the model's parameter tree
    /// against a plain all-reduce of one buffer of the same size.
    #[arg(long, requires = "distributed")]
    pub allreduce: bool,
    /// Run under `mpirun` as one rank (a training step over the ranks, or `--allreduce`).
    #[arg(long, value_enum)]
    pub distributed: Option<Distributed>,
    /// The device.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}
