//! The twelve scenarios: the victim's program, the adversary's plan, and the measuring of
//! what happened.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::FileKind;

use super::env::Env;
use super::model::{Act, Published, Shared, Victim, VictimLog, lock};
use super::reaper::Reaper;
use super::sched::{Point, Sched, SplitMix64};

const DAY: Duration = Duration::from_secs(86_400);

/// A scenario of issue 5 / REAPERS.md.
pub struct Scenario {
    pub id: usize,
    pub name: &'static str,
    pub about: &'static str,
    /// Whether a reaper takes part (7 and 11 are attackers alone).
    pub uses_reaper: bool,
}

pub const SCENARIOS: [Scenario; 12] = [
    Scenario {
        id: 1,
        name: "idle-in-use",
        about: "files age out while in use; the directory stays fresh",
        uses_reaper: true,
    },
    Scenario {
        id: 2,
        name: "same-pass",
        about: "directory emptied and removed in the same pass",
        uses_reaper: true,
    },
    Scenario {
        id: 3,
        name: "recreated",
        about: "reaped, then recreated 0777 by another uid",
        uses_reaper: true,
    },
    Scenario {
        id: 4,
        name: "recreated-symlink",
        about: "as 3, with symlinks to ~/.bashrc at tracked names",
        uses_reaper: true,
    },
    Scenario {
        id: 5,
        name: "dir-symlink",
        about: "a symlink planted at the directory's own name",
        uses_reaper: true,
    },
    Scenario {
        id: 6,
        name: "cleanup-race",
        about: "cleanup concurrent with the reaper and an attacker",
        uses_reaper: true,
    },
    Scenario {
        id: 7,
        name: "eexist-storm",
        about: "predicted names pre-created (weak randomness)",
        uses_reaper: false,
    },
    Scenario {
        id: 8,
        name: "mktemp-gap",
        about: "reaped between mktemp() and the caller's create",
        uses_reaper: true,
    },
    Scenario {
        id: 9,
        name: "preserved-times",
        about: "files with old-looking times (tar, cp -p), reaper by mtime",
        uses_reaper: true,
    },
    Scenario {
        id: 10,
        name: "touch-race",
        about: "keep-alive racing the reaper's stat-then-unlink",
        uses_reaper: true,
    },
    Scenario {
        id: 11,
        name: "same-uid",
        about: "an attacker with the victim's uid",
        uses_reaper: false,
    },
    Scenario {
        id: 12,
        name: "slow-reaper",
        about: "a reaper slowed between stat and unlink",
        uses_reaper: true,
    },
];

/// What the adversary does at a point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adv {
    /// One reaper pass; `delay` victim operations run between each `lstat` and removal.
    Reap { delay: usize },
    /// Make a directory (mode 0777) at the victim's directory path if it is free.
    Recreate,
    /// A symlink to `~/.bashrc` at every published name that is free.
    PlantLinks,
    /// A symlink to `~/secret` at the victim's directory path if it is free.
    PlantDirLink,
    /// Pre-create the predicted directory names (scenario 7).
    Storm,
    /// Same uid: replace tracked file 0 by a symlink to `~/.bashrc`.
    SwapForSymlink,
    /// Same uid: replace tracked file 1 by its own file and add an untracked one.
    ReplaceAndAdd,
    /// Same uid: move the directory away, make a new one at its path with a symlink at
    /// tracked name 0.
    MoveDirAway,
}

/// A scenario instantiated for one run: every choice drawn from the run's generator.
pub struct Plan {
    pub acts: Vec<Act>,
    pub strikes: Vec<(Point, Vec<Adv>)>,
    /// Seeds the path victim's names (and, in scenario 7, the handle's weak generator).
    pub name_seed: u64,
    /// Scenario 7: names come from a generator the attacker knows.
    pub weak_names: bool,
    /// How many predicted names the storm plants.
    pub storm: usize,
    pub same_uid: bool,
    /// The victim runs as root (duplicity's system backups): the sticky bit of `/tmp` no
    /// longer keeps it from removing other users' entries.
    pub victim_root: bool,
    pub protected_symlinks: bool,
    /// Scenario 9: the reaper judges by mtime (`tmpwatch -m`, `tmpreaper --mtime`).
    pub reaper_by_mtime: bool,
}

impl Plan {
    pub fn new(id: usize, rng: &mut SplitMix64) -> Plan {
        use Act::*;
        let name_seed = rng.next_u64();
        let mut plan = Plan {
            acts: Vec::new(),
            strikes: Vec::new(),
            name_seed,
            weak_names: false,
            storm: 0,
            same_uid: false,
            victim_root: false,
            protected_symlinks: true,
            reaper_by_mtime: false,
        };
        let k = rng.range(0, 1) as usize;
        let at = |act: usize, op: usize| Point { act, op };
        match id {
            1 => {
                // A progress file made and removed keeps the directory's mtime fresh.
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mkstemp(1),
                    Idle(6 * DAY),
                    Mkstemp(2),
                    Remove(2),
                    Idle(5 * DAY),
                    Reopen(0),
                    Verify(0),
                    Verify(1),
                    Cleanup,
                ];
                plan.strikes = vec![(at(7, k), vec![Adv::Reap { delay: 0 }])];
            }
            2 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mkstemp(1),
                    Idle(11 * DAY),
                    Mkstemp(2),
                    Verify(0),
                    Verify(1),
                    Verify(2),
                    Cleanup,
                ];
                plan.strikes = vec![(at(4, k), vec![Adv::Reap { delay: 0 }])];
            }
            3 | 4 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Idle(11 * DAY),
                    Mkstemp(1),
                    Mktemp(2),
                    Create(2),
                    Reopen(0),
                    Verify(0),
                    Verify(1),
                    Verify(2),
                    Cleanup,
                ];
                let mut first = vec![Adv::Reap { delay: 0 }, Adv::Recreate];
                if id == 4 {
                    first.push(Adv::PlantLinks);
                }
                plan.strikes = vec![(at(3, k), first)];
                if id == 4 {
                    // The mktemp name is public once handed out.
                    plan.strikes.push((at(5, 0), vec![Adv::PlantLinks]));
                }
            }
            5 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Idle(11 * DAY),
                    Mkstemp(1),
                    Reopen(0),
                    Verify(0),
                    Verify(1),
                    Cleanup,
                ];
                plan.strikes = vec![(at(3, k), vec![Adv::Reap { delay: 0 }, Adv::PlantDirLink])];
                plan.protected_symlinks = false;
            }
            6 => {
                plan.acts = vec![MakeDir, Mkstemp(0), Mkstemp(1), Idle(11 * DAY), Cleanup];
                let op = rng.range(0, 3) as usize;
                let delay = rng.range(0, 2) as usize;
                let mut advs = vec![Adv::Reap { delay }, Adv::Recreate];
                if rng.chance(1, 2) {
                    advs.push(Adv::PlantLinks);
                }
                plan.strikes = vec![(at(4, op), advs)];
                plan.victim_root = true;
            }
            7 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mktemp(1),
                    Create(1),
                    Verify(0),
                    Verify(1),
                    Cleanup,
                ];
                plan.weak_names = true;
                plan.storm = rng.range(1, 6) as usize;
                plan.strikes = vec![(at(0, 0), vec![Adv::Storm])];
            }
            8 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Idle(11 * DAY),
                    Mktemp(1),
                    Create(1),
                    Verify(0),
                    Verify(1),
                    Cleanup,
                ];
                let mut advs = vec![Adv::Reap { delay: 0 }, Adv::Recreate];
                if rng.chance(1, 2) {
                    advs.push(Adv::PlantLinks);
                }
                plan.strikes = vec![(at(4, 0), advs)];
            }
            9 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mkstemp(1),
                    Preserve(0, 30 * DAY),
                    Preserve(1, 30 * DAY),
                    Idle(DAY),
                    Reopen(0),
                    Verify(0),
                    Verify(1),
                    Cleanup,
                ];
                plan.reaper_by_mtime = true;
                plan.strikes = vec![(at(6, k), vec![Adv::Reap { delay: 0 }])];
            }
            10 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mkstemp(1),
                    Idle(11 * DAY),
                    KeepAlive,
                    Reopen(0),
                    Verify(0),
                    Verify(1),
                    Cleanup,
                ];
                let delay = rng.range(1, 3) as usize;
                plan.strikes = vec![(at(4, 0), vec![Adv::Reap { delay }])];
            }
            11 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mkstemp(1),
                    Mktemp(2),
                    Create(2),
                    Reopen(0),
                    Reopen(2),
                    Verify(0),
                    Verify(1),
                    Verify(2),
                    Cleanup,
                ];
                plan.same_uid = true;
                let adv = match rng.range(0, 2) {
                    0 => Adv::SwapForSymlink,
                    1 => Adv::ReplaceAndAdd,
                    _ => Adv::MoveDirAway,
                };
                plan.strikes = vec![(at(5, rng.range(0, 2) as usize), vec![adv])];
            }
            12 => {
                plan.acts = vec![
                    MakeDir,
                    Mkstemp(0),
                    Mkstemp(1),
                    Idle(11 * DAY),
                    Reopen(0),
                    Mkstemp(2),
                    Reopen(1),
                    Verify(0),
                    Verify(1),
                    Verify(2),
                    Cleanup,
                ];
                let delay = rng.range(2, 5) as usize;
                plan.strikes = vec![(at(4, k), vec![Adv::Reap { delay }])];
            }
            _ => unreachable!("scenario ids are 1..=12"),
        }
        plan
    }
}

/// What one run showed: the SPEC §6 metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    pub own_files_lost: usize,
    pub foreign_entries_removed: usize,
    pub foreign_files_written: usize,
    pub symlinks_followed: usize,
    pub detected: bool,
    /// Of `own_files_lost`, those the victim read back without any error: it would carry
    /// on with the wrong data.
    pub silent: usize,
    pub leaked_after_cleanup: usize,
}

#[derive(Clone, Debug)]
struct Entry {
    ino: u64,
    parent: u64,
    kind: FileKind,
}

/// Every entry under `dir` (itself excluded), not following symlinks.
fn walk(env: &dyn Env, dir: &Utf8Path, out: &mut Vec<Entry>) {
    let fs = env.inspector();
    let Ok(here) = fs.lstat(dir) else { return };
    let Ok(names) = fs.read_dir(dir) else { return };
    for name in names {
        let path = dir.join(name);
        let Ok(st) = fs.lstat(&path) else { continue };
        out.push(Entry {
            ino: st.ino,
            parent: here.ino,
            kind: st.kind,
        });
        if st.kind == FileKind::Dir {
            walk(env, &path, out);
        }
    }
}

/// The attacker's own record of what it made and removed.
#[derive(Default)]
struct AttackLog {
    /// `(path, ino, content if a file)`.
    created: Vec<(Utf8PathBuf, u64, Option<Vec<u8>>)>,
    removed: Vec<u64>,
    reaped: Vec<u64>,
}

/// The names the adversary plants in scenario 7, for the model under test.
pub type Predict<'a> = &'a (dyn Fn(usize) -> Vec<String> + Sync);

/// Runs one plan: the victim on this thread, the adversary on another, the baton between.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    env: &dyn Env,
    plan: &Plan,
    reaper: Option<&Reaper>,
    sched: &Arc<Sched>,
    victim: &mut dyn Victim,
    created: &dyn Fn() -> Vec<u64>,
    log: &Shared<VictimLog>,
    published: &Shared<Published>,
    predict: Predict<'_>,
) -> Metrics {
    let root = env.root().to_owned();
    let mut before = Vec::new();
    walk(env, &root, &mut before);
    let bystanders: BTreeSet<u64> = before.iter().map(|e| e.ino).collect();
    let attack = Arc::new(std::sync::Mutex::new(AttackLog::default()));
    let bashrc_start = env.inspector().read(env.bashrc()).unwrap_or_default();

    let mut followed = 0;
    let mut in_secret = BTreeSet::new();
    let mut written = BTreeSet::new();
    let mut bashrc = bashrc_start.clone();

    std::thread::scope(|scope| {
        let attack_adv = Arc::clone(&attack);
        let sched_adv = Arc::clone(sched);
        let published = Arc::clone(published);
        scope.spawn(move || {
            let _done = Finish(&sched_adv);
            for (point, advs) in &plan.strikes {
                sched_adv.wait_until(*point);
                for adv in advs {
                    adversary(
                        env,
                        plan,
                        reaper,
                        &sched_adv,
                        adv,
                        &published,
                        &attack_adv,
                        predict,
                    );
                }
            }
        });

        for (i, act) in plan.acts.iter().enumerate() {
            sched.begin_act(i);
            if let Act::Idle(d) = act {
                env.advance(*d);
            }
            victim.act(act);
            // Measure after every act (as root, without moving atimes).
            let now = env.inspector().read(env.bashrc()).unwrap_or_default();
            if now != bashrc {
                followed += 1;
                bashrc = now;
            }
            let mine: BTreeSet<u64> = created().into_iter().collect();
            let own_dir = lock(log).dir_ino;
            let mut secret = Vec::new();
            walk(env, env.secret(), &mut secret);
            in_secret.extend(
                secret
                    .iter()
                    .filter(|e| mine.contains(&e.ino))
                    .map(|e| e.ino),
            );
            let mut all = Vec::new();
            walk(env, &root, &mut all);
            for e in &all {
                if mine.contains(&e.ino) && e.kind != FileKind::Dir && Some(e.parent) != own_dir {
                    written.insert(e.ino);
                }
            }
            for (path, ino, content) in &lock(&attack).created {
                if let Some(content) = content
                    && env.inspector().lstat(path).is_ok_and(|s| s.ino == *ino)
                    && env.inspector().read(path).is_ok_and(|now| &now != content)
                {
                    written.insert(*ino);
                }
            }
        }
        sched.finish_victim();
    });

    let mut after = Vec::new();
    walk(env, &root, &mut after);
    walk(env, env.secret(), &mut after);
    let present: BTreeSet<u64> = after.iter().map(|e| e.ino).collect();
    let attack = lock(&attack);
    let foreign: BTreeSet<u64> = bystanders
        .iter()
        .copied()
        .chain(attack.created.iter().map(|c| c.1))
        .collect();
    let by_others: BTreeSet<u64> = attack
        .removed
        .iter()
        .chain(&attack.reaped)
        .copied()
        .collect();
    let mine: BTreeSet<u64> = created().into_iter().collect();
    let log = lock(log);
    Metrics {
        own_files_lost: log.lost.iter().map(|l| l.0).collect::<BTreeSet<_>>().len(),
        silent: log
            .lost
            .iter()
            .filter(|l| l.1)
            .map(|l| l.0)
            .collect::<BTreeSet<_>>()
            .len(),
        foreign_entries_removed: foreign
            .iter()
            .filter(|ino| !present.contains(ino) && !by_others.contains(ino) && !mine.contains(ino))
            .count(),
        foreign_files_written: written.len(),
        symlinks_followed: followed + in_secret.len(),
        detected: log.detected,
        leaked_after_cleanup: mine.intersection(&present).count(),
    }
}

/// Hands the baton back for good, even if the adversary panics.
struct Finish<'a>(&'a Sched);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.finish_adversary();
    }
}

#[allow(clippy::too_many_arguments)]
fn adversary(
    env: &dyn Env,
    plan: &Plan,
    reaper: Option<&Reaper>,
    sched: &Sched,
    adv: &Adv,
    published: &Shared<Published>,
    attack: &std::sync::Mutex<AttackLog>,
    predict: Predict<'_>,
) {
    let att = env.attacker();
    let (dir, names) = {
        let p = lock(published);
        (p.dir.clone(), p.names.clone())
    };
    let made = |path: &Utf8Path, content: Option<Vec<u8>>| {
        if let Ok(st) = att.lstat(path) {
            lock(attack)
                .created
                .push((path.to_owned(), st.ino, content));
        }
    };
    let removed = |path: &Utf8Path| -> bool {
        let Ok(st) = att.lstat(path) else {
            return false;
        };
        let gone = if st.kind == FileKind::Dir {
            att.remove_dir(path)
        } else {
            att.remove_file(path)
        };
        if gone.is_ok() {
            lock(attack).removed.push(st.ino);
        }
        gone.is_ok()
    };
    let free = |path: &Utf8Path| att.lstat(path).is_err();
    match adv {
        Adv::Reap { delay } => {
            let Some(reaper) = reaper else { return };
            let view = env.reaper(reaper.noatime());
            let mut window = |_: &Utf8Path| {
                if *delay > 0 {
                    sched.pause(*delay);
                }
            };
            let pass = reaper.run(&*view, env.root(), &mut window);
            lock(attack).reaped.extend(pass.removed.iter().map(|r| r.1));
        }
        Adv::Recreate => {
            if let Some(dir) = dir
                && free(&dir)
                && att.create_dir(&dir, 0o777).is_ok()
            {
                made(&dir, None);
            }
        }
        Adv::PlantLinks => {
            let Some(dir) = dir else { return };
            for name in names.iter().filter(|n| n.parent() == Some(&dir)) {
                if free(name) && att.symlink(env.bashrc(), name).is_ok() {
                    made(name, None);
                }
            }
        }
        Adv::PlantDirLink => {
            if let Some(dir) = dir
                && free(&dir)
                && att.symlink(env.secret(), &dir).is_ok()
            {
                made(&dir, None);
            }
        }
        Adv::Storm => {
            for (i, name) in predict(plan.storm).into_iter().enumerate() {
                let path = env.root().join(name);
                let ok = match i % 3 {
                    0 => att.symlink(env.secret(), &path).is_ok(),
                    1 => att.create_dir(&path, 0o777).is_ok(),
                    _ => att.write(&path, b"planted").is_ok(),
                };
                if ok {
                    made(&path, (i % 3 == 2).then(|| b"planted".to_vec()));
                }
            }
        }
        Adv::SwapForSymlink => {
            if let Some(name) = names.first()
                && removed(name)
                && att.symlink(env.bashrc(), name).is_ok()
            {
                made(name, None);
            }
        }
        Adv::ReplaceAndAdd => {
            if let Some(name) = names.get(1)
                && removed(name)
                && att.write(name, b"attacker's").is_ok()
            {
                made(name, Some(b"attacker's".to_vec()));
            }
            if let Some(dir) = dir {
                let extra = dir.join("attacker-notes");
                if att.write(&extra, b"notes").is_ok() {
                    made(&extra, Some(b"notes".to_vec()));
                }
            }
        }
        Adv::MoveDirAway => {
            let Some(dir) = dir else { return };
            let away = Utf8PathBuf::from(format!("{dir}.moved"));
            if att.rename(&dir, &away).is_ok() && att.create_dir(&dir, 0o700).is_ok() {
                made(&dir, None);
                if let Some(name) = names.first()
                    && att.symlink(env.bashrc(), name).is_ok()
                {
                    made(name, None);
                }
            }
        }
    }
}
