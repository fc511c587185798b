//! The forward-mode golden driver: a `jvp.<case>` of `transforms.*` (PyTorch's `torch.func.jvp`
//! of the layers case of the same name) through the case's config on [`Dual`] values.

use crate::fixture::{assert_close, case_tolerance_scale, Fixture};
use crate::manifest::Case;
use duet_core::burn::tensor::Device;
use duet_core::checkpoint::torch::{layout, Layout};
use duet_core::layers::{Ctx, Dual, LayerConfig, ParamTree};
use duet_core::{DynTensor, Key, Mode};
use std::collections::BTreeMap;

/// A fixture tensor in duet's layout (a scalar as `[1]`).
fn leaf(fx: &Fixture, name: &str, l: Layout, dev: &Device) -> DynTensor {
    let s = fx.get(name);
    let shape = if s.shape.is_empty() {
        vec![1]
    } else {
        s.shape.clone()
    };
    let t = DynTensor::from_floats(s.f32s.clone(), &shape, dev);
    match l {
        Layout::Same => t,
        Layout::Transpose => t.into_rank::<2>().transpose().into(),
    }
}

/// Runs `c` on the case's primals with their tangents (`t_<name>`; none for the others) and
/// compares the output and its tangent with PyTorch's `output` and `jvp_output`, at 1e-4
/// relative (float32 through two passes of rounding).
///
/// # Panics
/// A mismatch, naming the case.
pub fn jvp_case<C: LayerConfig>(c: &C, case: &Case, fx: &Fixture, dev: &Device) {
    let name = &case.name;
    let get = |n: &str, l: Layout| leaf(fx, &format!("{name}.{n}"), l, dev);
    let tangent = |n: &str, l: Layout| {
        case.tensors
            .contains_key(&format!("t_{n}"))
            .then(|| get(&format!("t_{n}"), l))
    };
    let x_name = &case.inputs[0];
    let x = Dual {
        value: get(x_name, Layout::Same),
        tangent: tangent(x_name, Layout::Same),
    };
    let d_in = c
        .input_size(&x.value.dims())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (_, mut state) = c.init(d_in, Key::new(0), dev);
    let mut leaves = BTreeMap::new();
    for p in &case.params {
        if p.starts_with("running_") {
            state.insert(p, get(p, Layout::Same));
            continue;
        }
        let l = layout(&case.kind, p);
        leaves.insert(
            p.clone(),
            Dual {
                value: get(p, l),
                tangent: tangent(p, l),
            },
        );
    }
    let params = C::Params::<Dual<DynTensor>>::read(&mut |n| leaves.get(n).cloned())
        .unwrap_or_else(|e| panic!("{name}: missing param {e:?}"));
    let mode = if case.hyper.train() {
        Mode::Train(Key::new(0))
    } else {
        Mode::Eval
    };
    let y = c.apply(
        &params,
        x,
        &mut Ctx {
            mode,
            state: &mut state,
        },
    );
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
