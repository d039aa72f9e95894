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
//! | `memory` | no | [`MemoryBackend`] over [`MemoryFs`]: a deterministic in-memory filesystem that can play reaper and attacker |
//! | `tempfile` | no | points the `tempfile` crate's default directory at [`default()`]'s directory (implies `cap-std`) |
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
//! A recursive delete (`tempfile::TempDir` and `cap_tempfile::TempDir` use one), following
//! symlinks anywhere, and duplicity's habit of creating a stray file in the system temp
//! dir after cleanup ([`Error::CleanedUp`] instead).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "cap-std", feature = "memory")))]
compile_error!(
    "tempdirs needs a backend: enable the `cap-std` feature (the default) or `memory`, \
     e.g. `tempdirs = { version = \"0.1\", features = [\"memory\"] }`"
);

#[cfg(feature = "cap-std")]
mod default;

#[cfg(feature = "cap-std")]
pub use default::{default, set_default_root};

/// The backend-generic core: `tempdirs::core::TemporaryDirectory<B>` for any backend.
pub use tempdir_core as core;
pub use tempdir_core::{
    Backend, BufFile, Builder, CleanupReport, DirStatus, Error, FileId, FileKind, Meta, Op,
    OpenRoot, RootProblem, Utf8Path, Utf8PathBuf,
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
