//! `TemporaryDirectory`: making the directory, handing out names and files, and status.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use crate::backend::{Backend, FileId, FileKind, Meta, OpenRoot};
use crate::cleanup::Leftovers;
use crate::name::{self, Entry, Random, Tracked, join, resolve};
use crate::{BufFile, Error, Op, RootProblem};

/// How many names are tried before giving up with [`Error::TooManyCollisions`]. With 41
/// random bits per name, a collision is either an attack or broken randomness.
pub(crate) const MAX_ATTEMPTS: u32 = 128;

/// The directory's mode: the owner's alone.
const DIR_MODE: u32 = 0o700;
/// A file's mode: the owner may read and write.
const FILE_MODE: u32 = 0o600;

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

/// Options for making a [`TemporaryDirectory`]: the prefix and suffix of its name, as
/// `tempfile.mkdtemp(suffix, prefix, dir)` takes them, and whether the root is checked.
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
    allow_unsafe_root: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            prefix: DEFAULT_PREFIX.to_owned(),
            suffix: String::new(),
            allow_unsafe_root: false,
        }
    }
}

impl Builder {
    /// Prefix [`DEFAULT_PREFIX`], no suffix, the root checked.
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

    /// Builds even in a root that is not safe ([`Error::UnsafeRoot`]): owned by another
    /// user, or writable by others without the sticky bit. There, whoever may write to the
    /// root can rename or remove the directory, and a path this instance hands out may
    /// lead into theirs; the handle still keeps every file operation inside the directory
    /// made. For unusual setups only (a container whose `/tmp` lost its sticky bit).
    pub fn allow_unsafe_root(mut self, allow: bool) -> Self {
        self.allow_unsafe_root = allow;
        self
    }

    /// Makes the directory in `backend`'s root.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a prefix or suffix that cannot be part of a name,
    /// [`Error::UnsafeRoot`] for a root others control, [`Error::TooManyCollisions`] when
    /// every name tried was taken, [`Error::Replaced`] when what was opened at the new name
    /// is not the directory made, and [`Error::Io`] when the filesystem refuses.
    pub fn build<B: Backend>(self, backend: B) -> Result<TemporaryDirectory<B>, Error> {
        TemporaryDirectory::make(backend, &self)
    }

    /// Opens `root` with ambient authority and makes the directory in it.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and [`Error::Io`] with [`Op::OpenRoot`] for a root that
    /// cannot be opened.
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
///   path), the handle still points at the removed directory, where nothing can be made:
///   the instance fails closed and says why ([`Error::Reaped`], [`Error::Replaced`],
///   [`status`](Self::status));
/// * cleanup unlinks names through the handle, which never follows a symlink and never
///   removes a directory, and removes the directory only after making sure that what it
///   removes is the directory it made.
///
/// Cleanup is **never recursive**: an entry nobody tracks keeps the directory, and the
/// [`CleanupReport`](crate::CleanupReport) says so. Dropping the instance cleans up.
///
/// Deliberately absent: a recursive delete (`tempfile::TempDir`'s `remove_dir_all`), and
/// duplicity's fallback of writing into the system temp dir after cleanup
/// ([`Error::CleanedUp`] instead).
///
/// # fork
///
/// Only the process that made an instance cleans it up. A child made with `fork` may use
/// the files and names it inherited, but its `cleanup()` and its drop remove nothing (the
/// parent's instance still owns the directory), and files it creates are tracked only in
/// its own copy: a child that needs temporary files makes an instance of its own.
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
    pub(crate) backend: B,
    /// The directory's name in the backend's root.
    pub(crate) name: Box<str>,
    /// `root/name`.
    pub(crate) path: Utf8PathBuf,
    /// The identity the directory had when made; the open handle keeps it meaningful.
    pub(crate) id: FileId,
    /// The handle, `None` once cleaned up. Operations hold the read side while they use
    /// it, so that cleanup (the write side) never runs under an operation in flight and an
    /// operation never creates a file cleanup would miss.
    pub(crate) handle: RwLock<Option<B::Dir>>,
    /// The random parts of names.
    pub(crate) random: Random,
    /// The per-instance counter that is part of every name handed out.
    counter: AtomicU64,
    /// Every name handed out or created and not yet forgotten. Held only for in-memory
    /// work, never across a filesystem call.
    pub(crate) tracked: Mutex<Tracked>,
    /// What a cleanup could not finish, kept with the handle so that the next `cleanup`
    /// (or the drop) tries again. Its lock is held through a whole cleanup, so that
    /// cleanups run one at a time.
    pub(crate) leftovers: Mutex<Option<Leftovers<B::Dir>>>,
    /// The shared `flock` was refused when the directory was made: `keep_alive` asks again.
    unlocked: AtomicBool,
    /// The umask takes owner bits: a new file's mode is made `0600` through its descriptor.
    chmod_files: bool,
    /// The process that made the instance, the only one that cleans it up.
    pub(crate) owner_pid: u32,
}

impl<B: OpenRoot> TemporaryDirectory<B> {
    /// Makes a directory under the system temp dir (`TMPDIR`, else `/tmp`), as duplicity's
    /// `TemporaryDirectory()` and `tempfile::TempDir::new()` do.
    ///
    /// # Errors
    ///
    /// As [`Builder::build_in`]; a `TMPDIR` that is not UTF-8 is [`Error::NonUtf8Path`].
    pub fn new() -> Result<Self, Error> {
        Self::new_in(B::default_root()?)
    }

    /// Makes a directory under `root` (duplicity's `temproot`, `tempfile`'s `new_in`).
    ///
    /// # Errors
    ///
    /// As [`Builder::build_in`].
    pub fn new_in(root: impl AsRef<Utf8Path>) -> Result<Self, Error> {
        Builder::new().build_in(root)
    }
}

impl<B: Backend> TemporaryDirectory<B> {
    /// Makes a directory in `backend`'s root, with the default name prefix. For another
    /// prefix or a suffix use [`Builder`].
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn with_backend(backend: B) -> Result<Self, Error> {
        Builder::new().build(backend)
    }

    fn make(backend: B, options: &Builder) -> Result<Self, Error> {
        name::check_affixes(&options.prefix, &options.suffix)?;
        let me = backend.euid();
        if !options.allow_unsafe_root {
            check_root(&backend, me)?;
        }
        let random = Random::new(backend.seed());
        for _ in 0..MAX_ATTEMPTS {
            let mut dir_name = String::with_capacity(
                options.prefix.len() + name::RANDOM_LEN + options.suffix.len(),
            );
            dir_name.push_str(&options.prefix);
            name::push_random(&mut dir_name, random.next());
            dir_name.push_str(&options.suffix);
            let path = join(backend.root(), &dir_name);
            match backend.make_dir(&dir_name, DIR_MODE) {
                Ok(()) => {
                    let made = open_made_dir(&backend, &dir_name, &path, me)?;
                    let handle = made.dir;
                    let unlocked = lock_for_life(&backend, &handle, &path);
                    tracing::debug!(path = %path, "made temporary directory");
                    return Ok(TemporaryDirectory {
                        backend,
                        name: dir_name.into_boxed_str(),
                        path,
                        id: made.id,
                        handle: RwLock::new(Some(handle)),
                        random,
                        counter: AtomicU64::new(0),
                        tracked: Mutex::new(Tracked::default()),
                        leftovers: Mutex::new(None),
                        unlocked: AtomicBool::new(unlocked),
                        chmod_files: made.umask_takes_owner_bits,
                        owner_pid: name::process_id(),
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
    /// instance never hands it out again. A path is all this returns, so it is refused
    /// ([`Error::Reaped`], [`Error::Replaced`]) once the directory's path no longer leads
    /// to the directory.
    ///
    /// Prefer [`mkstemp`](Self::mkstemp): between this call and the caller's create,
    /// anything can happen to the path. To create the file safely later, pass the name to
    /// [`create`](Self::create).
    ///
    /// # Errors
    ///
    /// [`Error::CleanedUp`], [`Error::Reaped`], [`Error::Replaced`].
    pub fn mktemp(&self) -> Result<Utf8PathBuf, Error> {
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        self.check_path(dir)?;
        let (name, generation) = self.next_name("mktemp");
        let path = join(&self.path, &name);
        let entry = Entry {
            generation,
            created: false,
        };
        self.tracked().insert(&name, entry);
        tracing::debug!(path = %path, "registered temporary name");
        Ok(path)
    }

    /// Creates a fresh file in the directory and returns it open read-write with its
    /// path: duplicity's `mkstemp()`, `os.mkstemp` confined to this directory.
    ///
    /// The file is made through the directory's handle: create-new, without following
    /// symlinks, close-on-exec, mode exactly `0600`. A taken name is never opened: another
    /// is tried, up to a bound. Once the directory was reaped, the create fails (nothing
    /// can be made in a removed directory) and this says so.
    ///
    /// # Errors
    ///
    /// [`Error::CleanedUp`]; [`Error::Reaped`] or [`Error::Replaced`] when the create failed
    /// because the directory is gone; [`Error::TooManyCollisions`]; [`Error::Io`].
    pub fn mkstemp(&self) -> Result<(B::File, Utf8PathBuf), Error> {
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        for _ in 0..MAX_ATTEMPTS {
            let (name, generation) = self.next_name("mkstemp");
            match self.create_tracked(dir, &name, generation) {
                Ok(file) => return Ok((file, join(&self.path, &name))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tracing::debug!(name, "name taken, trying another");
                }
                Err(e) => return Err(self.failure(dir, Op::CreateFile, &name, e)),
            }
        }
        Err(Error::TooManyCollisions {
            dir: self.path.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// [`mkstemp`](Self::mkstemp) with the file wrapped in a buffer that reads, writes and
    /// seeks: duplicity's `mkstemp_file()`.
    ///
    /// # Errors
    ///
    /// As [`mkstemp`](Self::mkstemp).
    pub fn mkstemp_file(&self) -> Result<(BufFile<B::File>, Utf8PathBuf), Error> {
        let (file, path) = self.mkstemp()?;
        Ok((BufFile::new(file), path))
    }

    /// Creates `name` (a bare name, or a path this instance handed out) as
    /// [`mkstemp`](Self::mkstemp) creates its files, and tracks it. This is the safe way to
    /// create a name from [`mktemp`](Self::mktemp).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] or [`Error::OutsideDirectory`] for a name that is not one
    /// entry of this directory; [`Error::AlreadyExists`] when the name is taken (nothing is
    /// opened); otherwise as [`mkstemp`](Self::mkstemp).
    pub fn create(&self, name: impl AsRef<Utf8Path>) -> Result<B::File, Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        let generation = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        match self.create_tracked(dir, name, generation) {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists {
                path: join(&self.path, name),
            }),
            Err(e) => Err(self.failure(dir, Op::CreateFile, name, e)),
        }
    }

    /// The one way a file is made: create-new through the handle, `0600` whatever the
    /// umask, then tracked.
    fn create_tracked(&self, dir: &B::Dir, name: &str, generation: u64) -> io::Result<B::File> {
        let file = self.backend.create_file(dir, name, FILE_MODE)?;
        if self.chmod_files
            && let Err(e) = self.backend.set_file_mode(&file, FILE_MODE)
        {
            drop(file);
            // Nothing is left behind: the name holds the file just made.
            let _ = self.backend.remove_file(dir, name);
            return Err(e);
        }
        let entry = Entry {
            generation,
            created: true,
        };
        self.tracked().insert(name, entry);
        tracing::debug!(name, dir = %self.path, "created temporary file");
        Ok(file)
    }

    /// Opens the existing regular file `name` read-write, through the handle and without
    /// following symlinks; a FIFO or a device at the name is opened without blocking and
    /// refused.
    ///
    /// # Errors
    ///
    /// [`Error::Swapped`] when a tracked name holds a symlink or anything but a regular
    /// file; [`Error::Vanished`] when a file this instance created is gone (a reaper removed
    /// it); [`Error::Reaped`] or [`Error::Replaced`] when the directory is gone;
    /// [`Error::Io`] otherwise, with the kernel's kind (`NotFound`, `IsADirectory`, a
    /// symlink's `ELOOP`) or `InvalidInput` for an untracked FIFO, socket or device.
    pub fn open(&self, name: impl AsRef<Utf8Path>) -> Result<B::File, Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        let tracked = self.tracked().get(name);
        match self.backend.open_file(dir, name) {
            Ok((file, FileKind::File)) => Ok(file),
            Ok(_) if tracked.is_some() => Err(self.swapped(name)),
            Ok(_) => Err(Error::io(
                Op::OpenFile,
                join(&self.path, name),
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            )),
            Err(e) => {
                let error = self.failure(dir, Op::OpenFile, name, e);
                let Some(entry) = tracked else {
                    return Err(error);
                };
                if !matches!(error, Error::Io { .. }) {
                    return Err(error);
                }
                // What we track is not there to open: say what happened to it.
                match self.backend.entry(dir, name) {
                    Ok(None) if entry.created => Err(Error::Vanished {
                        path: join(&self.path, name),
                    }),
                    Ok(Some(meta)) if meta.kind != FileKind::File => Err(self.swapped(name)),
                    _ => Err(error),
                }
            }
        }
    }

    /// Unlinks the tracked `name` through the handle and forgets it. A name that is already
    /// gone is forgotten and is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::NotTracked`] for a name this instance does not track (nothing is removed);
    /// [`Error::Io`] with [`Op::RemoveFile`] when the unlink is refused (a directory or a
    /// mount point at the name): the name stays tracked.
    pub fn remove(&self, name: impl AsRef<Utf8Path>) -> Result<(), Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        let Some(entry) = self.tracked().get(name) else {
            return Err(Error::NotTracked {
                path: join(&self.path, name),
            });
        };
        match self.backend.remove_file(dir, name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.failure(dir, Op::RemoveFile, name, e)),
        }
        // Forget it only if it is still what was removed: a create of the same name by
        // another thread in between tracked a new file, which stays tracked.
        self.tracked().remove_if(name, entry);
        tracing::debug!(name, dir = %self.path, "removed temporary file");
        Ok(())
    }

    /// Stops tracking `name` without touching the file: duplicity's `forget()`, for a file
    /// the caller deleted or wants to keep. Returns whether it was tracked; an unknown name
    /// is logged as a warning, as duplicity does.
    pub fn forget(&self, name: impl AsRef<Utf8Path>) -> bool {
        let given = name.as_ref();
        let forgotten = match resolve(&self.path, given) {
            Ok(name) => self.tracked().remove(name),
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
    ///
    /// It looks at the directory's name in the root, and where that cannot be seen (a root
    /// without search permission, a sandbox refusing the call) at the handle: a removed
    /// directory has no links left. When neither can be seen, it says `Intact`: a refused
    /// call is no evidence of an attack.
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
    /// reaper's age (10 days for `/tmp` by default). If the directory's shared `flock`
    /// could not be taken when it was made (someone held `LOCK_EX` for longer than the
    /// retries), this asks for it again.
    ///
    /// # Errors
    ///
    /// [`Error::Reaped`] or [`Error::Replaced`] when the directory is no longer at its path
    /// (refreshing it would protect nothing); otherwise every entry is tried and the first
    /// failure is returned ([`Error::Io`] with [`Op::SetTimes`]). A tracked name that is
    /// gone is skipped.
    pub fn keep_alive(&self) -> Result<(), Error> {
        let handle = self.gate();
        let dir = handle.as_ref().ok_or(Error::CleanedUp)?;
        self.check_path(dir)?;
        if self.unlocked.load(Ordering::Relaxed) && self.backend.lock_shared(dir).is_ok() {
            self.unlocked.store(false, Ordering::Relaxed);
            tracing::debug!(path = %self.path, "took the flock refused at construction");
        }
        self.backend
            .touch(dir, None)
            .map_err(|e| Error::io(Op::SetTimes, self.path.clone(), e))?;
        let names: Vec<Box<str>> = self.tracked().names().map(Box::from).collect();
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

    /// What the directory is: from its name in the root, else from the handle.
    pub(crate) fn probe(&self, dir: &B::Dir) -> DirStatus {
        match self.backend.root_entry(&self.name) {
            Ok(Some(meta)) if meta.id == self.id => DirStatus::Intact,
            Ok(Some(_)) => DirStatus::Replaced,
            Ok(None) => DirStatus::Reaped,
            Err(e) => {
                tracing::debug!(path = %self.path, error = %e, "cannot look up the directory in its root");
                match self.backend.dir_meta(dir) {
                    Ok(meta) if meta.nlink == 0 => DirStatus::Reaped,
                    _ => DirStatus::Intact,
                }
            }
        }
    }

    /// `Ok` unless the directory was seen reaped or replaced (see [`probe`](Self::probe)).
    fn check_path(&self, dir: &B::Dir) -> Result<(), Error> {
        let path = || self.path.clone();
        match self.probe(dir) {
            DirStatus::Reaped => Err(Error::Reaped { path: path() }),
            DirStatus::Replaced => Err(Error::Replaced { path: path() }),
            _ => Ok(()),
        }
    }

    /// Turns a failed operation on `name` into the error to return: the directory's fate
    /// if that is what went wrong, else the operation's own error.
    fn failure(&self, dir: &B::Dir, op: Op, name: &str, source: io::Error) -> Error {
        match self.check_path(dir) {
            Err(gone) => gone,
            Ok(()) => Error::io(op, join(&self.path, name), source),
        }
    }

    fn swapped(&self, name: &str) -> Error {
        Error::Swapped {
            path: join(&self.path, name),
        }
    }

    /// `kind-XXXXXXXX-N` and `N`, the generation it is tracked at.
    fn next_name(&self, kind: &str) -> (String, u64) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        (name::file_name(kind, self.random.next(), n), n)
    }

    pub(crate) fn tracked(&self) -> MutexGuard<'_, Tracked> {
        lock(&self.tracked)
    }

    /// The read side of the handle: held while an operation uses the directory.
    fn gate(&self) -> RwLockReadGuard<'_, Option<B::Dir>> {
        self.handle.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses a root that others control: owned by another uid than ours and root's, or
/// writable by group or others without the sticky bit. Such a root lets them rename our
/// directory away and put theirs at its path. Where the platform has no owners or modes,
/// there is nothing to check.
fn check_root<B: Backend>(backend: &B, me: Option<u32>) -> Result<(), Error> {
    let root = backend
        .root_meta()
        .map_err(|e| Error::io(Op::OpenRoot, backend.root().to_owned(), e))?;
    let problem = match (root.uid, me, root.mode) {
        (Some(owner), Some(me), _) if owner != me && owner != 0 => RootProblem::NotOwned { owner },
        (_, _, Some(mode)) if mode & 0o022 != 0 && mode & 0o1000 == 0 => {
            RootProblem::WritableNotSticky { mode }
        }
        _ => return Ok(()),
    };
    Err(Error::UnsafeRoot {
        path: backend.root().to_owned(),
        problem,
    })
}

/// The directory just made, opened and checked.
struct MadeDir<D> {
    dir: D,
    id: FileId,
    /// The umask took bits from the owner: files need their mode set through the
    /// descriptor too.
    umask_takes_owner_bits: bool,
}

/// Opens the directory just made at `name` and makes sure it is ours: a directory, owned by
/// our euid, with no bits for group or others. Its mode is then made exactly `0700`
/// through the handle, whatever the umask took away (or a set-group-ID root added).
///
/// Where the umask took the owner's read or search bit, the open is refused; the mode is
/// then given back by name first, after looking that the name holds a directory of ours.
/// In a root that passed [`check_root`] only we and root can change what is at our name.
fn open_made_dir<B: Backend>(
    backend: &B,
    name: &str,
    path: &Utf8Path,
    me: Option<u32>,
) -> Result<MadeDir<B::Dir>, Error> {
    let undo = |op, e| {
        // Only an empty directory can go, and it can only be ours, just made.
        let _ = backend.remove_dir(name);
        Error::io(op, path.to_owned(), e)
    };
    let replaced = || {
        // Someone else's, swapped in between the mkdir and the open: left alone.
        tracing::warn!(path = %path, "the directory opened is not the one made: leaving it alone");
        Error::Replaced {
            path: path.to_owned(),
        }
    };
    let mut repaired = false;
    let dir = match backend.open_dir(name) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            // The chmod follows a symlink: it is made only on a directory of ours.
            match backend.root_entry(name) {
                Ok(Some(meta)) if is_our_dir(&meta, me) => {}
                Ok(_) => return Err(replaced()),
                Err(e) => return Err(undo(Op::Stat, e)),
            }
            repaired = true;
            backend
                .set_mode_at(name, DIR_MODE)
                .and_then(|()| backend.open_dir(name))
        }
        opened => opened,
    }
    .map_err(|e| undo(Op::CreateDir, e))?;
    let meta = backend.dir_meta(&dir).map_err(|e| undo(Op::Stat, e))?;
    if !is_our_dir(&meta, me) {
        return Err(replaced());
    }
    if meta.mode.is_some_and(|mode| mode & 0o7777 != DIR_MODE) {
        backend
            .set_dir_mode(&dir, DIR_MODE)
            .map_err(|e| undo(Op::SetMode, e))?;
    }
    Ok(MadeDir {
        dir,
        id: meta.id,
        umask_takes_owner_bits: repaired
            || meta.mode.is_some_and(|mode| mode & DIR_MODE != DIR_MODE),
    })
}

/// Whether `meta` is a directory this process made private: a directory, owned by our
/// euid `me`, with no bits for group or others.
fn is_our_dir(meta: &Meta, me: Option<u32>) -> bool {
    meta.kind == FileKind::Dir
        && meta.uid.zip(me).is_none_or(|(uid, me)| uid == me)
        && meta.mode.is_none_or(|mode| mode & 0o077 == 0)
}

/// How long apart a shared lock refused with `WouldBlock` is asked for again, 31 ms in
/// all: systemd-tmpfiles holds `LOCK_EX` on a directory only while it looks inside, so a
/// new directory it happens to be looking at is free again within a moment.
const LOCK_RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(25),
];

/// Takes the shared `flock` the directory holds for the instance's life, which
/// systemd-tmpfiles honours by skipping the directory. The lock is one reaper's courtesy,
/// not a condition for temporary files: without it the instance carries on, and says why.
/// Returns whether it was refused, so that [`keep_alive`](TemporaryDirectory::keep_alive)
/// asks again (not where there are no locks).
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
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B: Backend> Drop for TemporaryDirectory<B> {
    /// Cleans up, as [`cleanup`](Self::cleanup) does; what it reports is logged.
    fn drop(&mut self) {
        let _ = self.cleanup();
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
