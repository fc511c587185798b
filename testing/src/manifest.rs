//! The golden manifest (`layers.json`): typed cases with their hyper-parameters.

use duet_core::ops::{ConvSpec, ConvTransposeSpec, Padding, PoolSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One golden case of a manifest: `{name}.{tensor}` in the fixture file.
#[derive(Clone, Debug)]
pub struct Case {
    /// The case's name (prefix of its tensors).
    pub name: String,
    /// The layer kind (`linear`, `conv2d`, `activation`, ...), as the generator names it; empty
    /// for cases that are not one layer (a model, a training problem).
    pub kind: String,
    /// The hyper-parameters.
    pub hyper: Hyper,
    /// The inputs, in order (`x`, or `logits` and `target`, ...).
    pub inputs: Vec<String>,
    /// The layer's params and state (`weight`, `bias`, `running_mean`, ...), PyTorch names.
    pub params: Vec<String>,
    /// Every tensor of the case with its shape (`output`, `probe`, `grad_*`, ...).
    pub tensors: BTreeMap<String, Vec<usize>>,
}

/// Reads every case of manifest `{dir}/{name}.json`, in the manifest's order.
///
/// # Panics
/// A missing or malformed manifest (a test failure naming the file).
pub fn cases(dir: impl AsRef<Path>, name: &str) -> Vec<Case> {
    let path = dir.as_ref().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let m: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let names = |v: &Value| -> Vec<String> {
        let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter()
            .map(|s| s.as_str().expect("a name").to_string())
            .collect()
    };
    let all = m["cases"]
        .as_object()
        .unwrap_or_else(|| panic!("{}: no `cases`", path.display()));
    all.iter()
        .map(|(name, e)| Case {
            name: name.clone(),
            kind: e["kind"].as_str().unwrap_or_default().to_string(),
            hyper: Hyper {
                case: name.clone(),
                values: e["hyper"].clone(),
            },
            inputs: names(&e["inputs"]),
            params: names(&e["params"]),
            tensors: e["tensors"]
                .as_object()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
                .unwrap_or_default(),
        })
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    let dims = v
        .get("shape")
        .unwrap_or(v)
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    dims.iter()
        .filter_map(Value::as_u64)
        .map(|d| d as usize)
        .collect()
}

/// A case's hyper-parameters, read with the case's name in every panic message.
#[derive(Clone, Debug)]
pub struct Hyper {
    case: String,
    values: Value,
}

impl Hyper {
    /// The raw value of `k`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.values.get(k).filter(|v| !v.is_null())
    }

    /// Checks that every hyper-parameter is one of `keys` (so a new one is not silently ignored).
    pub fn known(&self, keys: &[&str]) {
        for k in self.values.as_object().into_iter().flat_map(|o| o.keys()) {
            assert!(
                keys.contains(&k.as_str()),
                "{}: hyper-parameter `{k}` is unknown to the catalog",
                self.case
            );
        }
    }

    /// A spatial hyper-parameter: an integer, or a list of equal integers.
    pub fn usize_or(&self, k: &str, default: usize) -> usize {
        match self.get(k) {
            None => default,
            Some(Value::Number(n)) => n.as_u64().expect("a count") as usize,
            Some(Value::Array(a)) => {
                let v: Vec<u64> = a.iter().map(|x| x.as_u64().expect("a count")).collect();
                assert!(
                    v.iter().all(|x| *x == v[0]),
                    "{}: `{k}` = {v:?}: duet takes one value for every axis",
                    self.case
                );
                v[0] as usize
            }
            Some(v) => panic!("{}: `{k}` = {v} is not an integer", self.case),
        }
    }

    /// A required integer.
    pub fn usize(&self, k: &str) -> usize {
        assert!(self.get(k).is_some(), "{}: hyper `{k}` missing", self.case);
        self.usize_or(k, 0)
    }

    /// A float, or `default`.
    pub fn f64_or(&self, k: &str, default: f64) -> f64 {
        self.get(k).and_then(Value::as_f64).unwrap_or(default)
    }

    /// A boolean, or `default`.
    pub fn bool_or(&self, k: &str, default: bool) -> bool {
        self.get(k).and_then(Value::as_bool).unwrap_or(default)
    }

    /// A string.
    pub fn str(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(Value::as_str)
    }

    /// Whether the case runs in training mode (`mode: "train"`).
    pub fn train(&self) -> bool {
        self.str("mode") == Some("train")
    }

    /// The activation named by `function` (PyTorch's names).
    pub fn act(&self) -> duet_core::Act {
        let f = self
            .str("function")
            .unwrap_or_else(|| panic!("{}: no `function`", self.case));
        f.parse().unwrap_or_else(|e| panic!("{}: {e}", self.case))
    }

    /// Convolution stride, padding (`same`, `valid` or a number), dilation and groups.
    pub fn conv_spec(&self) -> ConvSpec {
        let padding = match self.get("padding") {
            Some(Value::String(s)) if s == "same" => Padding::Same,
            Some(Value::String(s)) if s == "valid" => Padding::Valid,
            Some(Value::String(s)) => panic!("{}: padding `{s}`", self.case),
            _ => Padding::Explicit(self.usize_or("padding", 0)),
        };
        ConvSpec {
            stride: self.usize_or("stride", 1),
            padding,
            dilation: self.usize_or("dilation", 1),
            groups: self.usize_or("groups", 1),
        }
    }

    /// Transposed-convolution stride, padding, output padding, dilation and groups.
    pub fn conv_transpose_spec(&self) -> ConvTransposeSpec {
        ConvTransposeSpec {
            stride: self.usize_or("stride", 1),
            padding: self.usize_or("padding", 0),
            output_padding: self.usize_or("output_padding", 0),
            dilation: self.usize_or("dilation", 1),
            groups: self.usize_or("groups", 1),
        }
    }

    /// Pooling window, stride (default: the window) and padding.
    pub fn pool_spec(&self) -> PoolSpec {
        let kernel = self.usize("kernel");
        PoolSpec {
            kernel,
            stride: self.usize_or("stride", kernel),
            padding: self.usize_or("padding", 0),
        }
    }
}
