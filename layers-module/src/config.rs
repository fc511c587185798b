//! [`Build`]: a `duet_core` layer config builds its module. The config's `init` is the only
//! initialisation code; a module holds the params it returns as fields (same paths as the
//! functional layer's tree).

use crate::rngs::Rngs;
use duet_core::burn::module::Param;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::LayerConfig;
use duet_core::DynTensor;

/// A config that builds a module: `Conv2dConfig::new(6, 5).with_stride(2).build(3, &mut rngs, &dev)`.
///
/// The module's key is `rngs.params.next()`, one per module, as every constructor draws it.
pub trait Build: LayerConfig {
    /// The module built.
    type Module;
    /// Builds the module for input size `d_in` (features or channels).
    fn build(&self, d_in: usize, rngs: &mut Rngs, device: &Device) -> Self::Module;
}

/// A param leaf from a config's params.
pub(crate) fn param<const D: usize>(t: DynTensor) -> Param<Tensor<D>> {
    Param::from_tensor(t.into_rank::<D>())
}
