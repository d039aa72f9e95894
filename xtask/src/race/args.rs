//! The command line of `cargo xtask race`.

use std::ops::RangeInclusive;

use super::broken::Break;
use super::plan::{Model, ReaperChoice};
use super::scenario::Scenario;

pub const USAGE: &str = "\
cargo xtask race [options]

Runs the tmpwatch-race scenarios, every seed of a range for each row, and prints what
each victim model suffered: per row the worst seed and how many seeds showed harm.

Options:
  --seeds A..B           the seeds of every in-memory row, A to B included (default 1..64)
  --seed N               one seed: --seeds N..N (what a replay line says)
  --disk-runs K          the first K of those seeds for the rows on a real directory
                         (default 4; 0 skips the disk, its real reapers included)
  --free N               also N free-running repetitions per disk row: reaper and
                         attacker as real threads, no baton, reported as counts over runs
                         (default 0; not deterministic, so never compared)
  --scenario NAME|ID     only this scenario (repeatable)
  --model NAME           only this model: path, handle-memory, handle-cap-std (repeatable)
  --reaper NAME          only this reaper: tmpwatch, tmpreaper, systemd-tmpfiles (the
                         models), real-tmpreaper, real-systemd-tmpfiles, none (repeatable)
  --flock yes|no         only the handle rows with (or without) the flock
  --break NAME           run handle-memory on a deliberately broken backend, to see which
                         rows catch it (see the self-test); NAME one of:
                         BREAKS
  --threads N            worker threads for the in-memory rows (default: the CPUs)
  --json                 one JSON array of flat rows instead of the tables
  --progress             a progress bar on stderr even when it is not a terminal
  --check-determinism    run everything twice; compare the output and every run's trace
                         (in memory) or event log (on disk), byte for byte
  --trace                print every run's trace (memory) or event log (disk) on stderr

Exit status: 1 when a handle model does harm on any seed in a row whose adversary is in
SECURITY.md's threat model (or the determinism check fails), 2 for a bad command line.
";

/// The usage text, with the names of the breaks filled in.
pub fn usage() -> String {
    let breaks: Vec<&str> = Break::ALL.iter().map(|b| b.name()).collect();
    USAGE.replace("BREAKS", &breaks.join(", "))
}

#[derive(Clone, Debug)]
pub struct Options {
    pub seeds: RangeInclusive<u64>,
    pub disk_runs: usize,
    pub free: usize,
    pub scenarios: Vec<usize>,
    pub models: Vec<Model>,
    pub reapers: Vec<ReaperChoice>,
    pub flock: Option<bool>,
    pub broken: Option<Break>,
    pub threads: usize,
    pub json: bool,
    pub progress: bool,
    pub check: bool,
    pub trace: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seeds: 1..=64,
            disk_runs: 4,
            free: 0,
            scenarios: Vec::new(),
            models: Vec::new(),
            reapers: Vec::new(),
            flock: None,
            broken: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            json: false,
            progress: false,
            check: false,
            trace: false,
        }
    }
}

impl Options {
    /// The options of a command line, as a replay line prints them: `--seeds`,
    /// `--disk-runs` and `--free` when they differ from the defaults.
    pub fn command(&self) -> String {
        let mut out = String::from("cargo xtask race");
        let (a, b) = (*self.seeds.start(), *self.seeds.end());
        if a == b {
            out.push_str(&format!(" --seed {a}"));
        } else {
            out.push_str(&format!(" --seeds {a}..{b}"));
        }
        if self.disk_runs != Options::default().disk_runs {
            out.push_str(&format!(" --disk-runs {}", self.disk_runs));
        }
        if self.free != 0 {
            out.push_str(&format!(" --free {}", self.free));
        }
        if let Some(b) = self.broken {
            out.push_str(&format!(" --break {}", b.name()));
        }
        out
    }
}

/// `A..B` (both included) or `N`.
fn range(v: &str) -> Result<RangeInclusive<u64>, String> {
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("not a seed: {s:?} (seeds are numbers)"))
    };
    let (a, b) = match v.split_once("..") {
        Some((a, b)) => (number(a)?, number(b.trim_start_matches('='))?),
        None => (number(v)?, number(v)?),
    };
    if a > b {
        return Err(format!("an empty range of seeds: {v}"));
    }
    Ok(a..=b)
}

/// Parses the arguments after `race`. `Err("")` asks for the usage text.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs {what}"))
        };
        let count = |v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{arg}: not a number: {v}"))
        };
        match arg.as_str() {
            "--seeds" | "--seed" => o.seeds = range(&value("a seed or a range A..B")?)?,
            "--disk-runs" => o.disk_runs = count(value("a number")?)?,
            "--free" => o.free = count(value("a number")?)?,
            "--threads" => o.threads = count(value("a number")?)?.max(1),
            "--scenario" => {
                let v = value("a name or number")?;
                let s = Scenario::find(&v).ok_or_else(|| format!("no scenario {v}"))?;
                o.scenarios.push(s.id);
            }
            "--model" => {
                let v = value("a name")?;
                let m = Model::ALL
                    .into_iter()
                    .find(|m| m.name() == v)
                    .ok_or_else(|| format!("no model {v}"))?;
                o.models.push(m);
            }
            "--reaper" => {
                let v = value("a name")?;
                let r = ReaperChoice::ALL
                    .into_iter()
                    .find(|r| r.name() == v)
                    .ok_or_else(|| format!("no reaper {v}"))?;
                o.reapers.push(r);
            }
            "--flock" => {
                o.flock = match value("yes or no")?.as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    v => return Err(format!("--flock takes yes or no, not {v}")),
                }
            }
            "--break" => {
                let v = value("a name")?;
                let b = Break::ALL
                    .into_iter()
                    .find(|b| b.name() == v)
                    .ok_or_else(|| format!("no break {v}"))?;
                o.broken = Some(b);
            }
            "--json" => o.json = true,
            "--progress" => o.progress = true,
            "--check-determinism" => o.check = true,
            "--trace" => o.trace = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}
