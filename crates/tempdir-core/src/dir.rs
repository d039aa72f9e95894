//! `TemporaryDirectory`: names, tracking, identity checks and cleanup over a [`Backend`].

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use crate::backend::{Backend, FileId, FileKind, Listed, Meta, OpenRoot};
use crate::name::{self, Sighting, Sightings, Tracked, join, resolve};
use crate::{BufFile, Error, Op};

/// From how many tracked names cleanup reads the directory instead of looking at each
/// name: a listing costs an open, two `getdents64` and a close, which on tmpfs as many
/// `statx` calls outweigh below about six names.
const LISTING_PAYS_FROM: usize = 8;

/// How many names are tried before giving up with [`Error::TooManyCollisions`]. With 41
/// random bits per name, a collision is either an attack or broken randomness.
const MAX_ATTEMPTS: u32 = 128;

/// The default prefix of the directory's name.
pub const DEFAULT_PREFIX: &str = "tempdirs-";

/// Where an instance's directory stands, as far as the instance can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirStatus {
    /// Its path still leads to the directory this instance made.
    Intact,
    /// It was removed (by a tmp reaper, most likely) and nothing is at its path.
    Reaped,
    /// Its path now leads to something else: a directory someone made after it was reaped,
    /// or a symlink.
    Replaced,
    /// [`cleanup`](TemporaryDirectory::cleanup) ran; the instance is spent.
    CleanedUp,
}

/// What [`cleanup`](TemporaryDirectory::cleanup) did. It never raises: whatever went wrong
/// is here, and logged.
#[derive(Debug)]
#[non_exhaustive]
pub struct CleanupReport {
    /// Tracked names that no longer exist afterwards: removed now, or already gone.
    pub removed: usize,
    /// Of `removed`, how many were already gone (deleted by their user, or reaped).
    pub already_gone: usize,
    /// Whether the directory itself was removed by this call.
    pub dir_removed: bool,
    /// What cleanup found the directory to be just before removing it. `CleanedUp` for a
    /// call with nothing (left) to do.
    pub status: DirStatus,
    /// Tracked names holding something cleanup does not remove because this instance did
    /// not create it: a different file than the one created, a symlink, a directory.
    pub left_in_place: Vec<Utf8PathBuf>,
    /// Entries nobody tracked, which kept the directory from being removed.
    pub untracked: Vec<Utf8PathBuf>,
    /// Operations that failed (each an [`Error::Io`] naming the operation and the path).
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

/// Options for making a [`TemporaryDirectory`]: the prefix and suffix of its name, as
/// `tempfile.mkdtemp(suffix, prefix, dir)` takes them.
///
/// ```
/// use tempdir_core::Builder;
/// use tempdir_memory::{MemoryBackend, MemoryFs};
///
/// let fs = MemoryFs::new();
/// let tmp = Builder::new()
///     .prefix("duplicity-")
///     .suffix("-tempdir")
///     .build(MemoryBackend::new(&fs, "/tmp")?)?;
/// let name = tmp.dir().file_name().unwrap();
/// assert!(name.starts_with("duplicity-") && name.ends_with("-tempdir"));
/// # Ok::<(), tempdir_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    prefix: String,
    suffix: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            prefix: DEFAULT_PREFIX.to_owned(),
            suffix: String::new(),
        }
    }
}

impl Builder {
    /// Prefix [`DEFAULT_PREFIX`], no suffix.
    pub fn new() -> Self {
        Self::default()
    }

    /// The start of the directory's name. Checked when the directory is built: it must not
    /// contain `/` or NUL, and the whole name must fit in 255 bytes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The end of the directory's name, after the random part; checked like the prefix.
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = suffix.into();
        self
    }

    /// Makes the directory in `backend`'s root.
    pub fn build<B: Backend>(self, backend: B) -> Result<TemporaryDirectory<B>, Error> {
        TemporaryDirectory::make(backend, &self.prefix, &self.suffix)
    }

    /// Opens `root` with ambient authority and makes the directory in it.
    pub fn build_in<B: OpenRoot>(
        self,
        root: impl AsRef<Utf8Path>,
    ) -> Result<TemporaryDirectory<B>, Error> {
        name::check_affixes(&self.prefix, &self.suffix)?;
        self.build(B::open_root(root.as_ref())?)
    }
}

/// One securely created private directory, with unique names inside it and every file it
/// created tracked, so that cleanup removes exactly those and then the directory.
///
/// This is duplicity's `duplicity.tempdir.TemporaryDirectory`, with every operation made
/// through a directory handle instead of an absolute path. Where duplicity's own
/// documentation admits two weaknesses, this type closes them:
///
/// * when a tmp reaper removes the directory (and someone may make another at the same
///   path), the instance notices ([`status`](Self::status)), says so
///   ([`Error::Reaped`], [`Error::Replaced`]) and creates nothing through the path;
/// * cleanup removes a tracked name only while it still holds the file this instance
///   created (same device and inode), and removes the directory only while its name in the
///   root still leads to it.
///
/// Cleanup is **never recursive**: an entry nobody tracks keeps the directory, and the
/// [`CleanupReport`] says so. Dropping the instance cleans up.
///
/// Deliberately absent: a recursive delete (`tempfile::TempDir`'s `remove_dir_all`), and
/// duplicity's fallback of writing into the system temp dir after cleanup
/// ([`Error::CleanedUp`] instead).
///
/// ```
/// use std::io::Write;
/// use tempdir_core::TemporaryDirectory;
/// use tempdir_memory::{MemoryBackend, MemoryFs};
///
/// let fs = MemoryFs::with_seed(7);
/// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
///
/// let (mut file, path) = tmp.mkstemp()?;
/// file.write_all(b"volume 1")?;
/// assert!(tmp.is_tracked(&path));
///
/// let report = tmp.cleanup();
/// assert_eq!(report.removed, 1);
/// assert!(report.dir_removed && !fs.exists(tmp.dir()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TemporaryDirectory<B: Backend> {
    backend: B,
    /// The directory's name in the backend's root.
    name: Box<str>,
    /// `root/name`.
    path: Utf8PathBuf,
    /// The identity the directory had when made; the open handle keeps it meaningful.
    id: FileId,
    /// The handle, `None` once cleaned up. Operations hold the read side while they use
    /// it, so that cleanup (the write side) never runs under an operation in flight and an
    /// operation never creates a file cleanup would miss.
    handle: RwLock<Option<B::Dir>>,
    /// The per-instance counter that is part of every name handed out.
    counter: AtomicU64,
    /// Every name handed out or created and not yet forgotten, with the identity of the
    /// file this instance created there (`None` for `mktemp` names: the caller creates).
    /// Held only for in-memory work, never across a filesystem call.
    tracked: Mutex<Tracked>,
    /// What a cleanup could not finish (a failed unlink or rmdir), kept with the handle so
    /// that the next `cleanup` (or the drop) tries again. Its lock is held through a whole
    /// cleanup, so that cleanups run one at a time.
    leftovers: Mutex<Option<Leftovers<B::Dir>>>,
    /// The shared `flock` was refused when the directory was made: `keep_alive` asks again.
    unlocked: AtomicBool,
}

/// The unfinished part of a cleanup.
struct Leftovers<D> {
    dir: D,
    /// Tracked names whose removal failed, with the identity they were created with.
    names: Vec<(Box<str>, Option<FileId>)>,
    /// Tracked names left in place (they hold what this instance did not create): not
    /// tried again, and never reported as untracked.
    kept: Vec<Box<str>>,
}

impl<B: OpenRoot> TemporaryDirectory<B> {
    /// Makes a directory under the system temp dir (`TMPDIR`, else `/tmp`), as duplicity's
    /// `TemporaryDirectory()` and `tempfile::TempDir::new()` do.
    pub fn new() -> Result<Self, Error> {
        Self::new_in(B::default_root()?)
    }

    /// Makes a directory under `root` (duplicity's `temproot`, `tempfile`'s `new_in`).
    pub fn new_in(root: impl AsRef<Utf8Path>) -> Result<Self, Error> {
        Builder::new().build_in(root)
    }
}

impl<B: Backend> TemporaryDirectory<B> {
    /// Makes a directory in `backend`'s root, with the default name prefix. For another
    /// prefix or a suffix use [`Builder`].
    pub fn with_backend(backend: B) -> Result<Self, Error> {
        Builder::new().build(backend)
    }

    fn make(backend: B, prefix: &str, suffix: &str) -> Result<Self, Error> {
        name::check_affixes(prefix, suffix)?;
        for _ in 0..MAX_ATTEMPTS {
            let mut dir_name =
                String::with_capacity(prefix.len() + name::RANDOM_LEN + suffix.len());
            dir_name.push_str(prefix);
            name::push_random(&mut dir_name, backend.random());
            dir_name.push_str(suffix);
            let path = join(backend.root(), &dir_name);
            match backend.make_dir(&dir_name) {
                Ok((handle, id)) => {
                    let unlocked = lock_for_life(&backend, &handle, &path);
                    tracing::debug!(path = %path, "made temporary directory");
                    return Ok(TemporaryDirectory {
                        backend,
                        name: dir_name.into_boxed_str(),
                        path,
                        id,
                        handle: RwLock::new(Some(handle)),
                        counter: AtomicU64::new(0),
                        tracked: Mutex::new(Tracked::default()),
                        leftovers: Mutex::new(None),
                        unlocked: AtomicBool::new(unlocked),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tracing::debug!(path = %path, "directory name taken, trying another");
                }
                Err(e) => return Err(Error::io(Op::CreateDir, path, e)),
            }
        }
        Err(Error::TooManyCollisions {
            dir: backend.root().to_owned(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The absolute path of the directory (duplicity's `dir()`).
    pub fn dir(&self) -> &Utf8Path {
        &self.path
    }

    /// The backend, for what only it offers.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// A fresh name in the directory, tracked but not created: duplicity's `mktemp()`.
    ///
    /// The name is `mktemp-XXXXXXXX-N` (a random part and this instance's counter), so this
    /// instance never hands it out again, and it was free when handed out. A path is all
    /// this returns, so it is refused ([`Error::Reaped`], [`Error::Replaced`]) once the
    /// directory's path no longer leads to the directory.
    ///
    /// Prefer [`mkstemp`](Self::mkstemp): between this call and the caller's create,
    /// anything can happen to the name. To create the file safely later, pass the name to
    /// [`create`](Self::create).
    pub fn mktemp(&self) -> Result<Utf8PathBuf, Error> {
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        self.check_path()?;
        for _ in 0..MAX_ATTEMPTS {
            let name = self.next_name("mktemp");
            match self.backend.entry(dir, &name) {
                Ok(None) => {
                    let path = join(&self.path, &name);
                    self.tracked().insert(&name, None);
                    tracing::debug!(path = %path, "registered temporary name");
                    return Ok(path);
                }
                Ok(Some(_)) => tracing::debug!(name, "name taken, trying another"),
                Err(e) => return Err(self.failure(Op::Stat, &name, e)),
            }
        }
        Err(self.collisions())
    }

    /// Creates a fresh file in the directory and returns it open read-write with its
    /// path: duplicity's `mkstemp()`, `os.mkstemp` confined to this directory.
    ///
    /// The file is made create-new, without following symlinks, close-on-exec, mode
    /// exactly `0600`. A planted name is never opened: another is tried, up to a bound
    /// ([`Error::TooManyCollisions`]). Its identity is remembered so that cleanup removes
    /// it only while it is still this file. Once the directory was reaped or replaced,
    /// this fails closed ([`Error::Reaped`], [`Error::Replaced`]) and leaves no file.
    pub fn mkstemp(&self) -> Result<(B::File, Utf8PathBuf), Error> {
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        for _ in 0..MAX_ATTEMPTS {
            let name = self.next_name("mkstemp");
            match self.backend.create_file(dir, &name) {
                Ok((file, id)) => return self.adopt(dir, &name, file, id),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tracing::debug!(name, "name taken, trying another");
                }
                Err(e) => return Err(self.failure(Op::CreateFile, &name, e)),
            }
        }
        Err(self.collisions())
    }

    /// [`mkstemp`](Self::mkstemp) with the file wrapped in a buffer that reads, writes and
    /// seeks: duplicity's `mkstemp_file()`.
    pub fn mkstemp_file(&self) -> Result<(BufFile<B::File>, Utf8PathBuf), Error> {
        let (file, path) = self.mkstemp()?;
        Ok((BufFile::new(file), path))
    }

    /// Creates `name` (a bare name, or a path this instance handed out) as
    /// [`mkstemp`](Self::mkstemp) creates its files, and tracks it. A taken name is
    /// [`Error::AlreadyExists`] and nothing is opened. This is the safe way to create a
    /// name from [`mktemp`](Self::mktemp).
    pub fn create(&self, name: impl AsRef<Utf8Path>) -> Result<B::File, Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        match self.backend.create_file(dir, name) {
            Ok((file, id)) => self.adopt(dir, name, file, id).map(|(file, _)| file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists {
                path: join(&self.path, name),
            }),
            Err(e) => Err(self.failure(Op::CreateFile, name, e)),
        }
    }

    /// Opens the existing file `name` read-write, through the handle and without following
    /// symlinks. If this instance created the file, it must still be that file, else
    /// [`Error::Swapped`]; if it is gone, [`Error::Vanished`].
    pub fn open(&self, name: impl AsRef<Utf8Path>) -> Result<B::File, Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        let expected = self.created_id(name);
        match self.backend.open_file(dir, name) {
            Ok((file, id)) if expected.is_none_or(|want| want == id) => Ok(file),
            Ok(_) => Err(self.swapped(name)),
            Err(e) => {
                let error = self.failure(Op::OpenFile, name, e);
                if expected.is_none() || !matches!(error, Error::Io { .. }) {
                    return Err(error);
                }
                // What we created is not there to open: say what happened to it.
                match self.backend.entry(dir, name) {
                    Ok(None) => Err(Error::Vanished {
                        path: join(&self.path, name),
                    }),
                    // A symlink where we made a file fails to open (ELOOP).
                    Ok(Some(meta)) if expected.is_some_and(|want| !is_created(&meta, want)) => {
                        Err(self.swapped(name))
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// Unlinks the tracked `name` and forgets it. A name that is already gone is forgotten
    /// and is not an error; an untracked name is [`Error::NotTracked`] and nothing is
    /// removed; a name that no longer holds the file this instance created is
    /// [`Error::Swapped`] and stays (tracked, in place).
    pub fn remove(&self, name: impl AsRef<Utf8Path>) -> Result<(), Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        let Some(expected) = self.tracked().get(name) else {
            return Err(Error::NotTracked {
                path: join(&self.path, name),
            });
        };
        match self.backend.entry(dir, name) {
            Ok(None) => {}
            Ok(Some(meta)) if expected.is_some_and(|want| !is_created(&meta, want)) => {
                return Err(self.swapped(name));
            }
            Ok(Some(_)) => match self.backend.remove_file(dir, name) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.failure(Op::RemoveFile, name, e)),
            },
            Err(e) => return Err(self.failure(Op::Stat, name, e)),
        }
        // Forget it only if it is still what was removed: a create of the same name by
        // another thread in between registered a new file, which stays tracked.
        self.tracked().remove_if(name, expected);
        tracing::debug!(path = %join(&self.path, name), "removed temporary file");
        Ok(())
    }

    /// Stops tracking `name` without touching the file: duplicity's `forget()`, for a file
    /// the caller deleted or wants to keep. Returns whether it was tracked; an unknown name
    /// is logged as a warning, as duplicity does.
    pub fn forget(&self, name: impl AsRef<Utf8Path>) -> bool {
        let given = name.as_ref();
        let forgotten = match resolve(&self.path, given) {
            Ok(name) => self.tracked().remove(name).is_some(),
            Err(_) => false,
        };
        if forgotten {
            tracing::debug!(path = %given, "forgot temporary file");
        } else {
            tracing::warn!(path = %given, "attempt to forget unknown tempfile, probably a bug");
        }
        forgotten
    }

    /// Whether `name` is tracked: handed out or created, and neither forgotten nor removed.
    pub fn is_tracked(&self, name: impl AsRef<Utf8Path>) -> bool {
        resolve(&self.path, name.as_ref()).is_ok_and(|name| self.tracked().contains(name))
    }

    /// How many names are tracked.
    pub fn tracked_count(&self) -> usize {
        self.tracked().len()
    }

    /// Where the directory stands: [`DirStatus::Intact`] while its path leads to the
    /// directory this instance made, `Reaped` once nothing is there, `Replaced` once
    /// something else is, `CleanedUp` after [`cleanup`](Self::cleanup).
    pub fn status(&self) -> DirStatus {
        let handle = self.gate();
        match handle.as_ref() {
            None => DirStatus::CleanedUp,
            Some(dir) => self.probe(dir),
        }
    }

    /// Whether [`cleanup`](Self::cleanup) has run (or the instance was dropped): a check
    /// without any filesystem call, unlike [`status`](Self::status).
    pub fn is_cleaned_up(&self) -> bool {
        self.gate().is_none()
    }

    /// Refreshes the access and modification times of the directory and of every tracked
    /// file to now, through the handle and without following symlinks, so that tmpwatch,
    /// tmpreaper and systemd-tmpfiles see them as in use. Call it more often than the
    /// reaper's age (10 days for `/tmp` by default).
    ///
    /// Every entry is tried; the first failure is returned. A tracked name that is gone is
    /// skipped. A directory that is no longer at its path is [`Error::Reaped`] or
    /// [`Error::Replaced`]: refreshing it would protect nothing. If the directory's shared
    /// `flock` could not be taken when it was made (someone held `LOCK_EX` for longer than
    /// the retries), this asks for it again.
    pub fn keep_alive(&self) -> Result<(), Error> {
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        self.check_path()?;
        if self.unlocked.load(Ordering::Relaxed) && self.backend.lock_shared(dir).is_ok() {
            self.unlocked.store(false, Ordering::Relaxed);
            tracing::debug!(path = %self.path, "took the flock refused at construction");
        }
        self.backend
            .touch(dir, None)
            .map_err(|e| Error::io(Op::SetTimes, self.path.clone(), e))?;
        let names = self.tracked().names();
        let mut first_failure = None;
        for name in &names {
            match self.backend.touch(dir, Some(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_failure.get_or_insert(Error::io(Op::SetTimes, join(&self.path, name), e));
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Removes every tracked file and then the directory: duplicity's `cleanup()`.
    ///
    /// Through the handle, each tracked name is removed if it still holds what this
    /// instance put there (a name already gone counts as removed); anything else is left
    /// in place and reported. Then the directory is removed if it is empty and its name in
    /// the root still leads to it. **Never recursive.** Failures are logged and reported,
    /// never raised; this never panics. Afterwards no name is handed out
    /// ([`Error::CleanedUp`]). A later call tries again only what failed (an unlink that
    /// failed, a directory that could not be removed), so a transient error need not leave
    /// anything behind; once everything is done, later calls report nothing to do. Calls
    /// from several threads run one after the other: none returns while another is still
    /// removing files.
    pub fn cleanup(&self) -> CleanupReport {
        // Held for the whole cleanup, filesystem calls included (unlike the tracked set's
        // lock): a second caller waits here, then finds only what the first left to retry.
        let mut leftovers = lock(&self.leftovers);
        let mut retry = Vec::new();
        let (dir, mut report, mut kept) = {
            // Waits for operations in flight, then takes the handle: no operation can start
            // on it, and none can add a name this pass would miss.
            let mut handle = self.handle.write().unwrap_or_else(PoisonError::into_inner);
            match handle.take() {
                Some(dir) => {
                    let tracked = std::mem::take(&mut *self.tracked());
                    drop(handle);
                    let mut report = CleanupReport::new(DirStatus::Intact);
                    let sightings = self.survey(&dir, &tracked);
                    tracked.for_each(sightings.as_ref(), |name, created, seen| {
                        if !self.clean_entry(&dir, name, created, seen, &mut report) {
                            retry.push((name.into(), created));
                        }
                    });
                    (dir, report, Vec::new())
                }
                None => {
                    drop(handle);
                    let Some(left) = leftovers.take() else {
                        return CleanupReport::new(DirStatus::CleanedUp);
                    };
                    let mut report = CleanupReport::new(DirStatus::Intact);
                    for (name, created) in left.names {
                        let seen = Sighting::Unknown;
                        if !self.clean_entry(&left.dir, &name, created, seen, &mut report) {
                            retry.push((name, created));
                        }
                    }
                    (left.dir, report, left.kept)
                }
            }
        };
        kept.extend(
            report
                .left_in_place
                .iter()
                .filter_map(|path| path.file_name())
                .map(Box::from),
        );
        // Looked at last, to keep the window before the rmdir as short as it can be: POSIX
        // has no "remove this directory only if it is this inode". The rmdir goes ahead
        // only when the name was seen to lead to our directory.
        match self.check_path() {
            Ok(()) => {
                report.status = DirStatus::Intact;
                // Tracked names still there: left in place, now or before, or failed.
                let ours = kept.iter().chain(retry.iter().map(|(name, _)| name));
                self.remove_own_dir(&dir, ours.map(|name| &**name).collect(), &mut report);
            }
            Err(Error::Reaped { .. }) => {
                report.status = DirStatus::Reaped;
                tracing::warn!(path = %self.path, "temporary directory was reaped before cleanup");
            }
            Err(Error::Replaced { .. }) => {
                report.status = DirStatus::Replaced;
                tracing::warn!(path = %self.path, "temporary directory was replaced: leaving what is at its path alone");
            }
            Err(cannot_tell) => {
                report.status = self.probe(&dir);
                tracing::warn!(path = %self.path, error = %cannot_tell,
                    "cannot verify the temporary directory's name: not removing it");
                report.failures.push(cannot_tell);
            }
        }
        if !report.failures.is_empty() {
            // An operation failed: keep what is needed to try again. Otherwise (done, or
            // only entries nobody tracked keep the directory) closing the handle releases
            // the flock.
            *leftovers = Some(Leftovers {
                dir,
                names: retry,
                kept,
            });
        }
        report
    }

    /// What one listing of the directory shows at each tracked name: `None` where the
    /// backend says a listing cannot stand in for a look at each name
    /// ([`Backend::scan`]), or the listing failed; cleanup then looks at each name.
    fn survey<'t>(&self, dir: &B::Dir, tracked: &'t Tracked) -> Option<Sightings<'t>> {
        if tracked.len() < LISTING_PAYS_FROM {
            return None;
        }
        let mut sightings = tracked.sightings();
        let mut visit = |name: &str, listed: Listed| tracked.sight(&mut sightings, name, listed);
        match self.backend.scan(dir, &mut visit) {
            Ok(true) => Some(sightings),
            Ok(false) => None,
            Err(e) => {
                tracing::debug!(path = %self.path, error = %e, "cannot list the directory: looking at each name");
                None
            }
        }
    }

    /// Removes one tracked name if it still holds what this instance put there; `false`
    /// when an operation failed and a later cleanup should try again.
    fn clean_entry(
        &self,
        dir: &B::Dir,
        name: &str,
        created: Option<FileId>,
        seen: Sighting,
        report: &mut CleanupReport,
    ) -> bool {
        // The path is made only where it is reported: cleanup is one loop per file.
        let path = || join(&self.path, name);
        let found = match seen {
            Sighting::Absent => None,
            Sighting::Listed(Listed {
                ino,
                kind: Some(kind),
            }) => Some(Found::Listed { ino, kind }),
            // The listing did not say what kind it is, or there was none: look.
            Sighting::Listed(Listed { kind: None, .. }) | Sighting::Unknown => {
                match self.backend.entry(dir, name) {
                    Ok(meta) => meta.map(Found::Stat),
                    Err(e) => {
                        let path = path();
                        tracing::warn!(path = %path, error = %e, "cannot stat temporary file");
                        report.failures.push(Error::io(Op::Stat, path, e));
                        return false;
                    }
                }
            }
        };
        let Some(found) = found else {
            report.removed += 1;
            report.already_gone += 1;
            return true;
        };
        let left_in_place = |report: &mut CleanupReport| {
            let path = path();
            tracing::warn!(path = %path, "tracked name no longer holds our file: left in place");
            report.left_in_place.push(path);
            true
        };
        if !found.is_ours(created) {
            return left_in_place(report);
        }
        match self.backend.remove_file(dir, name) {
            Ok(()) => {
                tracing::debug!(path = %path(), "removed temporary file");
                report.removed += 1;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.removed += 1;
                report.already_gone += 1;
                true
            }
            Err(e) => {
                // A listing shows what lies under a mount point, not what is mounted there
                // (which refuses the unlink): a look at the name tells.
                if let Found::Listed { .. } = found
                    && let Ok(Some(meta)) = self.backend.entry(dir, name)
                    && !Found::Stat(meta).is_ours(created)
                {
                    return left_in_place(report);
                }
                let path = path();
                tracing::warn!(path = %path, error = %e, "cannot remove temporary file");
                report.failures.push(Error::io(Op::RemoveFile, path, e));
                false
            }
        }
    }

    /// Removes the directory, or says why not; `ours` are the tracked names still in it,
    /// which are not reported as untracked.
    fn remove_own_dir(&self, dir: &B::Dir, ours: HashSet<&str>, report: &mut CleanupReport) {
        match self.backend.remove_dir(&self.name) {
            Ok(()) => {
                tracing::debug!(path = %self.path, "removed temporary directory");
                report.dir_removed = true;
            }
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
                match self.backend.list(dir) {
                    Ok(mut names) => {
                        names.sort_unstable();
                        report.untracked = names
                            .iter()
                            .filter(|name| !ours.contains(name.as_str()))
                            .map(|name| join(&self.path, name))
                            .collect();
                    }
                    Err(e) => report
                        .failures
                        .push(Error::io(Op::ReadDir, self.path.clone(), e)),
                }
                tracing::warn!(path = %self.path, untracked = report.untracked.len(),
                    "temporary directory not removed: it holds entries nobody tracked");
            }
            Err(e) => {
                tracing::warn!(path = %self.path, error = %e, "cannot remove temporary directory");
                report
                    .failures
                    .push(Error::io(Op::RemoveDir, self.path.clone(), e));
            }
        }
    }

    /// Tracks a file just created through the handle, once its path is known to lead to
    /// it; otherwise removes it again and fails closed.
    fn adopt(
        &self,
        dir: &B::Dir,
        name: &str,
        file: B::File,
        id: FileId,
    ) -> Result<(B::File, Utf8PathBuf), Error> {
        // The create itself proved the directory alive: through the handle of a removed
        // directory it fails (ENOENT). A directory moved away and replaced at its path is
        // caught only by looking at the path.
        if let Err(e) = self.check_path() {
            drop(file);
            if let Err(remove) = self.backend.remove_file(dir, name) {
                // Tracked, so that cleanup tries again and reports it if it must.
                tracing::warn!(name, error = %remove, "cannot remove file made in a displaced directory");
                self.tracked().insert(name, Some(id));
            }
            return Err(e);
        }
        let path = join(&self.path, name);
        self.tracked().insert(name, Some(id));
        tracing::debug!(path = %path, "registered temporary file");
        Ok((file, path))
    }

    /// What the directory is, seen through the root handle and, failing that, its own.
    fn probe(&self, dir: &B::Dir) -> DirStatus {
        match self.backend.root_entry(&self.name) {
            Ok(Some(meta)) if meta.id == self.id => DirStatus::Intact,
            Ok(Some(_)) => DirStatus::Replaced,
            Ok(None) => DirStatus::Reaped,
            Err(e) => {
                // The root cannot be read; the handle still tells whether we were removed.
                tracing::debug!(path = %self.path, error = %e, "cannot look up the directory in its root");
                match self.backend.dir_meta(dir) {
                    Ok(meta) if meta.nlink == 0 => DirStatus::Reaped,
                    _ => DirStatus::Intact,
                }
            }
        }
    }

    /// `Ok` while the directory's path leads to it.
    fn check_path(&self) -> Result<(), Error> {
        match self.backend.root_entry(&self.name) {
            Ok(Some(meta)) if meta.id == self.id => Ok(()),
            Ok(Some(_)) => Err(Error::Replaced {
                path: self.path.clone(),
            }),
            Ok(None) => Err(Error::Reaped {
                path: self.path.clone(),
            }),
            Err(e) => Err(Error::io(Op::Stat, self.path.clone(), e)),
        }
    }

    /// Turns a failed operation on `name` into the error to return: the directory's fate
    /// if that is what went wrong, else the operation's own error.
    fn failure(&self, op: Op, name: &str, source: io::Error) -> Error {
        if let Err(gone @ (Error::Reaped { .. } | Error::Replaced { .. })) = self.check_path() {
            return gone;
        }
        Error::io(op, join(&self.path, name), source)
    }

    fn swapped(&self, name: &str) -> Error {
        Error::Swapped {
            path: join(&self.path, name),
        }
    }

    fn collisions(&self) -> Error {
        Error::TooManyCollisions {
            dir: self.path.clone(),
            attempts: MAX_ATTEMPTS,
        }
    }

    fn created_id(&self, name: &str) -> Option<FileId> {
        self.tracked().get(name).flatten()
    }

    /// `kind-XXXXXXXX-N`: the counter makes it unique for this instance, the random part
    /// unguessable for everyone else.
    fn next_name(&self, kind: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut name = String::with_capacity(kind.len() + name::RANDOM_LEN + 22);
        name.push_str(kind);
        name.push('-');
        name::push_random(&mut name, self.backend.random());
        name.push('-');
        name::push_decimal(&mut name, n);
        name
    }

    fn tracked(&self) -> MutexGuard<'_, Tracked> {
        lock(&self.tracked)
    }

    /// The read side of the handle: held while an operation uses the directory.
    fn gate(&self) -> RwLockReadGuard<'_, Option<B::Dir>> {
        self.handle.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What cleanup found at a tracked name: from a look at the name, or from the listing.
enum Found {
    Stat(Meta),
    Listed { ino: u64, kind: FileKind },
}

impl Found {
    fn kind(&self) -> FileKind {
        match self {
            Found::Stat(meta) => meta.kind,
            Found::Listed { kind, .. } => *kind,
        }
    }

    /// Whether this is the file this instance created with identity `id`. A listing shows
    /// no device and no birth time, so it is used only where the backend says the inode
    /// number alone decides ([`Backend::scan`]).
    fn is_created(&self, id: FileId) -> bool {
        match self {
            Found::Stat(meta) => is_created(meta, id),
            Found::Listed { ino, kind } => *ino == id.ino && *kind == FileKind::File,
        }
    }

    /// Whether cleanup may remove it: the file created with identity `created`, or for a
    /// `mktemp` name (the caller created it) anything but a directory.
    fn is_ours(&self, created: Option<FileId>) -> bool {
        match created {
            Some(id) => self.is_created(id),
            None => self.kind() != FileKind::Dir,
        }
    }
}

/// Whether `meta` is the file this instance created with identity `id`.
///
/// The kind is checked too: a file system may hand a freed inode number to the very next
/// entry made (ext4 does), so a symlink planted after our file was deleted can carry our
/// number. A regular file planted the same way is told apart by its birth time unless it
/// was made within the same clock tick (see [`FileId`]); that needs a same-uid actor
/// inside our `0700` directory.
fn is_created(meta: &Meta, id: FileId) -> bool {
    meta.id == id && meta.kind == FileKind::File
}

/// How long apart a shared lock refused with `WouldBlock` is asked for again, 31 ms in
/// all: systemd-tmpfiles holds `LOCK_EX` on a directory only while it looks inside, so a
/// new directory it happens to be looking at is free again within a moment.
const LOCK_RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(25),
];

/// Takes the shared `flock` the directory holds for the instance's life (SPEC §5). The
/// lock is one reaper's courtesy, not a condition for temporary files: without it the
/// instance carries on, and says why. Returns whether it was refused, so that
/// [`keep_alive`](TemporaryDirectory::keep_alive) asks again (not where there are no locks).
fn lock_for_life<B: Backend>(backend: &B, dir: &B::Dir, path: &Utf8Path) -> bool {
    let mut delays = LOCK_RETRY_DELAYS.iter();
    loop {
        match backend.lock_shared(dir) {
            Ok(()) => return false,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                tracing::debug!(path = %path, "no flock here: systemd-tmpfiles will not skip the directory");
                return false;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match delays.next() {
                Some(&delay) => std::thread::sleep(delay),
                None => {
                    tracing::warn!(path = %path, "temporary directory held locked by someone else: not locked yet");
                    return true;
                }
            },
            Err(e) => {
                tracing::warn!(path = %path, error = %e, "cannot flock the temporary directory");
                return true;
            }
        }
    }
}

/// Locks `mutex`, poisoned or not. The tracked set's lock is held only for in-memory work
/// that does not panic; the leftovers' lock is held through a cleanup, backend calls
/// included, and a backend that panicked there left at worst a retry list shorter than
/// it should be. Either way the data is consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B: Backend> Drop for TemporaryDirectory<B> {
    /// Cleans up, as [`cleanup`](Self::cleanup) does; what it reports is logged.
    fn drop(&mut self) {
        self.cleanup();
    }
}

impl<B: Backend> std::fmt::Debug for TemporaryDirectory<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryDirectory")
            .field("dir", &self.path)
            .field("tracked", &self.tracked_count())
            .finish_non_exhaustive()
    }
}
