//! Measuring what the victim did: snapshots of every entry under the shared root and the
//! victim's home, compared at every hand-over of the baton.
//!
//! In a seeded run one actor acts at a time, so whatever changed between the victim
//! taking the baton and handing it over (or ending an act) is the victim's doing: an entry
//! that appeared is one it made, one that went is one it removed, one whose content,
//! mode, owner, times or place changed is one it wrote. Nothing needs attributing after
//! the fact, and a write through a symlink into `~/.bashrc` shows as what it is: a change
//! to a file the victim never named.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use super::env::{Env, layout};
use super::reaper::Kind;

/// An entry's identity: the inode and its birth, so that a reused inode number is another
/// entry.
pub type Key = (u64, Duration);

/// What a snapshot saw of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub parent: Key,
    pub name: String,
    /// Relative to the run's tree (see [`Env::relative`]).
    pub rel: String,
    pub kind: Kind,
    mode: u32,
    uid: u32,
    size: u64,
    atime: Duration,
    mtime: Duration,
    ctime: Duration,
    /// FNV-1a of a regular file's content.
    hash: u64,
}

impl Seen {
    /// Whether the entry changed in a way that counts: content, mode, owner, place, and
    /// for files and special files their times (a directory's times move with its
    /// entries, which are counted themselves; a symlink's never matter).
    fn changed(&self, now: &Seen) -> bool {
        let place = (self.parent, &self.name, self.uid) != (now.parent, &now.name, now.uid);
        place
            || match self.kind {
                Kind::Symlink => false,
                Kind::Dir => self.mode != now.mode,
                _ => {
                    (
                        self.mode, self.size, self.hash, self.atime, self.mtime, self.ctime,
                    ) != (
                        now.mode, now.size, now.hash, now.atime, now.mtime, now.ctime,
                    )
                }
            }
    }

    fn describe(&self) -> String {
        format!(
            "{} {:?} {:o} uid={}",
            self.rel, self.kind, self.mode, self.uid
        )
    }
}

/// Every entry under the root and the home, by identity.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub entries: BTreeMap<Key, Seen>,
}

impl Snapshot {
    /// Looks at everything, without following a symlink and without moving an atime.
    pub fn take(env: &dyn Env) -> Snapshot {
        let mut snap = Snapshot::default();
        for top in [env.root(), env.home()] {
            snap.walk(env, top, (0, Duration::ZERO));
        }
        snap
    }

    fn walk(&mut self, env: &dyn Env, path: &Utf8Path, parent: Key) {
        let fs = env.inspector();
        let Ok(st) = fs.lstat(path) else { return };
        let key = (st.ino, st.btime.unwrap_or(Duration::ZERO));
        let hash = if st.kind == Kind::File {
            fs.read(path).map_or(0, |data| fnv(FNV_START, &data))
        } else {
            0
        };
        let seen = Seen {
            parent,
            name: path.file_name().unwrap_or_default().to_owned(),
            rel: env.relative(path).to_owned(),
            kind: st.kind,
            mode: st.mode,
            uid: st.uid,
            size: st.size,
            atime: st.atime,
            mtime: st.mtime,
            ctime: st.ctime,
            hash,
        };
        if self.entries.insert(key, seen).is_some() {
            // A second name of a file seen already.
            return;
        }
        if st.kind == Kind::Dir
            && let Ok(names) = fs.read_dir(path)
        {
            for name in names {
                self.walk(env, &path.join(name), key);
            }
        }
    }

    /// The relative paths of what is in `self` and not in `after`.
    pub fn removed_by(&self, after: &Snapshot) -> BTreeSet<String> {
        self.entries
            .iter()
            .filter(|(k, _)| !after.entries.contains_key(k))
            .map(|(_, s)| s.rel.clone())
            .collect()
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }
}

/// What the victim did, by entry, over one run.
pub struct Measure {
    base: Snapshot,
    root: Key,
    /// Every entry the victim made.
    pub victim_made: BTreeSet<Key>,
    /// Entries the victim did not make, inside the root, that it removed.
    pub foreign_rm: BTreeSet<Key>,
    /// Entries the victim did not make, inside the root, that it changed; and entries it
    /// made inside a directory it did not make.
    pub foreign_wr: BTreeSet<Key>,
    /// Entries of the victim's home (outside the root) that it made, removed or changed:
    /// only a symlink could have led it there.
    pub outside: BTreeSet<Key>,
    /// Every change, who made it, and how it counted: the run's event log.
    pub events: Vec<String>,
    /// The filesystem's own trace (in memory), without the snapshots' looking.
    pub trace: Vec<String>,
}

impl Measure {
    pub fn new(env: &dyn Env) -> Measure {
        let _ = env.take_trace();
        let base = Snapshot::take(env);
        let _ = env.take_trace();
        let root = base
            .entries
            .iter()
            .find(|(_, s)| s.rel == layout::ROOT)
            .map_or((0, Duration::ZERO), |(k, _)| *k);
        Measure {
            base,
            root,
            victim_made: BTreeSet::new(),
            foreign_rm: BTreeSet::new(),
            foreign_wr: BTreeSet::new(),
            outside: BTreeSet::new(),
            events: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// A snapshot, keeping the filesystem's trace free of the looking.
    pub fn snapshot(&mut self, env: &dyn Env) -> Snapshot {
        self.trace.extend(env.take_trace());
        let snap = Snapshot::take(env);
        let _ = env.take_trace();
        snap
    }

    fn in_home(seen: &Seen) -> bool {
        seen.rel == layout::HOME || seen.rel.starts_with(&format!("{}/", layout::HOME))
    }

    /// The victim's turn ends: everything that changed since the last look is its doing.
    pub fn victim_turn(&mut self, env: &dyn Env) {
        let now = self.snapshot(env);
        let base = std::mem::take(&mut self.base);
        let mut lines = Vec::new();
        for (key, was) in &base.entries {
            let mine = self.victim_made.contains(key);
            match now.entries.get(key) {
                None if mine => lines.push(format!("victim removed {}", was.rel)),
                None => {
                    let (set, what) = if Self::in_home(was) {
                        (&mut self.outside, "outside")
                    } else {
                        (&mut self.foreign_rm, "foreign")
                    };
                    set.insert(*key);
                    lines.push(format!("victim removed {what} {}", was.describe()));
                }
                Some(is) if !mine && was.changed(is) => {
                    let (set, what) = if Self::in_home(was) {
                        (&mut self.outside, "outside")
                    } else {
                        (&mut self.foreign_wr, "foreign")
                    };
                    set.insert(*key);
                    lines.push(format!(
                        "victim changed {what} {} -> {}",
                        was.describe(),
                        is.describe()
                    ));
                }
                Some(_) => {}
            }
        }
        let made: Vec<Key> = now
            .entries
            .keys()
            .filter(|k| !base.contains(k))
            .copied()
            .collect();
        self.victim_made.extend(&made);
        for key in &made {
            let is = &now.entries[key];
            let in_own = self.victim_made.contains(&is.parent)
                && now
                    .entries
                    .get(&is.parent)
                    .is_some_and(|p| p.kind == Kind::Dir);
            let own_dir = is.kind == Kind::Dir && is.parent == self.root;
            if in_own || own_dir {
                lines.push(format!("victim made {}", is.describe()));
                continue;
            }
            let (set, what) = if Self::in_home(is) {
                (&mut self.outside, "outside")
            } else {
                (&mut self.foreign_wr, "in a foreign directory")
            };
            set.insert(*key);
            lines.push(format!("victim made {what} {}", is.describe()));
        }
        // Inode order is not the same from one disk run to the next: words are.
        lines.sort();
        self.events.extend(lines);
        self.base = now;
    }

    /// The adversary's turn (or the clock's) ends: what changed is not the victim's doing;
    /// it goes into the event log and becomes the base.
    pub fn others_turn(&mut self, env: &dyn Env, who: &str) {
        let now = self.snapshot(env);
        for line in diff_lines(&self.base, &now) {
            self.events.push(format!("{who} {line}"));
        }
        self.base = now;
    }

    /// Victim-made entries still there.
    pub fn leaked(&self) -> usize {
        self.victim_made
            .iter()
            .filter(|k| self.base.contains(k))
            .count()
    }
}

/// What changed from `a` to `b`, in words, in a stable order.
fn diff_lines(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (key, was) in &a.entries {
        match b.entries.get(key) {
            None => out.push(format!("removed {}", was.rel)),
            Some(is) if was.changed(is) => out.push(format!("changed {}", is.describe())),
            Some(_) => {}
        }
    }
    for (key, is) in &b.entries {
        if !a.contains(key) {
            out.push(format!("made {}", is.describe()));
        }
    }
    out.sort();
    out
}

/// The first value of FNV-1a.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `h`.
pub fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Relative paths, for the model-versus-real comparisons.
pub fn rel_set(env: &dyn Env, paths: impl IntoIterator<Item = Utf8PathBuf>) -> BTreeSet<String> {
    paths
        .into_iter()
        .map(|p| env.relative(&p).to_owned())
        .collect()
}
