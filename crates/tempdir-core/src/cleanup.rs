//! Cleanup: each tracked name unlinked through the handle, then the directory removed only
//! once it is known to be ours.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::sync::PoisonError;

use camino::{Utf8Path, Utf8PathBuf};

use crate::backend::{Backend, FileKind};
use crate::dir::{DirStatus, FileEvent, TemporaryDirectory, lock};
use crate::name::{self, join};
use crate::{Error, Op};

/// What [`cleanup`](TemporaryDirectory::cleanup) did. It never raises: whatever went wrong
/// is here, and logged.
#[derive(Debug)]
#[non_exhaustive]
#[must_use = "a cleanup that did not finish leaves files behind: look at is_complete()"]
pub struct CleanupReport {
    /// Tracked names that no longer exist afterwards: removed now, or already gone.
    pub removed: usize,
    /// Of `removed`, how many were already gone (deleted by their user, or reaped).
    pub already_gone: usize,
    /// Whether the directory itself was removed by this call.
    pub dir_removed: bool,
    /// What cleanup found the directory to be when it came to remove it. `CleanedUp` for a
    /// call with nothing (left) to do.
    pub status: DirStatus,
    /// Tracked names whose unlink was refused because of what is there now: a directory, a
    /// mount point. Left in place, and tried again by the next cleanup or the drop.
    pub left_in_place: Vec<Utf8PathBuf>,
    /// Entries nobody tracked, which kept the directory from being removed. The next
    /// cleanup or the drop tries the directory again.
    pub untracked: Vec<PathBuf>,
    /// Entries nobody tracked that this call removed, nested ones included: only
    /// [`cleanup_all`](TemporaryDirectory::cleanup_all) (or an instance built with
    /// [`remove_untracked`](crate::Builder::remove_untracked)) removes any.
    pub untracked_removed: usize,
    /// Operations that failed (each an [`Error::Io`] naming the operation and the path);
    /// tried again by the next cleanup or the drop.
    pub failures: Vec<Error>,
}

impl CleanupReport {
    fn new(status: DirStatus) -> Self {
        CleanupReport {
            removed: 0,
            already_gone: 0,
            dir_removed: false,
            status,
            left_in_place: Vec::new(),
            untracked: Vec::new(),
            untracked_removed: 0,
            failures: Vec::new(),
        }
    }

    /// True when nothing of this instance is left on disk: every tracked name is gone and
    /// the directory was removed.
    pub fn is_complete(&self) -> bool {
        self.dir_removed && self.left_in_place.is_empty() && self.failures.is_empty()
    }
}

/// The unfinished part of a cleanup: the handle, and the tracked names still there.
pub(crate) struct Leftovers<D> {
    dir: D,
    names: Vec<Box<str>>,
}

impl<B: Backend> TemporaryDirectory<B> {
    /// Removes every tracked file and then the directory: duplicity's `cleanup()`.
    ///
    /// Each tracked name is unlinked through the handle: that never follows a symlink and
    /// never removes a directory, and a name already gone counts as removed. Then the
    /// directory is removed if it is empty and is the directory this instance made (see
    /// [`DirStatus`]). **Never recursive.** Failures are logged and reported, never raised;
    /// this never panics. Afterwards no name is handed out ([`Error::CleanedUp`]).
    ///
    /// What is not done — a name whose unlink was refused or failed, a directory kept by
    /// entries nobody tracked — is tried again by the next call and by the drop; once
    /// everything is done, later calls report nothing to do. Calls from several threads
    /// run one after the other. In a process forked from the one that made the instance,
    /// this does nothing: the directory is the parent's.
    ///
    /// An instance built with [`Builder::remove_untracked`](crate::Builder::remove_untracked)
    /// cleans up as [`cleanup_all`](Self::cleanup_all) does instead, here and in the drop.
    #[must_use = "a cleanup that did not finish leaves files behind: look at is_complete()"]
    pub fn cleanup(&self) -> CleanupReport {
        self.cleanup_with(self.remove_untracked)
    }

    /// [`cleanup`](Self::cleanup), and before the directory is removed, every entry in it
    /// that nobody tracked too: for a test's directory, into which the code under test
    /// wrote by path. Opt-in; `cleanup` stays non-recursive.
    ///
    /// It works through handles only, and never leaves the instance's directory: each
    /// entry is unlinked relative to its directory's handle (a symlink itself, never its
    /// target); a subdirectory is opened relative to its parent's handle without following
    /// a symlink (`O_DIRECTORY|O_NOFOLLOW`), emptied the same way, then removed relative
    /// to its parent (`unlinkat(AT_REMOVEDIR)`). A subdirectory on another filesystem (a
    /// mount point) is not entered. What cannot be removed is reported (`failures`,
    /// `untracked`) and tried again by the next call. Names that are not UTF-8 cannot be
    /// named to the backend and stay.
    ///
    /// ```
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::new();
    /// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    /// // The code under test writes a tree by path.
    /// fs.create_dir(tmp.dir().join("out"))?;
    /// fs.write(tmp.dir().join("out/result.json"), "{}")?;
    /// let report = tmp.cleanup_all();
    /// assert!(report.is_complete());
    /// assert_eq!(report.untracked_removed, 2);
    /// assert!(!fs.exists(tmp.dir()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a cleanup that did not finish leaves files behind: look at is_complete()"]
    pub fn cleanup_all(&self) -> CleanupReport {
        self.cleanup_with(true)
    }

    fn cleanup_with(&self, remove_untracked: bool) -> CleanupReport {
        if name::process_id() != self.owner_pid {
            tracing::debug!(target: "tempdirs", path = %self.path, "not cleaning up in a forked child: the directory is its parent's");
            return CleanupReport::new(DirStatus::Intact);
        }
        // Held for the whole cleanup, filesystem calls included (unlike the tracked set's
        // lock): a second caller waits here, then finds only what the first left to retry.
        let mut leftovers = lock(&self.leftovers);
        // Waits for operations in flight, then takes the handle: no operation can start on
        // it, and none can add a name this pass would miss.
        let taken = self
            .handle
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut report = CleanupReport::new(DirStatus::Intact);
        let mut kept: Vec<Box<str>> = Vec::new();
        let dir = match taken {
            Some(dir) => {
                let tracked = std::mem::take(&mut *self.tracked());
                tracked.each(&self.random, |name| {
                    if !self.unlink_tracked(&dir, name, &mut report) {
                        kept.push(name.into());
                    }
                });
                dir
            }
            None => match leftovers.take() {
                Some(left) => {
                    kept = left.names;
                    kept.retain(|name| !self.unlink_tracked(&left.dir, name, &mut report));
                    left.dir
                }
                None => return CleanupReport::new(DirStatus::CleanedUp),
            },
        };
        if remove_untracked {
            self.remove_untracked(&dir, &mut kept, &mut report);
        }
        self.remove_own_dir(&dir, &kept, &mut report);
        if !report.dir_removed && report.status == DirStatus::Intact {
            *leftovers = Some(Leftovers { dir, names: kept });
        }
        report
    }

    /// Unlinks one tracked name; `false` when it is still there. The unlink is all the
    /// common case runs between two names: anything else waits for a failure.
    #[inline]
    fn unlink_tracked(&self, dir: &B::Dir, name: &str, report: &mut CleanupReport) -> bool {
        match self.backend.remove_file(dir, name) {
            Ok(()) => {
                report.removed += 1;
                self.log_file(FileEvent::Removed, name);
                true
            }
            Err(e) => self.unlink_failed(name, e, report),
        }
    }

    /// What [`unlink_tracked`](Self::unlink_tracked) does when the unlink failed: a name
    /// already gone counts as removed; one refused is left in place; any other failure is
    /// reported.
    #[cold]
    #[inline(never)]
    fn unlink_failed(&self, name: &str, error: io::Error, report: &mut CleanupReport) -> bool {
        if error.kind() == io::ErrorKind::NotFound {
            report.removed += 1;
            report.already_gone += 1;
            return true;
        }
        let path = join(&self.path, name);
        if is_refusal(&error) {
            tracing::warn!(target: "tempdirs", path = %path, error = %error, "tracked name holds what cannot be unlinked: left in place");
            report.left_in_place.push(path);
        } else {
            tracing::warn!(target: "tempdirs", path = %path, error = %error, "cannot remove temporary file");
            report.failures.push(Error::io(Op::RemoveFile, path, error));
        }
        false
    }

    /// Removes every entry of the directory that nobody tracks, and the directories left
    /// in place at tracked names, with their content (they leave `kept`). Tracked names
    /// whose unlink failed for another reason stay for the next cleanup.
    fn remove_untracked(&self, dir: &B::Dir, kept: &mut Vec<Box<str>>, report: &mut CleanupReport) {
        let names = match self.backend.list(dir) {
            Ok(names) => names,
            Err(e) => {
                report
                    .failures
                    .push(Error::io(Op::ReadDir, self.path.clone(), e));
                return;
            }
        };
        for name in names {
            // Not UTF-8: it cannot be named to the backend; `untracked` will show it.
            let Some(name) = name.to_str() else { continue };
            let tracked = kept.iter().position(|kept| **kept == *name);
            let path = join(&self.path, name);
            if tracked.is_some()
                && !(report.left_in_place.contains(&path) && self.is_dir_at(dir, name))
            {
                continue;
            }
            let untracked_before = report.untracked_removed;
            let gone = self.remove_tree(dir, name, &path, 0, report);
            if let (Some(at), Gone::Removed | Gone::Already) = (tracked, gone) {
                // A directory at a tracked name, gone with its content: removed, and not
                // left in place after all.
                kept.swap_remove(at);
                report.left_in_place.retain(|left| *left != path);
                report.removed += 1;
                if gone == Gone::Removed && report.untracked_removed > untracked_before {
                    report.untracked_removed -= 1;
                }
            }
        }
    }

    fn is_dir_at(&self, dir: &B::Dir, name: &str) -> bool {
        let meta = self.backend.entry(dir, name);
        meta.is_ok_and(|meta| meta.is_some_and(|meta| meta.kind == FileKind::Dir))
    }

    /// Removes the entry `name` of the directory `dir` is a handle to, and if it is a
    /// directory everything in it first, through handles alone.
    fn remove_tree(
        &self,
        dir: &B::Dir,
        name: &str,
        path: &Utf8Path,
        depth: usize,
        report: &mut CleanupReport,
    ) -> Gone {
        let fail = |report: &mut CleanupReport, op, e| {
            tracing::warn!(target: "tempdirs", path = %path, error = %e, "cannot remove untracked entry");
            report.failures.push(Error::io(op, path.to_owned(), e));
            Gone::Kept
        };
        let kind = match self.backend.entry(dir, name) {
            Ok(Some(meta)) => meta.kind,
            Ok(None) => return Gone::Already,
            Err(e) => return fail(report, Op::Stat, e),
        };
        if kind != FileKind::Dir {
            // A symlink is unlinked itself: its target is never looked at.
            return match self.backend.remove_file(dir, name) {
                Ok(()) => {
                    report.untracked_removed += 1;
                    Gone::Removed
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Gone::Already,
                Err(e) => fail(report, Op::RemoveFile, e),
            };
        }
        if depth >= MAX_DEPTH {
            let deep = io::Error::other("nested too deep to remove through handles");
            return fail(report, Op::OpenDir, deep);
        }
        // O_NOFOLLOW|O_DIRECTORY: whatever was swapped in since the look is refused.
        let sub = match self.backend.open_subdir(dir, name) {
            Ok(sub) => sub,
            Err(e) => return fail(report, Op::OpenDir, e),
        };
        match self.backend.dir_meta(&sub) {
            Ok(meta) if meta.id.dev == self.id.dev => {}
            Ok(_) => {
                // A mount point: what is on it is not the instance's to remove.
                let other = io::Error::from(io::ErrorKind::CrossesDevices);
                return fail(report, Op::OpenDir, other);
            }
            Err(e) => return fail(report, Op::Stat, e),
        }
        let names = match self.backend.list(&sub) {
            Ok(names) => names,
            Err(e) => return fail(report, Op::ReadDir, e),
        };
        let mut emptied = true;
        for child in names {
            match child.to_str() {
                Some(child) => {
                    let child_path = join(path, child);
                    let gone = self.remove_tree(&sub, child, &child_path, depth + 1, report);
                    emptied &= gone != Gone::Kept;
                }
                None => {
                    report.failures.push(Error::NonUtf8Path {
                        path: path.as_std_path().join(child),
                    });
                    emptied = false;
                }
            }
        }
        drop(sub);
        if !emptied {
            return Gone::Kept;
        }
        match self.backend.remove_subdir(dir, name) {
            Ok(()) => {
                report.untracked_removed += 1;
                Gone::Removed
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Gone::Already,
            Err(e) => fail(report, Op::RemoveDir, e),
        }
    }

    /// Removes the directory if its name still leads to it, or says why not; `kept` are
    /// the tracked names still in it, which are not reported as untracked.
    ///
    /// POSIX has no "remove this directory only if it is this inode", and a reaper may
    /// remove ours and someone else make one at its name between any look and the rmdir.
    /// So the directory, once seen empty, is renamed to a fresh random name (never
    /// replacing anything there), looked at under that name, and removed only if it is
    /// ours; whatever else was moved is put back.
    fn remove_own_dir(&self, dir: &B::Dir, kept: &[Box<str>], report: &mut CleanupReport) {
        report.status = match self.backend.root_entry(&self.name) {
            Ok(Some(meta)) if meta.id == self.id => DirStatus::Intact,
            Ok(Some(_)) => DirStatus::Replaced,
            Ok(None) => DirStatus::Reaped,
            Err(e) => {
                // Not seen, not removed: the handle still tells whether it was reaped.
                report.status = self.probe(dir);
                tracing::warn!(target: "tempdirs", path = %self.path, error = %e, "cannot verify the temporary directory's name: not removing it");
                report
                    .failures
                    .push(Error::io(Op::Stat, self.path.clone(), e));
                return;
            }
        };
        match report.status {
            DirStatus::Intact => {}
            DirStatus::Replaced => {
                tracing::warn!(target: "tempdirs", path = %self.path, "temporary directory was replaced: leaving what is at its path alone");
                return;
            }
            _ => {
                tracing::warn!(target: "tempdirs", path = %self.path, "temporary directory was reaped before cleanup");
                return;
            }
        }
        // Entries left in it would fail the rmdir after the rename, and the directory would
        // then have to be renamed back over a name others may have taken meanwhile: look
        // first, and leave a directory with entries where it is.
        match self.backend.list(dir) {
            Ok(names) if names.is_empty() => {}
            Ok(names) => {
                report.untracked = self.untracked(names, kept);
                tracing::warn!(target: "tempdirs", path = %self.path, untracked = report.untracked.len(),
                    "temporary directory not removed: entries are left in it");
                return;
            }
            // Not seen (no descriptor to spare, a sandbox refusing the read): the rmdir
            // below refuses a directory with entries all the same.
            Err(e) if kept.is_empty() => {
                tracing::debug!(target: "tempdirs", path = %self.path, error = %e, "cannot list the temporary directory before removing it");
            }
            Err(e) => {
                report
                    .failures
                    .push(Error::io(Op::ReadDir, self.path.clone(), e));
                return;
            }
        }
        let aside = self.aside_name();
        match self.backend.rename_at(&self.name, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.status = DirStatus::Reaped;
                tracing::warn!(target: "tempdirs", path = %self.path, "temporary directory was reaped during cleanup");
                return;
            }
            Err(e) => {
                // Refused (a sticky root refuses to rename another uid's entry): look again,
                // to say whether what is at the name is still ours.
                report.status = match self.backend.root_entry(&self.name) {
                    Ok(Some(meta)) if meta.id != self.id => DirStatus::Replaced,
                    Ok(None) => DirStatus::Reaped,
                    _ => DirStatus::Intact,
                };
                if report.status != DirStatus::Intact {
                    tracing::warn!(target: "tempdirs", path = %self.path, status = ?report.status, "temporary directory went during cleanup: left alone");
                    return;
                }
                tracing::warn!(target: "tempdirs", path = %self.path, error = %e, "cannot rename the temporary directory to remove it");
                report
                    .failures
                    .push(Error::io(Op::Rename, self.path.clone(), e));
                return;
            }
        }
        match self.backend.root_entry(&aside) {
            Ok(Some(meta)) if meta.id == self.id => {}
            Ok(Some(_)) => {
                // Ours went between the look and the rename, and someone made another at
                // its name: theirs goes back.
                self.put_back(&aside);
                report.status = DirStatus::Replaced;
                tracing::warn!(target: "tempdirs", path = %self.path, "temporary directory was replaced during cleanup: left alone");
                return;
            }
            Ok(None) => {
                report.status = DirStatus::Reaped;
                tracing::warn!(target: "tempdirs", path = %self.path, "temporary directory was reaped during cleanup");
                return;
            }
            Err(e) => {
                self.put_back(&aside);
                tracing::warn!(target: "tempdirs", path = %self.path, error = %e, "cannot verify the temporary directory's name: not removing it");
                report
                    .failures
                    .push(Error::io(Op::Stat, self.path.clone(), e));
                return;
            }
        }
        match self.backend.remove_dir(&aside) {
            Ok(()) => {
                tracing::debug!(target: "tempdirs", path = %self.path, "removed temporary directory");
                report.dir_removed = true;
            }
            Err(e) => {
                self.put_back(&aside);
                if e.kind() == io::ErrorKind::DirectoryNotEmpty {
                    match self.backend.list(dir) {
                        Ok(names) => report.untracked = self.untracked(names, kept),
                        Err(e) => {
                            report
                                .failures
                                .push(Error::io(Op::ReadDir, self.path.clone(), e))
                        }
                    }
                    tracing::warn!(target: "tempdirs", path = %self.path, untracked = report.untracked.len(),
                        "temporary directory not removed: it holds entries nobody tracked");
                } else {
                    tracing::warn!(target: "tempdirs", path = %self.path, error = %e, "cannot remove temporary directory");
                    report
                        .failures
                        .push(Error::io(Op::RemoveDir, self.path.clone(), e));
                }
            }
        }
    }

    /// A fresh name to move the directory to before removing it: hidden, random, short
    /// enough for any filesystem.
    fn aside_name(&self) -> String {
        let mut aside = String::with_capacity(30);
        // Writing to a String cannot fail.
        let _ = write!(aside, ".tempdirs-rm-{:016x}", self.random.fresh());
        aside
    }

    /// Moves what is at `aside` back to the directory's name, never over anything.
    fn put_back(&self, aside: &str) {
        if let Err(e) = self.backend.rename_at(aside, &self.name) {
            tracing::warn!(target: "tempdirs", path = %self.path, aside, error = %e, "cannot rename a directory back to its name");
        }
    }

    /// Of the directory's entries `names`, those that are not tracked names still there.
    fn untracked(&self, names: Vec<std::ffi::OsString>, kept: &[Box<str>]) -> Vec<PathBuf> {
        let mut untracked: Vec<PathBuf> = names
            .into_iter()
            .filter(|name| !kept.iter().any(|kept| name.to_str() == Some(&**kept)))
            .map(|name| self.path.as_std_path().join(name))
            .collect();
        untracked.sort_unstable();
        untracked
    }
}

/// What became of an entry [`cleanup_all`](TemporaryDirectory::cleanup_all) tried to
/// remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gone {
    Removed,
    Already,
    Kept,
}

/// How deep [`cleanup_all`](TemporaryDirectory::cleanup_all) goes: each level holds a
/// descriptor open.
const MAX_DEPTH: usize = 128;

/// Whether an unlink failed because of what the name holds (a directory, a mount point, an
/// entry we may not remove) rather than a fault that may pass.
fn is_refusal(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::IsADirectory
            | io::ErrorKind::ResourceBusy
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::DirectoryNotEmpty
    )
}
