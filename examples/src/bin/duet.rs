//! The `duet` command. See `duet --help` and the README.
fn main() {
    std::process::exit(duet_examples::cli::main());
}
