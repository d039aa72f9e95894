//! `cargo xtask race`: tmpwatch-race scenarios, duplicity's path-based algorithm against
//! our handle-based core (SPEC §6, issue 5).
//!
//! Every scenario runs under every reaper it involves, for three victim models — `path`
//! (duplicity 3.2.1 by absolute path, on `MemoryFs`), `handle-memory` (our core on
//! `MemoryBackend`) and `handle-cap-std` (our core on a real directory, the reaper and
//! attacker as a real thread acting on disk) — with and without the `flock` defence. The
//! adversary strikes at seed-chosen points of the victim's program; one actor runs at a
//! time, so the same seed gives the same output, byte for byte.

mod disk;
mod env;
mod model;
mod reaper;
mod scenario;
mod sched;

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tempdir_core::Error;
use tempdir_memory::{MemoryBackend, MemoryFs};

use env::{ATTACKER_UID, Env, MemEnv, VICTIM_UID};
use model::{HandleVictim, PathVictim, Probe, Published, Shared, Victim, VictimLog, lock};
use reaper::Reaper;
use scenario::{Metrics, Plan, SCENARIOS, Scenario};
use sched::{Sched, SplitMix64};

const USAGE: &str = "\
cargo xtask race [options]

Runs the tmpwatch-race scenarios and prints what each victim model suffered.

Options:
  --seed N               the seed every choice comes from (default 1)
  --runs K               interleavings per row for the in-memory models (default 3)
  --disk-runs K          interleavings per row for handle-cap-std (default 1; 0 skips it)
  --scenario NAME|ID     only this scenario (repeatable)
  --model NAME           only this model: path, handle-memory, handle-cap-std (repeatable)
  --reaper NAME          only this reaper: tmpwatch, tmpreaper, systemd-tmpfiles, none
  --json                 one JSON array of flat rows instead of the table
  --progress             a progress bar on stderr even when it is not a terminal
  --check-determinism    run everything twice and compare output and traces
  --trace                print every in-memory run's filesystem trace on stderr
";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    Path,
    HandleMemory,
    HandleCapStd,
}

impl Model {
    const ALL: [Model; 3] = [Model::Path, Model::HandleMemory, Model::HandleCapStd];

    fn name(self) -> &'static str {
        match self {
            Model::Path => "path",
            Model::HandleMemory => "handle-memory",
            Model::HandleCapStd => "handle-cap-std",
        }
    }

    fn is_handle(self) -> bool {
        self != Model::Path
    }
}

#[derive(Clone, Debug)]
struct Options {
    seed: u64,
    runs: usize,
    disk_runs: usize,
    scenarios: Vec<usize>,
    models: Vec<Model>,
    reapers: Vec<String>,
    json: bool,
    progress: bool,
    check: bool,
    trace: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seed: 1,
        runs: 3,
        disk_runs: 1,
        scenarios: Vec::new(),
        models: Vec::new(),
        reapers: Vec::new(),
        json: false,
        progress: false,
        check: false,
        trace: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs {what}"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{arg}: not a number: {v}"))
        };
        match arg.as_str() {
            "--seed" => o.seed = number(value("a number")?)?,
            "--runs" => o.runs = number(value("a number")?)? as usize,
            "--disk-runs" => o.disk_runs = number(value("a number")?)? as usize,
            "--scenario" => {
                let v = value("a name or number")?;
                let s = SCENARIOS
                    .iter()
                    .find(|s| s.name == v || s.id.to_string() == v)
                    .ok_or_else(|| format!("no scenario {v}"))?;
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
                if !["tmpwatch", "tmpreaper", "systemd-tmpfiles", "none"].contains(&v.as_str()) {
                    return Err(format!("no reaper {v}"));
                }
                o.reapers.push(v);
            }
            "--json" => o.json = true,
            "--progress" => o.progress = true,
            "--check-determinism" => o.check = true,
            "--trace" => o.trace = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(o)
}

/// Entry point of `cargo xtask race`.
pub fn run(args: Vec<String>) -> ExitCode {
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
    let first = match run_all(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = render(&opts, &first.rows);
    print!("{text}");
    let _ = std::io::stdout().flush();
    if opts.check {
        match run_all(&opts) {
            Ok(second) => {
                let again = render(&opts, &second.rows);
                if again != text || second.trace_digest != first.trace_digest {
                    eprintln!(
                        "determinism check FAILED: the second run differs (output equal: {}, memory traces equal: {})",
                        again == text,
                        second.trace_digest == first.trace_digest
                    );
                    return ExitCode::FAILURE;
                }
                eprintln!(
                    "determinism check passed: same output and same memory traces (digest {:016x})",
                    first.trace_digest
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let failing: Vec<&Row> = first.rows.iter().filter(|r| r.fails()).collect();
    if failing.is_empty() {
        return ExitCode::SUCCESS;
    }
    for row in &failing {
        eprintln!(
            "FAIL: {} {} {} flock={}: a handle model harmed a foreign entry or lost data silently\n  replay: {}",
            row.scenario,
            row.model.name(),
            row.reaper,
            row.flock,
            row.replay(opts.seed)
        );
    }
    ExitCode::FAILURE
}

/// One line of the table: a scenario × model × reaper × flock, summed over its runs.
#[derive(Clone, Debug)]
struct Row {
    scenario: &'static str,
    scenario_id: usize,
    model: Model,
    reaper: &'static str,
    flock: &'static str,
    runs: usize,
    sum: Metrics,
    detected: usize,
    note: String,
}

impl Row {
    /// A handle model must never touch a foreign entry, follow a symlink, or lose data
    /// without being told.
    fn fails(&self) -> bool {
        self.model.is_handle()
            && (self.sum.foreign_entries_removed > 0
                || self.sum.foreign_files_written > 0
                || self.sum.symlinks_followed > 0
                || self.sum.silent > 0)
    }

    fn replay(&self, seed: u64) -> String {
        let runs = if self.model == Model::HandleCapStd {
            format!("--runs 1 --disk-runs {}", self.runs)
        } else {
            format!("--runs {}", self.runs)
        };
        format!(
            "cargo xtask race --seed {seed} --scenario {} --model {} --reaper {} {runs}",
            self.scenario,
            self.model.name(),
            self.reaper
        )
    }

    fn add(&mut self, m: Metrics) {
        self.runs += 1;
        self.sum.own_files_lost += m.own_files_lost;
        self.sum.foreign_entries_removed += m.foreign_entries_removed;
        self.sum.foreign_files_written += m.foreign_files_written;
        self.sum.symlinks_followed += m.symlinks_followed;
        self.sum.leaked_after_cleanup += m.leaked_after_cleanup;
        self.sum.silent += m.silent;
        self.detected += usize::from(m.detected);
    }
}

struct Outcome {
    rows: Vec<Row>,
    trace_digest: u64,
}

/// FNV-1a, to compare memory traces between the two runs of `--check-determinism`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Job {
    scenario: &'static Scenario,
    model: Model,
    reaper: Option<usize>,
    flock: bool,
    runs: usize,
}

fn jobs(o: &Options) -> Vec<Job> {
    let mut jobs = Vec::new();
    for s in &SCENARIOS {
        if !o.scenarios.is_empty() && !o.scenarios.contains(&s.id) {
            continue;
        }
        let reapers: Vec<Option<usize>> = if s.uses_reaper {
            (0..3).map(Some).collect()
        } else {
            vec![None]
        };
        for reaper in reapers {
            let rname = reaper_name(reaper);
            if !o.reapers.is_empty() && !o.reapers.iter().any(|r| r == rname) {
                continue;
            }
            for model in Model::ALL {
                if !o.models.is_empty() && !o.models.contains(&model) {
                    continue;
                }
                let runs = if model == Model::HandleCapStd {
                    o.disk_runs
                } else {
                    o.runs
                };
                if runs == 0 {
                    continue;
                }
                let flocks: &[bool] = if model.is_handle() {
                    &[true, false]
                } else {
                    &[false]
                };
                for &flock in flocks {
                    jobs.push(Job {
                        scenario: s,
                        model,
                        reaper,
                        flock,
                        runs,
                    });
                }
            }
        }
    }
    jobs
}

fn reaper_name(index: Option<usize>) -> &'static str {
    index.map_or("none", |i| {
        Reaper::all(camino::Utf8Path::new("/tmp"))[i].name()
    })
}

fn run_all(o: &Options) -> Result<Outcome, String> {
    let jobs = jobs(o);
    let total: usize = jobs.iter().map(|j| j.runs).sum();
    let mut bar = Progress::new(total, o.progress || std::io::stderr().is_terminal());
    let mut rows = Vec::new();
    let mut digest = 0xcbf2_9ce4_8422_2325;
    let mut disk = None;
    for job in &jobs {
        let mut row = Row {
            scenario: job.scenario.name,
            scenario_id: job.scenario.id,
            model: job.model,
            reaper: reaper_name(job.reaper),
            flock: match (job.model.is_handle(), job.flock) {
                (false, _) => "-",
                (true, true) => "yes",
                (true, false) => "no",
            },
            runs: 0,
            sum: Metrics::default(),
            detected: 0,
            note: String::new(),
        };
        for run in 0..job.runs {
            let mut rng = SplitMix64::derive(o.seed, &[job.scenario.id as u64, run as u64]);
            let plan = Plan::new(job.scenario.id, &mut rng);
            let fs_seed = rng.next_u64();
            let (m, note, trace) = match job.model {
                Model::HandleCapStd => {
                    let base = match &mut disk {
                        Some(b) => b,
                        None => disk.insert(disk::Scratch::new().map_err(|e| e.to_string())?),
                    };
                    let (m, note) = disk::run_cap_std(base, &plan, job.reaper, job.flock)
                        .map_err(|e| format!("{} on disk: {e}", job.scenario.name))?;
                    (m, note, Vec::new())
                }
                model => run_memory(model, &plan, job.reaper, job.flock, fs_seed)
                    .map_err(|e| format!("{}: {e}", job.scenario.name))?,
            };
            if o.trace && !trace.is_empty() {
                eprintln!(
                    "--- {} {} {} flock={} run {run}",
                    job.scenario.name,
                    job.model.name(),
                    row.reaper,
                    row.flock
                );
                for line in &trace {
                    eprintln!("{line}");
                }
            }
            for line in &trace {
                digest = fnv(digest, line.as_bytes());
            }
            row.note = note;
            row.add(m);
            bar.step();
        }
        rows.push(row);
    }
    bar.done();
    Ok(Outcome {
        rows,
        trace_digest: digest,
    })
}

/// The reaper for a row, configured for `root` (and by mtime in scenario 9).
fn reaper_for(index: Option<usize>, root: &camino::Utf8Path, plan: &Plan) -> Option<Reaper> {
    let r = Reaper::all(root)[index?].clone();
    Some(if plan.reaper_by_mtime {
        r.by_mtime_only()
    } else {
        r
    })
}

/// The names a storm plants (scenario 7): the directory names our core will try with
/// the weak generator, found by asking it on a throwaway filesystem whose every
/// `make_dir` fails.
fn predicted_handle_names(seed: u64, n: usize) -> Vec<String> {
    let fs = MemoryFs::with_seed(0);
    let Ok(backend) = MemoryBackend::new(&fs, "/tmp") else {
        return Vec::new();
    };
    let mut probe = Probe::new(backend, false, None);
    probe.weak_rng = Some(Arc::new(Mutex::new(SplitMix64::new(seed))));
    probe.refuse_dirs = true;
    let tried = Arc::clone(&probe.tried);
    let _ = tempdir_core::TemporaryDirectory::with_backend(probe);
    let mut names = lock(&tried).clone();
    names.truncate(n);
    names
}

/// One run of this library as the victim: `TemporaryDirectory<Probe<B>>` on the backend
/// `open` makes, the probe handing the baton at each backend operation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_handle<B: tempdir_core::Backend>(
    env: &dyn Env,
    plan: &Plan,
    reaper: Option<&Reaper>,
    sched: &Arc<Sched>,
    log: &Shared<VictimLog>,
    published: &Shared<Published>,
    flock: bool,
    open: impl FnOnce() -> Result<B, Error> + 'static,
) -> Metrics {
    let predict = |n: usize| predicted_handle_names(plan.name_seed, n);
    let probe_created = Arc::new(Mutex::new(Vec::new()));
    let pc = Arc::clone(&probe_created);
    let sched_probe = Arc::clone(sched);
    let (weak_names, name_seed) = (plan.weak_names, plan.name_seed);
    let make = move || -> Result<Probe<B>, Error> {
        let mut probe = Probe::new(open()?, flock, Some(sched_probe));
        probe.created = pc;
        if weak_names {
            probe.weak_rng = Some(Arc::new(Mutex::new(SplitMix64::new(name_seed))));
        }
        Ok(probe)
    };
    let mut victim = HandleVictim::new(
        make,
        env.victim(),
        sched,
        Arc::clone(log),
        Arc::clone(published),
    );
    let created_fn = move || lock(&probe_created).iter().map(|id| id.ino).collect();
    scenario::execute(
        env,
        plan,
        reaper,
        sched,
        &mut victim as &mut dyn Victim,
        &created_fn,
        log,
        published,
        &predict,
    )
}

fn run_memory(
    model: Model,
    plan: &Plan,
    reaper: Option<usize>,
    flock: bool,
    fs_seed: u64,
) -> Result<(Metrics, String, Vec<String>), String> {
    let attacker = if plan.same_uid {
        VICTIM_UID
    } else {
        ATTACKER_UID
    };
    let env = MemEnv::new(fs_seed, attacker, plan.victim_root, plan.protected_symlinks)
        .map_err(|e| e.to_string())?;
    let reaper = reaper_for(reaper, env.root(), plan);
    let sched = Arc::new(Sched::new());
    let log: Shared<VictimLog> = Arc::default();
    let published: Shared<Published> = Arc::default();
    let metrics = match model {
        Model::Path => {
            let predict = |n: usize| model::duplicity_dir_names(SplitMix64::new(plan.name_seed), n);
            let mut victim = PathVictim::new(
                env.victim(),
                env.root(),
                &sched,
                SplitMix64::new(plan.name_seed),
                Arc::clone(&log),
                Arc::clone(&published),
            );
            let created = |log: &Shared<VictimLog>| lock(log).created.clone();
            let log2 = Arc::clone(&log);
            let created_fn = move || created(&log2);
            scenario::execute(
                &env,
                plan,
                reaper.as_ref(),
                &sched,
                &mut victim as &mut dyn Victim,
                &created_fn,
                &log,
                &published,
                &predict,
            )
        }
        _ => {
            let fs = env.victim_fs.clone();
            run_handle(
                &env,
                plan,
                reaper.as_ref(),
                &sched,
                &log,
                &published,
                flock,
                move || MemoryBackend::new(&fs, "/tmp"),
            )
        }
    };
    Ok((metrics, env.note(), env.fs.trace()))
}

// ---------------------------------------------------------------------------------------
// Output.

const LEGEND: &str = "\
lost       victim files gone or changed when the victim needed them (summed over runs)
silent     of those, files the victim read back without any error: it carries on with wrong data
foreign-rm entries made by someone else (attacker, other users) that the victim removed
foreign-wr victim writes that landed in an entry or directory the victim did not make
symlinks   victim operations that went through a planted symlink (~/.bashrc or ~/secret changed)
detected   runs in which the victim was told why: Reaped/Replaced/Swapped/Vanished, or status() != Intact
leaked     victim-made entries still present after its cleanup
flock      yes: the directory holds flock(LOCK_SH); no: the backend refuses it; -: path model
The path model is duplicity 3.2.1 by absolute path; its harm is the point of the table.
The attacker knows every name the victim hands out (a worst case: ps, logs, inotify).
";

fn render(o: &Options, rows: &[Row]) -> String {
    if o.json {
        return render_json(o.seed, rows);
    }
    let header = [
        "scenario",
        "model",
        "reaper",
        "flock",
        "lost",
        "silent",
        "foreign-rm",
        "foreign-wr",
        "symlinks",
        "detected",
        "leaked",
        "note",
    ];
    let cells: Vec<[String; 12]> = rows
        .iter()
        .map(|r| {
            [
                format!("{:>2} {}", r.scenario_id, r.scenario),
                r.model.name().to_owned(),
                r.reaper.to_owned(),
                r.flock.to_owned(),
                r.sum.own_files_lost.to_string(),
                r.sum.silent.to_string(),
                r.sum.foreign_entries_removed.to_string(),
                r.sum.foreign_files_written.to_string(),
                r.sum.symlinks_followed.to_string(),
                format!("{}/{}", r.detected, r.runs),
                r.sum.leaked_after_cleanup.to_string(),
                r.note.clone(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cargo xtask race --seed {} --runs {} --disk-runs {}",
        o.seed, o.runs, o.disk_runs
    );
    let line = |out: &mut String, c: &[&str]| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(width).enumerate() {
            // Text columns left, numbers right.
            if i < 4 || i == 11 {
                let _ = write!(s, "{cell:<w$}  ");
            } else {
                let _ = write!(s, "{cell:>w$}  ");
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&mut out, &header);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(
        &mut out,
        &rule.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut last = 0;
    for (r, c) in rows.iter().zip(&cells) {
        if last != 0 && r.scenario_id != last {
            out.push('\n');
        }
        last = r.scenario_id;
        line(&mut out, &c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out.push('\n');
    out.push_str(LEGEND);
    out.push_str("\nScenarios (REAPERS.md):\n");
    for s in &SCENARIOS {
        let _ = writeln!(out, "{:>2} {:<18} {}", s.id, s.name, s.about);
    }
    let failing = rows.iter().filter(|r| r.fails()).count();
    let _ = writeln!(
        out,
        "\n{} rows; handle-model rows failing: {failing}",
        rows.len()
    );
    out
}

fn render_json(seed: u64, rows: &[Row]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            out,
            "  {{\"scenario\": {}, \"scenario_id\": {}, \"model\": {}, \"reaper\": {}, \"flock\": {}, \"seed\": {seed}, \"runs\": {}, \
\"own_files_lost\": {}, \"foreign_entries_removed\": {}, \"foreign_files_written\": {}, \"symlinks_followed\": {}, \
\"detected\": {}, \"silent_losses\": {}, \"leaked_after_cleanup\": {}, \"note\": {}}}",
            crate::json::string(r.scenario),
            r.scenario_id,
            crate::json::string(r.model.name()),
            crate::json::string(r.reaper),
            crate::json::string(r.flock),
            r.runs,
            r.sum.own_files_lost,
            r.sum.foreign_entries_removed,
            r.sum.foreign_files_written,
            r.sum.symlinks_followed,
            r.detected,
            r.sum.silent,
            r.sum.leaked_after_cleanup,
            crate::json::string(&r.note),
        );
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

/// A bar on stderr, never on stdout.
struct Progress {
    total: usize,
    done: usize,
    on: bool,
}

impl Progress {
    fn new(total: usize, on: bool) -> Self {
        Progress { total, done: 0, on }
    }

    fn step(&mut self) {
        self.done += 1;
        if self.on {
            let filled = self.done * 30 / self.total.max(1);
            eprint!(
                "\r[{}{}] {}/{} runs",
                "#".repeat(filled),
                " ".repeat(30 - filled),
                self.done,
                self.total
            );
        }
    }

    fn done(&self) {
        if self.on {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests;
