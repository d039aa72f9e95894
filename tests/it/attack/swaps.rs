//! The directory and the root moved under the instance between any two of its calls
//! (`mkstemp`, `create`, `open`, `remove`, `keep_alive` and `mktemp`, `status`,
//! `cleanup`): renamed away, swapped for another directory, replaced by a symlink, and as
//! root bind-mounted over. Files go on through the handles (D4), never into what is at the
//! path now; what depends on the path says `Reaped` or `Replaced` (D8); cleanup removes
//! only what is ours (D6, D7), and says so when it cannot finish. Nothing outside our
//! directory changes, whatever the moment.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};

use camino::Utf8Path;
use tempdir_core::{DirStatus, Error};

use super::{
    ATTACKER, Bystander, Fixture, Mounted, bare, can_mount, case_path, inode, is_root, names, role,
    run_child_mounting, tree_without, unsupported,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Swap {
    DirRenamed,
    DirSwapped,
    DirSymlinked,
    RootRenamed,
    RootSwapped,
    RootSymlinked,
    DirBindMounted,
    RootBindMounted,
}

impl Swap {
    /// What the instance must see once it happened.
    fn status(self) -> DirStatus {
        match self {
            Swap::DirRenamed => DirStatus::Reaped,
            Swap::DirSwapped | Swap::DirSymlinked | Swap::DirBindMounted => DirStatus::Replaced,
            Swap::RootRenamed | Swap::RootSwapped | Swap::RootSymlinked | Swap::RootBindMounted => {
                DirStatus::Intact
            }
        }
    }
}

/// A directory at `path` that someone else made: another uid's where we are root, open to
/// all, with a file of theirs.
fn theirs_at(path: &Utf8Path) {
    fs::create_dir(path).unwrap();
    fs::write(path.join("theirs"), b"theirs").unwrap();
    if is_root() {
        for p in [path.to_owned(), path.join("theirs")] {
            std::os::unix::fs::lchown(&p, Some(ATTACKER), Some(ATTACKER)).unwrap();
        }
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o777)).unwrap();
}

/// Does `swap` to the instance's directory `dir` in `fx`; returns a mount to undo.
fn apply(swap: Swap, fx: &Fixture, dir: &Utf8Path) -> Option<Mounted> {
    let moved_dir = fx.base().join("moved-dir");
    let moved_root = fx.base().join("moved-root");
    let name = bare(dir);
    match swap {
        Swap::DirRenamed => fs::rename(dir, &moved_dir).unwrap(),
        Swap::DirSwapped => {
            fs::rename(dir, &moved_dir).unwrap();
            theirs_at(dir);
        }
        Swap::DirSymlinked => {
            fs::rename(dir, &moved_dir).unwrap();
            symlink(&fx.outside, dir).unwrap();
        }
        Swap::RootRenamed => fs::rename(&fx.root, &moved_root).unwrap(),
        Swap::RootSwapped => {
            fs::rename(&fx.root, &moved_root).unwrap();
            fs::create_dir(&fx.root).unwrap();
            // A look-alike of ours where the paths handed out lead.
            theirs_at(&fx.root.join(&name));
        }
        Swap::RootSymlinked => {
            fs::rename(&fx.root, &moved_root).unwrap();
            theirs_at(&fx.outside.join(&name));
            symlink(&fx.outside, &fx.root).unwrap();
        }
        Swap::DirBindMounted => {
            return Some(Mounted::new(&["--bind", fx.outside.as_str()], dir));
        }
        Swap::RootBindMounted => {
            theirs_at(&fx.outside.join(&name));
            return Some(Mounted::new(&["--bind", fx.outside.as_str()], &fx.root));
        }
    }
    None
}

/// Where our directory is after `swap` (once any mount is undone).
fn ours_after(swap: Swap, fx: &Fixture, dir: &Utf8Path) -> camino::Utf8PathBuf {
    match swap {
        Swap::DirRenamed | Swap::DirSwapped | Swap::DirSymlinked => fx.base().join("moved-dir"),
        Swap::RootRenamed | Swap::RootSwapped | Swap::RootSymlinked => {
            fx.base().join("moved-root").join(bare(dir))
        }
        Swap::DirBindMounted | Swap::RootBindMounted => dir.to_owned(),
    }
}

const STEPS: usize = 7;

/// The instance's calls in order, with `swap` made just before call `at`.
fn play_at(swap: Swap, at: usize) {
    let context = format!("{swap:?} before call {at}");
    let fx = Fixture::new();
    let tmp = fx.make();
    let dir = tmp.dir().to_owned();
    let ours = inode(&dir);
    let bystander = Bystander::new(&fx.outside.join("secret"));
    fs::create_dir(fx.outside.join("sub")).unwrap();
    fs::write(fx.outside.join("sub/inner"), b"theirs").unwrap();
    let mut mount = None;
    let mut before = None;
    let mut state = DirStatus::Intact;
    let mut made: Option<String> = None;
    let mut named = false;
    let expect = |state: DirStatus, r: Result<(), Error>, call: &str| match state {
        DirStatus::Intact => assert!(r.is_ok(), "{context}: {call}: {r:?}"),
        DirStatus::Reaped => {
            assert!(
                matches!(r, Err(Error::Reaped { .. })),
                "{context}: {call}: {r:?}"
            )
        }
        _ => assert!(
            matches!(r, Err(Error::Replaced { .. })),
            "{context}: {call}: {r:?}"
        ),
    };
    for step in 0..STEPS {
        if step == at {
            mount = apply(swap, &fx, &dir);
            before = Some(tree_without(fx.base(), Some(ours)));
            state = swap.status();
        }
        match step {
            // Files are made through the handle, whatever is at the path now.
            0 => {
                let (mut file, path) = tmp.mkstemp().expect(&context);
                file.write_all(b"ours").unwrap();
                assert_eq!(path.parent(), Some(dir.as_path()));
                made = Some(bare(&path));
            }
            1 => drop(tmp.create("created").expect(&context)),
            2 => drop(tmp.open(made.as_deref().unwrap()).expect(&context)),
            3 => tmp.remove("created").expect(&context),
            // What depends on the path refuses once it leads elsewhere.
            4 => {
                expect(state, tmp.keep_alive(), "keep_alive");
                let name = tmp.mktemp();
                named = name.is_ok();
                expect(state, name.map(drop), "mktemp");
            }
            5 => assert_eq!(tmp.status(), state, "{context}"),
            _ => {
                let report = tmp.cleanup();
                assert_eq!(report.status, state, "{context}: {report:?}");
                assert!(report.failures.is_empty(), "{context}: {report:?}");
                assert!(report.untracked.is_empty(), "{context}: {report:?}");
                let tracked = 1 + usize::from(named);
                assert_eq!(report.removed, tracked, "{context}: {report:?}");
                assert_eq!(
                    report.dir_removed,
                    state == DirStatus::Intact,
                    "{context}: {report:?}"
                );
            }
        }
    }
    let after = tree_without(fx.base(), Some(ours));
    assert_eq!(
        Some(after),
        before,
        "{context}: something outside ours changed"
    );
    drop(mount);
    bystander.assert_unchanged();
    let ours_now = ours_after(swap, &fx, &dir);
    if state == DirStatus::Intact {
        assert!(!super::exists(&ours_now), "{context}: removed");
    } else {
        // Not ours to remove by its path any more: left, empty, and the report said so.
        assert_eq!(inode(&ours_now), ours, "{context}");
        assert!(
            names(&ours_now).is_empty(),
            "{context}: every file unlinked"
        );
    }
}

fn play(swap: Swap) {
    for at in 0..STEPS {
        play_at(swap, at);
    }
}

#[test]
fn the_directory_renamed_away_between_any_two_calls_is_reaped_and_nothing_lands_elsewhere() {
    play(Swap::DirRenamed);
}

#[test]
fn the_directory_swapped_for_another_between_any_two_calls_is_replaced_and_left_alone() {
    play(Swap::DirSwapped);
}

#[test]
fn the_directory_replaced_by_a_symlink_between_any_two_calls_is_never_followed() {
    play(Swap::DirSymlinked);
}

#[test]
fn the_root_renamed_between_any_two_calls_changes_nothing_through_the_handles() {
    play(Swap::RootRenamed);
}

#[test]
fn the_root_swapped_for_another_between_any_two_calls_is_never_written() {
    play(Swap::RootSwapped);
}

#[test]
fn the_root_replaced_by_a_symlink_between_any_two_calls_is_never_followed() {
    play(Swap::RootSymlinked);
}

/// `swap` (a mount) at every step, in a child with a mount namespace of its own.
fn play_mounted(test: &str, case: &str, swap: Swap, child_role: &str) {
    if role().as_deref() == Some(child_role) {
        return play(swap);
    }
    if !can_mount() {
        return unsupported(case, "needs root and mount");
    }
    run_child_mounting(test, child_role);
}

#[test]
fn a_bind_mount_over_the_directory_between_any_two_calls_is_replaced_and_never_written() {
    play_mounted(
        case_path!(
            a_bind_mount_over_the_directory_between_any_two_calls_is_replaced_and_never_written
        ),
        "a_bind_mount_over_the_directory_between_any_two_calls_is_replaced_and_never_written",
        Swap::DirBindMounted,
        "bind-dir",
    );
}

#[test]
fn a_bind_mount_over_the_root_between_any_two_calls_is_never_written() {
    play_mounted(
        case_path!(a_bind_mount_over_the_root_between_any_two_calls_is_never_written),
        "a_bind_mount_over_the_root_between_any_two_calls_is_never_written",
        Swap::RootBindMounted,
        "bind-root",
    );
}
