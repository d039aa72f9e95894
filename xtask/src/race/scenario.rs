//! The scenarios, as data. Each is defined once, here: its victim program, who the
//! adversary is, and where and how it may strike. Planning draws the strikes from a seed
//! (`plan.rs`); nothing else knows one scenario from another.

use std::time::Duration;

const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// One step of the victim's program. Slots number the victim's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Make the temporary directory.
    MakeDir,
    /// `mkstemp()` and write data through the descriptor.
    Mkstemp(usize),
    /// `mktemp()`: a name only.
    Mktemp(usize),
    /// Create the `mktemp` name and write data (path: `open(name, "wb")`; handle:
    /// `create(name)`).
    Create(usize),
    /// Reopen a tracked file by name and append (path: `open(name, "ab")`; handle:
    /// `open(name)`).
    Reopen(usize),
    /// Done with a file: remove it (path: `unlink`; handle: `remove`).
    Remove(usize),
    /// The process sleeps while the clock moves on.
    Idle(Duration),
    /// Refresh the times (handle: `keep_alive()`; path: `os.utime` the directory and
    /// every tracked name).
    KeepAlive,
    /// `tar`/`cp -p` gave the file times this old (by path, outside the library).
    Preserve(usize, Duration),
    /// The victim needs the file: read it back by name and compare.
    Verify(usize),
    /// `cleanup()`.
    Cleanup,
}

/// Who the adversary is, as `SECURITY.md` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// Another uid sharing the root, and the reapers (running as root): the threat model.
    OtherUid,
    /// A process of the victim's own uid: outside the threat model (it can already write
    /// the victim's files and ptrace it). Its rows are shown, and never count as harm.
    SameUid,
}

/// What the adversary may do at a strike; the `(lo, hi)` pairs are ranges the seed draws
/// from, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdvSpec {
    /// One reaper pass; `delay` victim operations run between each `lstat` and removal.
    Reap { delay: (u64, u64) },
    /// Make a directory (mode 0777) at the victim's directory path if it is free.
    Recreate,
    /// A symlink to `~/.bashrc` at every published name that is free.
    PlantLinks,
    /// At every published name that is free: a symlink to `~/.bashrc` (even names) or a
    /// file of the attacker's own (odd names).
    PlantMixed,
    /// A symlink to `~/secret` at the victim's directory path if it is free.
    PlantDirLink,
    /// Pre-create this many of the predicted directory names.
    Storm { count: (u64, u64) },
    /// Same uid: replace tracked file 0 by a symlink to `~/.bashrc`.
    SwapForSymlink,
    /// Same uid: replace tracked file 1 by its own file and add an untracked one.
    ReplaceAndAdd,
    /// Same uid: move the directory away, make a new one at its path with a symlink at
    /// tracked name 0.
    MoveDirAway,
    /// Same uid, inside the victim's directory: every published name (there or not)
    /// becomes a symlink to `~/.bashrc` (even names) or a file of its own (odd names).
    SwapAll,
}

/// A place the adversary may strike: before the `op`-th filesystem operation of act
/// `act` (op 0: at the act's start), `op` drawn from `ops`, both ends included.
#[derive(Clone, Copy, Debug)]
pub struct At {
    pub act: usize,
    pub ops: (u64, u64),
}

const fn at(act: usize, lo: u64, hi: u64) -> At {
    At { act, ops: (lo, hi) }
}

/// Where and how the adversary strikes: at one of `at`, doing every one of `always`,
/// each of `maybe` with even odds, and one of `one_of`.
#[derive(Clone, Copy, Debug)]
pub struct Strike {
    pub at: &'static [At],
    pub always: &'static [AdvSpec],
    pub maybe: &'static [AdvSpec],
    pub one_of: &'static [AdvSpec],
}

const fn strike(at: &'static [At], always: &'static [AdvSpec]) -> Strike {
    Strike {
        at,
        always,
        maybe: &[],
        one_of: &[],
    }
}

/// One scenario.
#[derive(Debug)]
pub struct Scenario {
    pub id: usize,
    pub name: &'static str,
    pub about: &'static str,
    /// Whether a reaper takes part: the scenario runs once per reaper.
    pub reaped: bool,
    pub actor: Actor,
    /// The victim runs as root (duplicity's system backups): the sticky bit of `/tmp` no
    /// longer keeps it from removing other users' entries.
    pub victim_root: bool,
    /// `fs.protected_symlinks` (in memory; on disk the machine's setting holds).
    pub protected_symlinks: bool,
    /// The reapers judge by mtime (`tmpwatch -m`, `tmpreaper --mtime`).
    pub reaper_by_mtime: bool,
    /// Directory names come from a generator the attacker knows.
    pub weak_names: bool,
    /// The umask the victim runs under, where the default `022` is not it.
    pub umask: Option<u32>,
    pub acts: &'static [Act],
    pub strikes: &'static [Strike],
}

impl Scenario {
    /// Whether the adversary is one `SECURITY.md` defends against.
    pub fn in_model(&self) -> bool {
        self.actor == Actor::OtherUid
    }

    /// The scenario named `key`, by name or number.
    pub fn find(key: &str) -> Option<&'static Scenario> {
        SCENARIOS
            .iter()
            .find(|s| s.name == key || s.id.to_string() == key)
    }
}

const BASE: Scenario = Scenario {
    id: 0,
    name: "",
    about: "",
    reaped: true,
    actor: Actor::OtherUid,
    victim_root: false,
    protected_symlinks: true,
    reaper_by_mtime: false,
    weak_names: false,
    umask: None,
    acts: &[],
    strikes: &[],
};

use Act::*;
use AdvSpec::*;

const REAP: AdvSpec = Reap { delay: (0, 0) };

/// The table. Act indices in `strikes` count from 0 in `acts`.
pub static SCENARIOS: [Scenario; 15] = [
    Scenario {
        id: 1,
        name: "idle-in-use",
        about: "files age out while in use; the directory stays fresh",
        // A progress file made and removed keeps the directory's mtime fresh.
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Idle(days(6)),
            Mkstemp(2),
            Remove(2),
            Idle(days(5)),
            Reopen(0),
            Verify(0),
            Verify(1),
            Cleanup,
        ],
        strikes: &[strike(&[at(7, 0, 1), at(8, 0, 1), at(9, 0, 1)], &[REAP])],
        ..BASE
    },
    Scenario {
        id: 2,
        name: "same-pass",
        about: "directory emptied and removed in the same pass",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Idle(days(11)),
            Mkstemp(2),
            Verify(0),
            Verify(1),
            Verify(2),
            Cleanup,
        ],
        strikes: &[strike(&[at(4, 0, 1)], &[REAP])],
        ..BASE
    },
    Scenario {
        id: 3,
        name: "recreated",
        about: "reaped, then recreated 0777 by another uid",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Idle(days(11)),
            Mkstemp(1),
            Mktemp(2),
            Create(2),
            Reopen(0),
            Verify(0),
            Verify(1),
            Verify(2),
            Cleanup,
        ],
        strikes: &[strike(
            &[at(3, 0, 2), at(4, 0, 2), at(5, 0, 2), at(6, 0, 2)],
            &[REAP, Recreate],
        )],
        ..BASE
    },
    Scenario {
        id: 4,
        name: "recreated-symlink",
        about: "as 3, with symlinks to ~/.bashrc at tracked names",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Idle(days(11)),
            Mkstemp(1),
            Mktemp(2),
            Create(2),
            Reopen(0),
            Verify(0),
            Verify(1),
            Verify(2),
            Cleanup,
        ],
        strikes: &[
            strike(
                &[at(3, 0, 1), at(4, 0, 1), at(5, 0, 1)],
                &[REAP, Recreate, PlantLinks],
            ),
            // The mktemp name is public once handed out.
            strike(&[at(5, 0, 0)], &[PlantLinks]),
        ],
        ..BASE
    },
    Scenario {
        id: 5,
        name: "dir-symlink",
        about: "a symlink planted at the directory's own name",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Idle(days(11)),
            Mkstemp(1),
            Reopen(0),
            Verify(0),
            Verify(1),
            Cleanup,
        ],
        strikes: &[strike(
            &[at(3, 0, 1), at(4, 0, 1), at(5, 0, 1)],
            &[REAP, PlantDirLink],
        )],
        protected_symlinks: false,
        ..BASE
    },
    Scenario {
        id: 6,
        name: "cleanup-race",
        about: "cleanup concurrent with the reaper and an attacker (victim root)",
        acts: &[MakeDir, Mkstemp(0), Mkstemp(1), Idle(days(11)), Cleanup],
        strikes: &[Strike {
            at: &[at(4, 0, 6)],
            always: &[Reap { delay: (0, 2) }, Recreate],
            maybe: &[PlantLinks],
            one_of: &[],
        }],
        victim_root: true,
        ..BASE
    },
    Scenario {
        id: 7,
        name: "eexist-storm",
        about: "predicted names pre-created (weak randomness)",
        reaped: false,
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mktemp(1),
            Create(1),
            Verify(0),
            Verify(1),
            Cleanup,
        ],
        strikes: &[strike(&[at(0, 0, 0)], &[Storm { count: (1, 6) }])],
        weak_names: true,
        ..BASE
    },
    Scenario {
        id: 8,
        name: "mktemp-gap",
        about: "reaped between mktemp() and the caller's create",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Idle(days(11)),
            Mktemp(1),
            Create(1),
            Verify(0),
            Verify(1),
            Cleanup,
        ],
        strikes: &[Strike {
            at: &[at(4, 0, 1)],
            always: &[REAP, Recreate],
            maybe: &[PlantLinks],
            one_of: &[],
        }],
        ..BASE
    },
    Scenario {
        id: 9,
        name: "preserved-times",
        about: "files with old-looking times (tar, cp -p), reaper by mtime",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Preserve(0, days(30)),
            Preserve(1, days(30)),
            Idle(days(1)),
            Reopen(0),
            Verify(0),
            Verify(1),
            Cleanup,
        ],
        strikes: &[strike(&[at(6, 0, 1), at(7, 0, 1)], &[REAP])],
        reaper_by_mtime: true,
        ..BASE
    },
    Scenario {
        id: 10,
        name: "touch-race",
        about: "keep-alive racing the reaper's stat-then-unlink",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Idle(days(11)),
            KeepAlive,
            Reopen(0),
            Verify(0),
            Verify(1),
            Cleanup,
        ],
        strikes: &[strike(&[at(4, 0, 2)], &[Reap { delay: (1, 3) }])],
        ..BASE
    },
    Scenario {
        id: 11,
        name: "same-uid",
        about: "a process of the victim's own uid swaps, replaces, moves",
        reaped: false,
        actor: Actor::SameUid,
        acts: &[
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
        ],
        strikes: &[Strike {
            at: &[at(5, 0, 2), at(6, 0, 2), at(7, 0, 2)],
            always: &[],
            maybe: &[],
            one_of: &[SwapForSymlink, ReplaceAndAdd, MoveDirAway],
        }],
        ..BASE
    },
    Scenario {
        id: 12,
        name: "slow-reaper",
        about: "a reaper slowed between stat and unlink",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Idle(days(11)),
            Reopen(0),
            Mkstemp(2),
            Reopen(1),
            Verify(0),
            Verify(1),
            Verify(2),
            Cleanup,
        ],
        strikes: &[strike(&[at(4, 0, 1)], &[Reap { delay: (2, 5) }])],
        ..BASE
    },
    Scenario {
        id: 13,
        name: "planted-names",
        about: "reaped, recreated 0777 with symlinks and files at tracked names, \
                just before keep_alive, open or remove",
        // Each of the three comes after days of idling: the reaper can strike in it.
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Mktemp(2),
            Create(2),
            Idle(days(11)),
            KeepAlive,
            Idle(days(11)),
            Reopen(0),
            Idle(days(11)),
            Remove(1),
            Verify(0),
            Verify(2),
            Cleanup,
        ],
        // keep_alive after its look at the directory's name, open and remove before they
        // start.
        strikes: &[strike(
            &[at(6, 2, 2), at(8, 0, 1), at(10, 0, 1)],
            &[REAP, Recreate, PlantMixed],
        )],
        ..BASE
    },
    Scenario {
        id: 14,
        name: "same-uid-planted",
        about: "our own uid puts symlinks and files at tracked names inside the \
                directory, before create, open, keep_alive or remove (umask 277)",
        reaped: false,
        actor: Actor::SameUid,
        acts: &[
            MakeDir,
            Mkstemp(0),
            Mkstemp(1),
            Mktemp(2),
            Create(2),
            Reopen(0),
            KeepAlive,
            Remove(1),
            Verify(0),
            Verify(2),
            Cleanup,
        ],
        strikes: &[strike(
            &[at(4, 0, 3), at(5, 0, 3), at(6, 0, 3), at(7, 0, 3)],
            &[SwapAll],
        )],
        // Takes the owner's write bit: the core gives each new file its mode through
        // the descriptor, a step a symlink swapped in must not redirect.
        umask: Some(0o277),
        ..BASE
    },
    Scenario {
        id: 15,
        name: "idle-empty",
        about: "cleanup of an idle, empty directory racing the reaper and an attacker \
                (victim root)",
        acts: &[
            MakeDir,
            Mkstemp(0),
            Verify(0),
            Remove(0),
            Idle(days(11)),
            Cleanup,
        ],
        strikes: &[strike(&[at(5, 0, 5)], &[REAP, Recreate])],
        victim_root: true,
        ..BASE
    },
];
