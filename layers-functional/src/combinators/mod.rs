//! Combinators: build models from layers (Trax's `combinators.py`).

mod branch;
mod func;
mod merge;
mod on_device;
mod residual;
mod serial;
mod stack;

pub use branch::{Branch, Parallel};
pub use func::Fn;
pub use merge::{Add, Concatenate, Multiply};
pub use on_device::OnDevice;
pub use residual::Residual;
pub use serial::Serial;
pub use stack::{Drop, Dup, Select, Swap};
