//! The real reapers (A2) on aged entries: systemd-tmpfiles skips our directory while the
//! instance holds its `flock` (D9); tmpreaper, which ignores locks, removes it, and the
//! instance then says `Reaped` and fails closed (D4, D8), and leaves alone a directory
//! another uid makes at its path afterwards (D7).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{DirStatus, Error};

use super::{
    ATTACKER, Bystander, Fixture, Tmp, exists, have, is_root, names, run, set_old_times, tree,
    unsupported,
};

const TMPFILES: &str = "/usr/bin/systemd-tmpfiles";

/// Where tmpreaper is, if it is installed.
fn tmpreaper() -> Option<&'static str> {
    ["/usr/sbin/tmpreaper", "/usr/bin/tmpreaper", "tmpreaper"]
        .into_iter()
        .find(|p| have(p))
}

/// An instance with a file it made and a `mktemp` name the caller created, all aged far
/// into the past; returns the instance and the two paths.
fn aged_instance(fx: &Fixture) -> (Tmp, Utf8PathBuf, Utf8PathBuf) {
    let tmp = fx.make();
    let (mut file, made) = tmp.mkstemp().unwrap();
    file.write_all(b"ours").unwrap();
    drop(file);
    let named = tmp.mktemp().unwrap();
    fs::write(&named, b"ours too").unwrap();
    for path in [&made, &named] {
        set_old_times(path);
    }
    // Last: the files' times do not move the directory's.
    set_old_times(tmp.dir());
    (tmp, made, named)
}

#[test]
fn systemd_tmpfiles_skips_our_locked_directory_while_the_instance_lives() {
    let case = "systemd_tmpfiles_skips_our_locked_directory_while_the_instance_lives";
    if !have(TMPFILES) {
        return unsupported(case, "no systemd-tmpfiles here");
    }
    let fx = Fixture::new();
    let (tmp, made, named) = aged_instance(&fx);
    // What the reaper must remove, to show that it ran: an old file, and an old file in a
    // directory nobody locks.
    let old = fx.root.join("old");
    fs::write(&old, b"old").unwrap();
    set_old_times(&old);
    let unlocked = fx.root.join("unlocked");
    fs::create_dir(&unlocked).unwrap();
    fs::write(unlocked.join("f"), b"old").unwrap();
    set_old_times(&unlocked.join("f"));
    set_old_times(&unlocked);
    // Ages by atime and mtime only: ctime cannot be set back.
    let conf = fx.base().join("tmpfiles.conf");
    fs::write(&conf, format!("e {} - - - amAM:1s\n", fx.root)).unwrap();
    let (ok, out) = run(Command::new(TMPFILES)
        .arg("--clean")
        .arg(conf.as_str())
        .env("SYSTEMD_LOG_LEVEL", "debug"));
    assert!(ok, "systemd-tmpfiles failed: {out}");
    assert!(!exists(&old), "the reaper ran: {out}");
    assert!(
        !exists(unlocked.join("f")),
        "it reaps what is not locked: {out}"
    );
    assert!(exists(tmp.dir()), "our directory survived: {out}");
    assert_eq!(fs::read(&made).unwrap(), b"ours", "{out}");
    assert_eq!(fs::read(&named).unwrap(), b"ours too", "{out}");
    assert_eq!(tmp.status(), DirStatus::Intact);
    let (_f, more) = tmp.mkstemp().unwrap();
    tmp.keep_alive().unwrap();
    let report = tmp.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert!(!exists(&more));
    let left: Vec<String> = names(&fx.root)
        .into_iter()
        .filter(|n| n != "unlocked")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Runs tmpreaper over `root` with an age of one second by mtime; `None` where it is not
/// installed.
fn reap(root: &Utf8Path) -> Option<String> {
    let tmpreaper = tmpreaper()?;
    let (ok, out) = run(Command::new(tmpreaper)
        .args(["--all", "--mtime", "1s"])
        .arg(root.as_str()));
    assert!(ok, "tmpreaper failed: {out}");
    Some(out)
}

/// Every call of a reaped (or replaced) instance fails closed with `expected`.
fn fails_closed(tmp: &Tmp, made: &Utf8Path, expected: DirStatus) {
    let gone = |r: Result<(), Error>| match expected {
        DirStatus::Reaped => matches!(r, Err(Error::Reaped { .. })),
        _ => matches!(r, Err(Error::Replaced { .. })),
    };
    assert_eq!(tmp.status(), expected);
    assert!(gone(tmp.mkstemp().map(drop)), "mkstemp");
    assert!(gone(tmp.create("c").map(drop)), "create");
    assert!(gone(tmp.mktemp().map(drop)), "mktemp");
    assert!(gone(tmp.open(made).map(drop)), "open");
    assert!(gone(tmp.keep_alive()), "keep_alive");
}

#[test]
fn tmpreaper_reaping_our_aged_directory_is_seen_and_every_call_fails_closed() {
    let case = "tmpreaper_reaping_our_aged_directory_is_seen_and_every_call_fails_closed";
    let fx = Fixture::new();
    let (tmp, made, named) = aged_instance(&fx);
    let Some(out) = reap(&fx.root) else {
        return unsupported(case, "no tmpreaper here");
    };
    assert!(!exists(tmp.dir()), "tmpreaper reaped the directory: {out}");
    fails_closed(&tmp, &made, DirStatus::Reaped);
    assert!(names(&fx.root).is_empty(), "nothing was made");
    let report = tmp.cleanup();
    assert_eq!(report.status, DirStatus::Reaped, "{report:?}");
    assert!(!report.dir_removed);
    assert_eq!((report.removed, report.already_gone), (2, 2), "{report:?}");
    assert!(!exists(&named));
    assert!(names(&fx.root).is_empty());
}

#[test]
fn a_directory_another_uid_makes_after_tmpreaper_is_never_written_or_removed() {
    let case = "a_directory_another_uid_makes_after_tmpreaper_is_never_written_or_removed";
    let fx = Fixture::new();
    // A shared root, as /tmp is: anyone may make entries, nobody may remove another's.
    fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o1777)).unwrap();
    let (tmp, made, _named) = aged_instance(&fx);
    let Some(out) = reap(&fx.root) else {
        return unsupported(case, "no tmpreaper here");
    };
    assert!(!exists(tmp.dir()), "tmpreaper reaped the directory: {out}");
    // The attacker makes a directory open to all at our path, holding their file and, at
    // the name we track, a symlink to a file they want written.
    let victim = Bystander::new(&fx.outside.join("victim"));
    let script = format!(
        "mkdir -m 0777 '{dir}' && echo theirs > '{dir}/theirs' && ln -s '{victim}' '{made}'",
        dir = tmp.dir(),
        victim = victim.path,
    );
    let mut attacker = if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={ATTACKER}"),
            &format!("--regid={ATTACKER}"),
            "--clear-groups",
            "sh",
        ]);
        cmd
    } else {
        unsupported(
            case,
            "acting as another uid needs root: the attacker is this uid",
        );
        Command::new("sh")
    };
    let (ok, out) = run(attacker.args(["-c", &script]));
    assert!(ok, "the attacker's commands: {out}");
    let theirs = tree(tmp.dir());
    let owner = fs::symlink_metadata(tmp.dir()).unwrap().uid();

    fails_closed(&tmp, &made, DirStatus::Replaced);
    // Through the handle: the name in our removed directory is already gone.
    tmp.remove(&made).unwrap();
    let report = tmp.cleanup();
    assert_eq!(report.status, DirStatus::Replaced, "{report:?}");
    assert!(!report.dir_removed);
    assert_eq!(
        tree(tmp.dir()),
        theirs,
        "nothing of ours in theirs, nothing of theirs gone"
    );
    assert_eq!(fs::symlink_metadata(tmp.dir()).unwrap().uid(), owner);
    victim.assert_unchanged();
    assert_eq!(
        names(&fx.root),
        vec![tmp.dir().file_name().unwrap().to_owned()]
    );
}
