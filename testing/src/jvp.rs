//! The forward-mode golden driver: a `jvp.<case>` of `transforms.*` (PyTorch's `torch.func.jvp`
//! of the layers case of the same name) through the functional layer's
//! [`forward_jvp`](duet_functional::Layer::forward_jvp).

use crate::fixture::{assert_close, case_tolerance_scale, Fixture};
use crate::manifest::Case;
use crate::run::leaf;
use duet_core::burn::tensor::Device;
use duet_core::checkpoint::torch::{layout, Layout};
use duet_core::layers::Dual;
use duet_core::transform::DualParams;
use duet_core::{DynTensor, Key, Mode, Params};
use duet_functional::Layer;

/// Runs `layer` on the case's primals with their tangents (`t_<name>`; none for integer inputs
/// and constants) and compares the output and its tangent with PyTorch's `output` and
/// `jvp_output`, at 1e-4 relative (two passes of float32 rounding).
///
/// # Panics
/// A mismatch or an unsupported layer, naming the case.
pub fn jvp_case(layer: &dyn Layer, case: &Case, fx: &Fixture, dev: &Device) {
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
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|x| x.value.dims()).collect();
    let init = layer
        .init(&shapes, Key::new(0), dev)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (mut primal, mut tangents, mut state) = (Params::new(), Params::new(), init.state);
    for p in &case.params {
        let l = layout(&case.kind, p);
        if p.starts_with("running_") {
            state.insert(p, get(p, l));
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
    let params = DualParams::new(primal, tangents);
    let (mut ys, _) = layer
        .forward_jvp(&params, &state, inputs, mode)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let y = ys.remove(0);
    let k = case_tolerance_scale(dev, case.hyper.str("function"));
    let (rel, abs) = (1e-4 * k, 1e-5 * k);
    let want = |n: &str| &fx.get(&format!("{name}.{n}")).f32s;
    assert_close(
        &format!("{name}: output"),
        &y.value.to_vec(),
        want("output"),
        rel,
        abs,
    );
    let t = y.tangent_or_zeros().to_vec();
    assert_close(
        &format!("{name}: jvp_output"),
        &t,
        want("jvp_output"),
        rel,
        abs,
    );
}
