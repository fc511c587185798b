//! [`ProcessGroup`]: the processes (ranks) that train one model together, and the three
//! collectives a data-parallel run needs from them; [`ThreadGroup`] runs a group inside one
//! process (for tests and for trying a distributed setup without MPI).
//!
//! The MPI implementation, `MpiGroup`, is behind the `mpi` feature (`crate::mpi`). A GPU
//! cluster would implement the same trait over NCCL (see the README's "Several machines").

use std::sync::{Arc, Barrier, Mutex};

/// A group of `size()` processes, this one being `rank()`, that run the same program in
/// lockstep: every rank calls the same collectives in the same order with buffers of the same
/// lengths (the training loop guarantees it). Collectives block until every rank has called
/// them; a rank that dies makes the launcher (`mpirun`) stop the others.
pub trait ProcessGroup {
    /// This process's index, `0..size()`; rank 0 writes the run's files.
    fn rank(&self) -> usize;

    /// The number of processes.
    fn size(&self) -> usize;

    /// Element-wise sum of every rank's `send`, written to `recv` on every rank (both of the
    /// same length on all ranks). Every rank ends with the same bits.
    fn all_reduce_sum(&self, send: &[f32], recv: &mut [f32]);

    /// [`all_reduce_sum`](Self::all_reduce_sum) with `buf` as both send and receive buffer
    /// (MPI's `MPI_IN_PLACE`: no second buffer, no copy). The default goes through a copy.
    fn all_reduce_sum_in_place(&self, buf: &mut [f32]) {
        let send = buf.to_vec();
        self.all_reduce_sum(&send, buf);
    }

    /// Rank `root`'s `buf`, copied to `buf` on every rank (all ranks pass the same length).
    fn broadcast(&self, buf: &mut [u8], root: usize);

    /// Returns once every rank has called it.
    fn barrier(&self);

    /// Rank `root`'s `bytes` on every rank, whatever length the others pass (the length is
    /// broadcast first).
    ///
    /// # Example
    /// ```
    /// use duet_train::{ProcessGroup, ThreadGroup};
    /// let got = ThreadGroup::run(3, |g| g.broadcast_vec(vec![g.rank() as u8; 2 + g.rank()], 1));
    /// assert_eq!(got, vec![vec![1, 1, 1]; 3]);
    /// ```
    fn broadcast_vec(&self, bytes: Vec<u8>, root: usize) -> Vec<u8> {
        let mut len = (bytes.len() as u64).to_le_bytes();
        self.broadcast(&mut len, root);
        let mut buf = bytes;
        buf.resize(u64::from_le_bytes(len) as usize, 0);
        self.broadcast(&mut buf, root);
        buf
    }
}

/// The state the ranks of a [`ThreadGroup`] share.
struct Shared {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

/// A [`ProcessGroup`] of threads in one process: the same collectives as MPI's, exchanged
/// through shared memory. Sums are taken in rank order, so every rank gets the same bits.
///
/// # Example
/// Three ranks each contribute their rank; the sum is 0 + 1 + 2 on every one:
/// ```
/// use duet_train::{ProcessGroup, ThreadGroup};
/// let sums = ThreadGroup::run(3, |g| {
///     let mut sum = [0.0; 2];
///     g.all_reduce_sum(&[g.rank() as f32, 1.0], &mut sum);
///     sum
/// });
/// assert_eq!(sums, vec![[3.0, 3.0]; 3]);
/// ```
#[derive(Clone)]
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

impl ThreadGroup {
    /// The `size` members of a new group (give one to each thread).
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        assert!(size > 0, "a process group needs at least one rank");
        let shared = Arc::new(Shared {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Runs `f` on `size` threads, one per rank, and returns their results in rank order
    /// (a panic on any thread is re-raised).
    pub fn run<R: Send>(size: usize, f: impl Fn(ThreadGroup) -> R + Sync) -> Vec<R> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ThreadGroup::new(size)
                .into_iter()
                .map(|g| s.spawn(|| f(g)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// Every rank's `mine`, in rank order.
    fn exchange(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.shared.slots.lock().expect("group lock")[self.rank] = mine.to_vec();
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().expect("group lock").clone();
        // Nobody may overwrite a slot before every rank has read them all.
        self.shared.barrier.wait();
        all
    }
}

impl ProcessGroup for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_reduce_sum(&self, send: &[f32], recv: &mut [f32]) {
        assert_eq!(
            send.len(),
            recv.len(),
            "all_reduce_sum: send and recv lengths differ"
        );
        let bytes: Vec<u8> = send.iter().flat_map(|v| v.to_le_bytes()).collect();
        let all = self.exchange(&bytes);
        recv.fill(0.0);
        for part in &all {
            assert_eq!(
                part.len(),
                bytes.len(),
                "all_reduce_sum: lengths differ between ranks"
            );
            for (b, c) in recv.iter_mut().zip(part.chunks_exact(4)) {
                *b += f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
    }

    fn broadcast(&self, buf: &mut [u8], root: usize) {
        let all = self.exchange(buf);
        buf.copy_from_slice(&all[root]);
    }

    fn barrier(&self) {
        self.shared.barrier.wait();
    }
}
