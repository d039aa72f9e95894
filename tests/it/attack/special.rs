//! Special files at tracked and untracked names: FIFOs, sockets, device nodes, directories
//! with content, symlinks to files and directories outside, hard links to files outside.
//! Only our uid or root can put them in our `0700` directory; whatever is there, no call
//! blocks (D12), nothing outside is written, followed or chmodded (D5, D6), and what the
//! instance did not make is never removed (cleanup is never recursive).

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::sync::Arc;

use camino::Utf8Path;
use tempdir_core::{DirStatus, Error, Op};

use super::{
    Bystander, Fixture, Tmp, assert_io, assert_io_errno, exists, is_root, mkfifo, names, tree,
    unsupported, within,
};

fn is_fifo(path: &Utf8Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// A tracked name the instance created, emptied again so that something can be planted
/// there, and a tracked name from `mktemp` never created.
fn tracked_names(tmp: &Tmp) -> [camino::Utf8PathBuf; 2] {
    let (file, made) = tmp.mkstemp().unwrap();
    drop(file);
    fs::remove_file(&made).unwrap();
    [made, tmp.mktemp().unwrap()]
}

/// Opens `path` in `tmp` on a thread of its own, failing the case if it blocks.
fn open_within(tmp: &Arc<Tmp>, path: &Utf8Path) -> Result<(), Error> {
    let (t, p) = (Arc::clone(tmp), path.to_owned());
    within("open", move || t.open(&p).map(drop))
}

fn keep_alive_within(tmp: &Arc<Tmp>) -> Result<(), Error> {
    let t = Arc::clone(tmp);
    within("keep_alive", move || t.keep_alive())
}

fn cleanup_within(tmp: &Arc<Tmp>) -> tempdir_core::CleanupReport {
    let t = Arc::clone(tmp);
    within("cleanup", move || t.cleanup())
}

/// A UNIX socket bound at `path` (bound at a short name first: socket paths are limited
/// to 108 bytes), and the listener that keeps it alive.
fn socket_at(fx: &Fixture, path: &Utf8Path) -> UnixListener {
    let short = fx.base().join("s");
    let listener = UnixListener::bind(&short).unwrap();
    fs::rename(&short, path).unwrap();
    listener
}

/// A character device with `/dev/null`'s numbers at `path`.
fn null_device_at(path: &Utf8Path) {
    use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
    mknodat(
        CWD,
        path.as_std_path(),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        makedev(1, 3),
    )
    .unwrap();
}

/// Asserts that the first cleanup keeps the directory for exactly `planted` and leaves it
/// alone, and that once it is gone the next cleanup finishes.
fn cleanup_keeps_untracked(fx: &Fixture, tmp: &Arc<Tmp>, planted: &Utf8Path) {
    let report = cleanup_within(tmp);
    assert!(!report.dir_removed, "{report:?}");
    assert_eq!(report.status, DirStatus::Intact);
    assert_eq!(report.untracked, vec![planted.as_std_path().to_owned()]);
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(exists(planted), "an untracked entry is never removed");
    if fs::symlink_metadata(planted).unwrap().is_dir() {
        fs::remove_dir_all(planted).unwrap();
    } else {
        fs::remove_file(planted).unwrap();
    }
    assert!(cleanup_within(tmp).is_complete());
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_fifo_at_a_tracked_name_never_blocks_open_create_keep_alive_or_cleanup() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let tracked = tracked_names(&tmp);
    for path in &tracked {
        mkfifo(path);
        let err = open_within(&tmp, path).unwrap_err();
        assert!(matches!(err, Error::Swapped { .. }), "{err:?}");
        let t = Arc::clone(&tmp);
        let p = path.clone();
        let err = within("create", move || t.create(&p).map(drop)).unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    }
    keep_alive_within(&tmp).unwrap();
    assert!(tracked.iter().all(|p| is_fifo(p)), "still FIFOs");
    let report = cleanup_within(&tmp);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.removed, 2);
    assert!(names(&fx.root).is_empty());
}

#[test]
fn remove_of_a_fifo_at_a_tracked_name_unlinks_it_without_blocking() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let named = tmp.mktemp().unwrap();
    mkfifo(&named);
    let (t, p) = (Arc::clone(&tmp), named.clone());
    within("remove", move || t.remove(&p)).unwrap();
    assert!(!exists(&named) && !tmp.is_tracked(&named));
    assert!(cleanup_within(&tmp).is_complete());
}

#[test]
fn a_fifo_at_an_untracked_name_is_refused_by_open_and_kept_by_cleanup() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let pipe = tmp.dir().join("pipe");
    mkfifo(&pipe);
    let err = open_within(&tmp, &pipe).unwrap_err();
    assert_io(&err, Op::OpenFile, ErrorKind::InvalidInput);
    assert!(matches!(tmp.remove(&pipe), Err(Error::NotTracked { .. })));
    assert!(!tmp.forget(&pipe) && !tmp.is_tracked(&pipe));
    assert!(is_fifo(&pipe));
    cleanup_keeps_untracked(&fx, &tmp, &pipe);
}

#[test]
fn a_socket_at_a_tracked_name_is_swapped_and_unlinked_without_blocking() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let [made, named] = tracked_names(&tmp);
    let _made = socket_at(&fx, &made);
    let _named = socket_at(&fx, &named);
    for path in [&made, &named] {
        let err = open_within(&tmp, path).unwrap_err();
        assert!(matches!(err, Error::Swapped { .. }), "{err:?}");
    }
    keep_alive_within(&tmp).unwrap();
    let (t, p) = (Arc::clone(&tmp), named.clone());
    within("remove", move || t.remove(&p)).unwrap();
    assert!(!exists(&named));
    let report = cleanup_within(&tmp);
    assert!(report.is_complete(), "{report:?}");
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_socket_at_an_untracked_name_is_refused_by_open_and_kept_by_cleanup() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let sock = tmp.dir().join("sock");
    let _listener = socket_at(&fx, &sock);
    let err = open_within(&tmp, &sock).unwrap_err();
    // A socket cannot be opened at all: ENXIO, which std has no stable kind for.
    assert_io_errno(&err, Op::OpenFile, libc::ENXIO);
    assert!(matches!(tmp.remove(&sock), Err(Error::NotTracked { .. })));
    cleanup_keeps_untracked(&fx, &tmp, &sock);
}

#[test]
fn a_device_node_at_a_tracked_name_is_swapped_and_only_its_name_unlinked() {
    let case = "a_device_node_at_a_tracked_name_is_swapped_and_only_its_name_unlinked";
    if !is_root() {
        return unsupported(case, "mknod of a device needs root");
    }
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let tracked = tracked_names(&tmp);
    for path in &tracked {
        null_device_at(path);
        let err = open_within(&tmp, path).unwrap_err();
        assert!(matches!(err, Error::Swapped { .. }), "{err:?}");
    }
    keep_alive_within(&tmp).unwrap();
    let report = cleanup_within(&tmp);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.removed, 2);
    let null = fs::symlink_metadata("/dev/null").unwrap();
    assert!(null.file_type().is_char_device() && null.rdev() == rustix::fs::makedev(1, 3));
}

#[test]
fn a_device_node_at_an_untracked_name_is_refused_by_open_and_kept_by_cleanup() {
    let case = "a_device_node_at_an_untracked_name_is_refused_by_open_and_kept_by_cleanup";
    if !is_root() {
        return unsupported(case, "mknod of a device needs root");
    }
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let dev = tmp.dir().join("null");
    null_device_at(&dev);
    let err = open_within(&tmp, &dev).unwrap_err();
    assert_io(&err, Op::OpenFile, ErrorKind::InvalidInput);
    cleanup_keeps_untracked(&fx, &tmp, &dev);
}

#[test]
fn a_directory_with_content_at_a_tracked_name_is_left_whole_and_retried() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let tracked = tracked_names(&tmp);
    for path in &tracked {
        fs::create_dir(path).unwrap();
        fs::write(path.join("inner"), b"theirs").unwrap();
        let err = open_within(&tmp, path).unwrap_err();
        assert!(matches!(err, Error::Swapped { .. }), "{err:?}");
    }
    let err = tmp.remove(&tracked[0]).unwrap_err();
    assert_io(&err, Op::RemoveFile, ErrorKind::IsADirectory);
    assert!(
        tmp.is_tracked(&tracked[0]),
        "a refused remove keeps the name tracked"
    );
    keep_alive_within(&tmp).unwrap();
    let report = cleanup_within(&tmp);
    assert!(
        !report.dir_removed && report.failures.is_empty(),
        "{report:?}"
    );
    let mut left = report.left_in_place.clone();
    left.sort();
    let mut expected = tracked.to_vec();
    expected.sort();
    assert_eq!(left, expected);
    for path in &tracked {
        assert_eq!(fs::read(path.join("inner")).unwrap(), b"theirs");
    }
    for path in &tracked {
        fs::remove_dir_all(path).unwrap();
    }
    assert!(
        cleanup_within(&tmp).is_complete(),
        "the next cleanup retries"
    );
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_directory_with_content_at_an_untracked_name_is_left_whole() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let planted = tmp.dir().join("planted");
    fs::create_dir(&planted).unwrap();
    fs::write(planted.join("inner"), b"theirs").unwrap();
    let err = open_within(&tmp, &planted).unwrap_err();
    assert_io(&err, Op::OpenFile, ErrorKind::IsADirectory);
    let before = tree(&planted);
    let report = cleanup_within(&tmp);
    assert_eq!(report.untracked, vec![planted.as_std_path().to_owned()]);
    assert_eq!(tree(&planted), before, "never recursive");
    cleanup_keeps_untracked(&fx, &tmp, &planted);
}

#[test]
fn a_symlink_to_a_bystander_file_at_a_tracked_name_is_never_followed() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let bystander = Bystander::new(&fx.outside.join("secret"));
    let tracked = tracked_names(&tmp);
    for path in &tracked {
        std::os::unix::fs::symlink(&bystander.path, path).unwrap();
        let err = open_within(&tmp, path).unwrap_err();
        assert!(matches!(err, Error::Swapped { .. }), "{err:?}");
        let err = tmp.create(path).unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    }
    keep_alive_within(&tmp).unwrap();
    bystander.assert_unchanged();
    let (t, p) = (Arc::clone(&tmp), tracked[1].clone());
    within("remove", move || t.remove(&p)).unwrap();
    assert!(!exists(&tracked[1]), "the link is gone");
    bystander.assert_unchanged();
    let report = cleanup_within(&tmp);
    assert!(report.is_complete(), "{report:?}");
    bystander.assert_unchanged();
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_symlink_to_a_bystander_file_at_an_untracked_name_is_never_followed_or_removed() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let bystander = Bystander::new(&fx.outside.join("secret"));
    let link = tmp.dir().join("link");
    std::os::unix::fs::symlink(&bystander.path, &link).unwrap();
    let err = open_within(&tmp, &link).unwrap_err();
    assert_io_errno(&err, Op::OpenFile, libc::ELOOP);
    assert!(matches!(tmp.remove(&link), Err(Error::NotTracked { .. })));
    keep_alive_within(&tmp).unwrap();
    bystander.assert_unchanged();
    cleanup_keeps_untracked(&fx, &tmp, &link);
    bystander.assert_unchanged();
}

/// A directory outside with content, and its own mtime and ctime (a refresh through a
/// symlink would move both).
fn outside_dir(fx: &Fixture) -> (camino::Utf8PathBuf, impl Fn()) {
    let dir = fx.outside.join("dir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("inner"), b"theirs").unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    super::set_old_times(&dir);
    let before = tree(&dir);
    let stamp = |path: &Utf8Path| {
        let m = fs::symlink_metadata(path).unwrap();
        (
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            m.mode(),
        )
    };
    let times = stamp(&dir);
    let at = dir.clone();
    (dir, move || {
        assert_eq!(tree(&at), before, "the directory outside changed");
        assert_eq!(stamp(&at), times, "the directory outside was touched");
    })
}

#[test]
fn a_symlink_to_a_directory_outside_at_a_tracked_name_is_never_entered() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let (dir, unchanged) = outside_dir(&fx);
    let tracked = tracked_names(&tmp);
    for path in &tracked {
        std::os::unix::fs::symlink(&dir, path).unwrap();
        let err = open_within(&tmp, path).unwrap_err();
        assert!(matches!(err, Error::Swapped { .. }), "{err:?}");
        let err = tmp.create(path).unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
        let through = path.join("inner");
        let err = tmp.create(&through).unwrap_err();
        assert!(matches!(err, Error::OutsideDirectory { .. }), "{err:?}");
        assert!(matches!(
            tmp.open(&through),
            Err(Error::OutsideDirectory { .. })
        ));
        assert!(matches!(
            tmp.remove(&through),
            Err(Error::OutsideDirectory { .. })
        ));
    }
    keep_alive_within(&tmp).unwrap();
    let (_f, _p) = tmp.mkstemp().unwrap();
    unchanged();
    let report = cleanup_within(&tmp);
    assert!(report.is_complete(), "{report:?}");
    unchanged();
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_symlink_to_a_directory_outside_at_an_untracked_name_is_never_entered_or_removed() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let (dir, unchanged) = outside_dir(&fx);
    let link = tmp.dir().join("out");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let err = open_within(&tmp, &link).unwrap_err();
    assert_io_errno(&err, Op::OpenFile, libc::ELOOP);
    keep_alive_within(&tmp).unwrap();
    unchanged();
    cleanup_keeps_untracked(&fx, &tmp, &link);
    unchanged();
}

#[test]
fn a_hard_link_to_a_bystander_file_loses_only_its_name() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    // As root the bystander is another user's file, which root may link to.
    let bystander = Bystander::new(&fx.outside.join("linked"));
    let tracked = tracked_names(&tmp);
    for path in &tracked {
        fs::hard_link(&bystander.path, path).unwrap();
    }
    let untracked = tmp.dir().join("also");
    fs::hard_link(&bystander.path, &untracked).unwrap();
    bystander.assert_unchanged_but_links(4);
    // A hard link is a regular file: open hands it back, and writes nothing itself.
    let (t, p) = (Arc::clone(&tmp), tracked[0].clone());
    within("open", move || t.open(&p).map(drop)).unwrap();
    bystander.assert_unchanged_but_links(4);
    let (t, p) = (Arc::clone(&tmp), tracked[0].clone());
    within("remove", move || t.remove(&p)).unwrap();
    bystander.assert_unchanged_but_links(3);
    let report = cleanup_within(&tmp);
    assert_eq!(report.removed, 1, "{report:?}");
    assert_eq!(report.untracked, vec![untracked.as_std_path().to_owned()]);
    bystander.assert_unchanged_but_links(2);
    fs::remove_file(&untracked).unwrap();
    assert!(cleanup_within(&tmp).is_complete());
    bystander.assert_unchanged_but_links(1);
    assert!(names(&fx.root).is_empty());
}

#[test]
fn keep_alive_through_a_planted_hard_link_never_writes_or_chmods_the_bystander() {
    // What keep_alive does to a tracked name it does to the inode there: a hard link that
    // our uid or root planted in our 0700 directory gets its times refreshed (SECURITY.md,
    // what remains). Content, mode, owner and links stay.
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let bystander = Bystander::new(&fx.outside.join("linked"));
    let named = tmp.mktemp().unwrap();
    fs::hard_link(&bystander.path, &named).unwrap();
    keep_alive_within(&tmp).unwrap();
    bystander.assert_content_and_mode_unchanged(2);
    assert!(cleanup_within(&tmp).is_complete());
    bystander.assert_content_and_mode_unchanged(1);
}
