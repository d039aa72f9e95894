//! Python's `tempfile.mkstemp` and duplicity 3.2.1's `duplicity.tempdir`, each timing its
//! own loop with `perf_counter_ns` in a `python3` process started for each run
//! (interpreter start-up is not the library's cost). Both work by path, so they resolve
//! the root inside the timed region as every comparator does.
//!
//! duplicity comes from PyPI into a venv under the target dir: `pip install --no-deps
//! duplicity==3.2.1 fasteners` (its `tempdir` needs nothing else; the other dependencies
//! are its backends').

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Plan, Results, Row};

const PYTHON: &str = "python mkstemp";
const DUPLICITY: &str = "duplicity 3.2.1";

const SCRIPT: &str = r#"
import os, sys, time, tempfile
mode, root, min_files = sys.argv[1], sys.argv[2], int(sys.argv[3])
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

# One run of each job, in order: the caller pairs run i with the native run i.
for arg in sys.argv[4:]:
    w, n = arg.split(":")
    n = int(n)
    # As the native samples: repeated to min_files files, each repetition starting once the
    # kernel has freed the last one's inodes; the mean of the repetitions.
    reps = -(-min_files // max(n, 1))
    total = 0
    for _ in range(reps):
        time.sleep(0.05)
        total += (w1 if w == "W1" else w2)(n)
    print(w, n, total // reps)
"#;

/// The Python comparators that can run here: each interpreter with what it measures.
pub(crate) struct Pythons {
    script: PathBuf,
    /// (comparator, interpreter, the script's mode) of each that is still measured.
    comparators: Vec<(&'static str, PathBuf, &'static str)>,
}

impl Pythons {
    /// None at all (`--no-python`).
    pub(crate) fn none() -> Pythons {
        Pythons {
            script: PathBuf::new(),
            comparators: Vec::new(),
        }
    }

    /// Writes the script into `out_dir` and finds both interpreters (making duplicity's
    /// venv on first use); what cannot run is said in `skipped`.
    pub(crate) fn set_up(out_dir: &Path, skipped: &mut Vec<String>) -> Pythons {
        let mut found = Pythons::none();
        if let Err(e) = std::fs::create_dir_all(out_dir) {
            skipped.push(format!("python: cannot create {}: {e}", out_dir.display()));
            return found;
        }
        found.script = out_dir.join("bench.py");
        if let Err(e) = std::fs::write(&found.script, SCRIPT) {
            skipped.push(format!(
                "python: cannot write {}: {e}",
                found.script.display()
            ));
            return found;
        }
        if Command::new("python3").arg("--version").output().is_err() {
            skipped.push("python, duplicity: skipped: no python3 on PATH".into());
            return found;
        }
        found
            .comparators
            .push((PYTHON, PathBuf::from("python3"), "mkstemp"));
        eprintln!("bench: duplicity 3.2.1 (venv under {})", out_dir.display());
        match duplicity_python(out_dir) {
            Ok(python) => found.comparators.push((DUPLICITY, python, "duplicity")),
            Err(e) => skipped.push(format!("duplicity: skipped: {e}")),
        }
        found
    }

    /// One run of every Python comparator, recorded as the next run of its samples. One
    /// that fails is dropped with every run it had, so that runs stay paired by index.
    pub(crate) fn run_once(&mut self, root: &Path, plan: &Plan, results: &mut Results) {
        let mut jobs: Vec<(&'static str, u64)> = plan.w1.iter().map(|&n| ("W1", n)).collect();
        jobs.push(("W2", plan.w2));
        let script = &self.script;
        self.comparators.retain(|&(name, ref python, mode)| {
            eprintln!("bench: {name}");
            match measure(python, script, mode, root, plan.min_files, &jobs) {
                Ok(timings) => {
                    for ((workload, n), ns) in jobs.iter().zip(timings) {
                        let row = Row {
                            workload,
                            n: *n,
                            comparator: name,
                            ops: *n,
                            baseline: "floor",
                        };
                        results.record(row, ns);
                    }
                    true
                }
                Err(e) => {
                    results.samples.retain(|s| s.comparator != name);
                    results.skipped.push(format!("{name}: skipped: {e}"));
                    false
                }
            }
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

/// One run of every job in `jobs` (workload, N) by `python`: the time of each, in order.
fn measure(
    python: &Path,
    script: &Path,
    mode: &str,
    root: &Path,
    min_files: u64,
    jobs: &[(&'static str, u64)],
) -> Result<Vec<u64>, String> {
    let out = Command::new(python)
        .arg(script)
        .arg(mode)
        .arg(root)
        .arg(min_files.to_string())
        .args(jobs.iter().map(|(w, n)| format!("{w}:{n}")))
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!("the script failed: {}", last_line(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<u64> = text
        .lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let (w, n, ns) = (words.next(), words.next(), words.next());
            ns.and_then(|ns| ns.parse().ok())
                .filter(|_| w.is_some() && n.is_some())
                .ok_or_else(|| format!("bad line {line:?}"))
        })
        .collect::<Result<_, _>>()?;
    if times.len() != jobs.len() {
        return Err(format!(
            "the script printed {} timings for {} jobs",
            times.len(),
            jobs.len()
        ));
    }
    Ok(times)
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_owned()
}
