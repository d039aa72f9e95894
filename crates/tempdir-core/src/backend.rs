//! The narrow trait a filesystem implements to host temporary directories.

use std::io::{self, Read, Seek, Write};

use camino::{Utf8Path, Utf8PathBuf};

use crate::Error;

/// The identity of a filesystem object: `(st_dev, st_ino)` on POSIX, plus its birth time
/// where the filesystem records one.
///
/// Two entries with the same identity are the same object. A freed inode number can be
/// handed to the very next file made (ext4 does), so `(dev, ino)` alone cannot tell a new
/// file from the one it replaced; the birth time can, when the new file was made in a
/// later tick of the filesystem's coarse clock. Within one tick it cannot: on ext4 (Linux
/// 6.18), a file deleted and another made at once at the same name had the same number
/// and the same birth time in 199 of 200 tries. Only our uid (or root) can do that inside
/// our `0700` directory. Where there is no birth time (tmpfs on older kernels, WASI),
/// `birth` is 0 and identity rests on `(dev, ino)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device (`st_dev`).
    pub dev: u64,
    /// The inode number (`st_ino`).
    pub ino: u64,
    /// The birth time (`statx`'s `stx_btime`) in nanoseconds since the Unix epoch, or 0
    /// where the filesystem records none. A backend fills it the same way every time.
    pub birth: u64,
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

/// What [`TemporaryDirectory`](crate::TemporaryDirectory) needs to know about an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Which object it is.
    pub id: FileId,
    /// What kind of object it is.
    pub kind: FileKind,
    /// Its link count: 0 for a directory that was removed while a handle kept it open.
    pub nlink: u64,
}

/// What one read of a directory says of an entry, without a `stat` of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listed {
    /// The inode number (`d_ino`). An entry is on its directory's device unless something
    /// is mounted on it, and then this is the number of what lies underneath.
    pub ino: u64,
    /// The kind (`d_type`); `None` where the filesystem does not say (`DT_UNKNOWN`).
    pub kind: Option<FileKind>,
}

impl Listed {
    /// An entry with inode number `ino`, of kind `kind` (`None`: not said).
    pub fn new(ino: u64, kind: Option<FileKind>) -> Self {
        Listed { ino, kind }
    }
}

/// The primitive operations of a directory capability.
///
/// A backend holds a handle to a *root* directory (the system temp dir, a WASI preopen, a
/// directory in [`MemoryFs`](https://docs.rs/tempdir-memory)) and makes, inside it, the one
/// directory a [`TemporaryDirectory`](crate::TemporaryDirectory) owns. Every name passed
/// to a backend is a single, already validated path component, and every operation is
/// relative to a handle: the root's, or the [`Dir`](Backend::Dir) that
/// [`make_dir`](Backend::make_dir) returned. **No operation follows a symlink.**
///
/// The policy — naming, tracking, identity checks, detection of reaping, cleanup — lives in
/// `TemporaryDirectory`, written once against this trait. A backend reports what the
/// filesystem says, with [`io::ErrorKind::AlreadyExists`] for a taken name and
/// [`io::ErrorKind::NotFound`] for a missing one, and [`io::ErrorKind::Unsupported`] for an
/// operation the platform lacks.
pub trait Backend: Send + Sync {
    /// An open file, as returned by [`create_file`](Backend::create_file).
    type File: Read + Write + Seek + Send + Sync + std::fmt::Debug;
    /// An open handle to the directory made by [`make_dir`](Backend::make_dir).
    type Dir: Send + Sync;

    /// The absolute path of the root directory, for messages and for
    /// [`TemporaryDirectory::dir`](crate::TemporaryDirectory::dir).
    fn root(&self) -> &Utf8Path;

    /// 64 unpredictable bits for names (from the operating system's randomness; from the
    /// seed in a deterministic backend).
    fn random(&self) -> u64;

    /// Makes `name` in the root exclusively (`mkdirat`, failing with `AlreadyExists` if
    /// anything is there, a symlink included), sets its mode to exactly `0700` whatever the
    /// umask, and opens a handle to it without following symlinks. On failure nothing is
    /// left behind.
    fn make_dir(&self, name: &str) -> io::Result<(Self::Dir, FileId)>;

    /// Takes a shared advisory lock (`flock(LOCK_SH)`) on the directory, held until the
    /// handle is dropped, without blocking: `WouldBlock` while someone holds `LOCK_EX`
    /// (the core tries again a few times), `Unsupported` where the platform has no such
    /// lock.
    fn lock_shared(&self, dir: &Self::Dir) -> io::Result<()>;

    /// The directory's own metadata, through its handle (`fstat`).
    fn dir_meta(&self, dir: &Self::Dir) -> io::Result<Meta>;

    /// What `name` in the root is now, without following symlinks; `None` if nothing is
    /// there.
    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>>;

    /// Removes the empty directory `name` from the root (`unlinkat(AT_REMOVEDIR)`), never
    /// recursively: a directory with entries fails with `DirectoryNotEmpty`.
    fn remove_dir(&self, name: &str) -> io::Result<()>;

    /// Creates the file `name` in `dir`: create-new (`O_EXCL`), no symlink following
    /// (`O_NOFOLLOW`), close-on-exec, read-write, mode exactly `0600`. Returns the open file
    /// and its identity.
    fn create_file(&self, dir: &Self::Dir, name: &str) -> io::Result<(Self::File, FileId)>;

    /// Opens the existing file `name` in `dir` read-write, without following a symlink
    /// (`ELOOP` where one is found), and returns it with its identity.
    fn open_file(&self, dir: &Self::Dir, name: &str) -> io::Result<(Self::File, FileId)>;

    /// What `name` in `dir` is now, without following symlinks; `None` if nothing is there.
    fn entry(&self, dir: &Self::Dir, name: &str) -> io::Result<Option<Meta>>;

    /// Unlinks the non-directory entry `name` in `dir` (a symlink itself, never its
    /// target).
    fn remove_file(&self, dir: &Self::Dir, name: &str) -> io::Result<()>;

    /// Sets the access and modification times of `name` in `dir` (of `dir` itself for
    /// `None`) to now, without following symlinks.
    fn touch(&self, dir: &Self::Dir, name: Option<&str>) -> io::Result<()>;

    /// The names of the entries in `dir`, without `.` and `..`.
    fn list(&self, dir: &Self::Dir) -> io::Result<Vec<String>>;

    /// Reads `dir` once and hands each entry but `.` and `..` to `visit`, with what the
    /// listing says of it (`getdents`): cleanup's way of checking every tracked name
    /// without a `stat` each. Names that are not UTF-8 may be skipped; none is tracked.
    ///
    /// Returns `Ok(false)`, having visited nothing, where a listing cannot decide what
    /// [`entry`](Backend::entry) would: where this backend lists no inode numbers, or
    /// where the filesystem gives a freed inode number to the next file made (ext4, xfs),
    /// which only [`FileId::birth`] tells apart. Cleanup then looks at each name with
    /// `entry`. That is what this default does.
    fn scan(&self, dir: &Self::Dir, visit: &mut dyn FnMut(&str, Listed)) -> io::Result<bool> {
        let _ = (dir, visit);
        Ok(false)
    }
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
