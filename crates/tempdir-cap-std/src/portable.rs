//! The primitives through cap-std alone, on WASI (`wasm32-wasip1`) and on Windows.
//!
//! Same shape as `unix.rs`. Neither platform has POSIX modes, owners or a `flock` on a
//! directory; cap-std's public API has no "open without following", so an open is checked
//! afterwards: the name, looked at without following, must be the very object opened.
//! cap-std keeps any symlink it follows inside the directory it resolves from (WASI does
//! too), so a followed one cannot reach outside meanwhile. The few differences between the
//! two platforms are marked with `cfg`.

use std::ffi::OsString;
use std::fs::{File, FileTimes};
use std::io;
use std::time::SystemTime;

#[cfg(windows)]
use cap_primitives::fs::_WindowsByHandle;
#[cfg(target_os = "wasi")]
use cap_std::fs::MetadataExt;
use cap_std::fs::{Dir, Metadata, OpenOptions};
use tempdir_core::{FileId, FileKind, Meta};

/// The platform's name, for the messages of what it lacks.
#[cfg(target_os = "wasi")]
const PLATFORM: &str = "WASI";
#[cfg(windows)]
const PLATFORM: &str = "Windows";

pub(crate) fn euid() -> Option<u32> {
    None
}

pub(crate) fn dir_meta(dir: &Dir) -> io::Result<Meta> {
    Ok(meta(&dir.dir_metadata()?))
}

pub(crate) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Meta>> {
    found(dir.symlink_metadata(name)).map(|m| m.as_ref().map(meta))
}

/// The mode is ignored: WASI has no permission bits (the host decides), and a directory
/// made on Windows inherits the ACL of the root.
pub(crate) fn make_dir(root: &Dir, name: &str, _mode: u32) -> io::Result<()> {
    root.create_dir(name)
}

pub(crate) fn set_mode_at(_root: &Dir, _name: &str, _mode: u32) -> io::Result<()> {
    Err(no_modes())
}

pub(crate) fn open_dir(root: &Dir, name: &str) -> io::Result<Dir> {
    let dir = open_dir_handle(root, name)?;
    check_not_followed(root, name, id(&dir.dir_metadata()?))?;
    Ok(dir)
}

#[cfg(target_os = "wasi")]
fn open_dir_handle(root: &Dir, name: &str) -> io::Result<Dir> {
    root.open_dir(name)
}

/// cap-std opens a directory without `FILE_SHARE_DELETE`, so that nobody can rename or
/// remove it while the handle lives. The core renames its directory aside and removes it
/// while holding the handle, so this handle shares deletion; what cap-std then does by the
/// handle's current path could be redirected by someone renaming and replacing the
/// directory meanwhile, which needs write access to the root (its ACL).
#[cfg(windows)]
fn open_dir_handle(root: &Dir, name: &str) -> io::Result<Dir> {
    into_dir(root.open_with(name, &shared_dir_options())?)
}

/// The root, by path with ambient authority, sharing deletion as [`open_dir_handle`] does:
/// cap-std's own open would keep anyone from removing or renaming the root while an
/// instance lives, which Unix allows and the core notices.
#[cfg(windows)]
pub(crate) fn open_ambient_dir(path: &camino::Utf8Path) -> io::Result<Dir> {
    let options = shared_dir_options();
    into_dir(cap_std::fs::File::open_ambient_with(
        path,
        &options,
        cap_std::ambient_authority(),
    )?)
}

/// Reading a directory, sharing everything with everyone.
#[cfg(windows)]
fn shared_dir_options() -> OpenOptions {
    use cap_std::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options
        .read(true)
        .share_mode(FILE_SHARE_ALL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS);
    options
}

/// The opened handle as a directory, if it is one.
#[cfg(windows)]
fn into_dir(file: cap_std::fs::File) -> io::Result<Dir> {
    if !file.metadata()?.is_dir() {
        return Err(io::ErrorKind::NotADirectory.into());
    }
    Ok(Dir::from_std_file(file.into_std()))
}

/// Every sharing: reading, writing, and deleting or renaming.
#[cfg(windows)]
const FILE_SHARE_ALL: u32 = 0x1 | 0x2 | 0x4;

/// Opens directories: `CreateFileW` refuses them without it.
#[cfg(windows)]
const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;

/// cap-std's rename replaces whatever is at `to`, and neither WASI nor cap-std on Windows
/// has a flag against it: `to` is looked at first. Something made at `to` between the look
/// and the rename is replaced (on Windows only a file: a directory is never replaced); only
/// someone who may write in the root (the same preopen, on Windows the root's ACL) can.
pub(crate) fn rename_at(root: &Dir, from: &str, to: &str) -> io::Result<()> {
    if found(root.symlink_metadata(to))?.is_some() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    root.rename(from, root, to)
}

/// Between directories: cap-std's rename, which replaces; without replacing, a hard link
/// (refused for a taken name, atomically) then the unlink of the old name.
pub(crate) fn rename_to(
    from: &Dir,
    name: &str,
    to_dir: &Dir,
    to: &str,
    replace: bool,
) -> io::Result<()> {
    if replace {
        return from.rename(name, to_dir, to).map_err(|e| {
            // Windows refuses a file renamed over a directory as ERROR_ACCESS_DENIED: said
            // the way Unix says it.
            let onto_dir = cfg!(windows)
                && e.kind() == io::ErrorKind::PermissionDenied
                && to_dir.symlink_metadata(to).is_ok_and(|m| m.is_dir());
            if onto_dir {
                io::ErrorKind::IsADirectory.into()
            } else {
                e
            }
        });
    }
    from.hard_link(name, to_dir, to)?;
    match from.remove_file(name) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// No `O_TMPFILE` in WASI; on Windows a delete-on-close file still has a name, which
/// cap-std cannot ask for anyway. The core makes a name and unlinks it at once.
pub(crate) fn create_unnamed(_dir: &Dir, _mode: u32) -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{PLATFORM} has no O_TMPFILE"),
    ))
}

/// WASI's `ENOTEMPTY`, which std does not map to an [`io::ErrorKind`].
#[cfg(target_os = "wasi")]
const ERRNO_NOTEMPTY: i32 = 55;

#[cfg(target_os = "wasi")]
pub(crate) fn remove_dir(root: &Dir, name: &str) -> io::Result<()> {
    match root.remove_dir(name) {
        Err(e) if e.raw_os_error() == Some(ERRNO_NOTEMPTY) => {
            Err(io::Error::new(io::ErrorKind::DirectoryNotEmpty, e))
        }
        other => other,
    }
}

/// std maps Windows' `ERROR_DIR_NOT_EMPTY` to `DirectoryNotEmpty` already.
#[cfg(windows)]
pub(crate) fn remove_dir(root: &Dir, name: &str) -> io::Result<()> {
    root.remove_dir(name)
}

/// Setting a mode through a handle: there are no modes to set.
pub(crate) fn set_mode<T>(_handle: T, _mode: u32) -> io::Result<()> {
    Err(no_modes())
}

/// Windows locks byte ranges of files, not directories; WASI has no locks at all.
pub(crate) fn lock_shared(_dir: &Dir) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{PLATFORM} has no advisory locks on directories"),
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
    // On WASI cap-std opens an existing file without write rights under wasmtime unless
    // O_CREAT is given (writes then fail with EBADF). O_CREAT cannot create anything here
    // but in a race with the check above; the identity checks refuse whatever that race
    // produced. Windows needs no such thing.
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(cfg!(target_os = "wasi"));
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
/// would set the link's own times, which cap-std cannot).
pub(crate) fn touch(dir: &Dir, name: Option<&str>) -> io::Result<()> {
    let now = SystemTime::now();
    let times = FileTimes::new().set_accessed(now).set_modified(now);
    let target = match name {
        None => open_for_times(dir, ".", true)?,
        Some(name) => {
            let before = refuse_symlink(dir, name)?;
            let file = open_for_times(dir, name, before.is_dir())?;
            check_not_followed(dir, name, id(&Metadata::from_file(&file)?))?;
            file
        }
    };
    target.set_times(times)
}

/// Opens `name` so that its times can be set: WASI asks for no right to do so.
#[cfg(target_os = "wasi")]
fn open_for_times(dir: &Dir, name: &str, is_dir: bool) -> io::Result<File> {
    Ok(if is_dir {
        dir.open_dir(name)?.into_std_file()
    } else {
        dir.open(name)?.into_std()
    })
}

/// Opens `name` so that its times can be set: Windows asks for `FILE_WRITE_ATTRIBUTES`,
/// which neither a read-only open nor cap-std's directory handles have, and opens a
/// directory only with `FILE_FLAG_BACKUP_SEMANTICS`.
#[cfg(windows)]
fn open_for_times(dir: &Dir, name: &str, is_dir: bool) -> io::Result<File> {
    use cap_std::fs::OpenOptionsExt;
    const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
    let mut options = OpenOptions::new();
    options.access_mode(FILE_WRITE_ATTRIBUTES);
    if is_dir {
        options.custom_flags(FILE_FLAG_BACKUP_SEMANTICS);
    }
    Ok(dir.open_with(name, &options)?.into_std())
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
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{PLATFORM} has no permission bits"),
    )
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

#[cfg(target_os = "wasi")]
fn id(m: &Metadata) -> FileId {
    FileId {
        dev: m.dev(),
        ino: m.ino(),
    }
}

/// The volume serial number and the file index, which cap-std reads through a handle for
/// every metadata it gives (std keeps them unstable). On ReFS the 64-bit index may not be
/// unique; NTFS's is.
#[cfg(windows)]
fn id(m: &Metadata) -> FileId {
    FileId {
        dev: m.volume_serial_number().map_or(0, u64::from),
        ino: m.file_index().unwrap_or(0),
    }
}

#[cfg(target_os = "wasi")]
fn nlink(m: &Metadata) -> u64 {
    m.nlink()
}

#[cfg(windows)]
fn nlink(m: &Metadata) -> u64 {
    m.number_of_links().map_or(1, u64::from)
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

/// Neither WASI's `filestat` nor Windows' file information has a POSIX owner or
/// permission bits (Windows has ACLs, which the core does not read).
fn meta(m: &Metadata) -> Meta {
    Meta {
        id: id(m),
        kind: kind(m),
        nlink: nlink(m),
        uid: None,
        mode: None,
    }
}
