//! The primitives on WASI (`wasm32-wasip1`): cap-std calls alone.
//!
//! Same shape as `unix.rs`. WASI has no modes, no `flock`, no `exec`; cap-std's public
//! API has no "open without following", so an open is checked afterwards: the name, looked
//! at without following, must be the very object opened (WASI keeps any symlink inside
//! the preopen, so a followed one cannot reach outside it meanwhile).

use std::fs::{File, FileTimes};
use std::io;
use std::time::SystemTime;

use cap_std::fs::{Dir, Metadata, MetadataExt, OpenOptions};
use tempdir_core::{FileId, FileKind, Listed, Meta};

use crate::{found, refused};

pub(crate) fn make_dir(root: &Dir, name: &str) -> io::Result<(Dir, FileId)> {
    root.create_dir(name)?;
    open_made_dir(root, name).inspect_err(|_| {
        // Nothing is left behind. Only an empty directory can go: ours, just made.
        let _ = root.remove_dir(name);
    })
}

fn open_made_dir(root: &Dir, name: &str) -> io::Result<(Dir, FileId)> {
    let dir = root.open_dir(name)?;
    let id = id(&dir.dir_metadata()?);
    check_not_followed(root, name, id)?;
    Ok((dir, id))
}

/// WASI's `fd_readdir` gives inode numbers, but nothing says whether the host's
/// filesystem hands freed ones out again: cleanup looks at each name.
pub(crate) fn listing_identifies(_dir: &Dir) -> bool {
    false
}

pub(crate) fn scan(_dir: &Dir, _visit: &mut dyn FnMut(&str, Listed)) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

pub(crate) fn lock_shared(_dir: &Dir) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "WASI has no advisory locks",
    ))
}

pub(crate) fn dir_meta(dir: &Dir) -> io::Result<Meta> {
    Ok(meta(&dir.dir_metadata()?))
}

pub(crate) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Meta>> {
    found(dir.symlink_metadata(name)).map(|m| m.as_ref().map(meta))
}

/// WASI's `ENOTEMPTY`, which std does not map to an [`io::ErrorKind`].
const ERRNO_NOTEMPTY: i32 = 55;

pub(crate) fn remove_dir(root: &Dir, name: &str) -> io::Result<()> {
    match root.remove_dir(name) {
        Err(e) if e.raw_os_error() == Some(ERRNO_NOTEMPTY) => {
            Err(io::Error::new(io::ErrorKind::DirectoryNotEmpty, e))
        }
        other => other,
    }
}

pub(crate) fn create_file(dir: &Dir, name: &str) -> io::Result<(File, FileId)> {
    // O_CREAT|O_EXCL: a symlink at the name is `AlreadyExists`, never followed.
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    let file = dir.open_with(name, &options)?;
    match file.metadata() {
        Ok(m) => Ok((file.into_std(), id(&m))),
        Err(e) => {
            drop(file);
            let _ = dir.remove_file(name);
            Err(e)
        }
    }
}

pub(crate) fn open_file(dir: &Dir, name: &str) -> io::Result<(File, FileId)> {
    let before = refuse_symlink(dir, name)?;
    if !before.is_file() {
        return Err(refused("not a regular file"));
    }
    // cap-std opens an existing file without write rights under wasmtime unless O_CREAT is
    // given (writes then fail with EBADF). O_CREAT cannot create anything here but in a
    // race with the check above; the identity checks refuse whatever that race produced.
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    let file = dir.open_with(name, &options)?;
    let opened = id(&file.metadata()?);
    if opened != id(&before) {
        return Err(refused("swapped while being opened"));
    }
    check_not_followed(dir, name, opened)?;
    Ok((file.into_std(), opened))
}

pub(crate) fn remove_file(dir: &Dir, name: &str) -> io::Result<()> {
    dir.remove_file(name)
}

/// Through a descriptor: cap-std has no `utimensat`. A symlink at `name` is refused (Unix
/// would set the link's own times, which WASI cannot).
pub(crate) fn touch(dir: &Dir, name: Option<&str>) -> io::Result<()> {
    let now = SystemTime::now();
    let times = FileTimes::new().set_accessed(now).set_modified(now);
    let target = match name {
        None => dir.open_dir(".")?.into_std_file(),
        Some(name) => {
            let before = refuse_symlink(dir, name)?;
            let (file, opened) = if before.is_dir() {
                let sub = dir.open_dir(name)?;
                let opened = id(&sub.dir_metadata()?);
                (sub.into_std_file(), opened)
            } else {
                let file = dir.open(name)?;
                let opened = id(&file.metadata()?);
                (file.into_std(), opened)
            };
            check_not_followed(dir, name, opened)?;
            file
        }
    };
    target.set_times(times)
}

/// Fails when `name` is a symlink; otherwise what it is.
fn refuse_symlink(dir: &Dir, name: &str) -> io::Result<Metadata> {
    let m = dir.symlink_metadata(name)?;
    if m.file_type().is_symlink() {
        return Err(refused("a symlink: not followed"));
    }
    Ok(m)
}

/// Fails unless `name`, not followed, is the object with identity `opened`.
fn check_not_followed(dir: &Dir, name: &str, opened: FileId) -> io::Result<()> {
    let at_name = dir.symlink_metadata(name)?;
    if at_name.file_type().is_symlink() || id(&at_name) != opened {
        return Err(refused("a symlink or a swapped entry: not followed"));
    }
    Ok(())
}

/// WASI's `filestat` has no birth time: identity rests on `(dev, ino)`.
fn id(m: &Metadata) -> FileId {
    FileId {
        dev: m.dev(),
        ino: m.ino(),
        birth: 0,
    }
}

fn meta(m: &Metadata) -> Meta {
    let file_type = m.file_type();
    let kind = if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_dir() {
        FileKind::Dir
    } else if file_type.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    Meta {
        id: id(m),
        kind,
        nlink: m.nlink(),
    }
}
