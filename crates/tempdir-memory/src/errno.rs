//! Linux error numbers, and the `io::Error`s std makes of them.

use std::fmt;
use std::io;

/// A Linux `errno` value that the in-memory filesystem reports or that a [`Fault`] injects.
///
/// The numbers are Linux's on every target, so a trace or a test reads the same
/// everywhere. On Linux the `io::Error` made from one is exactly what std makes of the same
/// failure of a real system call (`raw_os_error()` is the number, `kind()` std's mapping);
/// elsewhere it carries the same [`io::ErrorKind`] and the `Errno` itself as its payload,
/// which [`Errno::of`] recovers on every target.
///
/// [`Fault`]: crate::Fault
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// Operation not permitted (1): the sticky bit, `chmod` of another user's file.
    EPERM = 1,
    /// No such file or directory (2).
    ENOENT = 2,
    /// Interrupted system call (4).
    EINTR = 4,
    /// Input/output error (5).
    EIO = 5,
    /// Bad file descriptor (9).
    EBADF = 9,
    /// Resource temporarily unavailable, also `EWOULDBLOCK` (11): reading or writing a
    /// special file, which would otherwise block.
    EAGAIN = 11,
    /// Out of memory (12).
    ENOMEM = 12,
    /// Permission denied (13): mode bits, `fs.protected_symlinks`.
    EACCES = 13,
    /// Device or resource busy (16): removing `/`.
    EBUSY = 16,
    /// File exists (17).
    EEXIST = 17,
    /// Cross-device link (18).
    EXDEV = 18,
    /// Not a directory (20).
    ENOTDIR = 20,
    /// Is a directory (21).
    EISDIR = 21,
    /// Invalid argument (22).
    EINVAL = 22,
    /// Too many open files in the system (23).
    ENFILE = 23,
    /// Too many open files in the process (24).
    EMFILE = 24,
    /// File too large (27).
    EFBIG = 27,
    /// No space left on device (28).
    ENOSPC = 28,
    /// Illegal seek (29): seeking on a special file.
    ESPIPE = 29,
    /// Read-only file system (30).
    EROFS = 30,
    /// Too many links (31).
    EMLINK = 31,
    /// File name too long (36).
    ENAMETOOLONG = 36,
    /// Function not implemented (38): a call a seccomp filter older than it refuses.
    ENOSYS = 38,
    /// Directory not empty (39).
    ENOTEMPTY = 39,
    /// Too many levels of symbolic links (40): a loop, or `O_NOFOLLOW` on a symlink.
    ELOOP = 40,
    /// Operation not supported (95): a filesystem without `O_TMPFILE`, for one.
    EOPNOTSUPP = 95,
    /// Disk quota exceeded (122).
    EDQUOT = 122,
}

impl Errno {
    /// The Linux number.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The symbolic name, as in `errno.h` (`"ENOENT"`).
    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::EINTR => "EINTR",
            Errno::EIO => "EIO",
            Errno::EBADF => "EBADF",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::EXDEV => "EXDEV",
            Errno::ENOTDIR => "ENOTDIR",
            Errno::EISDIR => "EISDIR",
            Errno::EINVAL => "EINVAL",
            Errno::ENFILE => "ENFILE",
            Errno::EMFILE => "EMFILE",
            Errno::EFBIG => "EFBIG",
            Errno::ENOSPC => "ENOSPC",
            Errno::ESPIPE => "ESPIPE",
            Errno::EROFS => "EROFS",
            Errno::EMLINK => "EMLINK",
            Errno::ENAMETOOLONG => "ENAMETOOLONG",
            Errno::ENOSYS => "ENOSYS",
            Errno::ENOTEMPTY => "ENOTEMPTY",
            Errno::ELOOP => "ELOOP",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::EDQUOT => "EDQUOT",
        }
    }

    /// The `Errno` with this Linux number, if this crate knows it.
    pub fn from_code(code: i32) -> Option<Errno> {
        ALL.iter().copied().find(|e| e.code() == code)
    }

    /// The `Errno` behind an `io::Error` this crate made (or any error carrying a Linux
    /// raw OS error on Linux).
    pub fn of(error: &io::Error) -> Option<Errno> {
        if let Some(errno) = error.get_ref().and_then(|e| e.downcast_ref::<Errno>()) {
            return Some(*errno);
        }
        if cfg!(target_os = "linux") {
            error.raw_os_error().and_then(Errno::from_code)
        } else {
            None
        }
    }

    /// What std's `decode_error_kind` gives for this number on Linux, for targets where
    /// the number means something else.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    fn kind(self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Errno::EPERM | Errno::EACCES => K::PermissionDenied,
            Errno::ENOENT => K::NotFound,
            Errno::EINTR => K::Interrupted,
            Errno::EAGAIN => K::WouldBlock,
            Errno::ENOMEM => K::OutOfMemory,
            Errno::EBUSY => K::ResourceBusy,
            Errno::EEXIST => K::AlreadyExists,
            Errno::EXDEV => K::CrossesDevices,
            Errno::ENOTDIR => K::NotADirectory,
            Errno::EISDIR => K::IsADirectory,
            Errno::EINVAL => K::InvalidInput,
            Errno::EFBIG => K::FileTooLarge,
            Errno::ENOSPC => K::StorageFull,
            Errno::EROFS => K::ReadOnlyFilesystem,
            Errno::EMLINK => K::TooManyLinks,
            Errno::ENOTEMPTY => K::DirectoryNotEmpty,
            Errno::EDQUOT => K::QuotaExceeded,
            Errno::ENOSYS | Errno::EOPNOTSUPP => K::Unsupported,
            // `FilesystemLoop` and `NotSeekable` are unstable and `InvalidFilename` newer
            // than our MSRV; std says `Uncategorized` for the rest. `Other` is the closest we
            // may name.
            Errno::EIO
            | Errno::ESPIPE
            | Errno::EBADF
            | Errno::ENFILE
            | Errno::EMFILE
            | Errno::ELOOP
            | Errno::ENAMETOOLONG => K::Other,
        }
    }
}

const ALL: [Errno; 27] = [
    Errno::EPERM,
    Errno::ENOENT,
    Errno::EINTR,
    Errno::EIO,
    Errno::EBADF,
    Errno::EAGAIN,
    Errno::ENOMEM,
    Errno::EACCES,
    Errno::EBUSY,
    Errno::EEXIST,
    Errno::EXDEV,
    Errno::ENOTDIR,
    Errno::EISDIR,
    Errno::EINVAL,
    Errno::ENFILE,
    Errno::EMFILE,
    Errno::EFBIG,
    Errno::ENOSPC,
    Errno::ESPIPE,
    Errno::EROFS,
    Errno::EMLINK,
    Errno::ENAMETOOLONG,
    Errno::ENOSYS,
    Errno::ENOTEMPTY,
    Errno::ELOOP,
    Errno::EOPNOTSUPP,
    Errno::EDQUOT,
];

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for io::Error {
    fn from(errno: Errno) -> io::Error {
        if cfg!(target_os = "linux") {
            io::Error::from_raw_os_error(errno.code())
        } else {
            io::Error::new(errno.kind(), errno)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_carry_the_linux_number_and_std_kind() {
        for errno in ALL {
            let error = io::Error::from(errno);
            assert_eq!(Errno::of(&error), Some(errno));
            assert_eq!(Errno::from_code(errno.code()), Some(errno));
            if cfg!(target_os = "linux") {
                assert_eq!(error.raw_os_error(), Some(errno.code()));
                if errno != Errno::ELOOP && errno.kind() != io::ErrorKind::Other {
                    assert_eq!(error.kind(), errno.kind(), "{errno}");
                }
            }
        }
        let full = io::Error::from(Errno::ENOSPC);
        assert_eq!(full.kind(), io::ErrorKind::StorageFull);
    }
}
