//! `MemoryFs`: the shared filesystem, its views (one per acting user), and the operations
//! outside actors make by absolute path.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{FileKind, Meta};

use crate::Errno;
use crate::backend::BackendOp;
use crate::fault::{self, ArmedFault, Fault};
use crate::meta::MemoryMetadata;
use crate::state::{self, Actor, State};

/// A hook the race simulator sets: it runs before each backend operation.
type Hook = Box<dyn FnMut(&MemoryFs, &BackendOp) + Send>;

thread_local! {
    /// Set while this thread runs a hook: backend operations the hook makes itself do not
    /// call it again (that would recurse, or deadlock on the hook's lock).
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// The outer lock is held only to clone the `Arc` out, so a hook may replace or clear
    /// itself; the inner one serialises the hook's runs.
    hook: Mutex<Option<Arc<Mutex<Hook>>>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic (a failed assertion in a hook) leaves the model consistent: every
        // operation checks before it mutates.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A deterministic in-memory POSIX-like filesystem, shared by cheap clones.
///
/// It holds `/` (mode `0755`, owned by root) and `/tmp` (mode `1777`, owned by root) at
/// first; umask `022`; the acting user is uid 1000. It models inodes with identity
/// (`dev` is [`MemoryFs::DEV`], inode numbers count up from 2 and are never reused),
/// directory entries, link counts, modes, owners, the sticky bit, the umask, symlinks
/// (followed by the path operations below as `std::fs` would, at most 40 per resolution,
/// and subject to `fs.protected_symlinks`), FIFOs standing for every special file,
/// timestamps on a virtual clock, BSD `flock`, fault injection, and a trace of every
/// operation. Uid 0 bypasses permission bits, as with `CAP_DAC_OVERRIDE`; every other
/// uid is checked.
///
/// The methods taking a path are **outside actors**: a user, a tmp reaper, an attacker,
/// acting by absolute path with the semantics and errors of `std::fs` on Linux
/// (relative paths are taken from `/`). A view made with [`as_uid`](Self::as_uid) acts as
/// another user on the same filesystem. [`MemoryBackend`](crate::MemoryBackend) acts
/// through handles instead, with the semantics of the `*at` system calls.
///
/// **Same seed, same run**: names come from a seeded splitmix64 generator
/// ([`random_u64`](Self::random_u64), [`peek_random`](Self::peek_random)); time moves only
/// by [`advance_clock`](Self::advance_clock); directories are ordered maps; nothing reads
/// the wall clock or the OS's randomness. Two runs with one seed give identical
/// [`trace`](Self::trace)s.
///
/// Not modelled: groups (group permission bits apply to nobody), hard-link and
/// `protected_regular` restrictions, mounts, quotas (inject `ENOSPC` or `EDQUOT` with a
/// [`Fault`] instead), and the data of special files (see [`mkfifo`](Self::mkfifo)).
///
/// ```
/// use std::time::Duration;
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::memory::MemoryFs;
///
/// let fs = MemoryFs::with_seed(3);
/// fs.write("/tmp/notes", "hello")?;
/// assert_eq!(fs.read("/tmp/notes")?, b"hello");
/// assert_eq!(fs.metadata("/tmp/notes")?.mode, 0o644, "0666 & !umask 022");
///
/// // An attacker (another uid) cannot remove it from the sticky /tmp.
/// let mallory = fs.as_uid(1001);
/// let denied = mallory.remove_file("/tmp/notes").unwrap_err();
/// assert_eq!(denied.kind(), std::io::ErrorKind::PermissionDenied);
///
/// // Time moves only when told to.
/// let created = fs.metadata("/tmp/notes")?.mtime;
/// fs.advance_clock(Duration::from_secs(10 * 86_400));
/// assert_eq!(fs.now() - created, Duration::from_secs(10 * 86_400));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct MemoryFs {
    pub(crate) shared: Arc<Shared>,
    uid: u32,
    noatime: bool,
}

impl Default for MemoryFs {
    fn default() -> Self {
        MemoryFs::new()
    }
}

impl fmt::Debug for MemoryFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFs")
            .field("seed", &self.seed())
            .field("uid", &self.uid)
            .field("noatime", &self.noatime)
            .finish_non_exhaustive()
    }
}

/// How an operation's result reads in the trace.
pub(crate) trait Outcome {
    fn describe(&self) -> String;
}

impl Outcome for () {
    fn describe(&self) -> String {
        "ok".to_owned()
    }
}

impl Outcome for bool {
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl Outcome for Vec<u8> {
    fn describe(&self) -> String {
        format!("{} bytes", self.len())
    }
}

impl Outcome for Vec<String> {
    fn describe(&self) -> String {
        format!("[{}]", self.join(", "))
    }
}

impl Outcome for u64 {
    fn describe(&self) -> String {
        format!("{self:#x}")
    }
}

impl Outcome for Utf8PathBuf {
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl Outcome for MemoryMetadata {
    fn describe(&self) -> String {
        format!(
            "{:?} ino={} mode={:o} uid={} nlink={}",
            self.kind, self.ino, self.mode, self.uid, self.nlink
        )
    }
}

impl Outcome for Meta {
    fn describe(&self) -> String {
        let mode = self.mode.unwrap_or_default();
        let uid = self.uid.unwrap_or_default();
        format!(
            "{:?} ino={} mode={mode:o} uid={uid} nlink={}",
            self.kind, self.id.ino, self.nlink
        )
    }
}

impl<T: Outcome> Outcome for Option<T> {
    fn describe(&self) -> String {
        self.as_ref().map_or_else(|| "none".to_owned(), T::describe)
    }
}

/// An inode number handed to a new handle.
pub(crate) struct Ino(pub(crate) u64);

impl Outcome for Ino {
    fn describe(&self) -> String {
        format!("ino={}", self.0)
    }
}

/// An inode number handed to a new file handle, and what kind of file it is.
pub(crate) struct Opened(pub(crate) u64, pub(crate) FileKind);

impl Outcome for Opened {
    fn describe(&self) -> String {
        format!("ino={} {:?}", self.0, self.1)
    }
}

/// A count of bytes read or written.
pub(crate) struct Bytes(pub(crate) usize);

impl Outcome for Bytes {
    fn describe(&self) -> String {
        format!("{} bytes", self.0)
    }
}

impl MemoryFs {
    /// `st_dev` of every entry.
    pub const DEV: u64 = state::DEV;

    /// What [`now`](Self::now) says before any [`advance_clock`](Self::advance_clock): one
    /// year after the filesystem's epoch, so that times "30 days ago" exist.
    pub const START: Duration = Duration::from_secs(365 * 86_400);

    /// A filesystem with seed 0.
    pub fn new() -> Self {
        Self::with_seed(0)
    }

    /// A filesystem whose random numbers (and so every name a backend on it makes) follow
    /// from `seed`. It holds `/` and `/tmp`; the view acts as uid 1000.
    pub fn with_seed(seed: u64) -> Self {
        MemoryFs {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(seed, Self::START)),
                hook: Mutex::new(None),
            }),
            uid: 1000,
            noatime: false,
        }
    }

    /// The seed it was made with.
    pub fn seed(&self) -> u64 {
        self.lock().seed
    }

    /// The next value of the seeded generator, the one [`Backend::seed`] draws from.
    ///
    /// [`Backend::seed`]: tempdir_core::Backend::seed
    pub fn random_u64(&self) -> u64 {
        self.lock().next_random()
    }

    /// The next `n` values [`random_u64`](Self::random_u64) (and so the backend) will
    /// draw, without drawing them: how a test predicts the seeds, and so the names, of the
    /// instances about to be made. Each [`Backend::seed`] call draws exactly one value.
    ///
    /// [`Backend::seed`]: tempdir_core::Backend::seed
    ///
    /// ```
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::MemoryFs;
    ///
    /// let fs = MemoryFs::with_seed(9);
    /// let next = fs.peek_random(2);
    /// assert_eq!(fs.random_u64(), next[0]);
    /// assert_eq!(fs.random_u64(), next[1]);
    /// ```
    pub fn peek_random(&self, n: usize) -> Vec<u64> {
        self.lock().peek_random(n)
    }

    /// A view of the same filesystem acting as `uid` (an attacker, a reaper running as
    /// root). Uid 0 bypasses permission checks (not `protected_symlinks`, as on Linux).
    pub fn as_uid(&self, uid: u32) -> MemoryFs {
        MemoryFs {
            shared: Arc::clone(&self.shared),
            uid,
            noatime: self.noatime,
        }
    }

    /// The uid this view acts as.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// A view of the same filesystem whose reads leave atime alone (`noatime == true`) or
    /// update it under relatime rules (the default), as opening with `O_NOATIME` does:
    /// systemd-tmpfiles scans this way.
    pub fn with_noatime(&self, noatime: bool) -> MemoryFs {
        MemoryFs {
            shared: Arc::clone(&self.shared),
            uid: self.uid,
            noatime,
        }
    }

    /// Sets the umask applied to what every view and every backend creates; returns the
    /// old one. It is the filesystem's, not a view's: one umask for every uid.
    pub fn set_umask(&self, umask: u32) -> u32 {
        let mut state = self.lock();
        std::mem::replace(&mut state.umask, umask & 0o777)
    }

    /// Whether `fs.protected_symlinks` is on (it is at first, as systemd sets it).
    pub fn protected_symlinks(&self) -> bool {
        self.lock().protected_symlinks
    }

    /// Sets `fs.protected_symlinks`: when on, following a symlink that sits in a sticky
    /// world-writable directory fails with `EACCES` unless the follower or the directory's
    /// owner owns the link (root included, as on Linux).
    pub fn set_protected_symlinks(&self, on: bool) {
        self.lock().protected_symlinks = on;
    }

    /// How many symlinks the path operations have followed so far (every view counted):
    /// what the race simulator reports as `symlinks_followed`.
    pub fn symlinks_followed(&self) -> u64 {
        self.lock().symlinks_followed
    }

    // ---- outside actors ----

    /// Whether `path` leads to something, following symlinks, like `Path::exists`.
    pub fn exists(&self, path: impl AsRef<Utf8Path>) -> bool {
        let path = path.as_ref();
        self.outside(format!("exists {path}"), |state, actor| {
            Ok(state.exists(actor, path))
        })
        .unwrap_or(false)
    }

    /// The content of the file at `path`, following symlinks, like `std::fs::read`.
    ///
    /// # Errors
    ///
    /// What `std::fs::read` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn read(&self, path: impl AsRef<Utf8Path>) -> io::Result<Vec<u8>> {
        let path = path.as_ref();
        self.outside(format!("read {path}"), |state, actor| {
            state.read(actor, path)
        })
    }

    /// Creates (mode `0666 & !umask`) or truncates the file at `path` and writes `bytes`,
    /// **following symlinks** (a dangling one's target is created), like `std::fs::write`.
    /// This is how path-based code gets hurt.
    ///
    /// # Errors
    ///
    /// What `std::fs::write` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn write(&self, path: impl AsRef<Utf8Path>, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        let path = path.as_ref();
        let bytes = bytes.as_ref();
        self.outside(
            format!("write {path} ({} bytes)", bytes.len()),
            |state, actor| state.write(actor, path, bytes),
        )
    }

    /// Makes the directory `path` with mode `0777 & !umask`, like `std::fs::create_dir`.
    ///
    /// # Errors
    ///
    /// What `std::fs::create_dir` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn create_dir(&self, path: impl AsRef<Utf8Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(format!("create_dir {path}"), |state, actor| {
            let mode = state.default_dir_mode();
            state.create_dir(actor, path, mode)
        })
    }

    /// Makes the directory `path` with exactly `mode` (the umask does not apply): an
    /// attacker's `0777` directory.
    ///
    /// # Errors
    ///
    /// What `std::fs::DirBuilder::create` with a mode (`mkdir(2)`` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn create_dir_with_mode(&self, path: impl AsRef<Utf8Path>, mode: u32) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(
            format!("create_dir {path} mode={mode:o}"),
            |state, actor| state.create_dir(actor, path, mode),
        )
    }

    /// Makes the directory `path` as [`create_dir`](Self::create_dir) does, as the root of
    /// a filesystem of its own (a mount): what is made under it has another `dev`
    /// (returned), and renaming or hard-linking between it and anywhere else fails with
    /// `EXDEV` (`CrossesDevices`). It is otherwise an ordinary directory (a mount point's
    /// `EBUSY` is not modelled).
    ///
    /// ```
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::MemoryFs;
    ///
    /// let fs = MemoryFs::new();
    /// let dev = fs.create_device_dir("/tmp/usb")?;
    /// assert_ne!(dev, MemoryFs::DEV);
    /// fs.write("/tmp/a", "x")?;
    /// let err = fs.rename("/tmp/a", "/tmp/usb/a").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::CrossesDevices);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`create_dir`](Self::create_dir).
    pub fn create_device_dir(&self, path: impl AsRef<Utf8Path>) -> io::Result<u64> {
        let path = path.as_ref();
        self.outside(format!("create_device_dir {path}"), |state, actor| {
            let mode = state.default_dir_mode();
            state.create_device_dir(actor, path, mode)
        })
    }

    /// Makes a FIFO at `path` with mode `0666 & !umask`, owned by this view's uid, like
    /// `mkfifo(3)`: anything at `path`, a symlink included, is `EEXIST`. It stands for every
    /// special file (socket, device node): metadata says [`FileKind::Other`], the backend's
    /// `open_file` opens it at once as `FileKind::Other`, and `remove_file` unlinks it. It
    /// holds no data: reading or writing it, by path or through a handle, fails with
    /// `EAGAIN` (`WouldBlock`) instead of blocking, and seeking a handle on it with
    /// `ESPIPE`.
    ///
    /// # Errors
    ///
    /// What `mkfifo(3)` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn mkfifo(&self, path: impl AsRef<Utf8Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(format!("mkfifo {path}"), |state, actor| {
            state.mkfifo(actor, path)
        })
    }

    /// Unlinks the non-directory at `path` (a symlink itself), like `std::fs::remove_file`.
    ///
    /// # Errors
    ///
    /// What `std::fs::remove_file` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn remove_file(&self, path: impl AsRef<Utf8Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(format!("remove_file {path}"), |state, actor| {
            state.remove_file(actor, path)
        })
    }

    /// Removes the empty directory at `path` (`DirectoryNotEmpty` otherwise), like
    /// `std::fs::remove_dir`. A handle on it keeps the inode, with no links.
    ///
    /// # Errors
    ///
    /// What `std::fs::remove_dir` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn remove_dir(&self, path: impl AsRef<Utf8Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(format!("remove_dir {path}"), |state, actor| {
            state.remove_dir(actor, path)
        })
    }

    /// Renames `from` to `to` as `rename(2)` does (replacing a file, or an empty directory
    /// with a directory), like `std::fs::rename`. Neither last component is followed.
    ///
    /// # Errors
    ///
    /// What `std::fs::rename` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn rename(&self, from: impl AsRef<Utf8Path>, to: impl AsRef<Utf8Path>) -> io::Result<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        self.outside(format!("rename {from} {to}"), |state, actor| {
            state.rename(actor, from, to)
        })
    }

    /// Makes a symlink at `link` pointing to `target`, in the argument order of
    /// `std::os::unix::fs::symlink`. The target is stored as given and need not exist.
    ///
    /// # Errors
    ///
    /// What `std::os::unix::fs::symlink` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn symlink(
        &self,
        target: impl AsRef<Utf8Path>,
        link: impl AsRef<Utf8Path>,
    ) -> io::Result<()> {
        let (target, link) = (target.as_ref(), link.as_ref());
        self.outside(format!("symlink {target} {link}"), |state, actor| {
            state.symlink(actor, target, link)
        })
    }

    /// Makes `link` another name of `original` (not following it), like
    /// `std::fs::hard_link`.
    ///
    /// # Errors
    ///
    /// What `std::fs::hard_link` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn hard_link(
        &self,
        original: impl AsRef<Utf8Path>,
        link: impl AsRef<Utf8Path>,
    ) -> io::Result<()> {
        let (original, link) = (original.as_ref(), link.as_ref());
        self.outside(format!("hard_link {original} {link}"), |state, actor| {
            state.hard_link(actor, original, link)
        })
    }

    /// The target of the symlink at `path`, like `std::fs::read_link`.
    ///
    /// # Errors
    ///
    /// What `std::fs::read_link` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn read_link(&self, path: impl AsRef<Utf8Path>) -> io::Result<Utf8PathBuf> {
        let path = path.as_ref();
        self.outside(format!("read_link {path}"), |state, actor| {
            state.read_link(actor, path)
        })
    }

    /// The names in the directory at `path` (following symlinks), sorted, without `.`
    /// and `..`. Reading a directory is an access (relatime).
    ///
    /// # Errors
    ///
    /// What `std::fs::read_dir` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn read_dir(&self, path: impl AsRef<Utf8Path>) -> io::Result<Vec<String>> {
        let path = path.as_ref();
        self.outside(format!("read_dir {path}"), |state, actor| {
            state.read_dir(actor, path)
        })
    }

    /// What `path` leads to, following symlinks, like `std::fs::metadata`.
    ///
    /// # Errors
    ///
    /// What `std::fs::metadata` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn metadata(&self, path: impl AsRef<Utf8Path>) -> io::Result<MemoryMetadata> {
        let path = path.as_ref();
        self.outside(format!("metadata {path}"), |state, actor| {
            state.stat(actor, path, true)
        })
    }

    /// What `path` is, not following a final symlink, like `std::fs::symlink_metadata`.
    ///
    /// # Errors
    ///
    /// What `std::fs::symlink_metadata` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn symlink_metadata(&self, path: impl AsRef<Utf8Path>) -> io::Result<MemoryMetadata> {
        let path = path.as_ref();
        self.outside(format!("symlink_metadata {path}"), |state, actor| {
            state.stat(actor, path, false)
        })
    }

    /// Sets the permission bits (`mode & 0o7777`) of what `path` leads to, following
    /// symlinks, like `std::fs::set_permissions`. Owner or root only (`EPERM`).
    ///
    /// # Errors
    ///
    /// What `std::fs::set_permissions` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn set_permissions(&self, path: impl AsRef<Utf8Path>, mode: u32) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(format!("chmod {path} {mode:o}"), |state, actor| {
            state.set_permissions(actor, path, mode)
        })
    }

    /// Sets atime and mtime of `path` (instants on the virtual clock), not following a
    /// symlink, as `utimensat(AT_SYMLINK_NOFOLLOW)` does: owner or root only, and ctime
    /// becomes now. `cp -p`, `tar` and `rsync -t` make old-looking files this way.
    ///
    /// # Errors
    ///
    /// What `utimensat(2)` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn set_times(
        &self,
        path: impl AsRef<Utf8Path>,
        atime: Duration,
        mtime: Duration,
    ) -> io::Result<()> {
        let path = path.as_ref();
        self.outside(
            format!("set_times {path} {atime:?} {mtime:?}"),
            |state, actor| state.set_times(actor, path, atime, mtime),
        )
    }

    /// The virtual clock: a duration since the filesystem's epoch, [`START`](Self::START)
    /// at first. It moves only by [`advance_clock`](Self::advance_clock); operations do
    /// not tick it, so several may share one instant (relatime compares with `<=`).
    pub fn now(&self) -> Duration {
        self.lock().clock
    }

    /// Moves the virtual clock forward.
    pub fn advance_clock(&self, by: Duration) {
        let mut state = self.lock();
        state.clock += by;
        let line = format!("advance_clock {by:?} -> {:?}", state.clock);
        state.trace.push(line);
    }

    /// What systemd-tmpfiles does before descending into a directory: open `path` without
    /// following a symlink (`ELOOP`), then `flock(LOCK_EX|LOCK_NB)`. `Ok(false)` when a
    /// shared lock is held on it; `Ok(true)` when the lock was taken (and released at once).
    ///
    /// # Errors
    ///
    /// What `open(2)` then `flock(2)` says on Linux in the same state, with its errno (see
    /// [`Errno::of`](crate::Errno::of)).
    pub fn try_lock_exclusive(&self, path: impl AsRef<Utf8Path>) -> io::Result<bool> {
        let path = path.as_ref();
        self.outside(format!("try_lock_exclusive {path}"), |state, actor| {
            state.try_lock_exclusive(actor, path)
        })
    }

    // ---- faults, trace, hook ----

    /// Installs a fault: matching backend operations fail with its errno before doing
    /// anything. Faults apply to operations of every view's backends.
    pub fn inject(&self, fault: Fault) {
        let mut state = self.lock();
        let line = format!("inject {fault:?}");
        state.trace.push(line);
        state.faults.push(ArmedFault::new(fault));
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.faults.clear();
        state.trace.push("clear_faults".to_owned());
    }

    /// Every operation so far, backend and outside, with its outcome, one line each:
    /// `uid=1000 create_file /tmp/tempdirs-x/mkstemp-y-1 mode=600 -> ino=7`. Same seed
    /// and same calls, same trace.
    pub fn trace(&self) -> Vec<String> {
        self.lock().trace.clone()
    }

    /// Returns the trace and starts a new one, for long simulations.
    pub fn take_trace(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().trace)
    }

    /// Sets the function called **before** each backend operation (and each read and write
    /// on a backend file), with no internal lock held, so that a simulated reaper or
    /// attacker can act on the filesystem at exactly that point. It receives the backend's
    /// view and the operation about to run. Backend operations made while a hook runs on
    /// the same thread (on any `MemoryFs`) call no hook, so a hook may drive a backend
    /// without recursing. Hooks on several threads run one at a time. Replaces any previous
    /// hook; a hook may replace or clear itself. A hook must not call `cleanup` of an
    /// instance on this filesystem: cleanups run one at a time, so it would wait for the
    /// cleanup it interrupted.
    ///
    /// ```
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::DirStatus;
    /// use tempdirs::memory::{FaultOp, MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::with_seed(5);
    /// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    /// // A reaper strikes right before the next create: the empty directory goes.
    /// fs.set_hook(|fs, op| {
    ///     if op.fault_op() == FaultOp::CreateFile {
    ///         let _ = fs.remove_dir(&op.dir);
    ///     }
    /// });
    /// assert!(tmp.mkstemp().is_err());
    /// fs.clear_hook();
    /// assert_eq!(tmp.status(), DirStatus::Reaped);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_hook(&self, hook: impl FnMut(&MemoryFs, &BackendOp) + Send + 'static) {
        let hook: Hook = Box::new(hook);
        *self.hook_slot() = Some(Arc::new(Mutex::new(hook)));
    }

    /// Removes the hook.
    pub fn clear_hook(&self) {
        *self.hook_slot() = None;
    }

    fn hook_slot(&self) -> MutexGuard<'_, Option<Arc<Mutex<Hook>>>> {
        self.shared
            .hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    // ---- plumbing ----

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    pub(crate) fn actor(&self) -> Actor {
        Actor {
            uid: self.uid,
            noatime: self.noatime,
        }
    }

    /// Runs an outside operation under the lock and traces it.
    fn outside<T: Outcome>(
        &self,
        what: String,
        op: impl FnOnce(&mut State, Actor) -> Result<T, Errno>,
    ) -> io::Result<T> {
        let mut state = self.lock();
        let result = op(&mut state, self.actor());
        let outcome = match &result {
            Ok(value) => value.describe(),
            Err(errno) => errno.name().to_owned(),
        };
        let line = format!("uid={} {what} -> {outcome}", self.uid);
        state.trace.push(line);
        result.map_err(io::Error::from)
    }

    /// Runs a backend operation: the hook first (no lock held), then under the lock the
    /// faults, which fail it before anything happens, then the operation; traced.
    pub(crate) fn backend_call<T: Outcome>(
        &self,
        op: &BackendOp,
        run: impl FnOnce(&mut State, Actor) -> Result<T, Errno>,
    ) -> io::Result<T> {
        self.run_hook(op);
        let mut state = self.lock();
        let path = op.path();
        let injected = fault::check(&mut state.faults, op.fault_op(), path.as_str(), op.name());
        let result = match injected {
            Some(errno) => Err(errno),
            None => run(&mut state, self.actor()),
        };
        let outcome = match (&result, injected) {
            (Ok(value), _) => value.describe(),
            (Err(errno), Some(_)) => format!("{} (injected)", errno.name()),
            (Err(errno), None) => errno.name().to_owned(),
        };
        let line = format!("uid={} {op} -> {outcome}", self.uid);
        state.trace.push(line);
        result.map_err(io::Error::from)
    }

    fn run_hook(&self, op: &BackendOp) {
        if IN_HOOK.with(Cell::get) {
            return;
        }
        let Some(hook) = self.hook_slot().clone() else {
            return;
        };
        let mut hook = hook.lock().unwrap_or_else(PoisonError::into_inner);
        IN_HOOK.with(|flag| flag.set(true));
        // Reset the flag even if the hook panics (a failed assertion in a test).
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_HOOK.with(|flag| flag.set(false));
            }
        }
        let _reset = Reset;
        (*hook)(self, op);
    }
}

/// An open handle on an inode: keeps it alive after its last name goes (as an fd does),
/// and releases its `flock` when closed.
pub(crate) struct Handle {
    shared: Arc<Shared>,
    pub(crate) ino: u64,
    /// The inode's device, which never changes once anything can open it.
    dev: u64,
    /// Whether this handle holds a shared `flock`.
    locked: AtomicBool,
}

impl Handle {
    /// Wraps an inode the state already retained for this handle. Takes the state's lock
    /// for a moment: never call it with the lock held.
    pub(crate) fn new(fs: &MemoryFs, ino: u64) -> Handle {
        let dev = fs.lock().inode(ino).dev;
        Handle {
            shared: Arc::clone(&fs.shared),
            ino,
            dev,
            locked: AtomicBool::new(false),
        }
    }

    /// The identity of the inode it holds, without taking the state's lock.
    pub(crate) fn id(&self) -> tempdir_core::FileId {
        tempdir_core::FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }

    /// Whether `fs` is the filesystem this handle is open on.
    pub(crate) fn belongs_to(&self, fs: &MemoryFs) -> bool {
        Arc::ptr_eq(&self.shared, &fs.shared)
    }

    /// Marks the handle as holding the lock; `false` if it already did (`flock` on an fd
    /// that holds the lock is a no-op).
    pub(crate) fn mark_locked(&self) -> bool {
        !self.locked.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn holds_lock(&self) -> bool {
        self.locked.load(Ordering::SeqCst)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let held = *self.locked.get_mut();
        state.release(self.ino, held);
        let line = if held {
            format!("close ino={} (unlock)", self.ino)
        } else {
            format!("close ino={}", self.ino)
        };
        state.trace.push(line);
    }
}
