//! Fault injection: making chosen backend operations fail with a chosen errno.

use std::fmt;

use crate::Errno;

/// The operation a [`Fault`] (or a [`BackendOp`](crate::BackendOp)) is about: one per
/// [`Backend`](tempdir_core::Backend) method, plus reads and writes on a
/// [`MemoryFile`](crate::MemoryFile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultOp {
    /// `Backend::make_dir`.
    MakeDir,
    /// `Backend::lock_shared`.
    Lock,
    /// `Backend::dir_meta`.
    DirMeta,
    /// `Backend::root_entry`.
    RootEntry,
    /// `Backend::remove_dir`.
    RemoveDir,
    /// `Backend::create_file`.
    CreateFile,
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
    /// `Backend::scan`.
    Scan,
    /// `Read::read` on a [`MemoryFile`](crate::MemoryFile).
    Read,
    /// `Write::write` on a [`MemoryFile`](crate::MemoryFile).
    Write,
}

impl FaultOp {
    /// The name used in traces (`"create_file"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultOp::MakeDir => "make_dir",
            FaultOp::Lock => "lock_shared",
            FaultOp::DirMeta => "dir_meta",
            FaultOp::RootEntry => "root_entry",
            FaultOp::RemoveDir => "remove_dir",
            FaultOp::CreateFile => "create_file",
            FaultOp::OpenFile => "open_file",
            FaultOp::Entry => "entry",
            FaultOp::RemoveFile => "remove_file",
            FaultOp::Touch => "touch",
            FaultOp::List => "list",
            FaultOp::Scan => "scan",
            FaultOp::Read => "read",
            FaultOp::Write => "write",
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
/// use tempdir_core::TemporaryDirectory;
/// use tempdir_memory::{Errno, Fault, FaultOp, MemoryBackend, MemoryFs};
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
    /// knows the entry by (root path joined with the names it made). For operations on a
    /// directory itself (`lock_shared`, `dir_meta`, `list`, `touch(dir, None)`) that is
    /// the directory's path; for file reads and writes, the path the file was created or
    /// opened at.
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
            Some(want) if want.contains('/') => want == path,
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
            ArmedFault::new(Fault::new(FaultOp::Entry, Errno::EIO).first()),
            ArmedFault::new(Fault::new(FaultOp::List, Errno::EINTR)),
        ];
        let create = |f: &mut Vec<ArmedFault>| check(f, FaultOp::CreateFile, "/t/a", Some("a"));
        assert_eq!(create(&mut faults), None);
        assert_eq!(create(&mut faults), Some(Errno::ENOSPC));
        assert_eq!(create(&mut faults), None);
        assert_eq!(
            check(&mut faults, FaultOp::Entry, "/t/a", Some("a")),
            Some(Errno::EIO)
        );
        assert_eq!(check(&mut faults, FaultOp::Entry, "/t/a", Some("a")), None);
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
        assert!(!bare.matches(FaultOp::Entry, "/y/a", Some("a")));
        let full = Fault::new(FaultOp::RemoveFile, Errno::EACCES).on_path("/x/a");
        assert!(full.matches(FaultOp::RemoveFile, "/x/a", Some("a")));
        assert!(!full.matches(FaultOp::RemoveFile, "/y/a", Some("a")));
    }
}
