//! Injected faults, on `MemoryFs` only: every backend operation × errno × trigger × public
//! operation. A fault fails the backend call before it does anything; whatever the
//! library does with that, the instance must stay consistent and work again once the
//! fault is gone.
//!
//! After each faulted call: every entry in the directory is tracked (or was deliberately
//! left untracked by the test), every tracked name is still tracked and every file that
//! `mkstemp`/`create` made still exists; a failed `create` tracked nothing and left no
//! file; an error is typed and carries the injected errno; the directory is still
//! `Intact` (a fault is never mistaken for a reaper); `cleanup` reports each name it could
//! not remove. Then the fault is cleared and the same call (on a fresh target if the
//! first one succeeded) must succeed, and a final cleanup must be complete.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};

use camino::Utf8PathBuf;
use tempdir_core::{DirStatus, Error, TemporaryDirectory};
use tempdir_memory::{Errno, Fault, FaultOp, MemoryBackend, MemoryFs};

/// Every operation `MemoryBackend` (and its files) can be faulted on.
const FAULT_OPS: [FaultOp; 19] = FaultOp::ALL;

const ERRNOS: [Errno; 6] = [
    Errno::ENOSPC,
    Errno::EMFILE,
    Errno::EACCES,
    Errno::EIO,
    Errno::EEXIST,
    Errno::EINTR,
];

#[derive(Clone, Copy, Debug)]
enum Trigger {
    First,
    Second,
    Every,
}

const TRIGGERS: [Trigger; 3] = [Trigger::First, Trigger::Second, Trigger::Every];

/// The public operations, each with the target it works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    New,
    Mktemp,
    Mkstemp,
    MkstempFileIo,
    Create,
    Open,
    Remove,
    Forget,
    KeepAlive,
    Status,
    Cleanup,
}

const CALLS: [Call; 11] = [
    Call::New,
    Call::Mktemp,
    Call::Mkstemp,
    Call::MkstempFileIo,
    Call::Create,
    Call::Open,
    Call::Remove,
    Call::Forget,
    Call::KeepAlive,
    Call::Status,
    Call::Cleanup,
];

/// What the test knows must be true of the instance.
struct Model {
    /// Names tracked (bare).
    tracked: BTreeSet<String>,
    /// Of those, files that must exist.
    created: BTreeSet<String>,
    /// Whether cleanup ran.
    cleaned: bool,
}

struct Fixture {
    fs: MemoryFs,
    td: TemporaryDirectory<MemoryBackend>,
    model: Model,
    /// Tracked files in the order they were made, for targets.
    files: Vec<String>,
    /// A mktemp name nobody created.
    loose: String,
}

fn bare(path: &Utf8PathBuf) -> String {
    path.file_name().expect("a file name").to_owned()
}

/// An instance holding an `mkstemp` file, a `create`d file, a `mktemp` name the caller
/// created by path and one nobody created.
fn fixture() -> Fixture {
    let fs = MemoryFs::with_seed(1);
    let td = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap();
    let (mut a, a_path) = td.mkstemp().unwrap();
    a.write_all(bare(&a_path).as_bytes()).unwrap();
    let mut b = td.create("b").unwrap();
    b.write_all(b"b").unwrap();
    let m = td.mktemp().unwrap();
    fs.write(&m, b"m").unwrap();
    let n = td.mktemp().unwrap();
    let (a, m, n) = (bare(&a_path), bare(&m), bare(&n));
    let model = Model {
        tracked: [a.clone(), "b".to_owned(), m.clone(), n.clone()].into(),
        created: [a.clone(), "b".to_owned(), m].into(),
        cleaned: false,
    };
    Fixture {
        fs,
        td,
        model,
        files: vec![a, "b".to_owned()],
        loose: n,
    }
}

fn check_consistent(f: &Fixture, context: &str) {
    let (fs, td, model) = (&f.fs, &f.td, &f.model);
    if model.cleaned {
        assert_eq!(td.tracked_count(), 0, "{context}");
        return;
    }
    let entries = fs.read_dir(td.dir()).expect("the directory is there");
    for entry in &entries {
        assert!(
            td.is_tracked(entry.as_str()),
            "{context}: untracked {entry}"
        );
    }
    for name in &model.created {
        assert!(fs.exists(td.dir().join(name)), "{context}: {name} is gone");
    }
    for name in &model.tracked {
        assert!(td.is_tracked(name.as_str()), "{context}: {name} untracked");
    }
    assert_eq!(td.tracked_count(), model.tracked.len(), "{context}");
    assert_eq!(td.status(), DirStatus::Intact, "{context}");
}

/// The error is typed and comes from the fault.
fn check_error(err: &Error, call: Call, errno: Errno, context: &str) {
    match err {
        Error::Io { source, .. } => {
            assert_eq!(Errno::of(source), Some(errno), "{context}: {err:?}");
        }
        Error::TooManyCollisions { .. } | Error::AlreadyExists { .. } => {
            assert_eq!(errno, Errno::EEXIST, "{context}: {err:?}");
            if matches!(err, Error::AlreadyExists { .. }) {
                assert_eq!(call, Call::Create, "{context}: {err:?}");
            }
        }
        other => panic!("{context}: unexpected {other:?}"),
    }
}

/// Runs `call` once. `fresh` picks a target the first run did not use.
fn run(f: &mut Fixture, call: Call, fresh: bool, errno: Errno, context: &str) -> bool {
    let result: Result<(), Error> = match call {
        Call::New => {
            let before = f.fs.read_dir("/tmp").unwrap();
            let made = MemoryBackend::new(&f.fs, "/tmp").and_then(TemporaryDirectory::with_backend);
            match made {
                Ok(other) => {
                    assert_eq!(other.status(), DirStatus::Intact, "{context}");
                    f.fs.clear_faults();
                    assert!(other.cleanup().is_complete(), "{context}");
                    Ok(())
                }
                Err(e) => {
                    assert_eq!(
                        f.fs.read_dir("/tmp").unwrap(),
                        before,
                        "{context}: left behind"
                    );
                    Err(e)
                }
            }
        }
        Call::Mktemp => f.td.mktemp().map(|p| {
            assert!(!f.fs.exists(&p), "{context}");
            f.model.tracked.insert(bare(&p));
        }),
        Call::Mkstemp => f.td.mkstemp().map(|(_file, p)| {
            f.model.tracked.insert(bare(&p));
            f.model.created.insert(bare(&p));
        }),
        Call::MkstempFileIo => f.td.mkstemp_file().map(|(mut file, p)| {
            f.model.tracked.insert(bare(&p));
            f.model.created.insert(bare(&p));
            // The file's own I/O may fail (Read/Write faults): an io::Error, never a panic.
            let io = (|| {
                file.write_all(b"payload")?;
                file.flush()?;
                file.seek(SeekFrom::Start(0))?;
                let mut back = Vec::new();
                file.read_to_end(&mut back)?;
                Ok::<_, std::io::Error>(back)
            })();
            match io {
                Ok(back) => assert_eq!(back, b"payload", "{context}"),
                Err(e) => assert_eq!(Errno::of(&e), Some(errno), "{context}: {e:?}"),
            }
        }),
        Call::Create => {
            let name = if fresh { "c2" } else { "c" };
            match f.td.create(name) {
                Ok(_) => {
                    f.model.tracked.insert(name.to_owned());
                    f.model.created.insert(name.to_owned());
                    Ok(())
                }
                Err(e) => {
                    let path = f.td.dir().join(name);
                    assert!(
                        !f.fs.exists(&path),
                        "{context}: a failed create left {name}"
                    );
                    assert!(
                        !f.td.is_tracked(name),
                        "{context}: a failed create tracked {name}"
                    );
                    Err(e)
                }
            }
        }
        Call::Open => {
            let name = f.files[usize::from(fresh)].clone();
            f.td.open(name.as_str()).map(|mut file| {
                let mut content = Vec::new();
                match file.read_to_end(&mut content) {
                    Ok(_) => assert_eq!(content, name.as_bytes(), "{context}"),
                    Err(e) => assert_eq!(Errno::of(&e), Some(errno), "{context}: {e:?}"),
                }
            })
        }
        Call::Remove => {
            let name = f.files[usize::from(fresh)].clone();
            let result = f.td.remove(name.as_str());
            if result.is_ok() {
                assert!(!f.fs.exists(f.td.dir().join(&name)), "{context}");
                f.model.tracked.remove(&name);
                f.model.created.remove(&name);
            }
            result
        }
        Call::Forget => {
            // Syscall-free: no fault can reach it. The name forgotten was never created.
            let name = f.loose.clone();
            let was = f.model.tracked.remove(&name);
            assert_eq!(f.td.forget(name.as_str()), was, "{context}");
            Ok(())
        }
        Call::KeepAlive => f.td.keep_alive(),
        Call::Status => {
            assert_eq!(f.td.status(), DirStatus::Intact, "{context}");
            Ok(())
        }
        Call::Cleanup => {
            let tracked = f.model.tracked.clone();
            let report = f.td.cleanup();
            let dir = f.td.dir().to_owned();
            if !f.model.cleaned {
                f.model.cleaned = true;
                let failed: BTreeSet<String> = report
                    .failures
                    .iter()
                    .filter_map(|e| match e {
                        Error::Io { path, .. } if path != &dir => Some(bare(path)),
                        _ => None,
                    })
                    .collect();
                let left: BTreeSet<String> = report.left_in_place.iter().map(bare).collect();
                for name in &tracked {
                    if f.fs.exists(dir.join(name)) {
                        assert!(
                            failed.contains(name) || left.contains(name),
                            "{context}: {name} left and not reported: {report:?}"
                        );
                    }
                }
                assert_eq!(
                    report.removed + failed.len() + report.left_in_place.len(),
                    tracked.len(),
                    "{context}: {report:?}"
                );
                assert_eq!(report.dir_removed, !f.fs.exists(&dir), "{context}");
                if !report.dir_removed {
                    assert!(
                        !report.failures.is_empty()
                            || !report.untracked.is_empty()
                            || !report.left_in_place.is_empty(),
                        "{context}: the directory stayed for no reported reason: {report:?}"
                    );
                }
                for e in &report.failures {
                    check_error(e, call, errno, context);
                }
            } else if report.status != DirStatus::CleanedUp {
                // A retry of what the first cleanup could not do: with the fault gone it
                // finishes, and nothing is left.
                assert!(report.is_complete(), "{context}: {report:?}");
                assert!(!f.fs.exists(&dir), "{context}");
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => true,
        Err(e) => {
            check_error(&e, call, errno, context);
            false
        }
    }
}

#[test]
fn every_fault_on_every_operation_leaves_a_consistent_instance() {
    let (mut combos, mut fired, mut failed_calls) = (0, 0, 0);
    for call in CALLS {
        for op in FAULT_OPS {
            for errno in ERRNOS {
                for trigger in TRIGGERS {
                    // std's read_to_end and write_all retry EINTR, as POSIX means them
                    // to: EINTR on every read or write is a livelock by design.
                    if errno == Errno::EINTR
                        && matches!(trigger, Trigger::Every)
                        && matches!(op, FaultOp::Read | FaultOp::Write)
                    {
                        continue;
                    }
                    let context = format!("{call:?} with {op} {errno} {trigger:?}");
                    if std::env::var_os("TEMPDIRS_FAULTS_VERBOSE").is_some() {
                        eprintln!("{context}");
                    }
                    let mut f = fixture();
                    let fault = Fault::new(op, errno);
                    f.fs.inject(match trigger {
                        Trigger::First => fault.first(),
                        Trigger::Second => fault.nth(2),
                        Trigger::Every => fault.every(),
                    });
                    let mark = f.fs.trace().len();
                    let ok = run(&mut f, call, false, errno, &context);
                    let injected = f.fs.trace()[mark..]
                        .iter()
                        .any(|line| line.ends_with("(injected)"));
                    fired += usize::from(injected);
                    failed_calls += usize::from(!ok);
                    assert!(ok || injected, "{context}: failed without a fault");
                    f.fs.clear_faults();
                    check_consistent(&f, &context);
                    // The same call works once the fault is gone.
                    let again = run(&mut f, call, ok, errno, &format!("{context}, again"));
                    assert!(
                        again,
                        "{context}: still failing after the fault was cleared"
                    );
                    check_consistent(&f, &format!("{context}, again"));
                    if !f.model.cleaned {
                        let report = f.td.cleanup();
                        assert!(report.is_complete(), "{context}: final {report:?}");
                        assert_eq!(report.removed, f.model.tracked.len(), "{context}");
                    }
                    combos += 1;
                }
            }
        }
    }
    println!(
        "faults: {combos} combinations ({} calls x {} fault ops x {} errnos x {} triggers), \
         {fired} fired, {failed_calls} calls failed and recovered",
        CALLS.len(),
        FAULT_OPS.len(),
        ERRNOS.len(),
        TRIGGERS.len()
    );
}

/// A cleanup that failed is retried by the next call: the names it could not remove are
/// kept with the handle (duplicity clears its list whatever happened; this does not).
#[test]
fn a_failed_cleanup_is_retried_until_nothing_is_left() {
    let f = fixture();
    f.fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EIO).every());
    // Every tracked name is tried, the one nobody created too: the unlink says what is
    // there, nothing looks first.
    let first = f.td.cleanup();
    assert_eq!(first.failures.len(), 4, "{first:?}");
    assert!(!first.dir_removed);
    assert!(
        matches!(f.td.mkstemp(), Err(Error::CleanedUp)),
        "spent all the same"
    );
    // Still failing: reported again, nothing lost from the retry list.
    assert_eq!(f.td.cleanup().failures.len(), 4);
    f.fs.clear_faults();
    let retried = f.td.cleanup();
    assert_eq!(
        (
            retried.removed,
            retried.already_gone,
            retried.failures.len()
        ),
        (4, 1, 0),
        "{retried:?}"
    );
    assert!(retried.is_complete() && !f.fs.exists(f.td.dir()));
    let after = f.td.cleanup();
    assert_eq!((after.status, after.removed), (DirStatus::CleanedUp, 0));
}
