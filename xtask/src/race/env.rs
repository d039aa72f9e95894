//! Where a run happens: the in-memory filesystem or a scratch directory on the real disk,
//! seen by path by outside actors (the attacker, the path-based victim, the inspector that
//! measures) and by the reapers.

use std::io;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::FileKind;
use tempdir_memory::{MemoryFs, MemoryMetadata};

use super::reaper::{Kind, ReaperFs, Stat};

/// An actor working by absolute path with `std::fs` semantics.
pub trait Outside: Send + Sync {
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat>;
    /// `stat`, following symlinks.
    fn stat(&self, path: &Utf8Path) -> io::Result<Stat>;
    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>>;
    /// Creates (`0666 & !umask`) or truncates, following symlinks, and writes.
    fn write(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()>;
    /// `open(O_CREAT|O_EXCL|O_NOFOLLOW, 0600)` and a write: never through anything there.
    fn create_new(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()>;
    /// Makes a directory with exactly `mode`.
    fn create_dir(&self, path: &Utf8Path, mode: u32) -> io::Result<()>;
    fn symlink(&self, target: &Utf8Path, link: &Utf8Path) -> io::Result<()>;
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>>;
    fn remove_file(&self, path: &Utf8Path) -> io::Result<()>;
    fn remove_dir(&self, path: &Utf8Path) -> io::Result<()>;
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()>;
    /// Sets atime and mtime, not following symlinks (ctime becomes now).
    fn set_times(&self, path: &Utf8Path, atime: Duration, mtime: Duration) -> io::Result<()>;
    /// `utimensat(path, NULL)`: times to now, following symlinks (Python's `os.utime`).
    fn touch(&self, path: &Utf8Path) -> io::Result<()>;
    fn now(&self) -> Duration;
}

/// Everything a run needs from where it happens.
pub trait Env: Send + Sync {
    /// The temporary root every actor shares (`/tmp`).
    fn root(&self) -> &Utf8Path;
    /// Where the victim's own files outside the root live (`/home`): bystanders, which
    /// only an operation gone through a symlink can reach.
    fn home(&self) -> &Utf8Path;
    /// The victim's `~/.bashrc`: a planted symlink aims at it.
    fn bashrc(&self) -> &Utf8Path;
    /// A directory of the victim's outside the root (`~/secret`): a symlink planted at the
    /// temporary directory's own name aims at it.
    fn secret(&self) -> &Utf8Path;
    /// `path` as the event logs write it: relative to the run's own tree, so that two runs
    /// on disk (in two scratch directories) read the same.
    fn relative<'p>(&self, path: &'p Utf8Path) -> &'p str;
    /// The filesystem's trace since the last call (in memory; nothing on disk).
    fn take_trace(&self) -> Vec<String> {
        Vec::new()
    }
    /// Time passes (the virtual clock, or on disk the reaper's view of it).
    fn advance(&self, by: Duration);
    /// The reaper's view (as root), reading directories with `O_NOATIME` or not.
    fn reaper(&self, noatime: bool) -> Box<dyn ReaperFs + '_>;
    /// The attacker: another uid, or the victim's own for scenario 11.
    fn attacker(&self) -> &dyn Outside;
    /// The victim acting by path (duplicity's algorithm, `tar` with preserved times).
    fn victim(&self) -> &dyn Outside;
    /// Root, not moving atimes: measures without disturbing the reapers.
    fn inspector(&self) -> &dyn Outside;
    /// What is worth saying about this environment in a row (`attacker=same-uid` …).
    fn note(&self) -> String;
}

pub fn stat_of(m: &MemoryMetadata) -> Stat {
    Stat {
        kind: match m.kind {
            FileKind::File => Kind::File,
            FileKind::Dir => Kind::Dir,
            FileKind::Symlink => Kind::Symlink,
            // MemoryFs's one special file is a FIFO.
            _ => Kind::Fifo,
        },
        mode: m.mode,
        uid: m.uid,
        ino: m.ino,
        atime: m.atime,
        mtime: m.mtime,
        ctime: m.ctime,
        btime: Some(m.btime),
        size: m.len,
        nlink: m.nlink,
    }
}

impl Outside for MemoryFs {
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat> {
        self.symlink_metadata(path).map(|m| stat_of(&m))
    }
    fn stat(&self, path: &Utf8Path) -> io::Result<Stat> {
        self.metadata(path).map(|m| stat_of(&m))
    }
    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>> {
        MemoryFs::read(self, path)
    }
    fn write(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        MemoryFs::write(self, path, bytes)
    }
    fn create_new(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        // One actor at a time in memory: nothing moves between the look and the write.
        if self.symlink_metadata(path).is_ok() {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        MemoryFs::write(self, path, bytes)?;
        MemoryFs::set_permissions(self, path, 0o600)
    }
    fn create_dir(&self, path: &Utf8Path, mode: u32) -> io::Result<()> {
        self.create_dir_with_mode(path, mode)
    }
    fn symlink(&self, target: &Utf8Path, link: &Utf8Path) -> io::Result<()> {
        MemoryFs::symlink(self, target, link)
    }
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        MemoryFs::read_dir(self, path)
    }
    fn remove_file(&self, path: &Utf8Path) -> io::Result<()> {
        MemoryFs::remove_file(self, path)
    }
    fn remove_dir(&self, path: &Utf8Path) -> io::Result<()> {
        MemoryFs::remove_dir(self, path)
    }
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        MemoryFs::rename(self, from, to)
    }
    fn set_times(&self, path: &Utf8Path, atime: Duration, mtime: Duration) -> io::Result<()> {
        MemoryFs::set_times(self, path, atime, mtime)
    }
    fn touch(&self, path: &Utf8Path) -> io::Result<()> {
        // MemoryFs sets times without following; follow a final symlink by hand, as
        // utimensat without AT_SYMLINK_NOFOLLOW does.
        let mut target = path.to_owned();
        for _ in 0..8 {
            let m = self.symlink_metadata(&target)?;
            if !m.is_symlink() {
                let now = self.now();
                return match MemoryFs::set_times(self, &target, now, now) {
                    // Explicit times need the owner; "now" (UTIME_NOW) is allowed to
                    // anyone who may write (groups are not modelled).
                    Err(e)
                        if e.kind() == io::ErrorKind::PermissionDenied
                            && (self.uid() == 0 || m.mode & 0o002 != 0) =>
                    {
                        MemoryFs::set_times(&self.as_uid(0), &target, now, now)
                    }
                    done => done,
                };
            }
            let link = self.read_link(&target)?;
            target = match target.parent() {
                Some(parent) if link.is_relative() => parent.join(link),
                _ => link,
            };
        }
        Err(io::Error::from_raw_os_error(40)) // ELOOP
    }
    fn now(&self) -> Duration {
        MemoryFs::now(self)
    }
}

/// A reaper's view of a `MemoryFs` (a root view; `O_NOATIME` or not).
pub struct MemReaper(pub MemoryFs);

impl ReaperFs for MemReaper {
    fn now(&self) -> Duration {
        self.0.now()
    }
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat> {
        Outside::lstat(&self.0, path)
    }
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        self.0.read_dir(path)
    }
    fn unlink(&self, path: &Utf8Path) -> io::Result<u64> {
        // Single-threaded under the baton: nothing moves between these two calls.
        let ino = self.0.symlink_metadata(path)?.ino;
        self.0.remove_file(path).map(|()| ino)
    }
    fn rmdir(&self, path: &Utf8Path) -> io::Result<u64> {
        let m = self.0.symlink_metadata(path)?;
        if m.kind != FileKind::Dir {
            return Err(io::Error::from_raw_os_error(20)); // ENOTDIR
        }
        self.0.remove_dir(path).map(|()| m.ino)
    }
    fn set_times(&self, path: &Utf8Path, atime: Duration, mtime: Duration) -> io::Result<()> {
        self.0.set_times(path, atime, mtime)
    }
    fn try_lock_exclusive(&self, path: &Utf8Path) -> io::Result<bool> {
        self.0.try_lock_exclusive(path)
    }
}

/// The uid the victim acts as in memory (the `MemoryFs` default view).
pub const VICTIM_UID: u32 = 1000;
/// Another user.
pub const ATTACKER_UID: u32 = 1001;
/// A bystander whose old files the reapers should remove, and the victim never.
pub const BYSTANDER_UID: u32 = 1002;

/// How long ago the victim's own files outside the root were last read and written: old
/// enough that reading one moves its atime (relatime), so that a read through a planted
/// symlink shows.
pub const HOME_AGE: Duration = Duration::from_secs(2 * 86_400);
/// How old the bystander's leftovers in the root are: every reaper removes them.
pub const BYSTANDER_AGE: Duration = Duration::from_secs(30 * 86_400);

/// The residents every run starts with, as paths under the run's tree: the root with an
/// excluded X11 directory, a bystander's month-old report and FIFO (the reapers' usual
/// work), and the victim's home with `.bashrc` and `secret/key`.
pub mod layout {
    pub const ROOT: &str = "tmp";
    pub const HOME: &str = "home";
    pub const BASHRC: &str = "home/victim/.bashrc";
    pub const SECRET: &str = "home/victim/secret";
    pub const KEY: &str = "home/victim/secret/key";
    pub const X11: &str = "tmp/.X11-unix";
    pub const REPORT: &str = "tmp/report-1002.txt";
    pub const FIFO: &str = "tmp/.fifo-1002";
    pub const BASHRC_TEXT: &[u8] = b"# ~/.bashrc\nexport PATH\n";
    pub const KEY_TEXT: &[u8] = b"-----BEGIN KEY-----\n";
    pub const REPORT_TEXT: &[u8] = b"last month's report";
}

/// A run on `MemoryFs`.
pub struct MemEnv {
    pub fs: MemoryFs,
    /// The victim's view: uid 1000, or root.
    pub victim_fs: MemoryFs,
    root: Utf8PathBuf,
    home: Utf8PathBuf,
    bashrc: Utf8PathBuf,
    secret: Utf8PathBuf,
    attacker: MemoryFs,
    inspector: MemoryFs,
    note: String,
}

impl MemEnv {
    /// `/tmp` (1777 root) with the residents of [`layout`], `/home/victim` (0755).
    pub fn new(
        seed: u64,
        attacker_uid: u32,
        victim_root: bool,
        protected_symlinks: bool,
    ) -> io::Result<Self> {
        let fs = MemoryFs::with_seed(seed);
        let at = |p: &str| Utf8PathBuf::from(format!("/{p}"));
        let root_view = fs.as_uid(0);
        // /home/victim is the victim's own, as a home is.
        root_view.create_dir_with_mode(at(layout::HOME), 0o777)?;
        fs.create_dir_with_mode("/home/victim", 0o755)?;
        root_view.set_permissions(at(layout::HOME), 0o755)?;
        fs.create_dir_with_mode(at(layout::SECRET), 0o700)?;
        fs.write(at(layout::BASHRC), layout::BASHRC_TEXT)?;
        fs.write(at(layout::KEY), layout::KEY_TEXT)?;
        let home_age = fs.now().saturating_sub(HOME_AGE);
        for p in [layout::BASHRC, layout::KEY] {
            fs.set_times(at(p), home_age, home_age)?;
        }
        root_view.create_dir_with_mode(at(layout::X11), 0o1777)?;
        let bystander = fs.as_uid(BYSTANDER_UID);
        bystander.write(at(layout::REPORT), layout::REPORT_TEXT)?;
        bystander.mkfifo(at(layout::FIFO))?;
        let month = fs.now().saturating_sub(BYSTANDER_AGE);
        for p in [layout::REPORT, layout::FIFO] {
            bystander.set_times(at(p), month, month)?;
        }
        fs.set_protected_symlinks(protected_symlinks);
        let mut note = Vec::new();
        if victim_root {
            note.push("victim=root");
        }
        if !protected_symlinks {
            note.push("protected_symlinks=0");
        }
        // The setup is not part of what a trace compares.
        let _ = fs.take_trace();
        Ok(MemEnv {
            victim_fs: if victim_root {
                fs.as_uid(0)
            } else {
                fs.clone()
            },
            attacker: fs.as_uid(attacker_uid),
            inspector: fs.as_uid(0).with_noatime(true),
            fs,
            root: at(layout::ROOT),
            home: at(layout::HOME),
            bashrc: at(layout::BASHRC),
            secret: at(layout::SECRET),
            note: note.join(" "),
        })
    }
}

impl Env for MemEnv {
    fn root(&self) -> &Utf8Path {
        &self.root
    }
    fn home(&self) -> &Utf8Path {
        &self.home
    }
    fn bashrc(&self) -> &Utf8Path {
        &self.bashrc
    }
    fn secret(&self) -> &Utf8Path {
        &self.secret
    }
    fn relative<'p>(&self, path: &'p Utf8Path) -> &'p str {
        path.as_str().trim_start_matches('/')
    }
    fn take_trace(&self) -> Vec<String> {
        self.fs.take_trace()
    }
    fn advance(&self, by: Duration) {
        self.fs.advance_clock(by);
    }
    fn reaper(&self, noatime: bool) -> Box<dyn ReaperFs + '_> {
        Box::new(MemReaper(self.fs.as_uid(0).with_noatime(noatime)))
    }
    fn attacker(&self) -> &dyn Outside {
        &self.attacker
    }
    fn victim(&self) -> &dyn Outside {
        &self.victim_fs
    }
    fn inspector(&self) -> &dyn Outside {
        &self.inspector
    }
    fn note(&self) -> String {
        self.note.clone()
    }
}
