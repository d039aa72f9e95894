//! Python's `tempfile.mkstemp` and duplicity 3.2.1's `duplicity.tempdir`, each timing its
//! own loop with `perf_counter_ns` in one `python3` process (interpreter start-up is not
//! the library's cost).
//!
//! duplicity comes from PyPI into a venv under the target dir: `pip install --no-deps
//! duplicity==3.2.1 fasteners` (its `tempdir` needs nothing else; the other dependencies
//! are its backends').

use std::path::Path;
use std::process::Command;

use super::{Plan, Results, Sample};

/// One workload at one size: (workload, N, the time of each run in nanoseconds).
type Timings = (&'static str, u64, Vec<u64>);

const SCRIPT: &str = r#"
import os, sys, time, tempfile
mode, root, runs, min_files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "duplicity":
    from duplicity import tempdir

def w1(n):
    t = time.perf_counter_ns()
    if mode == "duplicity":
        td = tempdir.TemporaryDirectory(root)
        for _ in range(n):
            fd, _name = td.mkstemp()
            os.close(fd)
        td.cleanup()
    else:
        d = tempfile.mkdtemp(dir=root)
        names = []
        for _ in range(n):
            fd, name = tempfile.mkstemp(dir=d)
            os.close(fd)
            names.append(name)
        for name in names:
            os.unlink(name)
        os.rmdir(d)
    return time.perf_counter_ns() - t

def w2(n):
    t = time.perf_counter_ns()
    if mode == "duplicity":
        td = tempdir.TemporaryDirectory(root)
        for _ in range(n):
            fd, name = td.mkstemp()
            os.close(fd)
            os.unlink(name)
            td.forget(name)
        td.cleanup()
    else:
        d = tempfile.mkdtemp(dir=root)
        for _ in range(n):
            fd, name = tempfile.mkstemp(dir=d)
            os.close(fd)
            os.unlink(name)
        os.rmdir(d)
    return time.perf_counter_ns() - t

jobs = [(w, int(n)) for w, n in (a.split(":") for a in sys.argv[5:])]
out = {job: [] for job in jobs}
for _ in range(runs):
    for job in jobs:
        # As the native samples: repeated to min_files files, each run starting once the
        # kernel has freed the last run's inodes; the mean of the repetitions.
        reps = -(-min_files // max(job[1], 1))
        total = 0
        for _ in range(reps):
            time.sleep(0.05)
            total += (w1 if job[0] == "W1" else w2)(job[1])
        out[job].append(total // reps)
for (w, n), ns in out.items():
    print(w, n, " ".join(map(str, ns)))
"#;

/// Measures both Python comparators, or says in `results.skipped` why one could not run.
pub(crate) fn run(root: &Path, plan: &Plan, runs: usize, out_dir: &Path, results: &mut Results) {
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        results
            .skipped
            .push(format!("python: cannot create {}: {e}", out_dir.display()));
        return;
    }
    let script = out_dir.join("bench.py");
    if let Err(e) = std::fs::write(&script, SCRIPT) {
        results
            .skipped
            .push(format!("python: cannot write {}: {e}", script.display()));
        return;
    }
    let mut jobs: Vec<String> = plan.w1.iter().map(|n| format!("W1:{n}")).collect();
    jobs.push(format!("W2:{}", plan.w2));

    if Command::new("python3").arg("--version").output().is_err() {
        results
            .skipped
            .push("python, duplicity: skipped: no python3 on PATH".into());
        return;
    }
    eprintln!("bench: python tempfile.mkstemp");
    let how = Measure {
        script: &script,
        root,
        runs,
        min_files: plan.min_files,
        jobs: &jobs,
    };
    match measure("python3".as_ref(), "mkstemp", &how) {
        Ok(samples) => push(results, samples, "python mkstemp"),
        Err(e) => results
            .skipped
            .push(format!("python mkstemp: skipped: {e}")),
    }
    eprintln!("bench: duplicity 3.2.1 (venv under {})", out_dir.display());
    match duplicity_python(out_dir) {
        Ok(python) => match measure(&python, "duplicity", &how) {
            Ok(samples) => push(results, samples, "duplicity 3.2.1"),
            Err(e) => results.skipped.push(format!("duplicity: skipped: {e}")),
        },
        Err(e) => results.skipped.push(format!("duplicity: skipped: {e}")),
    }
}

fn push(results: &mut Results, samples: Vec<Timings>, name: &str) {
    for (workload, n, runs_ns) in samples {
        results.samples.push(Sample {
            workload,
            n,
            comparator: name.to_owned(),
            ops: n,
            runs_ns,
            baseline: "floor",
        });
    }
}

/// The venv's python with duplicity importable, made on first use.
fn duplicity_python(out_dir: &Path) -> Result<std::path::PathBuf, String> {
    let venv = out_dir.join("venv");
    let python = venv.join("bin").join("python");
    let importable = |python: &Path| {
        Command::new(python)
            .args(["-c", "from duplicity import tempdir"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if python.exists() && importable(&python) {
        return Ok(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| format!("python3 -m venv: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv failed: {}",
            last_line(&made.stderr)
        ));
    }
    let pip = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "duplicity==3.2.1",
            "fasteners",
        ])
        .output()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.status.success() {
        return Err(format!(
            "pip install duplicity==3.2.1 fasteners failed: {}",
            last_line(&pip.stderr)
        ));
    }
    if importable(&python) {
        Ok(python)
    } else {
        Err("installed, but `from duplicity import tempdir` fails".into())
    }
}

/// What the script is to measure, the same for both comparators.
struct Measure<'a> {
    script: &'a Path,
    root: &'a Path,
    runs: usize,
    min_files: u64,
    jobs: &'a [String],
}

fn measure(python: &Path, mode: &str, how: &Measure<'_>) -> Result<Vec<Timings>, String> {
    let out = Command::new(python)
        .arg(how.script)
        .arg(mode)
        .arg(how.root)
        .arg(how.runs.to_string())
        .arg(how.min_files.to_string())
        .args(how.jobs)
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!("the script failed: {}", last_line(&out.stderr)));
    }
    let mut samples = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut words = line.split_whitespace();
        let workload = match words.next() {
            Some("W1") => "W1",
            Some("W2") => "W2",
            _ => continue,
        };
        let n: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("bad line {line:?}"))?;
        let runs_ns: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
        samples.push((workload, n, runs_ns));
    }
    if samples.is_empty() {
        return Err("the script printed nothing".into());
    }
    Ok(samples)
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_owned()
}
