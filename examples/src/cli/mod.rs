//! The `duet` command: `train`, `eval`, `predict`, `import-torch`, `summary`, `data`, `bench`.
//!
//! Every failure is one line on stderr and a non-zero exit (see [`CliError`]).

pub mod args;
pub mod bench;
pub mod data;
pub mod eval;
pub mod import;
pub mod models;
pub mod train;

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
    /// A parameter tree did not match.
    #[error(transparent)]
    Tree(#[from] duet_core::TreeError),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

/// Parses the command line and runs the subcommand. Returns the process exit code.
pub fn main() -> i32 {
    let cli = args::Cli::parse();
    let result = match &cli.command {
        args::Command::Train(a) => train::run(a),
        args::Command::Eval(a) => eval::run_eval(a),
        args::Command::Predict(a) => eval::run_predict(a),
        args::Command::ImportTorch(a) => import::run(a),
        args::Command::Summary(a) => summary(a),
        args::Command::Data(a) => data::run(a),
        args::Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// `duet summary`: the parameter table of a model.
fn summary(a: &args::SummaryArgs) -> Result<(), CliError> {
    let device = duet_core::device(&a.device)?;
    let side = if a.model == args::ModelKind::Mlp {
        28
    } else {
        32
    };
    let chw = [a.channels, side, side];
    if a.api == args::Api::Functional {
        let layer: Box<dyn duet_functional::Layer> = Box::new(match a.model {
            args::ModelKind::Lenet => crate::functional_models::lenet(10),
            args::ModelKind::Alexnet => crate::functional_models::alexnet(10),
            args::ModelKind::Mlp => crate::functional_models::mlp(10),
        });
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
