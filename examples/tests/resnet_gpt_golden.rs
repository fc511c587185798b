//! ResNet-20 and the GPT against PyTorch (fixtures/resnet20.*, fixtures/gpt.*, written by
//! core/tests/fixtures/generate_models.py), through both APIs: logits, loss and every gradient
//! for a fixed batch at 1e-4 relative; ResNet's running statistics after a training-mode pass
//! and its evaluation with the running statistics; the GPT's causal mask; a checkpoint written
//! by one API evaluates identically in the other. Names and sizes come from the manifests.

use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::checkpoint::torch::{from_torch, to_torch, Kinds};
use duet_core::checkpoint::{to_bytes, CheckpointFile};
use duet_core::ops::{cross_entropy, CrossEntropy};
use duet_core::{DynTensor, Key, Mode, Parameterized, Params};
use duet_examples::gpt::{gpt, Gpt, GptConfig};
use duet_examples::resnet::{resnet, ResNet, ResNetSpec, RESNET18, RESNET20};
use duet_functional::{LayerExt, Serial};
use duet_module::Rngs;
use duet_testing::{assert_close, Fixture};
use duet_train::{Forward, ModuleModel, Stateful};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A function from token ids to logits (one per API).
type Logits<'a> = &'a dyn Fn(Tensor<2, Int>) -> Tensor<3>;

fn manifest(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/{name}.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn names(m: &Value, key: &str) -> Vec<String> {
    m[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The fixture's tensors `prefix<name>` as a tree keyed by `name` (PyTorch layout).
fn tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    names
        .iter()
        .map(|n| (n.clone(), fx.tensor(&format!("{prefix}{n}"), dev)))
        .collect()
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    DynTensor::from(t).to_vec()
}

/// Every gradient against `grad.<name>`, in PyTorch's layout.
fn check_grads(what: &str, grads: &Params, kinds: &Kinds, fx: &Fixture, params: &[String]) {
    let torch = to_torch(grads, kinds);
    assert_eq!(torch.len(), params.len(), "{what}: gradient count");
    for n in params {
        let g = torch
            .get_dyn(n)
            .unwrap_or_else(|_| panic!("{what}: no gradient for {n}"));
        let want = &fx.get(&format!("grad.{n}")).f32s;
        assert_close(&format!("{what} grad {n}"), &g.to_vec(), want, 1e-4, 1e-6);
    }
}

fn mean_ce(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(logits, labels, &CrossEntropy::default())
}

struct ResNetCase {
    fx: Fixture,
    manifest: Value,
    spec: ResNetSpec,
    params: Vec<String>,
    buffers: Vec<String>,
    x: Tensor<4>,
    labels: Tensor<1, Int>,
    layer: Serial,
    kinds: Kinds,
}

fn resnet_case(name: &str, spec: ResNetSpec, dev: &Device) -> ResNetCase {
    let m = manifest(name);
    let fx = Fixture::open(format!("{DIR}/{name}.safetensors"));
    let layer = resnet(spec, 10);
    let kinds = duet_functional::torch_kinds(&layer, &[1, 3, 32, 32]);
    ResNetCase {
        x: fx.float("x", dev),
        labels: fx.int("labels", dev),
        params: names(&m, "params"),
        buffers: names(&m, "buffers"),
        manifest: m,
        spec,
        fx,
        layer,
        kinds,
    }
}

/// ResNet-18's initial values: the manifest's `init_formula`, element `i` of the `k`-th
/// tensor of the state dict (`init_order`) from `s = sin(0.618 i^2 + 1.7 k + 0.1 seed)` in f64
/// (`i^2` exact), rounded to f32.
fn formula_init(c: &ResNetCase, dev: &Device) -> Params {
    let seed = c.manifest["seed"].as_f64().unwrap();
    let order = names(&c.manifest, "init_order");
    assert_eq!(order.len(), c.params.len() + c.buffers.len());
    order
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let shape: Vec<usize> = c.manifest["shapes"][name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let n: usize = shape.iter().product();
            let fan_in: usize = shape[1..].iter().product();
            let value = |s: f64| -> f64 {
                match (shape.len(), name.as_str()) {
                    (4 | 2, _) => s * (2.0 / fan_in as f64).sqrt(),
                    (_, n) if n.ends_with("running_var") => 1.0 + 0.25 * s,
                    (_, n) if n.ends_with("running_mean") || n.ends_with("bias") => 0.1 * s,
                    _ => 1.0 + 0.25 * s, // batch norm weight
                }
            };
            let values: Vec<f32> = (0..n)
                .map(|i| {
                    let i = i as f64;
                    value((0.618 * (i * i) + 1.7 * k as f64 + 0.1 * seed).sin()) as f32
                })
                .collect();
            (name.clone(), DynTensor::from_floats(values, &shape, dev))
        })
        .collect()
}

impl ResNetCase {
    /// PyTorch's initial params and running statistics in duet's layout.
    fn init(&self, dev: &Device) -> (Params, Params) {
        let (p0, s0) = self
            .layer
            .init_model(&[1, 3, 32, 32], Key::new(0), dev)
            .unwrap();
        let torch = match self.fx.tensors_named("init.") {
            0 => formula_init(self, dev),
            _ => tree(&self.fx, "init.", &self.params, dev)
                .into_iter()
                .chain(tree(&self.fx, "init.", &self.buffers, dev))
                .collect(),
        };
        let p = from_torch(
            &torch.filter(|n| self.params.iter().any(|q| q.as_str() == n)),
            &p0,
            &self.kinds,
        );
        let s = from_torch(
            &torch.filter(|n| self.buffers.iter().any(|q| q.as_str() == n)),
            &s0,
            &self.kinds,
        );
        (p.unwrap(), s.unwrap())
    }

    fn check_state(&self, what: &str, state: &Params) {
        for n in &self.buffers {
            let got = state.get_dyn(n).unwrap().to_vec();
            let want = &self.fx.get(&format!("train.{n}")).f32s;
            assert_close(&format!("{what} {n}"), &got, want, 1e-4, 1e-6);
        }
    }

    /// Every gradient: in full where the fixture has it (`grad.`), else every `grad_stride`-th
    /// value with the norm and the sum (`grad_sample.`, `grad_norm.`, `grad_sum.`).
    fn check_grads(&self, what: &str, grads: &Params) {
        if self.fx.tensors_named("grad.") > 0 {
            return check_grads(what, grads, &self.kinds, &self.fx, &self.params);
        }
        let torch = to_torch(grads, &self.kinds);
        assert_eq!(torch.len(), self.params.len(), "{what}: gradient count");
        for n in &self.params {
            let g = torch.get_dyn(n).unwrap().to_vec();
            let stride = self.manifest["grad_stride"][n].as_u64().unwrap() as usize;
            let sample: Vec<f32> = g.iter().step_by(stride).copied().collect();
            let want = |k: &str| &self.fx.get(&format!("{k}.{n}")).f32s;
            assert_close(
                &format!("{what} grad {n}"),
                &sample,
                want("grad_sample"),
                1e-4,
                1e-6,
            );
            let norm = g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() as f32;
            let sum = g.iter().map(|v| *v as f64).sum::<f64>() as f32;
            assert_close(
                &format!("{what} |grad {n}|"),
                &[norm],
                want("grad_norm"),
                1e-4,
                1e-6,
            );
            // A sum can cancel to ~0 (the head's gradient sums to zero over the classes), so its
            // error is bounded by the elements' size: |sum of errors| <= eps * L1 <= eps * L2 * sqrt(n).
            let scale = norm as f64 * (g.len() as f64).sqrt();
            assert_close(
                &format!("{what} sum grad {n}"),
                &[sum],
                want("grad_sum"),
                1e-4,
                1e-5 * scale,
            );
        }
    }
}

/// Logits, loss and every gradient of a training-mode pass, the running statistics it leaves,
/// and evaluation with the initial statistics, in both APIs.
fn resnet_matches_pytorch(name: &str, spec: ResNetSpec) {
    let dev = Device::flex();
    let c = resnet_case(name, spec, &dev);
    let (p, s) = c.init(&dev);
    let fx = &c.fx;
    let train = || Mode::Train(Key::new(1));
    let (y, new_state) = c.layer.apply(&p, &s, c.x.clone().into(), train());
    let want = |k: &str| &fx.get(k).f32s;
    assert_close(
        "functional train logits",
        &y.to_vec(),
        want("train.logits"),
        1e-4,
        1e-5,
    );
    c.check_state("functional running", &new_state);
    let (loss, grads) = duet_core::value_and_grad(
        |p| {
            let (y, _) = c.layer.apply(p, &s, c.x.clone().into(), train());
            mean_ce(y.into_rank::<2>(), c.labels.clone())
        },
        &p,
    );
    assert_close(
        "functional loss",
        &vec_of(loss),
        want("train.loss"),
        1e-4,
        1e-6,
    );
    c.check_grads("functional", &grads);
    let (y, _) = c.layer.apply(&p, &s, c.x.clone().into(), Mode::Eval);
    assert_close(
        "functional eval logits",
        &y.to_vec(),
        want("eval.logits"),
        1e-4,
        1e-4,
    );

    // Module: the same params and state loaded into the module.
    let mut m = ModuleModel(ResNet::new(c.spec, 3, 10, &mut Rngs::new(0), &dev));
    m.load_params(&p).unwrap();
    m.load_state(&s).unwrap();
    let eval = m.0.forward(c.x.clone(), Mode::Eval);
    assert_close(
        "module eval logits",
        &vec_of(eval),
        want("eval.logits"),
        1e-4,
        1e-4,
    );
    let (loss, grads) = duet_module::value_and_grad(
        |net: &ResNet| mean_ce(net.forward(c.x.clone(), train()), c.labels.clone()),
        &m.0,
    );
    assert_close("module loss", &vec_of(loss), want("train.loss"), 1e-4, 1e-6);
    c.check_grads("module", &grads);
    // Training-mode passes ran inside the gradient: compare the statistics after a fresh load.
    m.load_state(&s).unwrap();
    let y = m.0.forward(c.x.clone(), train());
    assert_close(
        "module train logits",
        &vec_of(y),
        want("train.logits"),
        1e-4,
        1e-5,
    );
    c.check_state("module running", &m.state());
}

#[test]
fn resnet20_matches_pytorch_in_both_apis() {
    resnet_matches_pytorch("resnet20", RESNET20);
}

#[test]
fn resnet18_matches_pytorch_in_both_apis() {
    resnet_matches_pytorch("resnet18", RESNET18);
}

/// A checkpoint written from one API's ResNet after some training evaluates the same in the
/// other (eval mode: the running statistics travel in the `state` tree).
#[test]
fn a_resnet_checkpoint_evaluates_identically_in_the_other_api() {
    let dev = Device::flex();
    let c = resnet_case("resnet20", RESNET20, &dev);
    let (mut p, mut s) = c.init(&dev);
    for step in 0..2 {
        let mode = Mode::Train(Key::new(step));
        let (_, g) = duet_core::value_and_grad(
            |p| {
                let (y, _) = c.layer.apply(p, &s, c.x.clone().into(), mode);
                mean_ce(y.into_rank::<2>(), c.labels.clone())
            },
            &p,
        );
        let (_, next) = c.layer.apply(&p, &s, c.x.clone().into(), mode);
        p = p.zip_map(&g, |w, g| w - g * 0.1).unwrap();
        s = next;
    }
    let bytes = to_bytes(&[("params", &p), ("state", &s)], &Default::default());
    let ck = CheckpointFile::from_bytes("resnet.safetensors".into(), bytes).unwrap();
    let mut m = ModuleModel(ResNet::new(RESNET20, 3, 10, &mut Rngs::new(5), &dev));
    m.load_params(&ck.tree("params", &dev).unwrap()).unwrap();
    m.load_state(&ck.tree("state", &dev).unwrap()).unwrap();
    let (f, _) = c.layer.apply(&p, &s, c.x.clone().into(), Mode::Eval);
    let g = m.0.forward(c.x.clone(), Mode::Eval);
    assert_close(
        "eval logits across APIs",
        &vec_of(g),
        &f.to_vec(),
        1e-5,
        1e-5,
    );
    // And the run changed the model (a checkpoint of the initial one would prove nothing).
    let (p0, s0) = c.init(&dev);
    let (f0, _) = c.layer.apply(&p0, &s0, c.x.clone().into(), Mode::Eval);
    assert_ne!(f0.to_vec(), f.to_vec());
}

struct GptCase {
    fx: Fixture,
    cfg: GptConfig,
    params: Vec<String>,
    idx: Tensor<2, Int>,
    targets: Tensor<2, Int>,
    layer: Serial,
    kinds: Kinds,
}

fn gpt_case(dev: &Device) -> GptCase {
    let m = manifest("gpt");
    let h = &m["hyper"];
    let n = |k: &str| h[k].as_u64().unwrap() as usize;
    let cfg = GptConfig {
        vocab: n("vocab_size"),
        block_size: n("block_size"),
        layers: n("n_layer"),
        heads: n("n_head"),
        embd: n("n_embd"),
    };
    let fx = Fixture::open(format!("{DIR}/gpt.safetensors"));
    let layer = gpt(cfg);
    let kinds = duet_functional::torch_kinds(&layer, &[1, cfg.block_size]);
    GptCase {
        idx: fx.int("idx", dev),
        targets: fx.int("targets", dev),
        params: names(&m, "params"),
        fx,
        cfg,
        layer,
        kinds,
    }
}

impl GptCase {
    fn init(&self, dev: &Device) -> Params {
        let (p0, _) = self
            .layer
            .init_model(&[1, self.cfg.block_size], Key::new(0), dev)
            .unwrap();
        from_torch(
            &tree(&self.fx, "init.", &self.params, dev),
            &p0,
            &self.kinds,
        )
        .unwrap()
    }

    fn functional_logits(&self, p: &Params, idx: Tensor<2, Int>) -> Tensor<3> {
        let ids = DynTensor::from(idx.float());
        let (y, _) = self.layer.apply(p, &Params::new(), ids, Mode::Eval);
        y.into_rank::<3>()
    }

    fn module(&self, p: &Params, dev: &Device) -> Gpt {
        let mut m = ModuleModel(Gpt::new(self.cfg, &mut Rngs::new(0), dev));
        m.load_params(p).unwrap();
        m.0
    }

    fn loss(&self, logits: Tensor<3>) -> Tensor<1> {
        let [b, t, v] = logits.dims();
        mean_ce(
            logits.reshape([b * t, v]),
            self.targets.clone().reshape([b * t]),
        )
    }
}

#[test]
fn gpt_matches_pytorch_in_both_apis() {
    let dev = Device::flex();
    let c = gpt_case(&dev);
    let p = c.init(&dev);
    let fx = &c.fx;
    let y = c.functional_logits(&p, c.idx.clone());
    assert_close(
        "functional logits",
        &vec_of(y),
        &fx.get("logits").f32s,
        1e-4,
        1e-5,
    );
    let (loss, grads) =
        duet_core::value_and_grad(|p| c.loss(c.functional_logits(p, c.idx.clone())), &p);
    assert_close(
        "functional loss",
        &vec_of(loss),
        &fx.get("loss").f32s,
        1e-4,
        1e-6,
    );
    check_grads("functional", &grads, &c.kinds, fx, &c.params);

    let m = c.module(&p, &dev);
    let y = m.forward(c.idx.clone(), Mode::Eval);
    assert_close(
        "module logits",
        &vec_of(y),
        &fx.get("logits").f32s,
        1e-4,
        1e-5,
    );
    let (loss, grads) =
        duet_module::value_and_grad(|m: &Gpt| c.loss(m.forward(c.idx.clone(), Mode::Eval)), &m);
    assert_close(
        "module loss",
        &vec_of(loss),
        &fx.get("loss").f32s,
        1e-4,
        1e-6,
    );
    check_grads("module", &grads, &c.kinds, fx, &c.params);
}

/// A position's logits depend on the tokens up to it only: changing the last two tokens leaves
/// the first five positions' logits bitwise unchanged, and changes the last ones.
#[test]
fn the_gpt_is_causal_in_both_apis() {
    let dev = Device::flex();
    let c = gpt_case(&dev);
    let p = c.init(&dev);
    let [b, t] = c.idx.dims();
    let other = (c.idx.clone() + 3).remainder_scalar(c.cfg.vocab as i64);
    let changed = Tensor::cat(
        vec![c.idx.clone().slice([0..b, 0..5]), other.slice([0..b, 5..t])],
        1,
    );
    let m = c.module(&p, &dev);
    let runs: [(&str, Logits<'_>); 2] = [
        ("functional", &|i| c.functional_logits(&p, i)),
        ("module", &|i| m.forward(i, Mode::Eval)),
    ];
    for (api, run) in runs {
        let (a, z) = (run(c.idx.clone()), run(changed.clone()));
        let v = c.cfg.vocab;
        let head = |y: &Tensor<3>| vec_of(y.clone().slice([0..b, 0..5, 0..v]));
        let tail = |y: &Tensor<3>| vec_of(y.clone().slice([0..b, 5..t, 0..v]));
        assert_eq!(
            head(&a),
            head(&z),
            "{api}: earlier positions saw later tokens"
        );
        assert_ne!(
            tail(&a),
            tail(&z),
            "{api}: the changed tokens had no effect"
        );
    }
}
