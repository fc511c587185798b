//! Scaling transforms: [`scale`], [`scale_by_learning_rate`] (with a schedule) and
//! [`add_decayed_weights`] (L2 or decoupled weight decay, depending on its place in a chain).

use crate::schedule::Schedule;
use crate::state::OptState;
use crate::transform::{OptimError, Transform};
use duet_core::kernels::scale_by;
use duet_core::Params;

/// `u = factor * g`.
pub struct Scale(f64);

/// Multiplies updates by a constant.
pub fn scale(factor: f64) -> Scale {
    Scale(factor)
}

impl Transform for Scale {
    fn init(&self, _: &Params) -> OptState {
        OptState::new()
    }
    fn update(&self, g: Params, s: OptState, _: &Params) -> Result<(Params, OptState), OptimError> {
        let f = self.0 as f32;
        Ok((g.into_map(|t| scale_by(t, f)), s))
    }
    fn factor(&self, _: &OptState) -> Option<f32> {
        Some(self.0 as f32)
    }
}

/// `u = -lr(count) * g`, then `count += 1`.
pub struct ScaleByLearningRate(Box<dyn Schedule>);

/// Turns directions into descent steps with a learning-rate schedule (a plain `f64` is a
/// constant rate). Its state is the update count, so schedules resume exactly.
pub fn scale_by_learning_rate(schedule: impl Schedule + 'static) -> ScaleByLearningRate {
    ScaleByLearningRate(Box::new(schedule))
}

impl ScaleByLearningRate {
    /// The rate the next update will use, given the transform's state.
    pub fn current(&self, state: &OptState) -> f64 {
        self.0.lr(state.counter("count"))
    }

    /// The next update's factor, `-lr(count)` in `f32`.
    fn step_size(&self, state: &OptState) -> f32 {
        -(self.current(state) as f32)
    }
}

impl Transform for ScaleByLearningRate {
    fn init(&self, _: &Params) -> OptState {
        let mut s = OptState::new();
        s.set_counter("count", 0);
        s
    }
    fn update(
        &self,
        g: Params,
        mut s: OptState,
        _: &Params,
    ) -> Result<(Params, OptState), OptimError> {
        let lr = self.step_size(&s);
        s.set_counter("count", s.counter("count") + 1);
        Ok((g.into_map(|t| scale_by(t, lr)), s))
    }

    fn factor(&self, state: &OptState) -> Option<f32> {
        Some(self.step_size(state))
    }

    fn learning_rate(&self, state: &OptState) -> Option<f64> {
        Some(self.0.lr(state.counter("count").saturating_sub(1)))
    }
}

/// `u = g + wd * p`: L2 regularization when placed before a scaling transform, decoupled weight
/// decay (AdamW) when placed after it.
pub struct AddDecayedWeights(f64);

/// Adds `wd * params` to the updates.
pub fn add_decayed_weights(wd: f64) -> AddDecayedWeights {
    AddDecayedWeights(wd)
}

impl Transform for AddDecayedWeights {
    fn init(&self, _: &Params) -> OptState {
        OptState::new()
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        if self.0 == 0.0 {
            return Ok((g, s));
        }
        let wd = self.0 as f32;
        Ok((g.zip_map(p, |g, p| g + p.without_autodiff() * wd)?, s))
    }
}
