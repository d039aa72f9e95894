//! What the attacker does, by absolute path as another uid (or the victim's own, outside
//! the threat model). The reaper's passes are run by the caller; everything else is here.

use std::sync::Mutex;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use super::env::{Env, Outside};
use super::plan::Adv;
use super::reaper::Kind;
use super::victim::{Published, Shared};
use crate::lock;

/// The attacker's own files: how it fills a name, and what a victim write into one
/// changes.
pub const PLANTED: &[u8] = b"attacker's";

/// How old the attacker makes its files look: young for every reaper, old enough that a
/// victim touching one moves its times.
const PLANTED_AGE: Duration = Duration::from_secs(3_600);

/// What the attacker made and removed, for its own bookkeeping.
#[derive(Default)]
pub struct AttackLog {
    /// `(path, inode)` of everything it made.
    pub made: Vec<(Utf8PathBuf, u64)>,
    /// Inodes it removed itself.
    pub removed: Vec<u64>,
}

/// The names planted in the weak-names scenario, for the model under test.
pub type Predict<'a> = &'a (dyn Fn(usize) -> Vec<String> + Sync);

/// One attacker action.
pub struct Attacker<'a> {
    pub env: &'a dyn Env,
    pub published: &'a Shared<Published>,
    pub log: &'a Mutex<AttackLog>,
    pub predict: Predict<'a>,
}

impl Attacker<'_> {
    fn att(&self) -> &dyn Outside {
        self.env.attacker()
    }

    fn made(&self, path: &Utf8Path) {
        if let Ok(st) = self.att().lstat(path) {
            lock(self.log).made.push((path.to_owned(), st.ino));
        }
    }

    fn free(&self, path: &Utf8Path) -> bool {
        self.att().lstat(path).is_err()
    }

    fn remove(&self, path: &Utf8Path) -> bool {
        let att = self.att();
        let Ok(st) = att.lstat(path) else {
            return false;
        };
        let gone = if st.kind == Kind::Dir {
            att.remove_dir(path)
        } else {
            att.remove_file(path)
        };
        if gone.is_ok() {
            lock(self.log).removed.push(st.ino);
        }
        gone.is_ok()
    }

    fn link(&self, target: &Utf8Path, at: &Utf8Path) {
        if self.att().symlink(target, at).is_ok() {
            self.made(at);
        }
    }

    /// A file of its own, a little old.
    fn file(&self, at: &Utf8Path) {
        let att = self.att();
        if att.write(at, PLANTED).is_ok() {
            let then = att.now().saturating_sub(PLANTED_AGE);
            let _ = att.set_times(at, then, then);
            self.made(at);
        }
    }

    /// Even names get a symlink to `~/.bashrc`, odd ones a file of the attacker's.
    fn mixed(&self, i: usize, at: &Utf8Path) {
        if i.is_multiple_of(2) {
            self.link(self.env.bashrc(), at);
        } else {
            self.file(at);
        }
    }

    /// Does `adv` (not `Reap`, which the caller runs).
    pub fn act(&self, adv: &Adv) {
        let env = self.env;
        let att = self.att();
        let (dir, names) = {
            let p = lock(self.published);
            (p.dir.clone(), p.names.clone())
        };
        let in_dir = |dir: &Utf8Path| -> Vec<Utf8PathBuf> {
            names
                .iter()
                .filter(|n| n.parent() == Some(dir))
                .cloned()
                .collect()
        };
        match *adv {
            Adv::Reap { .. } => {}
            Adv::Recreate => {
                if let Some(dir) = dir
                    && self.free(&dir)
                    && att.create_dir(&dir, 0o777).is_ok()
                {
                    self.made(&dir);
                }
            }
            Adv::PlantLinks => {
                let Some(dir) = dir else { return };
                for name in in_dir(&dir) {
                    if self.free(&name) {
                        self.link(env.bashrc(), &name);
                    }
                }
            }
            Adv::PlantMixed => {
                let Some(dir) = dir else { return };
                for (i, name) in in_dir(&dir).iter().enumerate() {
                    if self.free(name) {
                        self.mixed(i, name);
                    }
                }
            }
            Adv::PlantDirLink => {
                if let Some(dir) = dir
                    && self.free(&dir)
                {
                    self.link(env.secret(), &dir);
                }
            }
            Adv::Storm { count } => {
                for (i, name) in (self.predict)(count).into_iter().enumerate() {
                    let path = env.root().join(name);
                    match i % 3 {
                        0 => self.link(env.secret(), &path),
                        1 => {
                            if att.create_dir(&path, 0o777).is_ok() {
                                self.made(&path);
                            }
                        }
                        _ => self.file(&path),
                    }
                }
            }
            Adv::SwapForSymlink => {
                if let Some(name) = names.first()
                    && self.remove(name)
                {
                    self.link(env.bashrc(), name);
                }
            }
            Adv::ReplaceAndAdd => {
                if let Some(name) = names.get(1)
                    && self.remove(name)
                {
                    self.file(name);
                }
                if let Some(dir) = dir {
                    self.file(&dir.join("attacker-notes"));
                }
            }
            Adv::MoveDirAway => {
                let Some(dir) = dir else { return };
                let away = Utf8PathBuf::from(format!("{dir}.moved"));
                if att.rename(&dir, &away).is_ok() && att.create_dir(&dir, 0o700).is_ok() {
                    self.made(&dir);
                    if let Some(name) = names.first() {
                        self.link(env.bashrc(), name);
                    }
                }
            }
            Adv::SwapAll => {
                let Some(dir) = dir else { return };
                for (i, name) in in_dir(&dir).iter().enumerate() {
                    if !self.free(name) && !self.remove(name) {
                        continue;
                    }
                    self.mixed(i, name);
                }
            }
        }
    }
}
