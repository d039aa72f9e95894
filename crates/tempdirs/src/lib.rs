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
//! use std::io::Write;
//!
//! let tmp = tempdirs::default()?;          // made on first use, shared by every thread
//! let (mut file, path) = tmp.mkstemp()?;   // 0600, O_EXCL|O_NOFOLLOW|O_CLOEXEC, tracked
//! file.write_all(b"volume 1")?;
//! // ... upload `path` ...
//! tmp.remove(&path)?;                      // unlink + forget
//! tmp.cleanup();                           // at the end: tracked files, then the directory
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
//! Features only add: with both backends on, both are usable, and [`TemporaryDirectory`] /
//! [`DefaultBackend`] are the cap-std ones; with only `memory`, they are the in-memory ones.
//!
//! # Deterministic tests
//!
//! ```
//! # #[cfg(feature = "memory")] {
//! use tempdirs::{DirStatus, MemoryBackend, MemoryFs};
//!
//! let fs = MemoryFs::with_seed(42);
//! let tmp = tempdirs::core::TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
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

mod default;

#[cfg(feature = "memory")]
pub use default::shared_memory_fs;
pub use default::{default, set_default_root};

/// The backend-generic core: `tempdirs::core::TemporaryDirectory<B>` for any backend.
pub use tempdir_core as core;
pub use tempdir_core::{
    Backend, BufFile, Builder, CleanupReport, DirStatus, Error, FileId, FileKind, Meta, Op,
    OpenRoot, Utf8Path, Utf8PathBuf,
};

/// The `cap-std` crate, for hosts that hand [`CapStdBackend::from_dir`] a directory
/// capability.
#[cfg(feature = "cap-std")]
pub use cap_std;
#[cfg(feature = "cap-std")]
pub use tempdir_cap_std::CapStdBackend;
#[cfg(feature = "memory")]
pub use tempdir_memory::{MemoryBackend, MemoryFile, MemoryFs};

/// The backend of [`TemporaryDirectory`] and [`default()`]: cap-std when that feature is
/// on, the in-memory one otherwise.
#[cfg(feature = "cap-std")]
pub type DefaultBackend = tempdir_cap_std::CapStdBackend;
/// The backend of [`TemporaryDirectory`] and [`default()`]: cap-std when that feature is
/// on, the in-memory one otherwise.
#[cfg(all(feature = "memory", not(feature = "cap-std")))]
pub type DefaultBackend = tempdir_memory::MemoryBackend;

/// A temporary directory on the [`DefaultBackend`]: duplicity's `TemporaryDirectory`.
///
/// With cap-std, `TemporaryDirectory::new()` makes one under the system temp dir and
/// `TemporaryDirectory::new_in(root)` under `root`; see
/// [`tempdirs::core::TemporaryDirectory`](tempdir_core::TemporaryDirectory) for every
/// method.
pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<DefaultBackend>;

/// The README's Rust example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;
