//! What only this backend can show on a real Unix directory: exact modes under odd umasks,
//! close-on-exec, a live flock, symlinks never followed, faithful error kinds. The
//! conformance suite in `tests/it` covers the behaviour every backend shares.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
use rustix::io::{Errno, FdFlags, fcntl_getfd};
use tempdir_core::{Backend, Error, FileKind, Op, OpenRoot};

use crate::{CapStdBackend, TemporaryDirectory};

/// A fresh root per test under the system temp dir, removed (with a recursive delete that
/// is the fixture's, never the library's) when the test ends.
struct Root(Utf8PathBuf);

impl Root {
    fn new() -> Root {
        Root::under(Utf8PathBuf::try_from(std::env::temp_dir()).expect("UTF-8 temp dir"))
    }

    fn under(base: Utf8PathBuf) -> Root {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = base.join(format!(
            "tempdir-cap-std-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path).expect("fixture root");
        Root(path)
    }

    fn backend(&self) -> CapStdBackend {
        CapStdBackend::open_root(&self.0).expect("root opens")
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Utf8Path) -> u32 {
    fs::symlink_metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `f` with the process umask set to `mask`.
///
/// The umask is process-global, and every test here makes files or directories (a fixture
/// root made under umask `0777` is unusable to a non-root user), so every test is
/// `#[serial]`.
fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    let old = rustix::process::umask(Mode::from_raw_mode(mask));
    let result = f();
    rustix::process::umask(old);
    result
}

#[test]
#[serial_test::serial] // sets the process umask: see `with_umask`
fn modes_are_exact_whatever_the_umask() {
    for mask in [0o000, 0o022, 0o077, 0o277, 0o777] {
        let root = Root::new();
        let (dir_mode, file_mode) = with_umask(mask, || {
            let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
            let (_file, path) = tmp.mkstemp().expect("mkstemp");
            let created = tmp.create("named").expect("create");
            drop(created);
            assert_eq!(mode(&tmp.dir().join("named")), 0o600, "umask {mask:o}");
            let modes = (mode(tmp.dir()), mode(&path));
            assert!(tmp.cleanup().is_complete());
            modes
        });
        assert_eq!(dir_mode, 0o700, "directory under umask {mask:o}");
        assert_eq!(file_mode, 0o600, "file under umask {mask:o}");
    }
}

#[test]
#[serial_test::serial] // see `with_umask`
fn a_set_group_id_root_does_not_leak_into_the_directory_mode() {
    let root = Root::new();
    fs::set_permissions(&root.0, fs::Permissions::from_mode(0o2777)).expect("chmod");
    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
    assert_eq!(mode(tmp.dir()), 0o700);
}

#[test]
#[serial_test::serial] // see `with_umask`
fn created_files_are_close_on_exec() {
    let root = Root::new();
    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
    let (file, _) = tmp.mkstemp().expect("mkstemp");
    assert!(
        fcntl_getfd(&file)
            .expect("F_GETFD")
            .contains(FdFlags::CLOEXEC)
    );
    let name = tmp.mktemp().expect("mktemp");
    drop(tmp.create(&name).expect("create"));
    let opened = tmp.open(&name).expect("open");
    assert!(
        fcntl_getfd(&opened)
            .expect("F_GETFD")
            .contains(FdFlags::CLOEXEC)
    );
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
#[serial_test::serial] // see `with_umask`
fn the_shared_lock_lives_as_long_as_the_handle() {
    let root = Root::new();
    let backend = root.backend();
    let (dir, _) = backend.make_dir("locked").expect("made");
    let path = root.0.join("locked");
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
#[serial_test::serial] // see `with_umask`
fn the_instance_holds_the_lock() {
    let root = Root::new();
    let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&root.0).expect("made");
    assert!(exclusive_lock_blocked(tmp.dir()));
}

#[test]
#[serial_test::serial] // see `with_umask`
fn no_symlink_is_followed() {
    let root = Root::new();
    let backend = root.backend();
    let outside = root.0.join("outside");
    fs::write(&outside, b"victim").expect("victim");
    let old = fs::symlink_metadata(&outside).expect("victim").mtime();

    // At the directory's own name: mkdirat refuses, nothing is made at the target.
    symlink(&outside, root.0.join("planted-dir")).expect("symlink");
    let err = backend.make_dir("planted-dir").expect_err("refused");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(
        backend
            .root_entry("planted-dir")
            .expect("lstat")
            .expect("there")
            .kind,
        FileKind::Symlink
    );

    let (dir, _) = backend.make_dir("d").expect("made");
    symlink(&outside, root.0.join("d/link")).expect("symlink");
    let err = backend.create_file(&dir, "link").expect_err("create-new");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let err = backend.open_file(&dir, "link").expect_err("O_NOFOLLOW");
    assert_eq!(err.raw_os_error(), Some(Errno::LOOP.raw_os_error()));
    let meta = backend.entry(&dir, "link").expect("lstat").expect("there");
    assert_eq!(meta.kind, FileKind::Symlink);
    std::thread::sleep(std::time::Duration::from_millis(20));
    backend
        .touch(&dir, Some("link"))
        .expect("touches the link itself");
    assert_eq!(fs::symlink_metadata(&outside).expect("victim").mtime(), old);
    backend.remove_file(&dir, "link").expect("unlinks the link");
    assert_eq!(fs::read(&outside).expect("victim survives"), b"victim");
    backend.remove_dir("d").expect("rmdir");
}

#[test]
#[serial_test::serial] // see `with_umask`
fn open_root_errors_are_io_open_root() {
    let root = Root::new();
    let missing = root.0.join("missing");
    match CapStdBackend::open_root(&missing) {
        Err(Error::Io { op, path, source }) => {
            assert_eq!(op, Op::OpenRoot);
            assert_eq!(path, missing);
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    let file = root.0.join("file");
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
#[serial_test::serial] // see `with_umask`
fn a_relative_root_is_reported_absolute() {
    let backend = CapStdBackend::open_root(Utf8Path::new(".")).expect("cwd opens");
    assert!(backend.root().is_absolute());
}

#[test]
#[serial_test::serial] // see `with_umask`
fn error_kinds_are_faithful() {
    let root = Root::new();
    let backend = root.backend();
    let (dir, id) = backend.make_dir("d").expect("made");
    let err = backend.make_dir("d").expect_err("taken");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);

    let (mut file, file_id) = backend.create_file(&dir, "f").expect("create");
    file.write_all(b"abc").expect("write");
    file.rewind().expect("seek");
    let mut back = String::new();
    file.read_to_string(&mut back).expect("read");
    assert_eq!(back, "abc");
    let err = backend.create_file(&dir, "f").expect_err("create-new");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let (_, reopened) = backend.open_file(&dir, "f").expect("open");
    assert_eq!(reopened, file_id);
    assert_eq!(backend.list(&dir).expect("ls"), ["f"]);

    let err = backend.remove_dir("d").expect_err("not empty");
    assert_eq!(err.kind(), io::ErrorKind::DirectoryNotEmpty);
    fs::create_dir(root.0.join("d/sub")).expect("subdir");
    let err = backend.open_file(&dir, "sub").expect_err("a directory");
    assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    let err = backend
        .remove_file(&dir, "sub")
        .expect_err("unlink of a directory");
    assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    fs::remove_dir(root.0.join("d/sub")).expect("rmdir sub");

    backend.remove_file(&dir, "f").expect("unlink");
    let err = backend.remove_file(&dir, "f").expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = backend.open_file(&dir, "f").expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(backend.entry(&dir, "f").expect("lstat").is_none());

    let meta = backend.dir_meta(&dir).expect("fstat");
    assert_eq!((meta.id, meta.kind), (id, FileKind::Dir));
    assert!(meta.nlink >= 2);
    backend.remove_dir("d").expect("rmdir");
    assert_eq!(backend.dir_meta(&dir).expect("fstat").nlink, 0, "removed");
    assert!(backend.root_entry("d").expect("lstat").is_none());
    // Through the dead handle nothing can be created (the reaper case).
    let err = backend.create_file(&dir, "g").expect_err("dead directory");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
#[serial_test::serial] // see `with_umask`
fn touch_refreshes_the_directory_and_its_files() {
    let root = Root::new();
    let backend = root.backend();
    let (dir, _) = backend.make_dir("d").expect("made");
    drop(backend.create_file(&dir, "f").expect("create"));
    let old = fs::FileTimes::new()
        .set_accessed(std::time::UNIX_EPOCH)
        .set_modified(std::time::UNIX_EPOCH);
    for path in [root.0.join("d"), root.0.join("d/f")] {
        fs::File::open(&path)
            .expect("open")
            .set_times(old)
            .expect("age");
        assert_eq!(fs::metadata(&path).expect("stat").mtime(), 0);
    }
    backend.touch(&dir, None).expect("futimens");
    backend.touch(&dir, Some("f")).expect("utimensat");
    for path in [root.0.join("d"), root.0.join("d/f")] {
        let meta = fs::metadata(&path).expect("stat");
        assert!(meta.mtime() > 0 && meta.atime() > 0, "{path} refreshed");
    }
    let err = backend.touch(&dir, Some("missing")).expect_err("gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
#[serial_test::serial] // see `with_umask`
fn names_differ_between_calls_and_backends() {
    let root = Root::new();
    let (a, b) = (root.backend(), root.backend());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        assert!(seen.insert(a.random()));
        assert!(seen.insert(b.random()));
    }
}

/// A listing's inode numbers and kinds are what `statx` says, on tmpfs; on a filesystem
/// that hands freed inode numbers out again, the backend declines to list (cleanup then
/// looks at each name, birth time included).
#[test]
#[serial_test::serial] // see `with_umask`
#[allow(clippy::useless_conversion)] // `f_type`'s type differs between targets
fn a_listing_stands_in_for_a_stat_only_on_tmpfs() {
    use tempdir_core::Listed;
    let on_tmpfs = |path: &Utf8Path| {
        rustix::fs::statfs(path.as_std_path()).is_ok_and(|fs| i64::from(fs.f_type) == 0x0102_1994)
    };
    let roots = [Root::new(), Root::under(Utf8PathBuf::from("/dev/shm"))];
    let roots = if Utf8Path::new("/dev/shm").is_dir() {
        &roots[..]
    } else {
        &roots[..1]
    };
    for root in roots {
        let backend = root.backend();
        let (dir, _) = backend.make_dir("d").expect("mkdir");
        backend.create_file(&dir, "f").expect("create");
        fs::create_dir(root.0.join("d/sub")).expect("mkdir sub");
        symlink("f", root.0.join("d/link")).expect("symlink");
        let mut listed = Vec::new();
        let scanned = backend
            .scan(&dir, &mut |name, l| listed.push((name.to_owned(), l)))
            .expect("scan");
        assert_eq!(scanned, on_tmpfs(&root.0), "{}", root.0);
        if !scanned {
            assert!(listed.is_empty());
            continue;
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let want: Vec<(String, Listed)> = ["f", "link", "sub"]
            .into_iter()
            .map(|name| {
                let meta = backend.entry(&dir, name).expect("stat").expect("exists");
                (name.to_owned(), Listed::new(meta.id.ino, Some(meta.kind)))
            })
            .collect();
        assert_eq!(listed, want);
        assert_eq!(
            want.iter().map(|(_, l)| l.kind).collect::<Vec<_>>(),
            [
                Some(FileKind::File),
                Some(FileKind::Symlink),
                Some(FileKind::Dir)
            ]
        );
    }
}
