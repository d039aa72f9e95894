//! The real disk: a scratch tree under `/dev/shm` (or the system temp dir), the reaper and
//! the attacker on a real thread with real syscalls.
//!
//! Time, two ways. A reaper compares timestamps with its clock, and ctime and btime cannot
//! be set.
//!
//! - **Epochs** (the rows that run the reaper models): the clock the models see is the
//!   wall clock plus the idle time the scenario has skipped, and a timestamp is read in
//!   the epoch it was written in: each `advance` opens a new epoch at a boundary no older
//!   timestamp can reach (a probe file is touched until its mtime moves past what it
//!   was), and every timestamp from epoch `i` is shifted by the skip in force then. A file
//!   written before a 10-day skip looks 10 days older than one written after it, ctime
//!   and btime included — as if the process had slept, without sleeping.
//! - **Backdating** (the rows that run the real reapers, which read the real clock): each
//!   `advance` moves the atime and mtime of every entry under the root back by the skip,
//!   with `utimensat`; the reapers are configured to judge by those two times alone.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use camino::{Utf8Path, Utf8PathBuf};
use rustix::fs::{AtFlags, CWD, FlockOperation, Mode, OFlags, StatxFlags, Timestamps};
use rustix::fs::{Timespec, UTIME_NOW};

use super::env::{ATTACKER_UID, BYSTANDER_AGE, BYSTANDER_UID, Env, HOME_AGE, Outside, layout};
use super::reaper::{Kind, ReaperFs, Stat};
use crate::lock;

/// The epochs of the virtual clock: `(first real instant, skip in force)`.
struct Clock {
    epochs: Mutex<Vec<(Duration, Duration)>>,
    probe: Utf8PathBuf,
}

fn real_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn ts(t: &rustix::fs::StatxTimestamp) -> Duration {
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec)
}

fn spec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos().into(),
    }
}

impl Clock {
    fn skip_at(&self, real: Duration) -> Duration {
        let epochs = lock(&self.epochs);
        epochs
            .iter()
            .rev()
            .find(|(start, _)| real >= *start)
            .map_or(Duration::ZERO, |e| e.1)
    }

    fn now(&self) -> Duration {
        let now = real_now();
        now + self.skip_at(now)
    }

    fn virt(&self, real: Duration) -> Duration {
        real + self.skip_at(real)
    }

    /// The real instant a virtual one came from (for the reapers' restoring of times).
    fn real(&self, virt: Duration) -> Duration {
        let epochs = lock(&self.epochs);
        for (i, (start, skip)) in epochs.iter().enumerate().rev() {
            let end = epochs.get(i + 1).map(|e| e.0);
            if let Some(real) = virt.checked_sub(*skip)
                && real >= *start
                && end.is_none_or(|end| real < end)
            {
                return real;
            }
        }
        virt
    }

    fn advance(&self, by: Duration) -> io::Result<()> {
        let mtime = |p: &Utf8Path| -> io::Result<Duration> {
            let now = times_now();
            rustix::fs::utimensat(CWD, p.as_str(), &now, AtFlags::empty())?;
            let st = rustix::fs::statx(CWD, p.as_str(), AtFlags::empty(), StatxFlags::MTIME)?;
            Ok(ts(&st.stx_mtime))
        };
        let first = mtime(&self.probe)?;
        let mut boundary = mtime(&self.probe)?;
        while boundary <= first {
            std::thread::yield_now();
            boundary = mtime(&self.probe)?;
        }
        let mut epochs = lock(&self.epochs);
        let skip = epochs.last().map_or(Duration::ZERO, |e| e.1) + by;
        epochs.push((boundary, skip));
        Ok(())
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Acting as another uid on this thread only (`setresuid(0, uid, 0)` on the thread, as
/// the kernel does per thread), so the kernel checks the attacker's permissions for real.
struct AsUid(bool);

impl AsUid {
    fn enter(uid: Option<u32>) -> io::Result<AsUid> {
        match uid {
            Some(uid) => {
                let uid = rustix::process::Uid::from_raw(uid);
                rustix::thread::set_thread_res_uid(None, uid, None)?;
                Ok(AsUid(true))
            }
            None => Ok(AsUid(false)),
        }
    }
}

impl Drop for AsUid {
    fn drop(&mut self) {
        if self.0 {
            // Back to root (the saved uid is 0): the reaper runs on this thread too.
            let _ = rustix::thread::set_thread_res_uid(None, rustix::process::Uid::ROOT, None);
        }
    }
}

/// An outside actor on the real disk.
struct DiskActor {
    clock: Arc<Clock>,
    /// Act as this uid (only when running as root).
    uid: Option<u32>,
    /// Open with `O_NOATIME` (the inspector, systemd-tmpfiles).
    noatime: bool,
}

fn stat_of(st: &rustix::fs::Statx, clock: &Clock) -> Stat {
    let kind = match u32::from(st.stx_mode) & 0o170000 {
        0o040000 => Kind::Dir,
        0o100000 => Kind::File,
        0o120000 => Kind::Symlink,
        0o010000 => Kind::Fifo,
        0o140000 => Kind::Socket,
        _ => Kind::Device,
    };
    let btime =
        (st.stx_mask & StatxFlags::BTIME.bits() != 0).then(|| clock.virt(ts(&st.stx_btime)));
    Stat {
        kind,
        mode: u32::from(st.stx_mode) & 0o7777,
        uid: st.stx_uid,
        ino: st.stx_ino,
        atime: clock.virt(ts(&st.stx_atime)),
        mtime: clock.virt(ts(&st.stx_mtime)),
        ctime: clock.virt(ts(&st.stx_ctime)),
        btime,
        size: st.stx_size,
        nlink: u64::from(st.stx_nlink),
    }
}

impl DiskActor {
    fn statx(&self, path: &Utf8Path, follow: bool) -> io::Result<Stat> {
        let _as = AsUid::enter(self.uid)?;
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        let st = rustix::fs::statx(
            CWD,
            path.as_str(),
            flags,
            StatxFlags::BASIC_STATS | StatxFlags::BTIME,
        )?;
        Ok(stat_of(&st, &self.clock))
    }

    fn open_flags(&self) -> OFlags {
        // Never waits for a writer at a FIFO.
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
        if self.noatime {
            flags |= OFlags::NOATIME;
        }
        flags
    }
}

impl Outside for DiskActor {
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat> {
        self.statx(path, false)
    }
    fn stat(&self, path: &Utf8Path) -> io::Result<Stat> {
        self.statx(path, true)
    }
    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>> {
        let _as = AsUid::enter(self.uid)?;
        let fd = rustix::fs::open(path.as_str(), self.open_flags(), Mode::empty())?;
        let mut data = Vec::new();
        std::fs::File::from(fd).read_to_end(&mut data)?;
        Ok(data)
    }
    fn write(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        std::fs::write(path, bytes)
    }
    fn create_new(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path.as_str(), flags, Mode::from_raw_mode(0o600))?;
        std::io::Write::write_all(&mut std::fs::File::from(fd), bytes)
    }
    fn create_dir(&self, path: &Utf8Path, mode: u32) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        rustix::fs::mkdir(path.as_str(), Mode::from_raw_mode(mode))?;
        // mkdir applies the umask; the mode asked for is exact.
        rustix::fs::chmod(path.as_str(), Mode::from_raw_mode(mode))?;
        Ok(())
    }
    fn symlink(&self, target: &Utf8Path, link: &Utf8Path) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        std::os::unix::fs::symlink(target, link)
    }
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        let _as = AsUid::enter(self.uid)?;
        let fd = rustix::fs::open(
            path.as_str(),
            self.open_flags() | OFlags::DIRECTORY | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        let mut names = Vec::new();
        let mut dir = rustix::fs::Dir::read_from(fd.as_fd())?;
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                names.push(name.to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
    fn remove_file(&self, path: &Utf8Path) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        std::fs::remove_file(path)
    }
    fn remove_dir(&self, path: &Utf8Path) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        std::fs::remove_dir(path)
    }
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        std::fs::rename(from, to)
    }
    fn set_times(&self, path: &Utf8Path, atime: Duration, mtime: Duration) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        let times = Timestamps {
            last_access: spec(self.clock.real(atime)),
            last_modification: spec(self.clock.real(mtime)),
        };
        rustix::fs::utimensat(CWD, path.as_str(), &times, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(())
    }
    fn touch(&self, path: &Utf8Path) -> io::Result<()> {
        let _as = AsUid::enter(self.uid)?;
        let now = times_now();
        rustix::fs::utimensat(CWD, path.as_str(), &now, AtFlags::empty())?;
        Ok(())
    }
    fn now(&self) -> Duration {
        self.clock.now()
    }
}

/// The reapers on disk: root, by path, never following symlinks.
struct DiskReaper<'a>(&'a DiskActor);

impl ReaperFs for DiskReaper<'_> {
    fn now(&self) -> Duration {
        self.0.clock.now()
    }
    fn lstat(&self, path: &Utf8Path) -> io::Result<Stat> {
        self.0.lstat(path)
    }
    fn read_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        self.0.read_dir(path)
    }
    fn unlink(&self, path: &Utf8Path) -> io::Result<u64> {
        // The baton is held: nothing else moves between these two calls.
        let ino = self.0.lstat(path)?.ino;
        std::fs::remove_file(path).map(|()| ino)
    }
    fn rmdir(&self, path: &Utf8Path) -> io::Result<u64> {
        let ino = self.0.lstat(path)?.ino;
        std::fs::remove_dir(path).map(|()| ino)
    }
    fn set_times(&self, path: &Utf8Path, atime: Duration, mtime: Duration) -> io::Result<()> {
        self.0.set_times(path, atime, mtime)
    }
    fn try_lock_exclusive(&self, path: &Utf8Path) -> io::Result<bool> {
        // systemd-tmpfiles: open(O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_NOATIME) and
        // flock(LOCK_EX|LOCK_NB). Another open file description in this process holding
        // LOCK_SH makes it fail, as it would for a separate process.
        let fd = rustix::fs::open(
            path.as_str(),
            OFlags::RDONLY
                | OFlags::DIRECTORY
                | OFlags::NOFOLLOW
                | OFlags::NOATIME
                | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// The scratch directory all disk runs happen in; removed when dropped.
pub struct Scratch {
    base: Utf8PathBuf,
    runs: usize,
}

impl Scratch {
    pub fn new() -> io::Result<Scratch> {
        let shm = Utf8Path::new("/dev/shm");
        let parent = if shm.is_dir()
            && rustix::fs::access(shm.as_str(), rustix::fs::Access::WRITE_OK).is_ok()
        {
            shm.to_owned()
        } else {
            Utf8PathBuf::from_path_buf(std::env::temp_dir())
                .map_err(|_| io::Error::other("the system temp dir is not UTF-8"))?
        };
        let base = parent.join(format!("tempdirs-race-{}", std::process::id()));
        std::fs::create_dir(&base)?;
        std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(Scratch { base, runs: 0 })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Our own scratch tree, made by this process: removing it whole is fine here.
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Sets the process's umask for a disk run, and puts the old one back.
pub struct Umask(Option<Mode>);

impl Umask {
    pub fn set(mask: Option<u32>) -> Umask {
        Umask(mask.map(|m| rustix::process::umask(Mode::from_raw_mode(m))))
    }
}

impl Drop for Umask {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            rustix::process::umask(old);
        }
    }
}

/// How time passes on disk (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    Epochs,
    Backdate,
}

/// One disk run's tree, as [`layout`] names it under the run's directory.
pub struct DiskEnv {
    dir: Utf8PathBuf,
    root: Utf8PathBuf,
    home: Utf8PathBuf,
    bashrc: Utf8PathBuf,
    secret: Utf8PathBuf,
    clock: Arc<Clock>,
    mode: TimeMode,
    victim: DiskActor,
    attacker: DiskActor,
    inspector: DiskActor,
    reaper: DiskActor,
    reaper_noatime: DiskActor,
    /// The owner whose entries backdating leaves alone: the free-running attacker's, so
    /// that no reaper removes them and their removal is the victim's doing.
    spared: Option<u32>,
    note: String,
}

impl DiskEnv {
    pub fn new(scratch: &mut Scratch, same_uid: bool, mode: TimeMode) -> io::Result<DiskEnv> {
        scratch.runs += 1;
        let dir = scratch.base.join(format!("run-{}", scratch.runs));
        let at = |p: &str| dir.join(p);
        let root = at(layout::ROOT);
        std::fs::create_dir_all(at("home/victim"))?;
        std::fs::create_dir(&root)?;
        rustix::fs::chmod(root.as_str(), Mode::from_raw_mode(0o1777))?;
        std::fs::write(at(layout::BASHRC), layout::BASHRC_TEXT)?;
        std::fs::create_dir(at(layout::SECRET))?;
        rustix::fs::chmod(at(layout::SECRET).as_str(), Mode::from_raw_mode(0o700))?;
        std::fs::write(at(layout::KEY), layout::KEY_TEXT)?;
        let probe = dir.join("clock-probe");
        std::fs::write(&probe, b"")?;
        let clock = Arc::new(Clock {
            epochs: Mutex::new(Vec::new()),
            probe,
        });
        let root_user = is_root();
        let other = |uid: u32| (root_user && !same_uid).then_some(uid);
        let actor = |uid: Option<u32>, noatime: bool| DiskActor {
            clock: Arc::clone(&clock),
            uid,
            noatime,
        };
        let me = actor(None, false);
        let home_age = clock.now().saturating_sub(HOME_AGE);
        for p in [layout::BASHRC, layout::KEY] {
            me.set_times(&at(p), home_age, home_age)?;
        }
        let x11 = at(layout::X11);
        std::fs::create_dir(&x11)?;
        rustix::fs::chmod(x11.as_str(), Mode::from_raw_mode(0o1777))?;
        let bystander = actor(root_user.then_some(BYSTANDER_UID), false);
        bystander.write(&at(layout::REPORT), layout::REPORT_TEXT)?;
        {
            let _as = AsUid::enter(bystander.uid)?;
            rustix::fs::mknodat(
                CWD,
                at(layout::FIFO).as_str(),
                rustix::fs::FileType::Fifo,
                Mode::from_raw_mode(0o644),
                0,
            )?;
        }
        let month = clock.now().saturating_sub(BYSTANDER_AGE);
        for p in [layout::REPORT, layout::FIFO] {
            bystander.set_times(&at(p), month, month)?;
        }
        // The victim is this process: root here, as for duplicity's system backups.
        let mut note = vec![if root_user {
            "disk victim=root"
        } else {
            "disk"
        }];
        if !root_user {
            note.push("not root: attacker=same-uid");
        }
        Ok(DiskEnv {
            victim: me,
            attacker: actor(other(ATTACKER_UID), false),
            inspector: actor(None, true),
            reaper: actor(None, false),
            reaper_noatime: actor(None, true),
            home: at(layout::HOME),
            bashrc: at(layout::BASHRC),
            secret: at(layout::SECRET),
            dir,
            root,
            clock,
            mode,
            spared: None,
            note: note.join(" "),
        })
    }

    /// The run's own directory (the real reapers' configuration goes there).
    pub fn dir(&self) -> &Utf8Path {
        &self.dir
    }

    /// Whether the attacker acts as another uid here (only root can make it one).
    pub fn distinct_uids() -> bool {
        is_root()
    }

    /// Backdating leaves the attacker's entries alone from now on (when it is another
    /// uid).
    pub fn spare_attacker(&mut self) {
        self.spared = self.attacker.uid;
    }

    /// Moves atime and mtime of everything under `dir` back by `by` (not following
    /// symlinks, spared entries left alone).
    fn backdate(&self, dir: &Utf8Path, by: Duration) {
        let Ok(names) = self.inspector.read_dir(dir) else {
            return;
        };
        for name in names {
            let path = dir.join(name);
            let Ok(st) = self.inspector.lstat(&path) else {
                continue;
            };
            if st.kind == Kind::Dir {
                self.backdate(&path, by);
            }
            if self.spared == Some(st.uid) {
                continue;
            }
            let _ = self.inspector.set_times(
                &path,
                st.atime.saturating_sub(by),
                st.mtime.saturating_sub(by),
            );
        }
    }
}

impl Drop for DiskEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env for DiskEnv {
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
        path.strip_prefix(&self.dir)
            .map_or(path.as_str(), Utf8Path::as_str)
    }
    fn advance(&self, by: Duration) {
        match self.mode {
            TimeMode::Epochs => {
                if let Err(e) = self.clock.advance(by) {
                    panic!("cannot move the disk clock: {e}");
                }
            }
            TimeMode::Backdate => self.backdate(&self.root, by),
        }
    }
    fn reaper(&self, noatime: bool) -> Box<dyn ReaperFs + '_> {
        Box::new(DiskReaper(if noatime {
            &self.reaper_noatime
        } else {
            &self.reaper
        }))
    }
    fn attacker(&self) -> &dyn Outside {
        &self.attacker
    }
    fn victim(&self) -> &dyn Outside {
        &self.victim
    }
    fn inspector(&self) -> &dyn Outside {
        &self.inspector
    }
    fn note(&self) -> String {
        self.note.clone()
    }
}

/// Access and modification times both set to the kernel's "now" (`UTIME_NOW`).
fn times_now() -> Timestamps {
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: UTIME_NOW,
    };
    Timestamps {
        last_access: now,
        last_modification: now,
    }
}
