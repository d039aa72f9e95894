//! A deterministic in-memory POSIX-like filesystem, and a `tempdir-core` backend on it
//! that tmp reapers and attackers can race.
//!
//! [`MemoryFs`] is a filesystem with inodes, directory entries, link counts, modes, owners,
//! the sticky bit, the umask, symlinks, FIFOs, timestamps on a virtual clock, BSD `flock`,
//! fault injection and an event trace. Its path methods are *outside actors* (a user,
//! tmpwatch, tmpreaper, systemd-tmpfiles, an attacker with [`MemoryFs::as_uid`]) with
//! `std::fs` semantics; [`MemoryBackend`] implements [`tempdir_core::Backend`] through
//! handles as a model of the kernel: each method does what the Linux call it stands for
//! does (the umask, permission checks that root bypasses, `O_NOFOLLOW`), and decides
//! nothing, so that the core's policy is what the tests exercise.
//!
//! It serves three purposes: deterministic unit tests of code using temporary
//! directories, the project's conformance suite, and the race simulator (`cargo xtask
//! race`), which interleaves reapers and attackers with the library at chosen points
//! through [`MemoryFs::set_hook`]. **Same seed, same run, byte for byte**: names come from
//! the seed, time from [`MemoryFs::advance_clock`], and every ordering is a sorted map's.
//!
//! ```
//! use std::time::Duration;
//! use tempdir_core::{DirStatus, TemporaryDirectory};
//! use tempdir_memory::{MemoryBackend, MemoryFs};
//!
//! let fs = MemoryFs::with_seed(42);
//! let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
//! let (_file, path) = tmp.mkstemp()?;
//! assert_eq!(fs.metadata(&path)?.mode, 0o600);
//!
//! // Ten days pass and tmpwatch (running as root) removes the old file and directory.
//! fs.advance_clock(Duration::from_secs(10 * 86_400));
//! let reaper = fs.as_uid(0);
//! reaper.remove_file(&path)?;
//! reaper.remove_dir(tmp.dir())?;
//! // An attacker makes a directory at the same path.
//! fs.as_uid(1001).create_dir_with_mode(tmp.dir(), 0o777)?;
//!
//! assert_eq!(tmp.status(), DirStatus::Replaced);
//! assert!(tmp.mkstemp().is_err(), "fails closed: nothing goes into the attacker's directory");
//!
//! // The same seed replays the same run.
//! let again = MemoryFs::with_seed(42);
//! let replay = TemporaryDirectory::with_backend(MemoryBackend::new(&again, "/tmp")?)?;
//! assert_eq!(replay.dir(), tmp.dir());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors are `io::Error`s whose `raw_os_error()` is the Linux errno and whose `kind()` is
//! what std says for it on Linux; [`Errno::of`] recovers the number on every target.
#![forbid(unsafe_code)]
// docs.rs shows which feature or platform each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod backend;
mod errno;
mod fault;
mod file;
mod fs;
mod meta;
mod state;

pub use backend::{BackendOp, MemoryBackend, MemoryDir};
pub use errno::Errno;
pub use fault::{Fault, FaultOp};
pub use file::{MAX_FILE_SIZE, MemoryFile};
pub use fs::MemoryFs;
pub use meta::MemoryMetadata;

#[cfg(test)]
mod tests;
