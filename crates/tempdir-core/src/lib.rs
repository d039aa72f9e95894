//! Tracked temporary directories, written once against a narrow backend trait.
//!
//! [`TemporaryDirectory`] is duplicity's `tempdir.TemporaryDirectory` done through a
//! directory handle: one securely created private directory per instance, unique names
//! inside it, every created file tracked so that [`cleanup`](TemporaryDirectory::cleanup)
//! removes exactly those and then the directory — never recursively — and detection of a
//! directory that a tmp reaper removed ([`DirStatus::Reaped`]) or that was replaced at its
//! path ([`DirStatus::Replaced`]).
//!
//! This crate makes no filesystem call. A [`Backend`] does: `tempdir-cap-std` on real
//! directories (also under WASI), `tempdir-memory` on a deterministic in-memory
//! filesystem. Most programs depend on the `tempdirs` facade instead of this crate.
//!
//! ```
//! # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
//! use tempdirs::DirStatus;
//! use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
//!
//! let fs = MemoryFs::with_seed(1);
//! let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
//! let a = tmp.mktemp()?;
//! let b = tmp.mktemp()?;
//! assert_ne!(a, b);
//!
//! // A reaper removes the (empty) directory: the instance notices and refuses.
//! fs.remove_dir(tmp.dir())?;
//! assert_eq!(tmp.status(), DirStatus::Reaped);
//! assert!(matches!(tmp.mktemp(), Err(tempdirs::Error::Reaped { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
// docs.rs shows which feature or platform each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod backend;
mod buf_file;
mod cleanup;
mod dir;
mod error;
mod name;
mod named;
mod sip;

pub use backend::{Backend, FileId, FileKind, Meta, OpenRoot};
pub use buf_file::BufFile;
pub use camino::{Utf8Path, Utf8PathBuf};
pub use cleanup::CleanupReport;
pub use dir::{Builder, DEFAULT_PREFIX, DirStatus, TemporaryDirectory};
pub use error::{Error, Op, RootProblem};
pub use named::{DirRef, NamedTempFile, PersistError};
