//! `cargo xtask bench`: `tempdirs` side by side with the syscall floor and what users would
//! pick instead.
//!
//! One run measures, on `/dev/shm` when it exists (else the system temp dir, said in the
//! output): the floor (`openat` create-new + `close` + `unlinkat` through one directory fd,
//! rustix), `tempdirs` on cap-std, the `tempfile` crate, `cap-tempfile`, Python's
//! `tempfile.mkstemp` and duplicity 3.2.1's `duplicity.tempdir`.
//!
//! **What is timed.** Every timed region of W1, W2 and W4 starts from the root's *path* and
//! ends with the comparator's directory gone: each comparator opens or resolves the root,
//! makes its directory, does the work and removes everything inside the region. The floor
//! opens the root with `open`, `cap-tempfile` with `Dir::open_ambient_dir`, `tempdirs` in
//! `new_in`; `tempfile`, Python and duplicity resolve the root's path in every call they
//! make. W3 and W5 time only their loop, and every comparator's setup lies outside it.
//!
//! **Ratios.** Within one run every comparator takes its turn (the native ones repetition
//! by repetition, forward and then backward, in an order that rotates from run to run;
//! Python's and duplicity's after them), so drift hits them alike. A ratio is taken per
//! run, a comparator's time over its baseline's time in that same run, and the table
//! reports the median of those per-run ratios; times are medians of the runs.
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
  --runs K     runs per measurement (default 5, --quick 3); ratios are the median of
               the per-run ratios
  --no-python  skip Python's tempfile and duplicity
  --breakdown  add rows that split tempdirs' distance to the floor: to W1 and W2, the
               floor with unguessable names, a path per file, locks and tracking (what
               any library with these calls pays); to W1, tempdirs' mkstemp with the
               floor's unlinks
  --phases K   instead of the table: W1 at N = 1,000, tempdirs and the floor taking
               turns K times, and per phase (directory made, files made, all removed)
               the median ratio over the pairs, with the quartiles; then W2 at
               N = 1,000, K pairs alike
  --profile WHAT N
               run one workload once, to profile it (strace -c -f, perf stat), in the
               release binary: WHAT is floor-w1, floor-w2, floor-w4, floor-status,
               floor-as-library-w2, tempdirs-w1, tempdirs-w2, tempdirs-w3, tempdirs-w4
               or tempdirs-status

The SVG plot and the JSON are also written to <target dir>/bench/.
";

/// What one invocation was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct Opts {
    pub quick: bool,
    pub json: bool,
    pub runs: usize,
    pub python: bool,
    pub breakdown: bool,
    /// `--phases K`: pairs to time W1's phases and W2 in, instead of the table.
    pub phases: Option<usize>,
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
    /// W5: `status()` calls per run.
    pub w5: u64,
    /// Files a sample of W1, W2 or W4 is made of at least: the workload is repeated until
    /// it has made that many.
    pub min_files: u64,
    /// Repetitions a sample of W1, W2 or W4 takes at least, however many files one makes.
    pub min_reps: u64,
    /// The extra rows of W1 and W2 (`--breakdown`).
    pub breakdown: bool,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                w1: vec![100, 1_000, 5_000],
                w2: 2_000,
                w3: 20_000,
                w4: 2_000,
                w5: 20_000,
                min_files: 2_000,
                min_reps: 1,
                breakdown: false,
            }
        } else {
            Plan {
                w1: vec![1_000, 10_000, 100_000],
                w2: 10_000,
                w3: 1_000_000,
                w4: 10_000,
                w5: 200_000,
                // W2 (10,000 files) and W4 (20,000) then take 6 and 4 repetitions a run
                // (a count above one is rounded up to pairs): with one or two, one hiccup
                // of a neighbour on this shared machine decided a run's ratio.
                min_files: 50_000,
                // W1 at N = 100,000 is then 4 repetitions a run, not 1. Its runs make and
                // free about 100 MB of the kernel's memory each, and how long that takes
                // varies with the memory's state, by up to 10% between two runs of the
                // floor itself: one repetition a run left a run's ratio to chance.
                min_reps: 4,
                breakdown: false,
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
    /// Wall time of each run, in nanoseconds, in run order: entry `i` is run `i` for every
    /// sample, which is what pairs a comparator with its baseline.
    pub runs_ns: Vec<u64>,
    /// The comparator this one is a ratio to (`floor` mostly).
    pub baseline: &'static str,
}

impl Sample {
    pub fn median_ns(&self) -> f64 {
        median(self.runs_ns.iter().map(|&ns| ns as f64).collect())
    }

    pub fn per_op_ns(&self) -> f64 {
        self.median_ns() / self.ops.max(1) as f64
    }

    /// Each run's time per operation.
    fn per_op_runs(&self) -> impl Iterator<Item = f64> + '_ {
        let ops = self.ops.max(1) as f64;
        self.runs_ns.iter().map(move |&ns| ns as f64 / ops)
    }
}

/// W3's memory figures, each measured in a fresh process so earlier workloads do not hide
/// them: peak RSS growth (VmHWM after minus VmRSS before) per tracked name.
#[derive(Clone, Debug)]
pub(crate) struct Memory {
    /// Names tracked at the end of each probe.
    pub names: u64,
    /// `mktemp` names one after another: the tracked set's best case.
    pub in_order_per_name: f64,
    /// Every other name forgotten as soon as it is handed out, so that no two tracked
    /// names are neighbours: its worst case.
    pub apart_per_name: f64,
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

    /// Adds run `ns` of (`workload`, `n`, `comparator`): the next run of that sample.
    pub fn record(&mut self, row: Row, ns: u64) {
        let Row {
            workload,
            n,
            comparator,
            ops,
            baseline,
        } = row;
        if let Some(s) = self
            .samples
            .iter_mut()
            .find(|s| s.workload == workload && s.n == n && s.comparator == comparator)
        {
            s.runs_ns.push(ns);
            return;
        }
        self.samples.push(Sample {
            workload,
            n,
            comparator: comparator.to_owned(),
            ops,
            runs_ns: vec![ns],
            baseline,
        });
    }

    /// The per-run ratios of the sample to its baseline, at the same workload and size.
    pub fn run_ratios(&self, s: &Sample) -> Option<Vec<f64>> {
        let base = self.find(s.workload, s.n, s.baseline)?;
        Some(per_run_ratios(s, base))
    }

    /// The median of [`run_ratios`](Self::run_ratios).
    pub fn ratio(&self, s: &Sample) -> Option<f64> {
        self.run_ratios(s).map(median)
    }

    /// The median over runs of `comparator`'s time per operation over `other`'s, both at
    /// (`workload`, `n`); `None` when either was not measured.
    pub fn ratio_between(
        &self,
        workload: &str,
        n: u64,
        comparator: &str,
        other: &str,
    ) -> Option<f64> {
        let a = self.find(workload, n, comparator)?;
        let b = self.find(workload, n, other)?;
        Some(median(per_run_ratios(a, b)))
    }
}

/// What a measurement is: every run of it records one time under the same row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    pub workload: &'static str,
    pub n: u64,
    pub comparator: &'static str,
    pub ops: u64,
    pub baseline: &'static str,
}

/// Run `i` of `a` over run `i` of `b`, per operation, for every run both have.
fn per_run_ratios(a: &Sample, b: &Sample) -> Vec<f64> {
    a.per_op_runs()
        .zip(b.per_op_runs())
        .map(|(a, b)| a / b)
        .collect()
}

/// The median of `v` (the mean of the middle two for an even count); NaN when empty.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        json: false,
        runs: 0,
        python: true,
        breakdown: false,
        phases: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--no-python" => o.python = false,
            "--breakdown" => o.breakdown = true,
            "--runs" => {
                let v = it.next().ok_or("--runs needs a number")?;
                o.runs = v
                    .parse()
                    .map_err(|_| format!("--runs: not a number: {v}"))?;
                if o.runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "--phases" => {
                let v = it.next().ok_or("--phases needs a number")?;
                match v.parse() {
                    Ok(pairs) if pairs > 0 => o.phases = Some(pairs),
                    _ => return Err(format!("--phases: not a number of pairs: {v}")),
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
    if let [flag, n, apart, root] = args.as_slice()
        && flag == "--w3-memory-child"
    {
        return native::memory_child(n, apart == "apart", root);
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
    if let Some(pairs) = opts.phases {
        return phases(pairs);
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

/// `--phases K`: W1's phases and W2, tempdirs against the floor, printed.
fn phases(pairs: usize) -> ExitCode {
    const N: u64 = 1_000;
    let root = bench_base()
        .0
        .join(format!("tempdirs-phases-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&root) {
        eprintln!("error: cannot create {}: {e}", root.display());
        return ExitCode::FAILURE;
    }
    let measured = native::phases(&root, N, pairs);
    let _ = std::fs::remove_dir(&root);
    match measured {
        Ok(ratios) => {
            println!(
                "W1 and W2 at N={N}, {pairs} pairs each of tempdirs and the floor: median ratio (quartiles)"
            );
            let names = [
                "W1 directory made",
                "W1 files made",
                "W1 all removed",
                "W1 all",
                "W2 per file",
            ];
            for (name, [median, q1, q3]) in names.into_iter().zip(ratios) {
                println!("  {name:<19} {median:.3}x  ({q1:.3}-{q3:.3}x)");
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
    let plan = Plan {
        breakdown: opts.breakdown,
        ..Plan::new(opts.quick)
    };
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
        let mut pythons = if opts.python {
            python::Pythons::set_up(&target_dir().join("bench"), &mut results.skipped)
        } else {
            results
                .skipped
                .push("python, duplicity: skipped (--no-python)".into());
            python::Pythons::none()
        };
        for run in 0..opts.runs {
            eprintln!("bench: run {}/{}", run + 1, opts.runs);
            native::run_once(&root, &plan, run, &mut results)?;
            pythons.run_once(&root, &plan, &mut results);
        }
        match native::memory(&root, plan.w3) {
            Ok(m) => results.memory = Some(m),
            Err(e) => results.skipped.push(format!("W3 memory: {e}")),
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
