//! Planning: which rows a run has (scenario × victim model × reaper × flock) and which
//! seeds each covers, and what a scenario becomes for one seed (its strikes drawn).

use super::args::Options;
use super::broken::Break;
use super::real::RealKind;
use super::reaper::Reaper;
use super::scenario::{AdvSpec, SCENARIOS, Scenario};
use super::sched::{Point, SplitMix64};

/// What the adversary does at a strike, with every range drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adv {
    Reap { delay: usize },
    Recreate,
    PlantLinks,
    PlantMixed,
    PlantDirLink,
    Storm { count: usize },
    SwapForSymlink,
    ReplaceAndAdd,
    MoveDirAway,
    SwapAll,
}

fn draw(spec: AdvSpec, rng: &mut SplitMix64) -> Adv {
    let pick = |rng: &mut SplitMix64, (lo, hi): (u64, u64)| rng.range(lo, hi) as usize;
    match spec {
        AdvSpec::Reap { delay } => Adv::Reap {
            delay: pick(rng, delay),
        },
        AdvSpec::Recreate => Adv::Recreate,
        AdvSpec::PlantLinks => Adv::PlantLinks,
        AdvSpec::PlantMixed => Adv::PlantMixed,
        AdvSpec::PlantDirLink => Adv::PlantDirLink,
        AdvSpec::Storm { count } => Adv::Storm {
            count: pick(rng, count),
        },
        AdvSpec::SwapForSymlink => Adv::SwapForSymlink,
        AdvSpec::ReplaceAndAdd => Adv::ReplaceAndAdd,
        AdvSpec::MoveDirAway => Adv::MoveDirAway,
        AdvSpec::SwapAll => Adv::SwapAll,
    }
}

/// A scenario instantiated for one seed. The same seed gives the same plan to every
/// victim model, so their rows are comparable seed by seed.
pub struct Plan {
    pub scenario: &'static Scenario,
    pub seed: u64,
    /// In the order they happen.
    pub strikes: Vec<(Point, Vec<Adv>)>,
    /// Seeds the victims' names: the path victim's, the handle's where the attacker
    /// predicts them (weak names), and the handle's on disk.
    pub name_seed: u64,
    /// Seeds the in-memory filesystem.
    pub fs_seed: u64,
}

impl Plan {
    pub fn new(scenario: &'static Scenario, seed: u64) -> Plan {
        let mut rng = SplitMix64::derive(seed, &[scenario.id as u64]);
        let name_seed = rng.next_u64();
        let fs_seed = rng.next_u64();
        let mut strikes = Vec::new();
        for strike in scenario.strikes {
            let at = strike.at[rng.range(0, strike.at.len() as u64 - 1) as usize];
            let act = at.act;
            let op = rng.range(at.ops.0, at.ops.1) as usize;
            let mut advs: Vec<Adv> = strike.always.iter().map(|&s| draw(s, &mut rng)).collect();
            for &spec in strike.maybe {
                if rng.chance(1, 2) {
                    advs.push(draw(spec, &mut rng));
                }
            }
            if !strike.one_of.is_empty() {
                let i = rng.range(0, strike.one_of.len() as u64 - 1) as usize;
                advs.push(draw(strike.one_of[i], &mut rng));
            }
            strikes.push((Point { act, op }, advs));
        }
        // The adversary waits for its points in order.
        strikes.sort_by_key(|s| s.0);
        Plan {
            scenario,
            seed,
            strikes,
            name_seed,
            fs_seed,
        }
    }

    /// Every adversary action of the plan, in order (the free-running attacker's
    /// repertoire).
    pub fn advs(&self) -> impl Iterator<Item = &Adv> {
        self.strikes.iter().flat_map(|s| &s.1)
    }
}

/// The victim of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Model {
    /// duplicity 3.2.1's algorithm by absolute path (the reference).
    Path,
    /// This library on the in-memory backend.
    HandleMemory,
    /// This library on a real directory.
    HandleCapStd,
}

impl Model {
    pub const ALL: [Model; 3] = [Model::Path, Model::HandleMemory, Model::HandleCapStd];

    pub fn name(self) -> &'static str {
        match self {
            Model::Path => "path",
            Model::HandleMemory => "handle-memory",
            Model::HandleCapStd => "handle-cap-std",
        }
    }

    pub fn is_handle(self) -> bool {
        self != Model::Path
    }

    pub fn on_disk(self) -> bool {
        self == Model::HandleCapStd
    }
}

/// The reaper of a row: none, one of the three models, or a real one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReaperChoice {
    None,
    /// `Reaper::all`'s index: tmpwatch, tmpreaper, systemd-tmpfiles.
    Model(usize),
    Real(RealKind),
}

impl ReaperChoice {
    /// Every name `--reaper` takes, in table order.
    pub const ALL: [ReaperChoice; 6] = [
        ReaperChoice::Model(0),
        ReaperChoice::Model(1),
        ReaperChoice::Model(2),
        ReaperChoice::Real(RealKind::Tmpreaper),
        ReaperChoice::Real(RealKind::SystemdTmpfiles),
        ReaperChoice::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReaperChoice::None => "none",
            ReaperChoice::Model(i) => Reaper::NAMES[i],
            ReaperChoice::Real(kind) => kind.name(),
        }
    }
}

/// One row of the table: a scenario × model × reaper × flock, over its seeds.
#[derive(Clone, Debug)]
pub struct Job {
    pub scenario: &'static Scenario,
    pub model: Model,
    pub reaper: ReaperChoice,
    /// `None` for the path model, which has no lock.
    pub flock: Option<bool>,
    pub seeds: Vec<u64>,
    /// A deliberately broken backend under the handle-memory victim.
    pub broken: Option<Break>,
}

impl Job {
    pub fn flock_name(&self) -> &'static str {
        match self.flock {
            None => "-",
            Some(true) => "yes",
            Some(false) => "no",
        }
    }
}

/// The rows `o` asks for, in table order: by scenario, then model, then reaper.
pub fn jobs(o: &Options) -> Vec<Job> {
    let mut jobs = Vec::new();
    let memory_seeds: Vec<u64> = o.seeds.clone().collect();
    let disk_seeds: Vec<u64> = o.seeds.clone().take(o.disk_runs).collect();
    for s in &SCENARIOS {
        if !o.scenarios.is_empty() && !o.scenarios.contains(&s.id) {
            continue;
        }
        for model in Model::ALL {
            if !o.models.is_empty() && !o.models.contains(&model) {
                continue;
            }
            if o.broken.is_some() && model != Model::HandleMemory {
                continue;
            }
            let seeds = if model.on_disk() {
                &disk_seeds
            } else {
                &memory_seeds
            };
            if seeds.is_empty() {
                continue;
            }
            // The real reapers act on real directories only.
            for (reaper, flock) in variants(o, s, model, model.on_disk()) {
                jobs.push(Job {
                    scenario: s,
                    model,
                    reaper,
                    flock,
                    seeds: seeds.clone(),
                    broken: o.broken,
                });
            }
        }
    }
    jobs
}

/// The reapers and flock settings `o` asks for of `model` in scenario `s`: no reaper for a
/// scenario without one, each reaper (the real ones only where `real` allows) for the
/// others, and the flock on and off for the handle models.
pub fn variants(
    o: &Options,
    s: &Scenario,
    model: Model,
    real: bool,
) -> Vec<(ReaperChoice, Option<bool>)> {
    let flocks: &[Option<bool>] = if model.is_handle() {
        &[Some(true), Some(false)]
    } else {
        &[None]
    };
    let mut out = Vec::new();
    for reaper in ReaperChoice::ALL {
        let wanted = match reaper {
            ReaperChoice::None => !s.reaped,
            ReaperChoice::Model(_) => s.reaped,
            ReaperChoice::Real(_) => s.reaped && real,
        };
        if !wanted || (!o.reapers.is_empty() && !o.reapers.contains(&reaper)) {
            continue;
        }
        for &flock in flocks {
            if o.flock.is_none() || flock.is_none() || flock == o.flock {
                out.push((reaper, flock));
            }
        }
    }
    out
}
