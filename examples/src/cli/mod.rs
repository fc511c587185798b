//! The `duet` command: `train`, `eval`, `predict`, `import-torch`, `summary`, `data`, `bench`.
//!
//! Every failure is one line on stderr and a non-zero exit (see [`CliError`]).

pub mod args;
pub mod bench;
pub mod bench_gemm;
#[cfg(feature = "mpi")]
pub mod bench_mpi;
pub mod data;
pub mod eval;
pub mod generate;
pub mod import;
pub mod models;
pub mod recipe;
pub mod train;
pub mod train_lm;
pub mod train_vae;

use crate::models::ModelKind;
use clap::error::ErrorKind;
use clap::Parser;

/// Everything the command can fail with; each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A bad device name, or a backend not compiled in.
    #[error(transparent)]
    Device(#[from] duet_core::DeviceError),
    /// A checkpoint could not be read or written, or does not fit the model.
    #[error(transparent)]
    Checkpoint(#[from] duet_core::CheckpointError),
    /// A model could not be built.
    #[error("model: {0}")]
    Build(#[from] duet_functional::BuildError),
    /// A model could not be named or built (an input shape the architecture cannot take).
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// A parameter tree did not match.
    #[error(transparent)]
    Tree(#[from] duet_core::TreeError),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

/// Parses the command line and runs the subcommand. Returns the process exit code.
pub fn main() -> i32 {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return flag_error(&e),
    };
    let result = match &cli.command {
        args::Command::Train(a) => train::run(a),
        args::Command::Eval(a) => eval::run_eval(a),
        args::Command::Predict(a) => eval::run_predict(a),
        args::Command::ImportTorch(a) => import::run(a),
        args::Command::Summary(a) => summary(a),
        args::Command::Data(a) => data::run(a),
        args::Command::Bench(a) => bench::run(a),
        args::Command::Generate(a) => generate::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Prints a command-line error as one line (`error: invalid value '0' for '--batch-size
/// <BATCH_SIZE>': 0 is not in 1..=65536`), without clap's usage block; `--help` and `--version`
/// print as usual. Returns the exit code (2 for a bad command line, as clap).
fn flag_error(e: &clap::Error) -> i32 {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return e.exit_code();
    }
    let text = e.render().to_string();
    let line = one_line(&text);
    eprintln!("{line} (see --help)");
    e.exit_code()
}

/// The lines of a clap message before its `Usage:` block, joined into one.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `duet summary`: the parameter table of a model.
fn summary(a: &args::SummaryArgs) -> Result<(), CliError> {
    let device = duet_core::device(&a.device)?;
    if a.model == ModelKind::Gpt {
        // The model `duet train --model gpt --dataset text` builds by default.
        let text = duet_datasets::duet_source().map_err(|e| CliError::Other(e.to_string()))?;
        let vocab = duet_datasets::CharCorpus::new(&text).vocab().len();
        let cfg = crate::gpt::GptConfig::small(vocab);
        if a.api == args::Api::Functional {
            let layer = crate::gpt::gpt(cfg);
            println!(
                "{}",
                duet_functional::summary(&layer, &[vec![1, cfg.block_size]])?
            );
        } else {
            let m = crate::gpt::Gpt::new(cfg, &mut duet_module::Rngs::new(0), &device);
            println!("{}", duet_core::module_params(&m).summary());
        }
        return Ok(());
    }
    if a.model == ModelKind::Vae {
        // The model `duet train --model vae --dataset mnist` builds.
        let cfg = crate::vae::VaeConfig::mnist();
        if a.api == args::Api::Functional {
            let layer = crate::vae::vae(cfg);
            println!(
                "{}",
                duet_functional::summary(&layer, &[vec![1, cfg.input]])?
            );
        } else {
            let m = crate::vae::Vae::new(cfg, &mut duet_module::Rngs::new(0), &device);
            println!("{}", duet_core::module_params(&m).summary());
        }
        return Ok(());
    }
    let side = if a.model == ModelKind::Mlp { 28 } else { 32 };
    let chw = [a.channels, side, side];
    if a.api == args::Api::Functional {
        let layer: Box<dyn duet_functional::Layer> =
            Box::new(crate::functional_models::of_kind(a.model, 10));
        println!(
            "{}",
            duet_functional::summary(layer.as_ref(), &[vec![1, chw[0], chw[1], chw[2]]])?
        );
    } else {
        let model = models::build(a.model, a.api, chw, 10, duet_core::Key::new(0), &device)?;
        println!("{}", model.params().summary());
    }
    Ok(())
}
