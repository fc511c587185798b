//! With the `mpi` feature: compiles the one-line C shim that gives Rust `MPI_IN_PLACE`, with
//! the MPI library's compiler wrapper (or its include paths), as the `mpi` crate builds its own.

fn main() {
    println!("cargo:rerun-if-changed=csrc/mpi_in_place.c");
    #[cfg(feature = "mpi")]
    mpi_shim();
}

#[cfg(feature = "mpi")]
fn mpi_shim() {
    let lib = build_probe_mpi::probe().unwrap_or_else(|errs| {
        let why: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        panic!(
            "the mpi feature needs an MPI library (e.g. Debian's libopenmpi-dev): {}",
            why.join("; ")
        )
    });
    let mut build = cc::Build::new();
    build.file("csrc/mpi_in_place.c");
    match lib.mpicc {
        Some(mpicc) => {
            build.compiler(mpicc);
        }
        None => {
            for inc in &lib.include_paths {
                build.include(inc);
            }
        }
    }
    build.compile("duet_mpi_in_place");
}
