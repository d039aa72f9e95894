//! Free-running: the disk victim with the reaper and the attacker as real threads and no
//! baton, for many repetitions, reported as counts over runs. Nothing here is
//! deterministic; it is the check that the seeded interleavings did not miss a real one.
//!
//! Without turns, what the victim did is told from the end state: the attacker's entries
//! are never aged (so no reaper removes them: one gone that the attacker did not remove
//! was removed by the victim), the attacker keeps looking into the directories it made
//! for entries it did not make (the victim's writes into them), its files are checked
//! for content it did not write, and the victim's home is compared with how it started.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tempdir_cap_std::CapStdBackend;
use tempdir_core::{FileId, OpenRoot};

use super::adversary::{AttackLog, Attacker, PLANTED};
use super::args::Options;
use super::disk::{DiskEnv, Scratch, TimeMode};
use super::env::{Env, layout};
use super::execute::Metrics;
use super::measure::Snapshot;
use super::output::Progress;
use super::plan::{self, Adv, Model, Plan, ReaperChoice};
use super::reaper::{Kind, Reaper};
use super::scenario::{Act, SCENARIOS, Scenario};
use super::sched::{Sched, SplitMix64};
use super::victim::{HandleVictim, PathVictim, Probe, Shared, Victim, VictimLog};
use crate::lock;

/// A free-running row.
#[derive(Clone, Debug)]
pub struct FreeJob {
    pub scenario: &'static Scenario,
    pub model: Model,
    pub reaper: ReaperChoice,
    pub flock: Option<bool>,
}

impl FreeJob {
    pub fn flock_name(&self) -> &'static str {
        match self.flock {
            None => "-",
            Some(true) => "yes",
            Some(false) => "no",
        }
    }
}

/// Runs with each kind of outcome.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub runs: usize,
    pub harmed: usize,
    pub lost: usize,
    pub silent: usize,
    pub foreign_rm: usize,
    pub foreign_wr: usize,
    pub outside: usize,
    pub detected: usize,
    pub leaked: usize,
    /// Real reaper passes that failed.
    pub failed_passes: usize,
}

impl Counts {
    fn add(&mut self, m: &Metrics) {
        let yes = |n: usize| usize::from(n > 0);
        self.runs += 1;
        self.harmed += yes(m.harm());
        self.lost += yes(m.lost);
        self.silent += yes(m.silent);
        self.foreign_rm += yes(m.foreign_rm);
        self.foreign_wr += yes(m.foreign_wr);
        self.outside += yes(m.outside);
        self.detected += usize::from(m.detected);
        self.leaked += yes(m.leaked);
    }
}

#[derive(Clone, Debug)]
pub struct FreeRow {
    pub job: FreeJob,
    pub counts: Counts,
    pub in_model: bool,
    pub note: String,
}

impl FreeRow {
    pub fn fails(&self) -> bool {
        self.job.model.is_handle() && self.in_model && self.counts.harmed > 0
    }
}

/// The free-running rows `o` asks for: the disk victim and the path reference, under
/// every reaper, the models configured as the real ones are (by atime and mtime).
pub fn jobs(o: &Options) -> Vec<FreeJob> {
    let mut jobs = Vec::new();
    if o.free == 0 || o.broken.is_some() {
        return jobs;
    }
    for s in &SCENARIOS {
        if !o.scenarios.is_empty() && !o.scenarios.contains(&s.id) {
            continue;
        }
        for model in [Model::Path, Model::HandleCapStd] {
            if !o.models.is_empty() && !o.models.contains(&model) {
                continue;
            }
            for (reaper, flock) in plan::variants(o, s, model, true) {
                jobs.push(FreeJob {
                    scenario: s,
                    model,
                    reaper,
                    flock,
                });
            }
        }
    }
    jobs
}

fn reaper_for(job: &FreeJob, root: &camino::Utf8Path) -> Option<Reaper> {
    let r = match job.reaper {
        ReaperChoice::None => return None,
        ReaperChoice::Model(i) => Reaper::all(root)[i].by_settable_times(),
        ReaperChoice::Real(kind) => kind.model(root),
    };
    Some(if job.scenario.reaper_by_mtime {
        r.by_mtime_only()
    } else {
        r
    })
}

/// A generator seeded from the clock: free runs are not meant to replay.
fn jitter_rng() -> SplitMix64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    SplitMix64::new(nanos as u64)
}

fn pause(rng: &mut SplitMix64, max_micros: u64) {
    std::thread::sleep(Duration::from_micros(rng.range(0, max_micros)));
}

/// One free run.
fn run_once(
    scratch: &mut Scratch,
    job: &FreeJob,
    seed: u64,
    trace: bool,
) -> Result<(Metrics, usize), String> {
    let s = job.scenario;
    let mut env =
        DiskEnv::new(scratch, !s.in_model(), TimeMode::Backdate).map_err(|e| e.to_string())?;
    env.spare_attacker();
    let env = env;
    let _umask = super::disk::Umask::set(s.umask);
    let plan = Plan::new(s, seed);
    let root = env.root().to_owned();
    let reaper = reaper_for(job, &root);
    let sched = Arc::new(Sched::free());
    let log: Shared<VictimLog> = Arc::default();
    lock(&log).record_removals = true;
    let published = Arc::default();
    let attack = Mutex::new(AttackLog::default());
    let intruders = Mutex::new(BTreeSet::new());
    let failed = Mutex::new(0);
    let done = AtomicBool::new(false);
    let start = Snapshot::take(&env);
    let created: Shared<Vec<FileId>> = Arc::default();
    let mut victim: Box<dyn Victim + '_> = match job.model {
        Model::Path => Box::new(PathVictim::new(
            env.victim(),
            env.root(),
            &sched,
            SplitMix64::new(plan.name_seed),
            Arc::clone(&log),
            Arc::clone(&published),
        )),
        _ => {
            let flock = job.flock.unwrap_or(true);
            let for_probe = Arc::clone(&sched);
            let made = Arc::clone(&created);
            let removals = Arc::clone(&log);
            let root = root.clone();
            Box::new(HandleVictim::new(
                move || {
                    let mut probe =
                        Probe::new(CapStdBackend::open_root(&root)?, flock, Some(for_probe));
                    probe.created = made;
                    probe.removals = Some(removals);
                    Ok(probe)
                },
                env.victim(),
                &sched,
                Arc::clone(&log),
                Arc::clone(&published),
            ))
        }
    };
    let no_predictions = |_: usize| Vec::new();
    let attacker = Attacker {
        env: &env,
        published: &published,
        log: &attack,
        predict: &no_predictions,
    };
    let advs: Vec<Adv> = {
        let mut seen = Vec::new();
        for adv in plan.advs() {
            if !matches!(adv, Adv::Reap { .. } | Adv::Storm { .. }) && !seen.contains(adv) {
                seen.push(*adv);
            }
        }
        seen
    };
    std::thread::scope(|scope| {
        if let Some(reaper) = &reaper {
            let (env, root, done, failed) = (&env, &root, &done, &failed);
            scope.spawn(move || {
                let mut rng = jitter_rng();
                while !done.load(Ordering::Relaxed) {
                    match job.reaper {
                        ReaperChoice::Real(kind) => {
                            if kind.run(reaper, root, env.dir()).is_err() {
                                *lock(failed) += 1;
                            }
                        }
                        _ => {
                            let view = env.reaper(reaper.noatime());
                            reaper.run(&*view, root, &mut |_| {});
                        }
                    }
                    pause(&mut rng, 500);
                }
            });
        }
        if !advs.is_empty() {
            let (attacker, advs, done, intruders, attack) =
                (&attacker, &advs, &done, &intruders, &attack);
            scope.spawn(move || {
                let mut rng = jitter_rng();
                while !done.load(Ordering::Relaxed) {
                    for adv in advs {
                        attacker.act(adv);
                    }
                    look_for_intruders(attacker.env, attack, intruders);
                    pause(&mut rng, 200);
                }
            });
        }
        let mut rng = jitter_rng();
        for act in s.acts {
            if let Act::Idle(d) = act {
                env.advance(*d);
            }
            victim.act(act);
            pause(&mut rng, 2_000);
        }
        done.store(true, Ordering::Relaxed);
    });
    drop(victim);
    let end = Snapshot::take(&env);
    let present: BTreeSet<u64> = end.entries.keys().map(|k| k.0).collect();
    let attack = lock(&attack);
    // Gone, and the victim removed it: a reaper's own stat-then-rmdir window can remove
    // a fresh entry too (a directory made where the one it looked at was).
    let log = lock(&log);
    let gone: Vec<String> = attack
        .made
        .iter()
        .filter(|(_, ino)| !present.contains(ino) && log.removed.contains(ino))
        .map(|(path, ino)| format!("{} ino={ino}", env.relative(path)))
        .collect();
    let foreign_rm = gone.len();
    if trace && !gone.is_empty() {
        eprintln!(
            "--- free {} {} {} flock={}: the attacker's {gone:?} are gone",
            s.name,
            job.model.name(),
            job.reaper.name(),
            job.flock_name()
        );
    }
    let changed_files = attack
        .made
        .iter()
        .filter(|(path, ino)| {
            let fs = env.inspector();
            fs.lstat(path)
                .is_ok_and(|st| st.ino == *ino && st.kind == Kind::File)
                && fs.read(path).is_ok_and(|data| data != PLANTED)
        })
        .count();
    let outside = home_changes(&start, &end);
    let mine: BTreeSet<u64> = match job.model {
        Model::Path => log.created.iter().copied().collect(),
        _ => lock(&created).iter().map(|id| id.ino).collect(),
    };
    let distinct = |silent_only: bool| {
        log.lost
            .iter()
            .filter(|l| !silent_only || l.1)
            .map(|l| l.0)
            .collect::<BTreeSet<_>>()
            .len()
    };
    let metrics = Metrics {
        lost: distinct(false),
        silent: distinct(true),
        foreign_rm,
        foreign_wr: changed_files + lock(&intruders).len(),
        outside,
        detected: log.detected,
        leaked: mine.intersection(&present).count(),
    };
    Ok((metrics, *lock(&failed)))
}

/// Entries in the attacker's directories that it did not make: the victim's.
fn look_for_intruders(env: &dyn Env, attack: &Mutex<AttackLog>, found: &Mutex<BTreeSet<u64>>) {
    let made = lock(attack).made.clone();
    let att = env.attacker();
    for (path, ino) in &made {
        if !att
            .lstat(path)
            .is_ok_and(|st| st.ino == *ino && st.kind == Kind::Dir)
        {
            continue;
        }
        for name in att.read_dir(path).unwrap_or_default() {
            if let Ok(st) = att.lstat(&path.join(name))
                && !made.iter().any(|m| m.1 == st.ino)
            {
                lock(found).insert(st.ino);
            }
        }
    }
}

/// How many entries of the home differ between two snapshots.
fn home_changes(a: &Snapshot, b: &Snapshot) -> usize {
    let home = |s: &&super::measure::Seen| s.rel.starts_with(layout::HOME);
    let before: BTreeSet<String> = a
        .entries
        .values()
        .filter(home)
        .map(|s| format!("{s:?}"))
        .collect();
    let after: BTreeSet<String> = b
        .entries
        .values()
        .filter(home)
        .map(|s| format!("{s:?}"))
        .collect();
    before.symmetric_difference(&after).count()
}

/// Every free row, `o.free` runs each.
pub fn rows(o: &Options, jobs: &[FreeJob], bar: &Mutex<Progress>) -> Result<Vec<FreeRow>, String> {
    let mut out = Vec::new();
    let mut scratch = None;
    for job in jobs {
        let mut row = FreeRow {
            job: job.clone(),
            counts: Counts::default(),
            in_model: job.scenario.in_model() && DiskEnv::distinct_uids(),
            note: String::new(),
        };
        if let ReaperChoice::Real(kind) = job.reaper
            && kind.binary().is_none()
        {
            row.note = "not installed".to_owned();
            for _ in 0..o.free {
                lock(bar).step();
            }
            out.push(row);
            continue;
        }
        if let Some(r) = reaper_for(job, camino::Utf8Path::new("/tmp")) {
            row.note = match job.reaper {
                ReaperChoice::Real(_) => format!("{} {}", r.name(), r.flags()),
                _ => r.flags(),
            };
        }
        let scratch = match &mut scratch {
            Some(s) => s,
            None => scratch.insert(Scratch::new().map_err(|e| format!("scratch: {e}"))?),
        };
        for run in 0..o.free {
            let seed = o.seeds.start().wrapping_add(run as u64);
            let (m, failed) = run_once(scratch, job, seed, o.trace)
                .map_err(|e| format!("{} free run {run}: {e}", job.scenario.name))?;
            row.counts.add(&m);
            row.counts.failed_passes += failed;
            lock(bar).step();
        }
        out.push(row);
    }
    Ok(out)
}
