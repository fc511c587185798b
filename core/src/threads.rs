//! The CPU backend's threads: rayon's global pool, which burn-flex's operations and duet's CPU
//! kernels split their work over.
//!
//! By default rayon starts one worker per core and the program's own thread is not one of them:
//! every parallel operation the training loop issues is handed to a sleeping worker, and the loop's
//! thread blocks until a worker wakes it again, two context switches per operation, with one more
//! thread than cores. [`init_cpu_threads`] makes the calling thread worker 0 instead, so it does its
//! share of each operation and wakes only the others.

use std::num::NonZeroUsize;

/// Why [`init_cpu_threads`] could not build the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up the CPU threads: {0} (call init_cpu_threads before any parallel work)")]
pub struct ThreadsError(String);

/// Builds rayon's global pool with the calling thread as worker 0, and returns the number of
/// workers: `threads`, or rayon's default (`RAYON_NUM_THREADS`, else one per core).
///
/// Call it once, first thing in `main`, on the thread that runs the training loop (the `duet`
/// binary does). Measured on a 2-core VM: the MLP training step (W3 of `BENCHMARKS.md`) 10-20%
/// faster, LeNet's 5-10%. It fails when the global pool already exists, that is after
/// anything has used rayon (a burn-flex tensor operation included); nothing is changed then and
/// the program runs as before.
///
/// The calling thread takes part in the parallel work it starts; work other threads hand to the
/// pool (data-parallel training's one thread per device, for instance) runs on the other
/// workers, and on this one only while it waits for rayon.
///
/// ```
/// use std::num::NonZeroUsize;
/// let n = duet_core::init_cpu_threads(NonZeroUsize::new(2)).unwrap();
/// assert_eq!(n, 2);
/// assert_eq!(rayon::current_thread_index(), Some(0)); // this thread is worker 0
/// assert_eq!(rayon::current_num_threads(), 2);
/// // The pool exists now: a second call fails and changes nothing.
/// assert!(duet_core::init_cpu_threads(None).is_err());
/// ```
pub fn init_cpu_threads(threads: Option<NonZeroUsize>) -> Result<usize, ThreadsError> {
    let mut builder = rayon::ThreadPoolBuilder::new().use_current_thread();
    if let Some(n) = threads {
        builder = builder.num_threads(n.get());
    }
    builder
        .build_global()
        .map_err(|e| ThreadsError(e.to_string()))?;
    Ok(rayon::current_num_threads())
}
