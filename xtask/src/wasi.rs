//! `cargo xtask wasi [-- TEST ARGS]`: the tests on `wasm32-wasip1`, under wasmtime, with
//! one preopened scratch directory and nothing else of the host.
//!
//! Two libtest binaries run: `tempdir-cap-std`'s unit tests (the backend alone) and the
//! root package's integration tests (`tests/it`, the conformance suite on real WASI
//! directories). Each sees its own fresh scratch directory at `/sandbox`, named by
//! `TEMPDIRS_WASI_ROOT`. Arguments after `--` go to both (a filter, `--ignored`).
//!
//! What it needs, installed when missing: the `wasm32-wasip1` target (rustup) and the
//! PyPI `wasmtime` wheel in a venv under the target dir (a registry package: no wasmtime
//! CLI download, and building wasmtime-cli from crates.io takes too long on 2 cores).
//! `xtask/wasi_runner.py` drives wasmtime, counts results and `unsupported:` lines, and
//! reruns past a test that aborted (wasip1 aborts on panic).
//!
//! cap-std and its helpers use std's unstable WASI extensions (`#![feature(wasi_ext)]`),
//! so the build runs with `RUSTC_BOOTSTRAP=1`, in a target dir of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const TARGET: &str = "wasm32-wasip1";
const GUEST_DIR: &str = "/sandbox";
const USAGE: &str = "usage: cargo xtask wasi [-- TEST ARGS]

Builds the tests for wasm32-wasip1 and runs them under wasmtime with one preopened
scratch directory (at /sandbox, named by TEMPDIRS_WASI_ROOT). TEST ARGS go to libtest.";

/// The test binaries: a label and the `cargo test` arguments that build it.
const BINARIES: [(&str, &[&str]); 2] = [
    (
        "tempdir-cap-std (unit)",
        &["-p", "tempdir-cap-std", "--lib"],
    ),
    ("tests/it", &["-p", "tempdirs-tests", "--test", "it"]),
];

pub fn run(args: Vec<String>) -> ExitCode {
    let test_args = match args.first().map(String::as_str) {
        None => Vec::new(),
        Some("--") => args[1..].to_vec(),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("unknown argument {other:?}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match run_all(&test_args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask wasi: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(true)` when every binary passed.
fn run_all(test_args: &[String]) -> Result<bool, String> {
    let root = crate::project_root();
    let work = target_dir(&root).join("wasi");
    ensure_target()?;
    let python = ensure_wasmtime(&work)?;
    let runner = root.join("xtask").join("wasi_runner.py");
    let mut all_passed = true;
    for (label, cargo_args) in BINARIES {
        println!("== {label}: building for {TARGET}");
        let wasm = build(&root, &work, cargo_args)?;
        let scratch = work.join(format!("scratch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        println!(
            "== {label}: running {} in wasmtime, preopen {GUEST_DIR} = {}",
            file_name(&wasm),
            scratch.display()
        );
        let status = Command::new(&python)
            .arg(&runner)
            .arg(&wasm)
            .arg(&scratch)
            .arg(GUEST_DIR)
            .args(test_args)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", runner.display()))?;
        all_passed &= status.success();
        // Every test removes its fixture; whatever is left is a leak worth a look.
        let left: Vec<String> = std::fs::read_dir(&scratch)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !left.is_empty() {
            println!(
                "wasi: left in the sandbox after {label}: {}",
                left.join(", ")
            );
        }
        // The scratch directory is this command's own fixture: its recursive delete is
        // ours, not the library's.
        let _ = std::fs::remove_dir_all(&scratch);
        println!(
            "== {label}: {}",
            if status.success() { "passed" } else { "FAILED" }
        );
    }
    Ok(all_passed)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn ensure_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == TARGET)
    {
        return Ok(());
    }
    println!("== installing the {TARGET} target");
    check(
        Command::new("rustup").args(["target", "add", TARGET]),
        "rustup target add",
    )
}

/// The venv's python, with the `wasmtime` wheel importable.
fn ensure_wasmtime(work: &Path) -> Result<PathBuf, String> {
    let venv = work.join("venv");
    let python = venv.join("bin").join("python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import wasmtime"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    println!(
        "== installing wasmtime (PyPI wheel) into {}",
        venv.display()
    );
    check(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    )?;
    check(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", "wasmtime"]),
        "pip install wasmtime",
    )?;
    if ready(&python) {
        Ok(python)
    } else {
        Err("wasmtime was installed but does not import".into())
    }
}

/// Builds one test binary and returns its `.wasm`, found in cargo's JSON messages.
fn build(root: &Path, work: &Path, cargo_args: &[&str]) -> Result<PathBuf, String> {
    let cargo = |format: Option<&str>| {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(root)
            // cap-std, cap-primitives, io-extras, fs-set-times and rustix use
            // `#![feature(wasi_ext)]` on WASI.
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", work.join("cargo"))
            .args(["test", "--target", TARGET, "--no-run"])
            .args(format)
            .args(cargo_args);
        command
    };
    let output = cargo(Some("--message-format=json"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        // The JSON messages hide the diagnostics: build again for people to read them.
        let _ = cargo(None).status();
        return Err(format!(
            "cargo test {} --no-run failed",
            cargo_args.join(" ")
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let wasm: Vec<PathBuf> = stdout
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter_map(executable)
        .collect();
    match wasm.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(format!(
            "expected one test binary from cargo test {}, found {}",
            cargo_args.join(" "),
            other.len()
        )),
    }
}

/// The `"executable"` of one cargo JSON message, when it is a string (no JSON parser: the
/// paths cargo writes here are plain).
fn executable(line: &str) -> Option<PathBuf> {
    const KEY: &str = r#""executable":""#;
    let start = line.find(KEY)? + KEY.len();
    let end = start + line[start..].find('"')?;
    let path = &line[start..end];
    (!path.contains('\\')).then(|| PathBuf::from(path))
}

fn check(command: &mut Command, what: &str) -> Result<(), String> {
    match command.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} failed ({s})")),
        Err(e) => Err(format!("cannot run {what}: {e}")),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::executable;

    #[test]
    fn finds_the_executable_in_a_cargo_message() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"it"},"executable":"/t/wasm32-wasip1/debug/deps/it-0a1b.wasm","fresh":true}"#;
        assert_eq!(
            executable(line).as_deref(),
            Some(std::path::Path::new(
                "/t/wasm32-wasip1/debug/deps/it-0a1b.wasm"
            ))
        );
        assert_eq!(executable(r#"{"executable":null}"#), None);
    }
}
