//! The one error type of the library.

use std::io;

use camino::Utf8PathBuf;

/// The filesystem operation that failed, carried by [`Error::Io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Opening the root directory the temporary directory is made in.
    OpenRoot,
    /// Making the temporary directory itself.
    CreateDir,
    /// Creating a file inside the temporary directory.
    CreateFile,
    /// Opening an existing file inside the temporary directory.
    OpenFile,
    /// Looking up an entry (`fstatat` without following symlinks).
    Stat,
    /// Unlinking a file inside the temporary directory.
    RemoveFile,
    /// Removing the temporary directory from its root.
    RemoveDir,
    /// Listing the entries of the temporary directory.
    ReadDir,
    /// Taking the shared `flock` on the directory.
    Lock,
    /// Setting the mode of the directory or of a file.
    SetMode,
    /// Renaming the directory in its root, just before it is removed.
    Rename,
    /// Refreshing access and modification times ([`keep_alive`]).
    ///
    /// [`keep_alive`]: crate::TemporaryDirectory::keep_alive
    SetTimes,
    /// Opening a directory inside the temporary directory (removing untracked entries).
    OpenDir,
    /// Moving a file out of the temporary directory ([`persist`]): opening the
    /// destination's directory, or the rename itself.
    ///
    /// [`persist`]: crate::NamedTempFile::persist
    Persist,
}

impl Op {
    /// A short lowercase description, as used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::OpenRoot => "open root",
            Op::CreateDir => "create directory",
            Op::CreateFile => "create file",
            Op::OpenFile => "open file",
            Op::Stat => "stat",
            Op::RemoveFile => "remove file",
            Op::RemoveDir => "remove directory",
            Op::ReadDir => "read directory",
            Op::Lock => "lock directory",
            Op::SetMode => "set the mode of",
            Op::Rename => "rename",
            Op::SetTimes => "set times",
            Op::OpenDir => "open directory",
            Op::Persist => "persist",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What makes a root unsafe, carried by [`Error::UnsafeRoot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RootProblem {
    /// Owned by another uid than ours and root's: its owner can rename or remove anything
    /// in it.
    #[error("owned by uid {owner}, neither us nor root")]
    NotOwned {
        /// The root's owner.
        owner: u32,
    },
    /// Writable by group or others without the sticky bit: they can rename or remove what
    /// we make there.
    #[error("writable by others (mode {mode:o}) without the sticky bit")]
    WritableNotSticky {
        /// The root's permission bits.
        mode: u32,
    },
}

/// Everything that can go wrong, for every backend.
///
/// Match on the variant (or on [`Error::io_kind`]) rather than on the message text: the
/// text is for people and may change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation failed.
    #[error("cannot {op} {path}")]
    Io {
        /// What was being done.
        op: Op,
        /// The absolute path it was being done to.
        path: Utf8PathBuf,
        /// What the operating system (or the in-memory filesystem) said.
        #[source]
        source: io::Error,
    },
    /// A name (or a prefix or suffix) that can never name a file here: empty, `.`, a NUL
    /// byte, longer than `NAME_MAX`.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A path that does not name an entry directly inside this temporary directory: another
    /// directory, `..`, several components.
    #[error("{path} is not inside the temporary directory {dir}")]
    OutsideDirectory {
        /// The path as given.
        path: Utf8PathBuf,
        /// This instance's directory.
        dir: Utf8PathBuf,
    },
    /// [`create`](crate::TemporaryDirectory::create) found the name taken; nothing was
    /// opened.
    #[error("{path} already exists")]
    AlreadyExists {
        /// The path that exists.
        path: Utf8PathBuf,
    },
    /// Every name tried was taken (someone is planting names, or the randomness is broken).
    #[error("no free name in {dir} after {attempts} attempts")]
    TooManyCollisions {
        /// Where the names were tried.
        dir: Utf8PathBuf,
        /// How many were tried.
        attempts: u32,
    },
    /// The root is not safe to make a private directory in: someone other than us and root
    /// owns it, or others may write to it and it is not sticky, so they could rename or
    /// remove what we make there. [`Builder::allow_unsafe_root`] builds anyway.
    ///
    /// [`Builder::allow_unsafe_root`]: crate::Builder::allow_unsafe_root
    #[error("unsafe root {path}: {problem}")]
    UnsafeRoot {
        /// The root.
        path: Utf8PathBuf,
        /// What makes it unsafe.
        problem: RootProblem,
    },
    /// The instance was cleaned up; it hands out no more names.
    #[error("the temporary directory was cleaned up")]
    CleanedUp,
    /// The directory was removed behind our back (a tmp reaper, most likely).
    #[error("the temporary directory {path} was removed (reaped)")]
    Reaped {
        /// Where the directory was.
        path: Utf8PathBuf,
    },
    /// The directory's path now leads to something that is not our directory.
    #[error("the temporary directory {path} was replaced by another entry")]
    Replaced {
        /// The path that no longer leads to our directory.
        path: Utf8PathBuf,
    },
    /// [`open`](crate::TemporaryDirectory::open) found a tracked name holding something
    /// other than a regular file (a symlink, a FIFO, a device, a directory); it was not
    /// opened (a FIFO or device is opened without blocking to be told apart, then closed).
    #[error("{path} no longer holds a regular file")]
    Swapped {
        /// The path of the swapped entry.
        path: Utf8PathBuf,
    },
    /// A file this instance created is gone from its name: removed behind the instance's
    /// back (a tmp reaper deletes files in use, open or not). Its data is lost unless the
    /// caller still holds it open.
    #[error("{path} was created by this instance and is gone")]
    Vanished {
        /// The path of the vanished file.
        path: Utf8PathBuf,
    },
    /// [`remove`](crate::TemporaryDirectory::remove) was asked for a name this instance does
    /// not track; it removes only what it tracks.
    #[error("{path} is not tracked by this temporary directory")]
    NotTracked {
        /// The path as resolved inside the directory.
        path: Utf8PathBuf,
    },
    /// A path that must be UTF-8 (such as `TMPDIR`) is not.
    #[error("path {path:?} is not valid UTF-8")]
    NonUtf8Path {
        /// The path as the operating system gave it.
        path: std::path::PathBuf,
    },
    /// A process-wide setting was changed after it had already been used.
    #[error("{what} can no longer be changed: it is already in use")]
    AlreadyInitialized {
        /// The setting.
        what: &'static str,
    },
    /// [`persist`](crate::NamedTempFile::persist) was asked to move a file to another
    /// filesystem. A rename cannot do that, and the file is never copied instead: copy it
    /// yourself, or make the temporary file on the destination's filesystem
    /// (`NamedTempFile::new_in`).
    #[error("cannot move {path} to {dest}: another filesystem")]
    CrossesDevices {
        /// The temporary file.
        path: Utf8PathBuf,
        /// The destination asked for.
        dest: Utf8PathBuf,
    },
    /// A destination outside the root of a backend that has no ambient authority (one made
    /// from a directory handle): it can name nothing beyond that directory.
    #[error("{path} is outside {root}, the only directory this backend may open")]
    OutsideRoot {
        /// The destination as given.
        path: Utf8PathBuf,
        /// The backend's root.
        root: Utf8PathBuf,
    },
    /// Permission bits that cannot be used: bits beyond `0o7777`, or anything but `0o700`
    /// for the directory, whose privacy every other defence relies on.
    #[error("invalid mode {mode:o}: {reason}")]
    InvalidMode {
        /// The mode as given.
        mode: u32,
        /// Why it is refused.
        reason: &'static str,
    },
}

impl Error {
    /// The [`io::ErrorKind`] behind an [`Error::Io`], `None` for every other variant.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// The operation behind an [`Error::Io`], `None` for every other variant.
    pub fn op(&self) -> Option<Op> {
        match self {
            Error::Io { op, .. } => Some(*op),
            _ => None,
        }
    }

    pub(crate) fn io(op: Op, path: Utf8PathBuf, source: io::Error) -> Self {
        Error::Io { op, path, source }
    }

    /// The [`io::ErrorKind`] this error stands for when it becomes an [`io::Error`]: the
    /// operating system's for [`Error::Io`], else the nearest kind.
    ///
    /// | variant | kind |
    /// |---|---|
    /// | `Io` | the source's |
    /// | `InvalidName`, `OutsideDirectory`, `NotTracked`, `NonUtf8Path`, `InvalidMode` | `InvalidInput` |
    /// | `AlreadyExists`, `TooManyCollisions` | `AlreadyExists` |
    /// | `UnsafeRoot`, `OutsideRoot` | `PermissionDenied` |
    /// | `CleanedUp`, `Reaped`, `Replaced`, `Vanished` | `NotFound` |
    /// | `Swapped`, `AlreadyInitialized` | `Other` |
    /// | `CrossesDevices` | `CrossesDevices` |
    pub fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Error::Io { source, .. } => source.kind(),
            Error::InvalidName { .. }
            | Error::OutsideDirectory { .. }
            | Error::NotTracked { .. }
            | Error::NonUtf8Path { .. }
            | Error::InvalidMode { .. } => K::InvalidInput,
            Error::AlreadyExists { .. } | Error::TooManyCollisions { .. } => K::AlreadyExists,
            Error::UnsafeRoot { .. } | Error::OutsideRoot { .. } => K::PermissionDenied,
            // The directory or the file this instance made is not where it was.
            Error::CleanedUp
            | Error::Reaped { .. }
            | Error::Replaced { .. }
            | Error::Vanished { .. } => K::NotFound,
            Error::CrossesDevices { .. } => K::CrossesDevices,
            Error::Swapped { .. } | Error::AlreadyInitialized { .. } => K::Other,
        }
    }
}

/// So that `?` works in functions returning [`io::Result`]: the kind is
/// [`Error::kind`], and the error itself is kept inside (`get_ref`, `into_inner`), path and
/// all.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        io::Error::new(error.kind(), error)
    }
}
