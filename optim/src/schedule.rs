//! Learning-rate schedules: `lr(step)` with `step` the number of updates already applied
//! (0 for the first update), evaluated on the host (no device round trip).

use std::f64::consts::PI;

/// A learning-rate schedule.
pub trait Schedule: Send + Sync {
    /// The learning rate for the update made after `step` updates.
    fn lr(&self, step: u64) -> f64;
}

impl Schedule for f64 {
    /// A constant rate.
    fn lr(&self, _: u64) -> f64 {
        *self
    }
}

/// Constant: `lr`.
#[derive(Clone, Copy, Debug)]
pub struct Constant(pub f64);

impl Schedule for Constant {
    fn lr(&self, _: u64) -> f64 {
        self.0
    }
}

/// Piecewise constant: `lr` multiplied by each `(boundary, factor)` whose boundary `<= step`.
/// `StepDecay`-style schedules are `Piecewise { lr, steps: vec![(30, 0.1), (60, 0.1)] }`.
#[derive(Clone, Debug)]
pub struct Piecewise {
    /// The initial rate.
    pub lr: f64,
    /// `(boundary step, multiplicative factor)` pairs.
    pub steps: Vec<(u64, f64)>,
}

impl Schedule for Piecewise {
    fn lr(&self, step: u64) -> f64 {
        self.steps
            .iter()
            .filter(|(b, _)| *b <= step)
            .fold(self.lr, |lr, (_, f)| lr * f)
    }
}

/// Exponential decay: `lr * rate^(step / decay_steps)` (continuous, or floored when `staircase`).
#[derive(Clone, Copy, Debug)]
pub struct Exponential {
    /// The initial rate.
    pub lr: f64,
    /// The decay factor per `decay_steps`.
    pub rate: f64,
    /// Steps per decay period.
    pub decay_steps: u64,
    /// Decay in whole periods.
    pub staircase: bool,
}

impl Schedule for Exponential {
    fn lr(&self, step: u64) -> f64 {
        let p = step as f64 / self.decay_steps.max(1) as f64;
        self.lr * self.rate.powf(if self.staircase { p.floor() } else { p })
    }
}

/// Inverse-time decay, Swift for TensorFlow's `RMSProp(learningRate:decay:)`:
/// `lr_t = lr / (1 + decay * t)` with `t = step + 1` (S4TF counts the update being made from 1).
///
/// # Example
/// ```
/// use duet_optim::{InverseTimeDecay, Schedule};
/// let s = InverseTimeDecay { lr: 0.03, decay: 0.1 };
/// assert!((s.lr(0) - 0.03 / 1.1).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct InverseTimeDecay {
    /// The base rate.
    pub lr: f64,
    /// The decay.
    pub decay: f64,
}

impl Schedule for InverseTimeDecay {
    fn lr(&self, step: u64) -> f64 {
        self.lr / (1.0 + self.decay * (step + 1) as f64)
    }
}

/// Polynomial decay from `lr` to `end` over `steps`: `end + (lr - end) (1 - s/steps)^power`.
#[derive(Clone, Copy, Debug)]
pub struct Polynomial {
    /// The initial rate.
    pub lr: f64,
    /// The final rate.
    pub end: f64,
    /// The power (1 = linear).
    pub power: f64,
    /// Steps to reach `end`.
    pub steps: u64,
}

impl Schedule for Polynomial {
    fn lr(&self, step: u64) -> f64 {
        let f = 1.0 - (step.min(self.steps) as f64 / self.steps.max(1) as f64);
        self.end + (self.lr - self.end) * f.powf(self.power)
    }
}

/// Cosine decay from `lr` to `lr * alpha` over `steps`: `lr ((1 - a) (1 + cos(pi s/steps))/2 + a)`.
#[derive(Clone, Copy, Debug)]
pub struct Cosine {
    /// The initial rate.
    pub lr: f64,
    /// Steps of the decay.
    pub steps: u64,
    /// The final fraction of `lr`.
    pub alpha: f64,
}

impl Schedule for Cosine {
    fn lr(&self, step: u64) -> f64 {
        let f = step.min(self.steps) as f64 / self.steps.max(1) as f64;
        self.lr * ((1.0 - self.alpha) * 0.5 * (1.0 + (PI * f).cos()) + self.alpha)
    }
}

/// Linear warmup from 0 to `peak` over `warmup` steps, then cosine decay to `end` at `total`.
///
/// # Example
/// ```
/// use duet_optim::{Schedule, WarmupCosine};
/// let s = WarmupCosine { peak: 1.0, warmup: 10, total: 110, end: 0.0 };
/// assert_eq!(s.lr(5), 0.5);
/// assert_eq!(s.lr(10), 1.0);
/// assert!((s.lr(60) - 0.5).abs() < 1e-12);
/// assert!(s.lr(110).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct WarmupCosine {
    /// The rate after warmup.
    pub peak: f64,
    /// Warmup steps.
    pub warmup: u64,
    /// Total steps (warmup included).
    pub total: u64,
    /// The final rate.
    pub end: f64,
}

impl Schedule for WarmupCosine {
    fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * step as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let f = ((step - self.warmup) as f64 / span).min(1.0);
        self.end + (self.peak - self.end) * 0.5 * (1.0 + (PI * f).cos())
    }
}

/// One-cycle (Smith): cosine rise from `max / div` to `max` over `pct` of `total`, then cosine
/// fall to `max / (div * final_div)` (PyTorch's `OneCycleLR` defaults: pct 0.3, div 25, final_div 1e4).
#[derive(Clone, Copy, Debug)]
pub struct OneCycle {
    /// The peak rate.
    pub max: f64,
    /// Total steps.
    pub total: u64,
    /// Fraction of steps spent rising.
    pub pct: f64,
    /// `initial = max / div`.
    pub div: f64,
    /// `final = initial / final_div`.
    pub final_div: f64,
}

impl OneCycle {
    /// PyTorch's defaults for a peak and a length.
    pub fn new(max: f64, total: u64) -> Self {
        OneCycle {
            max,
            total,
            pct: 0.3,
            div: 25.0,
            final_div: 1e4,
        }
    }
}

impl Schedule for OneCycle {
    fn lr(&self, step: u64) -> f64 {
        let cos =
            |a: f64, b: f64, f: f64| b + (a - b) * 0.5 * (1.0 + (PI * f.clamp(0.0, 1.0)).cos());
        let (init, fin) = (self.max / self.div, self.max / self.div / self.final_div);
        let up = (self.pct * self.total as f64 - 1.0).max(1.0);
        let s = step as f64;
        if s <= up {
            cos(init, self.max, s / up)
        } else {
            cos(
                self.max,
                fin,
                (s - up) / ((self.total as f64 - 1.0) - up).max(1.0),
            )
        }
    }
}
