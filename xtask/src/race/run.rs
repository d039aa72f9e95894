//! Running the rows: every seed of every row, the in-memory ones on worker threads, the
//! disk ones one after the other; each run's result kept by seed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Backend, Error, OpenRoot, TemporaryDirectory};
use tempdir_memory::{MemoryBackend, MemoryFs};

use super::adversary::Predict;
use super::args::Options;
use super::broken::Broken;
use super::disk::{DiskEnv, Scratch, TimeMode, Umask};
use super::env::{ATTACKER_UID, Env, MemEnv, VICTIM_UID};
use super::execute::{self, Metrics, Outcome, Pass, ReaperRun};
use super::measure::{FNV_START, fnv};
use super::output::Progress;
use super::plan::{Job, Model, Plan, ReaperChoice};
use super::real::RealKind;
use super::reaper::Reaper;
use super::sched::{Sched, SplitMix64};
use super::victim::{HandleVictim, PathVictim, Probe};
use crate::lock;

/// One seed of a row.
#[derive(Clone, Debug)]
pub struct SeedResult {
    pub seed: u64,
    pub metrics: Metrics,
    /// Of the run's trace (in memory) and event log: what `--check-determinism` compares.
    pub digest: u64,
    pub passes: Vec<Pass>,
}

/// A row and its seeds.
#[derive(Clone, Debug)]
pub struct Row {
    pub job: Job,
    pub results: Vec<SeedResult>,
    /// Whether the adversary is one `SECURITY.md` defends against.
    pub in_model: bool,
    pub note: String,
    /// Why the row has no results (a real reaper that is not installed).
    pub missing: Option<String>,
}

impl Row {
    /// Seeds on which the victim did harm.
    pub fn harmed(&self) -> usize {
        self.results.iter().filter(|r| r.metrics.harm() > 0).count()
    }

    /// The seed with the most harm (then losses, then leaks; the first of equals), if any
    /// seed showed anything at all.
    pub fn worst(&self) -> Option<&SeedResult> {
        let worst = self
            .results
            .iter()
            .rev()
            .max_by_key(|r| r.metrics.severity())?;
        (worst.metrics.severity() != (0, 0, 0)).then_some(worst)
    }

    pub fn detected(&self) -> usize {
        self.results.iter().filter(|r| r.metrics.detected).count()
    }

    /// A handle model did harm where the adversary is in the threat model.
    pub fn fails(&self) -> bool {
        self.job.model.is_handle() && self.in_model && self.harmed() > 0
    }

    /// Real reaper passes compared with the model, and those that disagreed or failed.
    pub fn passes(&self) -> (usize, Vec<(u64, &Pass)>) {
        let mut all = 0;
        let mut bad = Vec::new();
        for r in &self.results {
            for p in &r.passes {
                all += 1;
                if *p != Pass::Agrees {
                    bad.push((r.seed, p));
                }
            }
        }
        (all, bad)
    }

    /// The command that replays `seed` of this row alone.
    pub fn replay(&self, seed: u64) -> String {
        let j = &self.job;
        let mut out = format!(
            "cargo xtask race --seed {seed} --scenario {} --model {} --reaper {}",
            j.scenario.name,
            j.model.name(),
            j.reaper.name()
        );
        if let Some(flock) = j.flock {
            out.push_str(if flock { " --flock yes" } else { " --flock no" });
        }
        if let Some(b) = j.broken {
            out.push_str(&format!(" --break {b}"));
        }
        out
    }
}

/// The reaper model of a row, as its scenario wants it.
fn model_reaper(index: usize, root: &camino::Utf8Path, job: &Job) -> Reaper {
    let r = Reaper::all(root)[index].clone();
    if job.scenario.reaper_by_mtime {
        r.by_mtime_only()
    } else {
        r
    }
}

fn real_twin(kind: RealKind, root: &camino::Utf8Path, job: &Job) -> Reaper {
    let r = kind.model(root);
    if job.scenario.reaper_by_mtime {
        r.by_mtime_only()
    } else {
        r
    }
}

/// The names the storm plants: the directory names our core will try with the weak
/// generator, found by asking it on a throwaway filesystem whose every `make_dir` fails.
fn predicted_handle_names(seed: u64, n: usize) -> Vec<String> {
    let fs = MemoryFs::with_seed(0);
    let Ok(backend) = MemoryBackend::new(&fs, "/tmp") else {
        return Vec::new();
    };
    let mut probe = Probe::new(backend, false, None);
    probe.names = Some(Arc::new(Mutex::new(SplitMix64::new(seed))));
    probe.refuse_dirs = true;
    let tried = Arc::clone(&probe.tried);
    let _ = TemporaryDirectory::with_backend(probe);
    let mut names = lock(&tried).clone();
    names.truncate(n);
    names
}

/// This library as the victim, on the backend `open` makes.
fn run_handle<B: Backend + 'static>(
    env: &dyn Env,
    plan: &Plan,
    reaper: &ReaperRun<'_>,
    flock: bool,
    names: Option<u64>,
    open: impl FnOnce() -> Result<B, Error> + 'static,
) -> Outcome {
    let sched = Arc::new(Sched::new());
    let log = Arc::default();
    let published = Arc::default();
    let names = if plan.scenario.weak_names {
        Some(plan.name_seed)
    } else {
        names
    };
    let for_probe = Arc::clone(&sched);
    let make = move || -> Result<Probe<B>, Error> {
        let mut probe = Probe::new(open()?, flock, Some(for_probe));
        probe.names = names.map(|seed| Arc::new(Mutex::new(SplitMix64::new(seed))));
        Ok(probe)
    };
    let mut victim = HandleVictim::new(
        make,
        env.victim(),
        &sched,
        Arc::clone(&log),
        Arc::clone(&published),
    );
    let name_seed = plan.name_seed;
    let predict = move |n: usize| predicted_handle_names(name_seed, n);
    execute::seeded(
        env,
        plan,
        reaper,
        &sched,
        &mut victim,
        &log,
        &published,
        &predict,
    )
}

/// One in-memory run.
fn run_memory(job: &Job, plan: &Plan) -> Result<(Outcome, String), String> {
    let s = plan.scenario;
    let attacker = if s.in_model() {
        ATTACKER_UID
    } else {
        VICTIM_UID
    };
    let env = MemEnv::new(plan.fs_seed, attacker, s.victim_root, s.protected_symlinks)
        .map_err(|e| e.to_string())?;
    if let Some(mask) = s.umask {
        env.fs.set_umask(mask);
    }
    let reaper = match job.reaper {
        ReaperChoice::Model(i) => ReaperRun::Model(model_reaper(i, env.root(), job)),
        _ => ReaperRun::None,
    };
    let outcome = match job.model {
        Model::Path => {
            let sched = Sched::new();
            let log = Arc::default();
            let published = Arc::default();
            let name_seed = plan.name_seed;
            let predict =
                move |n: usize| super::victim::duplicity_dir_names(SplitMix64::new(name_seed), n);
            let predict: Predict<'_> = &predict;
            let mut victim = PathVictim::new(
                env.victim(),
                env.root(),
                &sched,
                SplitMix64::new(plan.name_seed),
                Arc::clone(&log),
                Arc::clone(&published),
            );
            execute::seeded(
                &env,
                plan,
                &reaper,
                &sched,
                &mut victim,
                &log,
                &published,
                predict,
            )
        }
        _ => {
            let fs = env.victim_fs.clone();
            let root = env.root().to_owned();
            let flock = job.flock.unwrap_or(true);
            match job.broken {
                None => run_handle(&env, plan, &reaper, flock, None, move || {
                    MemoryBackend::new(&fs, root)
                }),
                Some(b) => run_handle(&env, plan, &reaper, flock, None, move || {
                    MemoryBackend::new(&fs, root).map(|m| Broken::new(m, b))
                }),
            }
        }
    };
    Ok((outcome, env.note()))
}

/// One run on a real directory.
fn run_disk(scratch: &mut Scratch, job: &Job, plan: &Plan) -> Result<(Outcome, String), String> {
    let s = plan.scenario;
    let mode = match job.reaper {
        ReaperChoice::Real(_) => TimeMode::Backdate,
        _ => TimeMode::Epochs,
    };
    let env = DiskEnv::new(scratch, !s.in_model(), mode).map_err(|e| e.to_string())?;
    let root = env.root().to_owned();
    let reaper = match job.reaper {
        ReaperChoice::None => ReaperRun::None,
        ReaperChoice::Model(i) => ReaperRun::Model(model_reaper(i, &root, job)),
        ReaperChoice::Real(kind) => ReaperRun::Real {
            kind,
            twin: real_twin(kind, &root, job),
            dir: env.dir(),
        },
    };
    let _umask = Umask::set(s.umask);
    // Seeded names, so that the reaper meets the entries in the same order every time.
    let names = Some(plan.fs_seed);
    let flock = job.flock.unwrap_or(true);
    let outcome = run_handle(&env, plan, &reaper, flock, names, move || {
        CapStdBackend::open_root(&root)
    });
    Ok((outcome, env.note()))
}

fn digest_of(outcome: &Outcome) -> u64 {
    let mut h = FNV_START;
    for line in outcome.trace.iter().chain(&outcome.events) {
        h = fnv(fnv(h, line.as_bytes()), b"\n");
    }
    for pass in &outcome.passes {
        h = fnv(h, format!("{pass:?}\n").as_bytes());
    }
    h
}

fn print_trace(job: &Job, plan: &Plan, outcome: &Outcome) {
    let mut err = String::new();
    err.push_str(&format!(
        "--- {} {} {} flock={} seed {}\n",
        job.scenario.name,
        job.model.name(),
        job.reaper.name(),
        job.flock_name(),
        plan.seed
    ));
    for (point, advs) in &plan.strikes {
        err.push_str(&format!(
            "strike before op {} of act {} ({:?}): {advs:?}\n",
            point.op, point.act, job.scenario.acts[point.act]
        ));
    }
    for line in outcome.trace.iter().chain(&outcome.events) {
        err.push_str(line);
        err.push('\n');
    }
    for pass in &outcome.passes {
        err.push_str(&format!("real pass: {pass:?}\n"));
    }
    eprint!("{err}");
}

/// A row's note: where it ran, the reaper's flags where they are not the usual ones.
fn note_for(job: &Job, env_note: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !env_note.is_empty() {
        parts.push(env_note.to_owned());
    }
    if let ReaperChoice::Real(kind) = job.reaper {
        let twin = real_twin(kind, camino::Utf8Path::new("/tmp"), job);
        parts.push(format!("{} {}", twin.name(), twin.flags()));
    }
    if let Some(mask) = job.scenario.umask {
        parts.push(format!("umask {mask:03o}"));
    }
    parts.join("; ")
}

fn in_model(job: &Job) -> bool {
    job.scenario.in_model() && (!job.model.on_disk() || DiskEnv::distinct_uids())
}

fn empty_row(job: &Job) -> Row {
    Row {
        job: job.clone(),
        results: Vec::new(),
        in_model: in_model(job),
        note: String::new(),
        missing: None,
    }
}

fn memory_row(job: &Job, trace: bool, bar: &Mutex<Progress>) -> Result<Row, String> {
    let mut row = empty_row(job);
    for &seed in &job.seeds {
        let plan = Plan::new(job.scenario, seed);
        let (outcome, note) = run_memory(job, &plan)
            .map_err(|e| format!("{} seed {seed}: {e}", job.scenario.name))?;
        if trace {
            print_trace(job, &plan, &outcome);
        }
        row.note = note_for(job, &note);
        row.results.push(SeedResult {
            seed,
            metrics: outcome.metrics,
            digest: digest_of(&outcome),
            passes: outcome.passes,
        });
        lock(bar).step();
    }
    Ok(row)
}

/// Runs every row of `jobs`, in their order.
pub fn rows(o: &Options, jobs: &[Job], bar: &Mutex<Progress>) -> Result<Vec<Row>, String> {
    let (disk, memory): (Vec<usize>, Vec<usize>) =
        (0..jobs.len()).partition(|&i| jobs[i].model.on_disk());
    let mut out: Vec<Option<Result<Row, String>>> = vec![None; jobs.len()];
    let slots = Mutex::new(&mut out);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..o.threads.min(memory.len()).max(1) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = memory.get(k) else { break };
                    let row = memory_row(&jobs[i], o.trace, bar);
                    lock(&slots)[i] = Some(row);
                }
            });
        }
    });
    let mut scratch = None;
    for i in disk {
        let job = &jobs[i];
        let mut row = empty_row(job);
        if let ReaperChoice::Real(kind) = job.reaper
            && kind.binary().is_none()
        {
            row.missing = Some("not installed".to_owned());
            row.note = "not installed".to_owned();
            for _ in &job.seeds {
                lock(bar).step();
            }
            out[i] = Some(Ok(row));
            continue;
        }
        let scratch = match &mut scratch {
            Some(s) => s,
            None => scratch.insert(Scratch::new().map_err(|e| format!("scratch: {e}"))?),
        };
        for &seed in &job.seeds {
            let plan = Plan::new(job.scenario, seed);
            let (outcome, note) = run_disk(scratch, job, &plan)
                .map_err(|e| format!("{} seed {seed} on disk: {e}", job.scenario.name))?;
            if o.trace {
                print_trace(job, &plan, &outcome);
            }
            row.note = note_for(job, &note);
            row.results.push(SeedResult {
                seed,
                metrics: outcome.metrics,
                digest: digest_of(&outcome),
                passes: outcome.passes,
            });
            lock(bar).step();
        }
        out[i] = Some(Ok(row));
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a row did not run".to_owned())))
        .collect()
}
