//! The `duet` command. See `duet --help` and the README.

/// mimalloc, keeping freed memory (see `duet_examples::alloc`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    duet_examples::alloc::keep_freed_memory();
    std::process::exit(duet_examples::cli::main());
}
