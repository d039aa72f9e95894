//! The conformance suite on `MemoryBackend`, plus what only the in-memory filesystem can
//! show: predicted (planted) names and injected faults.

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
    fn read_dir(&self, path: &Utf8Path) -> Vec<String> {
        self.fs.read_dir(path).unwrap_or_default()
    }
    fn mode(&self, path: &Utf8Path) -> Option<u32> {
        Some(self.fs.symlink_metadata(path).expect("entry exists").mode & 0o7777)
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

use tempdir_core::{Builder, DirStatus, Op, TemporaryDirectory};
use tempdir_memory::{Errno, Fault, FaultOp};

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
    let mut planted = names[..2].to_vec();
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
fn mktemp_skips_a_planted_name() {
    let probe = MemoryFs::with_seed(11);
    let predicted = instance(&probe).mktemp().unwrap();
    let fs = MemoryFs::with_seed(11);
    let tmp = instance(&fs);
    fs.write(&predicted, b"planted").unwrap();
    let got = tmp.mktemp().unwrap();
    assert_ne!(got, predicted);
    assert!(!fs.exists(&got) && tmp.is_tracked(&got) && !tmp.is_tracked(&predicted));
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
fn directory_is_0700_and_files_0600_under_any_umask() {
    for umask in [0o000, 0o022, 0o077, 0o277, 0o777] {
        let fs = MemoryFs::new();
        fs.set_umask(umask);
        let tmp = instance(&fs);
        let (_f, path) = tmp.mkstemp().unwrap();
        assert_eq!(
            fs.metadata(tmp.dir()).unwrap().mode & 0o7777,
            0o700,
            "umask {umask:o}"
        );
        assert_eq!(
            fs.metadata(&path).unwrap().mode & 0o7777,
            0o600,
            "umask {umask:o}"
        );
    }
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
fn stat_failures_name_the_operation() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.inject(Fault::new(FaultOp::RootEntry, Errno::EIO).first());
    assert_eq!(tmp.mktemp().unwrap_err().op(), Some(Op::Stat));
    fs.inject(Fault::new(FaultOp::Entry, Errno::EIO).first());
    assert_eq!(tmp.mktemp().unwrap_err().op(), Some(Op::Stat));
    assert_eq!(tmp.tracked_count(), 0, "a failed mktemp tracks nothing");
    fs.inject(Fault::new(FaultOp::OpenFile, Errno::EMFILE).first());
    let (_f, path) = tmp.mkstemp().unwrap();
    assert_eq!(tmp.open(&path).unwrap_err().op(), Some(Op::OpenFile));
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
    assert!(fs.exists(tmp.dir()) && !report.dir_removed);
}

#[test]
fn a_failed_listing_is_reported() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    fs.write(tmp.dir().join("stray"), b"").unwrap();
    fs.inject(Fault::new(FaultOp::List, Errno::EIO).first());
    let report = tmp.cleanup();
    assert_eq!(report.failures[0].op(), Some(Op::ReadDir));
    assert!(report.untracked.is_empty());
}

#[test]
fn cleanup_reads_the_directory_once_instead_of_looking_at_each_name() {
    // The operations of one cleanup of `files` names, by name.
    let ops_of_cleanup = |files: usize| {
        let fs = MemoryFs::new();
        let tmp = instance(&fs);
        for _ in 0..files {
            tmp.mkstemp().unwrap();
        }
        fs.take_trace();
        assert!(tmp.cleanup().is_complete());
        let ops: Vec<String> = fs
            .take_trace()
            .iter()
            .map(|line| line.split(' ').nth(1).unwrap_or_default().to_owned())
            .collect();
        let count = |op: &str| ops.iter().filter(|o| *o == op).count();
        (count("scan"), count("entry"), count("remove_file"))
    };
    assert_eq!(ops_of_cleanup(20), (1, 0, 20), "many names: one listing");
    // For a few names a look at each costs less than opening and reading the directory.
    assert_eq!(ops_of_cleanup(3), (0, 3, 3), "a few names: a look at each");
}

/// A cleanup that starts while another is removing files waits for it: when it returns,
/// nothing of the instance is left (it used to return "nothing to do" at once).
#[test]
fn concurrent_cleanups_run_one_after_the_other() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, mpsc};
    use tempdir_memory::BackendOp;

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
        if matches!(op, BackendOp::RemoveFile { .. }) && !held.swap(true, Ordering::SeqCst) {
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
    let (_swapped_file, swapped) = tmp.mkstemp().unwrap();
    let (_failing_file, failing) = tmp.mkstemp().unwrap();
    let stray = tmp.dir().join("stray");
    fs.remove_file(&swapped).unwrap();
    fs.write(&swapped, b"not ours").unwrap();
    fs.write(&stray, b"nobody's").unwrap();
    let name = failing.file_name().unwrap();
    fs.inject(
        Fault::new(FaultOp::RemoveFile, Errno::EIO)
            .on_path(name)
            .first(),
    );
    let first = tmp.cleanup();
    assert_eq!(first.left_in_place, vec![swapped.clone()]);
    assert_eq!(first.failures.len(), 1);
    assert_eq!(first.untracked, vec![stray.clone()], "{first:?}");
    let second = tmp.cleanup();
    assert_eq!(
        (second.removed, second.failures.len()),
        (1, 0),
        "{second:?}"
    );
    assert_eq!(second.untracked, vec![stray], "{second:?}");
    assert!(!fs.exists(&failing) && fs.exists(&swapped));
}

#[test]
fn a_failed_scan_falls_back_to_looking_at_each_name() {
    let fs = MemoryFs::new();
    let tmp = instance(&fs);
    let kept: Vec<_> = (0..9).map(|_| tmp.mkstemp().unwrap().1).collect();
    let (_swapped, swapped) = tmp.mkstemp().unwrap();
    fs.remove_file(&swapped).unwrap();
    fs.write(&swapped, b"not ours").unwrap();
    fs.inject(Fault::new(FaultOp::Scan, Errno::EIO).first());
    fs.take_trace();
    let report = tmp.cleanup();
    let looked: Vec<_> = fs
        .take_trace()
        .into_iter()
        .filter(|line| line.contains(" entry "))
        .collect();
    assert_eq!(looked.len(), 10, "each name looked at: {looked:?}");
    assert_eq!(report.removed, 9);
    assert_eq!(report.left_in_place, vec![swapped.clone()]);
    assert!(report.failures.is_empty(), "the listing is an optimisation");
    assert!(kept.iter().all(|p| !fs.exists(p)) && fs.exists(&swapped));
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

/// `MemoryBackend` as seen on filesystems it does not model: one whose listing gives no
/// types (`DT_UNKNOWN`), and one with something mounted on a tracked name, where a listing
/// shows the file underneath, a look at the name shows the mounted directory, and an
/// unlink is refused (`EBUSY`).
mod disguised {
    use std::io;
    use std::sync::Mutex;

    use camino::Utf8Path;
    use tempdir_core::{Backend, FileId, FileKind, Listed, Meta, TemporaryDirectory};
    use tempdir_memory::{MemoryBackend, MemoryDir, MemoryFile, MemoryFs};

    struct Disguised {
        inner: MemoryBackend,
        untyped: bool,
        /// The name something is mounted on.
        mounted: Mutex<Option<String>>,
    }

    impl Disguised {
        fn is_mounted(&self, name: &str) -> bool {
            self.mounted.lock().unwrap().as_deref() == Some(name)
        }
    }

    impl Backend for Disguised {
        type File = MemoryFile;
        type Dir = MemoryDir;

        fn root(&self) -> &Utf8Path {
            self.inner.root()
        }
        fn random(&self) -> u64 {
            self.inner.random()
        }
        fn make_dir(&self, name: &str) -> io::Result<(MemoryDir, FileId)> {
            self.inner.make_dir(name)
        }
        fn lock_shared(&self, dir: &MemoryDir) -> io::Result<()> {
            self.inner.lock_shared(dir)
        }
        fn dir_meta(&self, dir: &MemoryDir) -> io::Result<Meta> {
            self.inner.dir_meta(dir)
        }
        fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
            self.inner.root_entry(name)
        }
        fn remove_dir(&self, name: &str) -> io::Result<()> {
            self.inner.remove_dir(name)
        }
        fn create_file(&self, dir: &MemoryDir, name: &str) -> io::Result<(MemoryFile, FileId)> {
            self.inner.create_file(dir, name)
        }
        fn open_file(&self, dir: &MemoryDir, name: &str) -> io::Result<(MemoryFile, FileId)> {
            self.inner.open_file(dir, name)
        }
        fn entry(&self, dir: &MemoryDir, name: &str) -> io::Result<Option<Meta>> {
            if self.is_mounted(name) {
                let id = FileId {
                    dev: 99,
                    ino: 1,
                    birth: 0,
                };
                let (kind, nlink) = (FileKind::Dir, 2);
                return Ok(Some(Meta { id, kind, nlink }));
            }
            self.inner.entry(dir, name)
        }
        fn remove_file(&self, dir: &MemoryDir, name: &str) -> io::Result<()> {
            if self.is_mounted(name) {
                return Err(io::ErrorKind::ResourceBusy.into());
            }
            self.inner.remove_file(dir, name)
        }
        fn touch(&self, dir: &MemoryDir, name: Option<&str>) -> io::Result<()> {
            self.inner.touch(dir, name)
        }
        fn list(&self, dir: &MemoryDir) -> io::Result<Vec<String>> {
            self.inner.list(dir)
        }
        fn scan(&self, dir: &MemoryDir, visit: &mut dyn FnMut(&str, Listed)) -> io::Result<bool> {
            let untyped = self.untyped;
            self.inner.scan(dir, &mut |name, listed| {
                let kind = if untyped { None } else { listed.kind };
                visit(name, Listed::new(listed.ino, kind));
            })
        }
    }

    fn instance(fs: &MemoryFs, untyped: bool) -> TemporaryDirectory<Disguised> {
        let backend = Disguised {
            inner: MemoryBackend::new(fs, "/tmp").unwrap(),
            untyped,
            mounted: Mutex::new(None),
        };
        TemporaryDirectory::with_backend(backend).unwrap()
    }

    #[test]
    fn a_listing_without_types_is_completed_by_a_look_at_each_name() {
        let fs = MemoryFs::new();
        let tmp = instance(&fs, true);
        let (_open, paths): (Vec<_>, Vec<_>) = (0..10).map(|_| tmp.mkstemp().unwrap()).unzip();
        fs.remove_file(&paths[4]).unwrap();
        fs.symlink("/tmp", &paths[4]).unwrap();
        fs.take_trace();
        let report = tmp.cleanup();
        let trace = fs.take_trace();
        let count = |op: &str| trace.iter().filter(|l| l.contains(op)).count();
        assert_eq!((count(" scan "), count(" entry ")), (1, 10), "{trace:?}");
        assert_eq!(report.left_in_place, vec![paths[4].clone()]);
        assert_eq!((report.removed, report.failures.len()), (9, 0));
    }

    /// The listing says "our file" (what lies under the mount); the unlink is refused; a
    /// look at the name shows the mounted directory, which is left in place, not reported
    /// as a failure to retry.
    #[test]
    fn a_name_with_something_mounted_on_it_is_left_in_place() {
        let fs = MemoryFs::new();
        let tmp = instance(&fs, false);
        let (_open, paths): (Vec<_>, Vec<_>) = (0..10).map(|_| tmp.mkstemp().unwrap()).unzip();
        let name = paths[6].file_name().unwrap().to_owned();
        *tmp.backend().mounted.lock().unwrap() = Some(name);
        let report = tmp.cleanup();
        assert_eq!(report.left_in_place, vec![paths[6].clone()], "{report:?}");
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(report.removed, 9);
    }
}
