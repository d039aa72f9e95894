//! The reaper models against the facts of REAPERS.md, and the simulator's determinism.

use std::time::Duration;

use camino::Utf8Path;
use tempdir_memory::MemoryFs;

use super::env::MemReaper;
use super::reaper::{Reaper, glob_match};
use super::*;

const DAY: Duration = Duration::from_secs(86_400);

/// `/tmp/d/f` made by uid 1000 at the start.
fn tree() -> MemoryFs {
    let fs = MemoryFs::with_seed(3);
    fs.create_dir_with_mode("/tmp/d", 0o700).unwrap();
    fs.write("/tmp/d/f", b"data").unwrap();
    fs
}

/// The reaper's view: root, reading directories with `O_NOATIME` where it does.
fn view(fs: &MemoryFs, reaper: &Reaper) -> MemReaper {
    MemReaper(fs.as_uid(0).with_noatime(reaper.noatime()))
}

fn pass(reaper: &Reaper, fs: &MemoryFs) -> Vec<String> {
    reaper
        .run(&view(fs, reaper), Utf8Path::new("/tmp"), &mut |_| {})
        .removed
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect()
}

#[test]
fn young_entries_stay_old_ones_go_with_their_empty_directory() {
    for reaper in Reaper::all(Utf8Path::new("/tmp")) {
        let fs = tree();
        fs.advance_clock(DAY);
        assert!(pass(&reaper, &fs).is_empty(), "{}", reaper.name());
        fs.advance_clock(10 * DAY);
        // Same pass: the file, then the directory it emptied.
        assert_eq!(
            pass(&reaper, &fs),
            ["/tmp/d/f", "/tmp/d"],
            "{}",
            reaper.name()
        );
    }
}

#[test]
fn tmpwatch_takes_the_newest_time_systemd_wants_every_time_old() {
    let root = Utf8Path::new("/tmp");
    // Old mtime and atime, fresh ctime (as `tar` leaves a file).
    let fs = tree();
    fs.advance_clock(20 * DAY);
    let then = fs.now() - 15 * DAY;
    fs.set_times("/tmp/d/f", then, then).unwrap();
    fs.set_times("/tmp/d", then, then).unwrap();
    // tmpwatch -umc: ctime is the newest, so the file stays (and so its directory).
    assert!(pass(&Reaper::tmpwatch(root), &fs).is_empty());
    // tmpwatch -m: mtime alone is old.
    let removed = pass(&Reaper::tmpwatch(root).by_mtime_only(), &fs);
    assert_eq!(removed, ["/tmp/d/f", "/tmp/d"]);

    // systemd-tmpfiles: atime, mtime and btime old but ctime fresh: kept.
    let fs = tree();
    fs.advance_clock(20 * DAY);
    let then = fs.now() - 15 * DAY;
    fs.set_times("/tmp/d/f", then, then).unwrap();
    assert!(
        !pass(&Reaper::systemd_tmpfiles(root), &fs).contains(&"/tmp/d/f".to_owned()),
        "every timestamp must be old"
    );
}

#[test]
fn directory_times_are_restored_after_cleaning() {
    let root = Utf8Path::new("/tmp");
    for reaper in [Reaper::tmpwatch(root), Reaper::systemd_tmpfiles(root)] {
        let fs = tree();
        fs.write("/tmp/d/young", b"x").unwrap();
        fs.advance_clock(11 * DAY);
        fs.write("/tmp/d/young", b"y").unwrap();
        let before = fs.symlink_metadata("/tmp/d").unwrap();
        let removed = pass(&reaper, &fs);
        assert_eq!(removed, ["/tmp/d/f"], "{}", reaper.name());
        let after = fs.symlink_metadata("/tmp/d").unwrap();
        assert_eq!(
            (after.atime, after.mtime),
            (before.atime, before.mtime),
            "{} restores the directory's times",
            reaper.name()
        );
    }
}

#[test]
fn systemd_skips_a_flocked_subtree_and_the_others_do_not() {
    use tempdir_core::TemporaryDirectory;
    use tempdir_memory::MemoryBackend;
    let root = Utf8Path::new("/tmp");
    for reaper in Reaper::all(root) {
        let fs = MemoryFs::with_seed(4);
        let tmp =
            TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap();
        let (_file, path) = tmp.mkstemp().unwrap();
        fs.advance_clock(11 * DAY);
        let log = reaper.run(&view(&fs, &reaper), root, &mut |_| {});
        if reaper.honours_flock() {
            assert!(log.removed.is_empty());
            assert_eq!(log.skipped_locked, [tmp.dir().to_owned()]);
            assert!(fs.exists(&path));
        } else {
            assert_eq!(
                log.removed.len(),
                2,
                "{}: file and directory",
                reaper.name()
            );
        }
    }
}

#[test]
fn exclusions_and_protections_hold() {
    let root = Utf8Path::new("/tmp");
    let fs = MemoryFs::with_seed(5);
    fs.create_dir_with_mode("/tmp/.X11-unix", 0o777).unwrap();
    fs.write("/tmp/.X11-unix/X0", b"").unwrap();
    fs.write("/tmp/hsperfdata_1", b"").unwrap();
    fs.write("/tmp/aquota.user", b"").unwrap();
    fs.create_dir_with_mode("/tmp/systemd-private-1", 0o700)
        .unwrap();
    fs.write("/tmp/plain", b"").unwrap();
    fs.advance_clock(30 * DAY);
    // tmpwatch -x /tmp/.X11-unix -X '/tmp/hsperfdata_*'.
    let mut removed = pass(&Reaper::tmpwatch(root), &fs);
    removed.sort();
    assert_eq!(
        removed,
        ["/tmp/aquota.user", "/tmp/plain", "/tmp/systemd-private-1"]
    );
}

#[test]
fn tmpreaper_protect_is_expanded_once_and_symlinks_need_the_flag() {
    let root = Utf8Path::new("/tmp");
    let fs = MemoryFs::with_seed(6);
    fs.write("/tmp/aquota.user", b"").unwrap();
    fs.symlink("/nowhere", "/tmp/link").unwrap();
    fs.advance_clock(30 * DAY);
    let Reaper::Tmpreaper(mut t) = Reaper::tmpreaper(root) else {
        unreachable!()
    };
    t.symlinks = false;
    assert!(pass(&Reaper::Tmpreaper(t.clone()), &fs).is_empty());
    t.symlinks = true;
    assert_eq!(pass(&Reaper::Tmpreaper(t), &fs), ["/tmp/link"]);
}

#[test]
fn the_stat_unlink_window_lets_a_touch_come_too_late() {
    let root = Utf8Path::new("/tmp");
    let fs = tree();
    fs.advance_clock(11 * DAY);
    let toucher = fs.clone();
    let mut window = |p: &Utf8Path| {
        if p == "/tmp/d/f" {
            let now = toucher.now();
            toucher.set_times(p, now, now).unwrap();
        }
    };
    let reaper = Reaper::tmpwatch(root);
    let log = reaper.run(&view(&fs, &reaper), root, &mut window);
    assert!(
        log.removed.iter().any(|(p, _)| p == "/tmp/d/f"),
        "the fresh file goes anyway"
    );
}

#[test]
fn globs_do_not_cross_slashes() {
    assert!(glob_match("/tmp/pymp-*", "/tmp/pymp-abc"));
    assert!(!glob_match("/tmp/pymp-*", "/tmp/pymp-a/b"));
    assert!(glob_match("/tmp/.X*-unix", "/tmp/.X11-unix"));
    assert!(glob_match("/tmp/a?c", "/tmp/abc"));
}

fn quick(seed: u64) -> Options {
    Options {
        seed,
        runs: 2,
        disk_runs: 0,
        scenarios: Vec::new(),
        models: vec![Model::Path, Model::HandleMemory],
        reapers: Vec::new(),
        json: true,
        progress: false,
        check: false,
        trace: false,
    }
}

#[test]
fn same_seed_same_output_and_traces() {
    let a = run_all(&quick(7)).unwrap();
    let b = run_all(&quick(7)).unwrap();
    assert_eq!(render(&quick(7), &a.rows), render(&quick(7), &b.rows));
    assert_eq!(a.trace_digest, b.trace_digest);
}

#[test]
fn the_path_model_is_harmed_and_the_handle_model_never_fails() {
    let out = run_all(&quick(1)).unwrap();
    let path_harm: usize = out
        .rows
        .iter()
        .filter(|r| r.model == Model::Path)
        .map(|r| {
            r.sum.own_files_lost
                + r.sum.foreign_entries_removed
                + r.sum.foreign_files_written
                + r.sum.symlinks_followed
        })
        .sum();
    assert!(
        path_harm > 0,
        "a faithful simulator shows duplicity's algorithm harmed"
    );
    let failing: Vec<_> = out.rows.iter().filter(|r| r.fails()).collect();
    assert!(failing.is_empty(), "{failing:#?}");
}

#[test]
fn on_disk_the_epoch_clock_ages_ctime_too_and_flock_is_real() {
    let mut scratch = disk::Scratch::new().unwrap();
    let env = disk::DiskEnv::new(&mut scratch, false).unwrap();
    let root = env.root().to_owned();
    let dir = root.join("d");
    let locked = root.join("locked");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), b"data").unwrap();
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("g"), b"data").unwrap();
    let reaper = Reaper::systemd_tmpfiles(&root);
    let run = |env: &disk::DiskEnv| {
        let view = env.reaper(reaper.noatime());
        let mut removed: Vec<String> = reaper
            .run(&*view, &root, &mut |_| {})
            .removed
            .into_iter()
            .map(|(p, _)| p.strip_prefix(&root).unwrap().to_string())
            .collect();
        removed.sort();
        removed
    };
    // Young: nothing goes, not even the bystander's backdated report (its ctime and
    // btime are fresh: systemd-tmpfiles wants every timestamp old).
    assert!(run(&env).is_empty());
    // A real LOCK_SH on an O_RDONLY|O_DIRECTORY descriptor, as the library holds it.
    let held = std::fs::File::open(&locked).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockShared).unwrap();
    env.advance(11 * DAY);
    // Every timestamp, ctime and btime included, now looks 11 days old; the locked
    // subtree is skipped.
    assert_eq!(run(&env), ["d", "d/f", "report-1002.txt"]);
    assert!(locked.join("g").exists());
    // Written after the skip: young again.
    std::fs::write(locked.join("h"), b"new").unwrap();
    let st = env.inspector().lstat(&locked.join("h")).unwrap();
    assert!(env.inspector().now() - st.ctime < DAY);
}
