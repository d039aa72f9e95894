//! Cleanup: each tracked name unlinked through the handle, then the directory removed only
//! once it is known to be ours.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::sync::PoisonError;

use camino::Utf8PathBuf;

use crate::backend::Backend;
use crate::dir::{DirStatus, TemporaryDirectory, lock};
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
    pub fn cleanup(&self) -> CleanupReport {
        if name::process_id() != self.owner_pid {
            tracing::debug!(path = %self.path, "not cleaning up in a forked child: the directory is its parent's");
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
        let (dir, names) = match taken {
            Some(dir) => {
                let tracked = std::mem::take(&mut *self.tracked());
                (dir, tracked.into_names().collect())
            }
            None => match leftovers.take() {
                Some(left) => (left.dir, left.names),
                None => return CleanupReport::new(DirStatus::CleanedUp),
            },
        };
        let mut report = CleanupReport::new(DirStatus::Intact);
        let kept: Vec<Box<str>> = names
            .into_iter()
            .filter(|name| !self.unlink_tracked(&dir, name, &mut report))
            .collect();
        self.remove_own_dir(&dir, &kept, &mut report);
        if !report.dir_removed && report.status == DirStatus::Intact {
            *leftovers = Some(Leftovers { dir, names: kept });
        }
        report
    }

    /// Unlinks one tracked name; `false` when it is still there.
    fn unlink_tracked(&self, dir: &B::Dir, name: &str, report: &mut CleanupReport) -> bool {
        let error = match self.backend.remove_file(dir, name) {
            Ok(()) => {
                tracing::debug!(name, dir = %self.path, "removed temporary file");
                report.removed += 1;
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.removed += 1;
                report.already_gone += 1;
                return true;
            }
            Err(e) => e,
        };
        let path = join(&self.path, name);
        if is_refusal(&error) {
            tracing::warn!(path = %path, error = %error, "tracked name holds what cannot be unlinked: left in place");
            report.left_in_place.push(path);
        } else {
            tracing::warn!(path = %path, error = %error, "cannot remove temporary file");
            report.failures.push(Error::io(Op::RemoveFile, path, error));
        }
        false
    }

    /// Removes the directory if its name still leads to it, or says why not; `kept` are
    /// the tracked names still in it, which are not reported as untracked.
    ///
    /// POSIX has no "remove this directory only if it is this inode", and a reaper may
    /// remove ours and someone else make one at its name between any look and the rmdir.
    /// So the directory is first renamed to a fresh random name (never replacing anything
    /// there), looked at under that name, and removed only if it is ours; whatever else
    /// was moved is put back.
    fn remove_own_dir(&self, dir: &B::Dir, kept: &[Box<str>], report: &mut CleanupReport) {
        report.status = match self.backend.root_entry(&self.name) {
            Ok(Some(meta)) if meta.id == self.id => DirStatus::Intact,
            Ok(Some(_)) => DirStatus::Replaced,
            Ok(None) => DirStatus::Reaped,
            Err(e) => {
                // Not seen, not removed: the handle still tells whether it was reaped.
                report.status = self.probe(dir);
                tracing::warn!(path = %self.path, error = %e, "cannot verify the temporary directory's name: not removing it");
                report
                    .failures
                    .push(Error::io(Op::Stat, self.path.clone(), e));
                return;
            }
        };
        match report.status {
            DirStatus::Intact => {}
            DirStatus::Replaced => {
                tracing::warn!(path = %self.path, "temporary directory was replaced: leaving what is at its path alone");
                return;
            }
            _ => {
                tracing::warn!(path = %self.path, "temporary directory was reaped before cleanup");
                return;
            }
        }
        let aside = self.aside_name();
        match self.backend.rename_at(&self.name, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.status = DirStatus::Reaped;
                tracing::warn!(path = %self.path, "temporary directory was reaped during cleanup");
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
                    tracing::warn!(path = %self.path, status = ?report.status, "temporary directory went during cleanup: left alone");
                    return;
                }
                tracing::warn!(path = %self.path, error = %e, "cannot rename the temporary directory to remove it");
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
                tracing::warn!(path = %self.path, "temporary directory was replaced during cleanup: left alone");
                return;
            }
            Ok(None) => {
                report.status = DirStatus::Reaped;
                tracing::warn!(path = %self.path, "temporary directory was reaped during cleanup");
                return;
            }
            Err(e) => {
                self.put_back(&aside);
                tracing::warn!(path = %self.path, error = %e, "cannot verify the temporary directory's name: not removing it");
                report
                    .failures
                    .push(Error::io(Op::Stat, self.path.clone(), e));
                return;
            }
        }
        match self.backend.remove_dir(&aside) {
            Ok(()) => {
                tracing::debug!(path = %self.path, "removed temporary directory");
                report.dir_removed = true;
            }
            Err(e) => {
                self.put_back(&aside);
                if e.kind() == io::ErrorKind::DirectoryNotEmpty {
                    report.untracked = self.untracked(dir, kept, report);
                    tracing::warn!(path = %self.path, untracked = report.untracked.len(),
                        "temporary directory not removed: it holds entries nobody tracked");
                } else {
                    tracing::warn!(path = %self.path, error = %e, "cannot remove temporary directory");
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
        let _ = write!(aside, ".tempdirs-rm-{:016x}", self.random.next());
        aside
    }

    /// Moves what is at `aside` back to the directory's name, never over anything.
    fn put_back(&self, aside: &str) {
        if let Err(e) = self.backend.rename_at(aside, &self.name) {
            tracing::warn!(path = %self.path, aside, error = %e, "cannot rename a directory back to its name");
        }
    }

    /// The directory's entries that are not tracked names still there.
    fn untracked(
        &self,
        dir: &B::Dir,
        kept: &[Box<str>],
        report: &mut CleanupReport,
    ) -> Vec<PathBuf> {
        let names = match self.backend.list(dir) {
            Ok(names) => names,
            Err(e) => {
                report
                    .failures
                    .push(Error::io(Op::ReadDir, self.path.clone(), e));
                return Vec::new();
            }
        };
        let mut untracked: Vec<PathBuf> = names
            .into_iter()
            .filter(|name| !kept.iter().any(|kept| name.to_str() == Some(&**kept)))
            .map(|name| self.path.as_std_path().join(name))
            .collect();
        untracked.sort_unstable();
        untracked
    }
}

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
