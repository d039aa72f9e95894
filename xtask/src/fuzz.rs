//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs each cargo-fuzz target of `fuzz/`
//! for a bounded time (30 s by default) on nightly, keeping what it finds in
//! `fuzz/corpus/<target>` (the `seed-*` files there are committed; the rest stays local).
//! Installs `cargo-fuzz` if it is missing. A crash fails the command; libFuzzer's
//! reproducer lands in `fuzz/artifacts/<target>`.

use std::process::{Command, ExitCode};

const TARGETS: [&str; 2] = ["names", "ops"];
const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [names|ops]...";

pub fn run(args: Vec<String>) -> ExitCode {
    let mut seconds = 30u64;
    let mut targets = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => seconds = n,
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::FAILURE;
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            t if TARGETS.contains(&t) => targets.push(t.to_owned()),
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                return ExitCode::FAILURE;
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    let fuzz_dir = crate::project_root().join("fuzz");
    let has_cargo_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        let installed = Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!("cannot install cargo-fuzz");
            return ExitCode::FAILURE;
        }
    }
    for target in &targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        if let Err(e) = std::fs::create_dir_all(&corpus) {
            eprintln!("cannot make {}: {e}", corpus.display());
            return ExitCode::FAILURE;
        }
        println!("== fuzz {target} for {seconds} s");
        // Outside the workspace's target dir: a nightly sanitizer build would only evict
        // the stable artefacts there.
        let status = Command::new("cargo")
            .current_dir(&fuzz_dir)
            .env("CARGO_TARGET_DIR", fuzz_dir.join("target"))
            .args(["+nightly", "fuzz", "run", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("fuzz target {target} failed ({s}): see fuzz/artifacts/{target}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("cannot run cargo fuzz: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
