//! `cargo xtask build-cost`: what depending on `tempdirs` costs a user's cold build, side
//! by side with the `tempfile` crate.
//!
//! Two hello-world programs are made under `<target>/build-cost/`: one creating a file with
//! `tempdirs`, one with `tempfile`. Each is built cold (`cargo build --release` into an
//! emptied target directory), taking turns, so that drift on a shared machine hits both
//! alike. The table gives the crates compiled, the median wall time and the ratio; the
//! breakdown gives each crate's own compile time from cargo's `--timings` report, marking
//! the crates `cap-std` brings, which `tempdirs` cannot trim.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::project_root;

const USAGE: &str = "\
usage: cargo xtask build-cost [--runs K]

  --runs K   cold builds of each program (default 3); the median is reported";

/// The ratio the project aims for: a user's cold build with tempdirs at most twice
/// tempfile's.
const TARGET_RATIO: f64 = 2.0;

pub fn run(args: Vec<String>) -> ExitCode {
    let mut runs = 3;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|k| k.parse().ok())) {
            ("--runs", Some(k)) if k > 0 => runs = k,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::FAILURE;
            }
        }
    }
    match measure(runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("build-cost: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One of the two programs.
struct Program {
    name: &'static str,
    dir: PathBuf,
    /// Wall time of each cold build, in seconds.
    times: Vec<f64>,
    /// Crates compiled by the last build.
    crates: usize,
    /// `(crate, seconds)` from the last build's timings, slowest first.
    units: Vec<(String, f64)>,
}

fn measure(runs: usize) -> Result<(), String> {
    let base = target_dir()?.join("build-cost");
    let tempdirs_path = project_root().join("crates/tempdirs");
    let mut programs = [
        program(
            &base,
            "hello-tempdirs",
            &format!(
                "tempdirs = {{ path = {:?} }}",
                tempdirs_path.display().to_string()
            ),
            "let tmp = tempdirs::TemporaryDirectory::new()?;\n    \
             let (mut file, _path) = tmp.mkstemp()?;",
        )?,
        program(
            &base,
            "hello-tempfile",
            "tempfile = \"3.27\"",
            "let mut file = tempfile::NamedTempFile::new()?;",
        )?,
    ];
    for run in 0..runs {
        for program in &mut programs {
            eprintln!("cold build {} of {runs}: {}", run + 1, program.name);
            build(program)?;
        }
    }
    let from_cap_std = cap_std_crates(&programs[0].dir)?;
    report(&programs, &from_cap_std);
    Ok(())
}

/// Writes the program's manifest and main.
fn program(
    base: &Path,
    name: &'static str,
    dependency: &str,
    body: &str,
) -> Result<Program, String> {
    let dir = base.join(name);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{dependency}\n\n[workspace]\n"
    );
    let main = format!(
        "use std::io::Write;\n\nfn main() -> Result<(), Box<dyn std::error::Error>> {{\n    \
         {body}\n    file.write_all(b\"hello\")?;\n    println!(\"hello\");\n    Ok(())\n}}\n"
    );
    for (file, text) in [("Cargo.toml", manifest), ("src/main.rs", main)] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(Program {
        name,
        dir,
        times: Vec::new(),
        crates: 0,
        units: Vec::new(),
    })
}

/// One cold release build, timed, with cargo's timings report.
fn build(program: &mut Program) -> Result<(), String> {
    let target = program.dir.join("target");
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    let started = Instant::now();
    let output = Command::new(cargo())
        .args(["build", "--release", "--timings", "--message-format=json"])
        .current_dir(&program.dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!(
            "building {} failed:\n{}",
            program.name,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    program.times.push(elapsed);
    program.crates = compiled_crates(&output.stdout);
    program.units = timings(&target.join("cargo-timings/cargo-timing.html"))?;
    Ok(())
}

/// How many crates the build compiled (build scripts and the program itself included).
fn compiled_crates(messages: &[u8]) -> usize {
    let mut packages = BTreeSet::new();
    for line in messages.split(|&b| b == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && let Some(id) = message["package_id"].as_str()
        {
            packages.insert(id.to_owned());
        }
    }
    packages.len()
}

/// Each unit's own compile time, from the `UNIT_DATA` array cargo's timings page embeds,
/// summed per crate and sorted slowest first.
fn timings(html: &Path) -> Result<Vec<(String, f64)>, String> {
    let page = std::fs::read_to_string(html).map_err(|e| format!("{}: {e}", html.display()))?;
    let start = page
        .find("UNIT_DATA = ")
        .ok_or("no UNIT_DATA in cargo's timings report")?
        + "UNIT_DATA = ".len();
    let mut stream =
        serde_json::Deserializer::from_str(&page[start..]).into_iter::<serde_json::Value>();
    let data = stream
        .next()
        .ok_or("empty UNIT_DATA")?
        .map_err(|e| format!("cargo's timings report: {e}"))?;
    let mut per_crate: Vec<(String, f64)> = Vec::new();
    for unit in data.as_array().ok_or("UNIT_DATA is not an array")? {
        let name = unit["name"].as_str().unwrap_or("?").to_owned();
        let duration = unit["duration"].as_f64().unwrap_or(0.0);
        match per_crate.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += duration,
            None => per_crate.push((name, duration)),
        }
    }
    per_crate.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(per_crate)
}

/// The crates `cap-std` pulls into the tempdirs program.
fn cap_std_crates(dir: &Path) -> Result<BTreeSet<String>, String> {
    let output = Command::new(cargo())
        .args(["tree", "-p", "cap-std", "-e", "normal", "--prefix", "none"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(|name| name.replace('-', "_"))
        .collect())
}

fn report(programs: &[Program], from_cap_std: &BTreeSet<String>) {
    let median = |times: &[f64]| {
        let mut sorted = times.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    println!(
        "cold release build of a hello world, median of {} runs each",
        programs[0].times.len()
    );
    println!("{:<16} {:>7} {:>9}", "program", "crates", "seconds");
    for program in programs {
        println!(
            "{:<16} {:>7} {:>9.1}",
            program.name,
            program.crates,
            median(&program.times)
        );
    }
    let ratio = median(&programs[0].times) / median(&programs[1].times);
    let verdict = if ratio <= TARGET_RATIO {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "ratio tempdirs / tempfile: {ratio:.2}x (target at most {TARGET_RATIO:.1}x: {verdict})"
    );
    println!("\nwhere hello-tempdirs' build time goes (each crate's own compile time, s):");
    let mut cap_std_total = 0.0;
    for (name, seconds) in &programs[0].units {
        let mark = if from_cap_std.contains(&name.replace('-', "_")) {
            cap_std_total += seconds;
            "  (cap-std)"
        } else {
            ""
        };
        println!("  {name:<24} {seconds:>6.2}{mark}");
    }
    println!("  crates cap-std brings: {cap_std_total:.2} s of compile time in all");
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Where cargo puts this workspace's build output.
fn target_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    Ok(project_root().join("target"))
}
