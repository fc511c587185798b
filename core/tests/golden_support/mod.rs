//! Support for the golden suite: reading a case from the manifest and running its forward pass
//! with duet's ops.

/// Applies a rank-generic expression to a [`DynTensor`](duet_core::DynTensor) of rank 1 to 5.
macro_rules! by_rank {
    ($t:expr, |$x:ident| $body:expr) => {{
        let t: DynTensor = $t;
        match t.rank() {
            1 => {
                let $x = t.into_rank::<1>();
                DynTensor::from($body)
            }
            2 => {
                let $x = t.into_rank::<2>();
                DynTensor::from($body)
            }
            3 => {
                let $x = t.into_rank::<3>();
                DynTensor::from($body)
            }
            4 => {
                let $x = t.into_rank::<4>();
                DynTensor::from($body)
            }
            5 => {
                let $x = t.into_rank::<5>();
                DynTensor::from($body)
            }
            r => panic!("rank {r} is not supported by the golden test"),
        }
    }};
}

mod case;
mod forward;

pub use case::Case;
pub use forward::{forward, transposed};
