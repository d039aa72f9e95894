//! What the conformance suite needs from a backend besides `tempdir_core::Backend`: an
//! isolated root, and an outside actor (user, reaper, attacker) acting by absolute path.

use std::io;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Backend, Error, TemporaryDirectory};

/// One isolated root per test, and std::fs-like operations on it from outside the library.
pub trait Harness: Sized {
    /// The backend under test.
    type B: Backend;

    /// A fresh, empty root that no other test uses.
    fn new() -> Self;
    /// The backend's name, for `unsupported:` lines.
    fn name(&self) -> &'static str;
    /// The root directory.
    fn root(&self) -> &Utf8Path;
    /// A backend on `root` (another directory than [`Harness::root`] for root-error cases).
    fn backend_in(&self, root: &Utf8Path) -> Result<Self::B, Error>;

    /// A backend on the fixture's root.
    fn backend(&self) -> Self::B {
        self.backend_in(self.root())
            .expect("the fixture root opens")
    }
    /// A fresh instance in the fixture's root.
    fn make(&self) -> TemporaryDirectory<Self::B> {
        TemporaryDirectory::with_backend(self.backend()).expect("a temporary directory is made")
    }

    /// Whether anything (a dangling symlink included) is at `path`.
    fn exists(&self, path: &Utf8Path) -> bool;
    fn is_symlink(&self, path: &Utf8Path) -> bool;
    fn is_dir(&self, path: &Utf8Path) -> bool;
    /// Writes through symlinks, creating or truncating, as `std::fs::write` does.
    fn write(&self, path: &Utf8Path, data: &[u8]) -> io::Result<()>;
    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>>;
    fn remove_file(&self, path: &Utf8Path) -> io::Result<()>;
    fn remove_dir(&self, path: &Utf8Path) -> io::Result<()>;
    fn create_dir(&self, path: &Utf8Path) -> io::Result<()>;
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()>;
    fn symlink(&self, target: &Utf8Path, link: &Utf8Path) -> io::Result<()>;
    /// Sorted entry names.
    fn read_dir(&self, path: &Utf8Path) -> Vec<String>;

    /// Permission bits of `path` (not following symlinks); `None` where the platform has
    /// no modes.
    fn mode(&self, path: &Utf8Path) -> Option<u32>;
    /// Sets atime and mtime of `path` far into the past; `false` where unsupported.
    fn age(&self, path: &Utf8Path) -> bool;
    /// `(atime, mtime)` of `path`, not following symlinks.
    fn times(&self, path: &Utf8Path) -> (Duration, Duration);
    /// Whether systemd-tmpfiles' `flock(LOCK_EX|LOCK_NB)` on the directory would fail;
    /// `None` where there are no locks.
    fn exclusive_lock_blocked(&self, dir: &Utf8Path) -> Option<bool>;
}

/// Prints the line `cargo xtask wasi` counts, and tells the case to stop.
pub fn unsupported<H: Harness>(h: &H, case: &str, what: &str) {
    println!("unsupported: {case} on {}: {what}", h.name());
}

/// Joins a name onto a directory.
pub fn join(dir: &Utf8Path, name: &str) -> Utf8PathBuf {
    dir.join(name)
}
