//! The newer models through the `duet` command: ResNet-20 trains with the paper's recipe (SGD
//! with momentum, weight decay, cosine decay) unless told otherwise, and its checkpoint
//! evaluates identically in both APIs.

use duet_core::checkpoint::CheckpointFile;
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
