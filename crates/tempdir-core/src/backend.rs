//! The narrow trait a filesystem implements to host temporary directories.

use std::ffi::OsString;
use std::io::{self, Read, Seek, Write};

use camino::{Utf8Path, Utf8PathBuf};

use crate::Error;

/// The identity of a filesystem object: `(st_dev, st_ino)` on POSIX.
///
/// The core compares identities only of its own directory, whose inode the open handle
/// keeps alive: while a descriptor refers to it, its number cannot be given to anything
/// else, so `(dev, ino)` alone is sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device (`st_dev`).
    pub dev: u64,
    /// The inode number (`st_ino`).
    pub ino: u64,
}

/// What kind of object an entry is, as seen without following symlinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else: a socket, a FIFO, a device node.
    Other,
}

/// What the core needs to know about an entry (`fstat`, `fstatat` without following).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Which object it is.
    pub id: FileId,
    /// What kind of object it is.
    pub kind: FileKind,
    /// Its link count: 0 for a directory that was removed while a handle kept it open.
    pub nlink: u64,
    /// The owner's uid (`st_uid`); `None` where the platform has no owners (WASI).
    pub uid: Option<u32>,
    /// The permission bits with set-id and sticky bits (`st_mode & 0o7777`); `None` where
    /// the platform has no permission bits (WASI).
    pub mode: Option<u32>,
}

/// The primitive operations of a directory capability: a thin adapter over the kernel.
///
/// A backend holds a handle to a *root* directory (the system temp dir, a WASI preopen, a
/// directory in an in-memory filesystem) and, through it, makes and opens the one directory
/// a [`TemporaryDirectory`](crate::TemporaryDirectory) owns. Every name passed to a backend
/// is a single, already validated path component, and every operation is relative to a
/// handle: the root's, or a [`Dir`](Backend::Dir) from [`open_dir`](Backend::open_dir).
/// **No operation follows a symlink**, except where a method says otherwise.
///
/// A backend decides nothing: names, modes and every check come from the core, and a
/// backend reports what the kernel says, as an [`io::Error`] whose kind is the one std
/// gives for the errno ([`io::ErrorKind::Unsupported`] for an operation the platform
/// lacks).
pub trait Backend: Send + Sync {
    /// An open file.
    type File: Read + Write + Seek + Send + Sync + std::fmt::Debug;
    /// An open handle to a directory inside the root.
    type Dir: Send + Sync;

    /// The absolute path of the root directory, for messages and for
    /// [`TemporaryDirectory::dir`](crate::TemporaryDirectory::dir).
    fn root(&self) -> &Utf8Path;

    /// A seed for the names of one instance, where runs must replay (an in-memory
    /// filesystem); `None`, the default, takes the operating system's randomness.
    fn seed(&self) -> Option<u64> {
        None
    }

    /// The effective uid this backend acts as; `None` where the platform has no owners.
    fn euid(&self) -> Option<u32>;

    /// The root's own metadata, through its handle (`fstat`).
    fn root_meta(&self) -> io::Result<Meta>;

    /// What `name` in the root is now, without following symlinks (`fstatat` with
    /// `AT_SYMLINK_NOFOLLOW`); `None` if nothing is there.
    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>>;

    /// Makes the directory `name` in the root with `mode` (`mkdirat`: the umask applies,
    /// and anything at the name, a symlink included, is `AlreadyExists`).
    fn make_dir(&self, name: &str, mode: u32) -> io::Result<()>;

    /// Sets the mode of `name` in the root (`fchmodat`, following a symlink: the core calls
    /// it only on the directory it just made, when the umask left the owner unable to open
    /// it).
    fn set_mode_at(&self, name: &str, mode: u32) -> io::Result<()>;

    /// Opens the directory `name` in the root without following a symlink
    /// (`openat(O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)`): a descriptor that can carry a
    /// `flock`.
    fn open_dir(&self, name: &str) -> io::Result<Self::Dir>;

    /// Renames `from` to `to` in the root, failing with `AlreadyExists` rather than
    /// replacing anything at `to` where the platform can (`renameat2(RENAME_NOREPLACE)`).
    fn rename_at(&self, from: &str, to: &str) -> io::Result<()>;

    /// Removes the empty directory `name` from the root (`unlinkat(AT_REMOVEDIR)`), never
    /// recursively: a directory with entries fails with `DirectoryNotEmpty`.
    fn remove_dir(&self, name: &str) -> io::Result<()>;

    /// The directory's own metadata, through its handle (`fstat`).
    fn dir_meta(&self, dir: &Self::Dir) -> io::Result<Meta>;

    /// Sets the directory's mode through its handle (`fchmod`).
    fn set_dir_mode(&self, dir: &Self::Dir, mode: u32) -> io::Result<()>;

    /// Takes a shared advisory lock (`flock(LOCK_SH|LOCK_NB)`) on the directory, held until
    /// the handle is dropped: `WouldBlock` while someone holds `LOCK_EX`, `Unsupported`
    /// where the platform has no such lock.
    fn lock_shared(&self, dir: &Self::Dir) -> io::Result<()>;

    /// Creates the file `name` in `dir` with `mode` and opens it read-write
    /// (`openat(O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode)`: the umask applies, and
    /// anything at the name, a symlink included, is `AlreadyExists`).
    fn create_file(&self, dir: &Self::Dir, name: &str, mode: u32) -> io::Result<Self::File>;

    /// Sets an open file's mode (`fchmod`).
    fn set_file_mode(&self, file: &Self::File, mode: u32) -> io::Result<()>;

    /// Opens the existing entry `name` in `dir` read-write without following a symlink
    /// (`ELOOP`-like refusal where one is found) and without blocking (a FIFO opens at
    /// once), and says what kind of object it opened. The core refuses anything but a
    /// regular file.
    fn open_file(&self, dir: &Self::Dir, name: &str) -> io::Result<(Self::File, FileKind)>;

    /// What `name` in `dir` is now, without following symlinks (`fstatat` with
    /// `AT_SYMLINK_NOFOLLOW`); `None` if nothing is there. The core calls it only to say
    /// why an operation failed, never on a hot path.
    fn entry(&self, dir: &Self::Dir, name: &str) -> io::Result<Option<Meta>>;

    /// Unlinks the entry `name` in `dir` (`unlinkat(dirfd, name, 0)`): a symlink itself,
    /// never its target; a directory refuses.
    fn remove_file(&self, dir: &Self::Dir, name: &str) -> io::Result<()>;

    /// Sets the access and modification times of `name` in `dir` (of `dir` itself for
    /// `None`) to now, without following symlinks.
    fn touch(&self, dir: &Self::Dir, name: Option<&str>) -> io::Result<()>;

    /// The names of the entries in `dir`, without `.` and `..`.
    fn list(&self, dir: &Self::Dir) -> io::Result<Vec<OsString>>;

    // The primitives below came after the ones above: each has a default body saying
    // `Unsupported`, so that a backend written before them still builds. The core falls
    // back where it can (unnamed files) and says so where it cannot.

    /// Creates a file in `dir` that has no name (`openat(dirfd, ".",
    /// O_TMPFILE|O_RDWR|O_CLOEXEC, mode)`: the umask applies), open read-write. It is gone
    /// once closed, and nothing ever sees it in the directory. `Unsupported` where the
    /// kernel or the filesystem has no such call: the core then creates a fresh name and
    /// unlinks it at once.
    fn create_unnamed(&self, dir: &Self::Dir, mode: u32) -> io::Result<Self::File> {
        let _ = (dir, mode);
        Err(unsupported("unnamed files"))
    }

    /// Whether this backend may open paths outside its root ([`open_dir_ambient`]): true
    /// for one opened by path with ambient authority, false (the default) for one made
    /// from a directory handle it was granted.
    ///
    /// [`open_dir_ambient`]: Backend::open_dir_ambient
    fn ambient_authority(&self) -> bool {
        false
    }

    /// Opens the directory at `path` by path with ambient authority (relative paths from
    /// the current directory), following symlinks as path resolution does: the directory
    /// a caller named as a destination. The core calls it only when
    /// [`ambient_authority`](Backend::ambient_authority) says so.
    fn open_dir_ambient(&self, path: &Utf8Path) -> io::Result<Self::Dir> {
        let _ = path;
        Err(unsupported("opening directories by path"))
    }

    /// Opens the directory at the relative `path` beneath the root handle (empty for the
    /// root itself): resolution never leaves the root, through `..` or a symlink. For a
    /// backend without ambient authority, the only way to name a destination.
    fn open_dir_beneath(&self, path: &Utf8Path) -> io::Result<Self::Dir> {
        let _ = path;
        Err(unsupported("opening directories beneath the root"))
    }

    /// Renames `name` in `dir` to `to` in `to_dir` (`renameat`), without following a
    /// symlink at either name. With `replace` false, anything at `to` makes it fail with
    /// `AlreadyExists` and stay untouched (`renameat2(RENAME_NOREPLACE)`, or whatever the
    /// platform has that is as atomic). Another filesystem is `CrossesDevices`: nothing is
    /// ever copied.
    fn rename_to(
        &self,
        dir: &Self::Dir,
        name: &str,
        to_dir: &Self::Dir,
        to: &str,
        replace: bool,
    ) -> io::Result<()> {
        let _ = (dir, name, to_dir, to, replace);
        Err(unsupported("renaming between directories"))
    }

    /// Opens the directory `name` inside `dir` without following a symlink
    /// (`openat(dirfd, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)`), to empty it
    /// through its own handle.
    fn open_subdir(&self, dir: &Self::Dir, name: &str) -> io::Result<Self::Dir> {
        let _ = (dir, name);
        Err(unsupported("opening subdirectories"))
    }

    /// Removes the empty directory `name` from `dir` (`unlinkat(dirfd, name,
    /// AT_REMOVEDIR)`), never recursively: one with entries is `DirectoryNotEmpty`.
    fn remove_subdir(&self, dir: &Self::Dir, name: &str) -> io::Result<()> {
        let _ = (dir, name);
        Err(unsupported("removing subdirectories"))
    }
}

fn unsupported(what: &'static str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this backend does not implement {what}"),
    )
}

/// A backend that can open a root directory by path, using ambient authority.
///
/// It is what gives `TemporaryDirectory::<B>::new()` and `new_in(root)` to a backend
/// crate (an inherent impl on a foreign type is not possible).
pub trait OpenRoot: Backend + Sized {
    /// Opens `root` as the directory to make temporary directories in.
    fn open_root(root: &Utf8Path) -> Result<Self, Error>;

    /// The system's temporary directory (`std::env::temp_dir()`, which honours `TMPDIR`).
    fn default_root() -> Result<Utf8PathBuf, Error>;
}
