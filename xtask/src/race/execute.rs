//! One seeded run: the victim's program on this thread, the adversary on another, the
//! baton between them, and the measuring at every hand-over.

use std::collections::BTreeSet;
use std::sync::Mutex;

use camino::Utf8Path;

use super::adversary::{AttackLog, Attacker, Predict};
use super::env::Env;
use super::measure::{Measure, Snapshot, rel_set};
use super::plan::{Adv, Plan};
use super::real::RealKind;
use super::reaper::{DryRun, Reaper};
use super::scenario::Act;
use super::sched::Sched;
use super::victim::{Published, Shared, Victim, VictimLog};
use crate::lock;

/// The reaper of a run.
pub enum ReaperRun<'a> {
    None,
    Model(Reaper),
    /// A real reaper configured as `twin`; its configuration file goes into `dir`.
    Real {
        kind: RealKind,
        twin: Reaper,
        dir: &'a Utf8Path,
    },
}

/// What one run showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Victim files gone or changed when the victim needed them.
    pub lost: usize,
    /// Of those, files the victim read back without any error.
    pub silent: usize,
    /// Entries of others inside the root that the victim removed.
    pub foreign_rm: usize,
    /// Entries of others inside the root that the victim changed, and entries it made in
    /// a directory it did not make.
    pub foreign_wr: usize,
    /// The victim's own files outside the root (`~/.bashrc`, `~/secret`) it made,
    /// removed or changed: through a symlink, necessarily.
    pub outside: usize,
    /// The victim was told why: `Reaped`/`Replaced`/`Swapped`/`Vanished`, or a status
    /// that is not `Intact`.
    pub detected: bool,
    /// Victim-made entries still there after its cleanup.
    pub leaked: usize,
}

impl Metrics {
    /// What counts as harm: a silent loss, or anything done to what is not the victim's.
    /// A loss the victim is told of is not harm: no defence can stop a reaper from
    /// removing a file in use, only say so.
    pub fn harm(&self) -> usize {
        self.silent + self.foreign_rm + self.foreign_wr + self.outside
    }

    /// Harm first, then losses and leaks: how the worst seed of a row is chosen.
    pub fn severity(&self) -> (usize, usize, usize) {
        (self.harm(), self.lost, self.leaked)
    }
}

/// One real reaper pass, against what its twin model said it would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pass {
    Agrees,
    Disagrees(String),
    /// The program failed.
    Failed(String),
}

/// Everything a run leaves behind.
pub struct Outcome {
    pub metrics: Metrics,
    /// Every change and who made it (relative paths, no times): compared byte for byte by
    /// `--check-determinism` on disk.
    pub events: Vec<String>,
    /// The filesystem's trace (in memory).
    pub trace: Vec<String>,
    pub passes: Vec<Pass>,
}

/// Hands the baton back for good, even if the adversary panics.
struct Finish<'a>(&'a Sched);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.finish_adversary();
    }
}

/// Runs `plan` with `victim` in `env`.
#[allow(clippy::too_many_arguments)]
pub fn seeded(
    env: &dyn Env,
    plan: &Plan,
    reaper: &ReaperRun<'_>,
    sched: &Sched,
    victim: &mut dyn Victim,
    log: &Shared<VictimLog>,
    published: &Shared<Published>,
    predict: Predict<'_>,
) -> Outcome {
    let measure = Mutex::new(Measure::new(env));
    let attack_log = Mutex::new(AttackLog::default());
    let passes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _done = Finish(sched);
            let attacker = Attacker {
                env,
                published,
                log: &attack_log,
                predict,
            };
            for (point, advs) in &plan.strikes {
                sched.wait_until(*point);
                lock(&measure).victim_turn(env);
                for adv in advs {
                    match (adv, reaper) {
                        (Adv::Reap { .. }, ReaperRun::None) => {}
                        (Adv::Reap { delay }, ReaperRun::Model(r)) => {
                            reap_model(env, r, *delay, sched, &measure);
                        }
                        (Adv::Reap { .. }, ReaperRun::Real { kind, twin, dir }) => {
                            let pass = reap_real(env, *kind, twin, dir, &measure);
                            lock(&passes).push(pass);
                        }
                        (other, _) => attacker.act(other),
                    }
                }
                lock(&measure).others_turn(env, "adversary");
            }
        });
        for (i, act) in plan.scenario.acts.iter().enumerate() {
            sched.begin_act(i);
            if let Act::Idle(d) = act {
                let mut m = lock(&measure);
                m.victim_turn(env);
                env.advance(*d);
                m.others_turn(env, "clock");
            }
            victim.act(act);
            lock(&measure).victim_turn(env);
        }
        sched.finish_victim();
    });
    let mut m = measure.into_inner().unwrap_or_else(|e| e.into_inner());
    m.trace.extend(env.take_trace());
    let log = lock(log);
    let distinct = |silent_only: bool| {
        log.lost
            .iter()
            .filter(|l| !silent_only || l.1)
            .map(|l| l.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    Outcome {
        metrics: Metrics {
            lost: distinct(false),
            silent: distinct(true),
            foreign_rm: m.foreign_rm.len(),
            foreign_wr: m.foreign_wr.len(),
            outside: m.outside.len(),
            detected: log.detected,
            leaked: m.leaked(),
        },
        events: m.events,
        trace: m.trace,
        passes: passes.into_inner().unwrap_or_else(|e| e.into_inner()),
    }
}

/// One pass of a model; the victim runs `delay` operations in each of its windows.
fn reap_model(env: &dyn Env, reaper: &Reaper, delay: usize, sched: &Sched, m: &Mutex<Measure>) {
    let view = env.reaper(reaper.noatime());
    let mut window = |_: &Utf8Path| {
        if delay > 0 {
            lock(m).others_turn(env, "reaper");
            sched.pause(delay);
            lock(m).victim_turn(env);
        }
    };
    reaper.run(&*view, env.root(), &mut window);
}

/// One pass of a real reaper, after its twin said what it would remove.
fn reap_real(
    env: &dyn Env,
    kind: RealKind,
    twin: &Reaper,
    dir: &Utf8Path,
    m: &Mutex<Measure>,
) -> Pass {
    let before: Snapshot = lock(m).snapshot(env);
    let predicted = {
        let view = env.reaper(true);
        let dry = DryRun::new(&*view);
        twin.run(&dry, env.root(), &mut |_| {});
        rel_set(env, dry.removed())
    };
    let printed = match kind.run(twin, env.root(), dir) {
        Ok(printed) => printed,
        Err(e) => return Pass::Failed(e),
    };
    let after = lock(m).snapshot(env);
    let removed = before.removed_by(&after);
    let logged = kind.logged_removals(&printed, env.root());
    let mut wrong = Vec::new();
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
        a.difference(b).cloned().collect::<Vec<_>>().join(" ")
    };
    if removed != predicted {
        for (a, b, what) in [
            (
                &removed,
                &predicted,
                "the program removed what the model keeps",
            ),
            (
                &predicted,
                &removed,
                "the model removes what the program kept",
            ),
        ] {
            let diff = only(a, b);
            if !diff.is_empty() {
                wrong.push(format!("{what}: {diff}"));
            }
        }
    }
    if let Some(logged) = logged
        && logged != removed
    {
        wrong.push(format!(
            "its own log names [{}], the filesystem shows [{}] gone",
            only(&logged, &removed),
            only(&removed, &logged)
        ));
    }
    if wrong.is_empty() {
        Pass::Agrees
    } else {
        Pass::Disagrees(wrong.join("; "))
    }
}
