//! Resource exhaustion (A3) at each step: no descriptor left (`EMFILE`, in a child whose
//! `RLIMIT_NOFILE` is lowered) and a full filesystem (`ENOSPC`, a small tmpfs, as root).
//! Each failing step is a typed `Io` error with the right kind, makes and tracks nothing,
//! and a later cleanup finishes (D10).

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::fd::OwnedFd;

use camino::Utf8Path;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Builder, DirStatus, Op, OpenRoot};

use super::{
    Fixture, Mounted, Tmp, assert_io, assert_io_errno, can_mount, case_path, names, role,
    run_child, run_child_mounting, unsupported,
};

/// Every descriptor this process may still open, held until released.
struct Hog(Vec<OwnedFd>);

impl Hog {
    /// Lowers the soft limit (this is a child process) and takes every descriptor left.
    fn new() -> Self {
        let limit = getrlimit(Resource::Nofile);
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(256),
                maximum: limit.maximum,
            },
        )
        .unwrap();
        let mut hog = Hog(Vec::new());
        hog.fill();
        hog
    }

    fn fill(&mut self) {
        loop {
            match rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
                Ok(fd) => self.0.push(fd),
                Err(Errno::MFILE) => return,
                Err(e) => panic!("open /dev/null: {e}"),
            }
        }
    }

    /// Gives back `n` descriptors.
    fn release(&mut self, n: usize) {
        for _ in 0..n {
            self.0.pop().expect("a descriptor to give back");
        }
    }
}

#[test]
fn emfile_at_construction_is_a_typed_error_and_leaves_nothing() {
    if role().as_deref() == Some("emfile-make") {
        let fx = Fixture::new();
        let mut hog = Hog::new();
        // No descriptor: the root cannot be opened.
        let err = Tmp::new_in(&fx.root).unwrap_err();
        assert_io_errno(&err, Op::OpenRoot, libc::EMFILE);
        // One: the root opens, the directory is made, its open fails and it is undone.
        hog.release(1);
        let backend = CapStdBackend::open_root(&fx.root).unwrap();
        let err = Builder::new().build(backend).unwrap_err();
        assert_io_errno(&err, Op::CreateDir, libc::EMFILE);
        assert!(names(&fx.root).is_empty(), "the new directory was removed");
        // Two: made.
        hog.release(1);
        let tmp = Tmp::new_in(&fx.root).unwrap();
        drop(hog);
        assert!(tmp.cleanup().is_complete());
        assert!(names(&fx.root).is_empty());
        return;
    }
    run_child(
        case_path!(emfile_at_construction_is_a_typed_error_and_leaves_nothing),
        "emfile-make",
    );
}

#[test]
fn emfile_at_each_operation_is_typed_tracks_nothing_and_a_later_cleanup_finishes() {
    if role().as_deref() == Some("emfile-ops") {
        let fx = Fixture::new();
        let tmp = fx.make();
        let (mut file, path) = tmp.mkstemp().unwrap();
        file.write_all(b"ours").unwrap();
        drop(file);
        let planted = tmp.dir().join("planted");
        fs::write(&planted, b"theirs").unwrap();
        let mut hog = Hog::new();
        let emfile = libc::EMFILE;
        assert_io_errno(&tmp.mkstemp().unwrap_err(), Op::CreateFile, emfile);
        assert_io_errno(&tmp.create("c").unwrap_err(), Op::CreateFile, emfile);
        assert_io_errno(&tmp.open(&path).unwrap_err(), Op::OpenFile, emfile);
        assert_eq!(tmp.tracked_count(), 1, "nothing failed was tracked");
        assert!(!tmp.is_tracked("c"));
        assert_eq!(tmp.status(), DirStatus::Intact);
        tmp.keep_alive().unwrap();
        let named = tmp.mktemp().unwrap();
        // Unlinks need no descriptor; telling what kept the directory does.
        let report = tmp.cleanup();
        assert_eq!(report.removed, 2, "{report:?}");
        assert!(
            !report.dir_removed && report.untracked.is_empty(),
            "{report:?}"
        );
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_io_errno(&report.failures[0], Op::ReadDir, emfile);
        assert!(!path.exists() && !named.exists());
        hog.release(hog.0.len());
        assert_eq!(fs::read(&planted).unwrap(), b"theirs");
        assert_eq!(names(tmp.dir()), vec!["planted".to_owned()]);
        fs::remove_file(&planted).unwrap();
        assert!(tmp.cleanup().is_complete(), "the later cleanup finishes");
        assert!(names(&fx.root).is_empty());
        return;
    }
    run_child(
        case_path!(emfile_at_each_operation_is_typed_tracks_nothing_and_a_later_cleanup_finishes),
        "emfile-ops",
    );
}

#[test]
fn cleanup_needs_no_descriptor_and_finishes_under_emfile() {
    if role().as_deref() == Some("emfile-cleanup") {
        let fx = Fixture::new();
        let tmp = fx.make();
        for _ in 0..3 {
            tmp.mkstemp().unwrap();
        }
        tmp.mktemp().unwrap();
        let hog = Hog::new();
        let report = tmp.cleanup();
        drop(hog);
        assert!(report.is_complete(), "{report:?}");
        assert_eq!((report.removed, report.already_gone), (4, 1));
        assert!(names(&fx.root).is_empty());
        return;
    }
    run_child(
        case_path!(cleanup_needs_no_descriptor_and_finishes_under_emfile),
        "emfile-cleanup",
    );
}

/// Fills the tmpfs at `fs` with empty files until no inode is left; returns their paths.
fn take_every_inode(fs: &Utf8Path) -> Vec<camino::Utf8PathBuf> {
    let mut fillers = Vec::new();
    for n in 0.. {
        let path = fs.join(format!("fill-{n}"));
        match fs::File::create_new(&path) {
            Ok(_) => fillers.push(path),
            Err(e) if e.kind() == ErrorKind::StorageFull => return fillers,
            Err(e) => panic!("filling {fs}: {e}"),
        }
    }
    unreachable!()
}

/// A tmpfs of 64 KiB and few inodes at `fixture/fs`, unmounted when dropped.
fn small_tmpfs(fx: &Fixture) -> (Mounted, camino::Utf8PathBuf) {
    let at = fx.dir("fs");
    let mount = Mounted::new(
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=64k,nr_inodes=16,mode=0755",
            "tmpfs",
        ],
        &at,
    );
    (mount, at)
}

#[test]
fn enospc_without_inodes_at_construction_and_creation_is_typed_and_makes_nothing() {
    if role().as_deref() == Some("enospc-inodes") {
        let fx = Fixture::new();
        let (mount, fs_root) = small_tmpfs(&fx);
        let mut fillers = take_every_inode(&fs_root);
        let full = ErrorKind::StorageFull;
        let listing = names(&fs_root);
        assert_io(&Tmp::new_in(&fs_root).unwrap_err(), Op::CreateDir, full);
        assert_eq!(names(&fs_root), listing, "nothing made");
        fs::remove_file(fillers.pop().unwrap()).unwrap();
        let tmp = Tmp::new_in(&fs_root).unwrap();
        assert_io(&tmp.mkstemp().unwrap_err(), Op::CreateFile, full);
        assert_io(&tmp.create("c").unwrap_err(), Op::CreateFile, full);
        assert_eq!(tmp.tracked_count(), 0);
        assert!(names(tmp.dir()).is_empty());
        assert_eq!(tmp.status(), DirStatus::Intact);
        tmp.keep_alive().unwrap();
        let named = tmp.mktemp().unwrap();
        fs::remove_file(fillers.pop().unwrap()).unwrap();
        tmp.create(&named).unwrap();
        let report = tmp.cleanup();
        assert!(report.is_complete(), "{report:?}");
        let left: Vec<String> = names(&fs_root);
        assert_eq!(
            left.len(),
            fillers.len(),
            "only the fillers are left: {left:?}"
        );
        drop(mount);
        return;
    }
    if !can_mount() {
        return unsupported(
            "enospc_without_inodes_at_construction_and_creation_is_typed_and_makes_nothing",
            "needs root and mount",
        );
    }
    run_child_mounting(
        case_path!(enospc_without_inodes_at_construction_and_creation_is_typed_and_makes_nothing),
        "enospc-inodes",
    );
}

#[test]
fn enospc_without_blocks_fails_the_write_not_the_instance() {
    if role().as_deref() == Some("enospc-blocks") {
        let fx = Fixture::new();
        let (mount, fs_root) = small_tmpfs(&fx);
        let tmp = Tmp::new_in(&fs_root).unwrap();
        let (mut file, path) = tmp.mkstemp().unwrap();
        let chunk = vec![7u8; 4096];
        let err = loop {
            if let Err(e) = file.write_all(&chunk) {
                break e;
            }
        };
        assert_eq!(err.kind(), ErrorKind::StorageFull);
        drop(file);
        // The filesystem is full; nothing the instance does needs a block.
        tmp.open(&path).unwrap();
        tmp.keep_alive().unwrap();
        assert_eq!(tmp.status(), DirStatus::Intact);
        let (_g, second) = tmp.mkstemp().unwrap();
        let report = tmp.cleanup();
        assert!(report.is_complete(), "{report:?}");
        assert!(!second.exists());
        assert!(names(&fs_root).is_empty());
        drop(mount);
        return;
    }
    if !can_mount() {
        return unsupported(
            "enospc_without_blocks_fails_the_write_not_the_instance",
            "needs root and mount",
        );
    }
    run_child_mounting(
        case_path!(enospc_without_blocks_fails_the_write_not_the_instance),
        "enospc-blocks",
    );
}
