//! Combinators against hand-computed values, stack accounting, paths and build errors.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Fans, Initializer, Key, Params};
use duet_functional::*;

/// A test layer with one weight: `y = x * w` (w has the input's last dimension).
struct Scale;

impl Layer for Scale {
    fn name(&self) -> String {
        "Scale".into()
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        if inputs.len() != 1 || inputs[0].is_empty() {
            return Err(BuildError::new(self, format!("bad inputs {inputs:?}")));
        }
        Ok(inputs.to_vec())
    }
    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let n = *inputs[0].last().unwrap();
        let w = Initializer::Uniform {
            low: 0.0,
            high: 1.0,
        }
        .init([n], Fans::infer(&[n]), key, device);
        Ok(Init {
            params: Params::new().with("w", w),
            state: Params::new(),
        })
    }
    fn forward(
        &self,
        p: &Params,
        s: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let w = p.get::<1>("w").unwrap();
        let x = x[0].clone().into_rank::<1>();
        (vec![(x * w).into()], s.clone())
    }
}

fn v(values: &[f32]) -> DynTensor {
    DynTensor::from_floats(values.to_vec(), &[values.len()], &Device::flex())
}

fn none() -> Params {
    Params::new()
}

#[test]
fn serial_stack_accounting_matches_trax() {
    // Dup then Add: n_in 1, n_out 1; x -> 2x.
    let m = serial![Dup, Add];
    assert_eq!((m.n_in(), m.n_out()), (1, 1));
    let (y, _) = m.forward(&none(), &none(), vec![v(&[1.0, 2.0])], Mode::Eval);
    assert_eq!(y[0].to_vec(), vec![2.0, 4.0]);
    // Add alone reads two; Serial[Add, Add] reads three.
    let m = serial![Add, Add];
    assert_eq!((m.n_in(), m.n_out()), (3, 1));
    let (y, _) = m.forward(
        &none(),
        &none(),
        vec![v(&[1.0]), v(&[2.0]), v(&[4.0])],
        Mode::Eval,
    );
    assert_eq!(y[0].to_vec(), vec![7.0]);
    // Swap then Select keeps the rest of the stack below.
    let m = serial![Swap, Drop];
    assert_eq!((m.n_in(), m.n_out()), (2, 1));
    let (y, _) = m.forward(&none(), &none(), vec![v(&[1.0]), v(&[2.0])], Mode::Eval);
    assert_eq!(y[0].to_vec(), vec![1.0]);
}

#[test]
fn select_concatenate_multiply() {
    let m = serial![
        Select::new(vec![0, 1, 0], 2),
        Concatenate::new(2, 0),
        Fn::new("Id", |x: Vec<DynTensor>| x)
    ];
    let (y, _) = m.forward(&none(), &none(), vec![v(&[1.0]), v(&[2.0])], Mode::Eval);
    assert_eq!(y.len(), 2);
    assert_eq!(y[0].to_vec(), vec![1.0, 2.0]);
    assert_eq!(y[1].to_vec(), vec![1.0]);
    let (y, _) = Multiply.forward(
        &none(),
        &none(),
        vec![v(&[2.0, 3.0]), v(&[4.0, 5.0])],
        Mode::Eval,
    );
    assert_eq!(y[0].to_vec(), vec![8.0, 15.0]);
}

#[test]
fn params_get_dotted_paths_and_names() {
    let dev = Device::flex();
    let m = serial![
        "features" => serial![Scale, Fn::new("Relu", |x: Vec<DynTensor>| x), Scale],
        "head" => Residual::new(serial![Scale]).with_shortcut(Scale),
        Branch::new(vec![Box::new(Scale), Box::new(Scale)]),
        Add
    ];
    let (p, _) = m.init_model(&[3], Key::new(0), &dev).unwrap();
    assert_eq!(
        p.paths(),
        vec![
            "features.0.w",
            "features.2.w",
            "head.main.0.w",
            "head.shortcut.w",
            "2.0.w",
            "2.1.w"
        ]
    );
}

#[test]
fn init_is_deterministic_per_key_and_children_differ() {
    let dev = Device::flex();
    let m = serial![Scale, Scale];
    let (a, _) = m.init_model(&[4], Key::new(1), &dev).unwrap();
    let (b, _) = m.init_model(&[4], Key::new(1), &dev).unwrap();
    let (c, _) = m.init_model(&[4], Key::new(2), &dev).unwrap();
    let get = |p: &Params, k: &str| p.get_dyn(k).unwrap().to_vec();
    assert_eq!(get(&a, "0.w"), get(&b, "0.w"));
    assert_ne!(get(&a, "0.w"), get(&c, "0.w"));
    assert_ne!(get(&a, "0.w"), get(&a, "1.w"));
}

#[test]
fn residual_and_branch_values() {
    let dev = Device::flex();
    let r = Residual::new(serial![Scale]);
    let (p, s) = r.init_model(&[2], Key::new(0), &dev).unwrap();
    let w = p.get_dyn("main.0.w").unwrap().to_vec();
    let (y, _) = r.apply(&p, &s, v(&[1.0, 2.0]), Mode::Eval);
    let want: Vec<f32> = vec![1.0 * w[0] + 1.0, 2.0 * w[1] + 2.0];
    assert_eq!(y.to_vec(), want);
    let p2 = Params::new()
        .with("0.w", Tensor::<1>::from_floats([2.0], &dev))
        .with("1.w", Tensor::<1>::from_floats([3.0], &dev));
    let b = Parallel::new(vec![Box::new(Scale), Box::new(Scale)]);
    let (ys, _) = b.forward(&p2, &none(), vec![v(&[1.0]), v(&[1.0])], Mode::Eval);
    assert_eq!((ys[0].to_vec(), ys[1].to_vec()), (vec![2.0], vec![3.0]));
}

#[test]
fn miswired_models_fail_at_init_naming_the_path() {
    let dev = Device::flex();
    // Add needs two inputs of the same shape: Branch gives [3] and [4].
    let pad = Fn::new("Pad", |x: Vec<DynTensor>| {
        vec![DynTensor::cat(
            vec![x[0].clone(), x[0].clone().flatten().slice(0..1).into()],
            0,
        )]
    });
    let m = serial!["block" => serial![Branch::new(vec![Box::new(Scale), Box::new(pad)]), Add]];
    let e = m.init_model(&[3], Key::new(0), &dev).unwrap_err();
    assert_eq!(e.path, "block.1");
    assert_eq!(e.layer, "Add");
    assert!(
        e.to_string()
            .contains("`block.1` (Add): shapes differ: [3] vs [4]"),
        "{e}"
    );
    // A Fn that panics on its inputs is reported at its path, not at run time.
    let bad = Fn::new("Boom", |x: Vec<DynTensor>| {
        vec![x[0].clone().into_rank::<2>().into()]
    });
    let m = serial![Scale, "boom" => bad];
    let e = m.init_model(&[3], Key::new(0), &dev).unwrap_err();
    assert_eq!((e.path.as_str(), e.layer.as_str()), ("boom", "Boom"));
    // Wrong number of inputs for the whole model.
    let e = serial![Add]
        .init_model(&[3], Key::new(0), &dev)
        .unwrap_err();
    assert!(e.message.contains("takes 2 input(s), got 1"), "{e}");
}

#[test]
fn summary_lists_paths_shapes_and_counts() {
    let m = serial!["a" => Scale, "b" => serial![Scale, Dup, Add]];
    let t = summary(&m, &[vec![5]]).unwrap();
    // The row of a path, as its whitespace-separated cells (`contains("a")` held for any table).
    let row = |path: &str| -> Vec<&str> {
        t.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cells| cells.first() == Some(&path))
            .unwrap_or_else(|| panic!("no row `{path}` in\n{t}"))
    };
    assert_eq!(row("a"), ["a", "Scale", "[5]", "5"], "{t}");
    assert_eq!(row("b.0"), ["b.0", "Scale", "[5]", "5"], "{t}");
    assert_eq!(row("b.2"), ["b.2", "Add", "[5]", "0"], "{t}");
    assert_eq!(row("<model>")[3..], ["10"], "{t}");
    assert!(t.contains("trainable params: 10 in 2 tensors"), "{t}");
}
