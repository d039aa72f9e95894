//! The attack suite: the threat model of `SECURITY.md` played against the real-disk backend.
//!
//! Every case makes its own root, attacks the instance from outside (by path, as another
//! uid, as a reaper, as a fault) and asserts the safe outcome: nothing outside our
//! directory written, removed, chmodded or followed; no call blocks; every error is typed;
//! nothing of ours is lost without the report or an error saying so. Process-global state
//! (rlimits, umask, seccomp, mounts, fork) is changed only in a child process that
//! re-executes this test binary for the one case. Cases that need root print an
//! `unsupported:` line and return when not root.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Error, Op, TemporaryDirectory};

use crate::disk::DiskHarness;
use crate::harness::{CHILD, Harness};

mod exhaustion;
mod fork;
mod names;
mod reapers;
mod roots;
// The syscall numbers are x86_64's (rustix calls the kernel directly there).
#[cfg(target_arch = "x86_64")]
mod seccomp;
mod special;
mod swaps;
mod threads;

/// The instance under attack.
pub type Tmp = TemporaryDirectory<CapStdBackend>;

/// The uid an attacker of another uid acts as (nobody).
pub const ATTACKER: u32 = 65534;

/// How long any call may take before it counts as blocked.
pub const BLOCKED: Duration = Duration::from_secs(10);

/// The test path of `case` in the calling module, as `run_child` takes it.
macro_rules! case_path {
    ($case:ident) => {
        concat!(module_path!(), "::", stringify!($case))
    };
}
pub(crate) use case_path;

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Prints the line that says a case (or part of one) did not run here.
pub fn unsupported(case: &str, what: &str) {
    println!("unsupported: {case} on cap-std: {what}");
}

/// The role this process plays when it is a re-executed child, if it is one.
pub fn role() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// Runs `f` on a thread of its own and fails the case if it takes longer than
/// [`BLOCKED`]: a blocked call must fail the test, not hang it.
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(BLOCKED) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} blocked for {BLOCKED:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// One isolated fixture: `root` for instances, `outside` for bystanders, both directly in
/// a fresh directory of their own that the fixture removes when the case ends.
pub struct Fixture {
    /// Owns the fixture's directory and removes it.
    _h: DiskHarness,
    pub root: Utf8PathBuf,
    pub outside: Utf8PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let h = DiskHarness::new();
        // The real path: instances report the root resolved.
        let base = Utf8PathBuf::try_from(fs::canonicalize(h.root()).unwrap()).unwrap();
        let root = base.join("root");
        let outside = base.join("outside");
        for dir in [&root, &outside] {
            fs::create_dir(dir).unwrap();
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Fixture {
            _h: h,
            root,
            outside,
        }
    }

    /// The fixture's own directory, holding `root` and `outside`.
    pub fn base(&self) -> &Utf8Path {
        self.root.parent().unwrap()
    }

    pub fn make(&self) -> Tmp {
        Tmp::new_in(&self.root).expect("a temporary directory is made")
    }

    /// A directory of its own next to `root` and `outside`.
    pub fn dir(&self, name: &str) -> Utf8PathBuf {
        let dir = self.base().join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }
}

/// A file outside our directory whose every observable property is recorded, so that a
/// case can show that nothing the library did reached it.
pub struct Bystander {
    pub path: Utf8PathBuf,
    content: Vec<u8>,
    before: Node,
    atime: (i64, i64),
}

impl Bystander {
    /// A file at `path` with content, mode `0640` and times far in the past; as root it
    /// belongs to [`ATTACKER`], as another user's file would.
    pub fn new(path: &Utf8Path) -> Self {
        let content = format!("bystander data at {path}\n").into_bytes();
        fs::write(path, &content).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o640)).unwrap();
        if is_root() {
            std::os::unix::fs::chown(path, Some(ATTACKER), Some(ATTACKER)).unwrap();
        }
        set_old_times(path);
        let meta = fs::symlink_metadata(path).unwrap();
        Bystander {
            path: path.to_owned(),
            content,
            before: node(path.as_std_path(), &meta),
            atime: (meta.atime(), meta.atime_nsec()),
        }
    }

    /// Content, mode, owner, inode, link count and all three times as recorded.
    pub fn assert_unchanged(&self) {
        self.assert_unchanged_with(self.before.nlink, true);
    }

    /// As [`assert_unchanged`](Self::assert_unchanged), with `nlink` names (a hard link
    /// counts one, and changes ctime).
    pub fn assert_unchanged_but_links(&self, nlink: u64) {
        self.assert_unchanged_with(nlink, false);
    }

    /// Content, mode, owner, inode and link count; times may have been refreshed.
    pub fn assert_content_and_mode_unchanged(&self, nlink: u64) {
        let now = node(
            self.path.as_std_path(),
            &fs::symlink_metadata(&self.path).unwrap(),
        );
        assert_eq!(
            (now.kind, now.mode, now.uid, now.ino, now.nlink),
            (
                self.before.kind,
                self.before.mode,
                self.before.uid,
                self.before.ino,
                nlink
            ),
            "bystander {} changed",
            self.path
        );
        assert_eq!(read_noatime(&self.path), self.content, "its content");
    }

    fn assert_unchanged_with(&self, nlink: u64, ctime: bool) {
        let meta = fs::symlink_metadata(&self.path).expect("the bystander is still there");
        let mut now = node(self.path.as_std_path(), &meta);
        let mut before = self.before.clone();
        if !ctime {
            now.ctime = before.ctime;
        }
        before.nlink = nlink;
        now.content = None;
        before.content = None;
        assert_eq!(now, before, "bystander {} changed", self.path);
        assert_eq!(
            (meta.atime(), meta.atime_nsec()),
            self.atime,
            "bystander {} was read or touched",
            self.path
        );
        assert_eq!(read_noatime(&self.path), self.content, "its content");
    }
}

/// The content of `path`, read without moving its atime (we own it, or are root).
fn read_noatime(path: &Utf8Path) -> Vec<u8> {
    read_quietly(path.as_std_path()).expect("the bystander is readable")
}

/// The content of `path`, read with `O_NOATIME` where we may, else plainly.
fn read_quietly(path: &Path) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut data = Vec::new();
    fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
        .or_else(|_| fs::File::open(path))
        .and_then(|mut f| f.read_to_end(&mut data))
        .ok()?;
    Some(data)
}

/// Sets atime and mtime of `path` (not following a symlink) to a fixed instant long ago.
pub fn set_old_times(path: &Utf8Path) {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    let old = Timespec {
        tv_sec: 1_000_000_000,
        tv_nsec: 123_456_789,
    };
    let times = Timestamps {
        last_access: old,
        last_modification: old,
    };
    utimensat(CWD, path.as_std_path(), &times, AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

/// What a snapshot records of one entry (never its atime: looking moves it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub ino: u64,
    /// Link count, mtime and ctime of anything but a directory (a directory's change with
    /// its entries, which a snapshot lists).
    pub nlink: u64,
    pub mtime: Option<(i64, i64)>,
    pub ctime: Option<(i64, i64)>,
    pub content: Option<Vec<u8>>,
    pub target: Option<PathBuf>,
}

fn node(path: &Path, meta: &fs::Metadata) -> Node {
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        'd'
    } else if ft.is_file() {
        'f'
    } else if ft.is_symlink() {
        'l'
    } else if ft.is_fifo() {
        'p'
    } else if ft.is_socket() {
        's'
    } else {
        'c'
    };
    let is_dir = kind == 'd';
    // Never a FIFO or a device: only a regular file is read, without moving its atime
    // where we may.
    let content = (kind == 'f').then(|| read_quietly(path)).flatten();
    Node {
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        ino: meta.ino(),
        nlink: if is_dir { 0 } else { meta.nlink() },
        mtime: (!is_dir).then(|| (meta.mtime(), meta.mtime_nsec())),
        ctime: (!is_dir).then(|| (meta.ctime(), meta.ctime_nsec())),
        content,
        target: ft.is_symlink().then(|| fs::read_link(path).ok()).flatten(),
    }
}

/// Everything below `top`, by path relative to it, without following symlinks, leaving
/// out the directory with inode `skip` (ours, wherever it went) and what is in it.
pub fn tree_without(top: &Utf8Path, skip: Option<u64>) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut pending = vec![top.as_std_path().to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if Some(meta.ino()) == skip && meta.is_dir() {
                continue;
            }
            if meta.is_dir() {
                pending.push(path.clone());
            }
            let rel = path.strip_prefix(top).unwrap().to_owned();
            out.insert(rel, node(&path, &meta));
        }
    }
    out
}

/// Everything below `top`.
pub fn tree(top: &Utf8Path) -> BTreeMap<PathBuf, Node> {
    tree_without(top, None)
}

/// The sorted names in `dir`.
pub fn names(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn exists(path: impl AsRef<Path>) -> bool {
    fs::symlink_metadata(path).is_ok()
}

pub fn inode(path: impl AsRef<Path>) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

/// The bare name of a path the instance handed out.
pub fn bare(path: &Utf8Path) -> String {
    path.file_name().unwrap().to_owned()
}

/// `err` is an [`Error::Io`] of `op` whose kind is `kind`.
#[track_caller]
pub fn assert_io(err: &Error, op: Op, kind: io::ErrorKind) {
    assert!(
        matches!(err, Error::Io { op: o, .. } if *o == op) && err.io_kind() == Some(kind),
        "expected Io({op:?}, {kind:?}), got {err:?}"
    );
}

/// `err` is an [`Error::Io`] of `op` carrying the OS error `errno` (for errnos std has no
/// stable kind for: `EMFILE`, `ENXIO`, `ELOOP`, `ENAMETOOLONG`).
#[track_caller]
pub fn assert_io_errno(err: &Error, op: Op, errno: i32) {
    let raw = match err {
        Error::Io { op: o, source, .. } if *o == op => source.raw_os_error(),
        _ => None,
    };
    assert_eq!(
        raw,
        Some(errno),
        "expected Io({op:?}, errno {errno}), got {err:?}"
    );
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Utf8Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path.as_std_path(),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

/// Runs `cmd` and returns whether it succeeded, with its output for messages.
pub fn run(cmd: &mut Command) -> (bool, String) {
    match cmd.output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, e.to_string()),
    }
}

/// Whether `program` is on the `PATH` (or is an absolute path that exists).
pub fn have(program: &str) -> bool {
    if program.starts_with('/') {
        return exists(program);
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether this process may mount in a mount namespace of its own (root, `unshare` and
/// `mount` present and permitted): checked once.
pub fn can_mount() -> bool {
    static CAN: OnceLock<bool> = OnceLock::new();
    *CAN.get_or_init(|| {
        if !is_root() || !have("unshare") || !have("mount") {
            return false;
        }
        let probe =
            std::env::temp_dir().join(format!("tempdirs-mount-probe-{}", std::process::id()));
        if fs::create_dir(&probe).is_err() {
            return false;
        }
        let (ok, _) = run(Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "mount",
                "-t",
                "tmpfs",
            ])
            .args(["-o", "size=4k", "tmpfs"])
            .arg(&probe));
        let _ = fs::remove_dir(&probe);
        ok
    })
}

/// Re-runs `test` of this binary as a child in a mount namespace of its own (so that its
/// mounts vanish with it, whatever happens) with the child role `role`; returns stdout.
pub fn run_child_mounting(test: &str, role: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let test = test.split_once("::").map_or(test, |(_, rest)| rest);
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, role)
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in stdout.lines().filter(|l| l.starts_with("unsupported:")) {
        println!("{line}");
    }
    assert!(
        out.status.success(),
        "child {test} failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test named {test}: {stdout}"
    );
    stdout
}

/// Runs `test` as a child with the role `role`; returns stdout.
pub fn run_child(test: &str, role: &str) -> String {
    crate::harness::run_child(test, &[(CHILD, std::ffi::OsStr::new(role))])
}

/// A mount made by a case, undone (lazily, whatever still uses it) when dropped: before
/// the fixture's recursive delete, which must never reach through a mount.
pub struct Mounted(pub Utf8PathBuf);

impl Mounted {
    /// `mount ARGS... TARGET`.
    pub fn new(args: &[&str], target: &Utf8Path) -> Self {
        let (ok, out) = run(Command::new("mount").args(args).arg(target.as_str()));
        assert!(ok, "mount {args:?} {target}: {out}");
        Mounted(target.to_owned())
    }

    /// `mount -o remount,... TARGET`.
    pub fn remount(&self, options: &str) {
        let (ok, out) = run(Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.0.as_str()));
        assert!(ok, "remount {options} {}: {out}", self.0);
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.0.as_str())
            .status();
    }
}
