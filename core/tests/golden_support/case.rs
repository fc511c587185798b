//! One golden case and its hyper-parameters.

use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::ops::{ConvSpec, Padding, Reduction};
use duet_core::{DynTensor, Params};
use duet_testing::Fixture;
use serde_json::Value;

/// One case: its name, kind, hyper-parameters, leaves (autodiff-tracked, duet layouts) and the
/// fixture (for integer inputs and constants).
pub struct Case<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub hyper: &'a Value,
    pub inputs: Vec<String>,
    pub p: &'a Params,
    pub fx: &'a Fixture,
    pub dev: &'a Device,
}

impl Case<'_> {
    pub fn has(&self, n: &str) -> bool {
        self.p.contains(n)
    }
    pub fn t(&self, n: &str) -> DynTensor {
        self.p
            .get_dyn(n)
            .unwrap_or_else(|_| panic!("{}: no float tensor `{n}`", self.name))
            .clone()
    }
    pub fn f<const D: usize>(&self, n: &str) -> Tensor<D> {
        self.t(n).into_rank::<D>()
    }
    pub fn opt1(&self, n: &str) -> Option<Tensor<1>> {
        self.has(n).then(|| self.f::<1>(n))
    }
    /// An integer tensor from the fixture (labels, ids), as a rank-1 tensor and its shape.
    pub fn ints(&self, n: &str) -> (Tensor<1, Int>, Vec<usize>) {
        let s = self.fx.get(&format!("{}.{n}", self.name));
        let len = s.i64s.len();
        let data = TensorData::new(s.i64s.clone(), [len]);
        (Tensor::from_data(data, self.dev), s.shape.clone())
    }
    pub fn is_int(&self, n: &str) -> bool {
        !self.has(n)
    }
    /// Checks that every hyper-parameter is one this test reads.
    pub fn known_hyper(&self, keys: &[&str]) {
        for k in self.hyper.as_object().unwrap().keys() {
            assert!(
                keys.contains(&k.as_str()),
                "{}: hyper-parameter `{k}` is unknown to the golden test",
                self.name
            );
        }
    }
    /// A spatial hyper-parameter: an integer, or a list of equal integers.
    pub fn usize_or(&self, k: &str, default: usize) -> usize {
        match self.hyper.get(k) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) => n.as_u64().unwrap() as usize,
            Some(Value::Array(a)) => {
                let v: Vec<u64> = a.iter().map(|x| x.as_u64().unwrap()).collect();
                assert!(
                    v.iter().all(|x| *x == v[0]),
                    "{}: `{k}` = {v:?}: duet's ops take one value for every axis",
                    self.name
                );
                v[0] as usize
            }
            Some(v) => panic!("{}: `{k}` = {v} is not an integer", self.name),
        }
    }
    pub fn usize(&self, k: &str) -> usize {
        assert!(
            self.hyper.get(k).is_some(),
            "{}: hyper `{k}` missing",
            self.name
        );
        self.usize_or(k, 0)
    }
    pub fn f64_or(&self, k: &str, default: f64) -> f64 {
        self.hyper.get(k).and_then(Value::as_f64).unwrap_or(default)
    }
    pub fn bool_or(&self, k: &str, default: bool) -> bool {
        self.hyper
            .get(k)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }
    pub fn conv_padding(&self) -> Padding {
        match self.hyper.get("padding") {
            Some(Value::String(s)) if s == "same" => Padding::Same,
            Some(Value::String(s)) if s == "valid" => Padding::Valid,
            Some(Value::String(s)) => panic!("{}: padding `{s}`", self.name),
            _ => Padding::Explicit(self.usize_or("padding", 0)),
        }
    }
    pub fn conv_spec(&self) -> ConvSpec {
        ConvSpec {
            stride: self.usize_or("stride", 1),
            padding: self.conv_padding(),
            dilation: self.usize_or("dilation", 1),
            groups: self.usize_or("groups", 1),
        }
    }
    pub fn reduction(&self) -> Reduction {
        match self
            .hyper
            .get("reduction")
            .and_then(Value::as_str)
            .unwrap_or("mean")
        {
            "mean" => Reduction::Mean,
            "sum" => Reduction::Sum,
            "none" => Reduction::None,
            r => panic!("{}: unknown reduction `{r}`", self.name),
        }
    }
}
