//! The newer models through the `duet` command: ResNet-20 trains with the paper's recipe (SGD
//! with momentum, weight decay, cosine decay) unless told otherwise, and its checkpoint
//! evaluates identically in both APIs; the GPT trains on the embedded text and `duet generate`
//! samples from it in both APIs; their flags are checked.

use duet_core::checkpoint::CheckpointFile;
use duet_testing::{assert_close, Fixture};
use duet_train::MetricsLog;
use serde_json::Value;
use std::process::Command;

fn run_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_duet"))
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "duet {args:?} failed:\n{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn resnet20_trains_with_the_paper_recipe_and_evaluates_the_same_in_both_apis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let line = "train --model resnet20 --dataset digits --steps 40 --batch-size 64 --quiet --out";
    let args: Vec<&str> = line.split(' ').chain([out_s]).collect();
    run_ok(&args);
    let ck = out.join("step-00000040.safetensors");
    let meta = CheckpointFile::open(&ck).unwrap().metadata().clone();
    let opt: Value = serde_json::from_str(&meta["duet.optimizer"]).unwrap();
    assert_eq!(opt["kind"], "sgd");
    assert_eq!(opt["lr"], 0.1);
    assert_eq!(opt["fixed"]["weight_decay"], 5e-4);
    assert_eq!(opt["schedule"]["kind"], "cosine");
    // The logged learning rate decays along the cosine.
    let lrs: Vec<f64> = MetricsLog::read(out.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .filter(|r| r.split == "train")
        .map(|r| r.lr)
        .collect();
    assert!(
        lrs.windows(2).all(|w| w[1] < w[0]) && lrs[0] < 0.1,
        "{lrs:?}"
    );
    // One checkpoint, both APIs: the same accuracy and loss, and better than chance.
    let eval = |api: &str| -> Value {
        let s = run_ok(&["eval", "--checkpoint", ck.to_str().unwrap(), "--api", api]);
        serde_json::from_str(s.trim()).unwrap()
    };
    let (f, m) = (eval("functional"), eval("module"));
    assert_eq!(f["accuracy"], m["accuracy"]);
    let (lf, lm) = (f["loss"].as_f64().unwrap(), m["loss"].as_f64().unwrap());
    assert!((lf - lm).abs() < 1e-5 * lf, "{lf} vs {lm}");
    assert!(f["accuracy"].as_f64().unwrap() > 0.3, "{f}");
}

fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_duet"))
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "duet {args:?} succeeded");
    assert!(!err.contains("panicked"), "duet {args:?} panicked:\n{err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "duet {args:?}: not one line:\n{err}"
    );
    err
}

/// A tiny GPT learns from the embedded text (its validation loss falls far below the uniform
/// guess, ln 96), logs perplexity, and `duet generate` continues a prompt with the same text in
/// both APIs from one checkpoint.
#[test]
fn gpt_trains_on_the_text_and_generates_in_both_apis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gpt");
    let o = out.to_str().unwrap();
    let line = "train --model gpt --dataset text --steps 60 --batch-size 16 --context 32 \
                --layers 1 --heads 2 --width 32 --lr 1e-2 --quiet --out";
    let args: Vec<&str> = line.split_whitespace().chain([o]).collect();
    run_ok(&args);
    let records = MetricsLog::read(out.join("metrics.jsonl")).unwrap();
    let last = records.iter().rev().find(|r| r.split == "eval").unwrap();
    assert!(last.loss < 3.2, "validation loss {}", last.loss);
    let ppl = last.metrics["perplexity"];
    assert!((ppl - last.loss.exp()).abs() < 1e-6 * ppl);
    let ck = out.join("step-00000060.safetensors");
    let ck = ck.to_str().unwrap();
    let gen = |api: &str| {
        let args = [
            "generate",
            "--checkpoint",
            ck,
            "--prompt",
            "fn ",
            "--tokens",
            "30",
            "--api",
            api,
        ];
        run_ok(&args)
    };
    let (f, m) = (gen("functional"), gen("module"));
    assert_eq!(f, m);
    assert!(
        f.starts_with("fn ") && f.trim_end_matches('\n').chars().count() == 33,
        "{f:?}"
    );
    // Greedy decoding (top-k 1) does not depend on the seed.
    let greedy = |seed: &str| {
        run_ok(&[
            "generate",
            "--checkpoint",
            ck,
            "--top-k",
            "1",
            "--seed",
            seed,
            "--tokens",
            "20",
        ])
    };
    assert_eq!(greedy("1"), greedy("2"));
    // Bad requests: one line each.
    let e = fails(&["generate", "--checkpoint", ck, "--prompt", "\u{e9}"]);
    assert!(e.contains("not in the model's vocabulary"), "{e}");
    let e = fails(&["generate", "--checkpoint", ck, "--top-k", "500"]);
    assert!(e.contains("larger than the vocabulary"), "{e}");
    // Resuming with the same optimizer but another width is refused before any work.
    let resume = [
        "train",
        "--model",
        "gpt",
        "--dataset",
        "text",
        "--steps",
        "60",
        "--batch-size",
        "16",
        "--context",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
        "--width",
        "64",
        "--lr",
        "1e-2",
        "--resume",
        o,
    ];
    let e = fails(&resume);
    assert!(e.contains("the checkpoint's GPT (duet.gpt) differs"), "{e}");
}

#[test]
fn language_model_flags_are_checked() {
    for (line, want) in [
        ("train --model gpt --dataset digits", "pass --dataset text"),
        ("train --model lenet --dataset text", "pass --model gpt"),
        (
            "train --model lenet --layers 2",
            "--layers applies to --model gpt only",
        ),
        (
            "train --model gpt --dataset text --heads 5 --width 64",
            "does not divide",
        ),
        (
            "eval --checkpoint /nonexistent.safetensors --dataset text",
            "nonexistent",
        ),
    ] {
        let e = fails(&line.split(' ').collect::<Vec<_>>());
        assert!(e.contains(want), "{line}: {e}");
    }
}

/// A PyTorch ResNet-20 state dict (safetensors, with batch norm's int64 `num_batches_tracked`
/// counters as `torch.save` keeps them) imports: its running statistics land in the state
/// tree, so `duet predict` (evaluation mode) gives PyTorch's eval logits in both APIs.
#[test]
fn a_pytorch_resnet20_state_dict_imports_with_its_running_statistics() {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/resnet20.safetensors"
    ));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/resnet20.json"
    ));
    let manifest: Value = serde_json::from_str(&text.unwrap()).unwrap();
    let names: Vec<String> = ["params", "buffers"]
        .iter()
        .flat_map(|k| manifest[*k].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = names
        .iter()
        .map(|n| {
            let s = fx.get(&format!("init.{n}"));
            let b = s.f32s.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), s.shape.clone(), b)
        })
        .collect();
    let counter = 7i64.to_le_bytes().to_vec();
    let mut views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, shape, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    views.push((
        "bn1.num_batches_tracked".into(),
        TensorView::new(Dtype::I64, vec![], &counter).unwrap(),
    ));
    let sd = dir.path().join("sd.safetensors");
    safetensors::serialize_to_file(views, &None, &sd).unwrap();
    let ck = dir.path().join("resnet.safetensors");
    let (sd, ck) = (sd.to_str().unwrap(), ck.to_str().unwrap());
    run_ok(&[
        "import-torch",
        "--model",
        "resnet20",
        "--input",
        sd,
        "--output",
        ck,
    ]);
    let x = dir.path().join("x.safetensors");
    let xs = duet_core::Params::new().with(
        "x",
        fx.float::<4>("x", &duet_core::burn::tensor::Device::flex()),
    );
    duet_core::checkpoint::save(&x, &[("", &xs)], &Default::default()).unwrap();
    for api in ["functional", "module"] {
        let y = dir.path().join(format!("y-{api}.safetensors"));
        let (x, y_s) = (x.to_str().unwrap(), y.to_str().unwrap());
        run_ok(&[
            "predict",
            "--checkpoint",
            ck,
            "--input",
            x,
            "--output",
            y_s,
            "--api",
            api,
        ]);
        let got = CheckpointFile::open(&y)
            .unwrap()
            .tree("", &duet_core::burn::tensor::Device::flex());
        let got = got.unwrap().get_dyn("logits").unwrap().to_vec();
        assert_close(
            &format!("{api} eval logits"),
            &got,
            &fx.get("eval.logits").f32s,
            1e-4,
            1e-4,
        );
    }
}
