//! `duet generate`: sample text from a GPT checkpoint, one character at a time (temperature and
//! top-k sampling over the logits of the last position; the context is the last `block_size`
//! characters).

use super::args::GenerateArgs;
use super::CliError;
use crate::gpt::{GptConfig, GPT_KEY};
use duet_core::burn::tensor::{Int, Tensor, TensorData};
use duet_core::Parameterized;
use duet_core::{CheckpointFile, Key};
use duet_datasets::CharCorpus;
use duet_train::Model;
use std::io::Write;

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

/// Draws an index from `logits / temperature`, restricted to the `top_k` largest: softmax on
/// the host in f64, then one uniform number from `key`.
///
/// # Example
/// ```
/// use duet_examples::cli::generate::sample;
/// use duet_core::Key;
/// // With top-k 1 the most likely index always wins, whatever the key.
/// assert_eq!(sample(&[0.1, 3.0, 2.9], 1.0, Some(1), Key::new(7)), 1);
/// // A very low temperature is nearly greedy too.
/// assert_eq!(sample(&[0.1, 3.0, 2.0], 1e-3, None, Key::new(7)), 1);
/// ```
pub fn sample(logits: &[f32], temperature: f64, top_k: Option<usize>, key: Key) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order.truncate(top_k.unwrap_or(logits.len()).clamp(1, logits.len()));
    let top = logits[order[0]] as f64;
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - top) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = f64::from(key.uniform_vec(1, 0.0, 1.0)[0]) * total;
    for (&i, w) in order.iter().zip(&weights) {
        if u < *w {
            return i;
        }
        u -= w;
    }
    order[order.len() - 1]
}

/// Runs `duet generate`.
pub fn run(args: &GenerateArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let ck = CheckpointFile::open(&args.checkpoint)?;
    let meta = ck.metadata();
    let path = args.checkpoint.display();
    match meta.get("duet.model").map(String::as_str) {
        Some("gpt") => {}
        other => {
            return Err(fail(format!(
                "{path} is not a GPT checkpoint (duet.model = {})",
                other.unwrap_or("none")
            )))
        }
    }
    let json = meta
        .get(GPT_KEY)
        .ok_or_else(|| fail(format!("{path}: no {GPT_KEY} in the metadata")))?;
    let (cfg, vocab) = GptConfig::from_json(json).map_err(|e| fail(format!("{path}: {e}")))?;
    let corpus = CharCorpus::with_vocab(vocab, "").map_err(|c| fail(format!("{c:?}")))?;
    let mut ids: Vec<u32> = corpus.encode(&args.prompt).map_err(|c| {
        fail(format!(
            "--prompt: {c:?} is not in the model's vocabulary of {} characters",
            cfg.vocab
        ))
    })?;
    if ids.is_empty() {
        return Err(fail("--prompt: give at least one character to continue"));
    }
    if args.top_k.is_some_and(|k| k > cfg.vocab) {
        return Err(fail(format!(
            "--top-k {} is larger than the vocabulary ({})",
            args.top_k.unwrap_or(0),
            cfg.vocab
        )));
    }
    let mut model = super::models::build_gpt(args.api, cfg, Key::new(0), &device)?;
    let params = ck.load_like("params", &model.params(), &Default::default(), &device)?;
    model.load_params(&params)?;
    let key = Key::new(args.seed);
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", args.prompt);
    for i in 0..args.tokens {
        let window = &ids[ids.len().saturating_sub(cfg.block_size)..];
        let data: Vec<i64> = window.iter().map(|&v| v as i64).collect();
        let x = Tensor::<2, Int>::from_data(TensorData::new(data, [1, window.len()]), &device);
        let logits = model.forward(x);
        let t = window.len();
        let last = logits.slice([0..1, t - 1..t, 0..cfg.vocab]).into_data();
        let last: Vec<f32> = last
            .convert::<f32>()
            .try_to_vec()
            .map_err(|e| fail(format!("{e:?}")))?;
        let next = sample(&last, args.temperature, args.top_k, key.fold_in(i as u64)) as u32;
        ids.push(next);
        let _ = write!(out, "{}", corpus.decode(&[next]));
        let _ = out.flush();
    }
    let _ = writeln!(out);
    Ok(())
}
