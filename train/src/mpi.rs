//! [`MpiGroup`]: a [`ProcessGroup`] over MPI's world communicator (feature `mpi`), through
//! the `mpi` crate (rsmpi) and the system's MPI library (Open MPI or MPICH).
//!
//! Launch with `mpirun -np N program ...`: MPI gives each process its rank, the collectives
//! are MPI's own (`MPI_Allreduce`, `MPI_Bcast`, `MPI_Barrier`), and a rank that dies makes
//! `mpirun` stop the job and name it.

use crate::group::ProcessGroup;
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::{ffi, Threading};

extern "C" {
    /// `MPI_IN_PLACE` (from `csrc/mpi_in_place.c`, compiled against the library's `mpi.h`).
    fn duet_mpi_in_place() -> *mut std::os::raw::c_void;
}

/// MPI cannot be used by this process.
#[derive(Debug, thiserror::Error)]
pub enum MpiError {
    /// `MPI_Init` was already called in this process (only one [`MpiGroup`] can exist).
    #[error("MPI is already initialised in this process")]
    AlreadyInitialized,
    /// The library cannot give the threading level duet needs (MPI calls from the main thread
    /// while data-loading threads run).
    #[error("the MPI library offers threading level {0:?}, duet needs Funneled")]
    Threading(Threading),
}

/// This process's membership of `MPI_COMM_WORLD`. Dropping it finalises MPI; after a failure
/// call [`abort`](Self::abort) instead, which stops every rank (finalising while the others
/// wait in a collective would hang them).
///
/// # Example
/// ```no_run
/// use duet_train::{MpiGroup, ProcessGroup};
/// let group = MpiGroup::init().unwrap(); // under `mpirun -np 2`
/// let mut sum = [0.0f32];
/// group.all_reduce_sum(&[1.0], &mut sum);
/// assert_eq!(sum[0], group.size() as f32);
/// ```
pub struct MpiGroup {
    world: SimpleCommunicator,
    _universe: Universe,
}

impl MpiGroup {
    /// Initialises MPI (`MPI_Init_thread`, funneled: only the calling thread uses MPI).
    /// Without `mpirun` the process is a group of one.
    ///
    /// # Errors
    /// [`MpiError`] when MPI was initialised before or lacks the threading level.
    pub fn init() -> Result<Self, MpiError> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or(MpiError::AlreadyInitialized)?;
        if level < Threading::Funneled {
            return Err(MpiError::Threading(level));
        }
        let world = universe.world();
        Ok(MpiGroup {
            world,
            _universe: universe,
        })
    }

    /// Stops every rank of the job with exit code `code` (`MPI_Abort`).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

impl ProcessGroup for MpiGroup {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, send: &[f32], recv: &mut [f32]) {
        assert_eq!(
            send.len(),
            recv.len(),
            "all_reduce_sum: send and recv lengths differ"
        );
        self.world
            .all_reduce_into(send, recv, SystemOperation::sum());
    }

    fn all_reduce_sum_in_place(&self, buf: &mut [f32]) {
        let count = std::os::raw::c_int::try_from(buf.len()).expect("at most 2^31 floats per call");
        // SAFETY: `buf` is a valid, exclusively borrowed buffer of `count` floats; with
        // MPI_IN_PLACE as the send buffer, MPI reads and writes only `buf`. The datatype,
        // operation and communicator are the library's own handles.
        unsafe {
            ffi::MPI_Allreduce(
                duet_mpi_in_place(),
                buf.as_mut_ptr().cast(),
                count,
                ffi::RSMPI_FLOAT,
                ffi::RSMPI_SUM,
                self.world.as_raw(),
            );
        }
    }

    fn broadcast(&self, buf: &mut [u8], root: usize) {
        self.world.process_at_rank(root as i32).broadcast_into(buf);
    }

    fn barrier(&self) {
        self.world.barrier();
    }
}
