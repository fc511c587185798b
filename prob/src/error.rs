//! [`ProbError`]: what can go wrong when a distribution is built or used.

use thiserror::Error;

/// An invalid distribution, value or model, reported in one line that names the distribution.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ProbError {
    /// A parameter or value has the wrong shape.
    #[error("{dist}: {what} has shape {got:?}, expected {expected}")]
    Shape {
        /// The distribution (or model site) that refused it.
        dist: String,
        /// Which tensor.
        what: String,
        /// Its shape.
        got: Vec<usize>,
        /// What was expected, in words (`[..., 3, 4]`).
        expected: String,
    },
    /// A parameter outside its domain (checked when validation is on).
    #[error("{dist}: {param} must be {rule} (got {value} at flat index {index})")]
    Invalid {
        /// The distribution.
        dist: String,
        /// The parameter.
        param: String,
        /// The domain, in words (`> 0`, `in [0, 1]`).
        rule: String,
        /// The first offending value.
        value: f32,
        /// Its row-major index.
        index: usize,
    },
    /// `rsample` on a distribution without a reparameterised sampler.
    #[error("{0}: rsample is not available (no reparameterised sampler); use sample")]
    NotReparameterized(String),
    /// A statistic the distribution does not define (as in `torch.distributions`).
    #[error("{dist}: {what} is not defined")]
    Undefined {
        /// The distribution.
        dist: String,
        /// The statistic (`mean`, `entropy`, ...).
        what: String,
    },
    /// No analytic KL divergence is registered for this pair.
    #[error("no analytic KL({p} || {q}) is registered; use kl_monte_carlo")]
    NoKl {
        /// The first distribution.
        p: String,
        /// The second distribution.
        q: String,
    },
    /// A model or guide is inconsistent (a missing site, a site sampled twice, ...).
    #[error("model: {0}")]
    Model(String),
}

/// `Result` with a [`ProbError`].
pub type Result<T> = std::result::Result<T, ProbError>;
