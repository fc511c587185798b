//! The `duet` command. See `duet --help` and the README.

/// mimalloc, keeping freed memory (see `duet_examples::alloc`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    duet_examples::alloc::keep_freed_memory();
    // The main thread joins the CPU backend's thread pool (10-20% on small models); it cannot
    // fail here, before any parallel work, and the program would only run slower if it did.
    if let Err(e) = duet_core::init_cpu_threads(None) {
        eprintln!("warning: {e}");
    }
    std::process::exit(duet_examples::cli::main());
}
