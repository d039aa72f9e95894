//! The real-directory backend of [`tempdir_core`]: [`CapStdBackend`], every operation
//! through a [`cap_std::fs::Dir`] handle.
//!
//! A [`TemporaryDirectory<CapStdBackend>`](TemporaryDirectory) holds two handles: one to the
//! *root* (the system temp dir, a directory you name, or a directory capability you were
//! granted) and one to the private directory it made there. After construction nothing is
//! resolved from the filesystem root: each call names a single, already validated
//! component relative to one of the two handles, and no call follows a symlink (but
//! `set_mode_at`, which the core makes only on the directory it has just made).
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
//! you may not write in fails when the directory is made ([`Op::CreateDir`]); one that
//! others could tamper with is refused by the core ([`Error::UnsafeRoot`]).
//!
//! # What each primitive is, on Linux and the other Unixes
//!
//! The backend is a thin adapter: every flag and mode comes from the core, and each method
//! is the fewest calls that do what its [`Backend`] documentation says, made with
//! [`rustix`] on the raw descriptors of the cap-std handles. Every name is one component,
//! so `openat(dirfd, name, …)` is confined by construction: no `openat2` path walk, no
//! extra checks. `root` is the root's handle, `fd` the directory's ([`CapStdDir`]).
//!
//! | [`Backend`] method | syscalls |
//! |---|---|
//! | `root`, `seed` | none (`seed` is `None`: the core draws names from the operating system's randomness) |
//! | `euid` | `geteuid()` |
//! | `root_meta` | `fstat(root)` |
//! | `root_entry` | `fstatat(root, name, AT_SYMLINK_NOFOLLOW)`; `ENOENT` is `None` |
//! | `make_dir` | `mkdirat(root, name, mode)` (the umask applies) |
//! | `set_mode_at` | `fchmodat(root, name, mode, 0)` (follows a symlink) |
//! | `open_dir` | `openat(root, name, O_RDONLY\|O_DIRECTORY\|O_NOFOLLOW\|O_CLOEXEC)`: not `O_PATH`, so the descriptor can carry a `flock` |
//! | `rename_at` | Linux, Android: `renameat2(root, from, root, to, RENAME_NOREPLACE)`, and `renameat` if that says `EINVAL` (a filesystem without the flag), `ENOSYS` (a kernel before 3.15) or `EPERM` (a seccomp filter older than the call). macOS, iOS: `renameatx_np(…, RENAME_EXCL)`, and `renameat` if that says `EINVAL`, `ENOSYS` or `ENOTSUP`. Elsewhere `renameat` alone, which replaces an empty directory at `to`: the core renames to a fresh random name |
//! | `remove_dir` | `unlinkat(root, name, AT_REMOVEDIR)` (never recursive; `EEXIST`, which POSIX allows for a directory with entries, is `DirectoryNotEmpty` as `ENOTEMPTY` is) |
//! | `dir_meta` | `fstat(fd)` (the link count is 0 once the directory was removed) |
//! | `set_dir_mode` | `fchmod(fd, mode)` |
//! | `lock_shared` | `flock(fd, LOCK_SH\|LOCK_NB)`: never blocks; held until the handle is dropped |
//! | `create_file` | `openat(fd, name, O_RDWR\|O_CREAT\|O_EXCL\|O_NOFOLLOW\|O_CLOEXEC, mode)` (the umask applies) |
//! | `set_file_mode` | `fchmod(file, mode)` |
//! | `open_file` | `openat(fd, name, O_RDWR\|O_NOFOLLOW\|O_CLOEXEC\|O_NOCTTY\|O_NONBLOCK)`, `fstat(file)` for the kind; for a regular file `fcntl(file, F_SETFL, 0)` to clear `O_NONBLOCK` again (a FIFO stays non-blocking) |
//! | `entry` | `fstatat(fd, name, AT_SYMLINK_NOFOLLOW)`; `ENOENT` is `None` |
//! | `remove_file` | `unlinkat(fd, name, 0)` |
//! | `touch` | `utimensat(fd, name, {UTIME_NOW, UTIME_NOW}, AT_SYMLINK_NOFOLLOW)`; `futimens(fd)` for the directory |
//! | `list` | `openat(fd, ".", O_RDONLY\|O_DIRECTORY\|O_CLOEXEC)` (a file position of its own), then `getdents64` into a 32 KiB buffer until it is empty (elsewhere `fdopendir` and `readdir`), `close`; the names as they are, UTF-8 or not |
//! | `create_unnamed` | Linux, Android: `openat(fd, ".", O_TMPFILE\|O_RDWR\|O_CLOEXEC, mode)` (the umask applies); `EOPNOTSUPP`, and `EISDIR`, `EINVAL` or `ENOSYS` from kernels without it, are `Unsupported`, and the core makes a name and unlinks it at once instead. Elsewhere `Unsupported`, no call |
//! | `ambient_authority` | none: true for a backend opened by path ([`OpenRoot`]), false for one made [`from_dir`](CapStdBackend::from_dir) |
//! | `open_dir_ambient` | [`Dir::open_ambient_dir`]: `open(path, O_RDONLY\|O_DIRECTORY\|O_PATH\|O_CLOEXEC)` (no `O_PATH` on macOS), following symlinks as path resolution does; refused without ambient authority |
//! | `open_dir_beneath` | cap-std's sandboxed [`Dir::open_dir`] relative to `root`: `openat2(RESOLVE_BENEATH)` where the kernel has it, else cap-std's own walk, one component at a time; what resolves outside `root` is `PermissionDenied` |
//! | `rename_to` | replacing: `renameat(fd, name, to_fd, to)`. Not replacing: Linux, Android `renameat2(…, RENAME_NOREPLACE)`, macOS, iOS `renameatx_np(…, RENAME_EXCL)`; where that says the flag is missing (as for `rename_at`) and on the other systems, `linkat(fd, name, to_fd, to, 0)` (a taken `to` is `EEXIST`, atomically) then `unlinkat(fd, name, 0)`. `EXDEV` is `CrossesDevices`: nothing is ever copied |
//! | `open_subdir` | `openat(fd, name, O_RDONLY\|O_DIRECTORY\|O_NOFOLLOW\|O_CLOEXEC)`, as `open_dir` relative to the root |
//! | `remove_subdir` | `unlinkat(fd, name, AT_REMOVEDIR)`, as `remove_dir` relative to the root |
//!
//! On 32-bit Linux rustix makes `fstat` and `fstatat` as `statx`, for 64-bit times. A call
//! that a signal interrupts (`EINTR`, which network and FUSE filesystems can give) is made
//! again, as std does for `open`; it never reaches the caller as an error.
//!
//! So `mkstemp` costs this backend exactly one `openat`, and cleanup one `unlinkat` per
//! file plus a few calls for the directory itself (looking at its name in the root,
//! `rename_at`, `remove_dir`); whatever else the core asks for is one of the rows above.
//! `examples/syscalls.rs` prints the calls of one `mkstemp` and one `cleanup` under
//! `strace`.
//!
//! Modes are the caller's: `mkdirat` and `openat(O_CREAT)` take the umask's bits away (and
//! on Linux a directory made in a set-group-ID root inherits that bit), `fchmod` and
//! `fchmodat` set exactly what they are given. Which to call, and when, is the core's
//! decision.
//!
//! # WASI (`wasm32-wasip1`)
//!
//! The crate builds for WASI, where the same methods are made through cap-std alone; the
//! root is usually a preopen given to [`CapStdBackend::from_dir`] (or named by its path to
//! `new_in`). cap-std and its helpers use std's unstable WASI extensions (`wasi_ext`), so
//! the WASI build needs a nightly toolchain or `RUSTC_BOOTSTRAP=1` on stable; `cargo xtask
//! wasi` builds that way and runs the unit and integration tests under wasmtime with one
//! preopen.
//! What WASI lacks:
//!
//! | feature | Unix | WASI |
//! |---|---|---|
//! | `flock(LOCK_SH)` on the directory | held for the instance's life | none: [`Backend::lock_shared`] is `Unsupported` (the core carries on; no reaper runs inside the sandbox) |
//! | modes | as the caller gives them | none: WASI has no permission bits and the host decides; `make_dir` and `create_file` ignore the mode, [`Meta::mode`] is `None`, and `set_mode_at`, `set_dir_mode` and `set_file_mode` are `Unsupported` (the core takes that as "no modes here") |
//! | owners | `geteuid`, `st_uid` | none: `euid` and [`Meta::uid`] are `None` |
//! | close-on-exec | `O_CLOEXEC` | nothing to do: no `exec` |
//! | opening without following a symlink | `O_NOFOLLOW` | open, then check that the name (not followed) is the very object opened, else an `ELOOP`-like refusal; WASI confines any symlink to the preopen |
//! | opening an existing file read-write | `O_RDWR\|O_NONBLOCK`, the kind from `fstat` | `O_RDWR\|O_CREAT` after an `lstat` that found a regular file, then the identity check: cap-std's open without `O_CREAT` yields a descriptor without write rights under wasmtime. A directory is `IsADirectory` and anything else but a regular file is refused unopened: cap-std cannot ask for `O_NONBLOCK`, and a FIFO's open would block |
//! | renaming without replacing | `RENAME_NOREPLACE` / `RENAME_EXCL` | `lstat` that `to` is absent, then [`Dir::rename`]: whatever appears at `to` between the two is replaced, which only someone holding the same preopen can do |
//! | moving a file to another directory without replacing (`rename_to`) | `RENAME_NOREPLACE` / `RENAME_EXCL`, else `linkat` + `unlinkat` | [`Dir::hard_link`] (a taken name refuses it) then [`Dir::remove_file`] |
//! | unnamed files (`create_unnamed`) | `O_TMPFILE` on Linux | none: `Unsupported`, and the core makes a name and unlinks it at once |
//! | `touch` | `utimensat` / `futimens` | the entry is opened as above, then its times set through the descriptor |
//! | `DirectoryNotEmpty` | from std | WASI's `ENOTEMPTY` (55) mapped by the backend, std leaves it uncategorized |
//!
//! # Windows
//!
//! The crate builds for Windows, where the same methods are made through cap-std alone,
//! by the code WASI uses (`src/portable.rs`); `.ci/windows` runs the unit and integration
//! tests under Wine. What differs from WASI:
//!
//! | feature | Windows |
//! |---|---|
//! | privacy of the directory | no POSIX modes: the directory and its files inherit the ACL of the root (a user's `%TEMP%` is theirs alone); the core checks no owner and no mode |
//! | `flock(LOCK_SH)` | none: Windows locks byte ranges of files, not directories; `Unsupported` |
//! | the directory handles | opened with `FILE_SHARE_DELETE` (cap-std's own leave it out), so that cleanup can rename the directory aside and remove it while holding it, and a reaper can remove it as on Unix. cap-std removes, renames and links by the handle's current path on Windows: someone able to rename in the root could redirect one of those calls between the two |
//! | renaming without replacing | as on WASI: `to` looked at first, then [`Dir::rename`]; a file made at `to` meanwhile is replaced (a directory never is) |
//! | identity | the volume serial number and the 64-bit file index, read through a handle |
//! | symlinks and junctions | never opened: the name, looked at without following (`FILE_FLAG_OPEN_REPARSE_POINT`), must be the object opened; cap-std refuses to follow a reparse point out of the directory. Making a symlink needs a privilege |
//! | a removed file still open | its name stays until the last handle closes where deletion is not POSIX-style (Wine, older Windows); the directory then cannot be removed yet |
//! | `touch` | the entry opened with `FILE_WRITE_ATTRIBUTES` (a directory with `FILE_FLAG_BACKUP_SEMANTICS`), then its times set |
//! | the root's path | resolved with `canonicalize`, without the `\\?\` prefix, to which the core's `/` joins would not apply |
//!
//! [`Op::OpenRoot`]: tempdir_core::Op::OpenRoot
//! [`Op::CreateDir`]: tempdir_core::Op::CreateDir
//! [`Dir::open_ambient_dir`]: cap_std::fs::Dir::open_ambient_dir
//! [`Dir::rename`]: cap_std::fs::Dir::rename
//! [`Dir::open_dir`]: cap_std::fs::Dir::open_dir
//! [`Dir::hard_link`]: cap_std::fs::Dir::hard_link
//! [`Dir::remove_file`]: cap_std::fs::Dir::remove_file
#![forbid(unsafe_code)]
// docs.rs shows which feature or platform each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

use std::ffi::OsString;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use cap_std::fs::Dir;
use tempdir_core::{Backend, FileKind, Meta, Op, OpenRoot};

pub use cap_std;
pub use tempdir_core::{Error, TemporaryDirectory};

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
// WASI and Windows share one module: both go through cap-std alone.
#[cfg(any(target_os = "wasi", windows))]
#[path = "portable.rs"]
mod sys;
#[cfg(not(any(unix, target_os = "wasi", windows)))]
compile_error!(
    "tempdir-cap-std supports Unix, WASI and Windows: this target has no module of \
     directory primitives (src/unix.rs, src/portable.rs)"
);

#[cfg(all(test, unix))]
mod tests;
#[cfg(all(test, any(target_os = "wasi", windows)))]
#[path = "portable_tests.rs"]
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
    /// Made by path with ambient authority (`open_root`), not from a granted handle.
    ambient: bool,
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
    /// # mod tempdirs { pub use tempdir_cap_std::{cap_std, CapStdBackend}; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<CapStdBackend>; }
    /// use tempdirs::cap_std::{ambient_authority, fs::Dir};
    /// use tempdirs::{CapStdBackend, TemporaryDirectory};
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
            ambient: false,
        }
    }

    /// The handle to the root directory.
    pub fn root_dir(&self) -> &Dir {
        &self.root
    }
}

impl std::fmt::Debug for CapStdBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapStdBackend")
            .field("root", &self.path)
            .finish_non_exhaustive()
    }
}

/// The open handle to a directory inside the root (the [`Backend::Dir`] of
/// [`CapStdBackend`]).
///
/// On Unix the descriptor is opened `O_RDONLY|O_DIRECTORY` (not `O_PATH`, which cap-std
/// uses for directories and on which `flock` fails), so it carries the shared `flock` that
/// [`Backend::lock_shared`] takes; the lock lasts exactly as long as this value.
#[derive(Debug)]
pub struct CapStdDir {
    dir: Dir,
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
        #[cfg(windows)]
        let path = without_verbatim(path);
        let dir = open_ambient_dir(&path).map_err(|e| fail(&path, e))?;
        Ok(CapStdBackend {
            root: dir,
            path,
            ambient: true,
        })
    }

    /// `std::env::temp_dir()`: `TMPDIR`, else `/tmp`. Not UTF-8 is
    /// [`Error::NonUtf8Path`].
    fn default_root() -> Result<Utf8PathBuf, Error> {
        Utf8PathBuf::try_from(std::env::temp_dir()).map_err(|e| Error::NonUtf8Path {
            path: e.into_path_buf(),
        })
    }
}

/// `\\?\C:\dir` as `C:\dir`, `\\?\UNC\server\share` as `\\server\share`: the core
/// joins names with `/`, which a verbatim path would take as part of a name.
#[cfg(windows)]
fn without_verbatim(path: Utf8PathBuf) -> Utf8PathBuf {
    let text = path.as_str();
    if let Some(unc) = text.strip_prefix(r"\\?\UNC\") {
        return Utf8PathBuf::from(format!(r"\\{unc}"));
    }
    match text.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1..3) == Some(b":\\") => Utf8PathBuf::from(rest),
        _ => path,
    }
}

/// Opens the directory at `path` with ambient authority ([`Dir::open_ambient_dir`]; on
/// Windows sharing deletion, as the backend's other directory handles do).
fn open_ambient_dir(path: &Utf8Path) -> io::Result<Dir> {
    #[cfg(windows)]
    return sys::open_ambient_dir(path);
    #[cfg(not(windows))]
    return Dir::open_ambient_dir(path, cap_std::ambient_authority());
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

/// Each method is one call of `sys` (`unix.rs`, `portable.rs`); the crate docs list the
/// syscalls.
impl Backend for CapStdBackend {
    type File = std::fs::File;
    type Dir = CapStdDir;

    fn root(&self) -> &Utf8Path {
        &self.path
    }

    fn euid(&self) -> Option<u32> {
        sys::euid()
    }

    fn root_meta(&self) -> io::Result<Meta> {
        sys::dir_meta(&self.root)
    }

    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
        sys::entry(&self.root, name)
    }

    fn make_dir(&self, name: &str, mode: u32) -> io::Result<()> {
        sys::make_dir(&self.root, name, mode)
    }

    fn set_mode_at(&self, name: &str, mode: u32) -> io::Result<()> {
        sys::set_mode_at(&self.root, name, mode)
    }

    fn open_dir(&self, name: &str) -> io::Result<CapStdDir> {
        Ok(CapStdDir {
            dir: sys::open_dir(&self.root, name)?,
        })
    }

    fn rename_at(&self, from: &str, to: &str) -> io::Result<()> {
        sys::rename_at(&self.root, from, to)
    }

    fn remove_dir(&self, name: &str) -> io::Result<()> {
        sys::remove_dir(&self.root, name)
    }

    fn dir_meta(&self, dir: &CapStdDir) -> io::Result<Meta> {
        sys::dir_meta(&dir.dir)
    }

    fn set_dir_mode(&self, dir: &CapStdDir, mode: u32) -> io::Result<()> {
        sys::set_mode(&dir.dir, mode)
    }

    fn lock_shared(&self, dir: &CapStdDir) -> io::Result<()> {
        sys::lock_shared(&dir.dir)
    }

    #[inline]
    fn create_file(&self, dir: &CapStdDir, name: &str, mode: u32) -> io::Result<std::fs::File> {
        sys::create_file(&dir.dir, name, mode)
    }

    fn set_file_mode(&self, file: &std::fs::File, mode: u32) -> io::Result<()> {
        sys::set_mode(file, mode)
    }

    fn open_file(&self, dir: &CapStdDir, name: &str) -> io::Result<(std::fs::File, FileKind)> {
        sys::open_file(&dir.dir, name)
    }

    fn entry(&self, dir: &CapStdDir, name: &str) -> io::Result<Option<Meta>> {
        sys::entry(&dir.dir, name)
    }

    #[inline]
    fn remove_file(&self, dir: &CapStdDir, name: &str) -> io::Result<()> {
        sys::remove_file(&dir.dir, name)
    }

    fn touch(&self, dir: &CapStdDir, name: Option<&str>) -> io::Result<()> {
        sys::touch(&dir.dir, name)
    }

    fn list(&self, dir: &CapStdDir) -> io::Result<Vec<OsString>> {
        sys::list(&dir.dir)
    }

    fn create_unnamed(&self, dir: &CapStdDir, mode: u32) -> io::Result<std::fs::File> {
        sys::create_unnamed(&dir.dir, mode)
    }

    /// True for a backend opened by path ([`OpenRoot`]), false for one made
    /// [`from_dir`](CapStdBackend::from_dir).
    fn ambient_authority(&self) -> bool {
        self.ambient
    }

    fn open_dir_ambient(&self, path: &Utf8Path) -> io::Result<CapStdDir> {
        if !self.ambient {
            // The core never asks; a backend made from a handle has no authority to give.
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "this backend has no ambient authority",
            ));
        }
        Ok(CapStdDir {
            dir: open_ambient_dir(path)?,
        })
    }

    fn open_dir_beneath(&self, path: &Utf8Path) -> io::Result<CapStdDir> {
        let path = if path.as_str().is_empty() {
            Utf8Path::new(".")
        } else {
            path
        };
        Ok(CapStdDir {
            dir: self.root.open_dir(path)?,
        })
    }

    fn rename_to(
        &self,
        dir: &CapStdDir,
        name: &str,
        to_dir: &CapStdDir,
        to: &str,
        replace: bool,
    ) -> io::Result<()> {
        sys::rename_to(&dir.dir, name, &to_dir.dir, to, replace)
    }

    fn open_subdir(&self, dir: &CapStdDir, name: &str) -> io::Result<CapStdDir> {
        Ok(CapStdDir {
            dir: sys::open_dir(&dir.dir, name)?,
        })
    }

    fn remove_subdir(&self, dir: &CapStdDir, name: &str) -> io::Result<()> {
        sys::remove_dir(&dir.dir, name)
    }
}
