//! `cargo xtask bench`: `tempdirs` side by side with the syscall floor and what users would
//! pick instead (SPEC §7, issue 6).
//!
//! One run measures, on `/dev/shm` when it exists (else the system temp dir, said in the
//! output): the floor (`openat` create-new + `close` + `unlinkat` through one directory fd,
//! rustix), `tempdirs` on cap-std, the `tempfile` crate, `cap-tempfile`, Python's
//! `tempfile.mkstemp` and duplicity 3.2.1's `duplicity.tempdir`. Native comparators take
//! turns inside every run, so drift hits them alike; each figure is the median of the runs
//! and every ratio is to the floor measured in the same run.
//!
//! A debug build of xtask (what `cargo xtask` runs) only re-invokes itself built with
//! `--release`: timing unoptimised code would measure the compiler, not the library.

mod native;
mod python;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::project_root;

const USAGE: &str = "\
usage: cargo xtask bench [--quick] [--json] [--runs K] [--no-python]

  --quick      small N and 3 runs (for CI)
  --json       print the results as JSON instead of a table
  --runs K     runs per measurement (default 5, --quick 3); the median is reported
  --no-python  skip Python's tempfile and duplicity
  --profile WHAT N
               run one workload once, to profile it (strace -c -f, callgrind), in the
               release binary: WHAT is floor-w1, tempdirs-w1, tempdirs-w2, tempdirs-w3,
               tempdirs-w4 or tempdirs-status

The SVG plot and the JSON are also written to <target dir>/bench/.
";

/// What one invocation was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct Opts {
    pub quick: bool,
    pub json: bool,
    pub runs: usize,
    pub python: bool,
}

/// The sizes of every workload.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// W1: files per run, each N its own measurement.
    pub w1: Vec<u64>,
    /// W2: files per run.
    pub w2: u64,
    /// W3: names per run.
    pub w3: u64,
    /// W4: files per thread.
    pub w4: u64,
    /// W5: `status()` calls per run, and files per run of the safety-check breakdown.
    pub w5_status: u64,
    pub w5_files: u64,
    /// Files a sample of W1, W2, W4 or W5 is made of at least: the workload is repeated
    /// until it has made that many.
    pub min_files: u64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                w1: vec![100, 1_000, 5_000],
                w2: 2_000,
                w3: 20_000,
                w4: 2_000,
                w5_status: 20_000,
                w5_files: 2_000,
                min_files: 2_000,
            }
        } else {
            Plan {
                w1: vec![1_000, 10_000, 100_000],
                w2: 10_000,
                w3: 1_000_000,
                w4: 10_000,
                w5_status: 200_000,
                w5_files: 10_000,
                min_files: 20_000,
            }
        }
    }
}

/// One measurement: a comparator on a workload at one size, over every run.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub workload: &'static str,
    /// The size the workload was run at (files, names or calls per run).
    pub n: u64,
    pub comparator: String,
    /// Operations per run, to turn a run's time into a cost per operation.
    pub ops: u64,
    /// Wall time of each run, in nanoseconds.
    pub runs_ns: Vec<u64>,
    /// The comparator this one is a ratio to (`floor` mostly).
    pub baseline: &'static str,
}

impl Sample {
    pub fn median_ns(&self) -> u64 {
        median(&self.runs_ns)
    }

    pub fn per_op_ns(&self) -> f64 {
        self.median_ns() as f64 / self.ops.max(1) as f64
    }
}

/// W3's memory figures, measured in a fresh process so earlier workloads do not hide them.
#[derive(Clone, Debug)]
pub(crate) struct Memory {
    pub names: u64,
    /// Peak RSS growth over the loop (VmHWM after minus VmRSS before), per name.
    pub peak_per_name: f64,
    /// RSS growth that stays while the names are tracked, per name.
    pub steady_per_name: f64,
    /// The average length of a name (its file-name part), the "name itself".
    pub name_len: f64,
}

/// Everything one run found.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub root: String,
    pub tmpfs: bool,
    pub machine: String,
    pub runs: usize,
    pub quick: bool,
    pub samples: Vec<Sample>,
    pub memory: Option<Memory>,
    /// What could not be measured, and why.
    pub skipped: Vec<String>,
}

impl Results {
    pub fn find(&self, workload: &str, n: u64, comparator: &str) -> Option<&Sample> {
        self.samples
            .iter()
            .find(|s| s.workload == workload && s.n == n && s.comparator == comparator)
    }

    /// The sample's median over its baseline's, at the same workload and size.
    pub fn ratio(&self, s: &Sample) -> Option<f64> {
        if s.comparator == s.baseline {
            return Some(1.0);
        }
        let base = self.find(s.workload, s.n, s.baseline)?;
        Some(s.per_op_ns() / base.per_op_ns())
    }
}

pub(crate) fn median(v: &[u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let mut sorted = v.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        json: false,
        runs: 0,
        python: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--no-python" => o.python = false,
            "--runs" => {
                let v = it.next().ok_or("--runs needs a number")?;
                o.runs = v
                    .parse()
                    .map_err(|_| format!("--runs: not a number: {v}"))?;
                if o.runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.runs == 0 {
        o.runs = if o.quick { 3 } else { 5 };
    }
    Ok(o)
}

/// Entry point of `cargo xtask bench`.
pub fn run(args: Vec<String>) -> ExitCode {
    // The W3 memory probe runs in a process of its own (see `native::memory_child`).
    if let [flag, n, root] = args.as_slice()
        && flag == "--w3-memory-child"
    {
        return native::memory_child(n, root);
    }
    // One workload of one comparator, once, for `strace -c -f` or `valgrind --tool=callgrind`.
    if let [flag, what, n] = args.as_slice()
        && flag == "--profile"
    {
        return native::profile(what, n, &bench_base().0);
    }
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        return reinvoke_release(&args);
    }
    match run_all(&opts) {
        Ok(results) => {
            let out = target_dir().join("bench");
            if let Err(e) = report::write_files(&results, &out) {
                eprintln!("error: cannot write to {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            if opts.json {
                println!("{}", report::json(&results));
            } else {
                print!("{}", report::table(&results));
                println!(
                    "\nplot: {}\njson: {}",
                    out.join("w1.svg").display(),
                    out.join("bench.json").display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs this same command from a release build of xtask.
fn reinvoke_release(args: &[String]) -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: building xtask with --release (timing a debug build would mislead)");
    let status = Command::new(cargo)
        .current_dir(project_root())
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "xtask",
            "--",
            "bench",
        ])
        .args(args)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().map_or(1, |c| c.clamp(1, 255) as u8)),
        Err(e) => {
            eprintln!("error: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_all(opts: &Opts) -> Result<Results, String> {
    let (base, tmpfs) = bench_base();
    // A private folder, so nothing else in the root adds to the work (cap-tempfile scans
    // its parent to find its own name) and nothing is left behind when a run fails.
    let root = base.join(format!("tempdirs-bench-{}", std::process::id()));
    std::fs::create_dir(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let plan = Plan::new(opts.quick);
    let mut results = Results {
        root: root.display().to_string(),
        tmpfs,
        machine: machine(),
        runs: opts.runs,
        quick: opts.quick,
        ..Results::default()
    };
    eprintln!(
        "bench: in {} ({}), {} runs each{}",
        root.display(),
        if tmpfs {
            "tmpfs"
        } else {
            "not tmpfs: the system temp dir"
        },
        opts.runs,
        if opts.quick { ", quick sizes" } else { "" }
    );
    let outcome = (|| {
        native::run(&root, &plan, opts.runs, &mut results)?;
        if opts.python {
            python::run(
                &root,
                &plan,
                opts.runs,
                &target_dir().join("bench"),
                &mut results,
            );
        } else {
            results
                .skipped
                .push("python, duplicity: skipped (--no-python)".into());
        }
        Ok::<(), String>(())
    })();
    let _ = std::fs::remove_dir(&root);
    outcome.map(|()| results)
}

/// `/dev/shm` when it is a directory, else the system temp dir; and whether it is tmpfs.
fn bench_base() -> (PathBuf, bool) {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let tmpfs = is_tmpfs(&base);
    (base, tmpfs)
}

/// Whether `dir` is a tmpfs mount point, by `/proc/self/mounts`.
fn is_tmpfs(dir: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let want = dir.to_string_lossy();
    mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (_, at, kind) = (f.next(), f.next(), f.next());
        at == Some(&want) && kind == Some("tmpfs")
    })
}

/// The CPU model, its count and the kernel, to name the machine in the output.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| std::env::consts::OS.into());
    format!("{cpu}, {cores} cores, Linux {kernel}")
}

/// Cargo's target directory (honouring `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                project_root().join(dir)
            }
        }
        None => project_root().join("target"),
    }
}
