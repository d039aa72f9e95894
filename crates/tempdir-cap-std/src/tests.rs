//! What only this backend can show on a real Unix directory: that each primitive does
//! exactly what its [`Backend`] documentation says (the umask, symlinks never followed,
//! refusing to replace, a FIFO that does not block, faithful error kinds, a live flock),
//! and a few runs of the whole [`TemporaryDirectory`] on top. The conformance suite in
//! `tests/it` covers the behaviour every backend shares.
//!
//! Every test makes its own root. The umask is process-wide and the other tests make files
//! at the same time, so the tests that change it run in a child process (see
//! [`in_child_with_umask`]). They pass as root and as an unprivileged user.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use rustix::fs::{FlockOperation, Mode, OFlags, RawMode, flock, open};
use rustix::io::{Errno, FdFlags, fcntl_getfd};
use tempdir_core::{Backend, Error, FileKind, Op, OpenRoot};

use crate::{CapStdBackend, TemporaryDirectory};

/// A fresh root per test under the system temp dir, removed (with a recursive delete that
/// is the fixture's, never the library's) when the test ends.
struct Root(Utf8PathBuf);

impl Root {
    fn new() -> Root {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = Utf8PathBuf::try_from(std::env::temp_dir()).expect("UTF-8 temp dir");
        let path = base.join(format!(
            "tempdir-cap-std-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path).expect("fixture root");
        // Whatever the umask: a root others may write to is one the core refuses.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod");
        Root(path)
    }

    fn backend(&self) -> CapStdBackend {
        CapStdBackend::open_root(&self.0).expect("root opens")
    }

    fn join(&self, name: &str) -> Utf8PathBuf {
        self.0.join(name)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The permission bits of `path`, not following a symlink.
fn mode(path: &Utf8Path) -> u32 {
    fs::symlink_metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o7777
}

/// The environment variable that tells a child process its umask.
const UMASK_VAR: &str = "TEMPDIR_CAP_STD_TEST_UMASK";

/// Runs `body` once per mask in `masks`, each in a child process with that umask.
///
/// The umask is process-wide, and the other tests of this binary make files at the same
/// time, so changing it here would change theirs. The test binary runs again with only
/// `test` selected and the mask in [`UMASK_VAR`]; there this function makes the root (with
/// the umask unchanged, so that it is usable), sets the umask and runs `body`.
fn in_child_with_umask(test: &str, masks: &[u32], body: impl FnOnce(&Root, u32)) {
    if let Ok(mask) = std::env::var(UMASK_VAR) {
        let mask = u32::from_str_radix(&mask, 8).expect("an octal umask");
        let root = Root::new();
        // The cast: `mode_t` is 16 bits wide on macOS and the BSDs.
        #[allow(clippy::unnecessary_cast)]
        rustix::process::umask(Mode::from_bits_truncate(mask as RawMode));
        body(&root, mask);
        return;
    }
    // `module_path!()` is `tempdir_cap_std::tests`; the harness names tests `tests::…`.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let test = format!("{module}::{test}");
    for &mask in masks {
        let out = Command::new(std::env::current_exe().expect("the test binary"))
            .args([&test, "--exact", "--nocapture", "--test-threads=1"])
            .env(UMASK_VAR, format!("{mask:o}"))
            .output()
            .expect("the child runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // "1 passed", not just success: a misspelt name would run no test and succeed.
        assert!(
            out.status.success() && stdout.contains("test result: ok. 1 passed"),
            "{test} under umask {mask:o}:\n{stdout}\n{stderr}"
        );
    }
}

const MASKS: [u32; 6] = [0o000, 0o022, 0o077, 0o277, 0o400, 0o777];

#[test]
fn make_dir_and_create_file_apply_the_umask_and_the_setters_do_not() {
    in_child_with_umask(
        "make_dir_and_create_file_apply_the_umask_and_the_setters_do_not",
        &MASKS,
        |root, mask| {
            let backend = root.backend();
            backend.make_dir("d", 0o777).expect("mkdirat");
            assert_eq!(mode(&root.join("d")), 0o777 & !mask);
            backend.make_dir("e", 0o700).expect("mkdirat");
            assert_eq!(mode(&root.join("e")), 0o700 & !mask);
            let entry = backend.root_entry("e").expect("fstatat").expect("there");
            assert_eq!(entry.mode, Some(0o700 & !mask));
            // The fixture's removal must be able to enter it.
            backend.set_mode_at("e", 0o700).expect("fchmodat");

            // By name, for a directory its owner may not open: exact, whatever the umask.
            backend.set_mode_at("d", 0o700).expect("fchmodat");
            assert_eq!(mode(&root.join("d")), 0o700);
            let dir = backend.open_dir("d").expect("opens");
            backend.set_dir_mode(&dir, 0o750).expect("fchmod");
            assert_eq!(mode(&root.join("d")), 0o750);
            assert_eq!(backend.dir_meta(&dir).expect("fstat").mode, Some(0o750));

            let file = backend.create_file(&dir, "f", 0o666).expect("openat");
            assert_eq!(mode(&root.join("d/f")), 0o666 & !mask);
            backend.set_file_mode(&file, 0o600).expect("fchmod");
            assert_eq!(mode(&root.join("d/f")), 0o600);
        },
    );
}

#[test]
fn the_instance_makes_exact_modes_whatever_the_umask() {
    in_child_with_umask(
        "the_instance_makes_exact_modes_whatever_the_umask",
        &MASKS,
        |root, mask| {
            let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
            let (_file, path) = tmp.mkstemp().expect("mkstemp");
            drop(tmp.create("named").expect("create"));
            assert_eq!(mode(tmp.dir()), 0o700, "directory under umask {mask:o}");
            assert_eq!(mode(&path), 0o600, "mkstemp under umask {mask:o}");
            assert_eq!(mode(&tmp.dir().join("named")), 0o600, "create, {mask:o}");
            assert!(tmp.cleanup().is_complete());
        },
    );
}

/// Linux gives a new directory the set-group-ID bit of its parent; `fchmod` takes it away.
#[cfg(target_os = "linux")]
#[test]
fn a_set_group_id_root_leaks_into_make_dir_but_not_past_set_dir_mode() {
    let root = Root::new();
    fs::set_permissions(&root.0, fs::Permissions::from_mode(0o2755)).expect("chmod");
    let backend = root.backend();
    backend.make_dir("d", 0o700).expect("mkdirat");
    assert_eq!(mode(&root.join("d")) & 0o2000, 0o2000, "inherited");
    let dir = backend.open_dir("d").expect("opens");
    backend.set_dir_mode(&dir, 0o700).expect("fchmod");
    assert_eq!(mode(&root.join("d")), 0o700);

    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
    assert_eq!(mode(tmp.dir()), 0o700);
}

#[test]
fn metadata_is_what_fstat_says() {
    let root = Root::new();
    let backend = root.backend();
    let euid = rustix::process::geteuid().as_raw();
    assert_eq!(backend.euid(), Some(euid));

    let std_meta = fs::metadata(&root.0).expect("stat");
    let meta = backend.root_meta().expect("fstat");
    assert_eq!((meta.id.dev, meta.id.ino), (std_meta.dev(), std_meta.ino()));
    assert_eq!(meta.kind, FileKind::Dir);
    assert_eq!(meta.nlink, std_meta.nlink());
    assert_eq!(meta.uid, Some(euid));
    assert_eq!(meta.mode, Some(0o700));

    backend.make_dir("d", 0o755).expect("mkdirat");
    fs::write(root.join("f"), b"").expect("file");
    symlink("d", root.join("link")).expect("symlink");
    for (name, kind) in [
        ("d", FileKind::Dir),
        ("f", FileKind::File),
        ("link", FileKind::Symlink),
    ] {
        let lstat = fs::symlink_metadata(root.join(name)).expect("lstat");
        let meta = backend.root_entry(name).expect("fstatat").expect("there");
        assert_eq!(meta.kind, kind, "{name}");
        assert_eq!((meta.id.dev, meta.id.ino), (lstat.dev(), lstat.ino()));
        assert_eq!(meta.mode, Some(lstat.mode() & 0o7777), "{name}");
        assert_eq!(meta.uid, Some(euid));
    }
    assert!(backend.root_entry("missing").expect("fstatat").is_none());

    let dir = backend.open_dir("d").expect("opens");
    let entry = backend.root_entry("d").expect("fstatat").expect("there");
    assert_eq!(backend.dir_meta(&dir).expect("fstat"), entry);

    // `entry` is the same call relative to the directory's handle.
    drop(backend.create_file(&dir, "f", 0o640).expect("create"));
    symlink("f", root.join("d/link")).expect("symlink");
    for (name, kind) in [("f", FileKind::File), ("link", FileKind::Symlink)] {
        let lstat = fs::symlink_metadata(root.join("d").join(name)).expect("lstat");
        let meta = backend.entry(&dir, name).expect("fstatat").expect("there");
        assert_eq!(meta.kind, kind, "{name}");
        assert_eq!((meta.id.dev, meta.id.ino), (lstat.dev(), lstat.ino()));
        assert_eq!(meta.mode, Some(lstat.mode() & 0o7777), "{name}");
        assert_eq!(meta.uid, Some(euid));
        assert_eq!(meta.nlink, 1);
    }
    assert!(backend.entry(&dir, "missing").expect("fstatat").is_none());
}

/// A FIFO (and a socket) is `Other`; a regular file comes back without `O_NONBLOCK`.
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
#[test]
fn open_file_says_the_kind_and_a_fifo_does_not_block() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("d", 0o700).expect("mkdirat");
    let dir = backend.open_dir("d").expect("opens");
    rustix::fs::mkfifoat(&dir, "fifo", Mode::RUSR | Mode::WUSR).expect("mkfifo");
    let _socket = std::os::unix::net::UnixListener::bind(root.join("d/socket")).expect("bind");

    let (mut fifo, kind) = backend.open_file(&dir, "fifo").expect("opens at once");
    assert_eq!(kind, FileKind::Other);
    let err = fifo.read(&mut [0; 1]).expect_err("nothing written");
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "still non-blocking");
    // Linux refuses to open a socket (ENXIO); where one opens, it is `Other`.
    if let Ok((_, kind)) = backend.open_file(&dir, "socket") {
        assert_eq!(kind, FileKind::Other);
    }

    drop(backend.create_file(&dir, "f", 0o600).expect("create"));
    let (file, kind) = backend.open_file(&dir, "f").expect("opens");
    assert_eq!(kind, FileKind::File);
    let flags = rustix::fs::fcntl_getfl(&file).expect("F_GETFL");
    assert!(!flags.contains(OFlags::NONBLOCK), "{flags:?}");
    assert!(flags.contains(OFlags::RDWR), "{flags:?}");
}

#[test]
fn handles_are_close_on_exec() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("d", 0o700).expect("mkdirat");
    let dir = backend.open_dir("d").expect("opens");
    let created = backend.create_file(&dir, "f", 0o600).expect("create");
    let (opened, _) = backend.open_file(&dir, "f").expect("open");
    for flags in [
        fcntl_getfd(&dir),
        fcntl_getfd(&created),
        fcntl_getfd(&opened),
    ] {
        assert!(flags.expect("F_GETFD").contains(FdFlags::CLOEXEC));
    }
}

/// What systemd-tmpfiles does before touching a directory: its own open, `LOCK_EX|LOCK_NB`.
fn exclusive_lock_blocked(dir: &Utf8Path) -> bool {
    let fd = open(
        dir.as_std_path(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("directory opens");
    match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => false,
        Err(Errno::WOULDBLOCK) => true,
        Err(e) => panic!("flock failed oddly: {e}"),
    }
}

#[test]
fn the_shared_lock_lives_as_long_as_the_handle() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("locked", 0o700).expect("mkdirat");
    let dir = backend.open_dir("locked").expect("opens");
    let path = root.join("locked");
    assert!(!exclusive_lock_blocked(&path), "no lock before lock_shared");
    backend.lock_shared(&dir).expect("flock");
    assert!(exclusive_lock_blocked(&path));
    // A second shared lock (another instance, a reader) is fine and does not block.
    backend.lock_shared(&dir).expect("flock again");
    drop(dir);
    assert!(
        !exclusive_lock_blocked(&path),
        "closing the handle releases it"
    );
    backend.remove_dir("locked").expect("rmdir");
}

#[test]
fn the_instance_holds_the_lock() {
    let root = Root::new();
    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
    assert!(exclusive_lock_blocked(tmp.dir()));
}

#[test]
fn no_symlink_is_followed() {
    let root = Root::new();
    let backend = root.backend();
    let outside = root.join("outside");
    fs::write(&outside, b"victim").expect("victim");
    let old = fs::symlink_metadata(&outside).expect("victim").mtime();

    // At a directory's name: mkdirat refuses, nothing is made at the target.
    symlink(root.join("nowhere"), root.join("planted-dir")).expect("symlink");
    let err = backend.make_dir("planted-dir", 0o700).expect_err("refused");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(!root.join("nowhere").exists());
    let planted = backend.root_entry("planted-dir").expect("lstat");
    assert_eq!(planted.expect("there").kind, FileKind::Symlink);

    // open_dir does not go through a symlink to a directory.
    backend.make_dir("real", 0o700).expect("mkdirat");
    symlink("real", root.join("to-real")).expect("symlink");
    let err = backend.open_dir("to-real").expect_err("O_NOFOLLOW");
    // Linux says ENOTDIR (O_DIRECTORY sees the link), others ELOOP or, FreeBSD, EMLINK.
    #[cfg(target_os = "linux")]
    assert_eq!(err.raw_os_error(), Some(Errno::NOTDIR.raw_os_error()));
    let _ = err;

    backend.make_dir("d", 0o700).expect("mkdirat");
    let dir = backend.open_dir("d").expect("opens");
    symlink(&outside, root.join("d/link")).expect("symlink");
    symlink(root.join("absent"), root.join("d/dangling")).expect("symlink");
    for name in ["link", "dangling"] {
        let err = backend.create_file(&dir, name, 0o600).expect_err("O_EXCL");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{name}");
    }
    assert!(!root.join("absent").exists(), "nothing made at the target");
    let err = backend.open_file(&dir, "link").expect_err("O_NOFOLLOW");
    #[cfg(target_os = "linux")]
    assert_eq!(err.raw_os_error(), Some(Errno::LOOP.raw_os_error()));
    let _ = err;
    std::thread::sleep(std::time::Duration::from_millis(20));
    backend
        .touch(&dir, Some("link"))
        .expect("touches the link itself");
    assert_eq!(fs::symlink_metadata(&outside).expect("victim").mtime(), old);
    backend.remove_file(&dir, "link").expect("unlinks the link");
    assert_eq!(fs::read(&outside).expect("victim survives"), b"victim");
}

/// `fchmodat` follows a symlink, as the trait says: the core calls it only on a name it
/// just made.
#[test]
fn set_mode_at_follows_a_symlink() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("target", 0o700).expect("mkdirat");
    symlink("target", root.join("link")).expect("symlink");
    backend.set_mode_at("link", 0o750).expect("fchmodat");
    assert_eq!(mode(&root.join("target")), 0o750);
}

#[test]
fn rename_at_moves_the_directory_under_its_handle() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("a", 0o700).expect("mkdirat");
    let dir = backend.open_dir("a").expect("opens");
    let id = backend.dir_meta(&dir).expect("fstat").id;
    backend.rename_at("a", "b").expect("renameat");
    assert!(backend.root_entry("a").expect("fstatat").is_none());
    let moved = backend.root_entry("b").expect("fstatat").expect("there");
    assert_eq!(moved.id, id);
    drop(backend.create_file(&dir, "f", 0o600).expect("still usable"));
    assert!(root.join("b/f").is_file());
    let err = backend.rename_at("a", "c").expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

/// Where the kernel has a no-replace flag, nothing at the new name is replaced: not an
/// empty directory (which plain `rename` would replace), not a file.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
))]
#[test]
fn rename_at_refuses_to_replace() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("a", 0o700).expect("mkdirat");
    backend.make_dir("empty", 0o700).expect("mkdirat");
    fs::write(root.join("file"), b"kept").expect("file");
    let before = backend
        .root_entry("empty")
        .expect("fstatat")
        .expect("there");
    for to in ["empty", "file"] {
        let err = backend.rename_at("a", to).expect_err("no replace");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{to}");
    }
    let after = backend
        .root_entry("empty")
        .expect("fstatat")
        .expect("there");
    assert_eq!(after.id, before.id);
    assert_eq!(fs::read(root.join("file")).expect("kept"), b"kept");
    assert!(root.join("a").is_dir());
}

#[test]
fn open_root_errors_are_io_open_root() {
    let root = Root::new();
    let missing = root.join("missing");
    match CapStdBackend::open_root(&missing) {
        Err(Error::Io { op, path, source }) => {
            assert_eq!(op, Op::OpenRoot);
            assert_eq!(path, missing);
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    let file = root.join("file");
    fs::write(&file, b"").expect("file");
    let err = CapStdBackend::open_root(&file).expect_err("not a directory");
    assert_eq!(err.op(), Some(Op::OpenRoot));
    assert_eq!(err.io_kind(), Some(io::ErrorKind::NotADirectory));
    assert_eq!(
        fs::read_dir(&root.0).expect("ls").count(),
        1,
        "nothing made"
    );
}

#[test]
fn a_relative_root_is_reported_absolute() {
    let backend = CapStdBackend::open_root(Utf8Path::new(".")).expect("cwd opens");
    assert!(backend.root().is_absolute());
}

#[test]
fn error_kinds_are_faithful() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("d", 0o700).expect("mkdirat");
    let err = backend.make_dir("d", 0o700).expect_err("taken");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    fs::write(root.join("plain"), b"").expect("file");
    let err = backend.open_dir("plain").expect_err("a file");
    assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
    let err = backend.open_dir("missing").expect_err("nothing there");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let dir = backend.open_dir("d").expect("opens");
    let id = backend.dir_meta(&dir).expect("fstat").id;

    let mut file = backend.create_file(&dir, "f", 0o600).expect("create");
    file.write_all(b"abc").expect("write");
    file.rewind().expect("seek");
    let mut back = String::new();
    file.read_to_string(&mut back).expect("read");
    assert_eq!(back, "abc");
    let err = backend.create_file(&dir, "f", 0o600).expect_err("O_EXCL");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let (mut reopened, kind) = backend.open_file(&dir, "f").expect("open");
    assert_eq!(kind, FileKind::File);
    reopened.write_all(b"d").expect("read-write");

    let err = backend.remove_dir("d").expect_err("not empty");
    assert_eq!(err.kind(), io::ErrorKind::DirectoryNotEmpty);
    fs::create_dir(root.join("d/sub")).expect("subdir");
    let err = backend.open_file(&dir, "sub").expect_err("a directory");
    assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    let err = backend
        .remove_file(&dir, "sub")
        .expect_err("unlink of a directory");
    #[cfg(target_os = "linux")]
    assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    let _ = err;
    assert!(root.join("d/sub").is_dir(), "never removed recursively");
    fs::remove_dir(root.join("d/sub")).expect("rmdir sub");

    backend.remove_file(&dir, "f").expect("unlink");
    let err = backend.remove_file(&dir, "f").expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = backend.open_file(&dir, "f").expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    let meta = backend.dir_meta(&dir).expect("fstat");
    assert_eq!((meta.id, meta.kind), (id, FileKind::Dir));
    assert!(meta.nlink >= 2);
    backend.remove_dir("d").expect("rmdir");
    assert_eq!(backend.dir_meta(&dir).expect("fstat").nlink, 0, "removed");
    assert!(backend.root_entry("d").expect("fstatat").is_none());
    let err = backend.remove_dir("d").expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    // Through the dead handle nothing can be created (the reaper case).
    let err = backend.create_file(&dir, "g", 0o600).expect_err("dead");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn list_gives_every_name_as_it_is() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("d", 0o700).expect("mkdirat");
    let dir = backend.open_dir("d").expect("opens");
    assert!(backend.list(&dir).expect("ls").is_empty(), "no . or ..");
    drop(backend.create_file(&dir, "f", 0o600).expect("create"));
    fs::create_dir(root.join("d/sub")).expect("subdir");
    let mut want = vec![OsString::from("f"), OsString::from("sub")];
    // Linux filesystems take any bytes; macOS's insist on UTF-8.
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = std::ffi::OsStr::from_bytes(b"not-utf8-\xff");
        fs::write(root.0.as_std_path().join("d").join(odd), b"").expect("file");
        want.push(odd.to_owned());
    }
    let mut names = backend.list(&dir).expect("ls");
    names.sort();
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn touch_refreshes_the_directory_and_its_files() {
    let root = Root::new();
    let backend = root.backend();
    backend.make_dir("d", 0o700).expect("mkdirat");
    let dir = backend.open_dir("d").expect("opens");
    drop(backend.create_file(&dir, "f", 0o600).expect("create"));
    let old = fs::FileTimes::new()
        .set_accessed(std::time::UNIX_EPOCH)
        .set_modified(std::time::UNIX_EPOCH);
    for path in [root.join("d"), root.join("d/f")] {
        fs::File::open(&path)
            .expect("open")
            .set_times(old)
            .expect("age");
        assert_eq!(fs::metadata(&path).expect("stat").mtime(), 0);
    }
    backend.touch(&dir, None).expect("futimens");
    backend.touch(&dir, Some("f")).expect("utimensat");
    for path in [root.join("d"), root.join("d/f")] {
        let meta = fs::metadata(&path).expect("stat");
        assert!(meta.mtime() > 0 && meta.atime() > 0, "{path} refreshed");
    }
    let err = backend.touch(&dir, Some("missing")).expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn the_instance_runs_on_it_from_mkstemp_to_cleanup() {
    let root = Root::new();
    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
    let (mut file, path) = tmp.mkstemp().expect("mkstemp");
    file.write_all(b"volume 1").expect("write");
    drop(file);
    let mut again = tmp.open(&path).expect("reopen");
    let mut back = String::new();
    again.read_to_string(&mut back).expect("read");
    assert_eq!(back, "volume 1");
    drop(again);
    let report = tmp.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        fs::read_dir(&root.0).expect("ls").count(),
        0,
        "nothing left"
    );
}
