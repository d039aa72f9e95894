//! Fault injection: making chosen backend operations fail with a chosen errno.

use std::fmt;

use crate::Errno;

/// Which operation it is: one per filesystem call of the [`Backend`] trait, plus reads and
/// writes on a [`MemoryFile`](crate::MemoryFile). [`Fault`]s name the operations they make
/// fail, and a [`BackendOp`](crate::BackendOp) says which one is about to run.
///
/// [`Backend::root`], [`Backend::seed`] and [`Backend::euid`] ask the filesystem nothing
/// that can fail, so they have none.
///
/// [`Backend`]: tempdir_core::Backend
/// [`Backend::root`]: tempdir_core::Backend::root
/// [`Backend::seed`]: tempdir_core::Backend::seed
/// [`Backend::euid`]: tempdir_core::Backend::euid
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultOp {
    /// `Backend::root_meta`.
    RootMeta,
    /// `Backend::root_entry`.
    RootEntry,
    /// `Backend::make_dir`.
    MakeDir,
    /// `Backend::set_mode_at`.
    SetModeAt,
    /// `Backend::open_dir`.
    OpenDir,
    /// `Backend::rename_at`.
    RenameAt,
    /// `Backend::remove_dir`.
    RemoveDir,
    /// `Backend::dir_meta`.
    DirMeta,
    /// `Backend::set_dir_mode`.
    SetDirMode,
    /// `Backend::lock_shared`.
    Lock,
    /// `Backend::create_file`.
    CreateFile,
    /// `Backend::set_file_mode`.
    SetFileMode,
    /// `Backend::open_file`.
    OpenFile,
    /// `Backend::entry`.
    Entry,
    /// `Backend::remove_file`.
    RemoveFile,
    /// `Backend::touch`.
    Touch,
    /// `Backend::list`.
    List,
    /// `Read::read` on a [`MemoryFile`](crate::MemoryFile).
    Read,
    /// `Write::write` on a [`MemoryFile`](crate::MemoryFile).
    Write,
    /// `Backend::create_unnamed` (`O_TMPFILE`).
    CreateUnnamed,
    /// `Backend::rename_to`, between two directory handles.
    RenameTo,
    /// `Backend::open_dir_ambient`, by path.
    OpenDirAmbient,
    /// `Backend::open_dir_beneath`, relative to the root's handle.
    OpenDirBeneath,
}

impl FaultOp {
    /// The operations of making, using and cleaning up a directory and its tracked files,
    /// in declaration order; [`EXTRA`](Self::EXTRA) has the others.
    pub const ALL: [FaultOp; 19] = [
        FaultOp::RootMeta,
        FaultOp::RootEntry,
        FaultOp::MakeDir,
        FaultOp::SetModeAt,
        FaultOp::OpenDir,
        FaultOp::RenameAt,
        FaultOp::RemoveDir,
        FaultOp::DirMeta,
        FaultOp::SetDirMode,
        FaultOp::Lock,
        FaultOp::CreateFile,
        FaultOp::SetFileMode,
        FaultOp::OpenFile,
        FaultOp::Entry,
        FaultOp::RemoveFile,
        FaultOp::Touch,
        FaultOp::List,
        FaultOp::Read,
        FaultOp::Write,
    ];

    /// The operations behind named and unnamed temporary files' `persist` and `tempfile`,
    /// which came after [`ALL`](Self::ALL); `ALL` keeps its length for code that sized an
    /// array by it. `Backend::open_subdir` and `remove_subdir` are [`OpenDir`](Self::OpenDir)
    /// and [`RemoveDir`](Self::RemoveDir) on another handle.
    pub const EXTRA: [FaultOp; 4] = [
        FaultOp::CreateUnnamed,
        FaultOp::RenameTo,
        FaultOp::OpenDirAmbient,
        FaultOp::OpenDirBeneath,
    ];

    /// The name used in traces: the `Backend` method's (`"create_file"`), or `"read"` and
    /// `"write"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultOp::RootMeta => "root_meta",
            FaultOp::RootEntry => "root_entry",
            FaultOp::MakeDir => "make_dir",
            FaultOp::SetModeAt => "set_mode_at",
            FaultOp::OpenDir => "open_dir",
            FaultOp::RenameAt => "rename_at",
            FaultOp::RemoveDir => "remove_dir",
            FaultOp::DirMeta => "dir_meta",
            FaultOp::SetDirMode => "set_dir_mode",
            FaultOp::Lock => "lock_shared",
            FaultOp::CreateFile => "create_file",
            FaultOp::SetFileMode => "set_file_mode",
            FaultOp::OpenFile => "open_file",
            FaultOp::Entry => "entry",
            FaultOp::RemoveFile => "remove_file",
            FaultOp::Touch => "touch",
            FaultOp::List => "list",
            FaultOp::Read => "read",
            FaultOp::Write => "write",
            FaultOp::CreateUnnamed => "create_unnamed",
            FaultOp::RenameTo => "rename_to",
            FaultOp::OpenDirAmbient => "open_dir_ambient",
            FaultOp::OpenDirBeneath => "open_dir_beneath",
        }
    }
}

impl fmt::Display for FaultOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the matching calls fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// Only the n-th matching call (1-based).
    Nth(u64),
    /// Every matching call.
    Every,
}

/// A planned failure: matching backend operations fail with `errno` **before doing
/// anything**, so a failed call has no partial effect (the way turmoil's and madsim's
/// fault injectors work).
///
/// Built with [`Fault::new`] and refined with [`nth`](Fault::nth), [`first`](Fault::first),
/// [`every`](Fault::every) (the default) and [`on_path`](Fault::on_path); installed with
/// [`MemoryFs::inject`](crate::MemoryFs::inject). Each fault counts the calls that match
/// it on its own.
///
/// ```
/// use std::io;
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::memory::{Errno, Fault, FaultOp, MemoryBackend, MemoryFs, TemporaryDirectory};
///
/// let fs = MemoryFs::new();
/// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
/// fs.inject(Fault::new(FaultOp::CreateFile, Errno::ENOSPC).nth(2));
/// assert!(tmp.mkstemp().is_ok());
/// let full = tmp.mkstemp().unwrap_err();
/// assert_eq!(full.io_kind(), Some(io::ErrorKind::StorageFull));
/// assert!(tmp.mkstemp().is_ok(), "only the second call fails");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    op: FaultOp,
    errno: Errno,
    trigger: Trigger,
    path: Option<String>,
}

impl Fault {
    /// Every call of `op` fails with `errno` (narrow it with the other methods).
    pub fn new(op: FaultOp, errno: Errno) -> Self {
        Fault {
            op,
            errno,
            trigger: Trigger::Every,
            path: None,
        }
    }

    /// Only the `n`-th matching call fails (counting from 1); the fault is spent after it.
    /// `nth(0)` never fires.
    pub fn nth(mut self, n: u64) -> Self {
        self.trigger = Trigger::Nth(n);
        self
    }

    /// Only the first matching call fails: `nth(1)`.
    pub fn first(self) -> Self {
        self.nth(1)
    }

    /// Every matching call fails (the default).
    pub fn every(mut self) -> Self {
        self.trigger = Trigger::Every;
        self
    }

    /// Only calls about this entry match: a bare name (no `/`) matches an entry of that
    /// name in any directory; anything else is compared with the absolute path the backend
    /// knows the entry by, [`BackendOp::path`](crate::BackendOp::path): the root's path
    /// joined with the name (the source's, for `rename_at`); for operations on a directory
    /// itself (`root_meta`, `dir_meta`, `set_dir_mode`, `lock_shared`, `list`,
    /// `touch(dir, None)`) the directory's path; for `set_file_mode` and file reads and
    /// writes, the path the file was created or opened at.
    pub fn on_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The operation it applies to.
    pub fn op(&self) -> FaultOp {
        self.op
    }

    /// The error it injects.
    pub fn errno(&self) -> Errno {
        self.errno
    }

    fn matches(&self, op: FaultOp, path: &str, name: Option<&str>) -> bool {
        if op != self.op {
            return false;
        }
        match &self.path {
            None => true,
            Some(want) if want.contains(crate::state::is_separator) => want == path,
            Some(want) => Some(want.as_str()) == name,
        }
    }
}

/// An installed fault with its own count of matching calls.
#[derive(Debug)]
pub(crate) struct ArmedFault {
    fault: Fault,
    seen: u64,
}

impl ArmedFault {
    pub(crate) fn new(fault: Fault) -> Self {
        ArmedFault { fault, seen: 0 }
    }
}

/// Counts the call on every matching fault and returns the errno of the first that fires.
/// Every matching fault counts the call, whether or not an earlier one fired, so each
/// fault's `nth` means the n-th matching call whatever else is installed.
pub(crate) fn check(
    faults: &mut [ArmedFault],
    op: FaultOp,
    path: &str,
    name: Option<&str>,
) -> Option<Errno> {
    let mut fired = None;
    for armed in faults.iter_mut() {
        if !armed.fault.matches(op, path, name) {
            continue;
        }
        armed.seen += 1;
        let fires = match armed.fault.trigger {
            Trigger::Every => true,
            Trigger::Nth(n) => armed.seen == n,
        };
        if fires && fired.is_none() {
            fired = Some(armed.fault.errno);
        }
    }
    fired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_first_and_every_count_matching_calls_per_fault() {
        let mut faults = vec![
            ArmedFault::new(Fault::new(FaultOp::CreateFile, Errno::ENOSPC).nth(2)),
            ArmedFault::new(Fault::new(FaultOp::RootEntry, Errno::EIO).first()),
            ArmedFault::new(Fault::new(FaultOp::List, Errno::EINTR)),
        ];
        let create = |f: &mut Vec<ArmedFault>| check(f, FaultOp::CreateFile, "/t/a", Some("a"));
        assert_eq!(create(&mut faults), None);
        assert_eq!(create(&mut faults), Some(Errno::ENOSPC));
        assert_eq!(create(&mut faults), None);
        assert_eq!(
            check(&mut faults, FaultOp::RootEntry, "/t/a", Some("a")),
            Some(Errno::EIO)
        );
        assert_eq!(
            check(&mut faults, FaultOp::RootEntry, "/t/a", Some("a")),
            None
        );
        for _ in 0..3 {
            assert_eq!(
                check(&mut faults, FaultOp::List, "/t", None),
                Some(Errno::EINTR)
            );
        }
    }

    #[test]
    fn on_path_matches_bare_names_anywhere_and_paths_exactly() {
        let bare = Fault::new(FaultOp::RemoveFile, Errno::EACCES).on_path("a");
        assert!(bare.matches(FaultOp::RemoveFile, "/x/a", Some("a")));
        assert!(bare.matches(FaultOp::RemoveFile, "/y/a", Some("a")));
        assert!(!bare.matches(FaultOp::RemoveFile, "/y/b", Some("b")));
        assert!(!bare.matches(FaultOp::OpenFile, "/y/a", Some("a")));
        let full = Fault::new(FaultOp::RemoveFile, Errno::EACCES).on_path("/x/a");
        assert!(full.matches(FaultOp::RemoveFile, "/x/a", Some("a")));
        assert!(!full.matches(FaultOp::RemoveFile, "/y/a", Some("a")));
    }
}
