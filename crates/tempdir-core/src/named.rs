//! `NamedTempFile`: a tracked file that removes its name when dropped, and moves into place
//! with one rename.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

use crate::Error;
use crate::backend::{Backend, OpenRoot};
use crate::dir::{Builder, TemporaryDirectory};
use crate::name::{Entry, FreshName};

/// What holds the [`TemporaryDirectory`] a [`NamedTempFile`] lives in: a borrow
/// (`&TemporaryDirectory<B>`, from [`TemporaryDirectory::named_tempfile`]) or a share
/// (`Arc<TemporaryDirectory<B>>`, such as the shared default instance, or the private
/// directory `NamedTempFile::new()` makes).
pub trait DirRef: Deref<Target = TemporaryDirectory<Self::Backend>> + Sized {
    /// The backend of the directory.
    type Backend: Backend;

    /// Gives the directory up as [`TemporaryDirectory::keep`] does, if this holder is its
    /// only one. [`NamedTempFile::keep`] calls it for a file that has a directory of its
    /// own, so that the kept file does not lose its directory; a borrow does nothing.
    fn keep_if_sole(self) {}
}

impl<B: Backend> DirRef for &TemporaryDirectory<B> {
    type Backend = B;
}

impl<B: Backend> DirRef for Arc<TemporaryDirectory<B>> {
    type Backend = B;

    fn keep_if_sole(self) {
        if let Ok(dir) = Arc::try_unwrap(self) {
            let _ = dir.keep();
        }
    }
}

/// The file type of the backend behind `D`.
type FileOf<D> = <<D as DirRef>::Backend as Backend>::File;

/// A temporary file with a name, removed when dropped: `tempfile::NamedTempFile`, made
/// through a directory handle inside a [`TemporaryDirectory`] and tracked there.
///
/// [`persist`](Self::persist) moves it into place with one rename (replacing what is
/// there), [`persist_noclobber`](Self::persist_noclobber) without replacing anything,
/// [`keep`](Self::keep) leaves it where it is. A failed `persist` hands the file back
/// inside the [`PersistError`], so nothing is lost; across filesystems it fails with
/// [`Error::CrossesDevices`] and never copies.
///
/// `D` holds the directory: `&TemporaryDirectory<B>` for
/// [`TemporaryDirectory::named_tempfile`], `Arc<TemporaryDirectory<B>>` for
/// [`NamedTempFile::new`] and [`new_in`](Self::new_in), which make the file in a private
/// directory of its own and remove that with it. The `tempdirs` facade names the latter
/// `tempdirs::NamedTempFile`.
///
/// Dropping it unlinks the name (through the directory's handle) if the instance still
/// tracks it; a failure there is logged, and the instance's cleanup tries again.
/// [`close`](Self::close) says what happened.
#[must_use = "dropping a NamedTempFile removes the file at once"]
pub struct NamedTempFile<D: DirRef> {
    file: FileOf<D>,
    name: TempName<D>,
}

/// The name's part of a [`NamedTempFile`]: it removes the name when dropped, unless it was
/// given up.
struct TempName<D: DirRef> {
    /// `None` once the name was given up (persisted, kept, closed).
    dir: Option<D>,
    name: Box<str>,
    path: Utf8PathBuf,
    entry: Entry,
    /// The directory was made for this file alone.
    private_dir: bool,
}

impl<D: DirRef> TempName<D> {
    fn dir(&self) -> &TemporaryDirectory<D::Backend> {
        // Some until a method that consumes the file takes it.
        self.dir
            .as_deref()
            .expect("the directory is held until the name is given up")
    }
}

impl<D: DirRef> Drop for TempName<D> {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take()
            && let Err(e) = dir.remove_entry(&self.name, self.entry)
        {
            tracing::warn!(target: "tempdirs", path = %self.path, error = %e, "cannot remove temporary file");
        }
    }
}

impl<B: OpenRoot> NamedTempFile<Arc<TemporaryDirectory<B>>> {
    /// A named temporary file in a private directory of its own under the system temp dir
    /// (`TMPDIR`, else `/tmp`), as `tempfile::NamedTempFile::new()`: the directory is made
    /// as [`TemporaryDirectory::new`] makes one, and removed with the file.
    ///
    /// # Errors
    ///
    /// As [`TemporaryDirectory::new`], then as [`TemporaryDirectory::mkstemp`].
    pub fn new() -> Result<Self, Error> {
        Self::new_in(B::default_root()?)
    }

    /// A named temporary file in a private directory of its own under `root`, as
    /// `tempfile::NamedTempFile::new_in(root)`. Make it on the filesystem of the
    /// destination you will [`persist`](Self::persist) it to.
    ///
    /// # Errors
    ///
    /// As [`TemporaryDirectory::new_in`], then as [`TemporaryDirectory::mkstemp`].
    pub fn new_in(root: impl AsRef<Path>) -> Result<Self, Error> {
        Builder::new().named_tempfile_in(root)
    }
}

impl<B: Backend> NamedTempFile<Arc<TemporaryDirectory<B>>> {
    /// A named temporary file in a private directory of its own, made in `backend`'s root.
    ///
    /// # Errors
    ///
    /// As [`TemporaryDirectory::with_backend`], then as [`TemporaryDirectory::mkstemp`].
    pub fn with_backend(backend: B) -> Result<Self, Error> {
        Builder::new().named_tempfile_with_backend(backend)
    }
}

// The error gives the file back, as tempfile's does. It exceeds clippy's size limit only on
// Windows, where a file handle is larger; boxing it would change the public field.
#[allow(clippy::result_large_err)]
impl<D: DirRef> NamedTempFile<D> {
    pub(crate) fn tracked(
        dir: D,
        file: FileOf<D>,
        fresh: FreshName,
        entry: Entry,
        private_dir: bool,
    ) -> Self {
        NamedTempFile {
            file,
            name: TempName {
                dir: Some(dir),
                name: fresh.name().into(),
                path: fresh.path,
                entry,
                private_dir,
            },
        }
    }

    /// Its absolute path.
    pub fn path(&self) -> &Utf8Path {
        &self.name.path
    }

    /// The temporary directory it lives in.
    pub fn directory(&self) -> &TemporaryDirectory<D::Backend> {
        self.name.dir()
    }

    /// The open file.
    pub fn as_file(&self) -> &FileOf<D> {
        &self.file
    }

    /// The open file, to write or seek.
    pub fn as_file_mut(&mut self) -> &mut FileOf<D> {
        &mut self.file
    }

    /// Opens the file again, through the directory's handle and without following a
    /// symlink: a second descriptor with a position of its own (`tempfile`'s `reopen`).
    ///
    /// # Errors
    ///
    /// As [`TemporaryDirectory::open`].
    pub fn reopen(&self) -> Result<FileOf<D>, Error> {
        self.name.dir().open(&*self.name.name)
    }

    /// Moves the file to `dest`, replacing whatever file is there, with one rename: from
    /// the directory's handle to the destination's directory, opened once (by path with
    /// ambient authority; without it, `dest` must lie beneath the backend's root and is
    /// opened relative to the root's handle). The name is no longer tracked; the file is
    /// returned, still open.
    ///
    /// ```
    /// use std::io::Write;
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::new();
    /// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    /// fs.write("/tmp/index", "old")?;
    /// let mut file = tmp.named_tempfile()?;
    /// file.write_all(b"new")?;
    /// file.persist("/tmp/index").map_err(|failed| failed.error)?;
    /// assert_eq!(fs.read("/tmp/index")?, b"new");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`PersistError`] holding the file and why: [`Error::CrossesDevices`] for another
    /// filesystem (nothing is copied); [`Error::OutsideRoot`] for a destination a backend
    /// without ambient authority cannot name; [`Error::InvalidName`] for a destination
    /// that does not end with a file name; [`Error::NonUtf8Path`]; [`Error::Vanished`]
    /// when a reaper removed the file; [`Error::Reaped`] or [`Error::Replaced`] when the
    /// directory is gone; [`Error::CleanedUp`]; [`Error::Io`] with [`Op::Persist`] for the
    /// rest (a directory at `dest` is `IsADirectory`).
    ///
    /// [`Op::Persist`]: crate::Op::Persist
    pub fn persist(self, dest: impl AsRef<Path>) -> Result<FileOf<D>, PersistError<D>> {
        self.persist_with(dest.as_ref(), true)
    }

    /// Moves the file to `dest` as [`persist`](Self::persist) does, but never replaces
    /// anything there: `renameat2(RENAME_NOREPLACE)` on Linux, `RENAME_EXCL` on macOS,
    /// `link` then `unlink` elsewhere, each atomic.
    ///
    /// # Errors
    ///
    /// As [`persist`](Self::persist); anything at `dest` is [`Error::AlreadyExists`], and
    /// is left as it was.
    pub fn persist_noclobber(self, dest: impl AsRef<Path>) -> Result<FileOf<D>, PersistError<D>> {
        self.persist_with(dest.as_ref(), false)
    }

    fn persist_with(self, dest: &Path, replace: bool) -> Result<FileOf<D>, PersistError<D>> {
        let done = self
            .name
            .dir()
            .persist_entry(&self.name.name, self.name.entry, dest, replace);
        match done {
            Ok(()) => {
                let NamedTempFile { file, mut name } = self;
                // Given up: the drop of the holder may clean a private directory up, now
                // empty.
                drop(name.dir.take());
                Ok(file)
            }
            Err(error) => Err(PersistError { error, file: self }),
        }
    }

    /// Leaves the file where it is: the name is no longer tracked, and nothing removes it.
    /// Returns the file and its path. A file with a directory of its own
    /// ([`new`](Self::new)) keeps that directory too.
    ///
    /// # Errors
    ///
    /// A [`PersistError`] holding the file: [`Error::CleanedUp`] when the instance was
    /// cleaned up (the name is gone already), [`Error::Reaped`] or [`Error::Replaced`]
    /// when the path no longer leads to the directory, so that the path returned would
    /// not lead to the file.
    pub fn keep(self) -> Result<(FileOf<D>, Utf8PathBuf), PersistError<D>> {
        let done = self.name.dir().keep_entry(&self.name.name, self.name.entry);
        match done {
            Ok(()) => {
                let NamedTempFile { file, mut name } = self;
                let path = std::mem::take(&mut name.path);
                if let Some(dir) = name.dir.take()
                    && name.private_dir
                {
                    dir.keep_if_sole();
                }
                Ok((file, path))
            }
            Err(error) => Err(PersistError { error, file: self }),
        }
    }

    /// Removes the file now, saying what went wrong (the drop only logs it).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with [`Op::RemoveFile`](crate::Op::RemoveFile) when the unlink is
    /// refused; [`Error::Reaped`] or [`Error::Replaced`] when the directory is gone. A name
    /// already gone, or no longer tracked, is not an error.
    pub fn close(self) -> Result<(), Error> {
        let NamedTempFile { file, mut name } = self;
        drop(file);
        let Some(dir) = name.dir.take() else {
            return Ok(());
        };
        dir.remove_entry(&name.name, name.entry)
    }
}

impl<D: DirRef> fmt::Debug for NamedTempFile<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedTempFile")
            .field("path", &self.name.path)
            .field("file", &self.file)
            .finish()
    }
}

impl<D: DirRef> AsRef<Path> for NamedTempFile<D> {
    fn as_ref(&self) -> &Path {
        self.name.path.as_std_path()
    }
}

impl<D: DirRef> Read for NamedTempFile<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl<D: DirRef> Write for NamedTempFile<D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl<D: DirRef> Seek for NamedTempFile<D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A [`persist`](NamedTempFile::persist) or [`keep`](NamedTempFile::keep) that failed:
/// why, and the file, still tracked and removed when dropped, to try again or give up
/// (`tempfile::PersistError`).
///
/// `?` turns it into an [`Error`] or an [`io::Error`] (the file is then dropped, and so
/// removed), and into a `Box<dyn Error>` when `D` is `'static` (an `Arc`). For a file that
/// borrows its directory, take the error alone: `.map_err(|failed| failed.error)?`.
pub struct PersistError<D: DirRef> {
    /// Why it failed.
    pub error: Error,
    /// The file, as it was.
    pub file: NamedTempFile<D>,
}

impl<D: DirRef> PersistError<D> {
    /// The file back, to try again.
    pub fn into_file(self) -> NamedTempFile<D> {
        self.file
    }
}

impl<D: DirRef> fmt::Debug for PersistError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistError")
            .field("error", &self.error)
            .field("file", &self.file)
            .finish()
    }
}

impl<D: DirRef> fmt::Display for PersistError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot persist {}: {}", self.file.path(), self.error)
    }
}

impl<D: DirRef> std::error::Error for PersistError<D> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The error alone; the file is dropped, and so removed.
impl<D: DirRef> From<PersistError<D>> for Error {
    fn from(failed: PersistError<D>) -> Self {
        failed.error
    }
}

/// The error alone, as an [`io::Error`] of its [`kind`](Error::kind); the file is dropped,
/// and so removed.
impl<D: DirRef> From<PersistError<D>> for io::Error {
    fn from(failed: PersistError<D>) -> Self {
        failed.error.into()
    }
}
