//! The three tmp reapers, as models over an abstract filesystem view.
//!
//! Each follows its source: tmpwatch 2.x `cleanupDirectory`, Debian tmpreaper 1.6 (a
//! tmpwatch fork), systemd-tmpfiles 252 `dir_cleanup`. They work by absolute path with
//! `lstat` and never follow a symlink; between the `lstat` of an entry and its removal
//! they call a `window` callback, which is where the simulator lets other actors run (the
//! race every reaper has: nothing re-checks the entry before `unlink`). Where the real
//! tmpreaper and systemd-tmpfiles are installed, the disk rows run them too and compare
//! every pass with the model's (`real.rs`); [`DryRun`] is how the model says what it would
//! remove without removing it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

/// What kind of object an entry is, as the reapers tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    /// A character or block device.
    Device,
}

/// What `lstat`/`statx(AT_SYMLINK_NOFOLLOW)` says, times as instants of the view's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub ino: u64,
    pub atime: Duration,
    pub mtime: Duration,
    pub ctime: Duration,
    /// `None` where the filesystem does not record a birth time.
    pub btime: Option<Duration>,
    /// `st_size`.
    pub size: u64,
    /// `st_nlink`.
    pub nlink: u64,
}

/// What a reaper needs from a filesystem. Implemented for `MemoryFs` and the real disk.
pub trait ReaperFs {
    /// The reaper's clock.
    fn now(&self) -> Duration;
    /// `lstat`: never follows the last component.
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat>;
    /// Names in the directory, sorted (the order a reaper sees must not depend on hashing).
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>>;
    /// `unlink`; returns the inode the name held when it was removed (for attribution
    /// only: the reaper itself does not look).
    fn unlink(&self, path: &Utf8Path) -> io::Result<u64>;
    /// `rmdir` (empty directories only); returns the inode removed, as `unlink`.
    fn rmdir(&self, path: &Utf8Path) -> io::Result<u64>;
    /// `utimensat(AT_SYMLINK_NOFOLLOW)` with explicit times.
    fn set_times(&self, path: &Utf8Path, atime: Duration, mtime: Duration) -> io::Result<()>;
    /// `open(O_RDONLY|O_NOFOLLOW|O_NOATIME)` + `flock(LOCK_EX|LOCK_NB)`: `false` when
    /// someone holds a lock on it. Released at once.
    fn try_lock_exclusive(&self, path: &Utf8Path) -> io::Result<bool>;
}

/// Which reaper, with which flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaper {
    Tmpwatch(Tmpwatch),
    Tmpreaper(Tmpreaper),
    SystemdTmpfiles(SystemdTmpfiles),
}

/// tmpwatch: `-u` atime, `-m` mtime, `-c` ctime (mtime for directories); `-x` paths,
/// `-X` globs; `-f` removes root-owned read-only files too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tmpwatch {
    pub age: Duration,
    pub atime: bool,
    pub mtime: bool,
    pub ctime: bool,
    pub force: bool,
    pub exclude: Vec<Utf8PathBuf>,
    pub exclude_globs: Vec<String>,
}

/// Debian tmpreaper: atime by default, `--mtime`, `--ctime` (adds ctime to atime),
/// `--mtime-dir`, `--symlinks`, `--all` (every kind of file), `--protect` globs relative
/// to the directory cleaned (expanded once, at start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tmpreaper {
    pub age: Duration,
    pub mtime: bool,
    pub ctime: bool,
    pub mtime_dir: bool,
    pub symlinks: bool,
    pub all: bool,
    pub protect: Vec<String>,
}

/// Which timestamps systemd-tmpfiles' age applies to (the `age-by` letters before a
/// colon in the age field: `abcm` for files, `ABCM` for directories); an entry goes only
/// if every one of them is older than the cutoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgeBy {
    pub atime: bool,
    pub btime: bool,
    pub ctime: bool,
    pub mtime: bool,
}

impl AgeBy {
    const FILE_DEFAULT: AgeBy = AgeBy {
        atime: true,
        btime: true,
        ctime: true,
        mtime: true,
    };
    const DIR_DEFAULT: AgeBy = AgeBy {
        ctime: false,
        ..AgeBy::FILE_DEFAULT
    };
    const AM: AgeBy = AgeBy {
        atime: true,
        btime: false,
        ctime: false,
        mtime: true,
    };

    fn letters(self, upper: bool) -> String {
        let mut out = String::new();
        for (on, c) in [
            (self.atime, 'a'),
            (self.btime, 'b'),
            (self.ctime, 'c'),
            (self.mtime, 'm'),
        ] {
            if on {
                out.push(if upper { c.to_ascii_uppercase() } else { c });
            }
        }
        out
    }
}

/// systemd-tmpfiles `q /tmp 1777 root root 10d`: every selected time must be older (by
/// default files a, b, c, m; directories a, b, m); `x` globs exclude a path and its
/// contents, `X` only the path itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemdTmpfiles {
    pub age: Duration,
    pub files: AgeBy,
    pub dirs: AgeBy,
    pub exclude: Vec<String>,
    pub exclude_self: Vec<String>,
}

impl SystemdTmpfiles {
    /// The age field of a `tmpfiles.d` line: `amAM:864000s`, or the bare age when the
    /// timestamps are the default ones.
    pub fn age_field(&self) -> String {
        let secs = self.age.as_secs();
        if self.files == AgeBy::FILE_DEFAULT && self.dirs == AgeBy::DIR_DEFAULT {
            format!("{secs}s")
        } else {
            format!(
                "{}{}:{secs}s",
                self.files.letters(false),
                self.dirs.letters(true)
            )
        }
    }
}

const DAY: Duration = Duration::from_secs(86_400);

impl Reaper {
    /// The names of [`Reaper::all`]'s reapers, in its order.
    pub const NAMES: [&'static str; 3] = ["tmpwatch", "tmpreaper", "systemd-tmpfiles"];

    /// The RHEL/Fedora daily cron job: `tmpwatch -umc -x /tmp/.X11-unix … 10d /tmp`.
    pub fn tmpwatch(root: &Utf8Path) -> Self {
        Reaper::Tmpwatch(Tmpwatch {
            age: 10 * DAY,
            atime: true,
            mtime: true,
            ctime: true,
            force: false,
            exclude: [
                ".X11-unix",
                ".XIM-unix",
                ".font-unix",
                ".ICE-unix",
                ".Test-unix",
            ]
            .iter()
            .map(|n| root.join(n))
            .collect(),
            exclude_globs: vec![format!("{root}/hsperfdata_*"), format!("{root}/pymp-*")],
        })
    }

    /// Debian's cron job once enabled: `tmpreaper --mtime-dir --symlinks --ctime
    /// --protect … 7d /tmp/.` (brace patterns of `TMPREAPER_PROTECT_DEFAULT` written out).
    pub fn tmpreaper() -> Self {
        Reaper::Tmpreaper(Tmpreaper {
            age: 7 * DAY,
            mtime: false,
            ctime: true,
            mtime_dir: true,
            symlinks: true,
            all: false,
            protect: [
                ".X*-lock",
                ".X*-unix",
                ".X*-unix/*",
                ".ICE-unix",
                ".ICE-unix/*",
                "lost+found",
                "quota.user",
                "aquota.*",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        })
    }

    /// `tmpfiles.d/tmp.conf` with `x /tmp/systemd-private-%b-*` (as `x` lines read).
    pub fn systemd_tmpfiles(root: &Utf8Path) -> Self {
        Reaper::SystemdTmpfiles(SystemdTmpfiles {
            age: 10 * DAY,
            files: AgeBy::FILE_DEFAULT,
            dirs: AgeBy::DIR_DEFAULT,
            // Paths with a line of their own (x11.conf's `D! /tmp/.X11-unix`) are skipped
            // by the /tmp line ("a separate entry exists"), like `x` lines.
            exclude: vec![
                format!("{root}/systemd-private-*"),
                format!("{root}/.X11-unix"),
                format!("{root}/.ICE-unix"),
            ],
            exclude_self: vec![],
        })
    }

    /// The three defaults for a root (`/tmp` in the cron jobs), in table order.
    pub fn all(root: &Utf8Path) -> [Reaper; 3] {
        [
            Self::tmpwatch(root),
            Self::tmpreaper(),
            Self::systemd_tmpfiles(root),
        ]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Reaper::Tmpwatch(_) => Self::NAMES[0],
            Reaper::Tmpreaper(_) => Self::NAMES[1],
            Reaper::SystemdTmpfiles(_) => Self::NAMES[2],
        }
    }

    /// The same reaper judging by atime and mtime alone, the two times `utimensat` can
    /// set: how it is run on real directories, where ctime and btime cannot be made old
    /// (tmpwatch `-um`; tmpreaper `--mtime --all`, as it is run for real; systemd-tmpfiles
    /// `amAM:`).
    pub fn by_settable_times(&self) -> Self {
        match self {
            Reaper::Tmpwatch(t) => Reaper::Tmpwatch(Tmpwatch {
                atime: true,
                mtime: true,
                ctime: false,
                ..t.clone()
            }),
            Reaper::Tmpreaper(t) => Reaper::Tmpreaper(Tmpreaper {
                mtime: true,
                ctime: false,
                all: true,
                ..t.clone()
            }),
            Reaper::SystemdTmpfiles(t) => Reaper::SystemdTmpfiles(SystemdTmpfiles {
                files: AgeBy::AM,
                dirs: AgeBy::AM,
                ..t.clone()
            }),
        }
    }

    /// The flags that differ from the usual, for a row's note.
    pub fn flags(&self) -> String {
        match self {
            Reaper::Tmpwatch(t) => {
                let mut f = String::from("-");
                for (on, c) in [(t.atime, 'u'), (t.mtime, 'm'), (t.ctime, 'c')] {
                    if on {
                        f.push(c);
                    }
                }
                format!("{f} {}d", t.age.as_secs() / 86_400)
            }
            Reaper::Tmpreaper(t) => {
                let mut f = Vec::new();
                for (on, name) in [
                    (t.mtime, "--mtime"),
                    (t.ctime, "--ctime"),
                    (t.mtime_dir && !t.mtime, "--mtime-dir"),
                    (t.symlinks && !t.all, "--symlinks"),
                    (t.all, "--all"),
                ] {
                    if on {
                        f.push(name);
                    }
                }
                format!("{} {}d", f.join(" "), t.age.as_secs() / 86_400)
            }
            Reaper::SystemdTmpfiles(t) => {
                let field = t.age_field();
                match field.split_once(':') {
                    Some((by, _)) => format!("{by}:{}d", t.age.as_secs() / 86_400),
                    None => format!("{}d", t.age.as_secs() / 86_400),
                }
            }
        }
    }

    /// Whether the reaper honours `flock` (only systemd-tmpfiles does).
    #[cfg(test)]
    pub fn honours_flock(&self) -> bool {
        matches!(self, Reaper::SystemdTmpfiles(_))
    }

    /// Whether it reads directories with `O_NOATIME` (systemd-tmpfiles) or bumps their
    /// atime by reading them (tmpwatch, tmpreaper: hence their restoring of times).
    pub fn noatime(&self) -> bool {
        matches!(self, Reaper::SystemdTmpfiles(_))
    }

    /// The same reaper judging by mtime alone (tmpwatch `-m`, tmpreaper `--mtime`): how
    /// `tar`/`cp -p` files with preserved times look old. systemd-tmpfiles has no such
    /// mode by default (it also wants btime and ctime old), so it stays as it is.
    pub fn by_mtime_only(&self) -> Self {
        match self {
            Reaper::Tmpwatch(t) => Reaper::Tmpwatch(Tmpwatch {
                atime: false,
                mtime: true,
                ctime: false,
                ..t.clone()
            }),
            Reaper::Tmpreaper(t) => Reaper::Tmpreaper(Tmpreaper {
                mtime: true,
                ctime: false,
                ..t.clone()
            }),
            other => other.clone(),
        }
    }

    /// One pass over `root`, as the daily cron job or timer runs it. `window(path)` is
    /// called between an entry's `lstat` and its `unlink`/`rmdir`.
    pub fn run(
        &self,
        fs: &dyn ReaperFs,
        root: &Utf8Path,
        window: &mut dyn FnMut(&Utf8Path),
    ) -> PassLog {
        let mut pass = Pass {
            fs,
            window,
            log: PassLog::default(),
        };
        let Ok(top) = fs.lstat(root) else {
            return pass.log;
        };
        // Each of them refuses a top directory that is a symlink.
        if top.kind != Kind::Dir {
            return pass.log;
        }
        match self {
            Reaper::Tmpwatch(t) => {
                let kill = fs.now().saturating_sub(t.age);
                pass.tmpwatch(t, root, top.ino, kill);
            }
            Reaper::Tmpreaper(t) => {
                let kill = fs.now().saturating_sub(t.age);
                // `--protect` patterns are expanded by the shell-like glob once, at start:
                // a matching name made later is not protected.
                let globs: Vec<String> = t.protect.iter().map(|p| format!("{root}/{p}")).collect();
                let mut protected = Vec::new();
                collect_matches(fs, root, &globs, &mut protected);
                pass.tmpreaper(t, root, top.ino, kill, &protected);
            }
            Reaper::SystemdTmpfiles(t) => {
                let cutoff = fs.now().saturating_sub(t.age);
                pass.systemd(t, root, top, cutoff);
            }
        }
        pass.log
    }
}

/// What one pass did: the reaper's own log of removals, for attribution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassLog {
    /// `(path, inode)` of every entry removed.
    pub removed: Vec<(Utf8PathBuf, u64)>,
    /// Directories skipped because someone held a `flock` on them.
    pub skipped_locked: Vec<Utf8PathBuf>,
}

struct Pass<'a> {
    fs: &'a dyn ReaperFs,
    window: &'a mut dyn FnMut(&Utf8Path),
    log: PassLog,
}

impl Pass<'_> {
    fn unlink(&mut self, path: &Utf8Path) {
        (self.window)(path);
        if let Ok(ino) = self.fs.unlink(path) {
            self.log.removed.push((path.to_owned(), ino));
        }
    }

    fn rmdir(&mut self, path: &Utf8Path) {
        (self.window)(path);
        // ENOTEMPTY is expected and ignored by all three.
        if let Ok(ino) = self.fs.rmdir(path) {
            self.log.removed.push((path.to_owned(), ino));
        }
    }

    /// tmpwatch's `cleanupDirectory`: the time that counts is taken from the `lstat` made
    /// before recursing, so a directory whose old contents are removed in this pass is
    /// removed in it too; the directory's own atime/mtime are restored afterwards.
    fn tmpwatch(&mut self, t: &Tmpwatch, dir: &Utf8Path, expect_ino: u64, kill: Duration) {
        let fs = self.fs;
        // It chdirs in and checks the inode: a directory swapped under it is refused.
        let Ok(here) = fs.lstat(dir) else { return };
        if here.ino != expect_ino || here.kind != Kind::Dir {
            return;
        }
        let Ok(names) = fs.read_dir(dir) else { return };
        for name in names {
            let path = dir.join(&name);
            let Ok(sb) = fs.lstat(&path) else { continue };
            if t.exclude.iter().any(|e| e == &path)
                || t.exclude_globs.iter().any(|g| glob_match(g, path.as_str()))
            {
                continue;
            }
            let mut significant = Duration::ZERO;
            if t.atime {
                significant = significant.max(sb.atime);
            }
            if t.mtime {
                significant = significant.max(sb.mtime);
            }
            if t.ctime {
                // Deleting an entry changes a directory's ctime: directories go by mtime.
                significant = significant.max(if sb.kind == Kind::Dir {
                    sb.mtime
                } else {
                    sb.ctime
                });
            }
            if sb.uid == 0 && !t.force && sb.mode & 0o200 == 0 {
                continue;
            }
            if sb.kind == Kind::Dir {
                self.tmpwatch(t, &path, sb.ino, kill);
                if significant >= kill {
                    continue;
                }
                self.rmdir(&path);
            } else {
                if significant >= kill {
                    continue;
                }
                // Without `-a`, only files and symlinks.
                if matches!(sb.kind, Kind::File | Kind::Symlink) {
                    self.unlink(&path);
                }
            }
        }
        let _ = fs.set_times(dir, here.atime, here.mtime);
    }

    /// tmpreaper: tmpwatch's walk with its own time selection, `--protect`, symlinks only
    /// with `--symlinks` or `--all`, and FIFOs, sockets and devices only with `--all`.
    fn tmpreaper(
        &mut self,
        t: &Tmpreaper,
        dir: &Utf8Path,
        expect_ino: u64,
        kill: Duration,
        protected: &[Utf8PathBuf],
    ) {
        let fs = self.fs;
        let Ok(here) = fs.lstat(dir) else { return };
        if here.ino != expect_ino || here.kind != Kind::Dir {
            return;
        }
        let Ok(names) = fs.read_dir(dir) else { return };
        for name in names {
            let path = dir.join(&name);
            let Ok(sb) = fs.lstat(&path) else { continue };
            if protected.contains(&path) {
                continue;
            }
            let by_mtime = t.mtime || (sb.kind == Kind::Dir && t.mtime_dir);
            let significant = if by_mtime {
                sb.mtime
            } else if t.ctime {
                sb.atime.max(sb.ctime)
            } else {
                sb.atime
            };
            if sb.uid == 0 && sb.mode & 0o200 == 0 {
                continue;
            }
            match sb.kind {
                Kind::Dir => {
                    self.tmpreaper(t, &path, sb.ino, kill, protected);
                    if significant < kill {
                        self.rmdir(&path);
                    }
                }
                Kind::File if significant < kill => self.unlink(&path),
                Kind::Symlink if (t.symlinks || t.all) && significant < kill => self.unlink(&path),
                Kind::Fifo | Kind::Socket | Kind::Device if t.all && significant < kill => {
                    self.unlink(&path)
                }
                _ => {}
            }
        }
        let _ = fs.set_times(dir, here.atime, here.mtime);
    }

    /// systemd-tmpfiles' `dir_cleanup`: before descending into (or removing) a directory
    /// it must get `flock(LOCK_EX|LOCK_NB)` on it, else the whole subtree is skipped; an
    /// entry goes only if **every** selected time is older than the cutoff; FIFOs go as
    /// files do (and sockets nobody listens on: the model's have no listener), devices
    /// stay; the directory's times are restored when something was deleted.
    fn systemd(&mut self, t: &SystemdTmpfiles, dir: &Utf8Path, here: Stat, cutoff: Duration) {
        let fs = self.fs;
        let Ok(names) = fs.read_dir(dir) else { return };
        let mut deleted = false;
        for name in names {
            let path = dir.join(&name);
            let Ok(sx) = fs.lstat(&path) else { continue };
            if t.exclude.iter().any(|g| glob_match(g, path.as_str())) {
                continue;
            }
            let keep_self = t.exclude_self.iter().any(|g| glob_match(g, path.as_str()));
            let old = |time: Option<Duration>| time.is_none_or(|time| time < cutoff);
            let aged = |by: AgeBy| {
                (!by.atime || old(Some(sx.atime)))
                    && (!by.btime || old(sx.btime))
                    && (!by.ctime || old(Some(sx.ctime)))
                    && (!by.mtime || old(Some(sx.mtime)))
            };
            match sx.kind {
                Kind::Dir => {
                    match fs.try_lock_exclusive(&path) {
                        Ok(true) => {}
                        Ok(false) => {
                            self.log.skipped_locked.push(path);
                            continue;
                        }
                        Err(_) => continue,
                    }
                    self.systemd(t, &path, sx, cutoff);
                    if keep_self {
                        continue;
                    }
                    if aged(t.dirs) {
                        let before = self.log.removed.len();
                        self.rmdir(&path);
                        deleted |= self.log.removed.len() > before;
                    }
                }
                // Devices are left alone.
                Kind::Device => {}
                Kind::File | Kind::Symlink | Kind::Fifo | Kind::Socket => {
                    // The sticky bit on a file means "keep me".
                    if keep_self || sx.mode & 0o1000 != 0 {
                        continue;
                    }
                    if aged(t.files) {
                        let before = self.log.removed.len();
                        self.unlink(&path);
                        deleted |= self.log.removed.len() > before;
                    }
                }
            }
        }
        if deleted {
            let _ = fs.set_times(dir, here.atime, here.mtime);
        }
    }
}

/// The paths under `dir` (recursively, not following symlinks) that match a pattern.
fn collect_matches(
    fs: &dyn ReaperFs,
    dir: &Utf8Path,
    globs: &[String],
    out: &mut Vec<Utf8PathBuf>,
) {
    let Ok(names) = fs.read_dir(dir) else { return };
    for name in names {
        let path = dir.join(name);
        if globs.iter().any(|g| glob_match(g, path.as_str())) {
            out.push(path.clone());
        }
        if fs.lstat(&path).is_ok_and(|s| s.kind == Kind::Dir) {
            collect_matches(fs, &path, globs, out);
        }
    }
}

/// `fnmatch(FNM_PATHNAME)`: `*` and `?` never match `/`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => {
                let mut i = 0;
                loop {
                    if go(rest, &t[i..]) {
                        return true;
                    }
                    if i == t.len() || t[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some((b'?', rest)) => t.first().is_some_and(|&c| c != b'/') && go(rest, &t[1..]),
            Some((&c, rest)) => t.first() == Some(&c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// A reaper's view that removes nothing: what it would remove is recorded, and is gone
/// from what it shows afterwards (so that the directory it empties looks empty). Times
/// are not restored (nothing was read with the atime moving: the view under it reads
/// with `O_NOATIME`). How a model says what it would do, right before the real reaper
/// does it.
pub struct DryRun<'a> {
    inner: &'a dyn ReaperFs,
    removed: RefCell<BTreeSet<Utf8PathBuf>>,
}

impl<'a> DryRun<'a> {
    pub fn new(inner: &'a dyn ReaperFs) -> Self {
        DryRun {
            inner,
            removed: RefCell::default(),
        }
    }

    /// What the pass would have removed.
    pub fn removed(self) -> BTreeSet<Utf8PathBuf> {
        self.removed.into_inner()
    }

    fn gone(&self, path: &Utf8Path) -> bool {
        let removed = self.removed.borrow();
        path.ancestors().any(|p| removed.contains(p))
    }
}

impl ReaperFs for DryRun<'_> {
    fn now(&self) -> Duration {
        self.inner.now()
    }
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat> {
        if self.gone(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        self.inner.lstat(path)
    }
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        if self.gone(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let names = self.inner.read_dir(path)?;
        Ok(names
            .into_iter()
            .filter(|n| !self.gone(&path.join(n)))
            .collect())
    }
    fn unlink(&self, path: &Utf8Path) -> io::Result<u64> {
        let st = self.lstat(path)?;
        if st.kind == Kind::Dir {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        self.removed.borrow_mut().insert(path.to_owned());
        Ok(st.ino)
    }
    fn rmdir(&self, path: &Utf8Path) -> io::Result<u64> {
        let st = self.lstat(path)?;
        if st.kind != Kind::Dir {
            return Err(io::ErrorKind::NotADirectory.into());
        }
        if !self.read_dir(path)?.is_empty() {
            return Err(io::ErrorKind::DirectoryNotEmpty.into());
        }
        self.removed.borrow_mut().insert(path.to_owned());
        Ok(st.ino)
    }
    fn set_times(&self, _: &Utf8Path, _: Duration, _: Duration) -> io::Result<()> {
        Ok(())
    }
    fn try_lock_exclusive(&self, path: &Utf8Path) -> io::Result<bool> {
        self.inner.try_lock_exclusive(path)
    }
}
