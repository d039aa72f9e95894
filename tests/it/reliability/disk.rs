//! The reliability cases on `CapStdBackend` in real directories, the differential test of
//! the memory backend against it, and what only a real process shows: a non-UTF-8
//! `TMPDIR`, non-UTF-8 entry names, and a child process's names against its parent's.
//!
//! Both process cases re-execute this test binary with an environment variable instead of
//! changing the environment in-process or forking: `std::env::set_var` is `unsafe` in
//! edition 2024 and `fork` needs `unsafe` too, both forbidden here (`unsafe_code =
//! "forbid"`); a child process also keeps the environment change from leaking into
//! tests running in parallel, so no `serial_test` is needed.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Error, TemporaryDirectory};

use super::Extra;
use crate::disk::{DiskAt, DiskHarness, Place};
use crate::harness::{CHILD, Harness};
use crate::memory::MemoryHarness;

impl<P: Place> Extra for DiskAt<P> {
    fn read_link(&self, path: &Utf8Path) -> Option<Utf8PathBuf> {
        fs::read_link(path)
            .ok()
            .and_then(|p| Utf8PathBuf::try_from(p).ok())
    }
    fn make_unwritable_dir(&self, path: &Utf8Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        if rustix::process::geteuid().is_root() {
            return false;
        }
        fs::create_dir(path).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o555)).unwrap();
        true
    }
    fn make_writable(&self, path: &Utf8Path) {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o755));
    }
}

crate::reliability!(DiskHarness);

#[test]
fn differential_memory_against_cap_std() {
    super::differential::same_observations(MemoryHarness::new, DiskHarness::new);
}

/// The reliability cases and the differential test where cleanup reads the directory.
#[cfg(target_os = "linux")]
mod tmpfs {
    use crate::disk::TmpfsHarness;
    use crate::harness::Harness;
    use crate::memory::MemoryHarness;

    crate::reliability!(TmpfsHarness);

    #[test]
    fn differential_memory_against_cap_std() {
        crate::reliability::differential::same_observations(MemoryHarness::new, TmpfsHarness::new);
    }
}

/// Re-runs one test of this module in a child process with `envs` set; returns stdout.
fn run_child(test: &str, envs: &[(&str, &OsStr)]) -> String {
    crate::harness::run_child(&format!("{}::{test}", module_path!()), envs)
}

#[test]
fn a_non_utf8_tmpdir_is_a_clear_error_and_leaves_nothing() {
    if std::env::var_os(CHILD).is_some_and(|v| v == "non-utf8-tmpdir") {
        let err = TemporaryDirectory::<CapStdBackend>::new().unwrap_err();
        assert!(matches!(err, Error::NonUtf8Path { .. }), "{err:?}");
        println!("child-ok");
        return;
    }
    let h = DiskHarness::new();
    let odd = h
        .root()
        .as_std_path()
        .join(OsStr::from_bytes(b"tmp-\xff\xfe"));
    fs::create_dir(&odd).unwrap();
    let out = run_child(
        "a_non_utf8_tmpdir_is_a_clear_error_and_leaves_nothing",
        &[
            (CHILD, OsStr::new("non-utf8-tmpdir")),
            ("TMPDIR", odd.as_os_str()),
        ],
    );
    assert!(out.contains("child-ok"), "{out}");
    assert_eq!(
        fs::read_dir(&odd).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[test]
fn non_utf8_entry_names_planted_inside_are_reported_not_fatal() {
    let h = DiskHarness::new();
    let td = h.make();
    let (_f, ours) = td.mkstemp().unwrap();
    let planted = td
        .dir()
        .as_std_path()
        .join(OsStr::from_bytes(b"planted-\xff"));
    fs::write(&planted, b"theirs").unwrap();
    let report = td.cleanup();
    assert!(!h.exists(&ours));
    assert!(
        !report.dir_removed,
        "an untracked entry keeps the directory"
    );
    assert_eq!(report.untracked, vec![planted.clone()], "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(fs::read(&planted).unwrap(), b"theirs");
}

/// The 8-character random part of one of our names (`prefix-XXXXXXXX…`).
fn random_part(name: &str) -> String {
    let (_, rest) = name.split_once('-').expect("kind-random");
    rest.chars().take(8).collect()
}

/// Instances and `mkstemp` names in one shared root, from this process and from a child:
/// no random part is ever the same. (A re-executed child is a fresh process with fresh
/// `RandomState` keys; a forked one would share them, and the core mixes the process id
/// into every instance's key for that case.)
#[test]
fn a_child_process_never_repeats_the_parents_names() {
    const DIRS: usize = 40;
    const FILES: usize = 10;
    let names_here = |root: &Utf8Path| {
        let mut names = Vec::new();
        let instances: Vec<_> = (0..DIRS)
            .map(|_| TemporaryDirectory::<CapStdBackend>::new_in(root).unwrap())
            .collect();
        for td in &instances {
            names.push(td.dir().file_name().unwrap().to_owned());
            for _ in 0..FILES {
                let (_f, p) = td.mkstemp().unwrap();
                names.push(p.file_name().unwrap().to_owned());
            }
        }
        names
    };
    if let Some(root) = std::env::var_os(CHILD).and_then(|v| {
        v.to_str()
            .and_then(|v| v.strip_prefix("names:"))
            .map(Utf8PathBuf::from)
    }) {
        for name in names_here(&root) {
            println!("\n@@name {name}");
        }
        return;
    }
    let h = DiskHarness::new();
    let parent = names_here(h.root());
    let value = format!("names:{}", h.root());
    let out = run_child(
        "a_child_process_never_repeats_the_parents_names",
        &[(CHILD, OsStr::new(&value))],
    );
    let child: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("@@name "))
        .map(str::to_owned)
        .collect();
    assert_eq!(child.len(), DIRS * (FILES + 1), "{out}");
    let mut seen = HashSet::new();
    for name in parent.iter().chain(&child) {
        assert!(
            seen.insert(random_part(name)),
            "random part of {name} repeated"
        );
    }
    assert!(h.read_dir(h.root()).is_empty(), "both sides cleaned up");
    println!(
        "re-exec: {} parent and {} child names, no random part repeated",
        parent.len(),
        child.len()
    );
}
