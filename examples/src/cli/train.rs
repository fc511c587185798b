//! `duet train`.

use super::args::{Distributed, TrainArgs};
use super::recipe::Recipe;
use super::{data, models, CliError};
use crate::models::ModelKind;
use crate::run_info::RunInfo;
use clap::ValueEnum;
use duet_core::CheckpointFile;
use duet_core::Key;
use duet_datasets::{DatasetKind, Loader, LoaderConfig};
use duet_train::{
    check_metadata, run_mode, CheckpointDir, Classification, ProcessGroup, RunDir, TrainConfig,
    TrainSummary, Trainer,
};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The process's Ctrl-C flag: the handler can be installed once per process.
fn stop_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let f = Arc::new(AtomicBool::new(false));
        let g = f.clone();
        // If a handler cannot be installed (another one exists), Ctrl-C just kills the process;
        // checkpoints on disk stay whole either way (atomic writes).
        let _ = ctrlc::set_handler(move || g.store(true, Ordering::SeqCst));
        f
    })
    .clone()
}

/// Parses `1,2,3` back into numbers (metadata round trip).
pub fn floats(s: &str) -> Vec<f32> {
    s.split(',').filter_map(|v| v.trim().parse().ok()).collect()
}

/// Runs `duet train`: in this process, or as one rank of an MPI job.
pub fn run(args: &TrainArgs) -> Result<(), CliError> {
    match args.distributed {
        None => run_in(args, None),
        Some(Distributed::Mpi) => run_mpi(args),
    }
}

/// One rank of an MPI job. An error on any rank is printed with the rank and stops the whole
/// job (`MPI_Abort`), so no rank is left waiting in a collective.
#[cfg(feature = "mpi")]
fn run_mpi(args: &TrainArgs) -> Result<(), CliError> {
    let group = Rc::new(duet_train::MpiGroup::init().map_err(|e| CliError::Other(e.to_string()))?);
    let result = run_in(args, Some(group.clone()));
    if let Err(e) = &result {
        if group.size() > 1 {
            // One write, so that the ranks' lines do not interleave.
            let line = format!("error: rank {} of {}: {e}\n", group.rank(), group.size());
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            group.abort(1);
        }
    }
    result
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_: &TrainArgs) -> Result<(), CliError> {
    Err(CliError::Other(
        "--distributed mpi: this duet was built without MPI; rebuild it with `--features mpi` \
         (needs an MPI library and libclang, e.g. Debian's libopenmpi-dev and libclang-dev)"
            .into(),
    ))
}

/// `duet train` on this process, alone or as a rank of `group`.
fn run_in(args: &TrainArgs, group: Option<Rc<dyn ProcessGroup>>) -> Result<(), CliError> {
    let (rank, ranks) = group.as_ref().map_or((0, 1), |g| (g.rank(), g.size()));
    let primary = rank == 0;
    let batch = args.batch_size.unwrap_or(128);
    if batch < ranks {
        return Err(CliError::Other(format!(
            "--batch-size {batch} is smaller than the {ranks} ranks: every rank needs a row of each batch"
        )));
    }
    for (flag, given) in [
        ("--context", args.context.is_some()),
        ("--layers", args.layers.is_some()),
        ("--heads", args.heads.is_some()),
        ("--width", args.width.is_some()),
    ] {
        if given && args.model != ModelKind::Gpt {
            return Err(CliError::Other(format!(
                "{flag} applies to --model gpt only"
            )));
        }
    }
    if args.model == ModelKind::Vae {
        return super::train_vae::run(args, group);
    }
    if args.model == ModelKind::Gpt || args.data.dataset == DatasetKind::Text {
        return super::train_lm::run(args, group);
    }
    let devices = args
        .device
        .split(',')
        .map(|d| duet_core::device(d.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let device = devices[0].clone();
    let out = out_dir(args, primary)?;
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let splits = data::load(&args.data)?;
    let stats = data::channel_stats(&splits.train);
    let (t_train, t_test) =
        data::transforms(args.model, &splits.train, args.data.dataset, stats.clone());
    let chw = data::input_shape(&splits.train, &t_test);
    let classes = splits.train.num_classes();
    let key = Key::new(args.seed);
    let [k_init, k_data, k_steps] = [key.fold_in(0), key.fold_in(1), key.fold_in(2)];
    let mut model = models::build_on(args.model, args.api, chw, classes, k_init, &devices)?;
    let train = Loader::new(
        splits.train,
        LoaderConfig {
            batch_size: batch,
            drop_last: true,
            shuffle: true,
            transform: t_train,
            prefetch: 2,
        },
        k_data,
        device.clone(),
    )
    .shard(rank, ranks);
    let test = Loader::new(
        splits.test,
        LoaderConfig {
            batch_size: 256,
            drop_last: false,
            shuffle: false,
            transform: t_test,
            prefetch: 2,
        },
        k_data,
        device.clone(),
    )
    .shard(rank, ranks);
    if train.batches_per_epoch() == 0 {
        return Err(CliError::Other(format!(
            "the training split has {} images, fewer than one batch of {batch}",
            train.data().len()
        )));
    }
    let spe = train.batches_per_epoch() as u64;
    let total_steps = match (args.steps, args.epochs.unwrap_or(20)) {
        (Some(steps), _) => steps,
        (None, epochs) => epochs.checked_mul(spe).ok_or_else(|| {
            CliError::Other(format!(
                "--epochs {epochs}: {epochs} epochs of {spe} steps overflow the step counter"
            ))
        })?,
    };
    let recipe = Recipe::of(args, args.model, total_steps);
    let mut opt = recipe.optimizer();
    let metadata = RunInfo {
        model: args.model,
        api: args
            .api
            .to_possible_value()
            .map(|v| v.get_name().to_string()),
        dataset: Some(args.data.dataset),
        input: chw,
        classes,
        norm: Some(stats),
        seed: Some(args.seed),
        optimizer: Some(recipe.description()),
        source: None,
    }
    .to_metadata();
    if let (Some(dir), true) = (&args.resume, primary) {
        // The checks `fit` repeats when it restores, here before anything is printed.
        if let Some(latest) = CheckpointDir::latest(dir)? {
            check_metadata(
                &CheckpointFile::open(latest)?,
                &metadata,
                args.reset_optimizer,
            )
            .map_err(|e| fail(&e))?;
        }
    }
    let cfg = config(args, &out, total_steps, spe, k_steps, metadata);
    let on = match (devices.len(), ranks) {
        (1, 1) => args.device.clone(),
        (n, 1) => format!("{} (data-parallel, {n} shards per batch)", args.device),
        (n, r) => format!(
            "{} x {r} MPI ranks ({} shards per batch)",
            args.device,
            n * r
        ),
    };
    let mut trainer = Trainer::new(Classification::default(), cfg);
    if let Some(g) = group {
        trainer = trainer.with_group(g);
    }
    if primary {
        eprintln!(
            "training {:?} ({:?} API) on {:?}: {} train / {} test images of {:?}, {} steps of {batch} on {on}",
            args.model, args.api, args.data.dataset, train.data().len(), test.data().len(), chw, total_steps
        );
    }
    let resume = args.resume.as_deref();
    let summary = trainer
        .fit(model.as_mut(), &mut opt, &train, &test, resume)
        .map_err(|e| CliError::Other(e.to_string()))?;
    if !primary {
        return Ok(()); // rank 0 reports the run
    }
    let eval = match &summary.eval {
        Some(m) => format!(
            "test accuracy {:.2}%, test loss {:.4}, {:.0} images/s",
            m["accuracy"] * 100.0,
            m["loss"],
            summary.examples_per_s
        ),
        None => "not evaluated yet (no epoch ended)".into(),
    };
    report(&summary, &eval, &out);
    Ok(())
}

/// The run directory of `duet train`: `--out`, else `--resume`'s, else the next free
/// `runs/train*`. A directory that holds another run (or is locked) is refused here, before
/// anything more is loaded; only rank 0 (`primary`) touches it (on a cluster the others may not
/// even see it).
pub(super) fn out_dir(args: &TrainArgs, primary: bool) -> Result<std::path::PathBuf, CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let out = match args.out.clone().or_else(|| args.resume.clone()) {
        Some(dir) => dir,
        None => RunDir::next_free("runs/train").map_err(|e| fail(&e))?,
    };
    if primary {
        let mode = run_mode(&out, args.resume.as_deref(), args.overwrite).map_err(|e| fail(&e))?;
        RunDir::check(&out, mode).map_err(|e| fail(&e))?;
    }
    Ok(out)
}

/// The [`TrainConfig`] of `duet train`'s flags: `total_steps` into `out`, a log line every
/// `--log-every` steps or every epoch of `steps_per_epoch` (at most 20), Ctrl-C as the stop.
pub(super) fn config(
    args: &TrainArgs,
    out: &std::path::Path,
    total_steps: u64,
    steps_per_epoch: u64,
    key: Key,
    metadata: std::collections::BTreeMap<String, String>,
) -> TrainConfig {
    TrainConfig {
        total_steps,
        checkpoint_every: args.checkpoint_every,
        keep_last: args.keep,
        out_dir: out.to_path_buf(),
        overwrite: args.overwrite,
        reset_optimizer: args.reset_optimizer,
        key,
        log_every: args.log_every.unwrap_or(steps_per_epoch.min(20)),
        quiet: args.quiet,
        metadata,
        stop: stop_flag(),
    }
}

/// Prints how a run ended: `done after N steps (...): <eval>; checkpoint ...; curves ...`.
pub(super) fn report(summary: &TrainSummary, eval: &str, out: &std::path::Path) {
    let resumed = match summary.start_step {
        0 => String::new(),
        s => format!(" ({} in this run, resumed at step {s})", summary.steps - s),
    };
    let end = if summary.interrupted {
        "interrupted"
    } else {
        "done"
    };
    let checkpoint = summary.checkpoint.as_ref().map(|p| p.display().to_string());
    println!(
        "{end} after {} steps{resumed}: {eval}; checkpoint {}; curves {}",
        summary.steps,
        checkpoint.unwrap_or_default(),
        out.join("curves.png").display()
    );
}
