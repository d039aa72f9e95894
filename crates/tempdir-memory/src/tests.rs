//! Tests of the filesystem model itself; the core's behaviour on it is checked by the
//! workspace's conformance suite.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camino::Utf8PathBuf;
use tempdir_core::{Backend, DirStatus, FileKind, TemporaryDirectory};

use crate::{BackendOp, Errno, Fault, FaultOp, MemoryBackend, MemoryDir, MemoryFs};

const DAY: Duration = Duration::from_secs(86_400);

/// The errno of a failed operation.
fn errno<T: std::fmt::Debug>(result: io::Result<T>) -> Errno {
    let error = result.expect_err("the operation fails");
    Errno::of(&error).expect("a Linux errno")
}

fn backend(fs: &MemoryFs) -> MemoryBackend {
    MemoryBackend::new(fs, "/tmp").expect("/tmp opens")
}

/// `make_dir` then `open_dir`, as the core makes its directory.
fn make_open(backend: &MemoryBackend, name: &str) -> MemoryDir {
    backend.make_dir(name, 0o700).expect("make_dir");
    backend.open_dir(name).expect("open_dir")
}

// ---- the initial filesystem ----

#[test]
fn starts_with_root_and_a_sticky_world_writable_tmp() {
    let fs = MemoryFs::new();
    assert_eq!((fs.seed(), fs.uid(), fs.now()), (0, 1000, MemoryFs::START));
    let root = fs.metadata("/").unwrap();
    assert_eq!(
        (root.mode, root.uid, root.ino, root.nlink),
        (0o755, 0, 2, 3)
    );
    let tmp = fs.metadata("/tmp").unwrap();
    assert_eq!((tmp.mode, tmp.uid, tmp.nlink), (0o1777, 0, 2));
    assert_eq!(tmp.dev, MemoryFs::DEV);
    assert_eq!(fs.read_dir("/").unwrap(), ["tmp"]);
    assert!(fs.read_dir("/tmp").unwrap().is_empty());
    assert!(fs.protected_symlinks());
}

// ---- path resolution ----

#[test]
fn paths_resolve_dot_dotdot_relative_and_trailing_slashes() {
    let fs = MemoryFs::new();
    fs.create_dir("/tmp/a").unwrap();
    fs.write("/tmp/a/f", "x").unwrap();
    assert_eq!(fs.read("/tmp/./a/../a//f").unwrap(), b"x");
    assert_eq!(fs.read("tmp/a/f").unwrap(), b"x", "relative to /");
    assert_eq!(fs.metadata("/../..").unwrap().ino, 2, "/.. is /");
    assert!(fs.metadata("/tmp/a/").unwrap().is_dir());
    assert_eq!(errno(fs.metadata("/tmp/a/f/")), Errno::ENOTDIR);
    assert_eq!(errno(fs.read("/tmp/a/f/g")), Errno::ENOTDIR);
    assert_eq!(errno(fs.read("/tmp/missing/f")), Errno::ENOENT);
    assert_eq!(errno(fs.read("")), Errno::ENOENT);
    assert_eq!(errno(fs.read("/tmp/a\0")), Errno::EINVAL);
    let long = format!("/tmp/{}", "n".repeat(256));
    assert_eq!(errno(fs.write(&long, "")), Errno::ENAMETOOLONG);
    assert_eq!(errno(fs.read("/tmp/a")), Errno::EISDIR);
    assert_eq!(errno(fs.write("/tmp/a", "")), Errno::EISDIR);
    assert_eq!(errno(fs.write("/tmp/new/", "")), Errno::EISDIR);
    assert_eq!(errno(fs.create_dir("/tmp/a")), Errno::EEXIST);
    assert_eq!(errno(fs.create_dir("/")), Errno::EEXIST);
    fs.create_dir("/tmp/b/").unwrap();
    assert!(fs.exists("/tmp/b"));
}

#[test]
fn errors_have_the_kinds_std_gives_on_linux() {
    let fs = MemoryFs::new();
    fs.create_dir("/tmp/d").unwrap();
    fs.write("/tmp/d/f", "").unwrap();
    let kind = |r: io::Result<()>| r.unwrap_err().kind();
    assert_eq!(kind(fs.remove_file("/tmp/nope")), io::ErrorKind::NotFound);
    assert_eq!(kind(fs.create_dir("/tmp/d")), io::ErrorKind::AlreadyExists);
    assert_eq!(
        kind(fs.remove_dir("/tmp/d")),
        io::ErrorKind::DirectoryNotEmpty
    );
    assert_eq!(
        kind(fs.remove_dir("/tmp/d/f")),
        io::ErrorKind::NotADirectory
    );
    assert_eq!(kind(fs.remove_file("/tmp/d")), io::ErrorKind::IsADirectory);
    assert_eq!(
        kind(fs.create_dir("/forbidden")),
        io::ErrorKind::PermissionDenied
    );
    let error = fs.remove_file("/tmp/nope").unwrap_err();
    if cfg!(target_os = "linux") {
        assert_eq!(error.raw_os_error(), Some(2));
    }
}

// ---- symlinks ----

#[test]
fn outside_writes_follow_symlinks_even_dangling_ones() {
    let fs = MemoryFs::new();
    assert_eq!(errno(fs.create_dir("/home")), Errno::EACCES, "/ is root's");
    let root = fs.as_uid(0);
    root.create_dir_with_mode("/home", 0o755).unwrap();
    // No chown in this model: root makes the home and lets the victim write in it.
    root.create_dir_with_mode("/home/victim", 0o777).unwrap();
    fs.write("/home/victim/.bashrc", "safe").unwrap();

    fs.create_dir("/tmp/work").unwrap();
    fs.symlink("/home/victim/.bashrc", "/tmp/work/out").unwrap();
    fs.write("/tmp/work/out", "owned").unwrap();
    assert_eq!(fs.read("/home/victim/.bashrc").unwrap(), b"owned");

    // A dangling symlink's target is created, as open(O_CREAT) does.
    fs.symlink("created-there", "/tmp/work/dangling").unwrap();
    fs.write("/tmp/work/dangling", "x").unwrap();
    assert_eq!(fs.read("/tmp/work/created-there").unwrap(), b"x");
    assert!(fs.symlinks_followed() >= 2);
}

#[test]
fn symlinks_resolve_relative_targets_and_intermediate_components() {
    let fs = MemoryFs::new();
    fs.create_dir("/tmp/real").unwrap();
    fs.write("/tmp/real/f", "data").unwrap();
    fs.symlink("real", "/tmp/alias").unwrap();
    fs.symlink("../real/f", "/tmp/real/up").unwrap();
    assert_eq!(fs.read("/tmp/alias/f").unwrap(), b"data");
    assert_eq!(fs.read("/tmp/alias/up").unwrap(), b"data");
    assert_eq!(fs.read_dir("/tmp/alias").unwrap(), ["f", "up"]);
    assert!(fs.metadata("/tmp/alias").unwrap().is_dir());
    let link = fs.symlink_metadata("/tmp/alias").unwrap();
    assert!(link.is_symlink());
    assert_eq!((link.mode, link.len), (0o777, 4));
    assert_eq!(fs.read_link("/tmp/alias").unwrap(), "real");
    assert_eq!(errno(fs.read_link("/tmp/real")), Errno::EINVAL);
    assert_eq!(errno(fs.symlink("x", "/tmp/alias")), Errno::EEXIST);
    assert_eq!(errno(fs.symlink("", "/tmp/empty")), Errno::ENOENT);
    // Removing or renaming a symlink touches the link, never the target.
    fs.rename("/tmp/alias", "/tmp/alias2").unwrap();
    fs.remove_file("/tmp/alias2").unwrap();
    assert!(fs.exists("/tmp/real/f"));
    assert_eq!(errno(fs.remove_dir("/tmp/real/up/")), Errno::ENOTDIR);
}

#[test]
fn symlink_loops_and_chains_stop_at_forty() {
    let fs = MemoryFs::new();
    fs.symlink("/tmp/b", "/tmp/a").unwrap();
    fs.symlink("/tmp/a", "/tmp/b").unwrap();
    assert_eq!(errno(fs.read("/tmp/a")), Errno::ELOOP);
    assert_eq!(errno(fs.write("/tmp/a", "x")), Errno::ELOOP);
    assert!(!fs.exists("/tmp/a"));
    assert!(fs.symlink_metadata("/tmp/a").is_ok());

    fs.write("/tmp/end", "ok").unwrap();
    let mut prev = "/tmp/end".to_owned();
    for i in 0..41 {
        let link = format!("/tmp/l{i}");
        fs.symlink(&prev, &link).unwrap();
        prev = link;
    }
    assert_eq!(fs.read("/tmp/l39").unwrap(), b"ok", "40 links are followed");
    assert_eq!(errno(fs.read("/tmp/l40")), Errno::ELOOP, "41 are too many");
}

#[test]
fn protected_symlinks_refuses_foreign_links_in_sticky_world_writable_dirs() {
    let fs = MemoryFs::new();
    let mallory = fs.as_uid(1001);
    fs.write("/tmp/victim-file", "mine").unwrap();
    mallory.symlink("/tmp/victim-file", "/tmp/trap").unwrap();

    assert_eq!(errno(fs.write("/tmp/trap", "x")), Errno::EACCES);
    assert_eq!(
        errno(fs.as_uid(0).read("/tmp/trap")),
        Errno::EACCES,
        "root is not exempt"
    );
    assert_eq!(
        mallory.read("/tmp/trap").unwrap(),
        b"mine",
        "the link's owner follows"
    );
    // A link the directory's owner (root) made is followed by anyone.
    fs.as_uid(0)
        .symlink("/tmp/victim-file", "/tmp/roots")
        .unwrap();
    assert_eq!(fs.read("/tmp/roots").unwrap(), b"mine");
    // Outside a sticky world-writable directory nothing is protected.
    fs.create_dir_with_mode("/tmp/open", 0o777).unwrap();
    mallory
        .symlink("/tmp/victim-file", "/tmp/open/trap")
        .unwrap();
    assert_eq!(fs.read("/tmp/open/trap").unwrap(), b"mine");

    fs.set_protected_symlinks(false);
    fs.write("/tmp/trap", "overwritten").unwrap();
    assert_eq!(fs.read("/tmp/victim-file").unwrap(), b"overwritten");
}

// ---- permissions, sticky bit, umask ----

#[test]
fn sticky_bit_limits_removal_and_rename_to_owners_and_root() {
    let fs = MemoryFs::new();
    let mallory = fs.as_uid(1001);
    fs.write("/tmp/mine", "").unwrap();
    assert_eq!(errno(mallory.remove_file("/tmp/mine")), Errno::EPERM);
    assert_eq!(errno(mallory.rename("/tmp/mine", "/tmp/x")), Errno::EPERM);
    mallory.write("/tmp/theirs", "").unwrap();
    assert_eq!(errno(fs.rename("/tmp/mine", "/tmp/theirs")), Errno::EPERM);
    fs.create_dir("/tmp/d").unwrap();
    assert_eq!(errno(mallory.remove_dir("/tmp/d")), Errno::EPERM);
    fs.remove_file("/tmp/mine").unwrap();
    fs.as_uid(0).remove_file("/tmp/theirs").unwrap();

    // Without the sticky bit, write permission on the directory is enough.
    fs.create_dir_with_mode("/tmp/shared", 0o777).unwrap();
    fs.write("/tmp/shared/f", "").unwrap();
    mallory.remove_file("/tmp/shared/f").unwrap();
    // In a sticky directory of one's own, the directory's owner may remove anything.
    fs.create_dir_with_mode("/tmp/own", 0o1777).unwrap();
    mallory.write("/tmp/own/g", "").unwrap();
    fs.remove_file("/tmp/own/g").unwrap();
}

#[test]
fn mode_bits_guard_reads_writes_and_creation_and_root_bypasses_them() {
    let fs = MemoryFs::new();
    let mallory = fs.as_uid(1001);
    fs.create_dir_with_mode("/tmp/private", 0o700).unwrap();
    fs.write("/tmp/private/f", "s").unwrap();
    assert_eq!(errno(mallory.read("/tmp/private/f")), Errno::EACCES);
    assert_eq!(errno(mallory.write("/tmp/private/g", "")), Errno::EACCES);
    assert_eq!(errno(mallory.read_dir("/tmp/private")), Errno::EACCES);
    assert!(!mallory.exists("/tmp/private/f"));
    assert_eq!(fs.as_uid(0).read("/tmp/private/f").unwrap(), b"s");

    fs.write("/tmp/ro", "r").unwrap();
    fs.set_permissions("/tmp/ro", 0o444).unwrap();
    assert_eq!(errno(fs.write("/tmp/ro", "w")), Errno::EACCES);
    assert_eq!(mallory.read("/tmp/ro").unwrap(), b"r");
    assert_eq!(
        errno(mallory.set_permissions("/tmp/ro", 0o666)),
        Errno::EPERM
    );
    assert_eq!(errno(mallory.set_times("/tmp/ro", DAY, DAY)), Errno::EPERM);

    fs.create_dir_with_mode("/tmp/noexec", 0o600).unwrap();
    assert_eq!(errno(fs.write("/tmp/noexec/f", "")), Errno::EACCES);
    assert_eq!(fs.read_dir("/tmp/noexec").unwrap(), Vec::<String>::new());
}

#[test]
fn umask_applies_to_path_creations_of_every_view() {
    let fs = MemoryFs::new();
    fs.write("/tmp/f", "").unwrap();
    fs.create_dir("/tmp/d").unwrap();
    assert_eq!(fs.metadata("/tmp/f").unwrap().mode, 0o644);
    assert_eq!(fs.metadata("/tmp/d").unwrap().mode, 0o755);
    assert_eq!(fs.set_umask(0o077), 0o022);
    fs.as_uid(1001).write("/tmp/g", "").unwrap();
    fs.create_dir("/tmp/e").unwrap();
    assert_eq!(fs.metadata("/tmp/g").unwrap().mode, 0o600);
    assert_eq!(fs.metadata("/tmp/e").unwrap().mode, 0o700);
    fs.create_dir_with_mode("/tmp/open", 0o777).unwrap();
    assert_eq!(fs.metadata("/tmp/open").unwrap().mode, 0o777);
    fs.mkfifo("/tmp/fifo").unwrap();
    assert_eq!(fs.metadata("/tmp/fifo").unwrap().mode, 0o600);
}

#[test]
fn the_backend_creates_with_the_mode_asked_for_less_the_umask() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    // The default umask 022 takes group and other write bits.
    backend.make_dir("wide", 0o777).unwrap();
    assert_eq!(fs.metadata("/tmp/wide").unwrap().mode, 0o755);
    let dir = backend.open_dir("wide").unwrap();
    backend.create_file(&dir, "f", 0o666).unwrap();
    assert_eq!(fs.metadata("/tmp/wide/f").unwrap().mode, 0o644);

    // 077: private modes asked for stay as they are.
    fs.set_umask(0o077);
    backend.make_dir("private", 0o700).unwrap();
    let meta = fs.metadata("/tmp/private").unwrap();
    assert_eq!((meta.mode, meta.uid), (0o700, 1000));
    let dir = backend.open_dir("private").unwrap();
    let file = backend.create_file(&dir, "f", 0o600).unwrap();
    let meta = file.metadata();
    assert_eq!((meta.mode, meta.uid), (0o600, 1000));
    backend.create_file(&dir, "g", 0o644).unwrap();
    assert_eq!(fs.metadata("/tmp/private/g").unwrap().mode, 0o600);
    // The sticky bit survives mkdir; the set-id bits do not.
    backend.make_dir("sticky", 0o7777).unwrap();
    assert_eq!(fs.metadata("/tmp/sticky").unwrap().mode, 0o1700);

    // 777: nothing is left, and nothing is forced back.
    fs.set_umask(0o777);
    backend.make_dir("closed", 0o700).unwrap();
    assert_eq!(fs.metadata("/tmp/closed").unwrap().mode, 0);
    let file = backend.create_file(&dir, "h", 0o600).unwrap();
    assert_eq!(file.metadata().mode, 0);
    assert_eq!(backend.root_entry("closed").unwrap().unwrap().mode, Some(0));

    // The root's metadata and our uid, as the core checks them.
    let root = backend.root_meta().unwrap();
    assert_eq!(
        (root.kind, root.uid, root.mode),
        (FileKind::Dir, Some(0), Some(0o1777))
    );
    assert_eq!(root.id, fs.metadata("/tmp").unwrap().id());
    assert_eq!(backend.euid(), Some(1000));
}

#[test]
fn open_dir_needs_read_permission_except_for_root() {
    let fs = MemoryFs::new();
    fs.set_umask(0o777);
    let backend = backend(&fs);
    backend.make_dir("closed", 0o700).unwrap();
    // Its owner cannot open what the umask left at mode 0: the failure the core repairs.
    assert_eq!(errno(backend.open_dir("closed")), Errno::EACCES);
    let as_root = MemoryBackend::new(&fs.as_uid(0), "/tmp").unwrap();
    let dir = as_root.open_dir("closed").unwrap();
    assert_eq!(as_root.dir_meta(&dir).unwrap().mode, Some(0));
    // The repair: the owner may chmod its directory by name, then open it.
    backend.set_mode_at("closed", 0o700).unwrap();
    let dir = backend.open_dir("closed").unwrap();
    assert_eq!(backend.dir_meta(&dir).unwrap().mode, Some(0o700));

    // Write and search without read is not enough either.
    fs.set_umask(0o022);
    fs.create_dir_with_mode("/tmp/wx", 0o300).unwrap();
    assert_eq!(errno(backend.open_dir("wx")), Errno::EACCES);
}

#[test]
fn open_dir_refuses_symlinks_files_and_missing_names() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    fs.create_dir("/tmp/real").unwrap();
    fs.symlink("real", "/tmp/link").unwrap();
    fs.write("/tmp/file", "").unwrap();
    assert_eq!(errno(backend.open_dir("link")), Errno::ELOOP);
    assert_eq!(errno(backend.open_dir("file")), Errno::ENOTDIR);
    assert_eq!(errno(backend.open_dir("none")), Errno::ENOENT);
    assert_eq!(errno(backend.open_dir("a/b")), Errno::EINVAL);
    assert_eq!(fs.symlinks_followed(), 0);
    let dir = backend.open_dir("real").unwrap();
    assert_eq!(
        (dir.path().as_str(), dir.holds_lock()),
        ("/tmp/real", false)
    );
    assert_eq!(dir.id(), fs.metadata("/tmp/real").unwrap().id());
}

#[test]
fn set_mode_at_follows_a_symlink_and_is_for_the_owner_or_root() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    // Outside the sticky /tmp, so that `protected_symlinks` does not apply.
    fs.create_dir_with_mode("/tmp/root", 0o755).unwrap();
    let backend_in = MemoryBackend::new(&fs, "/tmp/root").unwrap();
    fs.create_dir_with_mode("/tmp/root/d", 0o700).unwrap();
    fs.symlink("d", "/tmp/root/link").unwrap();
    backend_in.set_mode_at("link", 0o750).unwrap();
    assert_eq!(fs.metadata("/tmp/root/d").unwrap().mode, 0o750);
    assert_eq!(fs.symlink_metadata("/tmp/root/link").unwrap().mode, 0o777);
    assert_eq!(fs.symlinks_followed(), 1);
    assert_eq!(errno(backend_in.set_mode_at("none", 0o700)), Errno::ENOENT);
    fs.symlink("gone", "/tmp/root/dangling").unwrap();
    assert_eq!(
        errno(backend_in.set_mode_at("dangling", 0o700)),
        Errno::ENOENT
    );

    // Another uid may not, even with every permission bit; root may.
    let mallory = MemoryBackend::new(&fs.as_uid(1001), "/tmp/root").unwrap();
    fs.set_permissions("/tmp/root/d", 0o777).unwrap();
    assert_eq!(errno(mallory.set_mode_at("d", 0o700)), Errno::EPERM);
    assert_eq!(errno(mallory.set_mode_at("link", 0o700)), Errno::EPERM);
    let as_root = MemoryBackend::new(&fs.as_uid(0), "/tmp/root").unwrap();
    as_root.set_mode_at("d", 0o700).unwrap();
    assert_eq!(fs.metadata("/tmp/root/d").unwrap().mode, 0o700);

    // In the sticky, world-writable /tmp, a link another uid planted is not followed.
    fs.create_dir("/tmp/mine").unwrap();
    fs.as_uid(1001).symlink("/tmp/mine", "/tmp/trap").unwrap();
    assert_eq!(errno(backend.set_mode_at("trap", 0o777)), Errno::EACCES);
    assert_eq!(fs.metadata("/tmp/mine").unwrap().mode, 0o755);
}

#[test]
fn set_dir_mode_and_set_file_mode_are_for_the_owner_or_root() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    let file = backend.create_file(&dir, "f", 0o600).unwrap();
    backend.set_dir_mode(&dir, 0o1750).unwrap();
    backend.set_file_mode(&file, 0o4640).unwrap();
    assert_eq!(fs.metadata("/tmp/d").unwrap().mode, 0o1750);
    assert_eq!(fs.metadata("/tmp/d/f").unwrap().mode, 0o4640);
    // The umask is for creation only.
    fs.set_umask(0o777);
    backend.set_file_mode(&file, 0o600).unwrap();
    assert_eq!(file.metadata().mode, 0o600);

    // Someone else's handles: open, but not theirs to chmod.
    fs.set_permissions("/tmp/d", 0o777).unwrap();
    fs.set_permissions("/tmp/d/f", 0o666).unwrap();
    let mallory = MemoryBackend::new(&fs.as_uid(1001), "/tmp").unwrap();
    let theirs = mallory.open_dir("d").unwrap();
    let (their_file, kind) = mallory.open_file(&theirs, "f").unwrap();
    assert_eq!(kind, FileKind::File);
    assert_eq!(errno(mallory.set_dir_mode(&theirs, 0o777)), Errno::EPERM);
    assert_eq!(
        errno(mallory.set_file_mode(&their_file, 0o777)),
        Errno::EPERM
    );
    let as_root = MemoryBackend::new(&fs.as_uid(0), "/tmp").unwrap();
    let rooted = as_root.open_dir("d").unwrap();
    as_root.set_dir_mode(&rooted, 0o700).unwrap();
    let (root_file, _) = as_root.open_file(&rooted, "f").unwrap();
    as_root.set_file_mode(&root_file, 0o400).unwrap();
    assert_eq!(fs.metadata("/tmp/d/f").unwrap().mode, 0o400);

    // A removed directory's handle can still be chmodded, as with fchmod.
    fs.as_uid(0).remove_file("/tmp/d/f").unwrap();
    fs.remove_dir("/tmp/d").unwrap();
    backend.set_dir_mode(&dir, 0o500).unwrap();
    assert_eq!(backend.dir_meta(&dir).unwrap().mode, Some(0o500));

    // A file of another filesystem is a bad descriptor.
    let elsewhere = MemoryFs::new();
    let foreign = MemoryBackend::new(&elsewhere, "/tmp").unwrap();
    assert_eq!(errno(foreign.set_file_mode(&file, 0o600)), Errno::EBADF);
    assert_eq!(errno(foreign.set_dir_mode(&dir, 0o600)), Errno::EBADF);
}

#[test]
fn rename_at_never_replaces_and_keeps_the_sticky_rules() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    backend.make_dir("a", 0o700).unwrap();
    let a = fs.metadata("/tmp/a").unwrap().ino;
    backend.rename_at("a", "b").unwrap();
    assert!(!fs.exists("/tmp/a"));
    assert_eq!(fs.metadata("/tmp/b").unwrap().ino, a);

    // RENAME_NOREPLACE: anything at the target, itself or an empty directory included.
    fs.write("/tmp/file", "").unwrap();
    fs.create_dir("/tmp/empty").unwrap();
    fs.symlink("/nowhere", "/tmp/link").unwrap();
    for taken in ["file", "empty", "link", "b"] {
        assert_eq!(
            errno(backend.rename_at("b", taken)),
            Errno::EEXIST,
            "{taken}"
        );
    }
    assert_eq!(fs.metadata("/tmp/b").unwrap().ino, a);
    assert!(fs.metadata("/tmp/empty").unwrap().is_dir());
    assert_eq!(errno(backend.rename_at("none", "c")), Errno::ENOENT);
    assert_eq!(errno(backend.rename_at("b", "x/y")), Errno::EINVAL);

    // A symlink is moved itself, never followed.
    backend.rename_at("link", "moved").unwrap();
    assert!(fs.symlink_metadata("/tmp/moved").unwrap().is_symlink());

    // Sticky /tmp: another uid may not move our entry, but may move its own.
    let mallory = MemoryBackend::new(&fs.as_uid(1001), "/tmp").unwrap();
    assert_eq!(errno(mallory.rename_at("b", "stolen")), Errno::EPERM);
    assert!(fs.exists("/tmp/b") && !fs.exists("/tmp/stolen"));
    fs.as_uid(1001).write("/tmp/theirs", "").unwrap();
    mallory.rename_at("theirs", "still-theirs").unwrap();
    // Root may move anything; the directory's owner (root here) too.
    let as_root = MemoryBackend::new(&fs.as_uid(0), "/tmp").unwrap();
    as_root.rename_at("b", "c").unwrap();

    // Without write permission on the root nothing moves.
    fs.as_uid(0).create_dir_with_mode("/tmp/ro", 0o755).unwrap();
    fs.as_uid(0).write("/tmp/ro/x", "").unwrap();
    let ro = MemoryBackend::new(&fs, "/tmp/ro").unwrap();
    assert_eq!(errno(ro.rename_at("x", "y")), Errno::EACCES);
}

#[test]
fn open_file_on_a_fifo_opens_at_once_as_other() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    fs.mkfifo("/tmp/d/pipe").unwrap();
    let meta = fs.symlink_metadata("/tmp/d/pipe").unwrap();
    assert!(!meta.is_file() && !meta.is_dir() && !meta.is_symlink());
    assert_eq!(
        (meta.kind, meta.mode, meta.uid, meta.len),
        (FileKind::Other, 0o644, 1000, 0)
    );
    assert_eq!(
        backend.entry(&dir, "pipe").unwrap().unwrap().kind,
        FileKind::Other
    );

    // Opening does not wait for a writer; the handle holds no data and never blocks.
    let (mut pipe, kind) = backend.open_file(&dir, "pipe").unwrap();
    assert_eq!(kind, FileKind::Other);
    assert_eq!(pipe.metadata().ino, meta.ino);
    let read = pipe.read(&mut [0; 8]).unwrap_err();
    assert_eq!(read.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(errno(pipe.write(b"x")), Errno::EAGAIN);
    assert_eq!(errno(pipe.seek(SeekFrom::Start(0))), Errno::ESPIPE);
    assert_eq!(errno(pipe.set_len(0)), Errno::EINVAL);
    assert_eq!(errno(fs.read("/tmp/d/pipe")), Errno::EAGAIN);
    assert_eq!(errno(fs.write("/tmp/d/pipe", "x")), Errno::EAGAIN);
    assert!(
        fs.trace()
            .iter()
            .any(|l| l.contains("open_file /tmp/d/pipe -> ino=") && l.ends_with("Other")),
        "traced with its kind"
    );

    // Nothing can be made over it, and it unlinks like a file.
    assert_eq!(
        errno(backend.create_file(&dir, "pipe", 0o600)),
        Errno::EEXIST
    );
    assert_eq!(errno(fs.mkfifo("/tmp/d/pipe")), Errno::EEXIST);
    fs.symlink("/tmp/d/other", "/tmp/d/link").unwrap();
    assert_eq!(errno(fs.mkfifo("/tmp/d/link")), Errno::EEXIST);
    assert!(!fs.exists("/tmp/d/other"), "mkfifo does not follow");
    backend.remove_file(&dir, "pipe").unwrap();
    assert_eq!(pipe.metadata().nlink, 0);
    assert_eq!(backend.entry(&dir, "pipe").unwrap(), None);

    // Mode bits apply to it as to a file.
    fs.mkfifo("/tmp/d/closed").unwrap();
    fs.set_permissions("/tmp/d/closed", 0o400).unwrap();
    assert_eq!(errno(backend.open_file(&dir, "closed")), Errno::EACCES);
    assert_eq!(
        errno(fs.as_uid(1001).mkfifo("/tmp/d/theirs")),
        Errno::EACCES
    );
}

// ---- inodes, links, handles ----

#[test]
fn link_counts_follow_entries_and_subdirectories() {
    let fs = MemoryFs::new();
    fs.create_dir("/tmp/d").unwrap();
    assert_eq!(fs.metadata("/tmp").unwrap().nlink, 3);
    fs.create_dir("/tmp/d/sub").unwrap();
    assert_eq!(fs.metadata("/tmp/d").unwrap().nlink, 3);
    fs.write("/tmp/d/f", "").unwrap();
    assert_eq!(
        fs.metadata("/tmp/d").unwrap().nlink,
        3,
        "files do not count"
    );
    fs.hard_link("/tmp/d/f", "/tmp/d/g").unwrap();
    let f = fs.metadata("/tmp/d/f").unwrap();
    assert_eq!((f.nlink, f.ino), (2, fs.metadata("/tmp/d/g").unwrap().ino));
    assert_eq!(errno(fs.hard_link("/tmp/d/sub", "/tmp/d/x")), Errno::EPERM);
    fs.remove_file("/tmp/d/g").unwrap();
    assert_eq!(fs.metadata("/tmp/d/f").unwrap().nlink, 1);

    // Moving a directory with a subdirectory moves the `..` link with it.
    fs.create_dir("/tmp/e").unwrap();
    fs.rename("/tmp/d", "/tmp/e/d").unwrap();
    assert_eq!(fs.metadata("/tmp/e").unwrap().nlink, 3);
    assert_eq!(fs.metadata("/tmp/e/d").unwrap().nlink, 3);
    assert_eq!(fs.metadata("/tmp").unwrap().nlink, 3);
    assert_eq!(fs.read("/tmp/e/d/sub/../f").unwrap(), b"");
}

#[test]
fn inode_numbers_increase_and_are_never_reused() {
    let fs = MemoryFs::with_seed(1);
    let other = MemoryFs::with_seed(2);
    fs.write("/tmp/a", "").unwrap();
    other.write("/tmp/a", "").unwrap();
    let a = fs.metadata("/tmp/a").unwrap().ino;
    assert_eq!(a, other.metadata("/tmp/a").unwrap().ino, "seed-independent");
    fs.remove_file("/tmp/a").unwrap();
    fs.write("/tmp/a", "").unwrap();
    assert!(fs.metadata("/tmp/a").unwrap().ino > a);
}

#[test]
fn a_removed_directory_lives_on_behind_its_handle_with_no_links() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "mine");
    let id = dir.id();
    let file = backend.create_file(&dir, "f", 0o600).unwrap();
    fs.remove_file("/tmp/mine/f").unwrap();
    assert_eq!(file.metadata().nlink, 0);
    fs.remove_dir("/tmp/mine").unwrap();

    let meta = backend.dir_meta(&dir).unwrap();
    assert_eq!((meta.id, meta.nlink, meta.kind), (id, 0, FileKind::Dir));
    assert_eq!(errno(backend.create_file(&dir, "g", 0o600)), Errno::ENOENT);
    assert_eq!(errno(backend.open_file(&dir, "f")), Errno::ENOENT);
    assert_eq!(backend.entry(&dir, "f").unwrap(), None);
    assert!(backend.list(&dir).unwrap().is_empty());
    backend.touch(&dir, None).unwrap();
    assert_eq!(errno(backend.remove_file(&dir, "f")), Errno::ENOENT);

    // The same path made again is another inode.
    fs.create_dir("/tmp/mine").unwrap();
    let again = backend.root_entry("mine").unwrap().unwrap();
    assert_ne!(again.id, id);
    assert!(fs.lock().inodes.contains_key(&id.ino), "the handle pins it");
    drop(dir);
    assert!(
        !fs.lock().inodes.contains_key(&id.ino),
        "freed with its handle"
    );
    let file_ino = file.id().ino;
    drop(file);
    assert!(!fs.lock().inodes.contains_key(&file_ino));
}

#[test]
fn a_removed_root_refuses_new_directories() {
    let fs = MemoryFs::new();
    fs.create_dir("/tmp/root").unwrap();
    let backend = MemoryBackend::new(&fs, "/tmp/root").unwrap();
    fs.remove_dir("/tmp/root").unwrap();
    assert_eq!(errno(backend.make_dir("d", 0o700)), Errno::ENOENT);
    assert_eq!(backend.root_entry("d").unwrap(), None);
}

#[test]
fn the_backend_root_is_a_handle_not_a_path() {
    let fs = MemoryFs::new();
    let root = fs.as_uid(0);
    root.create_dir_with_mode("/srv", 0o1777).unwrap();
    let backend = MemoryBackend::new(&fs, "/srv").unwrap();
    root.rename("/srv", "/srv-old").unwrap();
    root.create_dir_with_mode("/srv", 0o1777).unwrap();
    backend.make_dir("d", 0o700).unwrap();
    assert!(fs.exists("/srv-old/d") && !fs.exists("/srv/d"));
}

#[test]
fn opening_a_root_follows_symlinks_and_reports_open_root_errors() {
    let fs = MemoryFs::new();
    fs.symlink("/tmp", "/tmp/alias").unwrap();
    fs.set_protected_symlinks(false);
    let backend = MemoryBackend::new(&fs, "/tmp/alias").unwrap();
    // Resolved once at open, as realpath would: the real path the handle was opened at.
    assert_eq!(backend.root(), "/tmp");
    let dir = make_open(&backend, "d");
    assert!(fs.metadata("/tmp/d").unwrap().is_dir());
    drop(dir);

    fs.write("/tmp/file", "").unwrap();
    for (root, kind) in [
        ("/tmp/missing", io::ErrorKind::NotFound),
        ("/tmp/file", io::ErrorKind::NotADirectory),
    ] {
        match MemoryBackend::new(&fs, root) {
            Err(tempdir_core::Error::Io { op, path, source }) => {
                assert_eq!(op, tempdir_core::Op::OpenRoot);
                assert_eq!(path, root);
                assert_eq!(source.kind(), kind);
            }
            other => panic!("expected an open-root error, got {other:?}"),
        }
    }
}

// ---- the backend never follows symlinks ----

#[test]
fn backend_operations_never_follow_symlinks() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    fs.write("/tmp/target", "precious").unwrap();
    fs.symlink("/tmp/target", "/tmp/d/link").unwrap();

    assert_eq!(
        errno(backend.create_file(&dir, "link", 0o600)),
        Errno::EEXIST
    );
    assert_eq!(errno(backend.open_file(&dir, "link")), Errno::ELOOP);
    let meta = backend.entry(&dir, "link").unwrap().unwrap();
    assert_eq!(meta.kind, FileKind::Symlink);
    backend.touch(&dir, Some("link")).unwrap();
    backend.remove_file(&dir, "link").unwrap();
    assert_eq!(fs.read("/tmp/target").unwrap(), b"precious");

    fs.symlink("/tmp", "/tmp/dirlink").unwrap();
    assert_eq!(
        backend.root_entry("dirlink").unwrap().unwrap().kind,
        FileKind::Symlink
    );
    assert_eq!(errno(backend.remove_dir("dirlink")), Errno::ENOTDIR);
    assert_eq!(errno(backend.make_dir("dirlink", 0o700)), Errno::EEXIST);
    assert_eq!(errno(backend.open_dir("dirlink")), Errno::ELOOP);
    assert_eq!(fs.symlinks_followed(), 0);
}

#[test]
fn backend_checks_kinds_names_and_handles() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    fs.create_dir("/tmp/d/sub").unwrap();
    assert_eq!(errno(backend.open_file(&dir, "sub")), Errno::EISDIR);
    assert_eq!(errno(backend.remove_file(&dir, "sub")), Errno::EISDIR);
    assert_eq!(errno(backend.open_file(&dir, "none")), Errno::ENOENT);
    assert_eq!(
        errno(backend.create_file(&dir, "a/b", 0o600)),
        Errno::EINVAL
    );
    assert_eq!(errno(backend.create_file(&dir, "..", 0o600)), Errno::EINVAL);
    assert_eq!(errno(backend.remove_dir("d")), Errno::ENOTEMPTY);
    fs.write("/tmp/plain", "").unwrap();
    assert_eq!(errno(backend.remove_dir("plain")), Errno::ENOTDIR);

    let elsewhere = MemoryFs::new();
    let foreign = MemoryBackend::new(&elsewhere, "/tmp").unwrap();
    assert_eq!(errno(foreign.list(&dir)), Errno::EBADF);
}

#[test]
fn attackers_cannot_enter_the_private_directory() {
    let fs = MemoryFs::new();
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    let (_file, path) = tmp.mkstemp().unwrap();
    let mallory = fs.as_uid(1001);
    assert_eq!(
        errno(mallory.write(tmp.dir().join("planted"), "")),
        Errno::EACCES
    );
    assert_eq!(errno(mallory.remove_file(&path)), Errno::EACCES);
    assert_eq!(errno(mallory.remove_dir(tmp.dir())), Errno::EPERM);
    // An attacker's own backend on the same /tmp cannot get in either.
    let theirs = MemoryBackend::new(&mallory, "/tmp").unwrap();
    let name = tmp.dir().file_name().unwrap();
    let entry = theirs.root_entry(name).unwrap().unwrap();
    assert_eq!(entry.kind, FileKind::Dir);
    assert_eq!(errno(theirs.remove_dir(name)), Errno::EPERM);
}

// ---- rename ----

#[test]
fn rename_follows_posix_rules() {
    let fs = MemoryFs::new();
    fs.write("/tmp/a", "a").unwrap();
    fs.write("/tmp/b", "b").unwrap();
    fs.create_dir("/tmp/d").unwrap();
    fs.create_dir("/tmp/e").unwrap();
    fs.write("/tmp/e/x", "").unwrap();

    fs.rename("/tmp/a", "/tmp/b").unwrap();
    assert_eq!(fs.read("/tmp/b").unwrap(), b"a");
    assert!(!fs.exists("/tmp/a"));
    fs.rename("/tmp/b", "/tmp/b").unwrap();
    assert_eq!(errno(fs.rename("/tmp/b", "/tmp/d")), Errno::EISDIR);
    assert_eq!(errno(fs.rename("/tmp/d", "/tmp/b")), Errno::ENOTDIR);
    assert_eq!(errno(fs.rename("/tmp/d", "/tmp/e")), Errno::ENOTEMPTY);
    assert_eq!(errno(fs.rename("/tmp/d", "/tmp/d/in")), Errno::EINVAL);
    assert_eq!(errno(fs.rename("/tmp/none", "/tmp/z")), Errno::ENOENT);
    assert_eq!(errno(fs.rename("/tmp/b/", "/tmp/z")), Errno::ENOTDIR);
    assert_eq!(errno(fs.rename("/", "/tmp/z")), Errno::EBUSY);
    fs.create_dir("/tmp/empty").unwrap();
    fs.rename("/tmp/d", "/tmp/empty").unwrap();
    assert!(fs.metadata("/tmp/empty").unwrap().is_dir() && !fs.exists("/tmp/d"));
}

// ---- timestamps ----

#[test]
fn timestamps_move_as_on_linux() {
    let fs = MemoryFs::new();
    let t0 = fs.now();
    fs.create_dir("/tmp/d").unwrap();
    fs.write("/tmp/d/f", "1").unwrap();
    let f = fs.metadata("/tmp/d/f").unwrap();
    assert_eq!([f.atime, f.mtime, f.ctime, f.btime], [t0; 4]);

    // Writing: mtime and ctime.
    fs.advance_clock(DAY);
    let t1 = fs.now();
    fs.write("/tmp/d/f", "2").unwrap();
    let f = fs.metadata("/tmp/d/f").unwrap();
    assert_eq!([f.atime, f.mtime, f.ctime, f.btime], [t0, t1, t1, t0]);

    // Adding or removing an entry: the directory's mtime and ctime.
    fs.advance_clock(DAY);
    let t2 = fs.now();
    fs.write("/tmp/d/g", "").unwrap();
    let d = fs.metadata("/tmp/d").unwrap();
    assert_eq!([d.mtime, d.ctime, d.btime], [t2, t2, t0]);

    // chmod: ctime only.
    fs.advance_clock(DAY);
    let t3 = fs.now();
    fs.set_permissions("/tmp/d/f", 0o600).unwrap();
    let f = fs.metadata("/tmp/d/f").unwrap();
    assert_eq!([f.mtime, f.ctime], [t1, t3]);

    // utimensat with explicit times: those, and ctime now.
    fs.advance_clock(DAY);
    let t4 = fs.now();
    fs.set_times("/tmp/d/f", Duration::from_secs(5), Duration::from_secs(6))
        .unwrap();
    let f = fs.metadata("/tmp/d/f").unwrap();
    assert_eq!(
        [f.atime, f.mtime, f.ctime],
        [Duration::from_secs(5), Duration::from_secs(6), t4]
    );

    // rename: the moved inode's ctime and both directories.
    fs.advance_clock(DAY);
    let t5 = fs.now();
    fs.rename("/tmp/d/g", "/tmp/g").unwrap();
    assert_eq!(fs.metadata("/tmp/g").unwrap().ctime, t5);
    assert_eq!(fs.metadata("/tmp/d").unwrap().mtime, t5);
    assert_eq!(fs.metadata("/tmp").unwrap().mtime, t5);
}

#[test]
fn set_times_does_not_follow_symlinks() {
    let fs = MemoryFs::new();
    fs.write("/tmp/f", "").unwrap();
    fs.symlink("/tmp/f", "/tmp/l").unwrap();
    fs.set_times("/tmp/l", DAY, DAY).unwrap();
    assert_eq!(fs.symlink_metadata("/tmp/l").unwrap().mtime, DAY);
    assert_eq!(fs.metadata("/tmp/f").unwrap().mtime, MemoryFs::START);
}

#[test]
fn reads_update_atime_under_relatime_unless_noatime() {
    let fs = MemoryFs::new();
    fs.write("/tmp/f", "x").unwrap();
    fs.set_times("/tmp/f", DAY, 2 * DAY).unwrap();
    // atime older than mtime: the next read moves it.
    fs.read("/tmp/f").unwrap();
    assert_eq!(fs.metadata("/tmp/f").unwrap().atime, fs.now());
    // Not newer than ctime (set_times made that now): moves again.
    fs.advance_clock(Duration::from_secs(3600));
    fs.read("/tmp/f").unwrap();
    let now = fs.now();
    assert_eq!(fs.metadata("/tmp/f").unwrap().atime, now);
    // Newer than mtime and ctime and younger than a day: it stays.
    fs.advance_clock(Duration::from_secs(3600));
    fs.read("/tmp/f").unwrap();
    assert_eq!(fs.metadata("/tmp/f").unwrap().atime, now);
    // A day later it moves again.
    fs.advance_clock(DAY);
    let scanner = fs.as_uid(0).with_noatime(true);
    scanner.read("/tmp/f").unwrap();
    scanner.read_dir("/tmp").unwrap();
    assert_eq!(fs.metadata("/tmp/f").unwrap().atime, now, "O_NOATIME");
    fs.read("/tmp/f").unwrap();
    assert_eq!(fs.metadata("/tmp/f").unwrap().atime, fs.now());
}

#[test]
fn backend_touch_and_file_io_set_times() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    let mut file = backend.create_file(&dir, "f", 0o600).unwrap();
    fs.set_times("/tmp/d/f", DAY, DAY).unwrap();
    fs.set_times("/tmp/d", DAY, DAY).unwrap();
    fs.advance_clock(DAY);
    let now = fs.now();
    backend.touch(&dir, Some("f")).unwrap();
    backend.touch(&dir, None).unwrap();
    for path in ["/tmp/d/f", "/tmp/d"] {
        let meta = fs.metadata(path).unwrap();
        assert_eq!([meta.atime, meta.mtime, meta.ctime], [now; 3], "{path}");
    }
    assert_eq!(errno(backend.touch(&dir, Some("gone"))), Errno::ENOENT);

    fs.advance_clock(DAY);
    file.write_all(b"data").unwrap();
    let meta = file.metadata();
    assert_eq!(
        [meta.atime, meta.mtime, meta.ctime],
        [now, fs.now(), fs.now()]
    );
    assert_eq!(meta.len, 4);
}

// ---- files ----

#[test]
fn files_read_write_seek_and_outlive_their_name() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    let mut file = backend.create_file(&dir, "f", 0o600).unwrap();
    let id = file.id();
    assert_eq!(file.path(), "/tmp/d/f");
    file.write_all(b"hello").unwrap();
    assert_eq!(file.seek(SeekFrom::End(-2)).unwrap(), 3);
    let mut tail = String::new();
    file.read_to_string(&mut tail).unwrap();
    assert_eq!(tail, "lo");
    assert_eq!(errno(file.seek(SeekFrom::Current(-10))), Errno::EINVAL);

    // A hole reads as zeros.
    file.seek(SeekFrom::Start(7)).unwrap();
    file.write_all(b"!").unwrap();
    assert_eq!(fs.read("/tmp/d/f").unwrap(), b"hello\0\0!");
    file.set_len(2).unwrap();
    assert_eq!(fs.read("/tmp/d/f").unwrap(), b"he");

    // Through a shared reference, as with `&File`.
    let reopened = backend.open_file(&dir, "f").unwrap().0;
    assert_eq!(reopened.id(), id);
    (&reopened).write_all(b"HE").unwrap();
    assert_eq!(fs.read("/tmp/d/f").unwrap(), b"HE");

    // Unlinked, and replaced at its name: the handle still has the original.
    fs.remove_file("/tmp/d/f").unwrap();
    fs.write("/tmp/d/f", "other").unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(b"still mine").unwrap();
    assert_eq!(fs.read("/tmp/d/f").unwrap(), b"other");
    assert_eq!(file.metadata().nlink, 0);
    assert_eq!(file.metadata().len, 10);
}

#[test]
fn open_file_needs_read_and_write_permission() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    fs.write("/tmp/d/ro", "").unwrap();
    fs.set_permissions("/tmp/d/ro", 0o400).unwrap();
    assert_eq!(errno(backend.open_file(&dir, "ro")), Errno::EACCES);
}

// ---- flock ----

#[test]
fn shared_locks_block_exclusive_tries_until_the_handle_drops() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let tmpfiles = fs.as_uid(0);
    let dir = make_open(&backend, "d");
    assert!(tmpfiles.try_lock_exclusive("/tmp/d").unwrap());
    assert!(
        tmpfiles.try_lock_exclusive("/tmp/d").unwrap(),
        "released at once"
    );
    backend.lock_shared(&dir).unwrap();
    backend.lock_shared(&dir).unwrap();
    assert!(dir.holds_lock());
    assert_eq!(
        fs.lock().inode(dir.id().ino).shared_locks,
        1,
        "one per handle"
    );
    assert!(!tmpfiles.try_lock_exclusive("/tmp/d").unwrap());
    // The lock is on the inode: a rename does not shake it off.
    fs.rename("/tmp/d", "/tmp/moved").unwrap();
    assert!(!tmpfiles.try_lock_exclusive("/tmp/moved").unwrap());
    drop(dir);
    assert!(tmpfiles.try_lock_exclusive("/tmp/moved").unwrap());

    fs.symlink("/tmp/moved", "/tmp/link").unwrap();
    assert_eq!(
        errno(tmpfiles.try_lock_exclusive("/tmp/link")),
        Errno::ELOOP
    );
    assert_eq!(
        errno(tmpfiles.try_lock_exclusive("/tmp/none")),
        Errno::ENOENT
    );
    fs.create_dir_with_mode("/tmp/closed", 0o300).unwrap();
    assert_eq!(
        errno(fs.as_uid(1001).try_lock_exclusive("/tmp/closed")),
        Errno::EACCES
    );
}

#[test]
fn an_instance_holds_its_lock_for_its_life() {
    let fs = MemoryFs::new();
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    let dir = tmp.dir().to_owned();
    assert!(!fs.try_lock_exclusive(&dir).unwrap());
    fs.write(dir.join("untracked"), "").unwrap();
    let report = tmp.cleanup();
    assert!(!report.dir_removed);
    // The lock goes with the handle, whenever the instance lets go of it.
    drop(tmp);
    assert!(fs.try_lock_exclusive(&dir).unwrap());
}

// ---- faults ----

#[test]
fn injected_faults_fail_before_any_effect() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    fs.inject(Fault::new(FaultOp::CreateFile, Errno::ENOSPC).first());
    let error = backend.create_file(&dir, "f", 0o600).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::StorageFull);
    assert_eq!(Errno::of(&error), Some(Errno::ENOSPC));
    assert!(!fs.exists("/tmp/d/f"), "no partial effect");
    assert!(fs.trace().iter().any(|l| l.ends_with("ENOSPC (injected)")));
    backend.create_file(&dir, "f", 0o600).unwrap();

    fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EIO).on_path("/tmp/d/f"));
    assert_eq!(errno(backend.remove_file(&dir, "f")), Errno::EIO);
    assert!(fs.exists("/tmp/d/f"));
    fs.inject(Fault::new(FaultOp::MakeDir, Errno::EROFS).on_path("e"));
    assert_eq!(errno(backend.make_dir("e", 0o700)), Errno::EROFS);
    assert!(!fs.exists("/tmp/e"));
    backend.make_dir("other", 0o700).unwrap();
    fs.clear_faults();
    backend.remove_file(&dir, "f").unwrap();
    backend.make_dir("e", 0o700).unwrap();

    // The new operations too: a failed rename or chmod moves and changes nothing.
    fs.inject(Fault::new(FaultOp::RenameAt, Errno::EXDEV).on_path("/tmp/e"));
    assert_eq!(errno(backend.rename_at("e", "f")), Errno::EXDEV);
    assert!(fs.exists("/tmp/e") && !fs.exists("/tmp/f"));
    backend.rename_at("other", "f").unwrap();
    fs.inject(Fault::new(FaultOp::SetModeAt, Errno::EROFS).first());
    assert_eq!(errno(backend.set_mode_at("e", 0o755)), Errno::EROFS);
    assert_eq!(fs.metadata("/tmp/e").unwrap().mode, 0o700);
    backend.set_mode_at("e", 0o755).unwrap();
    assert_eq!(fs.metadata("/tmp/e").unwrap().mode, 0o755);
    fs.inject(Fault::new(FaultOp::OpenDir, Errno::EMFILE).nth(2));
    drop(backend.open_dir("e").unwrap());
    assert_eq!(errno(backend.open_dir("e")), Errno::EMFILE);
    assert!(
        fs.trace()
            .iter()
            .any(|l| l == "uid=1000 open_dir /tmp/e -> EMFILE (injected)")
    );
}

#[test]
fn every_backend_method_and_file_io_can_fail() {
    let fs = MemoryFs::new();
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    let mut file = backend.create_file(&dir, "f", 0o600).unwrap();
    fs.write("/tmp/d/g", "").unwrap();
    type Call<'a> = Box<dyn Fn() -> io::Result<()> + 'a>;
    let cases: Vec<(FaultOp, Call<'_>)> = vec![
        (
            FaultOp::RootMeta,
            Box::new(|| backend.root_meta().map(drop)),
        ),
        (
            FaultOp::RootEntry,
            Box::new(|| backend.root_entry("d").map(drop)),
        ),
        (FaultOp::MakeDir, Box::new(|| backend.make_dir("x", 0o700))),
        (
            FaultOp::SetModeAt,
            Box::new(|| backend.set_mode_at("d", 0o700)),
        ),
        (
            FaultOp::OpenDir,
            Box::new(|| backend.open_dir("d").map(drop)),
        ),
        (FaultOp::RenameAt, Box::new(|| backend.rename_at("d", "e"))),
        (FaultOp::RemoveDir, Box::new(|| backend.remove_dir("d"))),
        (
            FaultOp::DirMeta,
            Box::new(|| backend.dir_meta(&dir).map(drop)),
        ),
        (
            FaultOp::SetDirMode,
            Box::new(|| backend.set_dir_mode(&dir, 0o700)),
        ),
        (FaultOp::Lock, Box::new(|| backend.lock_shared(&dir))),
        (
            FaultOp::CreateFile,
            Box::new(|| backend.create_file(&dir, "h", 0o600).map(drop)),
        ),
        (
            FaultOp::SetFileMode,
            Box::new(|| backend.set_file_mode(&file, 0o600)),
        ),
        (
            FaultOp::OpenFile,
            Box::new(|| backend.open_file(&dir, "f").map(drop)),
        ),
        (
            FaultOp::Entry,
            Box::new(|| backend.entry(&dir, "f").map(drop)),
        ),
        (
            FaultOp::RemoveFile,
            Box::new(|| backend.remove_file(&dir, "g")),
        ),
        (FaultOp::Touch, Box::new(|| backend.touch(&dir, None))),
        (FaultOp::List, Box::new(|| backend.list(&dir).map(drop))),
    ];
    let before = fs.metadata("/tmp/d").unwrap();
    for (op, call) in &cases {
        fs.inject(Fault::new(*op, Errno::EINTR).first());
        assert_eq!(errno(call()), Errno::EINTR, "{op}");
        fs.clear_faults();
    }
    // No faulted call had an effect: nothing renamed, removed, made or changed.
    assert_eq!(fs.metadata("/tmp/d").unwrap(), before);
    assert_eq!(fs.read_dir("/tmp/d").unwrap(), ["f", "g"]);
    assert!(!fs.exists("/tmp/x") && !fs.exists("/tmp/e"));
    let covered: Vec<FaultOp> = cases.iter().map(|(op, _)| *op).collect();
    let io = [FaultOp::Read, FaultOp::Write];
    let uncovered: Vec<FaultOp> = FaultOp::ALL
        .into_iter()
        .filter(|op| !covered.contains(op) && !io.contains(op))
        .collect();
    assert!(uncovered.is_empty(), "no case for {uncovered:?}");
    drop(cases);
    fs.inject(Fault::new(FaultOp::Write, Errno::EDQUOT).nth(2));
    file.write_all(b"a").unwrap();
    assert_eq!(errno(file.write_all(b"b")), Errno::EDQUOT);
    file.write_all(b"c").unwrap();
    fs.inject(Fault::new(FaultOp::Read, Errno::EIO));
    file.rewind().unwrap();
    assert_eq!(errno(file.read(&mut [0; 4])), Errno::EIO);
    assert_eq!(
        fs.read("/tmp/d/f").unwrap(),
        b"ac",
        "outside reads never fault"
    );
}

#[test]
fn faults_surface_through_the_core() {
    let fs = MemoryFs::new();
    fs.inject(Fault::new(FaultOp::MakeDir, Errno::EMFILE));
    let error = TemporaryDirectory::with_backend(backend(&fs)).unwrap_err();
    assert_eq!(error.op(), Some(tempdir_core::Op::CreateDir));
    fs.clear_faults();
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EIO));
    tmp.mkstemp().unwrap();
    let report = tmp.cleanup();
    assert_eq!(report.failures.len(), 1);
    assert!(!report.dir_removed);
}

// ---- randomness and determinism ----

#[test]
fn peeked_random_values_predict_the_backend_seeds() {
    let fs = MemoryFs::with_seed(11);
    let predicted = fs.peek_random(3);
    assert_eq!(predicted, fs.peek_random(3), "peeking consumes nothing");
    let backend = backend(&fs);
    assert_eq!(backend.seed(), Some(predicted[0]));
    assert_eq!(fs.random_u64(), predicted[1]);
    assert_ne!(MemoryFs::with_seed(12).peek_random(1), fs.peek_random(1));
}

#[test]
fn a_planted_directory_name_is_skipped() {
    // Learn the name seed 4 gives, then plant it on a fresh filesystem with that seed.
    let probe = MemoryFs::with_seed(4);
    let name = {
        let tmp = TemporaryDirectory::with_backend(backend(&probe)).unwrap();
        tmp.dir().to_owned()
    };
    let fs = MemoryFs::with_seed(4);
    fs.as_uid(1001).create_dir_with_mode(&name, 0o777).unwrap();
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    assert_ne!(tmp.dir(), name);
    assert!(
        fs.trace()
            .iter()
            .any(|l| l.contains("make_dir") && l.ends_with("EEXIST"))
    );
}

/// A run touching every kind of event: the core, a reaper, an attacker, a hook, faults.
///
/// At most one name is tracked when the core walks its tracked set (`keep_alive`,
/// `cleanup`), so that the trace cannot depend on the order the core keeps it in.
fn scenario(seed: u64) -> Vec<String> {
    let fs = MemoryFs::with_seed(seed);
    fs.set_umask(0o077);
    fs.as_uid(1001).mkfifo("/tmp/planted").unwrap();
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    for _ in 0..3 {
        let (mut file, path) = tmp.mkstemp().unwrap();
        file.write_all(path.as_str().as_bytes()).unwrap();
        tmp.remove(&path).unwrap();
    }
    fs.inject(Fault::new(FaultOp::CreateFile, Errno::EINTR).first());
    assert!(tmp.mkstemp().is_err());
    let name = tmp.mktemp().unwrap();
    tmp.create(&name).unwrap();
    fs.advance_clock(11 * DAY);
    tmp.keep_alive().unwrap();
    // A reaper running as root removes the file right before cleanup does.
    fs.set_hook(move |fs, op| {
        if op.fault_op() == FaultOp::RemoveFile {
            let _ = fs.as_uid(0).remove_file(op.path());
        }
    });
    let report = tmp.cleanup();
    assert_eq!(report.status, DirStatus::Intact);
    assert!(report.dir_removed);
    fs.as_uid(1001)
        .create_dir_with_mode(tmp.dir(), 0o777)
        .unwrap();
    fs.trace()
}

#[test]
fn one_seed_gives_one_trace() {
    let first = scenario(99);
    assert_eq!(first, scenario(99));
    assert_ne!(first, scenario(100), "names follow the seed");
    assert!(first.len() > 20);
}

// ---- the hook ----

#[test]
fn the_hook_runs_before_each_backend_operation_without_locks() {
    let fs = MemoryFs::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    fs.set_hook(move |fs, op| {
        // Acting on the filesystem from the hook must not deadlock.
        let present = fs.exists(op.path());
        log.lock().unwrap().push((op.fault_op(), present));
    });
    let backend = backend(&fs);
    let dir = make_open(&backend, "d");
    let mut file = backend.create_file(&dir, "f", 0o600).unwrap();
    file.write_all(b"x").unwrap();
    backend.remove_file(&dir, "f").unwrap();
    fs.clear_hook();
    backend.list(&dir).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (FaultOp::MakeDir, false),
            (FaultOp::OpenDir, true),
            (FaultOp::CreateFile, false),
            (FaultOp::Write, true),
            (FaultOp::RemoveFile, true),
        ],
        "each seen before it ran"
    );
}

#[test]
fn the_hook_sees_each_operation_with_its_arguments() {
    let fs = MemoryFs::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    fs.set_hook(move |_, op| log.lock().unwrap().push(op.clone()));
    let backend = backend(&fs);
    backend.make_dir("d", 0o750).unwrap();
    backend.rename_at("d", "e").unwrap();
    let dir = backend.open_dir("e").unwrap();
    let mut file = backend.create_file(&dir, "f", 0o640).unwrap();
    file.write_all(b"abc").unwrap();
    backend.touch(&dir, None).unwrap();
    fs.clear_hook();
    let seen = seen.lock().unwrap().clone();
    let [make, rename, open, create, write, touch] = &seen[..] else {
        panic!("six operations, saw {seen:?}");
    };
    assert_eq!(
        (make.fault_op(), make.name(), make.mode),
        (FaultOp::MakeDir, Some("d"), Some(0o750))
    );
    assert_eq!(
        (rename.name(), rename.to.as_deref(), rename.path().as_str()),
        (Some("d"), Some("e"), "/tmp/d")
    );
    assert!(matches!(
        open,
        BackendOp {
            op: FaultOp::OpenDir,
            name: Some(_),
            mode: None,
            ..
        }
    ));
    assert_eq!((create.dir.as_str(), create.mode), ("/tmp/e", Some(0o640)));
    assert_eq!(
        (write.path().as_str(), write.name(), write.len),
        ("/tmp/e/f", Some("f"), Some(3))
    );
    assert_eq!((touch.name(), touch.path().as_str()), (None, "/tmp/e"));
    let shown: Vec<String> = seen.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "make_dir /tmp/d mode=750",
            "rename_at /tmp/d /tmp/e",
            "open_dir /tmp/e",
            "create_file /tmp/e/f mode=640",
            "write /tmp/e/f (3 bytes)",
            "touch /tmp/e",
        ]
    );
}

#[test]
fn backend_calls_made_by_the_hook_do_not_reenter_it() {
    let fs = MemoryFs::new();
    let calls = Arc::new(Mutex::new(0));
    let count = Arc::clone(&calls);
    let inner = backend(&fs);
    fs.set_hook(move |_, _| {
        *count.lock().unwrap() += 1;
        inner.root_entry("x").unwrap();
    });
    let outer = backend(&fs);
    outer.root_entry("y").unwrap();
    outer.root_entry("z").unwrap();
    assert_eq!(*calls.lock().unwrap(), 2);
}

#[test]
fn a_hook_can_swap_a_file_between_two_steps_of_the_core() {
    let fs = MemoryFs::with_seed(3);
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    let (_file, victim) = tmp.mkstemp().unwrap();
    let target = victim.clone();
    // Right before cleanup unlinks the file, swap it for a symlink to something precious:
    // the unlink goes to the link, never through it.
    fs.write("/tmp/precious", "keep").unwrap();
    fs.set_hook(move |fs, op| {
        if op.fault_op() == FaultOp::RemoveFile
            && fs.symlink_metadata(&target).is_ok_and(|m| m.is_file())
        {
            fs.remove_file(&target).unwrap();
            fs.symlink("/tmp/precious", &target).unwrap();
        }
    });
    let _report = tmp.cleanup();
    fs.clear_hook();
    assert_eq!(fs.read("/tmp/precious").unwrap(), b"keep");
    assert_eq!(fs.symlinks_followed(), 0);
    assert!(
        fs.trace()
            .iter()
            .any(|l| l.starts_with("uid=1000 symlink /tmp/precious")),
        "the hook ran"
    );
}

// ---- threads ----

#[test]
fn the_filesystem_is_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<MemoryFs>();
    send_sync::<MemoryBackend>();
    send_sync::<crate::MemoryFile>();
    send_sync::<crate::MemoryDir>();

    let fs = MemoryFs::with_seed(8);
    let tmp = TemporaryDirectory::with_backend(backend(&fs)).unwrap();
    let paths: Vec<Utf8PathBuf> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..25)
                        .map(|_| tmp.mkstemp().unwrap().1)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(fs.read_dir(tmp.dir()).unwrap().len(), 100);
    assert!(paths.iter().all(|p| fs.exists(p)));
    assert!(tmp.cleanup().is_complete());
}
