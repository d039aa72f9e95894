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
use rustix::io::Errno;
use tempdir_core::{FileId, FileKind, Meta};

use crate::{found, refused};

const DIR_MODE: Mode = Mode::RWXU;
const FILE_MODE: Mode = Mode::RUSR.union(Mode::WUSR);

pub(crate) fn make_dir(root: &Dir, name: &str) -> io::Result<(Dir, FileId)> {
    mkdirat(root, name, DIR_MODE)?;
    open_private_dir(root, name).inspect_err(|_| {
        // Nothing is left behind. Only an empty directory can go: ours, just made.
        let _ = unlinkat(root, name, AtFlags::REMOVEDIR);
    })
}

/// Opens the directory just made and makes its mode exactly `0700`, through the descriptor.
fn open_private_dir(root: &Dir, name: &str) -> io::Result<(Dir, FileId)> {
    // Not O_PATH: the descriptor must carry a flock.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = openat(root, name, flags, Mode::empty())?;
    // Unconditional: the umask may have taken bits away and a set-group-ID root adds one.
    fchmod(&fd, DIR_MODE)?;
    let stat = fstat(&fd)?;
    Ok((Dir::from(fd), id(&stat)))
}

pub(crate) fn lock_shared(dir: &Dir) -> io::Result<()> {
    Ok(flock(dir, FlockOperation::NonBlockingLockShared)?)
}

pub(crate) fn dir_meta(dir: &Dir) -> io::Result<Meta> {
    Ok(meta(&fstat(dir)?))
}

pub(crate) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Meta>> {
    found(statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from))
        .map(|stat| stat.as_ref().map(meta))
}

pub(crate) fn remove_dir(root: &Dir, name: &str) -> io::Result<()> {
    match unlinkat(root, name, AtFlags::REMOVEDIR) {
        Ok(()) => Ok(()),
        // POSIX lets rmdir say EEXIST for a directory with entries (Linux says ENOTEMPTY).
        Err(Errno::EXIST) => Err(io::Error::from(io::ErrorKind::DirectoryNotEmpty)),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn create_file(dir: &Dir, name: &str) -> io::Result<(File, FileId)> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = openat(dir, name, flags, FILE_MODE)?;
    match exact_file_mode(&fd) {
        Ok(stat) => Ok((File::from(fd), id(&stat))),
        Err(e) => {
            // Nothing is left behind: the name holds the file O_EXCL just made.
            let _ = unlinkat(dir, name, AtFlags::empty());
            Err(e)
        }
    }
}

/// Makes a new file's mode exactly `0600` and returns its status. Only a umask taking owner
/// bits (`0277`) changes the mode, so the `fchmod` is paid only then.
fn exact_file_mode(fd: &OwnedFd) -> io::Result<Stat> {
    let stat = fstat(fd)?;
    if mode_bits(stat.st_mode) != FILE_MODE.bits() {
        fchmod(fd, FILE_MODE)?;
    }
    Ok(stat)
}

pub(crate) fn open_file(dir: &Dir, name: &str) -> io::Result<(File, FileId)> {
    // O_NOCTTY: a device planted at the name must not become our terminal.
    let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = openat(dir, name, flags, Mode::empty())?;
    let stat = fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(refused("not a regular file"));
    }
    Ok((File::from(fd), id(&stat)))
}

pub(crate) fn remove_file(dir: &Dir, name: &str) -> io::Result<()> {
    Ok(unlinkat(dir, name, AtFlags::empty())?)
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
        Some(name) => utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)?,
        None => futimens(dir.as_fd(), &times)?,
    }
    Ok(())
}

/// The permission bits of `st_mode`, set-id and sticky bits included.
// `st_mode` is 16 bits wide on some Unixes; so are or differ `st_dev` and `st_nlink` below.
#[allow(clippy::unnecessary_cast)]
fn mode_bits(st_mode: rustix::fs::RawMode) -> u32 {
    st_mode as u32 & 0o7777
}

#[allow(clippy::unnecessary_cast)]
fn id(stat: &Stat) -> FileId {
    FileId {
        dev: stat.st_dev as u64,
        ino: stat.st_ino as u64,
    }
}

#[allow(clippy::unnecessary_cast)]
fn meta(stat: &Stat) -> Meta {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Other,
    };
    Meta {
        id: id(stat),
        kind,
        nlink: stat.st_nlink as u64,
    }
}
