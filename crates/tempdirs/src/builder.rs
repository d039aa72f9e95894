//! `Builder`: `tempfile::Builder`'s calls, on this library's directories.

#[cfg(feature = "cap-std")]
use std::path::Path;

use tempdir_core::{Backend, Error};

#[cfg(feature = "cap-std")]
use crate::{NamedTempFile, TemporaryDirectory};

/// Options for a temporary directory or file: the prefix and suffix of its name, a file's
/// mode, whether the root is checked, and whether cleanup removes what nobody tracked.
/// `tempfile::Builder`'s calls, without type annotations:
///
/// ```
/// # #[cfg(feature = "cap-std")] {
/// # let root = std::env::temp_dir();
/// let dir = tempdirs::Builder::new().prefix("build-").tempdir_in(&root)?;
/// let file = tempdirs::Builder::new().prefix("report-").suffix(".json").tempfile()?;
/// assert!(file.path().file_name().unwrap().starts_with("report-"));
/// # drop(dir);
/// # }
/// # Ok::<(), tempdirs::Error>(())
/// ```
///
/// Where it differs from `tempfile`: a directory is removed **non-recursively** unless
/// [`remove_untracked`](Self::remove_untracked) says otherwise, and a named file
/// ([`tempfile`](Self::tempfile), [`tempfile_in`](Self::tempfile_in)) lives in a private
/// `0700` directory of its own, made under the root and removed with it.
///
/// The calls that make real directories exist with the `cap-std` feature; with any
/// backend, [`build`](Self::build) takes one, and [`as_core`](Self::as_core) makes files in
/// an instance of any backend.
#[derive(Clone, Debug, Default)]
#[must_use = "a builder makes nothing until it is asked to"]
pub struct Builder(tempdir_core::Builder);

impl Builder {
    /// No prefix or suffix of its own, files `0600`, the root checked, cleanup
    /// non-recursive.
    pub fn new() -> Self {
        Self::default()
    }

    /// The start of the name of what is made (`tempfile`'s `prefix`); see
    /// [`tempdir_core::Builder::prefix`].
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Builder(self.0.prefix(prefix))
    }

    /// The end of the name (`tempfile`'s `suffix`); see [`tempdir_core::Builder::suffix`].
    pub fn suffix(self, suffix: impl Into<String>) -> Self {
        Builder(self.0.suffix(suffix))
    }

    /// The mode of the files made, exactly whatever the umask (`0o600` by default); see
    /// [`tempdir_core::Builder::permissions`]. A directory is always `0o700`.
    pub fn permissions(self, mode: u32) -> Self {
        Builder(self.0.permissions(mode))
    }

    /// Builds even in a root others control; see
    /// [`tempdir_core::Builder::allow_unsafe_root`].
    pub fn allow_unsafe_root(self, allow: bool) -> Self {
        Builder(self.0.allow_unsafe_root(allow))
    }

    /// Makes the directory's cleanup and drop remove what nobody tracked too, through
    /// handles: a test's directory, which the code under test writes into by path; see
    /// [`tempdir_core::Builder::remove_untracked`].
    pub fn remove_untracked(self, remove: bool) -> Self {
        Builder(self.0.remove_untracked(remove))
    }

    /// Makes the directory in `backend`'s root, on any backend.
    ///
    /// # Errors
    ///
    /// As [`tempdir_core::Builder::build`].
    pub fn build<B: Backend>(
        self,
        backend: B,
    ) -> Result<tempdir_core::TemporaryDirectory<B>, Error> {
        self.0.build(backend)
    }

    /// The core's builder, for files in an instance of any backend
    /// (`named_tempfile(&tmp)`, `tempfile(&tmp)`, `mkstemp(&tmp)`).
    pub fn as_core(&self) -> &tempdir_core::Builder {
        &self.0
    }

    /// A directory under the system temp dir (`tempfile::Builder::tempdir`).
    ///
    /// # Errors
    ///
    /// As [`TemporaryDirectory::new`](tempdir_core::TemporaryDirectory::new).
    #[cfg(feature = "cap-std")]
    pub fn tempdir(&self) -> Result<TemporaryDirectory, Error> {
        use tempdir_core::OpenRoot;
        self.tempdir_in(crate::CapStdBackend::default_root()?)
    }

    /// A directory under `root` (`tempfile::Builder::tempdir_in`).
    ///
    /// # Errors
    ///
    /// As [`tempdir_core::Builder::build_in`].
    #[cfg(feature = "cap-std")]
    pub fn tempdir_in(&self, root: impl AsRef<Path>) -> Result<TemporaryDirectory, Error> {
        self.0.clone().build_in(root)
    }

    /// A named temporary file in a private directory of its own under the system temp dir
    /// (`tempfile::Builder::tempfile`).
    ///
    /// # Errors
    ///
    /// As [`NamedTempFile::new`](tempdir_core::NamedTempFile::new).
    #[cfg(feature = "cap-std")]
    pub fn tempfile(&self) -> Result<NamedTempFile, Error> {
        use tempdir_core::OpenRoot;
        self.tempfile_in(crate::CapStdBackend::default_root()?)
    }

    /// A named temporary file in a private directory of its own under `dir`
    /// (`tempfile::Builder::tempfile_in`): on `dir`'s filesystem, so that it can be
    /// persisted there.
    ///
    /// # Errors
    ///
    /// As [`NamedTempFile::new_in`](tempdir_core::NamedTempFile::new_in).
    #[cfg(feature = "cap-std")]
    pub fn tempfile_in(&self, dir: impl AsRef<Path>) -> Result<NamedTempFile, Error> {
        self.0.named_tempfile_in(dir)
    }
}

impl From<Builder> for tempdir_core::Builder {
    fn from(builder: Builder) -> Self {
        builder.0
    }
}

impl From<tempdir_core::Builder> for Builder {
    fn from(builder: tempdir_core::Builder) -> Self {
        Builder(builder)
    }
}
