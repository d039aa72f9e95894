//! A sandbox refusing the backend's syscalls one at a time (A3), with `EPERM` and with
//! `ENOSYS`, as seccomp filters do. Each case runs in a child process (a filter cannot be
//! lifted), where one thread installs the filter and makes every call: construction,
//! `status`, `mkstemp`, `create`, `open`, `keep_alive`, `remove`, `cleanup`. The child's
//! other thread, unfiltered, then checks (D10): a refused look never says `Reaped` or
//! `Replaced`, every failure is `Io` with the refusal's kind, what could be removed was,
//! and what could not is left for the next cleanup, which finishes.
//!
//! The syscalls are the ones the backend makes on x86_64 (rustix calls the kernel
//! directly): `newfstatat`, `fstat`, `statx`, `openat`, `unlinkat`, `renameat2`
//! (`renameat` its fallback), `mkdirat`, `fchmod`, `fchmodat`, `flock`, `utimensat`,
//! `getdents64`, `fcntl`.

use std::collections::HashSet;
use std::fs;
use std::io::{ErrorKind, Write};

use camino::Utf8PathBuf;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Builder, CleanupReport, DirStatus, Error, Op, OpenRoot};

use super::{Fixture, Tmp, case_path, exists, inode, is_root, names, role, run_child};

/// Installs, on the calling thread only, a filter that makes `syscalls` fail with `errno`.
fn refuse(syscalls: &[i64], errno: i32) {
    let rules = syscalls.iter().map(|&n| (n, Vec::new())).collect();
    let arch = TargetArch::try_from(std::env::consts::ARCH).expect("a seccompiler target");
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno.unsigned_abs()),
        arch,
    )
    .expect("a valid filter");
    let program: BpfProgram = filter.try_into().expect("the filter compiles");
    seccompiler::apply_filter(&program).expect("the filter is installed");
}

/// The calls made under the filter, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Build,
    Mkstemp,
    Create,
    Open,
    KeepAlive,
    Remove,
}

/// What cleanup under the filter must do.
enum Cleanup {
    /// Everything removed.
    Complete,
    /// The directory kept at its name, `Intact`, for the next cleanup; the report's
    /// failures are of these operations (a refused unlink with `EPERM` is reported left
    /// in place, counted here as `RemoveFile`).
    Kept(&'static [Op]),
}

/// What to set up, what to refuse and what must come of it.
struct Plan {
    syscalls: &'static [i64],
    /// A umask for the child, for the calls that only a umask taking the owner's bits
    /// makes (`fchmod`, `fchmodat`).
    umask: Option<u32>,
    /// An untracked entry in the directory, for the call that only it makes (reading the
    /// directory).
    plant: bool,
    fails: &'static [Call],
    cleanup: Cleanup,
}

/// What each call returned under the filter.
struct Outcome {
    built: Result<Tmp, Error>,
    status: DirStatus,
    results: Vec<(Call, Result<(), Error>)>,
    made: Option<Utf8PathBuf>,
    cleanup: CleanupReport,
}

/// Runs `plan` in two children, one refusing with `EPERM`, one with `ENOSYS`; in a child,
/// plays its part.
fn sandbox(test: &str, plan: Plan) {
    match role() {
        Some(role) => {
            let errno: i32 = role
                .strip_prefix("seccomp:")
                .and_then(|n| n.parse().ok())
                .expect("the child's errno");
            child(&plan, errno);
        }
        None => {
            for errno in [libc::EPERM, libc::ENOSYS] {
                run_child(test, &format!("seccomp:{errno}"));
            }
        }
    }
}

fn child(plan: &Plan, errno: i32) {
    if let Some(mask) = plan.umask {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    let kind = if errno == libc::EPERM {
        ErrorKind::PermissionDenied
    } else {
        ErrorKind::Unsupported
    };
    let fx = Fixture::new();
    let other = fx.dir("other");
    let tmp = fx.make();
    let id = inode(tmp.dir());
    let (mut file, a) = tmp.mkstemp().unwrap();
    file.write_all(b"ours").unwrap();
    drop(file);
    tmp.mktemp().unwrap();
    let planted = plan.plant.then(|| {
        let path = tmp.dir().join("planted");
        fs::write(&path, b"theirs").unwrap();
        path
    });
    let backend = CapStdBackend::open_root(&other).unwrap();

    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            refuse(plan.syscalls, errno);
            let built = Builder::new().build(backend);
            let status = tmp.status();
            let mut results = Vec::new();
            let mut made = None;
            let mkstemp = tmp.mkstemp().map(|(_, path)| made = Some(path));
            results.push((Call::Mkstemp, mkstemp));
            results.push((Call::Create, tmp.create("c").map(drop)));
            results.push((Call::Open, tmp.open(&a).map(drop)));
            results.push((Call::KeepAlive, tmp.keep_alive()));
            results.push((Call::Remove, tmp.remove(&a)));
            let cleanup = tmp.cleanup();
            Outcome {
                built,
                status,
                results,
                made,
                cleanup,
            }
        })
        .join()
        .expect("the sandboxed calls never panic")
    });

    let refused = |call: Call| plan.fails.contains(&call);
    let check = |call: Call, error: Option<&Error>| match error {
        None => assert!(!refused(call), "{call:?} succeeded under the refusal"),
        Some(e) => {
            assert!(refused(call), "{call:?} failed: {e:?}");
            assert!(
                matches!(e, Error::Io { .. }),
                "{call:?}: not a false alarm: {e:?}"
            );
            assert_eq!(e.io_kind(), Some(kind), "{call:?}: {e:?}");
        }
    };
    assert_eq!(
        outcome.status,
        DirStatus::Intact,
        "a refused look is no reap"
    );
    check(Call::Build, outcome.built.as_ref().err());
    for (call, result) in &outcome.results {
        check(*call, result.as_ref().err());
    }
    if refused(Call::Create) {
        assert!(
            !exists(tmp.dir().join("c")),
            "a failed create leaves nothing"
        );
    }

    let report = &outcome.cleanup;
    assert_eq!(report.status, DirStatus::Intact, "{report:?}");
    match plan.cleanup {
        Cleanup::Complete => assert!(report.is_complete(), "{report:?}"),
        Cleanup::Kept(ops) => {
            assert!(!report.dir_removed, "{report:?}");
            assert_eq!(inode(tmp.dir()), id, "the directory is back at its name");
            let mut seen: HashSet<Op> = report.failures.iter().filter_map(Error::op).collect();
            if !report.left_in_place.is_empty() {
                seen.insert(Op::RemoveFile);
            }
            assert_eq!(seen, ops.iter().copied().collect(), "{report:?}");
            for e in &report.failures {
                assert_eq!(e.io_kind(), Some(kind), "{e:?}");
            }
        }
    }
    let unlinks_refused =
        matches!(plan.cleanup, Cleanup::Kept(ops) if ops.contains(&Op::RemoveFile));
    if !unlinks_refused {
        assert_eq!(
            report.untracked.len(),
            0,
            "nothing failed was left: {report:?}"
        );
        for path in outcome.made.iter().chain([&a]) {
            assert!(!exists(path), "{path} was removed");
        }
    }

    // Unfiltered: the next cleanup finishes what the refusal kept, and the instance built
    // under the filter cleans up after itself.
    if let Some(path) = &planted {
        assert_eq!(fs::read(path).unwrap(), b"theirs");
        fs::remove_file(path).unwrap();
    }
    let again = tmp.cleanup();
    match plan.cleanup {
        Cleanup::Complete => assert_eq!(again.status, DirStatus::CleanedUp),
        Cleanup::Kept(_) => assert!(again.is_complete(), "{again:?}"),
    }
    assert!(names(&fx.root).is_empty());
    drop(outcome.built);
    assert!(names(&other).is_empty());
}

const NEWFSTATAT: i64 = libc::SYS_newfstatat;
const FSTAT: i64 = libc::SYS_fstat;
const STATX: i64 = libc::SYS_statx;
const OPENAT: i64 = libc::SYS_openat;
const UNLINKAT: i64 = libc::SYS_unlinkat;
const RENAMEAT2: i64 = libc::SYS_renameat2;
const RENAMEAT: i64 = libc::SYS_renameat;
const MKDIRAT: i64 = libc::SYS_mkdirat;
const FCHMOD: i64 = libc::SYS_fchmod;
const FCHMODAT: i64 = libc::SYS_fchmodat;
const FLOCK: i64 = libc::SYS_flock;
const UTIMENSAT: i64 = libc::SYS_utimensat;
const GETDENTS64: i64 = libc::SYS_getdents64;
const FCNTL: i64 = libc::SYS_fcntl;

fn plan(syscalls: &'static [i64], fails: &'static [Call], cleanup: Cleanup) -> Plan {
    Plan {
        syscalls,
        umask: None,
        plant: false,
        fails,
        cleanup,
    }
}

#[test]
fn a_sandbox_refusing_newfstatat_is_never_taken_for_a_reap() {
    sandbox(
        case_path!(a_sandbox_refusing_newfstatat_is_never_taken_for_a_reap),
        plan(&[NEWFSTATAT], &[], Cleanup::Kept(&[Op::Stat])),
    );
}

#[test]
fn a_sandbox_refusing_fstat_fails_construction_and_open_only() {
    sandbox(
        case_path!(a_sandbox_refusing_fstat_fails_construction_and_open_only),
        plan(&[FSTAT], &[Call::Build, Call::Open], Cleanup::Complete),
    );
}

#[test]
fn a_sandbox_refusing_statx_changes_nothing() {
    sandbox(
        case_path!(a_sandbox_refusing_statx_changes_nothing),
        plan(&[STATX], &[], Cleanup::Complete),
    );
}

#[test]
fn a_sandbox_refusing_every_stat_is_never_taken_for_a_reap() {
    sandbox(
        case_path!(a_sandbox_refusing_every_stat_is_never_taken_for_a_reap),
        plan(
            &[NEWFSTATAT, FSTAT, STATX],
            &[Call::Build, Call::Open],
            Cleanup::Kept(&[Op::Stat]),
        ),
    );
}

#[test]
fn a_sandbox_refusing_openat_fails_what_opens_and_cleanup_still_finishes() {
    sandbox(
        case_path!(a_sandbox_refusing_openat_fails_what_opens_and_cleanup_still_finishes),
        plan(
            &[OPENAT],
            &[Call::Build, Call::Mkstemp, Call::Create, Call::Open],
            Cleanup::Complete,
        ),
    );
}

#[test]
fn a_sandbox_refusing_unlinkat_keeps_every_name_and_the_directory_for_the_next_cleanup() {
    sandbox(
        case_path!(
            a_sandbox_refusing_unlinkat_keeps_every_name_and_the_directory_for_the_next_cleanup
        ),
        plan(
            &[UNLINKAT],
            &[Call::Remove],
            Cleanup::Kept(&[Op::RemoveFile]),
        ),
    );
}

#[test]
fn a_sandbox_refusing_renameat2_still_cleans_up_through_renameat() {
    sandbox(
        case_path!(a_sandbox_refusing_renameat2_still_cleans_up_through_renameat),
        plan(&[RENAMEAT2], &[], Cleanup::Complete),
    );
}

#[test]
fn a_sandbox_refusing_every_rename_keeps_the_directory_for_the_next_cleanup() {
    sandbox(
        case_path!(a_sandbox_refusing_every_rename_keeps_the_directory_for_the_next_cleanup),
        plan(&[RENAMEAT2, RENAMEAT], &[], Cleanup::Kept(&[Op::Rename])),
    );
}

#[test]
fn a_sandbox_refusing_mkdirat_fails_construction_only() {
    sandbox(
        case_path!(a_sandbox_refusing_mkdirat_fails_construction_only),
        plan(&[MKDIRAT], &[Call::Build], Cleanup::Complete),
    );
}

#[test]
fn a_sandbox_refusing_fchmod_fails_what_needs_a_mode_set_and_leaves_nothing() {
    sandbox(
        case_path!(a_sandbox_refusing_fchmod_fails_what_needs_a_mode_set_and_leaves_nothing),
        Plan {
            // Takes the owner's write bit: every mode is set through the descriptor.
            umask: Some(0o277),
            ..plan(
                &[FCHMOD],
                &[Call::Build, Call::Mkstemp, Call::Create],
                Cleanup::Complete,
            )
        },
    );
}

#[test]
fn a_sandbox_refusing_fchmodat_fails_only_the_umask_repair() {
    // Takes the owner's read bit: a user (not root) cannot open the new directory until
    // its mode is given back by name.
    let fails: &[Call] = if is_root() { &[] } else { &[Call::Build] };
    sandbox(
        case_path!(a_sandbox_refusing_fchmodat_fails_only_the_umask_repair),
        Plan {
            umask: Some(0o477),
            ..plan(&[FCHMODAT], fails, Cleanup::Complete)
        },
    );
}

#[test]
fn a_sandbox_refusing_flock_changes_nothing_but_the_lock() {
    sandbox(
        case_path!(a_sandbox_refusing_flock_changes_nothing_but_the_lock),
        plan(&[FLOCK], &[], Cleanup::Complete),
    );
}

#[test]
fn a_sandbox_refusing_utimensat_fails_keep_alive_only() {
    sandbox(
        case_path!(a_sandbox_refusing_utimensat_fails_keep_alive_only),
        plan(&[UTIMENSAT], &[Call::KeepAlive], Cleanup::Complete),
    );
}

#[test]
fn a_sandbox_refusing_getdents64_keeps_the_directory_and_its_untracked_entry() {
    sandbox(
        case_path!(a_sandbox_refusing_getdents64_keeps_the_directory_and_its_untracked_entry),
        Plan {
            plant: true,
            ..plan(&[GETDENTS64], &[], Cleanup::Kept(&[Op::ReadDir]))
        },
    );
}

#[test]
fn a_sandbox_refusing_fcntl_fails_open_only() {
    sandbox(
        case_path!(a_sandbox_refusing_fcntl_fails_open_only),
        plan(&[FCNTL], &[Call::Open], Cleanup::Complete),
    );
}

#[test]
fn a_reap_is_still_seen_when_the_sandbox_refuses_newfstatat() {
    let test = case_path!(a_reap_is_still_seen_when_the_sandbox_refuses_newfstatat);
    let Some(role) = role() else {
        for errno in [libc::EPERM, libc::ENOSYS] {
            run_child(test, &format!("seccomp:{errno}"));
        }
        return;
    };
    let errno: i32 = role.strip_prefix("seccomp:").unwrap().parse().unwrap();
    let fx = Fixture::new();
    let tmp = fx.make();
    let (_f, a) = tmp.mkstemp().unwrap();
    // The reaper's work, by path.
    fs::remove_file(&a).unwrap();
    fs::remove_dir(tmp.dir()).unwrap();
    let (status, results, report) = std::thread::scope(|s| {
        s.spawn(|| {
            refuse(&[NEWFSTATAT], errno);
            let results = vec![
                tmp.mkstemp().map(drop),
                tmp.create("c").map(drop),
                tmp.open(&a).map(drop),
                tmp.mktemp().map(drop),
                tmp.keep_alive(),
            ];
            (tmp.status(), results, tmp.cleanup())
        })
        .join()
        .unwrap()
    });
    // The handle's link count says what the name could not.
    assert_eq!(status, DirStatus::Reaped);
    for result in results {
        assert!(matches!(result, Err(Error::Reaped { .. })), "{result:?}");
    }
    assert_eq!(report.status, DirStatus::Reaped, "{report:?}");
    assert!(!report.dir_removed);
    assert!(names(&fx.root).is_empty());
}
