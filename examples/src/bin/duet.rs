//! The `duet` command. See `duet --help` and the README.

/// mimalloc instead of glibc's malloc: a training step frees and re-allocates the same
/// parameter-sized buffers every step, and glibc returns them to the OS (`munmap`, heap trimming)
/// and page-faults them back in; on the MLP benchmark that was ~15% of a step. Library users
/// choose their own allocator; this is the binary's choice.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(duet_examples::cli::main());
}
