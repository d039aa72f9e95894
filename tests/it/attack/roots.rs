//! Roots that are not what they seem: behind a symlink (resolved once, D4), missing, a
//! file, read-only or remounted read-only mid-run, without search permission, not UTF-8,
//! and at the limit of a path's length. Each is a typed error with nothing made, or works
//! through the handles; no refused look is taken for an attack (D10).

use std::ffi::OsStr;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{DirStatus, Error, Op, RootProblem};

use super::{
    ATTACKER, Bystander, Fixture, Mounted, Tmp, assert_io, assert_io_errno, can_mount, case_path,
    is_root, names, role, run_child_mounting, tree, unsupported,
};

#[test]
fn a_symlinked_root_is_resolved_once_and_re_pointing_the_link_changes_nothing() {
    let fx = Fixture::new();
    let link = fx.base().join("link");
    symlink(&fx.root, &link).unwrap();
    let tmp = Tmp::new_in(&link).unwrap();
    assert_eq!(tmp.dir().parent(), Some(fx.root.as_path()), "the real path");
    let (mut file, before) = tmp.mkstemp().unwrap();
    file.write_all(b"ours").unwrap();
    // Re-pointed at a directory of someone else's that holds what looks like ours.
    let other = fx.dir("other");
    fs::create_dir(other.join(tmp.dir().file_name().unwrap())).unwrap();
    let bystander = Bystander::new(&other.join("secret"));
    fs::remove_file(&link).unwrap();
    symlink(&other, &link).unwrap();
    let snapshot = tree(&other);
    let (_f, after) = tmp.mkstemp().unwrap();
    let named = tmp.mktemp().unwrap();
    tmp.create("made").unwrap();
    tmp.open(&before).unwrap();
    tmp.keep_alive().unwrap();
    assert_eq!(tmp.status(), DirStatus::Intact);
    for path in [&after, &named] {
        assert_eq!(path.parent(), Some(tmp.dir()));
        assert!(path.starts_with(&fx.root));
    }
    assert!(tmp.cleanup().is_complete());
    assert_eq!(
        tree(&other),
        snapshot,
        "nothing created or removed where the link points"
    );
    bystander.assert_unchanged();
    assert_eq!(fs::read_link(&link).unwrap(), other.as_std_path());
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_symlinked_root_leading_to_a_directory_others_control_is_refused_and_left_empty() {
    let fx = Fixture::new();
    // Writable by all without the sticky bit: anyone could swap our directory (D1).
    let open = fx.dir("open");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let link = fx.base().join("link");
    symlink(&open, &link).unwrap();
    let err = Tmp::new_in(&link).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsafeRoot {
                problem: RootProblem::WritableNotSticky { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(names(&open).is_empty());
    if !is_root() {
        return unsupported(
            "a_symlinked_root_leading_to_a_directory_others_control_is_refused_and_left_empty",
            "a directory of another uid needs root",
        );
    }
    let theirs = fx.dir("theirs");
    std::os::unix::fs::chown(&theirs, Some(ATTACKER), Some(ATTACKER)).unwrap();
    let link = fx.base().join("link-theirs");
    symlink(&theirs, &link).unwrap();
    let err = Tmp::new_in(&link).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsafeRoot {
                problem: RootProblem::NotOwned { owner: ATTACKER },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(names(&theirs).is_empty());
}

#[test]
fn a_missing_root_is_a_typed_error_and_makes_nothing() {
    let fx = Fixture::new();
    let before = tree(fx.base());
    let missing = fx.base().join("missing");
    let err = Tmp::new_in(&missing).unwrap_err();
    assert_io(&err, Op::OpenRoot, ErrorKind::NotFound);
    let dangling = fx.base().join("dangling");
    symlink(&missing, &dangling).unwrap();
    let err = Tmp::new_in(&dangling).unwrap_err();
    assert_io(&err, Op::OpenRoot, ErrorKind::NotFound);
    fs::remove_file(&dangling).unwrap();
    assert_eq!(tree(fx.base()), before);
}

#[test]
fn a_file_as_root_is_a_typed_error_and_the_file_is_unchanged() {
    let fx = Fixture::new();
    let file = Bystander::new(&fx.outside.join("file"));
    let err = Tmp::new_in(&file.path).unwrap_err();
    assert_io(&err, Op::OpenRoot, ErrorKind::NotADirectory);
    let link = fx.base().join("to-file");
    symlink(&file.path, &link).unwrap();
    let err = Tmp::new_in(&link).unwrap_err();
    assert_io(&err, Op::OpenRoot, ErrorKind::NotADirectory);
    file.assert_unchanged();
}

#[test]
fn a_root_without_search_permission_is_refused_and_left_empty() {
    let case = "a_root_without_search_permission_is_refused_and_left_empty";
    if is_root() {
        return unsupported(case, "root ignores permission bits");
    }
    let fx = Fixture::new();
    for mode in [0o600, 0o400, 0o000] {
        fs::set_permissions(&fx.root, fs::Permissions::from_mode(mode)).unwrap();
        let err = Tmp::new_in(&fx.root).unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::PermissionDenied), "{err:?}");
        assert!(
            matches!(err.op(), Some(Op::OpenRoot | Op::CreateDir)),
            "{err:?}"
        );
        fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(names(&fx.root).is_empty(), "mode {mode:o}");
    }
}

#[test]
fn search_permission_taken_from_the_root_mid_run_is_no_false_alarm() {
    let case = "search_permission_taken_from_the_root_mid_run_is_no_false_alarm";
    if is_root() {
        return unsupported(case, "root ignores permission bits");
    }
    let fx = Fixture::new();
    let tmp = fx.make();
    let (_f, first) = tmp.mkstemp().unwrap();
    fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o600)).unwrap();
    // The name cannot be looked up in the root; the handle still says it is there.
    assert_eq!(tmp.status(), DirStatus::Intact);
    let (_g, second) = tmp.mkstemp().unwrap();
    tmp.mktemp().unwrap();
    tmp.keep_alive().unwrap();
    tmp.open(&first).unwrap();
    tmp.remove(&first).unwrap();
    let report = tmp.cleanup();
    assert_eq!(report.status, DirStatus::Intact, "{report:?}");
    assert!(!report.dir_removed, "never removed unseen");
    assert_eq!(report.removed, 2, "the files went: {report:?}");
    assert!(
        report
            .failures
            .iter()
            .all(|e| e.op() == Some(Op::Stat) && e.io_kind() == Some(ErrorKind::PermissionDenied)),
        "{report:?}"
    );
    fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!second.exists());
    assert!(tmp.cleanup().is_complete(), "the next cleanup finishes");
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_non_utf8_root_is_a_typed_error_and_makes_nothing() {
    let fx = Fixture::new();
    let odd = fx
        .base()
        .as_std_path()
        .join(OsStr::from_bytes(b"root-\xff\xfe"));
    fs::create_dir(&odd).unwrap();
    fs::set_permissions(&odd, fs::Permissions::from_mode(0o755)).unwrap();
    let inner = odd.join("inner");
    fs::create_dir(&inner).unwrap();
    fs::set_permissions(&inner, fs::Permissions::from_mode(0o755)).unwrap();
    for (name, target) in [("odd", &odd), ("odd-inner", &inner)] {
        let link = fx.base().join(name);
        symlink(target, &link).unwrap();
        let err = Tmp::new_in(&link).unwrap_err();
        assert!(matches!(err, Error::NonUtf8Path { .. }), "{err:?}");
    }
    assert_eq!(fs::read_dir(&inner).unwrap().count(), 0, "nothing made");
    assert_eq!(fs::read_dir(&odd).unwrap().count(), 1);
}

/// A chain of directories below `base` whose path is exactly `len` bytes long, made
/// relative to a handle (an absolute path that long is refused).
fn deep_dir(base: &Utf8Path, len: usize) -> Utf8PathBuf {
    use rustix::fs::{CWD, Mode, OFlags, mkdirat, openat};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut fd = openat(CWD, base.as_std_path(), flags, Mode::empty()).unwrap();
    let mut path = base.to_owned();
    while path.as_str().len() < len {
        let left = len - path.as_str().len() - 1;
        let mut take = left.min(200);
        if left - take == 1 {
            take -= 1;
        }
        let part = "d".repeat(take);
        mkdirat(&fd, part.as_str(), Mode::from_raw_mode(0o755)).unwrap();
        fd = openat(&fd, part.as_str(), flags, Mode::empty()).unwrap();
        path.push(&part);
    }
    assert_eq!(path.as_str().len(), len);
    path
}

#[test]
fn a_root_at_the_path_length_limit_still_works_through_the_handles() {
    let fx = Fixture::new();
    // 4095 bytes is the longest path the kernel takes; ours and our files' are longer.
    let root = deep_dir(fx.base(), 4090);
    let tmp = Tmp::new_in(&root).unwrap();
    assert!(tmp.dir().as_str().len() > 4095);
    let (mut file, path) = tmp.mkstemp().unwrap();
    file.write_all(b"ours").unwrap();
    tmp.create("c").unwrap();
    tmp.mktemp().unwrap();
    tmp.open(&path).unwrap();
    tmp.keep_alive().unwrap();
    assert_eq!(tmp.status(), DirStatus::Intact);
    tmp.remove("c").unwrap();
    let report = tmp.cleanup();
    assert!(report.is_complete(), "{report:?}");
    let left = tmp.backend().root_dir().entries().unwrap().count();
    assert_eq!(left, 0, "nothing left in the root");
}

#[test]
fn a_root_past_the_path_length_limit_is_a_typed_error() {
    let fx = Fixture::new();
    let parent = deep_dir(fx.base(), 4000);
    let root = parent.join("r".repeat(200));
    let err = Tmp::new_in(&root).unwrap_err();
    assert_io_errno(&err, Op::OpenRoot, libc::ENAMETOOLONG);
}

#[test]
fn a_read_only_bind_mounted_root_is_a_typed_error_and_stays_unchanged() {
    if role().as_deref() == Some("ro-root") {
        let fx = Fixture::new();
        let bystander = Bystander::new(&fx.root.join("present"));
        let mount = Mounted::new(&["--bind", fx.root.as_str()], &fx.root);
        mount.remount("bind,ro");
        let before = tree(&fx.root);
        let err = Tmp::new_in(&fx.root).unwrap_err();
        assert_io(&err, Op::CreateDir, ErrorKind::ReadOnlyFilesystem);
        assert_eq!(tree(&fx.root), before);
        drop(mount);
        bystander.assert_unchanged();
        return;
    }
    if !can_mount() {
        return unsupported(
            "a_read_only_bind_mounted_root_is_a_typed_error_and_stays_unchanged",
            "needs root and mount",
        );
    }
    run_child_mounting(
        case_path!(a_read_only_bind_mounted_root_is_a_typed_error_and_stays_unchanged),
        "ro-root",
    );
}

#[test]
fn a_root_remounted_read_only_mid_run_gives_typed_errors_and_a_later_cleanup_finishes() {
    if role().as_deref() == Some("ro-mid-run") {
        let fx = Fixture::new();
        // Bound onto itself first, so that the instance's handles are on the mount that
        // goes read-only.
        let mount = Mounted::new(&["--bind", fx.root.as_str()], &fx.root);
        let tmp = fx.make();
        let (mut file, path) = tmp.mkstemp().unwrap();
        file.write_all(b"ours").unwrap();
        // A file open for writing keeps a mount from going read-only.
        drop(file);
        let named = tmp.mktemp().unwrap();
        mount.remount("bind,ro");
        let rofs = ErrorKind::ReadOnlyFilesystem;
        assert_eq!(tmp.status(), DirStatus::Intact);
        assert_io(&tmp.mkstemp().unwrap_err(), Op::CreateFile, rofs);
        assert_io(&tmp.create("c").unwrap_err(), Op::CreateFile, rofs);
        assert_io(&tmp.open(&path).unwrap_err(), Op::OpenFile, rofs);
        assert_io(&tmp.keep_alive().unwrap_err(), Op::SetTimes, rofs);
        assert_io(&tmp.remove(&path).unwrap_err(), Op::RemoveFile, rofs);
        assert!(tmp.is_tracked(&path) && tmp.is_tracked(&named));
        assert_eq!(tmp.tracked_count(), 2);
        let report = tmp.cleanup();
        assert_eq!(report.status, DirStatus::Intact, "{report:?}");
        assert!(
            !report.dir_removed && !report.failures.is_empty(),
            "{report:?}"
        );
        assert!(
            report.failures.iter().all(|e| e.io_kind() == Some(rofs)),
            "{report:?}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"ours", "nothing of ours lost");
        mount.remount("bind,rw");
        let again = tmp.cleanup();
        assert!(again.is_complete(), "{again:?}");
        assert!(names(&fx.root).is_empty());
        drop(mount);
        return;
    }
    if !can_mount() {
        return unsupported(
            "a_root_remounted_read_only_mid_run_gives_typed_errors_and_a_later_cleanup_finishes",
            "needs root and mount",
        );
    }
    run_child_mounting(
        case_path!(
            a_root_remounted_read_only_mid_run_gives_typed_errors_and_a_later_cleanup_finishes
        ),
        "ro-mid-run",
    );
}
