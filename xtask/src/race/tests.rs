//! The simulator tests itself: the reaper models against what the reapers do, the
//! measuring, determinism, and the deliberately broken backends, each of which must be
//! caught by at least one row.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use camino::Utf8Path;
use tempdir_memory::MemoryFs;

use super::args::{Options, parse};
use super::broken::Break;
use super::disk::{self, DiskEnv, TimeMode};
use super::env::{Env, MemReaper};
use super::output::Progress;
use super::plan::{Model, ReaperChoice, jobs};
use super::real::RealKind;
use super::reaper::{DryRun, Reaper, glob_match};
use super::run::{Row, rows};
use super::scenario::SCENARIOS;

const DAY: Duration = Duration::from_secs(86_400);

// ---------------------------------------------------------------------------------------
// The reaper models.

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

    // systemd-tmpfiles: atime, mtime and btime old but ctime fresh: kept by default, gone
    // when it judges by atime and mtime alone (`amAM:`), as the real one runs here.
    let fs = tree();
    fs.advance_clock(20 * DAY);
    let then = fs.now() - 15 * DAY;
    fs.set_times("/tmp/d/f", then, then).unwrap();
    let systemd = Reaper::systemd_tmpfiles(root);
    assert!(
        !pass(&systemd, &fs).contains(&"/tmp/d/f".to_owned()),
        "every timestamp must be old"
    );
    assert!(pass(&systemd.by_settable_times(), &fs).contains(&"/tmp/d/f".to_owned()));
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
    let fs = MemoryFs::with_seed(6);
    fs.write("/tmp/aquota.user", b"").unwrap();
    fs.symlink("/nowhere", "/tmp/link").unwrap();
    fs.advance_clock(30 * DAY);
    let Reaper::Tmpreaper(mut t) = Reaper::tmpreaper() else {
        unreachable!()
    };
    t.symlinks = false;
    assert!(pass(&Reaper::Tmpreaper(t.clone()), &fs).is_empty());
    t.symlinks = true;
    assert_eq!(pass(&Reaper::Tmpreaper(t), &fs), ["/tmp/link"]);
}

/// What the real programs showed, and the models first got wrong: systemd-tmpfiles 252
/// removes an old FIFO as it does a file; tmpreaper 1.6 only with `--all`.
#[test]
fn old_fifos_go_with_systemd_and_with_tmpreaper_all() {
    let root = Utf8Path::new("/tmp");
    let old_fifo = || {
        let fs = MemoryFs::with_seed(7);
        fs.mkfifo("/tmp/fifo").unwrap();
        fs.advance_clock(30 * DAY);
        fs
    };
    assert_eq!(
        pass(&Reaper::systemd_tmpfiles(root), &old_fifo()),
        ["/tmp/fifo"]
    );
    assert!(pass(&Reaper::tmpwatch(root), &old_fifo()).is_empty());
    assert!(pass(&Reaper::tmpreaper(), &old_fifo()).is_empty());
    assert_eq!(
        pass(&Reaper::tmpreaper().by_settable_times(), &old_fifo()),
        ["/tmp/fifo"]
    );
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
fn a_dry_run_says_what_a_pass_would_remove_and_removes_nothing() {
    let root = Utf8Path::new("/tmp");
    for reaper in Reaper::all(root) {
        let fs = tree();
        fs.advance_clock(11 * DAY);
        // Read without moving atimes, as the dry runs before the real reapers are.
        let inner = MemReaper(fs.as_uid(0).with_noatime(true));
        let dry = DryRun::new(&inner);
        reaper.run(&dry, root, &mut |_| {});
        let would: Vec<String> = dry.removed().iter().map(ToString::to_string).collect();
        assert_eq!(would, ["/tmp/d", "/tmp/d/f"], "{}", reaper.name());
        assert!(fs.exists("/tmp/d/f"));
        assert_eq!(pass(&reaper, &fs), ["/tmp/d/f", "/tmp/d"]);
    }
}

#[test]
fn globs_do_not_cross_slashes() {
    assert!(glob_match("/tmp/pymp-*", "/tmp/pymp-abc"));
    assert!(!glob_match("/tmp/pymp-*", "/tmp/pymp-a/b"));
    assert!(glob_match("/tmp/.X*-unix", "/tmp/.X11-unix"));
    assert!(glob_match("/tmp/a?c", "/tmp/abc"));
}

// ---------------------------------------------------------------------------------------
// The measuring.

/// A bystander outside the root (`~/.bashrc`) reached through a planted symlink: a write
/// into it, new times and a new mode each count, and so does a read (its atime).
#[test]
fn writes_times_modes_and_reads_through_a_symlink_count_as_outside() {
    use super::env::{ATTACKER_UID, MemEnv, Outside};
    use super::measure::Measure;
    type Act<'a> = &'a dyn Fn(&MemoryFs);
    let through: [(&str, Act<'_>); 4] = [
        ("write", &|fs| fs.write("/tmp/link", b"pwned").unwrap()),
        ("touch", &|fs| {
            Outside::touch(fs, Utf8Path::new("/tmp/link")).unwrap();
        }),
        ("chmod", &|fs| {
            fs.set_permissions("/tmp/link", 0o600).unwrap()
        }),
        ("read", &|fs| {
            fs.read("/tmp/link").unwrap();
        }),
    ];
    for (what, act) in through {
        let env = MemEnv::new(1, ATTACKER_UID, false, false).unwrap();
        let mut m = Measure::new(&env);
        env.attacker()
            .symlink(env.bashrc(), Utf8Path::new("/tmp/link"))
            .unwrap();
        m.others_turn(&env, "adversary");
        assert!(m.outside.is_empty());
        act(&env.victim_fs);
        m.victim_turn(&env);
        assert_eq!(m.outside.len(), 1, "{what}: {:?}", m.events);
        assert!(m.foreign_rm.is_empty() && m.foreign_wr.is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------
// The table and the command line.

#[test]
fn the_scenario_table_is_consistent() {
    for (i, s) in SCENARIOS.iter().enumerate() {
        assert_eq!(s.id, i + 1, "ids count from 1 in table order");
        assert_eq!(
            SCENARIOS.iter().filter(|t| t.name == s.name).count(),
            1,
            "{}",
            s.name
        );
        assert!(!s.strikes.is_empty(), "{}: no adversary", s.name);
        for strike in s.strikes {
            for at in strike.at {
                assert!(at.act < s.acts.len(), "{}: no act {}", s.name, at.act);
                assert!(at.ops.0 <= at.ops.1, "{}", s.name);
            }
            let reaps = strike
                .always
                .iter()
                .chain(strike.maybe)
                .chain(strike.one_of)
                .any(|a| matches!(a, super::scenario::AdvSpec::Reap { .. }));
            assert!(!reaps || s.reaped, "{}: a reap without a reaper", s.name);
        }
    }
}

#[test]
fn seeds_are_ranges_both_ends_included() {
    let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let o = parse(&args("--seeds 1..1000 --disk-runs 0")).unwrap();
    assert_eq!(o.seeds.clone().count(), 1000);
    assert_eq!(o.disk_runs, 0);
    let o = parse(&args("--seed 17 --scenario cleanup-race --flock no")).unwrap();
    assert_eq!(o.seeds, 17..=17);
    assert_eq!(o.scenarios, [6]);
    assert_eq!(o.flock, Some(false));
    assert!(parse(&args("--seeds 9..3")).is_err());
    assert!(parse(&args("--reaper cron")).is_err());
    let o = parse(&args(
        "--reaper real-systemd-tmpfiles --break unlink-by-path",
    ))
    .unwrap();
    assert_eq!(o.reapers, [ReaperChoice::Real(RealKind::SystemdTmpfiles)]);
    assert_eq!(o.broken, Some(Break::UnlinkByPath));
}

// ---------------------------------------------------------------------------------------
// The in-memory rows.

/// The seeds every in-memory test covers (the default run covers 64, CI 1,000).
const SEEDS: std::ops::RangeInclusive<u64> = 1..=24;

fn options(models: &[Model], broken: Option<Break>) -> Options {
    Options {
        seeds: SEEDS,
        disk_runs: 0,
        models: models.to_vec(),
        flock: Some(false),
        broken,
        json: true,
        ..Options::default()
    }
}

fn run(o: &Options) -> Vec<Row> {
    let bar = Mutex::new(Progress::new(0, false));
    rows(o, &jobs(o), &bar).unwrap()
}

/// The library unbroken, every scenario, `SEEDS`: path and handle-memory (no flock: the
/// reaper works in every row).
fn baseline() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| run(&options(&[Model::Path, Model::HandleMemory], None)))
}

#[test]
fn the_path_model_is_harmed_and_the_handle_model_never_is_in_the_threat_model() {
    let rows = baseline();
    let path_harmed: Vec<&str> = rows
        .iter()
        .filter(|r| r.job.model == Model::Path && r.in_model && r.harmed() > 0)
        .map(|r| r.job.scenario.name)
        .collect();
    for expected in [
        "recreated",
        "recreated-symlink",
        "cleanup-race",
        "planted-names",
    ] {
        assert!(
            path_harmed.contains(&expected),
            "a faithful simulator shows duplicity's algorithm harmed in {expected}"
        );
    }
    let failing: Vec<String> = rows
        .iter()
        .filter(|r| r.fails())
        .map(|r| r.replay(r.worst().map_or(0, |w| w.seed)))
        .collect();
    assert!(failing.is_empty(), "{failing:#?}");
}

/// `SECURITY.md`: what our own uid does inside the directory may make an operation fail,
/// never make it harm anything else. Even in the rows outside the threat model the
/// library touches nothing outside its directory.
#[test]
fn even_outside_the_threat_model_the_library_touches_nothing_outside_its_directory() {
    for row in baseline().iter().filter(|r| r.job.model.is_handle()) {
        for r in &row.results {
            assert_eq!(r.metrics.outside, 0, "{}", row.replay(r.seed));
        }
    }
    // The rows outside it do show what our uid's swaps cost.
    assert!(
        baseline()
            .iter()
            .any(|r| r.job.model.is_handle() && !r.in_model && r.harmed() > 0)
    );
}

#[test]
fn same_seed_same_output_and_traces() {
    let o = Options {
        scenarios: vec![3, 6, 13],
        ..options(&[Model::Path, Model::HandleMemory], None)
    };
    let (a, b) = (run(&o), run(&o));
    assert_eq!(
        super::output::render(&o, &a, &[]),
        super::output::render(&o, &b, &[])
    );
    for (x, y) in a.iter().zip(&b) {
        let digests = |r: &Row| r.results.iter().map(|s| s.digest).collect::<Vec<_>>();
        assert_eq!(digests(x), digests(y), "{}", x.replay(0));
    }
}

/// Which rows catch a break: those where some seed shows harm the unbroken library did
/// not show on the same seed.
fn caught_by(broken: &[Row]) -> Vec<&Row> {
    let key = |r: &Row| (r.job.scenario.id, r.job.reaper, r.job.flock);
    let base: BTreeMap<_, &Row> = baseline()
        .iter()
        .filter(|r| r.job.model == Model::HandleMemory)
        .map(|r| (key(r), r))
        .collect();
    broken
        .iter()
        .filter(|row| {
            row.results
                .iter()
                .zip(&base[&key(row)].results)
                .any(|(b, u)| {
                    let (b, u) = (&b.metrics, &u.metrics);
                    b.silent > u.silent
                        || b.foreign_rm > u.foreign_rm
                        || b.foreign_wr > u.foreign_wr
                        || b.outside > u.outside
                })
        })
        .collect()
}

/// The self-test: the library with one defence taken out must show harm in at least one
/// row; a break the threat model's adversaries can exploit must show in a row inside it.
/// Breaks that follow a symlink through the handle can only be exploited by someone who
/// can write into the 0700 directory (our own uid): they show in the rows outside it.
#[test]
fn every_break_is_caught_by_some_row() {
    let mut report = String::new();
    let mut missed = Vec::new();
    for brk in Break::ALL {
        let rows = run(&options(&[Model::HandleMemory], Some(brk)));
        let caught = caught_by(&rows);
        let in_model: Vec<&str> = caught
            .iter()
            .filter(|r| r.in_model)
            .map(|r| r.job.scenario.name)
            .collect();
        let outside: Vec<&str> = caught
            .iter()
            .filter(|r| !r.in_model)
            .map(|r| r.job.scenario.name)
            .collect();
        report.push_str(&format!(
            "{brk:<17} in the threat model: {:?}; outside it: {:?}\n",
            dedup(&in_model),
            dedup(&outside)
        ));
        let needs_model = !matches!(
            brk,
            Break::CreateFollows
                | Break::OpenFollows
                | Break::UnlinkFollows
                | Break::TouchFollows
                | Break::ChmodByPath
        );
        if caught.is_empty() || (needs_model && in_model.is_empty()) {
            missed.push(brk);
        }
    }
    eprintln!("{report}");
    assert!(missed.is_empty(), "not caught: {missed:?}\n{report}");
}

fn dedup<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = names.to_vec();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------
// The disk.

#[test]
fn on_disk_the_epoch_clock_ages_ctime_too_and_flock_is_real() {
    let mut scratch = disk::Scratch::new().unwrap();
    let env = DiskEnv::new(&mut scratch, false, TimeMode::Epochs).unwrap();
    let root = env.root().to_owned();
    let dir = root.join("d");
    let locked = root.join("locked");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), b"data").unwrap();
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("g"), b"data").unwrap();
    let reaper = Reaper::systemd_tmpfiles(&root);
    let run = |env: &DiskEnv| {
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
    // Young: nothing goes, not even the bystander's backdated report and FIFO (their
    // ctime and btime are fresh: systemd-tmpfiles wants every timestamp old).
    assert!(run(&env).is_empty());
    // A real LOCK_SH on an O_RDONLY|O_DIRECTORY descriptor, as the library holds it.
    let held = std::fs::File::open(&locked).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockShared).unwrap();
    env.advance(11 * DAY);
    // Every timestamp, ctime and btime included, now looks 11 days old; the locked
    // subtree is skipped.
    assert_eq!(run(&env), [".fifo-1002", "d", "d/f", "report-1002.txt"]);
    assert!(locked.join("g").exists());
    // Written after the skip: young again.
    std::fs::write(locked.join("h"), b"new").unwrap();
    let st = env.inspector().lstat(&locked.join("h")).unwrap();
    assert!(env.inspector().now() - st.ctime < DAY);
}

#[test]
fn on_disk_backdating_ages_atime_and_mtime_only() {
    let mut scratch = disk::Scratch::new().unwrap();
    let env = DiskEnv::new(&mut scratch, false, TimeMode::Backdate).unwrap();
    let root = env.root().to_owned();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/f"), b"data").unwrap();
    env.advance(11 * DAY);
    let st = env.inspector().lstat(&root.join("d/f")).unwrap();
    let now = env.inspector().now();
    assert!(now - st.mtime > 10 * DAY && now - st.atime > 10 * DAY);
    assert!(now - st.ctime < DAY, "ctime cannot be made old");
    let amam = Reaper::systemd_tmpfiles(&root).by_settable_times();
    let view = env.reaper(true);
    let mut removed: Vec<String> = amam
        .run(&*view, &root, &mut |_| {})
        .removed
        .into_iter()
        .map(|(p, _)| p.strip_prefix(&root).unwrap().to_string())
        .collect();
    removed.sort();
    assert_eq!(removed, [".fifo-1002", "d", "d/f", "report-1002.txt"]);
}

#[test]
fn seeded_disk_rows_replay_byte_for_byte() {
    let o = Options {
        seeds: 1..=2,
        disk_runs: 2,
        scenarios: vec![12, 13],
        models: vec![Model::HandleCapStd],
        reapers: vec![ReaperChoice::Model(0), ReaperChoice::Model(2)],
        flock: None,
        ..Options::default()
    };
    let (a, b) = (run(&o), run(&o));
    assert_eq!(
        super::output::render(&o, &a, &[]),
        super::output::render(&o, &b, &[])
    );
    for (x, y) in a.iter().zip(&b) {
        for (p, q) in x.results.iter().zip(&y.results) {
            assert_eq!(p.digest, q.digest, "{}", x.replay(p.seed));
        }
    }
}

/// Where tmpreaper and systemd-tmpfiles are installed (and we are root, as the disk rows
/// need), every real pass removes exactly what its model says it would.
#[test]
fn the_real_reapers_agree_with_their_models() {
    if !DiskEnv::distinct_uids() {
        eprintln!("skipped: not root");
        return;
    }
    let installed: Vec<ReaperChoice> = [RealKind::Tmpreaper, RealKind::SystemdTmpfiles]
        .into_iter()
        .filter(|k| k.binary().is_some())
        .map(ReaperChoice::Real)
        .collect();
    if installed.is_empty() {
        eprintln!("skipped: neither tmpreaper nor systemd-tmpfiles is installed");
        return;
    }
    let o = Options {
        seeds: 1..=2,
        disk_runs: 2,
        models: vec![Model::HandleCapStd],
        reapers: installed,
        flock: Some(false),
        ..Options::default()
    };
    let rows = run(&o);
    let mut compared = 0;
    for row in &rows {
        let (all, bad) = row.passes();
        compared += all;
        assert!(bad.is_empty(), "{}: {bad:?}", row.replay(0));
        assert!(
            !row.fails(),
            "{}",
            row.replay(row.worst().map_or(0, |w| w.seed))
        );
    }
    assert!(compared > 0);
}
