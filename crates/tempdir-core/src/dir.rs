//! `TemporaryDirectory`: making the directory, handing out names and files, and status.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use crate::backend::{Backend, FileId, FileKind, Meta, OpenRoot};
use crate::cleanup::Leftovers;
use crate::name::{self, Entry, FreshName, Kind, Origin, Random, Tracked, join, resolve};
use crate::named::{DirRef, NamedTempFile};
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
#[non_exhaustive]
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

impl std::fmt::Display for DirStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DirStatus::Intact => "intact",
            DirStatus::Reaped => "reaped",
            DirStatus::Replaced => "replaced",
            DirStatus::CleanedUp => "cleaned up",
        })
    }
}

/// Options for what is made: a [`TemporaryDirectory`] (`build`, `build_in`) or a file in
/// one (`mkstemp`, `tempfile`, `named_tempfile`): the prefix and suffix of its name, as
/// `tempfile.mkdtemp(suffix, prefix, dir)` takes them, a file's mode, whether the root is
/// checked, and whether cleanup removes what nobody tracked.
///
/// ```
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::Builder;
/// use tempdirs::memory::{MemoryBackend, MemoryFs};
///
/// let fs = MemoryFs::new();
/// let tmp = Builder::new()
///     .prefix("duplicity-")
///     .suffix("-tempdir")
///     .build(MemoryBackend::new(&fs, "/tmp")?)?;
/// let name = tmp.dir().file_name().unwrap();
/// assert!(name.starts_with("duplicity-") && name.ends_with("-tempdir"));
///
/// let volume = Builder::new()
///     .prefix("vol")
///     .suffix(".difftar")
///     .permissions(0o640)
///     .named_tempfile(&tmp)?;
/// let name = volume.path().file_name().unwrap();
/// assert!(name.starts_with("vol") && name.ends_with(".difftar"));
/// assert_eq!(fs.metadata(volume.path())?.mode, 0o640);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder makes nothing until it is asked to"]
pub struct Builder {
    prefix: Option<String>,
    suffix: String,
    mode: Option<u32>,
    allow_unsafe_root: bool,
    remove_untracked: bool,
}

/// The name and mode of files to make, checked.
pub(crate) struct FileSpec<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) suffix: &'a str,
    pub(crate) mode: u32,
    /// The names are this crate's own kind (its prefix, no suffix): not kept as strings.
    pub(crate) kind: Option<Kind>,
}

impl FileSpec<'static> {
    /// Names of `kind`, mode `0600`.
    const fn of(kind: Kind) -> Self {
        FileSpec {
            prefix: kind.prefix(),
            suffix: "",
            mode: FILE_MODE,
            kind: Some(kind),
        }
    }
}

impl Builder {
    /// No prefix or suffix of its own (each thing made has its default), files `0600`, the
    /// root checked, cleanup non-recursive.
    pub fn new() -> Self {
        Self::default()
    }

    /// The start of the name of what is made: the directory (default [`DEFAULT_PREFIX`])
    /// or a file (`mkstemp-` for `mkstemp`, `tmp-` for the others). Checked when it is
    /// made: it must not contain `/` or NUL, and the whole name must fit in 255 bytes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The end of the name, after the random part (and a file's counter); checked like the
    /// prefix.
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = suffix.into();
        self
    }

    /// The mode of the files made (`0o600` by default), exactly, whatever the umask: what
    /// the umask may have taken is given back through the descriptor. The directory itself
    /// is always `0o700`, which every other defence relies on: building a directory with
    /// any other mode is [`Error::InvalidMode`]. Where there are no modes (WASI) it has no
    /// effect.
    pub fn permissions(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
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

    /// Makes [`cleanup`](TemporaryDirectory::cleanup) and the drop remove what nobody
    /// tracked too, as [`cleanup_all`](TemporaryDirectory::cleanup_all) does: for a test's
    /// directory, into which the code under test writes by path. Off by default: cleanup
    /// removes what this instance made, and nothing else.
    pub fn remove_untracked(mut self, remove: bool) -> Self {
        self.remove_untracked = remove;
        self
    }

    /// Makes the directory in `backend`'s root.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a prefix or suffix that cannot be part of a name,
    /// [`Error::InvalidMode`] for [`permissions`](Self::permissions) other than `0o700`,
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
    /// As [`build`](Self::build); [`Error::NonUtf8Path`] for a root that is not UTF-8, and
    /// [`Error::Io`] with [`Op::OpenRoot`] for one that cannot be opened.
    pub fn build_in<B: OpenRoot>(
        self,
        root: impl AsRef<Path>,
    ) -> Result<TemporaryDirectory<B>, Error> {
        self.check_dir_options()?;
        let root = name::utf8(root.as_ref())?;
        self.build(B::open_root(root)?)
    }

    /// Creates a fresh file in `tmp` with this builder's name and mode, tracked, as
    /// [`TemporaryDirectory::mkstemp`] does (prefix `mkstemp-` unless one is given).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] or [`Error::InvalidMode`] for options that cannot be used;
    /// otherwise as [`TemporaryDirectory::mkstemp`].
    pub fn mkstemp<B: Backend>(
        &self,
        tmp: &TemporaryDirectory<B>,
    ) -> Result<(B::File, Utf8PathBuf), Error> {
        let spec = self.file_spec(Kind::Mkstemp)?;
        let (file, fresh, _) = tmp.create_fresh(&spec)?;
        Ok((file, fresh.path))
    }

    /// Creates a file without a name in `tmp`, as [`TemporaryDirectory::tempfile`] does,
    /// with this builder's mode (and, where a name is needed for a moment, its prefix and
    /// suffix).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] or [`Error::InvalidMode`] for options that cannot be used;
    /// otherwise as [`TemporaryDirectory::tempfile`].
    pub fn tempfile<B: Backend>(&self, tmp: &TemporaryDirectory<B>) -> Result<B::File, Error> {
        tmp.unnamed(&self.file_spec(Kind::Tmp)?)
    }

    /// Creates a named temporary file in the directory `dir` holds (a
    /// `&TemporaryDirectory`, or an `Arc` of one such as the shared default instance):
    /// removed when dropped, moved into place by [`persist`](NamedTempFile::persist).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] or [`Error::InvalidMode`] for options that cannot be used;
    /// otherwise as [`TemporaryDirectory::mkstemp`].
    pub fn named_tempfile<D: DirRef>(&self, dir: D) -> Result<NamedTempFile<D>, Error> {
        let spec = self.file_spec(Kind::Tmp)?;
        let (file, fresh, entry) = dir.create_fresh(&spec)?;
        Ok(NamedTempFile::tracked(dir, file, fresh, entry, false))
    }

    /// Creates a named temporary file in a private directory of its own, made in
    /// `backend`'s root (with the default directory name) and removed with the file: what
    /// `NamedTempFile::new()` makes.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build) for the directory, then as
    /// [`named_tempfile`](Self::named_tempfile).
    pub fn named_tempfile_with_backend<B: Backend>(
        &self,
        backend: B,
    ) -> Result<NamedTempFile<Arc<TemporaryDirectory<B>>>, Error> {
        let spec = self.file_spec(Kind::Tmp)?;
        let dir = Arc::new(self.private_dir_options().build(backend)?);
        let (file, fresh, entry) = dir.create_fresh(&spec)?;
        Ok(NamedTempFile::tracked(dir, file, fresh, entry, true))
    }

    /// [`named_tempfile_with_backend`](Self::named_tempfile_with_backend) in `root`,
    /// opened with ambient authority: what `NamedTempFile::new_in(root)` makes.
    ///
    /// # Errors
    ///
    /// As [`build_in`](Self::build_in) for the directory, then as
    /// [`named_tempfile`](Self::named_tempfile).
    pub fn named_tempfile_in<B: OpenRoot>(
        &self,
        root: impl AsRef<Path>,
    ) -> Result<NamedTempFile<Arc<TemporaryDirectory<B>>>, Error> {
        // Nothing is opened or made for options that cannot be used.
        self.file_spec(Kind::Tmp)?;
        let root = name::utf8(root.as_ref())?;
        self.named_tempfile_with_backend(B::open_root(root)?)
    }

    /// The options of the directory a file of its own is made in: the defaults, but
    /// whether the root is checked.
    fn private_dir_options(&self) -> Builder {
        Builder::new().allow_unsafe_root(self.allow_unsafe_root)
    }

    fn dir_prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or(DEFAULT_PREFIX)
    }

    /// The directory's options, checked before anything is made.
    fn check_dir_options(&self) -> Result<(), Error> {
        name::check_affixes(self.dir_prefix(), &self.suffix)?;
        match self.mode {
            Some(mode) if mode != DIR_MODE => Err(Error::InvalidMode {
                mode,
                reason: "the temporary directory is always 0700",
            }),
            _ => Ok(()),
        }
    }

    /// The files' options, checked, with the prefix of `default` where none was given.
    fn file_spec(&self, default: Kind) -> Result<FileSpec<'_>, Error> {
        let prefix = self.prefix.as_deref().unwrap_or(default.prefix());
        name::check_file_affixes(prefix, &self.suffix)?;
        let mode = self.mode.unwrap_or(FILE_MODE);
        if mode & !0o7777 != 0 {
            return Err(Error::InvalidMode {
                mode,
                reason: "bits beyond 0o7777 are not permission bits",
            });
        }
        let own_kind = self.prefix.is_none() && self.suffix.is_empty();
        Ok(FileSpec {
            prefix,
            suffix: &self.suffix,
            mode,
            kind: own_kind.then_some(default),
        })
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
/// Cleanup is **not recursive**: an entry nobody tracks keeps the directory, and the
/// [`CleanupReport`](crate::CleanupReport) says so. Dropping the instance cleans up. For a
/// test's directory, which code under test writes into by path, [`adopt`](Self::adopt)
/// tracks an entry, and [`cleanup_all`](Self::cleanup_all) (or
/// [`Builder::remove_untracked`]) removes every entry, through handles alone.
///
/// Deliberately absent: a recursive delete by path (`tempfile::TempDir`'s
/// `remove_dir_all`), and duplicity's fallback of writing into the system temp dir after
/// cleanup ([`Error::CleanedUp`] instead).
///
/// Files: [`mkstemp`](Self::mkstemp) and [`create`](Self::create) (tracked until
/// [`cleanup`](Self::cleanup)), [`named_tempfile`](Self::named_tempfile) (removed when
/// dropped, moved into place by [`persist`](crate::NamedTempFile::persist)),
/// [`tempfile`](Self::tempfile) (no name at all), and [`Builder`] for a prefix, a suffix
/// or a mode.
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
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
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
    /// The last generation drawn: every name tracked gets the next, and the names this
    /// instance makes carry theirs.
    generations: AtomicU64,
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
    /// The platform has permission bits (not WASI): a file's mode can be set.
    has_modes: bool,
    /// Cleanup removes untracked entries too ([`Builder::remove_untracked`]).
    pub(crate) remove_untracked: bool,
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
    pub fn new_in(root: impl AsRef<Path>) -> Result<Self, Error> {
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
        options.check_dir_options()?;
        let prefix = options.dir_prefix();
        let me = backend.euid();
        if !options.allow_unsafe_root {
            check_root(&backend, me)?;
        }
        let random = Random::new(backend.seed());
        for _ in 0..MAX_ATTEMPTS {
            let mut dir_name =
                String::with_capacity(prefix.len() + name::RANDOM_LEN + options.suffix.len());
            dir_name.push_str(prefix);
            name::push_random(&mut dir_name, random.fresh());
            dir_name.push_str(&options.suffix);
            let path = join(backend.root(), &dir_name);
            match backend.make_dir(&dir_name, DIR_MODE) {
                Ok(()) => {
                    let made = open_made_dir(&backend, &dir_name, &path, me)?;
                    let handle = made.dir;
                    let unlocked = lock_for_life(&backend, &handle, &path);
                    tracing::debug!(target: "tempdirs", path = %path, "made temporary directory");
                    return Ok(TemporaryDirectory {
                        backend,
                        name: dir_name.into_boxed_str(),
                        path,
                        id: made.id,
                        handle: RwLock::new(Some(handle)),
                        random,
                        generations: AtomicU64::new(0),
                        tracked: Mutex::new(Tracked::default()),
                        leftovers: Mutex::new(None),
                        unlocked: AtomicBool::new(unlocked),
                        chmod_files: made.umask_takes_owner_bits,
                        has_modes: made.has_modes,
                        remove_untracked: options.remove_untracked,
                        owner_pid: name::process_id(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tracing::debug!(target: "tempdirs", path = %path, "directory name taken, trying another");
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
        let dir = usable(&handle)?;
        self.check_path(dir)?;
        let (fresh, entry) = self.next_name(&FileSpec::of(Kind::Mktemp));
        self.tracked().insert(fresh.name(), entry, &self.random);
        tracing::debug!(target: "tempdirs", path = %fresh.path, "registered temporary name");
        Ok(fresh.path)
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
    // `#[inline]`, as `remove`: the hint lets the compiler build each into the caller's
    // code and fold the layers under it together. In the bench's W2 loop it took `remove`
    // whole, and the pair measured 2-3% of a create and an unlink closer to the floor
    // (`--phases`), with W1 unchanged.
    #[inline]
    pub fn mkstemp(&self) -> Result<(B::File, Utf8PathBuf), Error> {
        let (file, fresh, _) = self.create_fresh(&FileSpec::of(Kind::Mkstemp))?;
        Ok((file, fresh.path))
    }

    /// A fresh file named and made as `spec` says, tracked: its name and how it is
    /// tracked.
    #[inline]
    pub(crate) fn create_fresh(
        &self,
        spec: &FileSpec<'_>,
    ) -> Result<(B::File, FreshName, Entry), Error> {
        let handle = self.gate();
        let dir = usable(&handle)?;
        for _ in 0..MAX_ATTEMPTS {
            let (fresh, entry) = self.next_name(spec);
            match self.create_tracked(dir, fresh.name(), entry, spec.mode) {
                Ok(file) => return Ok((file, fresh, entry)),
                Err(e) => self.create_failed(dir, fresh.name(), e)?,
            }
        }
        Err(Error::TooManyCollisions {
            dir: self.path.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// What [`create_fresh`](Self::create_fresh) does when a create failed: `Ok` to try
    /// another name when this one was taken, else the error to return.
    #[cold]
    #[inline(never)]
    fn create_failed(&self, dir: &B::Dir, name: &str, error: io::Error) -> Result<(), Error> {
        if error.kind() == io::ErrorKind::AlreadyExists {
            tracing::debug!(target: "tempdirs", name, "name taken, trying another");
            return Ok(());
        }
        Err(self.failure(dir, Op::CreateFile, name, error))
    }

    /// A file without a name, read-write, mode `0600`: Python's
    /// `tempfile.TemporaryFile(dir=...)`, made through the handle. Where the kernel can
    /// (Linux's `O_TMPFILE`), the file never has a name at all; elsewhere it is created
    /// under a fresh name, as [`mkstemp`](Self::mkstemp) creates, and unlinked at once.
    /// Either way nothing is left to track or to clean up: the file goes when it is
    /// closed.
    ///
    /// ```
    /// use std::io::{Read, Seek, Write};
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::new();
    /// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    /// let mut scratch = tmp.tempfile()?;
    /// scratch.write_all(b"spill")?;
    /// scratch.rewind()?;
    /// let mut back = String::new();
    /// scratch.read_to_string(&mut back)?;
    /// assert_eq!(back, "spill");
    /// assert!(fs.read_dir(tmp.dir())?.is_empty(), "no name, ever");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::CleanedUp`]; [`Error::Reaped`] or [`Error::Replaced`] when the create
    /// failed because the directory is gone; [`Error::Io`] (with [`Op::RemoveFile`] when
    /// the name made for a moment could not be unlinked: it stays tracked, and cleanup
    /// removes it).
    pub fn tempfile(&self) -> Result<B::File, Error> {
        self.unnamed(&FileSpec::of(Kind::Tmp))
    }

    pub(crate) fn unnamed(&self, spec: &FileSpec<'_>) -> Result<B::File, Error> {
        {
            let handle = self.gate();
            let dir = usable(&handle)?;
            match self.backend.create_unnamed(dir, spec.mode) {
                Ok(file) => {
                    if self.needs_chmod(spec.mode) {
                        self.backend
                            .set_file_mode(&file, spec.mode)
                            .map_err(|e| Error::io(Op::SetMode, self.path.clone(), e))?;
                    }
                    tracing::debug!(target: "tempdirs", dir = %self.path, "created unnamed temporary file");
                    return Ok(file);
                }
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
                Err(e) => {
                    return Err(match self.check_path(dir) {
                        Err(gone) => gone,
                        Ok(()) => Error::io(Op::CreateFile, self.path.clone(), e),
                    });
                }
            }
        }
        // No unnamed files here: a name for as long as one unlink takes.
        let (file, fresh, entry) = self.create_fresh(spec)?;
        self.remove_entry(fresh.name(), entry)?;
        Ok(file)
    }

    /// A named temporary file in this directory, mode `0600`, removed when dropped (as
    /// `tempfile::NamedTempFile`): [`persist`](NamedTempFile::persist) moves it into
    /// place, [`keep`](NamedTempFile::keep) leaves it. For a prefix, a suffix or another
    /// mode, use [`Builder::named_tempfile`].
    ///
    /// ```
    /// use std::io::Write;
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::new();
    /// fs.create_dir("/tmp/srv")?;
    /// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    /// let mut file = tmp.named_tempfile()?;
    /// file.write_all(b"[settings]")?;
    /// // The error holds the file, which borrows `tmp`: `?` into `Box<dyn Error>` takes
    /// // the error alone.
    /// file.persist("/tmp/srv/app.conf").map_err(|failed| failed.error)?;
    /// assert_eq!(fs.read("/tmp/srv/app.conf")?, b"[settings]");
    /// assert_eq!(tmp.tracked_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`mkstemp`](Self::mkstemp).
    pub fn named_tempfile(&self) -> Result<NamedTempFile<&Self>, Error> {
        Builder::new().named_tempfile(self)
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
    pub fn create(&self, name: impl AsRef<Path>) -> Result<B::File, Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = usable(&handle)?;
        let entry = Entry {
            generation: self.next_generation(),
            origin: Origin::Kept { created: true },
        };
        match self.create_tracked(dir, name, entry, FILE_MODE) {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists {
                path: join(&self.path, name),
            }),
            Err(e) => Err(self.failure(dir, Op::CreateFile, name, e)),
        }
    }

    /// The one way a named file is made: create-new through the handle, `mode` whatever
    /// the umask, then tracked.
    #[inline]
    fn create_tracked(
        &self,
        dir: &B::Dir,
        name: &str,
        entry: Entry,
        mode: u32,
    ) -> io::Result<B::File> {
        let mut file = self.backend.create_file(dir, name, mode)?;
        if self.needs_chmod(mode) {
            file = self.set_created_mode(dir, name, file, mode)?;
        }
        self.tracked().insert(name, entry, &self.random);
        self.log_file(FileEvent::Created, name);
        Ok(file)
    }

    /// Sets the mode of `file`, just made at `name`; on failure, closes and unlinks it again,
    /// so that nothing is left behind.
    #[cold]
    #[inline(never)]
    fn set_created_mode(
        &self,
        dir: &B::Dir,
        name: &str,
        file: B::File,
        mode: u32,
    ) -> io::Result<B::File> {
        if let Err(e) = self.backend.set_file_mode(&file, mode) {
            drop(file);
            let _ = self.backend.remove_file(dir, name);
            return Err(e);
        }
        Ok(file)
    }

    /// The debug event of what was done to the file `name`: the check whether anyone
    /// listens stays in the hot path, the event is built out of it.
    #[inline]
    pub(crate) fn log_file(&self, event: FileEvent, name: &str) {
        if debug_enabled() {
            self.emit_file_event(event, name);
        }
    }

    #[cold]
    #[inline(never)]
    fn emit_file_event(&self, event: FileEvent, name: &str) {
        match event {
            FileEvent::Created => {
                tracing::debug!(target: "tempdirs", name, dir = %self.path, "created temporary file")
            }
            FileEvent::Removed => {
                tracing::debug!(target: "tempdirs", name, dir = %self.path, "removed temporary file")
            }
        }
    }

    /// Whether a file created with `mode` needs it set again through its descriptor: when
    /// the umask takes the owner's bits (known from the directory), or the mode has bits
    /// beyond the owner's, which the umask may take (it is not known which). `0600` under
    /// an ordinary umask needs nothing: `mkstemp` stays one `openat`.
    fn needs_chmod(&self, mode: u32) -> bool {
        self.has_modes && (self.chmod_files || mode & !DIR_MODE != 0)
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
    pub fn open(&self, name: impl AsRef<Path>) -> Result<B::File, Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = usable(&handle)?;
        let tracked = self.tracked().get(name, &self.random);
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
                    Ok(None) if entry.created() => Err(Error::Vanished {
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
    #[inline]
    pub fn remove(&self, name: impl AsRef<Path>) -> Result<(), Error> {
        let given = name.as_ref();
        let name = name::candidate_name(&self.path, given)?;
        let handle = self.gate();
        // Taken out of the set before the unlink, and put back if the unlink is refused:
        // one lock, not one to look and one to forget. The gate stays held, so no cleanup
        // runs in between and misses it.
        let taken = match handle.as_ref() {
            Some(dir) => self.tracked().take(name, &self.random).map(|e| (dir, e)),
            None => None,
        };
        match taken {
            Some((dir, entry)) => self.unlink_taken(dir, name, entry),
            None => Err(self.not_removed(&handle, given, name)),
        }
    }

    /// Why [`remove`](Self::remove) found nothing to unlink at `name`: a tracked name is
    /// an entry name by construction, so only now is `name` checked as one.
    #[cold]
    #[inline(never)]
    fn not_removed(&self, handle: &Option<B::Dir>, given: &Path, name: &str) -> Error {
        if let Err(e) = name::check_name(&self.path, given, name) {
            return e;
        }
        match handle {
            None => Error::CleanedUp,
            Some(_) => Error::NotTracked {
                path: join(&self.path, name),
            },
        }
    }

    /// Stops tracking `name` without touching the file: duplicity's `forget()`, for a file
    /// the caller deleted or wants to keep. Returns whether it was tracked; an unknown name
    /// is logged as a warning, as duplicity does.
    pub fn forget(&self, name: impl AsRef<Path>) -> bool {
        let given = name.as_ref();
        let forgotten = match resolve(&self.path, given) {
            Ok(name) => self.tracked().remove(name, &self.random),
            Err(_) => false,
        };
        if forgotten {
            tracing::debug!(target: "tempdirs", path = %given.display(), "forgot temporary file");
        } else {
            tracing::warn!(target: "tempdirs", path = %given.display(), "attempt to forget unknown tempfile, probably a bug");
        }
        forgotten
    }

    /// Tracks `name`, an entry made inside the directory by someone else (code that writes
    /// by path: a program under test, a tool run there), so that cleanup removes it as it
    /// removes the files this instance made. A directory can be adopted too, but only
    /// [`cleanup_all`](Self::cleanup_all) removes one (with what is in it);
    /// [`cleanup`](Self::cleanup) reports it left in place. Adopting a tracked name again
    /// changes nothing.
    ///
    /// ```
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::new();
    /// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    /// fs.write(tmp.dir().join("report.xml"), "<ok/>")?; // the code under test
    /// tmp.adopt("report.xml")?;
    /// assert!(tmp.cleanup().is_complete());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`], [`Error::OutsideDirectory`] or [`Error::NonUtf8Path`] for a
    /// name that is not one entry of this directory; [`Error::CleanedUp`]; [`Error::Io`]
    /// with [`Op::Stat`] when nothing is at the name (`NotFound`) or it cannot be looked
    /// at; [`Error::Reaped`] or [`Error::Replaced`] when that is because the directory is
    /// gone.
    pub fn adopt(&self, name: impl AsRef<Path>) -> Result<(), Error> {
        let name = resolve(&self.path, name.as_ref())?;
        let handle = self.gate();
        let dir = usable(&handle)?;
        // One look, so that adopting a name that holds nothing (a typo) is said.
        match self.backend.entry(dir, name) {
            Ok(Some(_)) => {}
            Ok(None) => {
                let missing = io::Error::from(io::ErrorKind::NotFound);
                return Err(self.failure(dir, Op::Stat, name, missing));
            }
            Err(e) => return Err(self.failure(dir, Op::Stat, name, e)),
        }
        let mut tracked = self.tracked();
        if !tracked.contains(name, &self.random) {
            let entry = Entry {
                generation: self.next_generation(),
                origin: Origin::Kept { created: false },
            };
            tracked.insert(name, entry, &self.random);
            tracing::debug!(target: "tempdirs", name, dir = %self.path, "adopted entry");
        }
        Ok(())
    }

    /// Gives the directory up: it and every file in it stay where they are, and no cleanup
    /// ever runs for it (`tempfile::TempDir::keep`). Returns its path. It does not look
    /// whether the directory is still there; [`status`](Self::status) does, before.
    pub fn keep(self) -> Utf8PathBuf {
        // What a cleanup left to retry is given up too: nothing is removed any more.
        drop(lock(&self.leftovers).take());
        drop(
            self.handle
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        self.tracked().clear();
        tracing::debug!(target: "tempdirs", path = %self.path, "keeping temporary directory");
        // The drop that follows finds nothing to clean up.
        self.path.clone()
    }

    /// Unlinks `name` if it is still tracked as `entry` (a name forgotten, or made again
    /// since, is left alone), and forgets it. Nothing to do once cleaned up: cleanup
    /// unlinked it.
    pub(crate) fn remove_entry(&self, name: &str, entry: Entry) -> Result<(), Error> {
        let handle = self.gate();
        let Some(dir) = handle.as_ref() else {
            return Ok(());
        };
        if !self.tracked().remove_if(name, entry) {
            return Ok(());
        }
        self.unlink_taken(dir, name, entry)
    }

    /// Unlinks `name` through `dir`: it was tracked as `entry` and has just been taken out
    /// of the set, with the gate held. Nothing touches the set after a successful unlink,
    /// so a file another thread then creates at the same name stays tracked.
    #[inline]
    fn unlink_taken(&self, dir: &B::Dir, name: &str, entry: Entry) -> Result<(), Error> {
        if let Err(e) = self.backend.remove_file(dir, name) {
            self.unlink_refused(dir, name, entry, e)?;
        }
        self.log_file(FileEvent::Removed, name);
        Ok(())
    }

    /// What [`unlink_taken`](Self::unlink_taken) does when the unlink failed: a name
    /// already gone is as good as removed; anything else (a directory or a mount point at
    /// the name) is left in place, tracked again, and the failure returned.
    #[cold]
    #[inline(never)]
    fn unlink_refused(
        &self,
        dir: &B::Dir,
        name: &str,
        entry: Entry,
        error: io::Error,
    ) -> Result<(), Error> {
        if error.kind() == io::ErrorKind::NotFound {
            return Ok(());
        }
        self.tracked().insert(name, entry, &self.random);
        Err(self.failure(dir, Op::RemoveFile, name, error))
    }

    /// Stops tracking `name` as `entry` because its file is kept; refused once the
    /// directory's path no longer leads to it, since the path is what the caller keeps.
    pub(crate) fn keep_entry(&self, name: &str, entry: Entry) -> Result<(), Error> {
        let handle = self.gate();
        let dir = usable(&handle)?;
        self.check_path(dir)?;
        self.tracked().remove_if(name, entry);
        tracing::debug!(target: "tempdirs", name, dir = %self.path, "keeping temporary file");
        Ok(())
    }

    /// Moves the tracked `name` to `dest` with one rename through handles, and forgets
    /// it. With `replace` false, anything at `dest` is left alone and the rename refused.
    pub(crate) fn persist_entry(
        &self,
        name: &str,
        entry: Entry,
        dest: &Path,
        replace: bool,
    ) -> Result<(), Error> {
        let dest = name::utf8(dest)?;
        let (parent, to) = self.destination(dest)?;
        let handle = self.gate();
        let dir = usable(&handle)?;
        let to_dir = if self.backend.ambient_authority() {
            self.backend.open_dir_ambient(parent)
        } else {
            self.backend.open_dir_beneath(parent)
        }
        .map_err(|e| Error::io(Op::Persist, parent_for_messages(dest), e))?;
        if let Err(e) = self.backend.rename_to(dir, name, &to_dir, to, replace) {
            let path = || join(&self.path, name);
            let dest = dest.to_owned();
            return Err(match e.kind() {
                io::ErrorKind::AlreadyExists if !replace => Error::AlreadyExists { path: dest },
                io::ErrorKind::CrossesDevices => Error::CrossesDevices { path: path(), dest },
                io::ErrorKind::NotFound => match self.check_path(dir) {
                    Err(gone) => gone,
                    // Either ours is gone from its name (a reaper) or the destination's
                    // directory was removed meanwhile: a look says which.
                    Ok(()) => match self.backend.entry(dir, name) {
                        Ok(None) => Error::Vanished { path: path() },
                        _ => Error::io(Op::Persist, dest, e),
                    },
                },
                _ => Error::io(Op::Persist, dest, e),
            });
        }
        self.tracked().remove_if(name, entry);
        tracing::debug!(target: "tempdirs", name, dest = %dest, "persisted temporary file");
        Ok(())
    }

    /// Splits `dest` into the directory to open and the name in it. With ambient authority
    /// the directory is the one named; without, it must lie beneath the root (lexically:
    /// no `..`), and is named relative to it.
    fn destination<'a>(&self, dest: &'a Utf8Path) -> Result<(&'a Utf8Path, &'a str), Error> {
        let invalid = |reason| Error::InvalidName {
            name: dest.to_string(),
            reason,
        };
        // `a/b/` and `a/b/.` name the directory `b`, not an entry to make in it.
        let to = match dest.file_name() {
            Some(to) if dest.as_str().ends_with(to) => to,
            _ => return Err(invalid("does not end with a file name")),
        };
        if to.len() > name::NAME_MAX {
            return Err(invalid("longer than 255 bytes"));
        }
        let parent = dest.parent().unwrap_or(Utf8Path::new(""));
        if self.backend.ambient_authority() {
            if parent.as_str().is_empty() {
                return Ok((Utf8Path::new("."), to));
            }
            return Ok((parent, to));
        }
        let outside = || Error::OutsideRoot {
            path: dest.to_owned(),
            root: self.backend.root().to_owned(),
        };
        let beneath = parent
            .strip_prefix(self.backend.root())
            .map_err(|_| outside())?;
        if beneath
            .components()
            .any(|c| !matches!(c, camino::Utf8Component::Normal(_)))
        {
            return Err(outside());
        }
        Ok((beneath, to))
    }

    /// Whether `name` is tracked: handed out or created, and neither forgotten nor removed.
    pub fn is_tracked(&self, name: impl AsRef<Path>) -> bool {
        resolve(&self.path, name.as_ref())
            .is_ok_and(|name| self.tracked().contains(name, &self.random))
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
        let dir = usable(&handle)?;
        self.check_path(dir)?;
        if self.unlocked.load(Ordering::Relaxed) && self.backend.lock_shared(dir).is_ok() {
            self.unlocked.store(false, Ordering::Relaxed);
            tracing::debug!(target: "tempdirs", path = %self.path, "took the flock refused at construction");
        }
        self.backend
            .touch(dir, None)
            .map_err(|e| Error::io(Op::SetTimes, self.path.clone(), e))?;
        let names: Vec<Box<str>> = {
            let tracked = self.tracked();
            let mut names = Vec::with_capacity(tracked.len());
            tracked.each(&self.random, |name| names.push(Box::from(name)));
            names
        };
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
                tracing::debug!(target: "tempdirs", path = %self.path, error = %e, "cannot look up the directory in its root");
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

    /// `{prefix}XXXXXXXX-N{suffix}` and `N`, the generation it is tracked at.
    #[inline]
    fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A fresh name made as `spec` says, and how it is tracked once made.
    #[inline]
    fn next_name(&self, spec: &FileSpec<'_>) -> (FreshName, Entry) {
        let generation = self.next_generation();
        let random = self.random.of_generation(generation);
        let fresh = FreshName::new(&self.path, spec.prefix, random, generation, spec.suffix);
        let origin = match spec.kind {
            Some(kind) => Origin::Made(kind),
            None => Origin::Kept { created: true },
        };
        (fresh, Entry { generation, origin })
    }

    pub(crate) fn tracked(&self) -> MutexGuard<'_, Tracked> {
        lock(&self.tracked)
    }

    /// The read side of the handle: held while an operation uses the directory.
    fn gate(&self) -> RwLockReadGuard<'_, Option<B::Dir>> {
        self.handle.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The directory's handle, or [`Error::CleanedUp`] once cleanup took it. The error is made
/// only when it is returned: the hot paths drop nothing when the handle is there.
#[inline]
fn usable<D>(handle: &Option<D>) -> Result<&D, Error> {
    match handle {
        Some(dir) => Ok(dir),
        None => Err(Error::CleanedUp),
    }
}

/// Whether a debug event would be seen by anyone: two loads and a compare. The hot paths
/// ask this first and build their events out of line, so that the common case runs nothing
/// else between two system calls.
#[inline]
fn debug_enabled() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::DEBUG <= STATIC_MAX_LEVEL && tracing::Level::DEBUG <= LevelFilter::current()
}

/// What a hot path did to a file, for its debug event.
#[derive(Clone, Copy)]
pub(crate) enum FileEvent {
    Created,
    Removed,
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
    /// The platform has permission bits.
    has_modes: bool,
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
        tracing::warn!(target: "tempdirs", path = %path, "the directory opened is not the one made: leaving it alone");
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
        has_modes: meta.mode.is_some(),
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
                tracing::debug!(target: "tempdirs", path = %path, "no flock here: systemd-tmpfiles will not skip the directory");
                return false;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match delays.next() {
                Some(&delay) => std::thread::sleep(delay),
                None => {
                    tracing::warn!(target: "tempdirs", path = %path, "temporary directory held locked by someone else: not locked yet");
                    return true;
                }
            },
            Err(e) => {
                tracing::warn!(target: "tempdirs", path = %path, error = %e, "cannot flock the temporary directory");
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

/// The directory's path, so that a `TemporaryDirectory` goes wherever a path does
/// (`std::fs`, `Command::current_dir`), as `tempfile::TempDir` does.
impl<B: Backend> AsRef<Path> for TemporaryDirectory<B> {
    fn as_ref(&self) -> &Path {
        self.path.as_std_path()
    }
}

/// The directory holding `dest`, for messages.
fn parent_for_messages(dest: &Utf8Path) -> Utf8PathBuf {
    match dest.parent() {
        Some(parent) if !parent.as_str().is_empty() => parent.to_owned(),
        _ => Utf8PathBuf::from("."),
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
