//! The `duet` command. See `duet --help` and the README.

/// mimalloc instead of glibc's malloc: a training step frees and re-allocates the same
/// parameter-sized buffers every step, and glibc returns them to the OS (`munmap`, heap trimming)
/// and page-faults them back in; on the MLP benchmark that was ~15% of a step. Library users
/// choose their own allocator; this is the binary's choice.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2's `mi_option_t` (the version `libmimalloc-sys` 0.1.49
/// builds; its Rust bindings name the options around it, 14 and 16, but not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // mimalloc returns freed memory to the OS 10 ms after it is freed; a training step frees
    // and re-allocates the same large buffers every step, and the kernel then zeroes every
    // page again on the next fault: 25% of a GPT step here (`perf`: `clear_page_erms`). Keep
    // freed memory for reuse instead, as PyTorch's caching allocators do (the peak is kept).
    // SAFETY: sets a process-wide allocator option before any thread is spawned; any value is
    // valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    std::process::exit(duet_examples::cli::main());
}
