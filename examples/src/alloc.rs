//! The allocator setup of duet's programs (the `duet` binary and the benchmark examples).
//!
//! A training step frees and re-allocates the same large buffers every step. glibc's malloc
//! returns them to the OS (`munmap`, heap trimming) and page-faults them back in (~15% of an MLP
//! step); mimalloc by default returns freed memory 10 ms after it is freed, and the kernel then
//! zeroes every page again on the next fault (25% of a GPT step, `perf`: `clear_page_erms`). A
//! program declares mimalloc as its global allocator and calls [`keep_freed_memory`] first thing
//! in `main`, as PyTorch's caching allocators keep memory (the peak is kept). Library users
//! choose their own allocator; this is the programs' choice.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
//! fn main() {
//!     duet_examples::alloc::keep_freed_memory();
//! }
//! ```

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (15 in both v2 and v3, the version
/// `libmimalloc-sys` 0.1.49 builds by default; its Rust bindings do not name this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the OS (purge delay -1). Call it before any
/// thread is spawned; it does nothing unless mimalloc is the global allocator.
pub fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option; any value is valid for this option, and
    // mimalloc reads its options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
