//! The conformance suite on `MemoryBackend`, plus what only the in-memory filesystem can
//! show: predicted (planted) names, injected faults, and hooks that let a reaper or an
//! attacker act between two calls of the library.

use std::io;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::Error;
use tempdir_memory::{MemoryBackend, MemoryFs};

use crate::harness::Harness;

/// A fresh in-memory filesystem per test: isolation comes free.
pub struct MemoryHarness {
    pub fs: MemoryFs,
    root: Utf8PathBuf,
}

impl Harness for MemoryHarness {
    type B = MemoryBackend;

    fn new() -> Self {
        MemoryHarness {
            fs: MemoryFs::with_seed(42),
            root: Utf8PathBuf::from("/tmp"),
        }
    }
    fn name(&self) -> &'static str {
        "memory"
    }
    fn root(&self) -> &Utf8Path {
        &self.root
    }
    fn backend_in(&self, root: &Utf8Path) -> Result<MemoryBackend, Error> {
        MemoryBackend::new(&self.fs, root)
    }
    /// The filesystem's umask is its own, not the process's: no child process needed. The
    /// harness acts as uid 1000, not root, so permission bits count.
    fn with_umask(_test: &str, mask: u32, body: impl Fn(&Self)) -> bool {
        let h = MemoryHarness::new();
        assert_ne!(h.fs.uid(), 0, "the umask case needs a user who is not root");
        h.fs.set_umask(mask);
        body(&h);
        true
    }
    fn exists(&self, path: &Utf8Path) -> bool {
        self.fs.symlink_metadata(path).is_ok()
    }
    fn is_symlink(&self, path: &Utf8Path) -> bool {
        self.fs.symlink_metadata(path).is_ok_and(|m| m.is_symlink())
    }
    fn is_dir(&self, path: &Utf8Path) -> bool {
        self.fs.symlink_metadata(path).is_ok_and(|m| m.is_dir())
    }
    fn write(&self, path: &Utf8Path, data: &[u8]) -> io::Result<()> {
        self.fs.write(path, data)
    }
    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>> {
        self.fs.read(path)
    }
    fn remove_file(&self, path: &Utf8Path) -> io::Result<()> {
        self.fs.remove_file(path)
    }
    fn remove_dir(&self, path: &Utf8Path) -> io::Result<()> {
        self.fs.remove_dir(path)
    }
    fn create_dir(&self, path: &Utf8Path) -> io::Result<()> {
        self.fs.create_dir(path)
    }
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        self.fs.rename(from, to)
    }
    fn symlink(&self, target: &Utf8Path, link: &Utf8Path) -> io::Result<()> {
        self.fs.symlink(target, link)
    }
    fn mkfifo(&self, path: &Utf8Path) -> io::Result<()> {
        self.fs.mkfifo(path)
    }
    fn read_dir(&self, path: &Utf8Path) -> Vec<String> {
        self.fs.read_dir(path).unwrap_or_default()
    }
    fn mode(&self, path: &Utf8Path) -> Option<u32> {
        Some(self.fs.symlink_metadata(path).expect("entry exists").mode & 0o7777)
    }
    fn set_mode(&self, path: &Utf8Path, mode: u32) -> bool {
        self.fs.set_permissions(path, mode).expect("mode set");
        true
    }
    fn make_dir_owned_by(&self, path: &Utf8Path, uid: u32, mode: u32) -> bool {
        let owner = self.fs.as_uid(uid);
        owner.create_dir(path).expect("they make the directory");
        // Exactly `mode`, whatever the umask.
        owner
            .set_permissions(path, mode)
            .expect("they set its mode");
        true
    }
    fn age(&self, path: &Utf8Path) -> bool {
        // Move the clock well past the age so "now" is later than the aged times.
        self.fs.advance_clock(Duration::from_secs(30 * 86_400));
        self.fs
            .set_times(path, Duration::from_secs(1), Duration::from_secs(1))
            .expect("times set");
        true
    }
    fn times(&self, path: &Utf8Path) -> (Duration, Duration) {
        let meta = self.fs.symlink_metadata(path).expect("entry exists");
        (meta.atime, meta.mtime)
    }
    fn exclusive_lock_blocked(&self, dir: &Utf8Path) -> Option<bool> {
        Some(
            !self
                .fs
                .try_lock_exclusive(dir)
                .expect("directory can be opened"),
        )
    }
}

crate::conformance!(MemoryHarness);

use std::io::Write;
use std::sync::{Arc, Mutex};

use tempdir_core::{Builder, DirStatus, Op, TemporaryDirectory};
use tempdir_memory::{BackendOp, Errno, Fault, FaultOp};

fn instance(fs: &MemoryFs) -> TemporaryDirectory<MemoryBackend> {
    TemporaryDirectory::with_backend(MemoryBackend::new(fs, "/tmp").unwrap()).unwrap()
}

/// The names `count` successive `mkstemp` calls make on a fresh filesystem with `seed`:
/// the same seed replays them, which is how an attacker who knew the seed would plant.
fn predicted_mkstemp_names(seed: u64, count: usize) -> Vec<Utf8PathBuf> {
    let probe = MemoryFs::with_seed(seed);
    let tmp = instance(&probe);
    (0..count).map(|_| tmp.mkstemp().unwrap().1).collect()
}

/// Every entry in the directory is tracked and every tracked name exists: no phantom
/// names, nothing leaked.
fn assert_consistent(fs: &MemoryFs, tmp: &TemporaryDirectory<MemoryBackend>) {
    let names = fs.read_dir(tmp.dir()).unwrap();
    assert!(
        names.iter().all(|n| tmp.is_tracked(n)),
        "untracked entry in {names:?}"
    );
    assert_eq!(
        tmp.tracked_count(),
        names.len(),
        "tracked names without files"
    );
}

#[test]
fn same_seed_same_names() {
    let run = |seed| {
        let fs = MemoryFs::with_seed(seed);
        let tmp = instance(&fs);
        (
            tmp.dir().to_owned(),
            tmp.mktemp().unwrap(),
            tmp.mkstemp().unwrap().1,
        )
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn planted_names_are_never_opened() {
    let names = predicted_mkstemp_names(42, 3);
    let fs = MemoryFs::with_seed(42);
    let tmp = instance(&fs);
    assert_eq!(names[0].parent(), Some(tmp.dir()), "the prediction holds");
    // A same-uid attacker plants the next two names: a file and a symlink out.
    fs.write(&names[0], b"planted").unwrap();
    fs.write("/tmp/victim", b"precious").unwrap();
    fs.symlink("/tmp/victim", &names[1]).unwrap();
    let (mut file, path) = tmp.mkstemp().unwrap();
    assert_eq!(path, names[2], "both planted names were skipped");
    file.write_all(b"ours").unwrap();
    assert_eq!(fs.read(&names[0]).unwrap(), b"planted");
    assert_eq!(fs.read("/tmp/victim").unwrap(), b"precious");
    assert!(!tmp.is_tracked(&names[0]) && !tmp.is_tracked(&names[1]));
    let report = tmp.cleanup();
    assert_eq!(report.removed, 1);
    let mut planted: Vec<_> = names[..2]
        .iter()
        .map(|n| n.clone().into_std_path_buf())
        .collect();
    planted.sort();
    assert_eq!(
        report.untracked, planted,
        "planted entries keep the directory"
    );
}

#[test]
fn a_storm_of_planted_names_is_too_many_collisions() {
    let names = predicted_mkstemp_names(3, 128);
    let fs = MemoryFs::with_seed(3);
    let tmp = instance(&fs);
    for name in &names {
        fs.write(name, b"planted").unwrap();
    }
    assert!(matches!(
        tmp.mkstemp(),
        Err(Error::TooManyCollisions { attempts: 128, .. })
    ));
    assert_eq!(tmp.tracked_count(), 0);
    assert!(names.iter().all(|n| fs.read(n).unwrap() == b"planted"));
    // The storm is over once the planted names are used up.
    assert!(tmp.mkstemp().is_ok());
}

#[test]
fn a_planted_directory_name_is_skipped() {
    let probe = MemoryFs::with_seed(8);
    let predicted = instance(&probe).dir().to_owned();
    let fs = MemoryFs::with_seed(8);
    fs.as_uid(1001)
        .create_dir_with_mode(&predicted, 0o777)
        .unwrap();
    let tmp = instance(&fs);
    assert_ne!(tmp.dir(), predicted);
    assert_eq!(fs.metadata(tmp.dir()).unwrap().mode & 0o7777, 0o700);
    assert_eq!(
        fs.metadata(&predicted).unwrap().uid,
        1001,
        "theirs is untouched"
    );
}

#[test]
fn a_readonly_root_for_another_user_is_permission_denied_and_leaves_nothing() {
    let fs = MemoryFs::new();
    fs.as_uid(0).create_dir_with_mode("/srv", 0o755).unwrap();
    let err =
        TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/srv").unwrap()).unwrap_err();
    assert_eq!(err.op(), Some(Op::CreateDir));
    assert_eq!(err.io_kind(), Some(io::ErrorKind::PermissionDenied));
    assert!(fs.read_dir("/srv").unwrap().is_empty());
}

#[test]
fn failed_creates_leave_no_phantom_names_and_recover() {
    for errno in [
        Errno::ENOSPC,
        Errno::EMFILE,
        Errno::EACCES,
        Errno::EIO,
        Errno::EROFS,
    ] {
        let fs = MemoryFs::new();
        let tmp = instance(&fs);
        tmp.mkstemp().unwrap();
        fs.inject(Fault::new(FaultOp::CreateFile, errno).first());
        let err = tmp.mkstemp().unwrap_err();
        assert_eq!(err.op(), Some(Op::CreateFile), "{errno:?}: {err:?}");
        assert_eq!(err.io_kind(), Some(io::Error::from(errno).kind()));
        fs.inject(Fault::new(FaultOp::CreateFile, errno).first());
        assert_eq!(tmp.create("named").unwrap_err().op(), Some(Op::CreateFile));
        assert!(!tmp.is_tracked("named"));
        assert_consistent(&fs, &tmp);
        assert_eq!(tmp.tracked_count(), 1);
        tmp.mkstemp().unwrap();
        assert_consistent(&fs, &tmp);
        assert!(tmp.cleanup().is_complete());
    }
}

#[test]
fn the_nth_failure_hits_only_that_call() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.inject(Fault::new(FaultOp::CreateFile, Errno::ENOSPC).nth(3));
    let outcomes: Vec<bool> = (0..5).map(|_| tmp.mkstemp().is_ok()).collect();
    assert_eq!(outcomes, [true, true, false, true, true]);
    assert_consistent(&fs, &tmp);
}

#[test]
fn eexist_on_every_create_is_too_many_collisions() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.inject(Fault::new(FaultOp::CreateFile, Errno::EEXIST).every());
    assert!(matches!(
        tmp.mkstemp(),
        Err(Error::TooManyCollisions { .. })
    ));
    assert_consistent(&fs, &tmp);
    fs.inject(Fault::new(FaultOp::MakeDir, Errno::EEXIST).every());
    let err =
        TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap_err();
    assert!(matches!(err, Error::TooManyCollisions { .. }));
}

#[test]
fn failed_directory_creation_is_a_clear_error_and_leaves_nothing() {
    for errno in [Errno::EACCES, Errno::ENOSPC, Errno::EIO, Errno::EROFS] {
        let fs = MemoryFs::new();
        fs.inject(Fault::new(FaultOp::MakeDir, errno).first());
        let err =
            TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap_err();
        assert_eq!(err.op(), Some(Op::CreateDir), "{errno:?}");
        assert!(fs.read_dir("/tmp").unwrap().is_empty());
    }
}

/// Whatever fails after the `mkdir` (the open, the look at what was opened, the mode
/// given back by name or through the handle) removes the empty directory just made.
#[test]
fn a_failure_after_the_directory_is_made_leaves_nothing() {
    // The umask decides which calls construction makes: 0o277 takes write (the mode is
    // given back through the handle), 0o777 takes read (the open is refused first).
    for (op, umask) in [
        (FaultOp::OpenDir, 0o022),
        (FaultOp::DirMeta, 0o022),
        (FaultOp::SetDirMode, 0o277),
        (FaultOp::SetModeAt, 0o777),
    ] {
        let fs = MemoryFs::new();
        fs.set_umask(umask);
        fs.inject(Fault::new(op, Errno::EIO).first());
        let err =
            TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap_err();
        assert_eq!(errno_of(&err), Some(Errno::EIO), "{op}: {err:?}");
        assert!(fs.read_dir("/tmp").unwrap().is_empty(), "{op}");
    }
}

/// The errno behind an [`Error::Io`].
fn errno_of(err: &Error) -> Option<Errno> {
    match err {
        Error::Io { source, .. } => Errno::of(source),
        _ => None,
    }
}

#[test]
fn a_lock_failure_does_not_stop_the_instance() {
    let fs = MemoryFs::new();
    fs.inject(Fault::new(FaultOp::Lock, Errno::EIO).first());
    let tmp = instance(&fs);
    tmp.mkstemp().unwrap();
    assert!(tmp.cleanup().is_complete());
}

/// systemd-tmpfiles holds `LOCK_EX` on a directory for a moment while it looks inside; a
/// new instance that meets it tries again and gets its shared lock.
#[test]
fn a_lock_held_for_a_moment_is_waited_for() {
    let fs = MemoryFs::new();
    fs.inject(Fault::new(FaultOp::Lock, Errno::EAGAIN).nth(1));
    fs.inject(Fault::new(FaultOp::Lock, Errno::EAGAIN).nth(2));
    let tmp = instance(&fs);
    let tries = fs
        .trace()
        .iter()
        .filter(|l| l.contains(" lock_shared "))
        .count();
    assert_eq!(tries, 3);
    assert!(
        !fs.try_lock_exclusive(tmp.dir()).unwrap(),
        "the shared lock is held after two refusals"
    );
    assert!(tmp.cleanup().is_complete());
}

/// Held for longer than the retries, the lock is given up on and the instance still works;
/// `keep_alive` asks for it again.
#[test]
fn a_lock_held_for_long_is_taken_by_keep_alive() {
    let fs = MemoryFs::new();
    fs.inject(Fault::new(FaultOp::Lock, Errno::EAGAIN).every());
    let tmp = instance(&fs);
    tmp.mkstemp().unwrap();
    tmp.keep_alive().unwrap();
    assert!(
        fs.try_lock_exclusive(tmp.dir()).unwrap(),
        "still not locked"
    );
    fs.clear_faults();
    tmp.keep_alive().unwrap();
    assert!(
        !fs.try_lock_exclusive(tmp.dir()).unwrap(),
        "locked by keep_alive"
    );
    assert!(tmp.cleanup().is_complete());
}

#[test]
fn failures_name_the_operation() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.inject(Fault::new(FaultOp::OpenFile, Errno::EMFILE).first());
    let (_f, path) = tmp.mkstemp().unwrap();
    assert_eq!(tmp.open(&path).unwrap_err().op(), Some(Op::OpenFile));
    fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EIO).first());
    assert_eq!(tmp.remove(&path).unwrap_err().op(), Some(Op::RemoveFile));
    assert!(tmp.is_tracked(&path), "a failed remove keeps the name");
    fs.inject(Fault::new(FaultOp::Touch, Errno::EIO).first());
    assert_eq!(tmp.keep_alive().unwrap_err().op(), Some(Op::SetTimes));
    assert!(
        tmp.keep_alive().is_ok(),
        "works again once the fault is gone"
    );
}

#[test]
fn cleanup_reports_what_it_could_not_remove() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    let (_a, stuck) = tmp.mkstemp().unwrap();
    let (_b, gone) = tmp.mkstemp().unwrap();
    fs.inject(
        Fault::new(FaultOp::RemoveFile, Errno::EIO)
            .on_path(stuck.as_str())
            .every(),
    );
    let report = tmp.cleanup();
    assert!(!fs.exists(&gone));
    assert!(fs.exists(&stuck), "the failed removal left the file");
    assert_eq!(report.removed, 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].op(), Some(Op::RemoveFile));
    assert!(!report.dir_removed && !report.is_complete());
}

#[test]
fn a_failed_rmdir_is_reported_not_raised() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.inject(Fault::new(FaultOp::RemoveDir, Errno::EACCES).first());
    let report = tmp.cleanup();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].op(), Some(Op::RemoveDir));
    assert!(!report.dir_removed);
    assert!(fs.exists(tmp.dir()), "put back at its name");
    assert_eq!(fs.read_dir("/tmp").unwrap().len(), 1, "nothing left aside");
    let retried = tmp.cleanup();
    assert!(retried.is_complete(), "{retried:?}");
    assert!(fs.read_dir("/tmp").unwrap().is_empty());
}

/// A refused rename leaves the directory where it is, and the next cleanup tries again.
#[test]
fn a_failed_rename_is_reported_and_retried() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    tmp.mkstemp().unwrap();
    fs.inject(Fault::new(FaultOp::RenameAt, Errno::EBUSY).first());
    let report = tmp.cleanup();
    assert_eq!(report.removed, 1);
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].op(), Some(Op::Rename));
    assert!(!report.dir_removed && fs.exists(tmp.dir()));
    assert!(tmp.cleanup().is_complete());
    assert!(fs.read_dir("/tmp").unwrap().is_empty());
}

#[test]
fn a_failed_listing_is_reported() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.write(tmp.dir().join("stray"), b"").unwrap();
    fs.inject(Fault::new(FaultOp::List, Errno::EIO).every());
    let report = tmp.cleanup();
    // The rmdir still refuses: what keeps the directory cannot be named, and that is said.
    assert_eq!(report.failures[0].op(), Some(Op::ReadDir), "{report:?}");
    assert!(report.untracked.is_empty());
    assert!(!report.dir_removed && fs.exists(tmp.dir().join("stray")));
    fs.clear_faults();
    fs.remove_file(tmp.dir().join("stray")).unwrap();
    assert!(tmp.cleanup().is_complete(), "retried once the entry went");
}

/// A cleanup that starts while another is removing files waits for it: when it returns,
/// nothing of the instance is left (it used to return "nothing to do" at once).
#[test]
fn concurrent_cleanups_run_one_after_the_other() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, mpsc};

    if cfg!(target_os = "wasi") {
        let h = MemoryHarness::new();
        return crate::harness::unsupported(
            &h,
            "concurrent_cleanups_run_one_after_the_other",
            "threads",
        );
    }

    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    for _ in 0..3 {
        tmp.mkstemp().unwrap();
    }
    // The first unlink of the first cleanup waits until the test lets it go on.
    let (entered, in_first) = mpsc::channel();
    let (go_on, release) = mpsc::channel::<()>();
    let release = Mutex::new(release);
    let held = AtomicBool::new(false);
    fs.set_hook(move |_, op| {
        if op.fault_op() == FaultOp::RemoveFile && !held.swap(true, Ordering::SeqCst) {
            entered.send(()).unwrap();
            let _ = release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
        }
    });
    let second_returned = AtomicBool::new(false);
    std::thread::scope(|s| {
        let first = s.spawn(|| tmp.cleanup());
        in_first.recv().unwrap();
        let second = s.spawn(|| {
            let report = tmp.cleanup();
            second_returned.store(true, Ordering::SeqCst);
            (report, fs.exists(tmp.dir()))
        });
        // Long enough for a second cleanup that does not wait to have returned.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !second_returned.load(Ordering::SeqCst),
            "a cleanup returned while another was still removing files"
        );
        go_on.send(()).unwrap();
        assert!(first.join().unwrap().is_complete());
        let (second, dir_left) = second.join().unwrap();
        assert_eq!((second.status, second.removed), (DirStatus::CleanedUp, 0));
        assert!(
            !dir_left,
            "the directory is gone when the second cleanup returns"
        );
    });
}

/// `untracked` lists only what nobody tracked: not a name left in place, not a name
/// whose unlink failed, in the first cleanup or in the one that retries.
#[test]
fn untracked_never_lists_a_tracked_name() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    let (_a, dir_at) = tmp.mkstemp().unwrap();
    let (_b, failing) = tmp.mkstemp().unwrap();
    let stray = tmp.dir().join("stray");
    fs.remove_file(&dir_at).unwrap();
    fs.create_dir(&dir_at).unwrap();
    fs.write(&stray, b"nobody's").unwrap();
    let name = failing.file_name().unwrap();
    fs.inject(
        Fault::new(FaultOp::RemoveFile, Errno::EIO)
            .on_path(name)
            .first(),
    );
    let first = tmp.cleanup();
    assert_eq!(first.left_in_place, vec![dir_at.clone()]);
    assert_eq!(first.failures.len(), 1);
    let stray = stray.into_std_path_buf();
    assert_eq!(first.untracked, vec![stray.clone()], "{first:?}");
    let second = tmp.cleanup();
    assert_eq!(
        (second.removed, second.failures.len()),
        (1, 0),
        "{second:?}"
    );
    assert_eq!(second.left_in_place, vec![dir_at.clone()]);
    assert_eq!(second.untracked, vec![stray], "{second:?}");
    assert!(!fs.exists(&failing) && fs.metadata(&dir_at).unwrap().is_dir());
}

#[test]
fn an_attacker_of_another_uid_cannot_enter_and_a_recreated_dir_is_refused() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    let attacker = fs.as_uid(1001);
    let err = attacker.write(tmp.dir().join("x"), b"x").unwrap_err();
    assert_eq!(
        err.kind(),
        io::ErrorKind::PermissionDenied,
        "0700 keeps them out"
    );
    // Reaped by root, recreated world-writable by the attacker.
    fs.as_uid(0).remove_dir(tmp.dir()).unwrap();
    attacker.create_dir_with_mode(tmp.dir(), 0o777).unwrap();
    assert_eq!(tmp.status(), DirStatus::Replaced);
    assert!(matches!(tmp.mkstemp(), Err(Error::Replaced { .. })));
    assert!(
        fs.read_dir(tmp.dir()).unwrap().is_empty(),
        "nothing landed in their directory"
    );
}

#[test]
fn builder_names_replay_with_the_seed() {
    let make = || {
        let fs = MemoryFs::with_seed(99);
        Builder::new()
            .prefix("duplicity-")
            .suffix("-tempdir")
            .build(MemoryBackend::new(&fs, "/tmp").unwrap())
            .unwrap()
            .dir()
            .to_owned()
    };
    assert_eq!(make(), make());
}

#[test]
fn a_seeded_run_replays_its_trace_exactly() {
    let run = || {
        let fs = MemoryFs::with_seed(77);
        let tmp = instance(&fs);
        for _ in 0..20 {
            tmp.mkstemp().unwrap();
            tmp.mktemp().unwrap();
        }
        tmp.keep_alive().unwrap();
        fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EIO).nth(7));
        let report = tmp.cleanup();
        (
            fs.trace(),
            report
                .failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
    };
    let (first, second) = (run(), run());
    assert!(first.0.len() > 80, "the trace records every operation");
    assert_eq!(first, second);
}

#[test]
fn cleanup_never_removes_a_directory_it_cannot_verify() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    // Ours moved away, an empty stranger's directory at our name, and the root unreadable.
    fs.rename(tmp.dir(), "/tmp/moved").unwrap();
    fs.create_dir(tmp.dir()).unwrap();
    fs.inject(Fault::new(FaultOp::RootEntry, Errno::EIO).every());
    let report = tmp.cleanup();
    assert!(!report.dir_removed, "{report:?}");
    assert_eq!(report.failures[0].op(), Some(Op::Stat));
    assert!(
        fs.metadata(tmp.dir()).unwrap().is_dir(),
        "the stranger's directory stays"
    );
    // Once the root can be read, the retry sees the replacement and still leaves it.
    fs.clear_faults();
    let retried = tmp.cleanup();
    assert_eq!(retried.status, DirStatus::Replaced);
    assert!(retried.failures.is_empty() && !retried.dir_removed);
    assert!(fs.metadata(tmp.dir()).unwrap().is_dir());
    assert_eq!(tmp.cleanup().status, DirStatus::CleanedUp);
}

/// A sandbox (seccomp, a container's policy) may refuse to let the process look at names
/// in the root: `EPERM` or `EACCES`, or `ENOSYS` from a filter older than the call. That
/// is no evidence of a reaper or an attacker: files still go through the handle, the
/// directory is `Intact`, cleanup removes every file, and only the directory, which cannot
/// be verified, waits for a retry.
#[test]
fn a_sandbox_refusing_lookups_in_the_root_is_no_false_alarm() {
    for errno in [Errno::EPERM, Errno::EACCES, Errno::ENOSYS] {
        let fs = MemoryFs::new();
        let tmp = instance(&fs);
        fs.inject(Fault::new(FaultOp::RootEntry, errno).every());
        let (mut file, path) = tmp.mkstemp().unwrap();
        file.write_all(b"data").unwrap();
        tmp.create("named").unwrap();
        assert_eq!(tmp.status(), DirStatus::Intact, "{errno}");
        tmp.keep_alive().unwrap();
        tmp.mktemp().unwrap();
        let report = tmp.cleanup();
        assert_eq!(report.status, DirStatus::Intact, "{errno}: {report:?}");
        // The mktemp name was never created: already gone.
        assert_eq!((report.removed, report.already_gone), (3, 1), "{report:?}");
        assert!(report.left_in_place.is_empty(), "{report:?}");
        assert!(
            report.failures.iter().all(|e| e.op() == Some(Op::Stat)),
            "{report:?}"
        );
        assert!(!fs.exists(&path) && !report.dir_removed);
        fs.clear_faults();
        let retried = tmp.cleanup();
        assert!(retried.is_complete(), "{errno}: {retried:?}");
        assert!(fs.read_dir("/tmp").unwrap().is_empty());
    }
}

/// Where the root cannot be looked at, a reap is still seen: a removed directory has no
/// links left, which the handle tells.
#[test]
fn a_reap_is_seen_through_the_handle_when_the_root_cannot_be_looked_at() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.inject(Fault::new(FaultOp::RootEntry, Errno::EPERM).every());
    fs.as_uid(0).remove_dir(tmp.dir()).unwrap();
    assert_eq!(tmp.status(), DirStatus::Reaped);
    assert!(matches!(tmp.mkstemp(), Err(Error::Reaped { .. })));
}

/// `/shared`: root's, 0777, no sticky bit; the library builds there only when told to.
fn shared_root(fs: &MemoryFs) -> Builder {
    let root = fs.as_uid(0);
    root.create_dir("/shared").unwrap();
    root.set_permissions("/shared", 0o777).unwrap();
    Builder::new().allow_unsafe_root(true)
}

fn unsafe_root(fs: &MemoryFs) -> TemporaryDirectory<MemoryBackend> {
    shared_root(fs)
        .build(MemoryBackend::new(fs, "/shared").unwrap())
        .unwrap()
}

/// Between the `mkdir` and the open, someone who may write to the root moves ours away
/// and puts a directory of theirs at the name. What was opened is checked: not ours, so
/// the instance is not made, and nothing of theirs is touched.
#[test]
fn a_directory_swapped_in_before_the_open_is_replaced_and_left_alone() {
    for their_mode in [0o755, 0o777] {
        let fs = MemoryFs::with_seed(3);
        let builder = shared_root(&fs);
        let swapped = Arc::new(Mutex::new(None));
        let seen = swapped.clone();
        fs.set_hook(move |fs, op| {
            let mut seen = seen.lock().unwrap();
            if op.fault_op() == FaultOp::OpenDir && seen.is_none() {
                let attacker = fs.as_uid(1001);
                let path = op.path();
                attacker.rename(&path, "/shared/moved-away").unwrap();
                attacker.create_dir(&path).unwrap();
                attacker.set_permissions(&path, their_mode).unwrap();
                attacker.write(path.join("theirs"), b"theirs").unwrap();
                *seen = Some(path);
            }
        });
        let err = builder
            .build(MemoryBackend::new(&fs, "/shared").unwrap())
            .unwrap_err();
        fs.clear_hook();
        let theirs = swapped.lock().unwrap().clone().expect("the hook ran");
        assert!(
            matches!(err, Error::Replaced { .. }),
            "{their_mode:o}: {err:?}"
        );
        let meta = fs.as_uid(0).symlink_metadata(&theirs).unwrap();
        assert_eq!((meta.uid, meta.mode), (1001, their_mode));
        assert_eq!(fs.as_uid(0).read(theirs.join("theirs")).unwrap(), b"theirs");
    }
}

/// The same swap, with a directory of theirs that we may not even open: it is not ours,
/// so it must not be changed or removed either.
#[test]
fn an_unreadable_directory_swapped_in_before_the_open_is_left_alone() {
    let fs = MemoryFs::with_seed(3);
    let builder = shared_root(&fs);
    let swapped = Arc::new(Mutex::new(None));
    let seen = swapped.clone();
    fs.set_hook(move |fs, op| {
        let mut seen = seen.lock().unwrap();
        if op.fault_op() == FaultOp::OpenDir && seen.is_none() {
            let attacker = fs.as_uid(1001);
            let path = op.path();
            attacker.remove_dir(&path).unwrap();
            attacker.create_dir(&path).unwrap();
            attacker.set_permissions(&path, 0o700).unwrap();
            *seen = Some(path);
        }
    });
    let made = builder.build(MemoryBackend::new(&fs, "/shared").unwrap());
    fs.clear_hook();
    let theirs = swapped.lock().unwrap().clone().expect("the hook ran");
    assert!(matches!(made, Err(Error::Replaced { .. })), "{made:?}");
    let meta = fs.as_uid(0).symlink_metadata(&theirs).unwrap();
    assert_eq!((meta.uid, meta.mode), (1001, 0o700), "theirs is untouched");
}

/// A hook that runs `act` once, right before the first backend operation `when` accepts.
fn once(
    fs: &MemoryFs,
    when: impl Fn(&BackendOp) -> bool + Send + 'static,
    act: impl FnOnce(&MemoryFs, &BackendOp) + Send + 'static,
) {
    let mut act = Some(act);
    fs.set_hook(move |fs, op| {
        if when(op)
            && let Some(act) = act.take()
        {
            act(fs, op);
        }
    });
}

/// Cleanup looked at the directory's name and found ours; before the rename, a reaper
/// removes it and someone who may write to the root makes theirs at the name. The rename
/// moves theirs aside, the look under the new name shows it is not ours, and it goes back.
#[test]
fn cleanup_racing_a_reaper_before_the_rename_puts_the_other_directory_back() {
    let fs = MemoryFs::with_seed(4);
    let tmp = unsafe_root(&fs);
    tmp.mkstemp().unwrap();
    let name = tmp.dir().file_name().unwrap().to_owned();
    once(
        &fs,
        move |op| op.fault_op() == FaultOp::RenameAt && op.name() == Some(name.as_str()),
        |fs, op| {
            fs.as_uid(0).remove_dir(op.path()).unwrap();
            let attacker = fs.as_uid(1001);
            attacker.create_dir(op.path()).unwrap();
            attacker.write(op.path().join("theirs"), b"theirs").unwrap();
        },
    );
    let report = tmp.cleanup();
    fs.clear_hook();
    assert_eq!(report.status, DirStatus::Replaced, "{report:?}");
    assert!(!report.dir_removed && report.removed == 1, "{report:?}");
    assert_eq!(fs.read(tmp.dir().join("theirs")).unwrap(), b"theirs");
    assert_eq!(fs.metadata(tmp.dir()).unwrap().uid, 1001);
    assert_eq!(
        fs.read_dir("/shared").unwrap(),
        vec![tmp.dir().file_name().unwrap().to_owned()],
        "nothing left aside"
    );
}

/// The same race in a sticky root such as `/tmp`: the rename of their directory is
/// refused, it stays where it is, untouched, and cleanup says at once that it is not ours.
#[test]
fn cleanup_racing_a_reaper_before_the_rename_in_a_sticky_root_touches_nothing() {
    let fs = MemoryFs::with_seed(4);
    let tmp = instance(&fs);
    tmp.mkstemp().unwrap();
    let name = tmp.dir().file_name().unwrap().to_owned();
    once(
        &fs,
        move |op| op.fault_op() == FaultOp::RenameAt && op.name() == Some(name.as_str()),
        |fs, op| {
            fs.as_uid(0).remove_dir(op.path()).unwrap();
            let attacker = fs.as_uid(1001);
            attacker.create_dir(op.path()).unwrap();
            attacker.write(op.path().join("theirs"), b"theirs").unwrap();
        },
    );
    let report = tmp.cleanup();
    fs.clear_hook();
    assert_eq!(report.status, DirStatus::Replaced, "{report:?}");
    assert!(
        !report.dir_removed && report.failures.is_empty(),
        "{report:?}"
    );
    assert_eq!(fs.read(tmp.dir().join("theirs")).unwrap(), b"theirs");
    assert_eq!(fs.metadata(tmp.dir()).unwrap().uid, 1001);
    let retried = tmp.cleanup();
    assert_eq!(
        retried.status,
        DirStatus::CleanedUp,
        "nothing left to try: {retried:?}"
    );
    assert!(!retried.dir_removed);
    let dir = tmp.dir().to_owned();
    drop(tmp);
    assert_eq!(
        fs.read(dir.join("theirs")).unwrap(),
        b"theirs",
        "the drop leaves it too"
    );
}

/// After the rename, a reaper removes ours under its new name (and someone makes a
/// directory at the old one): nothing is left to remove, and nothing of anyone else is.
#[test]
fn cleanup_racing_a_reaper_after_the_rename_removes_nothing_of_anyone_else() {
    let fs = MemoryFs::with_seed(5);
    let tmp = instance(&fs);
    tmp.mkstemp().unwrap();
    let dir = tmp.dir().to_owned();
    once(
        &fs,
        |op| {
            op.fault_op() == FaultOp::RootEntry
                && op.name().is_some_and(|n| n.starts_with(".tempdirs-rm-"))
        },
        move |fs, op| {
            fs.as_uid(0).remove_dir(op.path()).unwrap();
            let attacker = fs.as_uid(1001);
            attacker.create_dir(&dir).unwrap();
            attacker.write(dir.join("theirs"), b"theirs").unwrap();
        },
    );
    let report = tmp.cleanup();
    fs.clear_hook();
    assert_eq!(report.status, DirStatus::Reaped, "{report:?}");
    assert!(!report.dir_removed && report.removed == 1, "{report:?}");
    assert_eq!(fs.read(tmp.dir().join("theirs")).unwrap(), b"theirs");
    assert_eq!(
        fs.read_dir("/tmp").unwrap(),
        vec![tmp.dir().file_name().unwrap().to_owned()]
    );
    assert_eq!(tmp.cleanup().status, DirStatus::CleanedUp);
}

/// Between the look under the new name and the `rmdir`, a reaper removes ours and someone
/// else makes a directory at that name. In a sticky root the `rmdir` of theirs is refused,
/// and theirs stays.
#[test]
fn cleanup_racing_a_reaper_before_the_rmdir_leaves_the_other_directory() {
    let fs = MemoryFs::with_seed(6);
    let tmp = instance(&fs);
    tmp.mkstemp().unwrap();
    let taken = Arc::new(Mutex::new(None));
    let record = taken.clone();
    once(
        &fs,
        |op| op.fault_op() == FaultOp::RemoveDir,
        move |fs, op| {
            fs.as_uid(0).remove_dir(op.path()).unwrap();
            fs.as_uid(1001).create_dir(op.path()).unwrap();
            *record.lock().unwrap() = Some(op.path());
        },
    );
    let report = tmp.cleanup();
    fs.clear_hook();
    let theirs = taken.lock().unwrap().clone().expect("the hook ran");
    assert!(!report.dir_removed, "{report:?}");
    assert_eq!(fs.metadata(&theirs).unwrap().uid, 1001, "theirs stays");
    drop(tmp);
    assert_eq!(
        fs.metadata(&theirs).unwrap().uid,
        1001,
        "the drop leaves it too"
    );
}

/// Something mounted on a tracked name: the kernel refuses the unlink (`EBUSY`). The name
/// is left in place and reported as such, not as a failure; once unmounted, the next
/// cleanup finishes.
#[test]
fn a_name_with_something_mounted_on_it_is_left_in_place() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    let paths: Vec<_> = (0..10).map(|_| tmp.mkstemp().unwrap().1).collect();
    let name = paths[6].file_name().unwrap();
    fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EBUSY).on_path(name));
    let report = tmp.cleanup();
    assert_eq!(report.left_in_place, vec![paths[6].clone()], "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.removed, 9);
    fs.clear_faults();
    let retried = tmp.cleanup();
    assert!(retried.is_complete(), "{retried:?}");
    assert_eq!(retried.removed, 1);
}
