//! The primitives on Unix: rustix calls on the descriptors of the cap-std handles.
//!
//! Each function is the one call its [`Backend`](tempdir_core::Backend) method names, with
//! every flag and mode as the caller gave it. Every `name` is one validated component, so
//! `*at(dirfd, name)` cannot leave `dirfd`; `O_NOFOLLOW` / `AT_SYMLINK_NOFOLLOW` keep a
//! symlink at the name from being followed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use cap_std::fs::Dir;
use rustix::fs::{
    AtFlags, FileType, FlockOperation, Mode, OFlags, RawMode, Stat, Timespec, Timestamps,
    UTIME_NOW, chmodat, fchmod, fcntl_setfl, flock, fstat, futimens, mkdirat, openat, statat,
    unlinkat, utimensat,
};
use rustix::io::Errno;
use tempdir_core::{FileId, FileKind, Meta};

pub(crate) fn euid() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

pub(crate) fn dir_meta(dir: impl AsFd) -> io::Result<Meta> {
    Ok(meta(&restart(|| fstat(&dir))?))
}

pub(crate) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Meta>> {
    match restart(|| statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)) {
        Ok(stat) => Ok(Some(meta(&stat))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn make_dir(root: &Dir, name: &str, bits: u32) -> io::Result<()> {
    Ok(restart(|| mkdirat(root, name, mode(bits)))?)
}

pub(crate) fn set_mode_at(root: &Dir, name: &str, bits: u32) -> io::Result<()> {
    // Flags empty: this follows a symlink, as the trait says. Linux's `fchmodat` refuses
    // AT_SYMLINK_NOFOLLOW before 6.6, and the core calls this only on a name it just made.
    Ok(restart(|| {
        chmodat(root, name, mode(bits), AtFlags::empty())
    })?)
}

pub(crate) fn open_dir(root: &Dir, name: &str) -> io::Result<Dir> {
    // Not O_PATH: the descriptor must carry a flock.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = restart(|| openat(root, name, flags, Mode::empty()))?;
    Ok(Dir::from(fd))
}

/// `renameat2(RENAME_NOREPLACE)`, or `renameat` where the kernel or the filesystem has no
/// such flag.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn rename_at(root: &Dir, from: &str, to: &str) -> io::Result<()> {
    use rustix::fs::{RenameFlags, renameat, renameat_with};
    match restart(|| renameat_with(root, from, root, to, RenameFlags::NOREPLACE)) {
        // EINVAL: a filesystem without RENAME_NOREPLACE; ENOSYS: a kernel before 3.15;
        // EPERM: a seccomp filter older than the call. A real EPERM comes back again.
        Err(Errno::INVAL | Errno::NOSYS | Errno::PERM) => {
            Ok(restart(|| renameat(root, from, root, to))?)
        }
        done => Ok(done?),
    }
}

/// `renameatx_np(RENAME_EXCL)`, or `renameat` where the system or the filesystem has no
/// such flag.
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub(crate) fn rename_at(root: &Dir, from: &str, to: &str) -> io::Result<()> {
    use rustix::fs::{RenameFlags, renameat, renameat_with};
    match restart(|| renameat_with(root, from, root, to, RenameFlags::NOREPLACE)) {
        // ENOSYS: macOS before 10.12; EINVAL, ENOTSUP: a filesystem without RENAME_EXCL.
        Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
            Ok(restart(|| renameat(root, from, root, to))?)
        }
        done => Ok(done?),
    }
}

/// Plain `renameat`: these systems have no flag to refuse replacing, so an empty directory
/// at `to` would be replaced (the core renames to a fresh random name).
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
)))]
pub(crate) fn rename_at(root: &Dir, from: &str, to: &str) -> io::Result<()> {
    Ok(restart(|| rustix::fs::renameat(root, from, root, to))?)
}

/// `renameat` from one directory to another: `renameat2(RENAME_NOREPLACE)` when nothing may
/// be replaced, or `linkat` + `unlinkat` where the kernel or the filesystem has no such
/// flag (`link` refuses a taken name just as atomically).
pub(crate) fn rename_to(
    from: &Dir,
    name: &str,
    to_dir: &Dir,
    to: &str,
    replace: bool,
) -> io::Result<()> {
    if replace {
        return Ok(restart(|| rustix::fs::renameat(from, name, to_dir, to))?);
    }
    rename_noreplace(from, name, to_dir, to)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn rename_noreplace(from: &Dir, name: &str, to_dir: &Dir, to: &str) -> io::Result<()> {
    use rustix::fs::{RenameFlags, renameat_with};
    match restart(|| renameat_with(from, name, to_dir, to, RenameFlags::NOREPLACE)) {
        // As in `rename_at`: no such flag here (EINVAL, ENOSYS) or a seccomp filter older
        // than the call (EPERM; a real one comes back from `linkat`).
        Err(Errno::INVAL | Errno::NOSYS | Errno::PERM) => link_then_unlink(from, name, to_dir, to),
        done => Ok(done?),
    }
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn rename_noreplace(from: &Dir, name: &str, to_dir: &Dir, to: &str) -> io::Result<()> {
    use rustix::fs::{RenameFlags, renameat_with};
    match restart(|| renameat_with(from, name, to_dir, to, RenameFlags::NOREPLACE)) {
        Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
            link_then_unlink(from, name, to_dir, to)
        }
        done => Ok(done?),
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
)))]
fn rename_noreplace(from: &Dir, name: &str, to_dir: &Dir, to: &str) -> io::Result<()> {
    link_then_unlink(from, name, to_dir, to)
}

/// A second name made with create-new semantics (`EEXIST` if `to` is taken), then the
/// first removed. Were the unlink to fail, the file would have both names, and the error
/// says so rather than leaving it unsaid.
fn link_then_unlink(from: &Dir, name: &str, to_dir: &Dir, to: &str) -> io::Result<()> {
    restart(|| rustix::fs::linkat(from, name, to_dir, to, AtFlags::empty()))?;
    match restart(|| unlinkat(from, name, AtFlags::empty())) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `openat(dir, ".", O_TMPFILE|O_RDWR|O_CLOEXEC, mode)`: a file with no name. What says
/// the kernel or the filesystem has no `O_TMPFILE` is `Unsupported`: `EOPNOTSUPP`, and
/// `EISDIR` or `EINVAL` from kernels before 3.11, which take the flag for `O_DIRECTORY`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn create_unnamed(dir: &Dir, bits: u32) -> io::Result<File> {
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match restart(|| openat(dir, ".", flags, mode(bits))) {
        Ok(fd) => Ok(File::from(fd)),
        Err(e @ (Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS)) => Err(
            io::Error::new(io::ErrorKind::Unsupported, io::Error::from(e)),
        ),
        Err(e) => Err(e.into()),
    }
}

/// No `O_TMPFILE` outside Linux: the core makes a name and unlinks it at once.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn create_unnamed(_dir: &Dir, _bits: u32) -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no O_TMPFILE on this system",
    ))
}

pub(crate) fn remove_dir(root: &Dir, name: &str) -> io::Result<()> {
    match restart(|| unlinkat(root, name, AtFlags::REMOVEDIR)) {
        Ok(()) => Ok(()),
        // POSIX lets rmdir say EEXIST for a directory with entries (Linux says ENOTEMPTY).
        Err(Errno::EXIST) => Err(io::Error::from(io::ErrorKind::DirectoryNotEmpty)),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn set_mode(fd: impl AsFd, bits: u32) -> io::Result<()> {
    Ok(restart(|| fchmod(&fd, mode(bits)))?)
}

pub(crate) fn lock_shared(dir: &Dir) -> io::Result<()> {
    Ok(restart(|| {
        flock(dir, FlockOperation::NonBlockingLockShared)
    })?)
}

// `create_file` and `remove_file` are inlined into the core's `mkstemp` and cleanup: each
// call layer left between the loop and the syscall measured as a few percent of a create
// in the bench.
#[inline]
pub(crate) fn create_file(dir: &Dir, name: &str, bits: u32) -> io::Result<File> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(File::from(restart(|| {
        openat(dir, name, flags, mode(bits))
    })?))
}

pub(crate) fn open_file(dir: &Dir, name: &str) -> io::Result<(File, FileKind)> {
    // O_NOCTTY: a device planted at the name must not become our terminal. O_NONBLOCK: a
    // FIFO planted there must not hang the open waiting for a writer.
    let flags =
        OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let fd = restart(|| openat(dir, name, flags, Mode::empty()))?;
    let kind = meta(&restart(|| fstat(&fd))?).kind;
    if kind == FileKind::File {
        // F_SETFL changes only the status flags (O_APPEND, O_NONBLOCK, ...), and of those
        // the open set O_NONBLOCK alone: empty clears it, so the caller gets a plain file.
        restart(|| fcntl_setfl(&fd, OFlags::empty()))?;
    }
    Ok((File::from(fd), kind))
}

#[inline]
pub(crate) fn remove_file(dir: &Dir, name: &str) -> io::Result<()> {
    Ok(restart(|| unlinkat(dir, name, AtFlags::empty()))?)
}

pub(crate) fn touch(dir: &Dir, name: Option<&str>) -> io::Result<()> {
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: UTIME_NOW,
    };
    let times = Timestamps {
        last_access: now,
        last_modification: now,
    };
    match name {
        Some(name) => restart(|| utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW))?,
        None => restart(|| futimens(dir.as_fd(), &times))?,
    }
    Ok(())
}

/// Reads `dir` through a descriptor of its own (`openat(dir, ".")`): reading moves the file
/// position, which the handle shares with every other reader of it.
pub(crate) fn list(dir: &Dir) -> io::Result<Vec<OsString>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = restart(|| openat(dir, ".", flags, Mode::empty()))?;
    let mut names = Vec::new();
    read_names(fd, &mut |name| {
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_owned());
        }
    })?;
    Ok(names)
}

/// `getdents64` into one 32 KiB buffer: some 800 of the core's names per call.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_names(fd: OwnedFd, visit: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    use std::mem::MaybeUninit;
    let mut buf = vec![MaybeUninit::uninit(); 32 * 1024];
    let mut entries = rustix::fs::RawDir::new(fd, &mut buf);
    while let Some(entry) = entries.next() {
        match entry {
            // Nothing was read: the next call reads the same entries again.
            Err(Errno::INTR) => continue,
            entry => visit(entry?.file_name().to_bytes()),
        }
    }
    Ok(())
}

/// The C library's `fdopendir` and `readdir` on the descriptor.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn read_names(fd: OwnedFd, visit: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    for entry in rustix::fs::Dir::new(fd)? {
        visit(entry?.file_name().to_bytes());
    }
    Ok(())
}

/// Calls `f` again while a signal interrupts it (`EINTR`), as std's own `open` does: a
/// network or FUSE filesystem can be interrupted where a local one never is. Such a
/// filesystem may have made a file or directory before saying `EINTR`; the call made again
/// then finds the name taken and says `AlreadyExists`, as it would for any other taken
/// name.
fn restart<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> rustix::io::Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => {}
            done => return done,
        }
    }
}

/// The caller's mode in the platform's `mode_t`, which is 16 bits wide on macOS and the
/// BSDs: the bits cut off there are file-type bits, never permissions.
// `RawMode` is `u32` on Linux, `u16` elsewhere.
#[allow(clippy::unnecessary_cast)]
fn mode(bits: u32) -> Mode {
    Mode::from_bits_truncate(bits as RawMode)
}

/// What the core needs of a `stat`.
// `st_mode`, `st_dev` and `st_nlink` are narrower or differ in sign on some Unixes.
#[allow(clippy::unnecessary_cast)]
fn meta(stat: &Stat) -> Meta {
    let kind = match FileType::from_raw_mode(stat.st_mode as RawMode) {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Other,
    };
    Meta {
        id: FileId {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
        },
        kind,
        nlink: stat.st_nlink as u64,
        uid: Some(stat.st_uid as u32),
        mode: Some(stat.st_mode as u32 & 0o7777),
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;

    #[test]
    fn interrupted_calls_are_made_again_and_other_errors_are_not() {
        let mut calls = 0;
        let done = restart(|| {
            calls += 1;
            if calls < 3 {
                Err(Errno::INTR)
            } else {
                Ok(calls)
            }
        });
        assert_eq!(done, Ok(3));
        let mut calls = 0;
        let failed = restart(|| -> rustix::io::Result<()> {
            calls += 1;
            Err(Errno::IO)
        });
        assert_eq!((failed, calls), (Err(Errno::IO), 1));
    }
}
