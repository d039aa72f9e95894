//! The primitives on Unix: rustix calls on the descriptors of the cap-std handles.
//!
//! Every `name` is one validated component, so `*at(dirfd, name)` cannot leave `dirfd`;
//! `O_NOFOLLOW` / `AT_SYMLINK_NOFOLLOW` keep a symlink at the name from being followed.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use cap_std::fs::Dir;
use rustix::fs::{
    AtFlags, FileType, FlockOperation, Mode, OFlags, Stat, Timespec, Timestamps, UTIME_NOW, fchmod,
    flock, fstat, futimens, mkdirat, openat, statat, unlinkat, utimensat,
};
#[cfg(target_os = "linux")]
use rustix::fs::{StatxFlags, makedev, statx};
use rustix::io::Errno;
use tempdir_core::{FileId, FileKind, Listed, Meta};

use crate::{found, refused};

const DIR_MODE: Mode = Mode::RWXU;
const FILE_MODE: Mode = Mode::RUSR.union(Mode::WUSR);

pub(crate) fn make_dir(root: &Dir, name: &str) -> io::Result<(Dir, FileId)> {
    restart(|| mkdirat(root, name, DIR_MODE))?;
    open_private_dir(root, name).inspect_err(|_| {
        // Nothing is left behind. Only an empty directory can go: ours, just made.
        let _ = restart(|| unlinkat(root, name, AtFlags::REMOVEDIR));
    })
}

/// Opens the directory just made and makes its mode exactly `0700`, through the descriptor.
fn open_private_dir(root: &Dir, name: &str) -> io::Result<(Dir, FileId)> {
    // Not O_PATH: the descriptor must carry a flock.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = restart(|| openat(root, name, flags, Mode::empty()))?;
    // Unconditional: the umask may have taken bits away and a set-group-ID root adds one.
    restart(|| fchmod(&fd, DIR_MODE))?;
    let status = status_of(&fd)?;
    Ok((Dir::from(fd), status.id))
}

/// Whether the inode numbers a listing of `dir` shows tell its entries apart about as well
/// as a `statx` would. True on Linux tmpfs, which numbers new inodes from a counter
/// (`shmem_reserve_inode`, per mount since 5.9; `get_next_ino` before) and gives a number
/// again only when the 32-bit counter wraps, after some 4 billion inodes (a mount without
/// `inode64`). Elsewhere (ext4, xfs) a freed number goes to the very next file made, and
/// only the birth time tells the two apart.
#[cfg(target_os = "linux")]
// `f_type` is `i64` here, `u32` or `c_long` on other targets.
#[allow(clippy::useless_conversion)]
pub(crate) fn listing_identifies(dir: &Dir) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    restart(|| rustix::fs::fstatfs(dir)).is_ok_and(|fs| i64::from(fs.f_type) == TMPFS_MAGIC)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn listing_identifies(_dir: &Dir) -> bool {
    false
}

/// Reads `dir` once (`getdents64`) and hands each entry to `visit`.
#[cfg(target_os = "linux")]
pub(crate) fn scan(dir: &Dir, visit: &mut dyn FnMut(&str, Listed)) -> io::Result<()> {
    use std::mem::MaybeUninit;
    // A descriptor of its own: reading moves the file position, and the handle's is shared
    // with nobody only as long as nobody reads through it.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = restart(|| openat(dir, ".", flags, Mode::empty()))?;
    // 64 KiB: about 1,600 entries of our names per `getdents64`.
    let mut buf = vec![MaybeUninit::uninit(); 64 * 1024];
    let mut entries = rustix::fs::RawDir::new(&fd, &mut buf);
    while let Some(entry) = entries.next() {
        let entry = match entry {
            // Nothing was read: the next call reads the same entries again.
            Err(Errno::INTR) => continue,
            entry => entry?,
        };
        // No tracked name is anything but UTF-8.
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let kind = match entry.file_type() {
            FileType::Unknown => None,
            FileType::RegularFile => Some(FileKind::File),
            FileType::Directory => Some(FileKind::Dir),
            FileType::Symlink => Some(FileKind::Symlink),
            _ => Some(FileKind::Other),
        };
        visit(name, Listed::new(entry.ino(), kind));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn scan(_dir: &Dir, _visit: &mut dyn FnMut(&str, Listed)) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

pub(crate) fn lock_shared(dir: &Dir) -> io::Result<()> {
    Ok(restart(|| {
        flock(dir, FlockOperation::NonBlockingLockShared)
    })?)
}

pub(crate) fn dir_meta(dir: &Dir) -> io::Result<Meta> {
    Ok(status_of(dir)?.meta())
}

pub(crate) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Meta>> {
    found(status_at(dir, name)).map(|status| status.map(|s| s.meta()))
}

pub(crate) fn remove_dir(root: &Dir, name: &str) -> io::Result<()> {
    match restart(|| unlinkat(root, name, AtFlags::REMOVEDIR)) {
        Ok(()) => Ok(()),
        // POSIX lets rmdir say EEXIST for a directory with entries (Linux says ENOTEMPTY).
        Err(Errno::EXIST) => Err(io::Error::from(io::ErrorKind::DirectoryNotEmpty)),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn create_file(dir: &Dir, name: &str) -> io::Result<(File, FileId)> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = restart(|| openat(dir, name, flags, FILE_MODE))?;
    match exact_file_mode(&fd) {
        Ok(status) => Ok((File::from(fd), status.id)),
        Err(e) => {
            // Nothing is left behind: the name holds the file O_EXCL just made.
            let _ = restart(|| unlinkat(dir, name, AtFlags::empty()));
            Err(e)
        }
    }
}

/// Makes a new file's mode exactly `0600` and returns its status. Only a umask taking owner
/// bits (`0277`) changes the mode, so the `fchmod` is paid only then.
fn exact_file_mode(fd: &OwnedFd) -> io::Result<Status> {
    let status = status_of(fd)?;
    if status.mode & 0o7777 != FILE_MODE.bits() {
        restart(|| fchmod(fd, FILE_MODE))?;
    }
    Ok(status)
}

pub(crate) fn open_file(dir: &Dir, name: &str) -> io::Result<(File, FileId)> {
    // O_NOCTTY: a device planted at the name must not become our terminal.
    let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = restart(|| openat(dir, name, flags, Mode::empty()))?;
    let status = status_of(&fd)?;
    if status.kind() != FileKind::File {
        return Err(refused("not a regular file"));
    }
    Ok((File::from(fd), status.id))
}

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

/// Calls `f` again while a signal interrupts it (`EINTR`), as std's own `open` does: a
/// network or FUSE filesystem can be interrupted where a local one never is. Such a
/// filesystem may have made a file or directory before saying `EINTR`; the call made again
/// then finds the name taken, and `mkstemp` goes on to another name (the first stays,
/// untracked), which is what an `Interrupted` error left behind too.
fn restart<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> rustix::io::Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => {}
            done => return done,
        }
    }
}

/// What the backend needs of a `stat`: the mode, the link count, and the identity.
struct Status {
    /// `st_mode`: type and permission bits.
    mode: u32,
    nlink: u64,
    id: FileId,
}

impl Status {
    fn kind(&self) -> FileKind {
        match FileType::from_raw_mode(self.mode as _) {
            FileType::RegularFile => FileKind::File,
            FileType::Directory => FileKind::Dir,
            FileType::Symlink => FileKind::Symlink,
            _ => FileKind::Other,
        }
    }

    fn meta(&self) -> Meta {
        Meta {
            id: self.id,
            kind: self.kind(),
            nlink: self.nlink,
        }
    }

    // `st_mode`, `st_dev` and `st_nlink` are narrower or differ in sign on some Unixes.
    #[allow(clippy::unnecessary_cast)]
    fn from_stat(stat: &Stat) -> Self {
        Status {
            mode: stat.st_mode as u32,
            nlink: stat.st_nlink as u64,
            id: FileId {
                dev: stat.st_dev as u64,
                ino: stat.st_ino as u64,
                birth: 0,
            },
        }
    }
}

/// The status of the open file or directory `fd`.
fn status_of(fd: impl AsFd) -> io::Result<Status> {
    #[cfg(target_os = "linux")]
    if let Some(status) = with_birth(&fd, "", AtFlags::EMPTY_PATH)? {
        return Ok(status);
    }
    Ok(Status::from_stat(&restart(|| fstat(&fd))?))
}

/// The status of `name` in `dir`, not following a symlink.
fn status_at(dir: &Dir, name: &str) -> io::Result<Status> {
    #[cfg(target_os = "linux")]
    if let Some(status) = with_birth(dir, name, AtFlags::SYMLINK_NOFOLLOW)? {
        return Ok(status);
    }
    let stat = restart(|| statat(dir, name, AtFlags::SYMLINK_NOFOLLOW))?;
    Ok(Status::from_stat(&stat))
}

/// `statx`, for the birth time that tells a new file from an old one with a reused inode
/// number. `None` where the kernel has no `statx` (or a sandbox refuses it): the caller
/// falls back to `fstat`/`fstatat`, and then to `(dev, ino)` alone — the same way for every
/// call, so identities stay comparable.
#[cfg(target_os = "linux")]
fn with_birth(dir: impl AsFd, name: &str, flags: AtFlags) -> io::Result<Option<Status>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // Once refused, always refused: mixing statx and fstat identities would not compare.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);
    if UNAVAILABLE.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let mask = StatxFlags::TYPE
        | StatxFlags::MODE
        | StatxFlags::NLINK
        | StatxFlags::INO
        | StatxFlags::BTIME;
    match restart(|| statx(&dir, name, flags, mask)) {
        Ok(x) => {
            let birth = if x.stx_mask & StatxFlags::BTIME.bits() != 0 {
                (x.stx_btime.tv_sec as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(x.stx_btime.tv_nsec))
            } else {
                0
            };
            Ok(Some(Status {
                mode: u32::from(x.stx_mode),
                nlink: u64::from(x.stx_nlink),
                id: FileId {
                    dev: makedev(x.stx_dev_major, x.stx_dev_minor),
                    ino: x.stx_ino,
                    birth,
                },
            }))
        }
        Err(Errno::NOSYS | Errno::PERM) => {
            UNAVAILABLE.store(true, Ordering::Relaxed);
            Ok(None)
        }
        Err(e) => Err(e.into()),
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
