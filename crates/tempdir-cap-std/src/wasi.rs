//! The primitives on WASI (`wasm32-wasip1`): cap-std calls alone.
//!
//! Same shape as `unix.rs`. WASI has no modes, no owners, no `flock`, no `exec`; cap-std's
//! public API has no "open without following", so an open is checked afterwards: the name,
//! looked at without following, must be the very object opened (WASI keeps any symlink
//! inside the preopen, so a followed one cannot reach outside it meanwhile).

use std::ffi::OsString;
use std::fs::{File, FileTimes};
use std::io;
use std::time::SystemTime;

use cap_std::fs::{Dir, Metadata, MetadataExt, OpenOptions};
use tempdir_core::{FileId, FileKind, Meta};

pub(crate) fn euid() -> Option<u32> {
    None
}

pub(crate) fn dir_meta(dir: &Dir) -> io::Result<Meta> {
    Ok(meta(&dir.dir_metadata()?))
}

pub(crate) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Meta>> {
    found(dir.symlink_metadata(name)).map(|m| m.as_ref().map(meta))
}

/// The mode is ignored: WASI has no permission bits, the host decides.
pub(crate) fn make_dir(root: &Dir, name: &str, _mode: u32) -> io::Result<()> {
    root.create_dir(name)
}

pub(crate) fn set_mode_at(_root: &Dir, _name: &str, _mode: u32) -> io::Result<()> {
    Err(no_modes())
}

pub(crate) fn open_dir(root: &Dir, name: &str) -> io::Result<Dir> {
    let dir = root.open_dir(name)?;
    check_not_followed(root, name, id(&dir.dir_metadata()?))?;
    Ok(dir)
}

/// cap-std's rename replaces whatever is at `to`, and WASI has no flag against it: `to` is
/// looked at first. Something made at `to` between the look and the rename is replaced;
/// only someone holding the same preopen can do that.
pub(crate) fn rename_at(root: &Dir, from: &str, to: &str) -> io::Result<()> {
    if found(root.symlink_metadata(to))?.is_some() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    root.rename(from, root, to)
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

/// Setting a mode through a handle: there are no modes to set.
pub(crate) fn set_mode<T>(_handle: T, _mode: u32) -> io::Result<()> {
    Err(no_modes())
}

pub(crate) fn lock_shared(_dir: &Dir) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "WASI has no advisory locks",
    ))
}

/// The mode is ignored, as in [`make_dir`].
pub(crate) fn create_file(dir: &Dir, name: &str, _mode: u32) -> io::Result<File> {
    // O_CREAT|O_EXCL: a symlink at the name is `AlreadyExists`, never followed.
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    Ok(dir.open_with(name, &options)?.into_std())
}

pub(crate) fn open_file(dir: &Dir, name: &str) -> io::Result<(File, FileKind)> {
    let before = refuse_symlink(dir, name)?;
    if before.is_dir() {
        // What `openat(O_RDWR)` of a directory says on Unix.
        return Err(io::ErrorKind::IsADirectory.into());
    }
    if !before.is_file() {
        // Not opened: cap-std cannot ask for O_NONBLOCK, and a FIFO's open would block.
        return Err(refused("not a regular file"));
    }
    // cap-std opens an existing file without write rights under wasmtime unless O_CREAT is
    // given (writes then fail with EBADF). O_CREAT cannot create anything here but in a
    // race with the check above; the identity checks refuse whatever that race produced.
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    let file = dir.open_with(name, &options)?;
    let opened = file.metadata()?;
    if id(&opened) != id(&before) {
        return Err(refused("swapped while being opened"));
    }
    check_not_followed(dir, name, id(&opened))?;
    Ok((file.into_std(), kind(&opened)))
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

pub(crate) fn list(dir: &Dir) -> io::Result<Vec<OsString>> {
    dir.entries()?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect()
}

/// `Ok(None)` for a name with nothing there.
fn found<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn no_modes() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "WASI has no permission bits")
}

/// The error for an entry that must not be opened: a symlink (`ELOOP`, as `O_NOFOLLOW`
/// reports it on Unix) or something else than a regular file.
fn refused(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
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

fn id(m: &Metadata) -> FileId {
    FileId {
        dev: m.dev(),
        ino: m.ino(),
    }
}

fn kind(m: &Metadata) -> FileKind {
    let file_type = m.file_type();
    if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_dir() {
        FileKind::Dir
    } else if file_type.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}

/// WASI's `filestat` has no owner and no permission bits.
fn meta(m: &Metadata) -> Meta {
    Meta {
        id: id(m),
        kind: kind(m),
        nlink: m.nlink(),
        uid: None,
        mode: None,
    }
}
