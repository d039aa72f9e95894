//! Project automation, as a binary: `cargo xtask <command>` (the alias is in
//! `.cargo/config.toml`). One module per command; each takes its own arguments.
//!
//! - `race`: tmpwatch-race scenarios, path-based reference against the handle-based
//!   backends (the project's main job).
//! - `bench`: side by side with the syscall floor, `tempfile`, `cap-tempfile`, Python and
//!   duplicity.
//! - `wasi`: the tests on `wasm32-wasip1` under wasmtime, with one preopened directory.
//! - `build-cost`: a user's cold build with `tempdirs` beside one with `tempfile`.

mod bench;
mod build_cost;
mod fuzz;
mod json;
mod race;
mod wasi;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Mutex, MutexGuard, PoisonError};

const USAGE: &str = "usage: cargo xtask <command> [args]

commands:
  race    tmpwatch-race scenarios: duplicity's path algorithm vs. tempdirs' handles
  bench   performance next to the syscall floor and the alternatives (--help for more)
  fuzz    the cargo-fuzz targets of fuzz/, 30 s each (--seconds N)
  wasi    the tests on wasm32-wasip1 under wasmtime, one preopened directory
  build-cost
          a cold build of a hello world with tempdirs beside one with tempfile";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let rest: Vec<String> = args.collect();
    match command.as_str() {
        "race" => race::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "wasi" => wasi::run(rest),
        "build-cost" => build_cost::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// Takes `m`'s lock, poisoned or not: a thread that panicked holding it fails its own
/// run, and the others still report.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The workspace's root directory.
fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}
