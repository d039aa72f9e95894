//! One conformance suite for every backend: each promise of the API that can be observed
//! from outside, checked through a [`Harness`].
//!
//! Provenance: the duplicity flow restates duplicity 3.2.1 `testing/unit/test_tempdir.py`
//! (`test_all`); the mode, uniqueness, collision, root and repeated-cleanup cases restate
//! the behaviour checked by CPython 3.11 `Lib/test/test_tempfile.py`. Written anew here.
//!
//! A backend proves itself with one line: `conformance!(MyHarness);`.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::sync::Barrier;
use std::time::Duration;

use camino::Utf8Path;
use tempdir_core::{Builder, DirStatus, Error, Op, RootProblem, TemporaryDirectory};

use crate::harness::{
    Harness, MOVED_DIR_PATH, OPEN_KEEPS_NAME, join, symlink_or_unsupported, unsupported,
};

/// Instantiates every case below for a harness, as `#[test]` functions.
#[macro_export]
macro_rules! conformance {
    ($harness:ty) => {
        $crate::conformance!(@cases $harness;
            duplicity_test_all_flow,
            dir_is_private_and_inside_root,
            instances_get_distinct_dirs,
            builder_prefix_and_suffix_name_the_dir,
            builder_refuses_bad_affixes_and_makes_nothing,
            missing_root_is_a_clear_error,
            file_as_root_is_a_clear_error,
            a_root_owned_by_another_uid_is_refused,
            a_root_others_may_write_without_the_sticky_bit_is_refused_and_left_empty,
            allow_unsafe_root_builds_in_a_root_others_may_write,
            a_sticky_root_others_may_write_is_accepted,
            status_starts_intact,
            mktemp_names_are_unique_inside_and_not_created,
            mktemp_name_is_created_safely_with_create,
            mktemp_file_made_by_the_caller_is_cleaned_up,
            mkstemp_makes_a_private_tracked_file,
            mkstemp_file_reads_writes_and_seeks,
            mkstemp_names_are_unique_across_threads,
            create_makes_a_private_tracked_file,
            create_refuses_a_taken_name_and_keeps_its_content,
            create_never_follows_a_planted_symlink,
            open_reopens_a_tracked_file,
            open_never_follows_a_symlink,
            open_refuses_what_is_not_a_regular_file_at_a_tracked_name,
            open_refuses_a_fifo_without_blocking,
            open_of_a_reaped_file_says_it_vanished,
            full_path_and_bare_name_are_the_same_name,
            names_outside_the_directory_are_refused,
            impossible_names_are_refused,
            forget_keeps_the_file_and_the_directory,
            forget_of_an_unknown_name_is_false,
            remove_unlinks_and_forgets,
            remove_refuses_untracked_names,
            remove_of_an_already_gone_file_forgets_it,
            remove_unlinks_a_symlink_at_a_tracked_name_not_its_target,
            remove_leaves_a_directory_at_a_tracked_name_and_keeps_tracking_it,
            remove_racing_create_of_the_same_name_loses_nothing,
            tracked_count_follows_every_operation,
            cleanup_removes_tracked_files_then_the_directory,
            cleanup_counts_files_already_gone,
            cleanup_is_idempotent,
            cleanup_keeps_the_directory_for_untracked_entries,
            cleanup_retries_a_directory_kept_by_an_untracked_entry,
            drop_retries_a_directory_kept_by_an_untracked_entry,
            cleanup_leaves_a_directory_at_a_tracked_name_and_retries_it,
            cleanup_unlinks_a_symlink_at_a_tracked_name_and_spares_its_target,
            cleanup_leaves_a_directory_at_a_mktemp_name,
            cleanup_of_many_names_removes_all_it_can_and_nothing_else,
            cleanup_racing_creators_leaves_nothing_behind,
            after_cleanup_nothing_is_handed_out,
            drop_cleans_up,
            reaped_directory_is_detected_and_fails_closed,
            replaced_directory_is_detected_and_left_alone,
            symlink_at_the_directory_name_is_replaced,
            directory_moved_away_still_receives_files_through_the_handle,
            reaper_removing_files_is_already_gone_at_cleanup,
            keep_alive_refreshes_directory_and_files,
            keep_alive_after_a_reap_is_an_error,
            shared_lock_is_held_for_the_instance_life,
            instance_is_send_and_sync,
        );
        $crate::conformance!(@named $harness;
            modes_are_exact_under_a_umask_that_takes_the_owners_bits,
        );
    };
    (@cases $harness:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::$case::<$harness>();
            }
        )*
    };
    // Cases that re-execute themselves in a child process need their own test path.
    (@named $harness:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::$case::<$harness>(concat!(
                    module_path!(),
                    "::",
                    stringify!($case)
                ));
            }
        )*
    };
}

/// The names of the entries directly in `dir`.
fn entries<H: Harness>(h: &H, dir: &Utf8Path) -> Vec<String> {
    h.read_dir(dir)
}

/// duplicity's `test_all`, through this API.
pub fn duplicity_test_all_flow<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let dir = td.dir().to_owned();

    // Two mktemp names differ.
    assert_ne!(td.mktemp().unwrap(), td.mktemp().unwrap());

    // mkstemp; the caller unlinks and forgets.
    let (file, path) = td.mkstemp().unwrap();
    drop(file);
    h.remove_file(&path).unwrap();
    assert!(td.forget(&path));

    // mkstemp_file, left to cleanup.
    let (mut fo, path2) = td.mkstemp_file().unwrap();
    fo.write_all(b"foo").unwrap();
    fo.flush().unwrap();
    drop(fo);
    assert_eq!(h.read(&path2).unwrap(), b"foo");

    let report = td.cleanup();
    assert!(report.dir_removed, "{report:?}");
    assert!(report.is_complete());
    assert!(!h.exists(&dir));
}

pub fn dir_is_private_and_inside_root<H: Harness>() {
    let h = H::new();
    let td = h.make();
    // A root, not a drive: the in-memory filesystem's paths are POSIX paths everywhere.
    assert!(td.dir().has_root());
    assert_eq!(td.dir().parent(), Some(h.root()));
    assert!(h.is_dir(td.dir()));
    let name = td.dir().file_name().unwrap();
    assert!(name.starts_with(tempdir_core::DEFAULT_PREFIX), "{name}");
    match h.mode(td.dir()) {
        Some(mode) => assert_eq!(mode, 0o700),
        None => unsupported(&h, "dir_is_private_and_inside_root", "modes"),
    }
}

pub fn instances_get_distinct_dirs<H: Harness>() {
    let h = H::new();
    let dirs: HashSet<_> = (0..20)
        .map(|_| h.make())
        .collect::<Vec<_>>()
        .iter()
        .map(|td| td.dir().to_owned())
        .collect();
    assert_eq!(dirs.len(), 20);
}

pub fn builder_prefix_and_suffix_name_the_dir<H: Harness>() {
    let h = H::new();
    let td = Builder::new()
        .prefix("duplicity-")
        .suffix("-tempdir")
        .build(h.backend())
        .unwrap();
    let name = td.dir().file_name().unwrap();
    assert!(
        name.starts_with("duplicity-") && name.ends_with("-tempdir"),
        "{name}"
    );
    assert_eq!(name.len(), "duplicity-".len() + 8 + "-tempdir".len());
}

pub fn builder_refuses_bad_affixes_and_makes_nothing<H: Harness>() {
    let h = H::new();
    let long = "p".repeat(250);
    for (prefix, suffix) in [
        ("a/b", ""),
        ("", "../x"),
        ("nul\0", ""),
        (long.as_str(), ""),
    ] {
        let err = Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .build(h.backend())
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidName { .. }),
            "{prefix:?}/{suffix:?}: {err:?}"
        );
    }
    assert_eq!(entries(&h, h.root()), Vec::<String>::new());
}

pub fn missing_root_is_a_clear_error<H: Harness>() {
    let h = H::new();
    let missing = join(h.root(), "missing");
    let err = h
        .backend_in(&missing)
        .and_then(TemporaryDirectory::with_backend)
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err:?}");
    assert!(!h.exists(&missing));
}

pub fn file_as_root_is_a_clear_error<H: Harness>() {
    let h = H::new();
    let file = join(h.root(), "a-file");
    h.write(&file, b"x").unwrap();
    let err = h
        .backend_in(&file)
        .and_then(TemporaryDirectory::with_backend)
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(h.read(&file).unwrap(), b"x");
    assert_eq!(entries(&h, h.root()), vec!["a-file"]);
}

/// The owner of a root can rename or remove anything in it, sticky bit or not.
pub fn a_root_owned_by_another_uid_is_refused<H: Harness>() {
    let h = H::new();
    let theirs = join(h.root(), "theirs");
    if !h.make_dir_owned_by(&theirs, 65534, 0o1777) {
        return unsupported(
            &h,
            "a_root_owned_by_another_uid_is_refused",
            "a directory of another uid needs root",
        );
    }
    let err = h
        .backend_in(&theirs)
        .and_then(TemporaryDirectory::with_backend)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsafeRoot {
                problem: RootProblem::NotOwned { owner: 65534 },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(entries(&h, &theirs), Vec::<String>::new());
    // Opted out of, it builds.
    let td = Builder::new()
        .allow_unsafe_root(true)
        .build(h.backend_in(&theirs).unwrap())
        .unwrap();
    assert_eq!(td.dir().parent(), Some(theirs.as_path()));
    td.mkstemp().unwrap();
    assert!(td.cleanup().is_complete());
}

pub fn a_root_others_may_write_without_the_sticky_bit_is_refused_and_left_empty<H: Harness>() {
    let h = H::new();
    let shared = join(h.root(), "shared");
    h.create_dir(&shared).unwrap();
    for mode in [0o777, 0o775, 0o757] {
        if !h.set_mode(&shared, mode) {
            return unsupported(
                &h,
                "a_root_others_may_write_without_the_sticky_bit_is_refused_and_left_empty",
                "modes",
            );
        }
        let err = h
            .backend_in(&shared)
            .and_then(TemporaryDirectory::with_backend)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnsafeRoot { problem: RootProblem::WritableNotSticky { mode: got }, .. }
                    if got == mode
            ),
            "mode {mode:o}: {err:?}"
        );
        assert_eq!(entries(&h, &shared), Vec::<String>::new(), "{mode:o}");
    }
}

pub fn allow_unsafe_root_builds_in_a_root_others_may_write<H: Harness>() {
    let h = H::new();
    let shared = join(h.root(), "shared");
    h.create_dir(&shared).unwrap();
    if !h.set_mode(&shared, 0o777) {
        return unsupported(
            &h,
            "allow_unsafe_root_builds_in_a_root_others_may_write",
            "modes",
        );
    }
    let td = Builder::new()
        .allow_unsafe_root(true)
        .build(h.backend_in(&shared).unwrap())
        .unwrap();
    assert_eq!(td.dir().parent(), Some(shared.as_path()));
    assert_eq!(h.mode(td.dir()), Some(0o700));
    let (_f, path) = td.mkstemp().unwrap();
    assert_eq!(h.mode(&path), Some(0o600));
    assert!(td.cleanup().is_complete());
    assert_eq!(entries(&h, &shared), Vec::<String>::new());
}

/// `/tmp` itself: others may write, and the sticky bit keeps them from our entries.
pub fn a_sticky_root_others_may_write_is_accepted<H: Harness>() {
    let h = H::new();
    let shared = join(h.root(), "sticky");
    h.create_dir(&shared).unwrap();
    if !h.set_mode(&shared, 0o1777) {
        return unsupported(&h, "a_sticky_root_others_may_write_is_accepted", "modes");
    }
    let td = TemporaryDirectory::with_backend(h.backend_in(&shared).unwrap()).unwrap();
    assert_eq!(td.status(), DirStatus::Intact);
    td.mkstemp().unwrap();
    assert!(td.cleanup().is_complete());
    assert_eq!(entries(&h, &shared), Vec::<String>::new());
}

/// A umask that takes the owner's own bits (0o400: no read, 0o777: nothing) leaves the
/// directory unopenable to a user who is not root until its mode is given back; 0o022 is
/// the control. The directory ends up exactly `0700` and every file exactly `0600`.
pub fn modes_are_exact_under_a_umask_that_takes_the_owners_bits<H: Harness>(test: &str) {
    for mask in [0o022, 0o077, 0o277, 0o400, 0o777] {
        let ran = H::with_umask(test, mask, |h| {
            let td = h.make();
            let (mut file, path) = td.mkstemp().unwrap();
            file.write_all(b"written").unwrap();
            let _named = td.create("named").unwrap();
            assert_eq!(h.mode(td.dir()), Some(0o700), "umask {mask:o}");
            assert_eq!(h.mode(&path), Some(0o600), "umask {mask:o}");
            assert_eq!(
                h.mode(&join(td.dir(), "named")),
                Some(0o600),
                "umask {mask:o}"
            );
            drop(file);
            let mut again = String::new();
            td.open(&path).unwrap().read_to_string(&mut again).unwrap();
            assert_eq!(again, "written", "umask {mask:o}");
            let report = td.cleanup();
            assert!(report.is_complete(), "umask {mask:o}: {report:?}");
        });
        if !ran {
            let h = H::new();
            return unsupported(
                &h,
                "modes_are_exact_under_a_umask_that_takes_the_owners_bits",
                "umask",
            );
        }
    }
}

pub fn status_starts_intact<H: Harness>() {
    let h = H::new();
    assert_eq!(h.make().status(), DirStatus::Intact);
}

pub fn mktemp_names_are_unique_inside_and_not_created<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let mut seen = HashSet::new();
    for _ in 0..500 {
        let path = td.mktemp().unwrap();
        assert_eq!(path.parent(), Some(td.dir()));
        assert!(path.file_name().unwrap().starts_with("mktemp-"));
        assert!(!h.exists(&path), "mktemp created {path}");
        assert!(td.is_tracked(&path));
        assert!(seen.insert(path));
    }
    assert_eq!(td.tracked_count(), 500);
    assert_eq!(entries(&h, td.dir()), Vec::<String>::new());
}

pub fn mktemp_name_is_created_safely_with_create<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "mktemp_name_is_created_safely_with_create",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let path = td.mktemp().unwrap();
    let mut file = td.create(&path).unwrap();
    file.write_all(b"data").unwrap();
    assert_eq!(h.read(&path).unwrap(), b"data");
    // A second create of the same name is refused.
    assert!(matches!(td.create(&path), Err(Error::AlreadyExists { .. })));
    let report = td.cleanup();
    assert_eq!(report.removed, 1);
    assert!(report.is_complete(), "{report:?}");
}

pub fn mktemp_file_made_by_the_caller_is_cleaned_up<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let path = td.mktemp().unwrap();
    h.write(&path, b"made by path").unwrap();
    let report = td.cleanup();
    assert_eq!((report.removed, report.already_gone), (1, 0));
    assert!(report.is_complete(), "{report:?}");
}

pub fn mkstemp_makes_a_private_tracked_file<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (_file, path) = td.mkstemp().unwrap();
    assert_eq!(path.parent(), Some(td.dir()));
    assert!(path.file_name().unwrap().starts_with("mkstemp-"));
    assert!(h.exists(&path) && !h.is_symlink(&path));
    assert!(td.is_tracked(&path));
    match h.mode(&path) {
        Some(mode) => assert_eq!(mode, 0o600),
        None => unsupported(&h, "mkstemp_makes_a_private_tracked_file", "modes"),
    }
}

pub fn mkstemp_file_reads_writes_and_seeks<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (mut file, path) = td.mkstemp().unwrap();
    file.write_all(b"hello world").unwrap();
    file.seek(SeekFrom::Start(6)).unwrap();
    let mut rest = String::new();
    file.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "world");

    let (mut buffered, path2) = td.mkstemp_file().unwrap();
    buffered.write_all(b"0123456789").unwrap();
    buffered.seek(SeekFrom::Start(2)).unwrap();
    let mut two = [0; 2];
    buffered.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"23");
    buffered.write_all(b"XY").unwrap();
    buffered.flush().unwrap();
    assert_eq!(h.read(&path2).unwrap(), b"0123XY6789");
    assert_eq!(h.read(&path).unwrap(), b"hello world");
}

pub fn mkstemp_names_are_unique_across_threads<H: Harness>() {
    let h = H::new();
    if cfg!(target_os = "wasi") {
        return unsupported(&h, "mkstemp_names_are_unique_across_threads", "threads");
    }
    let td = h.make();
    let barrier = Barrier::new(4);
    let names: Vec<_> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    (0..100)
                        .map(|_| td.mkstemp().unwrap().1)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let unique: HashSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 400);
    assert_eq!(td.tracked_count(), 400);
    assert_eq!(entries(&h, td.dir()).len(), 400);
    let report = td.cleanup();
    assert_eq!(report.removed, 400);
    assert!(report.is_complete());
}

pub fn create_makes_a_private_tracked_file<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let mut file = td.create("volume.1").unwrap();
    file.write_all(b"v1").unwrap();
    let path = join(td.dir(), "volume.1");
    assert_eq!(h.read(&path).unwrap(), b"v1");
    assert!(td.is_tracked("volume.1") && td.is_tracked(&path));
    match h.mode(&path) {
        Some(mode) => assert_eq!(mode, 0o600),
        None => unsupported(&h, "create_makes_a_private_tracked_file", "modes"),
    }
}

pub fn create_refuses_a_taken_name_and_keeps_its_content<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let planted = join(td.dir(), "planted");
    h.write(&planted, b"theirs").unwrap();
    let err = td.create("planted").unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    assert_eq!(h.read(&planted).unwrap(), b"theirs");
    assert!(!td.is_tracked("planted"));
}

pub fn create_never_follows_a_planted_symlink<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let outside = join(h.root(), "victim");
    h.write(&outside, b"precious").unwrap();
    if !symlink_or_unsupported(
        &h,
        "create_never_follows_a_planted_symlink",
        &outside,
        &join(td.dir(), "link"),
    ) {
        return;
    }
    assert!(matches!(
        td.create("link"),
        Err(Error::AlreadyExists { .. })
    ));
    // A dangling symlink is no different: its target is never created.
    let nowhere = join(h.root(), "nowhere");
    if !symlink_or_unsupported(
        &h,
        "create_never_follows_a_planted_symlink",
        &nowhere,
        &join(td.dir(), "dangling"),
    ) {
        return;
    }
    assert!(matches!(
        td.create("dangling"),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(!h.exists(&nowhere));
    assert_eq!(h.read(&outside).unwrap(), b"precious");
}

pub fn open_reopens_a_tracked_file<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (mut file, path) = td.mkstemp().unwrap();
    file.write_all(b"abc").unwrap();
    drop(file);
    let mut again = td.open(&path).unwrap();
    let mut text = String::new();
    again.read_to_string(&mut text).unwrap();
    assert_eq!(text, "abc");
    again.write_all(b"def").unwrap();
    assert_eq!(h.read(&path).unwrap(), b"abcdef");
}

pub fn open_never_follows_a_symlink<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let outside = join(h.root(), "victim");
    h.write(&outside, b"precious").unwrap();
    if !symlink_or_unsupported(
        &h,
        "open_never_follows_a_symlink",
        &outside,
        &join(td.dir(), "link"),
    ) {
        return;
    }
    let err = td.open("link").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(h.read(&outside).unwrap(), b"precious");
    assert!(td.open("missing").unwrap_err().io_kind() == Some(std::io::ErrorKind::NotFound));
}

/// A symlink or a directory at a tracked name is not the file that was made there: it is
/// neither opened nor followed.
pub fn open_refuses_what_is_not_a_regular_file_at_a_tracked_name<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let outside = join(h.root(), "victim");
    h.write(&outside, b"precious").unwrap();
    let (_f, linked) = td.mkstemp().unwrap();
    h.remove_file(&linked).unwrap();
    if !symlink_or_unsupported(
        &h,
        "open_refuses_what_is_not_a_regular_file_at_a_tracked_name",
        &outside,
        &linked,
    ) {
        return;
    }
    let err = td.open(&linked).unwrap_err();
    assert!(matches!(err, Error::Swapped { .. }), "symlink: {err:?}");
    let (_g, dir) = td.mkstemp().unwrap();
    h.remove_file(&dir).unwrap();
    h.create_dir(&dir).unwrap();
    let err = td.open(&dir).unwrap_err();
    assert!(matches!(err, Error::Swapped { .. }), "directory: {err:?}");
    assert_eq!(h.read(&outside).unwrap(), b"precious");
    assert!(td.is_tracked(&linked) && td.is_tracked(&dir));
}

/// Opening a FIFO for reading and writing could block until a peer comes: `open` opens
/// it without blocking and refuses it, whether it sits at a tracked name or not.
pub fn open_refuses_a_fifo_without_blocking<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (_f, tracked) = td.mkstemp().unwrap();
    h.remove_file(&tracked).unwrap();
    match h.mkfifo(&tracked) {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            return unsupported(&h, "open_refuses_a_fifo_without_blocking", "FIFOs");
        }
        made => made.unwrap(),
    }
    let untracked = join(td.dir(), "fifo");
    h.mkfifo(&untracked).unwrap();
    let (td, at_tracked, at_untracked) = within(Duration::from_secs(20), move || {
        let at_tracked = td.open(&tracked).map(drop);
        let at_untracked = td.open("fifo").map(drop);
        (td, at_tracked, at_untracked)
    });
    let err = at_tracked.unwrap_err();
    assert!(matches!(err, Error::Swapped { .. }), "tracked: {err:?}");
    let err = at_untracked.unwrap_err();
    assert_eq!(err.op(), Some(Op::OpenFile), "untracked: {err:?}");
    assert_eq!(err.io_kind(), Some(ErrorKind::InvalidInput), "{err:?}");
    // A FIFO is unlinked like any file; the untracked one keeps the directory.
    let report = td.cleanup();
    assert_eq!(report.removed, 1, "{report:?}");
    assert_eq!(report.untracked, vec![untracked.into_std_path_buf()]);
}

pub fn open_of_a_reaped_file_says_it_vanished<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "open_of_a_reaped_file_says_it_vanished",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let (_file, path) = td.mkstemp().unwrap();
    h.remove_file(&path).unwrap();
    assert!(matches!(td.open(&path), Err(Error::Vanished { .. })));
    // A name nobody handed out is just not found, and so is a mktemp name never created:
    // nothing this instance created vanished.
    assert_eq!(
        td.open("never-made").unwrap_err().io_kind(),
        Some(ErrorKind::NotFound)
    );
    let name = td.mktemp().unwrap();
    assert_eq!(
        td.open(&name).unwrap_err().io_kind(),
        Some(ErrorKind::NotFound)
    );
}

pub fn full_path_and_bare_name_are_the_same_name<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (_file, path) = td.mkstemp().unwrap();
    let bare = path.file_name().unwrap().to_owned();
    assert!(td.is_tracked(&path) && td.is_tracked(&bare));
    assert!(td.forget(&bare));
    assert!(!td.is_tracked(&path));
    assert!(!td.forget(&path));
}

pub fn names_outside_the_directory_are_refused<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let victim = join(h.root(), "victim");
    h.write(&victim, b"precious").unwrap();
    let other_dir = join(h.root(), "other");
    h.create_dir(&other_dir).unwrap();
    let outside: Vec<camino::Utf8PathBuf> = vec![
        "../victim".into(),
        victim.clone(),
        "a/b".into(),
        "..".into(),
        join(&other_dir, "x"),
        join(td.dir(), "a/b"),
        format!("{}/../victim", td.dir()).into(),
    ];
    for name in &outside {
        assert!(
            matches!(td.create(name), Err(Error::OutsideDirectory { .. })),
            "create {name}"
        );
        assert!(
            matches!(td.open(name), Err(Error::OutsideDirectory { .. })),
            "open {name}"
        );
        assert!(
            matches!(td.remove(name), Err(Error::OutsideDirectory { .. })),
            "remove {name}"
        );
        assert!(!td.is_tracked(name) && !td.forget(name));
    }
    assert_eq!(h.read(&victim).unwrap(), b"precious");
    assert_eq!(entries(&h, &other_dir), Vec::<String>::new());
    assert_eq!(entries(&h, td.dir()), Vec::<String>::new());
}

pub fn impossible_names_are_refused<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let long = "n".repeat(256);
    for name in ["", ".", "nul\0byte", long.as_str()] {
        assert!(
            matches!(td.create(name), Err(Error::InvalidName { .. })),
            "{name:?}"
        );
        assert!(
            matches!(td.open(name), Err(Error::InvalidName { .. })),
            "{name:?}"
        );
        assert!(
            matches!(td.remove(name), Err(Error::InvalidName { .. })),
            "{name:?}"
        );
    }
    // The longest legal name works.
    td.create("n".repeat(255)).unwrap();
    assert_eq!(td.tracked_count(), 1);
}

pub fn forget_keeps_the_file_and_the_directory<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (_file, kept) = td.mkstemp().unwrap();
    assert!(td.forget(&kept));
    let report = td.cleanup();
    assert!(h.exists(&kept));
    assert!(!report.dir_removed);
    assert_eq!(report.untracked, vec![kept.clone().into_std_path_buf()]);
    assert!(h.exists(td.dir()));
}

pub fn forget_of_an_unknown_name_is_false<H: Harness>() {
    let h = H::new();
    let td = h.make();
    assert!(!td.forget("never-handed-out"));
    assert!(!td.forget(""));
    assert_eq!(td.tracked_count(), 0);
}

pub fn remove_unlinks_and_forgets<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "remove_unlinks_and_forgets", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    let (_file, path) = td.mkstemp().unwrap();
    td.remove(&path).unwrap();
    assert!(!h.exists(&path) && !td.is_tracked(&path));
    assert!(matches!(td.remove(&path), Err(Error::NotTracked { .. })));
    assert!(td.cleanup().is_complete());
}

pub fn remove_refuses_untracked_names<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let theirs = join(td.dir(), "theirs");
    h.write(&theirs, b"x").unwrap();
    assert!(matches!(td.remove("theirs"), Err(Error::NotTracked { .. })));
    assert!(h.exists(&theirs));
}

pub fn remove_of_an_already_gone_file_forgets_it<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (_file, path) = td.mkstemp().unwrap();
    h.remove_file(&path).unwrap();
    td.remove(&path).unwrap();
    assert!(!td.is_tracked(&path));
    let mktemp = td.mktemp().unwrap();
    td.remove(&mktemp).unwrap();
    assert_eq!(td.tracked_count(), 0);
}

pub fn remove_unlinks_a_symlink_at_a_tracked_name_not_its_target<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let victim = join(h.root(), "victim");
    h.write(&victim, b"precious").unwrap();
    let (_f, path) = td.mkstemp().unwrap();
    h.remove_file(&path).unwrap();
    if !symlink_or_unsupported(
        &h,
        "remove_unlinks_a_symlink_at_a_tracked_name_not_its_target",
        &victim,
        &path,
    ) {
        return;
    }
    td.remove(&path).unwrap();
    assert!(!h.exists(&path) && !td.is_tracked(&path));
    assert_eq!(h.read(&victim).unwrap(), b"precious");
}

/// Never recursive: a directory at a tracked name stays, and so does its tracking, so
/// that a later cleanup tries it again.
pub fn remove_leaves_a_directory_at_a_tracked_name_and_keeps_tracking_it<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "remove_leaves_a_directory_at_a_tracked_name_and_keeps_tracking_it",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    h.remove_file(&path).unwrap();
    h.create_dir(&path).unwrap();
    h.write(&join(&path, "inner"), b"x").unwrap();
    let err = td.remove(&path).unwrap_err();
    assert_eq!(err.op(), Some(Op::RemoveFile), "{err:?}");
    if cfg!(target_os = "linux") {
        assert_eq!(err.io_kind(), Some(ErrorKind::IsADirectory), "{err:?}");
    }
    assert!(td.is_tracked(&path));
    assert!(h.exists(&join(&path, "inner")));

    // Refused in the middle of a run of names: tracked again, beside its neighbours.
    let made: Vec<_> = (0..3).map(|_| td.mkstemp().unwrap().1).collect();
    h.remove_file(&made[1]).unwrap();
    h.create_dir(&made[1]).unwrap();
    let err = td.remove(&made[1]).unwrap_err();
    assert_eq!(err.op(), Some(Op::RemoveFile), "{err:?}");
    assert_eq!(td.tracked_count(), 4);
    assert!(made.iter().all(|p| td.is_tracked(p)));
    td.remove(&made[2]).unwrap();
    td.remove(&made[0]).unwrap();
    assert_eq!(td.tracked_count(), 2);
    let report = td.cleanup();
    let mut left = report.left_in_place.clone();
    left.sort();
    let mut expected = vec![path.clone(), made[1].clone()];
    expected.sort();
    assert_eq!(left, expected, "{report:?}");
}

pub fn remove_racing_create_of_the_same_name_loses_nothing<H: Harness>() {
    let h = H::new();
    if cfg!(target_os = "wasi") {
        return unsupported(
            &h,
            "remove_racing_create_of_the_same_name_loses_nothing",
            "threads",
        );
    }
    let td = h.make();
    // A smoke test: the race window (between one thread's unlink and its forget) is too
    // narrow to hit on demand, but once hit the file would stay untracked for good.
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for _ in 0..3000 {
                match td.create("x") {
                    Ok(_) | Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => panic!("create: {e:?}"),
                }
            }
        });
        s.spawn(|| {
            start.wait();
            for _ in 0..3000 {
                match td.remove("x") {
                    Ok(()) | Err(Error::NotTracked { .. }) => {}
                    Err(e) => panic!("remove: {e:?}"),
                }
            }
        });
    });
    // Whatever is on disk is tracked: a remove never forgets a file created after it.
    let on_disk = h.exists(&join(td.dir(), "x"));
    assert!(!on_disk || td.is_tracked("x"), "x exists but is untracked");
    assert!(td.cleanup().is_complete());
}

pub fn tracked_count_follows_every_operation<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "tracked_count_follows_every_operation", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    assert_eq!(td.tracked_count(), 0);
    let a = td.mktemp().unwrap();
    let (_f, b) = td.mkstemp().unwrap();
    let _c = td.create("c").unwrap();
    assert_eq!(td.tracked_count(), 3);
    assert!(td.create("c").is_err());
    assert_eq!(td.tracked_count(), 3);
    td.forget(&a);
    td.remove(&b).unwrap();
    assert_eq!(td.tracked_count(), 1);
    assert!(td.cleanup().is_complete());
    assert_eq!(td.tracked_count(), 0);
}

pub fn cleanup_removes_tracked_files_then_the_directory<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let paths: Vec<_> = (0..10).map(|_| td.mkstemp().unwrap().1).collect();
    let report = td.cleanup();
    assert_eq!(report.removed, 10);
    assert_eq!(report.already_gone, 0);
    assert!(report.dir_removed && report.is_complete(), "{report:?}");
    assert_eq!(report.status, DirStatus::Intact);
    assert!(paths.iter().all(|p| !h.exists(p)));
    assert!(!h.exists(td.dir()));
    assert_eq!(entries(&h, h.root()), Vec::<String>::new());
}

pub fn cleanup_counts_files_already_gone<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "cleanup_counts_files_already_gone", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    let (_f, gone) = td.mkstemp().unwrap();
    let _kept = td.mkstemp().unwrap();
    h.remove_file(&gone).unwrap();
    let report = td.cleanup();
    assert_eq!((report.removed, report.already_gone), (2, 1));
    assert!(report.is_complete());
}

pub fn cleanup_is_idempotent<H: Harness>() {
    let h = H::new();
    let td = h.make();
    td.mkstemp().unwrap();
    assert!(td.cleanup().dir_removed);
    let again = td.cleanup();
    assert_eq!(again.status, DirStatus::CleanedUp);
    assert_eq!((again.removed, again.dir_removed), (0, false));
    assert!(again.failures.is_empty() && again.left_in_place.is_empty());
}

pub fn cleanup_keeps_the_directory_for_untracked_entries<H: Harness>() {
    let h = H::new();
    let td = h.make();
    td.mkstemp().unwrap();
    let stray = join(td.dir(), "stray");
    h.write(&stray, b"not tracked").unwrap();
    h.create_dir(&join(td.dir(), "subdir")).unwrap();
    let report = td.cleanup();
    assert_eq!(report.removed, 1);
    assert!(!report.dir_removed && !report.is_complete());
    assert_eq!(
        report.untracked,
        vec![
            stray.clone().into_std_path_buf(),
            join(td.dir(), "subdir").into_std_path_buf()
        ]
    );
    assert_eq!(h.read(&stray).unwrap(), b"not tracked");
    assert!(h.is_dir(&join(td.dir(), "subdir")));
}

/// What cleanup could not finish because of untracked entries is not given up on: once
/// they are gone, the next call removes the directory.
pub fn cleanup_retries_a_directory_kept_by_an_untracked_entry<H: Harness>() {
    let h = H::new();
    let td = h.make();
    td.mkstemp().unwrap();
    let stray = join(td.dir(), "stray");
    h.write(&stray, b"not tracked").unwrap();
    let first = td.cleanup();
    assert!(!first.dir_removed && first.removed == 1, "{first:?}");
    assert_eq!(first.untracked, vec![stray.clone().into_std_path_buf()]);
    assert!(
        matches!(td.mkstemp(), Err(Error::CleanedUp)),
        "spent all the same"
    );
    h.remove_file(&stray).unwrap();
    let second = td.cleanup();
    assert!(second.dir_removed && second.is_complete(), "{second:?}");
    assert_eq!((second.removed, second.status), (0, DirStatus::Intact));
    assert!(!h.exists(td.dir()));
    assert_eq!(td.cleanup().status, DirStatus::CleanedUp);
}

pub fn drop_retries_a_directory_kept_by_an_untracked_entry<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let dir = td.dir().to_owned();
    td.mkstemp().unwrap();
    let stray = join(&dir, "stray");
    h.write(&stray, b"not tracked").unwrap();
    assert!(!td.cleanup().dir_removed);
    h.remove_file(&stray).unwrap();
    drop(td);
    assert!(!h.exists(&dir));
    assert_eq!(entries(&h, h.root()), Vec::<String>::new());
}

/// Never recursive: a directory at a tracked name is left in place and reported, and the
/// next cleanup tries the name and the directory again.
pub fn cleanup_leaves_a_directory_at_a_tracked_name_and_retries_it<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "cleanup_leaves_a_directory_at_a_tracked_name_and_retries_it",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    let (_g, other) = td.mkstemp().unwrap();
    h.remove_file(&path).unwrap();
    h.create_dir(&path).unwrap();
    h.write(&join(&path, "inner"), b"x").unwrap();
    let first = td.cleanup();
    assert_eq!(first.left_in_place, vec![path.clone()], "{first:?}");
    assert_eq!(first.removed, 1, "{first:?}");
    assert!(first.untracked.is_empty(), "it is tracked: {first:?}");
    assert!(!first.dir_removed && !first.is_complete());
    assert!(h.exists(&join(&path, "inner")) && !h.exists(&other));
    h.remove_file(&join(&path, "inner")).unwrap();
    h.remove_dir(&path).unwrap();
    let second = td.cleanup();
    assert!(second.is_complete(), "{second:?}");
    assert_eq!((second.removed, second.already_gone), (1, 1));
    assert!(!h.exists(td.dir()));
}

/// Every way a name can change behind the instance's back, at once: what can be unlinked
/// is (a symlink itself, never its target), a directory stays, and nothing else is touched.
pub fn cleanup_of_many_names_removes_all_it_can_and_nothing_else<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let victim = join(h.root(), "victim");
    h.write(&victim, b"precious").unwrap();
    let files: Vec<_> = (0..12).map(|_| td.mkstemp().unwrap().1).collect();
    let (written, dir_at_mktemp) = (td.mktemp().unwrap(), td.mktemp().unwrap());
    h.write(&written, b"the caller's").unwrap();
    h.create_dir(&dir_at_mktemp).unwrap();
    h.remove_file(&files[0]).unwrap();
    h.write(&files[0], b"rewritten by the caller").unwrap();
    h.remove_file(&files[1]).unwrap();
    if !symlink_or_unsupported(
        &h,
        "cleanup_of_many_names_removes_all_it_can_and_nothing_else",
        &victim,
        &files[1],
    ) {
        return;
    }
    h.remove_file(&files[2]).unwrap();
    h.create_dir(&files[2]).unwrap();
    h.remove_file(&files[3]).unwrap();
    let report = td.cleanup();
    let mut left = report.left_in_place.clone();
    left.sort();
    let mut want = vec![files[2].clone(), dir_at_mktemp.clone()];
    want.sort();
    assert_eq!(left, want, "{report:?}");
    // files[3] already gone; the other eleven files and the caller's file removed.
    assert_eq!((report.removed, report.already_gone), (12, 1), "{report:?}");
    assert!(
        report.failures.is_empty() && !report.dir_removed,
        "{report:?}"
    );
    assert!(
        report.untracked.is_empty(),
        "all of it was tracked: {report:?}"
    );
    assert!(
        files
            .iter()
            .enumerate()
            .all(|(i, f)| i == 2 || !h.exists(f))
    );
    assert!(!h.exists(&written));
    assert!(h.is_dir(&files[2]) && h.is_dir(&dir_at_mktemp));
    assert_eq!(h.read(&victim).unwrap(), b"precious");
}

pub fn cleanup_unlinks_a_symlink_at_a_tracked_name_and_spares_its_target<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let victim = join(h.root(), "victim");
    h.write(&victim, b"precious").unwrap();
    let (_f, path) = td.mkstemp().unwrap();
    h.remove_file(&path).unwrap();
    if !symlink_or_unsupported(
        &h,
        "cleanup_unlinks_a_symlink_at_a_tracked_name_and_spares_its_target",
        &victim,
        &path,
    ) {
        return;
    }
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.removed, report.already_gone), (1, 0));
    assert!(!h.exists(&path) && !h.exists(td.dir()));
    assert_eq!(h.read(&victim).unwrap(), b"precious");
}

pub fn cleanup_leaves_a_directory_at_a_mktemp_name<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let path = td.mktemp().unwrap();
    h.create_dir(&path).unwrap();
    h.write(&join(&path, "inner"), b"x").unwrap();
    let report = td.cleanup();
    assert_eq!(report.left_in_place, vec![path.clone()]);
    assert!(h.exists(&join(&path, "inner")), "never recursive");
}

pub fn cleanup_racing_creators_leaves_nothing_behind<H: Harness>() {
    let h = H::new();
    if cfg!(target_os = "wasi") {
        return unsupported(
            &h,
            "cleanup_racing_creators_leaves_nothing_behind",
            "threads",
        );
    }
    let td = h.make();
    let barrier = Barrier::new(5);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                loop {
                    match td.mkstemp() {
                        Ok(_) => {}
                        Err(Error::CleanedUp) => break,
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
        barrier.wait();
        while td.tracked_count() < 50 {
            std::thread::yield_now();
        }
        let report = td.cleanup();
        assert!(report.is_complete(), "{report:?}");
    });
    assert_eq!(entries(&h, h.root()), Vec::<String>::new());
}

pub fn after_cleanup_nothing_is_handed_out<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "after_cleanup_nothing_is_handed_out", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    assert!(td.cleanup().is_complete());
    assert!(matches!(td.mktemp(), Err(Error::CleanedUp)));
    assert!(matches!(td.mkstemp(), Err(Error::CleanedUp)));
    assert!(matches!(td.mkstemp_file(), Err(Error::CleanedUp)));
    assert!(matches!(td.create("x"), Err(Error::CleanedUp)));
    assert!(matches!(td.open(&path), Err(Error::CleanedUp)));
    assert!(matches!(td.remove(&path), Err(Error::CleanedUp)));
    assert!(matches!(td.keep_alive(), Err(Error::CleanedUp)));
    assert_eq!(td.status(), DirStatus::CleanedUp);
    // Unlike duplicity, nothing lands in the root (or anywhere) after cleanup.
    assert_eq!(entries(&h, h.root()), Vec::<String>::new());
}

pub fn drop_cleans_up<H: Harness>() {
    let h = H::new();
    let (dir, path) = {
        let td = h.make();
        let (_f, path) = td.mkstemp().unwrap();
        (td.dir().to_owned(), path)
    };
    assert!(!h.exists(&path) && !h.exists(&dir));
}

/// The reaper removes our files and then our empty directory (tmpwatch's same-pass case).
fn reap<H: Harness>(h: &H, dir: &Utf8Path) {
    for name in h.read_dir(dir) {
        h.remove_file(&join(dir, &name)).unwrap();
    }
    h.remove_dir(dir).unwrap();
}

pub fn reaped_directory_is_detected_and_fails_closed<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "reaped_directory_is_detected_and_fails_closed",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    reap(&h, td.dir());
    assert_eq!(td.status(), DirStatus::Reaped);
    assert!(matches!(td.mktemp(), Err(Error::Reaped { .. })));
    assert!(matches!(td.mkstemp(), Err(Error::Reaped { .. })));
    assert!(matches!(td.create("x"), Err(Error::Reaped { .. })));
    assert!(matches!(td.keep_alive(), Err(Error::Reaped { .. })));
    assert!(!h.exists(td.dir()), "nothing recreated the directory");
    let report = td.cleanup();
    assert_eq!(report.status, DirStatus::Reaped);
    assert_eq!((report.removed, report.already_gone), (1, 1));
    assert!(!report.dir_removed && !h.exists(&path));
}

pub fn replaced_directory_is_detected_and_left_alone<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "replaced_directory_is_detected_and_left_alone",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    let name = path.file_name().unwrap().to_owned();
    reap(&h, td.dir());
    // Someone makes a directory at the same path, with a file at our tracked name.
    h.create_dir(td.dir()).unwrap();
    h.write(&path, b"theirs").unwrap();
    assert_eq!(td.status(), DirStatus::Replaced);
    assert!(matches!(td.mktemp(), Err(Error::Replaced { .. })));
    assert!(matches!(td.mkstemp(), Err(Error::Replaced { .. })));
    assert!(matches!(td.create("x"), Err(Error::Replaced { .. })));
    assert_eq!(entries(&h, td.dir()), vec![name]);
    let report = td.cleanup();
    assert_eq!(report.status, DirStatus::Replaced);
    assert!(!report.dir_removed);
    assert_eq!(
        h.read(&path).unwrap(),
        b"theirs",
        "the stranger's file is untouched"
    );
    assert!(h.is_dir(td.dir()), "the stranger's directory is untouched");
}

pub fn symlink_at_the_directory_name_is_replaced<H: Harness>() {
    let h = H::new();
    let td = h.make();
    reap(&h, td.dir());
    let elsewhere = join(h.root(), "elsewhere");
    h.create_dir(&elsewhere).unwrap();
    if !symlink_or_unsupported(
        &h,
        "symlink_at_the_directory_name_is_replaced",
        &elsewhere,
        td.dir(),
    ) {
        return;
    }
    assert_eq!(td.status(), DirStatus::Replaced);
    assert!(matches!(td.mkstemp(), Err(Error::Replaced { .. })));
    let report = td.cleanup();
    assert!(!report.dir_removed);
    assert!(h.is_symlink(td.dir()) && h.is_dir(&elsewhere));
    assert_eq!(entries(&h, &elsewhere), Vec::<String>::new());
}

/// Moving the directory is its owner's doing, not an attack: files still go through the
/// handle into the directory wherever it is now. Only what hands out a path (`mktemp`)
/// or protects the path (`keep_alive`) refuses, and `status` says why.
pub fn directory_moved_away_still_receives_files_through_the_handle<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "directory_moved_away_still_receives_files_through_the_handle",
            MOVED_DIR_PATH,
        );
    }
    let td = h.make();
    let moved = join(h.root(), "moved");
    h.rename(td.dir(), &moved).unwrap();
    h.create_dir(td.dir()).unwrap();
    assert_eq!(td.status(), DirStatus::Replaced);
    assert!(matches!(td.mktemp(), Err(Error::Replaced { .. })));
    assert!(matches!(td.keep_alive(), Err(Error::Replaced { .. })));
    let (mut file, path) = td.mkstemp().unwrap();
    file.write_all(b"through the handle").unwrap();
    let name = path.file_name().unwrap().to_owned();
    assert_eq!(h.read(&join(&moved, &name)).unwrap(), b"through the handle");
    td.create("x").unwrap();
    let mut want = vec![name, "x".to_owned()];
    want.sort();
    assert_eq!(entries(&h, &moved), want);
    assert_eq!(entries(&h, td.dir()), Vec::<String>::new());
    let report = td.cleanup();
    assert_eq!(report.removed, 2, "{report:?}");
    assert_eq!(report.status, DirStatus::Replaced);
    assert!(!report.dir_removed);
    assert_eq!(entries(&h, &moved), Vec::<String>::new());
    assert!(h.is_dir(td.dir()) && h.is_dir(&moved));
}

pub fn reaper_removing_files_is_already_gone_at_cleanup<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let paths: Vec<_> = (0..4).map(|_| td.mkstemp().unwrap().1).collect();
    for path in &paths[..2] {
        h.remove_file(path).unwrap();
    }
    let report = td.cleanup();
    assert_eq!((report.removed, report.already_gone), (4, 2));
    assert!(report.is_complete());
}

pub fn keep_alive_refreshes_directory_and_files<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    if !(h.age(&path) && h.age(td.dir())) {
        return unsupported(
            &h,
            "keep_alive_refreshes_directory_and_files",
            "setting times",
        );
    }
    let (old_a, old_m) = h.times(&path);
    let (old_da, old_dm) = h.times(td.dir());
    td.keep_alive().unwrap();
    let (a, m) = h.times(&path);
    let (da, dm) = h.times(td.dir());
    assert!(a > old_a && m > old_m, "file times refreshed");
    assert!(da > old_da && dm > old_dm, "directory times refreshed");
}

pub fn keep_alive_after_a_reap_is_an_error<H: Harness>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "keep_alive_after_a_reap_is_an_error", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    reap(&h, td.dir());
    assert!(matches!(td.keep_alive(), Err(Error::Reaped { .. })));
}

pub fn shared_lock_is_held_for_the_instance_life<H: Harness>() {
    let h = H::new();
    let td = h.make();
    let dir = td.dir().to_owned();
    let Some(blocked) = h.exclusive_lock_blocked(&dir) else {
        return unsupported(&h, "shared_lock_is_held_for_the_instance_life", "flock");
    };
    assert!(
        blocked,
        "systemd-tmpfiles' LOCK_EX|LOCK_NB must fail while the instance lives"
    );
    // An untracked entry keeps the directory through cleanup and the drop, so that the
    // lock can be tried after the instance is gone.
    h.write(&join(&dir, "stay"), b"").unwrap();
    assert!(!td.cleanup().dir_removed);
    assert_eq!(
        h.exclusive_lock_blocked(&dir),
        Some(true),
        "held while a retry is pending"
    );
    drop(td);
    assert_eq!(h.exclusive_lock_blocked(&dir), Some(false));
}

pub fn instance_is_send_and_sync<H: Harness>() {
    fn check<T: Send + Sync>() {}
    check::<TemporaryDirectory<H::B>>();
}

/// Runs `f` on another thread and returns what it returns, failing the test if it has not
/// returned within `limit` (a call that blocks forever would hang the whole run).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    if cfg!(target_os = "wasi") {
        return f();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|e| panic!("no answer within {limit:?}: {e}"))
}
