//! The forward-mode golden driver: a `jvp.<case>` of `transforms.*` (PyTorch's `torch.func.jvp`
//! of the layers case of the same name) through the functional layer's
//! [`forward_jvp`](duet_functional::Layer::forward_jvp) or the module's
//! [`forward_val`](duet_module::ValForward::forward_val) on `Dual` values.

use crate::catalog::UnderTest;
use crate::fixture::{assert_close, case_tolerance_scale, Fixture};
use crate::manifest::Case;
use crate::run::{leaf, Api};
use duet_core::burn::tensor::Device;
use duet_core::checkpoint::torch::{layout, Layout};
use duet_core::layers::Dual;
use duet_core::transform::DualParams;
use duet_core::{load_module_params, load_module_state, DynTensor, Key, Mode, Params};
use duet_module::ValForward;

/// Runs `ut` in `api` on the case's primals with their tangents (`t_<name>`; none for integer
/// inputs and constants) and compares the output and its tangent with PyTorch's `output` and
/// `jvp_output`, at 1e-4 relative (two passes of float32 rounding). Returns `false` when `api`
/// has no form of this layer.
///
/// # Panics
/// A mismatch or an unsupported layer, naming the case.
pub fn jvp_case(ut: &UnderTest, api: Api, case: &Case, fx: &Fixture, dev: &Device) -> bool {
    let name = &case.name;
    let get = |n: &str, l: Layout| leaf(fx, &format!("{name}.{n}"), l, dev);
    let tangent = |n: &str, l: Layout| {
        let key = format!("t_{n}");
        case.tensors.contains_key(&key).then(|| get(&key, l))
    };
    let inputs: Vec<Dual<DynTensor>> = case
        .inputs
        .iter()
        .map(|i| Dual {
            value: get(i, Layout::Same),
            tangent: tangent(i, Layout::Same),
        })
        .collect();
    let (mut primal, mut tangents, mut stats) = (Params::new(), Params::new(), Params::new());
    for p in &case.params {
        let l = layout(&case.kind, p);
        if p.starts_with("running_") {
            stats.insert(p, get(p, l));
            continue;
        }
        primal.insert(p, get(p, l));
        if let Some(t) = tangent(p, l) {
            tangents.insert(p, t);
        }
    }
    let mode = if case.hyper.train() {
        Mode::Train(Key::new(0))
    } else {
        Mode::Eval
    };
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|x| x.value.dims()).collect();
    let y = match api {
        Api::Functional => {
            let layer = ut.functional.as_ref();
            let init = layer
                .init(&shapes, Key::new(0), dev)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut state = init.state;
            state.extend(stats);
            let params = DualParams::new(primal, tangents);
            let (mut ys, _) = layer
                .forward_jvp(&params, &state, inputs, mode)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            ys.remove(0)
        }
        Api::Module => {
            let Some(build) = &ut.module else {
                return false;
            };
            let m = build(&shapes[0], dev);
            let m = load_module_params(m, &primal).unwrap_or_else(|e| panic!("{name}: {e}"));
            let m = if stats.is_empty() {
                m
            } else {
                load_module_state(m, &stats).expect("running statistics")
            };
            let lift = |n: &str| Dual {
                value: primal.get_dyn(n).expect("a param").clone(),
                tangent: tangents.get_dyn(n).ok().cloned(),
            };
            m.forward_val(&lift, inputs.into_iter().next().expect("one input"), mode)
        }
    };
    let k = case_tolerance_scale(dev, case.hyper.str("function"));
    let (rel, abs) = (1e-4 * k, 1e-5 * k);
    let what = |n: &str| format!("{name} ({api:?}): {n}");
    let want = |n: &str| &fx.get(&format!("{name}.{n}")).f32s;
    assert_close(&what("output"), &y.value.to_vec(), want("output"), rel, abs);
    let t = y.tangent_or_zeros().to_vec();
    assert_close(&what("jvp_output"), &t, want("jvp_output"), rel, abs);
    true
}
