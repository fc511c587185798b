//! `duet train --model gpt --dataset text`: a character-level GPT on the embedded corpus (duet's
//! own source code), with the same `Trainer`, checkpoints, resume and curves as the image models.

use super::args::TrainArgs;
use super::recipe::Recipe;
use super::CliError;
use crate::gpt::{GptConfig, GPT_KEY};
use crate::models::ModelKind;
use duet_core::{CheckpointFile, Key};
use duet_datasets::{duet_source, Batches, CharCorpus, DatasetKind, TokenWindows};
use duet_train::{check_metadata, CheckpointDir, NextToken, ProcessGroup, Trainer};
use std::collections::BTreeMap;
use std::rc::Rc;

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

/// The GPT's sizes from the flags (defaults: [`GptConfig::small`]).
fn config(args: &TrainArgs, vocab: usize) -> Result<GptConfig, CliError> {
    let small = GptConfig::small(vocab);
    let cfg = GptConfig {
        vocab,
        block_size: args.context.unwrap_or(small.block_size),
        layers: args.layers.unwrap_or(small.layers),
        heads: args.heads.unwrap_or(small.heads),
        embd: args.width.unwrap_or(small.embd),
    };
    if !cfg.embd.is_multiple_of(cfg.heads) {
        return Err(fail(format!(
            "--heads {} does not divide --width {}",
            cfg.heads, cfg.embd
        )));
    }
    Ok(cfg)
}

/// Runs `duet train` for the GPT, alone or as a rank of `group` (each rank reads its rows of
/// every batch of windows; rank 0 writes the run).
pub fn run(args: &TrainArgs, group: Option<Rc<dyn ProcessGroup>>) -> Result<(), CliError> {
    let (rank, ranks) = group.as_ref().map_or((0, 1), |g| (g.rank(), g.size()));
    let primary = rank == 0;
    if args.model != ModelKind::Gpt {
        return Err(fail(format!(
            "--dataset text trains a language model: pass --model gpt (not {})",
            args.model
        )));
    }
    if args.data.dataset != DatasetKind::Text {
        return Err(fail(format!(
            "--model gpt trains on text: pass --dataset text (not {})",
            args.data.dataset
        )));
    }
    if args.data.data_dir.is_some() {
        return Err(fail("--data-dir: the text corpus is embedded"));
    }
    if args.device.contains(',') {
        return Err(fail("--device: the GPT trains on one device"));
    }
    let device = duet_core::device(args.device.trim())?;
    let out = super::train::out_dir(args, primary)?;

    let corpus = CharCorpus::new(&duet_source().map_err(fail)?);
    let cut = corpus.ids().len() * 9 / 10;
    let (train_ids, val_ids) = (corpus.ids()[..cut].to_vec(), corpus.ids()[cut..].to_vec());
    let cfg = config(args, corpus.vocab().len())?;
    if val_ids.len() <= cfg.block_size {
        return Err(fail(format!(
            "--context {} is longer than the validation text ({} characters)",
            cfg.block_size,
            val_ids.len()
        )));
    }
    let batch = args.batch_size.unwrap_or(32);
    if batch < ranks {
        return Err(fail(format!(
            "--batch-size {batch} is smaller than the {ranks} ranks: every rank needs a window of each batch"
        )));
    }
    let key = Key::new(args.seed);
    let [k_init, k_data, k_steps] = [key.fold_in(0), key.fold_in(1), key.fold_in(2)];
    let unigram = corpus.unigram_entropy(&train_ids);
    let train = TokenWindows::random(train_ids, batch, cfg.block_size, k_data, device.clone())
        .shard(rank, ranks);
    let val = TokenWindows::consecutive(val_ids, batch, cfg.block_size, device.clone())
        .shard(rank, ranks);
    let spe = train.batches_per_epoch() as u64;
    let total_steps = match (args.steps, args.epochs.unwrap_or(1)) {
        (Some(steps), _) => steps,
        (None, epochs) => epochs.saturating_mul(spe),
    };
    let mut model = super::models::build_gpt(args.api, cfg, k_init, &device)?;
    let recipe = Recipe::of(args, ModelKind::Gpt, total_steps);
    let mut opt = recipe.optimizer();
    let api = format!("{:?}", args.api).to_lowercase();
    let metadata = BTreeMap::from([
        ("duet.model".to_string(), "gpt".to_string()),
        ("duet.api".to_string(), api.clone()),
        ("duet.dataset".to_string(), "text".to_string()),
        ("duet.seed".to_string(), args.seed.to_string()),
        (duet_train::OPTIMIZER_KEY.to_string(), recipe.description()),
        (GPT_KEY.to_string(), cfg.to_json(corpus.vocab())),
    ]);
    if let (Some(dir), true) = (&args.resume, primary) {
        if let Some(latest) = CheckpointDir::latest(dir)? {
            let ck = CheckpointFile::open(&latest)?;
            check_metadata(&ck, &metadata, args.reset_optimizer).map_err(fail)?;
            if ck.metadata().get(GPT_KEY) != metadata.get(GPT_KEY) {
                return Err(fail(format!(
                    "{}: the checkpoint's GPT ({GPT_KEY}) differs from this run's sizes or vocabulary",
                    latest.display()
                )));
            }
        }
    }
    let train_cfg = super::train::config(args, &out, total_steps, spe, k_steps, metadata);
    let mut trainer = Trainer::new(NextToken, train_cfg);
    if let Some(g) = group {
        trainer = trainer.with_group(g);
    }
    if primary {
        eprintln!(
            "training GPT ({api} API) on duet's source code: {} train / {} validation characters, \
         vocabulary {}, {} layers x {} heads x width {}, {} params; {total_steps} steps of {batch} \
         windows of {}; unigram baseline {unigram:.3} nats",
            cut,
            corpus.ids().len() - cut,
            cfg.vocab,
            cfg.layers,
            cfg.heads,
            cfg.embd,
            model.params().num_params(),
            cfg.block_size,
        );
    }
    let resume = args.resume.as_deref();
    let summary = trainer
        .fit(model.as_mut(), &mut opt, &train, &val, resume)
        .map_err(fail)?;
    if !primary {
        return Ok(()); // rank 0 reports the run
    }
    let eval = match &summary.eval {
        Some(m) => format!(
            "validation loss {:.4} nats/char (perplexity {:.2}, unigram baseline {unigram:.3}), \
             next-char accuracy {:.2}%",
            m["loss"],
            m["perplexity"],
            m["accuracy"] * 100.0
        ),
        None => "not evaluated yet".into(),
    };
    super::train::report(&summary, &eval, &out);
    Ok(())
}
