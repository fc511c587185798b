//! Nested forward mode against PyTorch's `torch.func` (fixtures/transforms.*): a PINN's u_x and
//! u_xx with respect to its input (forward over forward, `Dual<Dual<_>>` through the layer
//! configs) and the gradient of its residual loss with respect to the params (reverse over
//! forward over forward), a small MLP's Hessian and input Jacobian, second-order MAML, LeNet's
//! per-example gradients, and the jvp of the layer cases whose functional layer differs from the
//! case (the LSTM/GRU cells, packed attention) through their core functions. At 1e-4 relative on the
//! CPU, on the test device (`DUET_TEST_DEVICE`; CI runs them on wgpu too, at 20x that).
//! The other layer jvps and LeNet's Hessian-vector product run through the functional API
//! (`layers-functional/tests/transforms.rs`).

use duet_core::burn::tensor::Device;
use duet_core::layers::{Ctx, DenseConfig, DenseParams, Dual, LayerConfig};
use duet_core::{value_and_grad, Act, DynTensor, Mode, Params, Val};
use duet_testing::{assert_close, cases, Fixture};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
fn fixture() -> Fixture {
    Fixture::open(format!("{DIR}/transforms.safetensors"))
}

fn transpose(x: DynTensor) -> DynTensor {
    x.into_rank::<2>().transpose().into()
}

fn dense<V: Val>(p: &Params, name: &str, x: V, lift: &impl Fn(&str) -> V) -> V {
    let _ = p;
    let params = DenseParams {
        weight: lift(&format!("{name}.weight")),
        bias: Some(lift(&format!("{name}.bias"))),
    };
    let units = params.weight.dims()[1];
    DenseConfig::new(units).apply(
        &params,
        x,
        &mut Ctx {
            mode: Mode::Eval,
            state: &mut Params::new(),
        },
    )
}

/// The PINN's MLP on any value type: Linear(1,16), tanh, Linear(16,16), tanh, Linear(16,1).
fn pinn_net<V: Val>(p: &Params, x: V, lift: &impl Fn(&str) -> V) -> V {
    let h = dense(p, "0", x, lift).act(Act::Tanh);
    let h = dense(p, "2", h, lift).act(Act::Tanh);
    dense(p, "4", h, lift)
}

/// Params in duet's layout (linear weights `[in, out]`) from PyTorch's names.
fn duet_tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    let mut p = Params::new();
    for n in names {
        let v = fx.tensor(&format!("{prefix}{n}"), dev);
        let linear = n.ends_with("weight") && v.rank() == 2;
        p.insert(n.as_str(), if linear { transpose(v) } else { v });
    }
    p
}

fn manifest_params(case: &str) -> Vec<String> {
    let all = cases(DIR, "transforms");
    all.into_iter()
        .find(|c| c.name == case)
        .expect("the case")
        .params
}

#[test]
fn a_pinns_input_derivatives_and_residual_gradient_match_torch_func() {
    let (fx, dev) = (fixture(), duet_testing::test_device());
    let tol = duet_testing::tolerance_scale(&dev);
    let names = manifest_params("pinn");
    let params = duet_tree(&fx, "pinn.", &names, &dev);
    let x = fx.tensor("pinn.x", &dev);
    let ones = DynTensor::from_floats(vec![1.0; x.num_elements()], &x.dims(), &dev);
    // Forward over forward: x + e1 + e2, both directions along the input.
    let seed =
        |x: DynTensor| Dual::new(Dual::new(x, ones.clone()), Dual::zero_tangent(ones.clone()));
    fn lift(p: &Params) -> impl Fn(&str) -> Dual<Dual<DynTensor>> + '_ {
        move |n| Dual::zero_tangent(Dual::zero_tangent(p.get_dyn(n).unwrap().clone()))
    }
    let y = pinn_net(&params, seed(x.clone()), &lift(&params));
    let (u, u_x, u_xx) = (
        y.value.value,
        y.value.tangent.unwrap(),
        y.tangent.unwrap().tangent.unwrap(),
    );
    let want = |k: &str| fx.get(&format!("pinn.{k}")).f32s.clone();
    assert_close("pinn: u", &u.to_vec(), &want("u"), 1e-4 * tol, 1e-6 * tol);
    assert_close(
        "pinn: u_x",
        &u_x.to_vec(),
        &want("u_x"),
        1e-4 * tol,
        1e-6 * tol,
    );
    assert_close(
        "pinn: u_xx",
        &u_xx.to_vec(),
        &want("u_xx"),
        1e-4 * tol,
        1e-6 * tol,
    );
    // Reverse over both: d/dtheta mean((u_xx + sin(pi x))^2).
    let source = x.clone().map_flat(|v| (v * std::f64::consts::PI).sin());
    let (loss, grads) = value_and_grad(
        |p| {
            let y = pinn_net(p, seed(x.clone()), &lift(p));
            let u_xx = y.tangent.unwrap().tangent.unwrap();
            let r = u_xx.add(source.clone());
            r.square().mean_dim(0).reshape(&[1]).into_rank::<1>()
        },
        &params,
    );
    assert_close(
        "pinn: loss",
        &DynTensor::from(loss).to_vec(),
        &want("loss"),
        1e-4 * tol,
        1e-7 * tol,
    );
    for n in &names {
        let g = grads.get_dyn(n).unwrap().clone();
        let g = if g.rank() == 2 { transpose(g) } else { g };
        assert_close(
            &format!("pinn: grad {n}"),
            &g.to_vec(),
            &want(&format!("pinn_grad.{n}")),
            1e-4 * tol,
            1e-6 * tol,
        );
    }
}

/// The MLP of `mlp_hessian`: Linear(5,8), tanh, Linear(8,3).
fn small_mlp<V: Val>(x: V, lift: &impl Fn(&str) -> V) -> V {
    let p = Params::new();
    dense(&p, "2", dense(&p, "0", x, lift).act(Act::Tanh), lift)
}

/// For each PyTorch flat index of `names` (row-major, `[out, in]` dense weights), the flat index
/// of the same element in duet's layout (`[in, out]`), over the concatenated tree.
fn torch_to_duet_index(fx: &Fixture, prefix: &str, names: &[String]) -> Vec<usize> {
    let mut perm = Vec::new();
    let mut offset = 0;
    for n in names {
        let shape = &fx.get(&format!("{prefix}{n}")).shape;
        match shape[..] {
            [o, i] => {
                for a in 0..o {
                    for b in 0..i {
                        perm.push(offset + b * o + a);
                    }
                }
            }
            _ => perm.extend(offset..offset + shape.iter().product::<usize>()),
        }
        offset += shape.iter().product::<usize>();
    }
    perm
}

#[test]
fn a_small_mlps_hessian_and_input_jacobian_match_torch_func() {
    use duet_core::transform::{hessian, jacfwd, jacrev};
    let (fx, dev) = (fixture(), duet_testing::test_device());
    let tol = duet_testing::tolerance_scale(&dev);
    let names = manifest_params("mlp_hessian");
    let params = duet_tree(&fx, "mlp_hessian.", &names, &dev);
    let x = fx.tensor("mlp_hessian.x", &dev);
    let labels = fx.int::<1>("mlp_hessian.labels", &dev);
    let loss = |p: &duet_core::transform::DualParams| {
        let logits = small_mlp(Dual::zero_tangent(x.clone()), &|n| p.get(n).unwrap());
        duet_core::layers::cross_entropy(logits, labels.clone(), &Default::default())
    };
    let h = hessian(loss, &params).to_vec();
    let n = 75;
    assert_eq!(h.len(), n * n);
    let perm = torch_to_duet_index(&fx, "mlp_hessian.", &names);
    let in_torch_order: Vec<f32> = (0..n)
        .flat_map(|r| perm.iter().map(move |&c| (r, c)))
        .map(|(r, c)| h[perm[r] * n + c])
        .collect();
    let want = fx.get("mlp_hessian.hessian").f32s.clone();
    assert_close(
        "mlp: hessian",
        &in_torch_order,
        &want,
        1e-4 * tol,
        1e-6 * tol,
    );
    // The Hessian is symmetric, and not trivially so.
    assert!((0..n).all(|r| (0..n).all(|c| (h[r * n + c] - h[c * n + r]).abs() < 1e-5 * tol as f32)));
    // d logits[0] / d x[0], both ways.
    let x0 = x.clone().narrow(0, 0, 1);
    let fwd = jacfwd(
        |x| {
            small_mlp(x, &|n| {
                Dual::zero_tangent(params.get_dyn(n).unwrap().clone())
            })
        },
        &x0,
    );
    let rev = jacrev(
        |x| small_mlp(x, &|n| params.get_dyn(n).unwrap().clone()),
        &x0,
    );
    let want = fx.get("mlp_hessian.jacobian").f32s.clone();
    assert_eq!(fwd.dims(), vec![3, 5]);
    assert_close("mlp: jacfwd", &fwd.to_vec(), &want, 1e-4 * tol, 1e-6 * tol);
    assert_close("mlp: jacrev", &rev.to_vec(), &want, 1e-4 * tol, 1e-6 * tol);
}

/// The MAML sinusoid regressor: Linear(1,40), relu, Linear(40,40), relu, Linear(40,1).
fn sine_net<V: Val>(x: V, lift: &impl Fn(&str) -> V) -> V {
    let p = Params::new();
    let h = dense(&p, "0", x, lift).act(Act::Relu);
    let h = dense(&p, "2", h, lift).act(Act::Relu);
    dense(&p, "4", h, lift)
}

#[test]
fn second_order_maml_matches_torch_func_and_differs_from_first_order() {
    use duet_core::layers::mse;
    use duet_core::transform::hvp;
    let (fx, dev) = (fixture(), duet_testing::test_device());
    let tol = duet_testing::tolerance_scale(&dev);
    let names = manifest_params("maml");
    let theta0 = duet_tree(&fx, "maml.init.", &names, &dev);
    let get = |k: &str| fx.tensor(&format!("maml.{k}"), &dev);
    let (sx, sy, qx, qy) = (
        get("support_x"),
        get("support_y"),
        get("query_x"),
        get("query_y"),
    );
    let alpha = 0.01;
    // Plain loss and gradient on a split.
    let loss_grad = |p: &Params, x: &DynTensor, y: &DynTensor| {
        value_and_grad(
            |p| {
                mse(
                    sine_net(x.clone(), &|n| p.get_dyn(n).unwrap().clone()),
                    y.clone(),
                )
                .into_rank::<1>()
            },
            p,
        )
    };
    // The inner loop: two SGD steps on the support set.
    let mut thetas = vec![theta0.clone()];
    let mut support_losses = Vec::new();
    for _ in 0..2 {
        let (l, g) = loss_grad(thetas.last().unwrap(), &sx, &sy);
        support_losses.push(l.into_scalar::<f32>());
        let next = thetas
            .last()
            .unwrap()
            .zip_map(&g, |p, g| p - g * alpha as f32)
            .unwrap();
        thetas.push(next);
    }
    let (l, _) = loss_grad(&thetas[2], &sx, &sy);
    support_losses.push(l.into_scalar::<f32>());
    let (meta_loss, fomaml) = loss_grad(&thetas[2], &qx, &qy);
    // Second order: u = grad L_q(theta_2); u <- u - alpha H_s(theta_k) u, for k = 1, 0.
    let mut u = fomaml.clone();
    for k in [1, 0] {
        let support = |p: &duet_core::transform::DualParams| {
            mse(
                sine_net(Dual::zero_tangent(sx.clone()), &|n| p.get(n).unwrap()),
                Dual::zero_tangent(sy.clone()),
            )
        };
        let (_, hu) = hvp(support, &thetas[k], &u);
        u = u.zip_map(&hu, |u, hu| u - hu * alpha as f32).unwrap();
    }
    let want = |k: &str| fx.get(&format!("maml.{k}")).f32s.clone();
    assert_close(
        "maml: support_losses",
        &support_losses,
        &want("support_losses"),
        1e-4 * tol,
        1e-6 * tol,
    );
    assert_close(
        "maml: meta_loss",
        &DynTensor::from(meta_loss).to_vec(),
        &want("meta_loss"),
        1e-4 * tol,
        1e-6 * tol,
    );
    let mut diff = 0.0f32;
    for n in &names {
        let back = |t: &Params| {
            let g = t.get_dyn(n).unwrap().clone();
            if g.rank() == 2 { transpose(g) } else { g }.to_vec()
        };
        assert_close(
            &format!("maml: adapted {n}"),
            &back(&thetas[2]),
            &want(&format!("adapted.{n}")),
            1e-4 * tol,
            1e-6 * tol,
        );
        assert_close(
            &format!("maml: fomaml_grad {n}"),
            &back(&fomaml),
            &want(&format!("fomaml_grad.{n}")),
            1e-4 * tol,
            1e-6 * tol,
        );
        assert_close(
            &format!("maml: meta_grad {n}"),
            &back(&u),
            &want(&format!("meta_grad.{n}")),
            1e-4 * tol,
            1e-6 * tol,
        );
        diff += back(&u)
            .iter()
            .zip(back(&fomaml))
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>();
    }
    assert!(diff > 1e-3, "the second-order terms matter in this task");
}

/// LeNet on any value type: the layer configs of `duet_functional`'s LeNet, one by one.
fn lenet<V: Val>(x: V, lift: &impl Fn(&str) -> V) -> V {
    use duet_core::layers::{Conv2dConfig, ConvParams, MaxPool2dConfig, NoParams};
    let conv = |name: &str, filters: usize, x: V| {
        let p = ConvParams {
            weight: lift(&format!("{name}.weight")),
            bias: Some(lift(&format!("{name}.bias"))),
        };
        Conv2dConfig::new(filters, 5).apply(
            &p,
            x,
            &mut Ctx {
                mode: Mode::Eval,
                state: &mut Params::new(),
            },
        )
    };
    let pool = |x: V| {
        MaxPool2dConfig::new(2).apply(
            &NoParams,
            x,
            &mut Ctx {
                mode: Mode::Eval,
                state: &mut Params::new(),
            },
        )
    };
    let h = pool(conv("conv1", 6, x).act(Act::Relu));
    let h = pool(conv("conv2", 16, h).act(Act::Relu));
    let n = h.dims()[0];
    let p = Params::new();
    let h = dense(&p, "fc1", h.reshape(&[n, 400]), lift).act(Act::Relu);
    let h = dense(&p, "fc2", h, lift).act(Act::Relu);
    dense(&p, "fc3", h, lift)
}

#[test]
fn lenets_per_example_gradients_match_torch_func_in_one_backward_pass() {
    use duet_core::layers::PerExample;
    use duet_core::transform::per_example_grads;
    // On the test device: `flex` runs duet's per-example kernels, wgpu (CI) burn's weight
    // gradient with the batch folded into groups and a broadcast product.
    let (fx, dev) = (fixture(), duet_testing::test_device());
    let lenet_fx = Fixture::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/tests/fixtures/lenet.safetensors"
    ));
    let names = manifest_params("lenet");
    let params = duet_tree(&lenet_fx, "init.", &names, &dev);
    let x = lenet_fx.tensor("x", &dev);
    let labels = lenet_fx.int::<1>("labels", &dev);
    let b = x.dims()[0];
    // Each example's own cross-entropy: -log softmax(logits_i)[y_i].
    let (total, grads) = per_example_grads(
        |p| {
            lenet(PerExample::plain(x.clone()), &|n| p.get(n).unwrap())
                .act(Act::LogSoftmax)
                .pick(labels.clone())
                .scale(-1.0)
        },
        &params,
        b,
    );
    duet_testing::assert_lenet_per_example("lenet", &fx, &names, (total, &grads), &dev);
}

#[test]
fn the_jvp_of_the_recurrent_cells_and_packed_attention_matches_torch_func() {
    use duet_core::layers::{
        gru_cell, lstm_cell, AttentionParams, MultiHeadAttentionConfig, RnnParams,
    };
    use duet_core::ops::AttentionMask;
    let (fx, dev) = (fixture(), duet_testing::test_device());
    let tol = duet_testing::tolerance_scale(&dev);
    // A primal with its tangent from case `c`; `f` maps both (PyTorch's layout to duet's).
    let dual = |c: &str, n: &str, f: &dyn Fn(DynTensor) -> DynTensor| Dual {
        value: f(fx.tensor(&format!("{c}.{n}"), &dev)),
        tangent: Some(f(fx.tensor(&format!("{c}.t_{n}"), &dev))),
    };
    let same = |x: DynTensor| x;
    let check = |c: &str, y: Dual<DynTensor>| {
        let want = |k: &str| fx.get(&format!("{c}.{k}")).f32s.clone();
        assert_close(
            &format!("{c}: output"),
            &y.value.to_vec(),
            &want("output"),
            1e-4 * tol,
            1e-6 * tol,
        );
        assert_close(
            &format!("{c}: jvp_output"),
            &y.tangent_or_zeros().to_vec(),
            &want("jvp_output"),
            1e-4 * tol,
            1e-6 * tol,
        );
    };
    let rnn = |c: &str| RnnParams {
        weight_ih: dual(c, "weight_ih", &transpose),
        weight_hh: dual(c, "weight_hh", &transpose),
        bias_ih: Some(dual(c, "bias_ih", &same)),
        bias_hh: Some(dual(c, "bias_hh", &same)),
    };
    let c = "jvp.lstm_cell";
    let (h, cell) = lstm_cell(
        dual(c, "x", &same),
        dual(c, "h", &same),
        dual(c, "c", &same),
        &rnn(c),
    );
    check(c, Val::cat(vec![h, cell], 1));
    let c = "jvp.gru_cell";
    check(
        c,
        gru_cell(dual(c, "x", &same), dual(c, "h", &same), &rnn(c)),
    );
    // PyTorch packs the q, k, v projections as rows of one [3E, E] weight.
    let c = "jvp.multi_head_attention";
    let e = fx.get(&format!("{c}.out_proj_weight")).shape[0];
    let part = |i: usize| {
        move |w: DynTensor| -> DynTensor {
            match w.rank() {
                2 => transpose(Val::narrow(w, 0, i * e, e)),
                _ => Val::narrow(w, 0, i * e, e),
            }
        }
    };
    let proj = |i: usize| DenseParams {
        weight: dual(c, "in_proj_weight", &part(i)),
        bias: Some(dual(c, "in_proj_bias", &part(i))),
    };
    let p = AttentionParams {
        q_proj: proj(0),
        k_proj: proj(1),
        v_proj: proj(2),
        out_proj: DenseParams {
            weight: dual(c, "out_proj_weight", &transpose),
            bias: Some(dual(c, "out_proj_bias", &same)),
        },
    };
    let case = cases(DIR, "transforms")
        .into_iter()
        .find(|k| k.name == c)
        .expect("the case");
    let heads = case.hyper.usize("heads");
    let y = MultiHeadAttentionConfig::new(heads).attend(
        &p,
        dual(c, "q", &same),
        dual(c, "k", &same),
        dual(c, "v", &same),
        &AttentionMask::default(),
    );
    check(c, y);
}
