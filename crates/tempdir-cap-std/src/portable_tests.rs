//! The backend under WASI, inside the one directory the host preopened (its guest path in
//! `TEMPDIRS_WASI_ROOT`; run by `cargo xtask wasi`), and on Windows, in the system temp dir
//! (run under Wine by `.ci/windows`). Limitations are printed as lines starting with
//! `unsupported:`, which the runners count.

use std::io::{self, Read, Seek, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use camino::Utf8PathBuf;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use tempdir_core::{Backend, DirStatus, Error, FileKind};

use crate::{CapStdBackend, TemporaryDirectory};

/// A fresh directory inside the preopen, which hands out handles to itself: what a host
/// would grant. (WASI cannot duplicate a descriptor, so each handle is its own open.)
struct Granted {
    sandbox: Dir,
    name: String,
    path: Utf8PathBuf,
}

impl Granted {
    fn new() -> Granted {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let preopen = match std::env::var("TEMPDIRS_WASI_ROOT") {
            Ok(preopen) => preopen,
            // Windows: the system temp dir plays the preopen.
            Err(_) if cfg!(windows) => std::env::temp_dir()
                .into_os_string()
                .into_string()
                .expect("the temp dir is UTF-8"),
            Err(_) => panic!("TEMPDIRS_WASI_ROOT names the preopen"),
        };
        // The one use of ambient authority: naming the preopen (WASI resolves nothing else).
        let sandbox = Dir::open_ambient_dir(&preopen, ambient_authority()).expect("preopen opens");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "cap-std-unit-{nanos}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sandbox.create_dir(&name).expect("fixture");
        let path = Utf8PathBuf::from(preopen).join(&name);
        Granted {
            sandbox,
            name,
            path,
        }
    }

    /// Opened as the backend opens its directories: on Windows sharing deletion, so that
    /// `finish` can remove the fixture while a test still holds a handle to it.
    fn dir(&self) -> Dir {
        crate::sys::open_dir(&self.sandbox, &self.name).expect("fixture opens")
    }

    fn backend(&self) -> CapStdBackend {
        CapStdBackend::from_dir(self.dir(), self.path.clone())
    }

    /// Removes the fixture, which must be empty again: the library left nothing behind.
    fn finish(self) {
        self.sandbox
            .remove_dir(&self.name)
            .expect("fixture is empty again");
    }
}

#[test]
fn mkstemp_write_cleanup_through_a_granted_handle() {
    let fx = Granted::new();
    let root = fx.dir();
    let tmp = TemporaryDirectory::with_backend(fx.backend()).expect("made");
    assert!(tmp.dir().starts_with(&fx.path));
    let name = tmp.dir().file_name().expect("named").to_owned();
    assert!(root.is_dir(&name));

    let (mut file, file_path) = tmp.mkstemp().expect("mkstemp");
    file.write_all(b"inside the sandbox").expect("write");
    file.rewind().expect("seek");
    let mut back = String::new();
    file.read_to_string(&mut back).expect("read");
    assert_eq!(back, "inside the sandbox");
    drop(file);
    tmp.keep_alive().expect("keep_alive");
    let mut again = tmp.open(&file_path).expect("reopen");
    again.write_all(b"!").expect("write");
    drop(again);

    let report = tmp.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.removed, 1);
    assert!(!root.exists(&name), "the directory is gone");
    fx.finish();
}

#[test]
fn new_in_opens_the_root_by_its_path() {
    let fx = Granted::new();
    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&fx.path).expect("made");
    drop(tmp.mkstemp().expect("mkstemp"));
    assert!(tmp.cleanup().is_complete());
    fx.finish();
}

#[test]
fn no_flock_and_no_modes_here() {
    let fx = Granted::new();
    let backend = fx.backend();
    backend.make_dir("d", 0o700).expect("made");
    let dir = backend.open_dir("d").expect("opens");
    let err = backend.lock_shared(&dir).expect_err("no locks");
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert_eq!(backend.euid(), None);
    let meta = backend.dir_meta(&dir).expect("stat");
    assert_eq!((meta.uid, meta.mode), (None, None));
    let unsupported = [
        backend.set_mode_at("d", 0o700),
        backend.set_dir_mode(&dir, 0o700),
    ];
    for result in unsupported {
        assert_eq!(
            result.expect_err("no modes").kind(),
            io::ErrorKind::Unsupported
        );
    }
    let file = backend.create_file(&dir, "f", 0o600).expect("create");
    let err = backend.set_file_mode(&file, 0o600).expect_err("no modes");
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    drop(file);
    backend.remove_file(&dir, "f").expect("unlink");
    println!("unsupported: flock(LOCK_SH) on the directory (lock_shared)");
    println!("unsupported: permission bits (0700 directory, 0600 files)");
    drop(dir);
    backend.remove_dir("d").expect("rmdir");
    fx.finish();
}

/// cap-std's `Dir::symlink` is Unix and WASI only, and Wine makes no symlinks.
#[cfg(windows)]
#[test]
fn no_symlink_is_followed() {
    println!("unsupported: no_symlink_is_followed on Windows: no symlinks to plant");
}

#[cfg(not(windows))]
#[test]
fn no_symlink_is_followed() {
    let fx = Granted::new();
    let root = fx.dir();
    root.write("victim", b"victim").expect("victim");
    let backend = fx.backend();
    backend.make_dir("d", 0o700).expect("made");
    let dir = backend.open_dir("d").expect("opens");
    dir.as_dir().symlink("../victim", "link").expect("symlink");

    let err = backend
        .create_file(&dir, "link", 0o600)
        .expect_err("create-new");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(backend.open_file(&dir, "link").is_err());
    assert!(backend.touch(&dir, Some("link")).is_err());
    let meta = backend.entry(&dir, "link").expect("lstat").expect("there");
    assert_eq!(meta.kind, FileKind::Symlink);
    backend.remove_file(&dir, "link").expect("unlinks the link");
    assert_eq!(root.read("victim").expect("victim survives"), b"victim");

    // At the directory's own name: refused, and nothing is made at the target.
    root.symlink("victim", "planted").expect("symlink");
    let err = backend.make_dir("planted", 0o700).expect_err("taken");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(root.read("victim").expect("victim survives"), b"victim");
    let planted = backend
        .root_entry("planted")
        .expect("lstat")
        .expect("there");
    assert_eq!(planted.kind, FileKind::Symlink);
    // Nor is a symlink to a directory opened as the directory.
    root.symlink("d", "to-d").expect("symlink");
    assert!(backend.open_dir("to-d").is_err());

    backend.remove_dir("d").expect("rmdir");
    root.remove_file("planted").expect("fixture");
    root.remove_file("to-d").expect("fixture");
    root.remove_file("victim").expect("fixture");
    fx.finish();
}

#[test]
fn a_reaped_directory_is_noticed() {
    if cfg!(windows) {
        println!(
            "unsupported: a_reaped_directory_is_noticed on Windows: a removed directory still \
             open keeps its name until closed (Wine)"
        );
        return;
    }
    let fx = Granted::new();
    let root = fx.dir();
    let tmp = TemporaryDirectory::with_backend(fx.backend()).expect("made");
    let name = tmp.dir().file_name().expect("named").to_owned();
    root.remove_dir(&name)
        .expect("a reaper removes the empty directory");
    assert_eq!(tmp.status(), DirStatus::Reaped);
    assert!(matches!(tmp.mktemp(), Err(Error::Reaped { .. })));
    assert!(
        tmp.mkstemp().is_err(),
        "nothing is created in a dead directory"
    );
    drop(tmp);
    fx.finish();
}

#[test]
fn error_kinds_are_faithful() {
    let fx = Granted::new();
    let backend = fx.backend();
    backend.make_dir("d", 0o700).expect("made");
    assert_eq!(
        backend.make_dir("d", 0o700).expect_err("taken").kind(),
        io::ErrorKind::AlreadyExists
    );
    let dir = backend.open_dir("d").expect("opens");
    let id = backend.dir_meta(&dir).expect("fstat").id;
    assert_eq!(
        backend.root_entry("d").expect("lstat").expect("there").id,
        id
    );
    let mut file = backend.create_file(&dir, "f", 0o600).expect("create");
    file.write_all(b"abc").expect("write");
    drop(file);
    let (mut reopened, kind) = backend.open_file(&dir, "f").expect("open");
    assert_eq!(kind, FileKind::File);
    reopened.write_all(b"d").expect("read-write");
    drop(reopened);
    assert_eq!(backend.list(&dir).expect("ls"), ["f"]);
    let err = backend
        .create_file(&dir, "f", 0o600)
        .expect_err("create-new");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    dir.as_dir().create_dir("sub").expect("subdir");
    let err = backend.open_file(&dir, "sub").expect_err("a directory");
    assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    dir.as_dir().remove_dir("sub").expect("fixture");
    assert_eq!(
        backend.remove_dir("d").expect_err("not empty").kind(),
        io::ErrorKind::DirectoryNotEmpty
    );
    backend.remove_file(&dir, "f").expect("unlink");
    assert_eq!(
        backend.remove_file(&dir, "f").expect_err("gone").kind(),
        io::ErrorKind::NotFound
    );
    assert!(backend.entry(&dir, "f").expect("lstat").is_none());
    assert_eq!(backend.dir_meta(&dir).expect("fstat").id, id);
    // Closed first: on Windows under Wine a directory still open keeps its name.
    drop(dir);
    backend.remove_dir("d").expect("rmdir");
    assert!(backend.root_entry("d").expect("lstat").is_none());
    fx.finish();
}

#[test]
fn rename_at_moves_and_refuses_to_replace() {
    let fx = Granted::new();
    let backend = fx.backend();
    backend.make_dir("a", 0o700).expect("made");
    backend.make_dir("taken", 0o700).expect("made");
    let dir = backend.open_dir("a").expect("opens");
    let id = backend.dir_meta(&dir).expect("fstat").id;
    let err = backend.rename_at("a", "taken").expect_err("no replace");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    backend.rename_at("a", "b").expect("rename");
    assert!(backend.root_entry("a").expect("lstat").is_none());
    assert_eq!(
        backend.root_entry("b").expect("lstat").expect("there").id,
        id
    );
    drop(dir);
    backend.remove_dir("b").expect("rmdir");
    backend.remove_dir("taken").expect("rmdir");
    fx.finish();
}
