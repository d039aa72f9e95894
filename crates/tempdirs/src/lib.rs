//! Temporary files done right: one private directory, unique names inside it, every file
//! it creates tracked, so that cleanup removes exactly those and then the directory —
//! **never a recursive delete** — and every operation through a directory handle, so that
//! a tmp reaper removing the directory (and someone making another at its path) is
//! noticed and nothing of theirs is touched.
//!
//! This is duplicity's `duplicity.tempdir` module for Rust. Most programs use the shared
//! instance, as duplicity's callers do:
//!
//! ```no_run
//! # #[cfg(feature = "cap-std")] {
//! use std::io::Write;
//!
//! let tmp = tempdirs::default()?;          // made on first use, shared by every thread
//! let (mut file, path) = tmp.mkstemp()?;   // 0600, O_EXCL|O_NOFOLLOW|O_CLOEXEC, tracked
//! file.write_all(b"volume 1")?;
//! // ... upload `path` ...
//! tmp.remove(&path)?;                      // unlink + forget
//! assert!(tmp.cleanup().is_complete());    // at the end: tracked files, then the directory
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Backends and features
//!
//! | feature | default | what it switches on |
//! |---|---|---|
//! | `cap-std` | yes | [`CapStdBackend`]: real directories through cap-std handles, with or without ambient authority (WASI preopens) |
//! | `memory` | no | `memory::MemoryBackend` over `memory::MemoryFs`: a deterministic in-memory filesystem that can play reaper and attacker |
//!
//! Features only add: each switches on items of its own, and no name changes what it means
//! when another feature is turned on. [`TemporaryDirectory`] and [`default()`] exist with
//! `cap-std` and are always on real directories; the in-memory backend lives in its own
//! module, `tempdirs::memory`, whose `TemporaryDirectory` is always in memory. A crate that
//! chose the in-memory backend so that its tests never touch the disk keeps that promise
//! whatever else in the build turns on `cap-std`.
//!
//! # Deterministic tests
//!
//! ```
//! # #[cfg(feature = "memory")] {
//! use tempdirs::DirStatus;
//! use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
//!
//! let fs = MemoryFs::with_seed(42);
//! let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
//! let (_file, path) = tmp.mkstemp()?;
//! fs.remove_file(&path)?;                  // play the reaper
//! fs.remove_dir(tmp.dir())?;
//! assert_eq!(tmp.status(), DirStatus::Reaped);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is deliberately absent
//!
//! A recursive delete by default (`tempfile::TempDir` and `cap_tempfile::TempDir` use one;
//! here only `cleanup_all` or [`Builder::remove_untracked`] opt in, through handles),
//! following symlinks anywhere, and duplicity's habit of creating a stray file in the
//! system temp dir after cleanup ([`Error::CleanedUp`] instead).
//!
//! # Coming from `tempfile`
//!
//! [`NamedTempFile`] (`new`, `new_in`, `persist`, `persist_noclobber`, `keep`),
//! [`tempfile()`], [`tempfile_in`] and [`Builder`] (`prefix`, `suffix`, `permissions`,
//! `tempfile`, `tempfile_in`, `tempdir`, `tempdir_in`) keep `tempfile`'s names; errors turn
//! into `io::Error`s, so `?` works in functions returning `io::Result`. The README has the
//! table.
#![forbid(unsafe_code)]
// docs.rs shows which feature or platform each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(not(any(feature = "cap-std", feature = "memory")))]
compile_error!(
    "tempdirs needs a backend: enable the `cap-std` feature (the default) or `memory`, \
     e.g. `tempdirs = { version = \"0.1\", features = [\"memory\"] }`"
);

mod builder;
#[cfg(feature = "cap-std")]
mod default;

pub use builder::Builder;
#[cfg(feature = "cap-std")]
pub use default::{default, set_default_root, tempfile};

/// The backend-generic core: `tempdirs::core::TemporaryDirectory<B>` for any backend.
pub use tempdir_core as core;
pub use tempdir_core::{
    Backend, BufFile, CleanupReport, DirStatus, Error, FileId, FileKind, Meta, Op, OpenRoot,
    RootProblem, Utf8Path, Utf8PathBuf,
};

/// The `cap-std` crate, for hosts that hand [`CapStdBackend::from_dir`] a directory
/// capability.
#[cfg(feature = "cap-std")]
pub use cap_std;
#[cfg(feature = "cap-std")]
pub use tempdir_cap_std::{CapStdBackend, CapStdDir};

/// A temporary directory on real directories: duplicity's `TemporaryDirectory`.
///
/// `TemporaryDirectory::new()` makes one under the system temp dir and
/// `TemporaryDirectory::new_in(root)` under `root`; see
/// [`tempdirs::core::TemporaryDirectory`](tempdir_core::TemporaryDirectory) for every
/// method.
#[cfg(feature = "cap-std")]
pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<CapStdBackend>;

/// A named temporary file on real directories, removed when dropped:
/// `tempfile::NamedTempFile`.
///
/// `NamedTempFile::new()` makes it under the system temp dir and
/// `NamedTempFile::new_in(dir)` under `dir`, each in a private `0700` directory of its own
/// that goes with it. [`persist`](tempdir_core::NamedTempFile::persist) moves it into place
/// with one rename; see [`tempdirs::core::NamedTempFile`](tempdir_core::NamedTempFile) for
/// every method. For a file in an instance you hold, use
/// [`TemporaryDirectory::named_tempfile`](tempdir_core::TemporaryDirectory::named_tempfile).
///
/// ```
/// use std::io::Write;
///
/// # let scratch = tempdirs::TemporaryDirectory::new()?;
/// let dir = scratch.dir(); // where the file is to go: `/srv/app`, say
/// let mut file = tempdirs::NamedTempFile::new_in(dir)?;
/// file.write_all(b"[settings]")?;
/// file.persist(dir.join("app.conf"))?;
/// assert_eq!(std::fs::read(dir.join("app.conf"))?, b"[settings]");
/// # scratch.adopt("app.conf")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "cap-std")]
pub type NamedTempFile = tempdir_core::NamedTempFile<std::sync::Arc<TemporaryDirectory>>;

/// A failed [`persist`](tempdir_core::NamedTempFile::persist) of a [`NamedTempFile`]: the
/// error and the file back.
#[cfg(feature = "cap-std")]
pub type PersistError = tempdir_core::PersistError<std::sync::Arc<TemporaryDirectory>>;

/// A file without a name under `dir` (`tempfile::tempfile_in`): made in a private
/// directory there, through its handle, which is removed at once; the file goes when it is
/// closed. With `O_TMPFILE` (Linux) it never has a name; elsewhere its name is unlinked
/// right after the create.
///
/// # Errors
///
/// As [`TemporaryDirectory::new_in`](tempdir_core::TemporaryDirectory::new_in), then as
/// [`TemporaryDirectory::tempfile`](tempdir_core::TemporaryDirectory::tempfile).
#[cfg(feature = "cap-std")]
pub fn tempfile_in(dir: impl AsRef<std::path::Path>) -> Result<std::fs::File, Error> {
    let tmp = TemporaryDirectory::new_in(dir)?;
    let file = tmp.tempfile()?;
    // The directory is empty: it goes now, and the file needs it no more.
    let report = tmp.cleanup();
    if !report.is_complete() {
        tracing::warn!(target: "tempdirs", dir = %tmp.dir(), ?report, "cannot remove the directory of an unnamed file");
    }
    Ok(file)
}

/// The deterministic in-memory backend: a filesystem that tests can play reaper and
/// attacker on, and that never touches the disk.
#[cfg(feature = "memory")]
pub mod memory {
    pub use tempdir_memory::*;

    /// A temporary directory in a [`MemoryFs`], always in memory whatever other features
    /// are on.
    pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>;
}

/// The README's Rust example, compiled as a doctest so that it stays true.
#[cfg(all(doctest, feature = "cap-std"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;
