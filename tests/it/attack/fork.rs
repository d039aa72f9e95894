//! `fork` (A3): a forked child holds a copy of the parent's instance; whatever it does with
//! it, cleaning up or dropping, removes nothing (D11), and the parent keeps working and
//! cleans up. The fork is made in a child process that re-executes this test binary, so
//! that the forking process runs nothing but this case (libtest's main thread only
//! waits for it) and the forked copy has no other test's state to trip over.

use std::fs;
use std::io::Write;
use std::panic::AssertUnwindSafe;

use tempdir_core::DirStatus;

use super::{Fixture, Tmp, case_path, names, role, run_child};

/// Runs `f` in a forked copy of this process and returns whether it returned `true`
/// there. The copy never returns into the test harness: it leaves with `_exit`.
// `fork`, `_exit` and `waitpid` are `unsafe`: the copy is made of a process that runs only
// this case, and it runs only `f` (allocation, file calls) before `_exit`.
#[allow(unsafe_code)]
fn in_forked_child(f: impl FnOnce() -> bool) -> bool {
    // SAFETY: see above; the copy's other threads (libtest's, waiting) are not copied and
    // hold no lock that `f` takes.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let ok = std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or(false);
        // SAFETY: leaves the copy at once, without running the parent's exit handlers.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a valid place to write.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid: {}", std::io::Error::last_os_error());
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// The parent's instance with one file of content, and that file's path.
fn parent(fx: &Fixture) -> (Tmp, camino::Utf8PathBuf) {
    let tmp = fx.make();
    let (mut file, path) = tmp.mkstemp().unwrap();
    file.write_all(b"parent's data").unwrap();
    (tmp, path)
}

/// The parent, after the forked child is gone: everything is where it was, it keeps
/// working and cleans up; returns what its cleanup reported.
fn parent_goes_on(tmp: &Tmp, path: &camino::Utf8Path) -> tempdir_core::CleanupReport {
    assert_eq!(fs::read(path).unwrap(), b"parent's data");
    assert_eq!(tmp.status(), DirStatus::Intact);
    let (_f, more) = tmp.mkstemp().unwrap();
    tmp.keep_alive().unwrap();
    let report = tmp.cleanup();
    assert_eq!(report.removed, 2, "{report:?}");
    assert!(!more.exists() && !path.exists());
    report
}

#[test]
fn a_forked_child_dropping_its_copy_removes_nothing() {
    if role().as_deref() == Some("fork-drop") {
        let fx = Fixture::new();
        let (tmp, path) = parent(&fx);
        let mut copy = Some(tmp);
        let ok = in_forked_child(|| {
            drop(copy.take());
            path.exists()
        });
        assert!(ok, "the forked child saw its drop remove the file");
        let tmp = copy.expect("the parent's instance");
        assert!(parent_goes_on(&tmp, &path).is_complete());
        assert!(names(&fx.root).is_empty());
        return;
    }
    run_child(
        case_path!(a_forked_child_dropping_its_copy_removes_nothing),
        "fork-drop",
    );
}

#[test]
fn a_forked_child_cleaning_up_removes_nothing_and_the_parent_still_cleans_up() {
    if role().as_deref() == Some("fork-cleanup") {
        let fx = Fixture::new();
        let (tmp, path) = parent(&fx);
        let named = tmp.mktemp().unwrap();
        fs::write(&named, b"parent's too").unwrap();
        let ok = in_forked_child(|| {
            let report = tmp.cleanup();
            // The child may still use what it inherited.
            let usable = tmp.open(&path).is_ok() && tmp.status() == DirStatus::Intact;
            report.removed == 0 && !report.dir_removed && path.exists() && named.exists() && usable
        });
        assert!(ok, "the forked child's cleanup removed something");
        assert_eq!(fs::read(&named).unwrap(), b"parent's too");
        tmp.remove(&named).unwrap();
        assert!(parent_goes_on(&tmp, &path).is_complete());
        assert!(names(&fx.root).is_empty());
        return;
    }
    run_child(
        case_path!(a_forked_child_cleaning_up_removes_nothing_and_the_parent_still_cleans_up),
        "fork-cleanup",
    );
}

#[test]
fn a_forked_childs_own_files_are_reported_by_the_parent_never_lost_silently() {
    if role().as_deref() == Some("fork-own") {
        let fx = Fixture::new();
        let (tmp, path) = parent(&fx);
        let mut copy = Some(tmp);
        let child_file = fx.base().join("child-file");
        let ok = in_forked_child(|| {
            let tmp = copy.take().unwrap();
            let Ok((mut file, made)) = tmp.mkstemp() else {
                return false;
            };
            let written = file.write_all(b"child's data").is_ok();
            let recorded = fs::write(&child_file, made.as_str()).is_ok();
            drop(tmp);
            written && recorded && made.exists()
        });
        assert!(ok, "the forked child could not make its file");
        let made = fs::read_to_string(&child_file).unwrap();
        let tmp = copy.unwrap();
        assert!(!tmp.is_tracked(&made), "tracked in the child's copy only");
        // The parent's cleanup removes its own and reports the child's, which stays.
        let report = parent_goes_on(&tmp, &path);
        assert!(!report.dir_removed, "{report:?}");
        assert_eq!(report.untracked, vec![std::path::PathBuf::from(&made)]);
        assert_eq!(fs::read(&made).unwrap(), b"child's data");
        fs::remove_file(&made).unwrap();
        assert!(tmp.cleanup().is_complete(), "the next cleanup finishes");
        assert!(names(&fx.root).is_empty());
        return;
    }
    run_child(
        case_path!(a_forked_childs_own_files_are_reported_by_the_parent_never_lost_silently),
        "fork-own",
    );
}
