//! Bayesian linear regression by stochastic variational inference, against the exact posterior.
//!
//! Model: `w ~ N(0, α⁻¹ I₃)`, `yᵢ ~ N(xᵢ · w, σ²)` for 20 points with correlated features
//! (`x = z Mᵀ`, `z ~ N(0, I)`), α = 1, σ = 0.5 (the `bayes_linreg` case of duet-prob's golden
//! tests). The posterior is Gaussian with precision `P = α I + XᵀX / σ²`. An AutoNormal
//! (mean-field) guide cannot represent its correlations: the best it can do is the exact means
//! with variances `1 / P_ii`, smaller than the posterior's `(P⁻¹)_ii`. SVI should land there.
//!
//!     cargo run --release -p duet-examples --example bayes_regression [-- --steps 3000 --seed 0]

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use duet_optim::{adam, Adam, Cosine};
use duet_prob::{AutoNormal, Ctx, Elbo, Independent, Normal, Result, Svi};

const ALPHA: f64 = 1.0;
const SIGMA: f64 = 0.5;
const N: usize = 20;
const MIX: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.5, -0.5, 0.7]];

fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => v,
            None => {
                eprintln!("error: {name} needs a non-negative integer");
                std::process::exit(2);
            }
        },
    }
}

/// The inverse of a symmetric positive-definite 3x3 matrix (cofactors).
fn inverse3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
    };
    let det: f64 = (0..3).map(|j| m[0][j] * c(0, j)).sum();
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = c(j, i) / det;
        }
    }
    inv
}

fn main() -> Result<()> {
    let (steps, seed) = (flag("--steps", 3000), flag("--seed", 0));
    let dev = Device::flex();
    let key = Key::new(seed);
    // Data.
    let z = key.fold_in(0).normal_vec(N * 3, 0.0, 1.0);
    let w_true = key
        .fold_in(1)
        .normal_vec(3, 0.0, (1.0 / ALPHA).sqrt() as f32);
    let noise = key.fold_in(2).normal_vec(N, 0.0, SIGMA as f32);
    let mut x = vec![0.0f64; N * 3];
    for i in 0..N {
        for j in 0..3 {
            x[i * 3 + j] = (0..3).map(|k| z[i * 3 + k] as f64 * MIX[j][k]).sum();
        }
    }
    let y: Vec<f64> = (0..N)
        .map(|i| (0..3).map(|j| x[i * 3 + j] * w_true[j] as f64).sum::<f64>() + noise[i] as f64)
        .collect();
    // The exact posterior.
    let mut p = [[0.0; 3]; 3];
    let mut xty = [0.0; 3];
    for i in 0..N {
        for a in 0..3 {
            xty[a] += x[i * 3 + a] * y[i] / (SIGMA * SIGMA);
            for b in 0..3 {
                p[a][b] += x[i * 3 + a] * x[i * 3 + b] / (SIGMA * SIGMA);
            }
        }
    }
    (0..3).for_each(|a| p[a][a] += ALPHA);
    let cov = inverse3(p);
    let mean: Vec<f64> = (0..3)
        .map(|a| (0..3).map(|b| cov[a][b] * xty[b]).sum())
        .collect();

    // The model, in duet-prob.
    let xs = Tensor::<1>::from_floats(
        x.iter().map(|&v| v as f32).collect::<Vec<_>>().as_slice(),
        &dev,
    )
    .reshape([N, 3]);
    let ys = DynTensor::from(Tensor::<1>::from_floats(
        y.iter().map(|&v| v as f32).collect::<Vec<_>>().as_slice(),
        &dev,
    ));
    let model = |ctx: &mut Ctx| {
        let prior = Normal::new(
            Tensor::<1>::zeros([3], &dev),
            Tensor::<1>::full([3], ALPHA.powf(-0.5) as f32, &dev),
        )?;
        let w = ctx.sample("w", Independent::new(prior, 1)?)?;
        let mean = xs
            .clone()
            .matmul(w.into_rank::<1>().reshape([3, 1]))
            .reshape([N]);
        ctx.plate("data", N, |ctx| {
            ctx.observe(
                "y",
                Normal::new(mean, Tensor::<1>::from_floats([SIGMA as f32], &dev))?,
                &ys,
            )
        })
    };
    let auto = AutoNormal::new(&model, key.fold_in(3))?;
    let guide = |ctx: &mut Ctx| auto.guide(ctx);
    let lr = Cosine {
        lr: 0.05,
        steps,
        alpha: 0.01,
    };
    let mut svi = Svi::new(
        model,
        guide,
        adam(lr, Adam::default()),
        Elbo {
            particles: 4,
            analytic_kl: true,
        },
    );
    let mut params = svi.init(key.fold_in(4))?;
    let t0 = std::time::Instant::now();
    for step in 0..steps {
        let loss = svi.step(&mut params, key.fold_in(5).fold_in(step))?;
        if step % (steps / 5).max(1) == 0 {
            println!("step {step:>5}: -ELBO {loss:.3}");
        }
    }
    let (loc, scale) = auto.loc_scale(&params, "w")?;
    let (loc, scale) = (loc.to_vec(), scale.to_vec());
    println!("{steps} SVI steps in {:.1} s\n", t0.elapsed().as_secs_f64());
    println!("      true w | exact posterior   | mean-field optimum | SVI (AutoNormal)");
    for a in 0..3 {
        println!(
            "w[{a}] {:>6.3} | {:>6.3} ± {:<8.3} | {:>6.3} ± {:<9.3} | {:>6.3} ± {:.3}",
            w_true[a],
            mean[a],
            cov[a][a].sqrt(),
            mean[a],
            (1.0 / p[a][a]).sqrt(),
            loc[a],
            scale[a]
        );
    }
    println!("\n(± is one standard deviation; a mean-field guide underestimates the posterior's by ignoring its correlations)");
    Ok(())
}
