//! [`Recipe`]: how `duet train` optimizes: the optimizer, its peak learning rate, the schedule
//! with its warmup, weight decay and gradient clipping, from the flags over each model's
//! defaults, and the description stored in checkpoints (a resumed run must ask for the same).

use super::args::{OptimizerKind, ScheduleKind, TrainArgs};
use crate::models::ModelKind;
use clap::ValueEnum;
use duet_optim::{
    adam, adamw, chain, clip_by_global_norm, rmsprop, sgd, Adam, Chain, Optimizer, RmsProp,
    Schedule, Sgd, WarmupCosine,
};

/// The optimization of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    /// The optimizer (PyTorch's defaults; RMSProp alpha 0.9, SGD momentum 0.9).
    pub kind: OptimizerKind,
    /// The peak learning rate.
    pub lr: f64,
    /// L2 weight decay (decoupled for AdamW).
    pub weight_decay: f64,
    /// The schedule after warmup.
    pub schedule: ScheduleKind,
    /// Linear warmup steps from 0 to `lr`.
    pub warmup: u64,
    /// The run's length (the cosine's horizon).
    pub total_steps: u64,
    /// Clip gradients to this global L2 norm first.
    pub clip_norm: Option<f64>,
}

impl Recipe {
    /// A constant learning rate and the optimizer's default weight decay (benchmarks, tests).
    pub fn constant(kind: OptimizerKind, lr: f64) -> Self {
        Recipe {
            kind,
            lr,
            weight_decay: default_decay(kind),
            schedule: ScheduleKind::Constant,
            warmup: 0,
            total_steps: 0,
            clip_norm: None,
        }
    }

    /// `duet train`'s flags for `model`, each unset one from the model's recipe: ResNet-20's is
    /// the paper's (SGD, momentum 0.9, lr 0.1, weight decay 5e-4 as in the widely used CIFAR
    /// reimplementations, cosine decay); the GPT's nanoGPT's (AdamW, lr 1e-3, weight decay 0.1,
    /// 100 warmup steps or a tenth of a shorter run, cosine decay, gradients clipped to norm
    /// 1); the others' Adam at 2e-3, constant. An optimizer other than the model's starts from
    /// its own defaults (2e-3, constant).
    pub fn of(args: &TrainArgs, model: ModelKind, total_steps: u64) -> Self {
        let default = match model {
            ModelKind::Resnet20 | ModelKind::Resnet18 => Recipe {
                weight_decay: 5e-4,
                schedule: ScheduleKind::Cosine,
                ..Recipe::constant(OptimizerKind::Sgd, 0.1)
            },
            ModelKind::Gpt => Recipe {
                weight_decay: 0.1,
                schedule: ScheduleKind::Cosine,
                warmup: 100.min(total_steps / 10),
                clip_norm: Some(1.0),
                ..Recipe::constant(OptimizerKind::Adamw, 1e-3)
            },
            // PyTorch's VAE example: Adam at 1e-3.
            ModelKind::Vae => Recipe::constant(OptimizerKind::Adam, 1e-3),
            _ => Recipe::constant(OptimizerKind::Adam, 2e-3),
        };
        let default = match args.optimizer {
            Some(kind) if kind != default.kind => Recipe::constant(kind, 2e-3),
            _ => default,
        };
        Recipe {
            kind: default.kind,
            lr: args.lr.unwrap_or(default.lr),
            weight_decay: args.weight_decay.unwrap_or(default.weight_decay),
            schedule: args.schedule.unwrap_or(default.schedule),
            warmup: args.warmup.unwrap_or(default.warmup),
            total_steps,
            clip_norm: args.clip_norm.or(default.clip_norm),
        }
    }

    /// The optimizer.
    ///
    /// # Example
    /// ```
    /// use duet_examples::cli::{args::{OptimizerKind, ScheduleKind}, recipe::Recipe};
    /// let r = Recipe { schedule: ScheduleKind::Cosine, warmup: 10, total_steps: 110, ..Recipe::constant(OptimizerKind::Sgd, 0.1) };
    /// let opt = r.optimizer();
    /// assert_eq!(opt.learning_rate(), Some(0.0)); // the first warmup step
    /// ```
    pub fn optimizer(&self) -> Optimizer {
        let tx = match (self.schedule, self.warmup) {
            (ScheduleKind::Constant, 0) => self.transform(self.lr),
            (schedule, warmup) => self.transform(WarmupCosine {
                peak: self.lr,
                warmup,
                total: self.total_steps.max(warmup + 1),
                end: match schedule {
                    ScheduleKind::Cosine => 0.0,
                    ScheduleKind::Constant => self.lr,
                },
            }),
        };
        match self.clip_norm {
            Some(max) => Optimizer::new(chain(vec![
                Box::new(clip_by_global_norm(max)),
                Box::new(tx),
            ])),
            None => Optimizer::new(tx),
        }
    }

    fn transform(&self, lr: impl Schedule + 'static) -> Chain {
        let wd = self.weight_decay;
        match self.kind {
            OptimizerKind::Rmsprop => rmsprop(
                lr,
                RmsProp {
                    alpha: 0.9,
                    weight_decay: wd,
                    ..Default::default()
                },
            ),
            OptimizerKind::Adam => adam(
                lr,
                Adam {
                    weight_decay: wd,
                    ..Default::default()
                },
            ),
            OptimizerKind::Adamw => adamw(
                lr,
                Adam {
                    weight_decay: wd,
                    ..Default::default()
                },
            ),
            OptimizerKind::Sgd => sgd(
                lr,
                Sgd {
                    momentum: 0.9,
                    weight_decay: wd,
                    ..Default::default()
                },
            ),
        }
    }

    /// The recipe as JSON (checkpoint key `duet.optimizer`). The keys of earlier versions
    /// (`kind`, `lr`, `fixed`) are unchanged, and the schedule and clipping appear only when
    /// used, so checkpoints of constant-rate runs still resume.
    ///
    /// # Example
    /// ```
    /// use duet_examples::cli::{args::OptimizerKind, recipe::Recipe};
    /// let d = Recipe::constant(OptimizerKind::Adam, 0.002).description();
    /// assert_eq!(d, r#"{"fixed":{},"kind":"adam","lr":0.002}"#);
    /// ```
    pub fn description(&self) -> String {
        let name = self
            .kind
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        let mut fixed = match self.kind {
            OptimizerKind::Rmsprop => serde_json::json!({"alpha": 0.9}),
            OptimizerKind::Adam | OptimizerKind::Adamw => serde_json::json!({}),
            OptimizerKind::Sgd => serde_json::json!({"momentum": 0.9}),
        };
        if self.weight_decay != 0.0 {
            fixed["weight_decay"] = self.weight_decay.into();
        }
        let mut d = serde_json::json!({"kind": name, "lr": self.lr, "fixed": fixed});
        if (self.schedule, self.warmup) != (ScheduleKind::Constant, 0) {
            let s = self
                .schedule
                .to_possible_value()
                .map(|v| v.get_name().to_string());
            d["schedule"] = serde_json::json!({
                "kind": s, "warmup": self.warmup, "total_steps": self.total_steps
            });
        }
        if let Some(c) = self.clip_norm {
            d["clip_norm"] = c.into();
        }
        d.to_string()
    }
}

/// AdamW's default decoupled decay (1e-2, PyTorch's); none for the others.
fn default_decay(kind: OptimizerKind) -> f64 {
    match kind {
        OptimizerKind::Adamw => 1e-2,
        _ => 0.0,
    }
}
