//! The real-directory backend of [`tempdir_core`]: [`CapStdBackend`], every operation
//! through a [`cap_std::fs::Dir`] handle.
//!
//! A [`TemporaryDirectory<CapStdBackend>`](TemporaryDirectory) holds two handles: one to the
//! *root* (the system temp dir, a directory you name, or a directory capability you were
//! granted) and one to the private directory it made there. After construction nothing is
//! resolved from the filesystem root: each call names a single, already validated
//! component relative to one of the two handles, and no call follows a symlink.
//!
//! ```
//! use std::io::{Read, Seek, Write};
//! use tempdir_cap_std::{CapStdBackend, TemporaryDirectory};
//!
//! # let scratch = camino::Utf8PathBuf::try_from(std::env::temp_dir()).unwrap();
//! // `scratch` is any existing directory: `/tmp`, `$XDG_RUNTIME_DIR`, a work area.
//! let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&scratch)?;
//! let (mut file, path) = tmp.mkstemp()?;
//! file.write_all(b"volume 1")?;
//! file.rewind()?;
//! let mut back = String::new();
//! file.read_to_string(&mut back)?;
//! assert_eq!(back, "volume 1");
//! assert!(path.starts_with(tmp.dir()));
//!
//! let report = tmp.cleanup();
//! assert!(report.is_complete());
//! assert!(!tmp.dir().exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Constructors
//!
//! | call | authority | root |
//! |---|---|---|
//! | `TemporaryDirectory::<CapStdBackend>::new()` | ambient | `std::env::temp_dir()` (`TMPDIR`, else `/tmp`); non-UTF-8 is [`Error::NonUtf8Path`] |
//! | `TemporaryDirectory::<CapStdBackend>::new_in(root)` | ambient | `root`, resolved to its real path and opened once with [`Dir::open_ambient_dir`]; [`TemporaryDirectory::dir`] reports the real path |
//! | `TemporaryDirectory::with_backend(CapStdBackend::from_dir(dir, path))` | none | the handle you pass, e.g. a WASI preopen; `path` is only what [`TemporaryDirectory::dir`] reports |
//!
//! A root that is missing or not a directory is [`Error::Io`] with [`Op::OpenRoot`]; one
//! you may not write in fails when the directory is made ([`Op::CreateDir`]).
//!
//! # What each primitive is, on Linux and the other Unixes
//!
//! Calls are made with [`rustix`] on the raw descriptors of the cap-std handles: every name
//! is one component, so `openat(dirfd, name, …)` is confined by construction, and the
//! syscalls are exactly those below (no `openat2` path walk, no extra checks).
//!
//! | [`Backend`] method | syscalls |
//! |---|---|
//! | `make_dir` | `mkdirat(root, name, 0700)`, `openat(root, name, O_RDONLY\|O_DIRECTORY\|O_NOFOLLOW\|O_CLOEXEC)`, `fchmod(fd, 0700)`, `statx(fd)`, `fstatfs(fd)` (is it tmpfs?); on a failure after the `mkdirat`, `unlinkat(root, name, AT_REMOVEDIR)` |
//! | `lock_shared` | `flock(fd, LOCK_SH\|LOCK_NB)`: never blocks; held until the handle is dropped |
//! | `dir_meta` | `statx(fd)` (the link count is 0 once the directory was removed) |
//! | `root_entry`, `entry` | `statx(dirfd, name, AT_SYMLINK_NOFOLLOW)` |
//! | `remove_dir` | `unlinkat(root, name, AT_REMOVEDIR)` (never recursive) |
//! | `create_file` | `openat(fd, name, O_RDWR\|O_CREAT\|O_EXCL\|O_NOFOLLOW\|O_CLOEXEC, 0600)`, `statx`; `fchmod(0600)` only when the umask took bits away |
//! | `open_file` | `openat(fd, name, O_RDWR\|O_NOFOLLOW\|O_CLOEXEC\|O_NOCTTY)`, `statx`; anything but a regular file is refused |
//! | `remove_file` | `unlinkat(fd, name, 0)` |
//! | `touch` | `utimensat(fd, name, {UTIME_NOW, UTIME_NOW}, AT_SYMLINK_NOFOLLOW)`; `futimens(fd)` for the directory |
//! | `list` | reads the directory through the handle ([`Dir::entries`]) |
//! | `scan` | on Linux tmpfs, `openat(fd, ".")` and `getdents64` (inode number and type of each entry); elsewhere declined, with no call |
//!
//! A call that a signal interrupts (`EINTR`, which network and FUSE filesystems can give)
//! is made again, as std does for `open`; it never reaches the caller as an error.
//!
//! So `mkstemp` costs the backend one `openat` and one `statx` (the core adds one
//! `statx` of the directory's name in the root, to notice a replaced directory), and each
//! file at cleanup one `unlinkat` after one directory listing for all of them on tmpfs,
//! one `statx` each elsewhere. Identities come from `statx` on Linux for the birth time,
//! which tells a new file from an old one with a reused inode number; where `statx` is
//! refused, `fstat`/`fstatat` (and `(dev, ino)` alone) for the whole process; on other
//! Unixes, `fstat`/`fstatat`.
//!
//! Why the listing only on tmpfs: a listing gives each entry's inode number and type but
//! no birth time. tmpfs numbers inodes from a counter (per mount since Linux 5.9, the
//! kernel-wide `get_next_ino` before) and does not give a freed number to the next file
//! made; a number comes round again only when the 32-bit counter wraps (a mount without
//! `inode64`), after some 4 billion inodes. ext4 and xfs give a freed number to the very
//! next file made, so there each name is stat'ed for its birth time. (A birth time is
//! coarse, a clock tick; see [`tempdir_core::FileId`].)
//!
//! The directory's mode is set with `fchmod` on the open descriptor, never by path, so it is
//! exactly `0700` whatever the umask (a `0277` umask would leave `0500`) and whatever the
//! root's set-group-ID bit; a file's is exactly `0600`.
//!
//! # Names
//!
//! [`Backend::random`] hashes a per-backend counter and the process id with SipHash keyed
//! by [`RandomState`], whose keys std draws from
//! the operating system's randomness (`getrandom`). Other processes cannot predict the
//! names, and no name costs a syscall. The process id is read once, when the backend is
//! made: a backend made in a forked child therefore never repeats its parent's names even
//! though the child inherited the parent's key state. A backend (and its
//! `TemporaryDirectory`) must not be used on both sides of a `fork`: both processes would
//! own one directory.
//!
//! # WASI (`wasm32-wasip1`)
//!
//! The crate builds for WASI, where the same calls are made through cap-std alone; the
//! root is usually a preopen given to [`CapStdBackend::from_dir`] (or named by its path to
//! `new_in`). cap-std and its helpers use std's unstable WASI extensions (`wasi_ext`), so
//! the WASI build needs a nightly toolchain or `RUSTC_BOOTSTRAP=1` on stable; `cargo xtask
//! wasi` builds that way and runs the integration tests under wasmtime with one preopen.
//! What WASI lacks:
//!
//! | feature | Unix | WASI |
//! |---|---|---|
//! | `flock(LOCK_SH)` on the directory | held for the instance's life | none: [`Backend::lock_shared`] is `Unsupported` (the core carries on; no reaper runs inside the sandbox) |
//! | modes `0700` / `0600` | exact, whatever the umask | none: WASI has no permission bits; the host decides |
//! | close-on-exec | `O_CLOEXEC` | nothing to do: no `exec` |
//! | opening without following a symlink | `O_NOFOLLOW` | open, then check that the name (not followed) is the very file opened, else `ELOOP`-like refusal; WASI confines any symlink to the preopen |
//! | opening an existing file read-write | `O_RDWR` | `O_RDWR\|O_CREAT` after an `lstat` that found a regular file, then the identity check: cap-std's open without `O_CREAT` yields a descriptor without write rights under wasmtime |
//! | `touch` | `utimensat` / `futimens` | the entry is opened as above, then its times set through the descriptor |
//! | `DirectoryNotEmpty` | from std | WASI's `ENOTEMPTY` (55) mapped by the backend, std leaves it uncategorized |
//! | fork safety of names | pid mixed in | no `fork`, no pid |
//!
//! [`Op::OpenRoot`]: tempdir_core::Op::OpenRoot
//! [`Op::CreateDir`]: tempdir_core::Op::CreateDir
//! [`Dir::open_ambient_dir`]: cap_std::fs::Dir::open_ambient_dir
//! [`Dir::entries`]: cap_std::fs::Dir::entries
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use tempdir_core::{Backend, FileId, Listed, Meta, Op, OpenRoot};

pub use cap_std;
pub use tempdir_core::{Error, TemporaryDirectory};

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
#[cfg(target_os = "wasi")]
#[path = "wasi.rs"]
mod sys;

#[cfg(all(test, unix))]
mod tests;
#[cfg(all(test, target_os = "wasi"))]
#[path = "wasi_tests.rs"]
mod tests;

/// A [`TemporaryDirectory`] on real directories.
pub type CapStdTemporaryDirectory = TemporaryDirectory<CapStdBackend>;

/// Real directories, through a [`cap_std::fs::Dir`] handle to the root.
///
/// Make one with ambient authority through [`OpenRoot`] (which is what
/// `TemporaryDirectory::<CapStdBackend>::new()` and `new_in(root)` do) or without any,
/// from a handle you hold, with [`from_dir`](Self::from_dir).
pub struct CapStdBackend {
    root: Dir,
    path: Utf8PathBuf,
    names: Names,
}

impl CapStdBackend {
    /// A backend making its directories in `dir`, a handle the caller already holds (a WASI
    /// preopen, a sandbox's scratch directory). No ambient authority is used, now or later.
    ///
    /// `path` is not opened or checked: it is only what
    /// [`TemporaryDirectory::dir`] reports (joined with the directory's name) and what
    /// messages say.
    ///
    /// ```
    /// use tempdir_cap_std::cap_std::{ambient_authority, fs::Dir};
    /// use tempdir_cap_std::{CapStdBackend, TemporaryDirectory};
    ///
    /// # let granted = camino::Utf8PathBuf::try_from(std::env::temp_dir()).unwrap();
    /// // The host's one act of ambient authority; the library holds only the handle.
    /// let dir = Dir::open_ambient_dir(&granted, ambient_authority())?;
    /// let tmp = TemporaryDirectory::with_backend(CapStdBackend::from_dir(dir, granted))?;
    /// let (_file, _path) = tmp.mkstemp()?;
    /// assert!(tmp.cleanup().is_complete());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_dir(dir: Dir, path: Utf8PathBuf) -> Self {
        CapStdBackend {
            root: dir,
            path,
            names: Names::new(),
        }
    }

    /// The handle to the root directory.
    pub fn root_dir(&self) -> &Dir {
        &self.root
    }
}

impl std::fmt::Debug for CapStdBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash keys stay out of sight: they are what makes names unpredictable.
        f.debug_struct("CapStdBackend")
            .field("root", &self.path)
            .finish_non_exhaustive()
    }
}

/// The open handle to a directory made by [`CapStdBackend`] (its [`Backend::Dir`]).
///
/// On Unix the descriptor is opened `O_RDONLY|O_DIRECTORY` (not `O_PATH`, which cap-std
/// uses for directories and on which `flock` fails), so it carries the shared `flock` that
/// [`Backend::lock_shared`] takes; the lock lasts exactly as long as this value.
#[derive(Debug)]
pub struct CapStdDir {
    dir: Dir,
    /// Whether a listing's inode numbers identify entries as well as a `statx` does
    /// (Linux tmpfs): cleanup then checks every tracked name from one directory read.
    listing_identifies: bool,
}

impl CapStdDir {
    /// The handle as a [`cap_std::fs::Dir`], for what the backend does not offer.
    pub fn as_dir(&self) -> &Dir {
        &self.dir
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for CapStdDir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.dir)
    }
}

/// Unpredictable, cheap names: SipHash keyed from the OS's randomness over a counter.
struct Names {
    /// std seeds these keys from the operating system's randomness.
    keys: RandomState,
    counter: AtomicU64,
    /// Read once: a per-name `getpid` would be a syscall per name.
    pid: u32,
}

impl Names {
    fn new() -> Self {
        Names {
            keys: RandomState::new(),
            counter: AtomicU64::new(0),
            pid: process_id(),
        }
    }

    fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.keys.hash_one((self.pid, n))
    }
}

#[cfg(unix)]
fn process_id() -> u32 {
    std::process::id()
}

/// WASI has no processes to tell apart (and `std::process::id` panics there).
#[cfg(not(unix))]
fn process_id() -> u32 {
    0
}

impl OpenRoot for CapStdBackend {
    /// Resolves `root` to its real path (symlinks and `..` resolved, as `realpath`) and
    /// opens that with ambient authority ([`Dir::open_ambient_dir`]). The paths handed out
    /// are then the real ones the handle was opened at: re-pointing a symlink in `root`
    /// later cannot make them lead anywhere else. Where the platform cannot resolve paths
    /// (WASI), `root` is used as given, made absolute.
    fn open_root(root: &Utf8Path) -> Result<Self, Error> {
        let given = absolute(root)?;
        let fail = |path: &Utf8Path, source| Error::Io {
            op: Op::OpenRoot,
            path: path.to_owned(),
            source,
        };
        let path = match std::fs::canonicalize(&given) {
            Ok(real) => Utf8PathBuf::try_from(real).map_err(|e| Error::NonUtf8Path {
                path: e.into_path_buf(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => given,
            Err(e) => return Err(fail(&given, e)),
        };
        let dir = Dir::open_ambient_dir(&path, ambient_authority()).map_err(|e| fail(&path, e))?;
        Ok(CapStdBackend::from_dir(dir, path))
    }

    /// `std::env::temp_dir()`: `TMPDIR`, else `/tmp`. Not UTF-8 is
    /// [`Error::NonUtf8Path`].
    fn default_root() -> Result<Utf8PathBuf, Error> {
        Utf8PathBuf::try_from(std::env::temp_dir()).map_err(|e| Error::NonUtf8Path {
            path: e.into_path_buf(),
        })
    }
}

/// `root`, absolute against the current directory (no filesystem access).
fn absolute(root: &Utf8Path) -> Result<Utf8PathBuf, Error> {
    if root.is_absolute() {
        return Ok(root.to_owned());
    }
    let joined = std::path::absolute(root).map_err(|source| Error::Io {
        op: Op::OpenRoot,
        path: root.to_owned(),
        source,
    })?;
    Utf8PathBuf::try_from(joined).map_err(|e| Error::NonUtf8Path {
        path: e.into_path_buf(),
    })
}

impl Backend for CapStdBackend {
    type File = std::fs::File;
    type Dir = CapStdDir;

    fn root(&self) -> &Utf8Path {
        &self.path
    }

    fn random(&self) -> u64 {
        self.names.next()
    }

    fn make_dir(&self, name: &str) -> io::Result<(CapStdDir, FileId)> {
        let (dir, id) = sys::make_dir(&self.root, name)?;
        let listing_identifies = sys::listing_identifies(&dir);
        Ok((
            CapStdDir {
                dir,
                listing_identifies,
            },
            id,
        ))
    }

    fn lock_shared(&self, dir: &CapStdDir) -> io::Result<()> {
        sys::lock_shared(&dir.dir)
    }

    fn dir_meta(&self, dir: &CapStdDir) -> io::Result<Meta> {
        sys::dir_meta(&dir.dir)
    }

    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
        sys::entry(&self.root, name)
    }

    fn remove_dir(&self, name: &str) -> io::Result<()> {
        sys::remove_dir(&self.root, name)
    }

    fn create_file(&self, dir: &CapStdDir, name: &str) -> io::Result<(std::fs::File, FileId)> {
        sys::create_file(&dir.dir, name)
    }

    fn open_file(&self, dir: &CapStdDir, name: &str) -> io::Result<(std::fs::File, FileId)> {
        sys::open_file(&dir.dir, name)
    }

    fn entry(&self, dir: &CapStdDir, name: &str) -> io::Result<Option<Meta>> {
        sys::entry(&dir.dir, name)
    }

    fn remove_file(&self, dir: &CapStdDir, name: &str) -> io::Result<()> {
        sys::remove_file(&dir.dir, name)
    }

    fn touch(&self, dir: &CapStdDir, name: Option<&str>) -> io::Result<()> {
        sys::touch(&dir.dir, name)
    }

    /// One `getdents64` pass where its inode numbers are identities (Linux tmpfs); else
    /// `Ok(false)`, and cleanup looks at each name.
    fn scan(&self, dir: &CapStdDir, visit: &mut dyn FnMut(&str, Listed)) -> io::Result<bool> {
        if !dir.listing_identifies {
            return Ok(false);
        }
        sys::scan(&dir.dir, visit)?;
        Ok(true)
    }

    fn list(&self, dir: &CapStdDir) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in dir.dir.entries()? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
}

/// `Ok(None)` for a name with nothing there.
fn found<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error for an entry that must not be opened: a symlink (`ELOOP`, as `O_NOFOLLOW`
/// reports it on Unix) or something else than a regular file.
fn refused(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}
