//! What the conformance suite needs from a backend besides `tempdir_core::Backend`: an
//! isolated root, and an outside actor (user, reaper, attacker) acting by absolute path.

use std::io;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Backend, Error, TemporaryDirectory};

/// One isolated root per test, and std::fs-like operations on it from outside the library.
pub trait Harness: Sized {
    /// The backend under test.
    type B: Backend + 'static;

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

    /// Runs `body` on a fresh harness whose creations the umask `mask` applies to, acting
    /// as a user who is not root (where the test process is not root). The umask is
    /// process-global on disk, so there it happens in a child process that re-executes
    /// `test` (a test path as `module_path!()` gives it). `false` where there is no umask.
    fn with_umask(test: &str, mask: u32, body: impl Fn(&Self)) -> bool;

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
    /// Makes a FIFO at `path`; `Unsupported` where the platform has none.
    fn mkfifo(&self, path: &Utf8Path) -> io::Result<()>;
    /// Sorted entry names.
    fn read_dir(&self, path: &Utf8Path) -> Vec<String>;

    /// Permission bits of `path` (not following symlinks); `None` where the platform has
    /// no modes.
    fn mode(&self, path: &Utf8Path) -> Option<u32>;
    /// Sets the permission bits of `path`, set-id and sticky bits included; `false` where
    /// the platform has no modes.
    fn set_mode(&self, path: &Utf8Path, mode: u32) -> bool;
    /// Makes a directory at `path` owned by `uid` with exactly `mode`; `false` where the
    /// harness cannot act as another user (on disk, unless running as root).
    fn make_dir_owned_by(&self, path: &Utf8Path, uid: u32, mode: u32) -> bool;
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

/// Joins a name onto a directory. On Windows with `/`, as the library joins the paths it
/// hands out (`Utf8Path::join` would use `\\`, which the library does not take back).
pub fn join(dir: &Utf8Path, name: &str) -> Utf8PathBuf {
    if cfg!(windows) {
        return Utf8PathBuf::from(format!("{dir}/{name}"));
    }
    dir.join(name)
}

/// Why a case cannot hold on Windows as Wine runs it: a removed file or directory that is
/// still open keeps its name until its last handle closes (Windows without POSIX delete
/// semantics does the same).
pub const OPEN_KEEPS_NAME: &str =
    "a removed file or directory still open keeps its name until closed (Wine)";

/// Why a case cannot hold under Wine: the handle of a directory renamed away reports its
/// old path, by which cap-std then removes and renames on Windows.
pub const MOVED_DIR_PATH: &str =
    "a renamed directory's handle still reports its old path, which cap-std acts by (Wine)";

/// Why a case cannot hold on Windows: it plants symlinks, which need a privilege there and
/// which Wine does not make.
pub const NO_SYMLINKS: &str = "symlinks need a privilege on Windows, and Wine makes none";

/// Makes the symlink `link`; where the platform cannot (Windows without the privilege,
/// Wine), prints the `unsupported:` line and returns false: the case stops.
pub fn symlink_or_unsupported<H: Harness>(
    h: &H,
    case: &str,
    target: &Utf8Path,
    link: &Utf8Path,
) -> bool {
    match h.symlink(target, link) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            unsupported(h, case, &format!("symlinks: {e}"));
            false
        }
        Err(e) => panic!("symlink {link} -> {target}: {e}"),
    }
}

/// The environment variable that makes a re-executed test binary play the child.
#[cfg(unix)]
pub const CHILD: &str = "TEMPDIRS_IT_CHILD";

/// Re-runs the one test `test` (a path as `module_path!()` gives it, crate name first) of
/// this binary in a child process with `envs` set, and returns its stdout. The child's
/// output is passed on, so that its `unsupported:` lines are seen; a child that fails
/// fails the caller.
#[cfg(unix)]
pub fn run_child(test: &str, envs: &[(&str, &std::ffi::OsStr)]) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    // libtest names tests without the crate's name.
    let test = test.split_once("::").map_or(test, |(_, rest)| rest);
    let mut cmd = std::process::Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stdout.lines().filter(|l| l.starts_with("unsupported:")) {
        println!("{line}");
    }
    assert!(
        out.status.success(),
        "child {test} failed ({}): {stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test named {test}: {stdout}"
    );
    stdout
}
