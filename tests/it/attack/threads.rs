//! Threads racing cleanup: `mkstemp`, `create`, `remove`, `open` and `keep_alive` on six
//! threads while others call `cleanup`. Cleanup waits for operations in flight and no
//! operation starts after it, so every name tracked is removed, nothing untracked is,
//! nothing panics and nothing deadlocks.

use std::fs;
use std::sync::{Arc, Barrier};

use camino::Utf8PathBuf;
use tempdir_core::{CleanupReport, DirStatus, Error};

use super::{Fixture, Tmp, exists, names, within};

const WORKERS: usize = 6;
const ROUNDS: usize = 150;

/// One worker's rounds; returns every path it made, and whether it saw anything but
/// success or `CleanedUp`.
fn work(tmp: &Tmp, id: usize) -> (Vec<Utf8PathBuf>, Vec<String>) {
    let mut made = Vec::new();
    let mut odd = Vec::new();
    let mut note = |what: &str, e: Option<Error>| match e {
        None | Some(Error::CleanedUp) => {}
        Some(e) => odd.push(format!("{what}: {e:?}")),
    };
    for round in 0..ROUNDS {
        match tmp.mkstemp() {
            Ok((_, path)) => made.push(path),
            Err(e) => note("mkstemp", Some(e)),
        }
        let name = format!("w{id}-{round}");
        match tmp.create(&name) {
            Ok(_) => made.push(tmp.dir().join(&name)),
            Err(e) => note("create", Some(e)),
        }
        note("open", tmp.open(&name).err());
        if round % 3 == 0 {
            note("remove", tmp.remove(&name).err());
        }
        if round % 10 == 0 {
            note("keep_alive", tmp.keep_alive().err());
        }
    }
    (made, odd)
}

/// Runs the workers and `cleaners` cleanups on one instance; returns the paths made and
/// the reports.
fn race(tmp: Arc<Tmp>, cleaners: usize) -> (Vec<Utf8PathBuf>, Vec<CleanupReport>) {
    within("the race", move || {
        let start = Arc::new(Barrier::new(WORKERS + cleaners));
        let workers: Vec<_> = (0..WORKERS)
            .map(|id| {
                let (tmp, start) = (Arc::clone(&tmp), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    work(&tmp, id)
                })
            })
            .collect();
        let cleaners: Vec<_> = (0..cleaners)
            .map(|_| {
                let (tmp, start) = (Arc::clone(&tmp), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    // Let the workers get going first.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    tmp.cleanup()
                })
            })
            .collect();
        let mut made = Vec::new();
        for worker in workers {
            let (paths, odd) = worker.join().expect("no worker panics");
            assert!(odd.is_empty(), "unexpected errors: {odd:?}");
            made.extend(paths);
        }
        let reports = cleaners
            .into_iter()
            .map(|c| c.join().expect("no cleanup panics"))
            .collect();
        (made, reports)
    })
}

#[test]
fn threads_racing_cleanup_leave_nothing_tracked_behind() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let dir = tmp.dir().to_owned();
    let (made, reports) = race(Arc::clone(&tmp), 1);
    let report = &reports[0];
    assert!(report.is_complete(), "{report:?}");
    assert!(!exists(&dir));
    for path in &made {
        assert!(!exists(path), "{path} was left behind");
    }
    assert!(tmp.is_cleaned_up());
    assert!(matches!(tmp.mkstemp(), Err(Error::CleanedUp)));
    assert!(names(&fx.root).is_empty());
}

#[test]
fn threads_racing_cleanup_never_remove_what_nobody_tracked() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let planted = tmp.dir().join("planted");
    fs::write(&planted, b"theirs").unwrap();
    let planted_dir = tmp.dir().join("planted-dir");
    fs::create_dir(&planted_dir).unwrap();
    fs::write(planted_dir.join("inner"), b"theirs").unwrap();
    let (made, reports) = race(Arc::clone(&tmp), 1);
    let report = &reports[0];
    assert!(
        !report.dir_removed && report.failures.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.status, DirStatus::Intact);
    let mut expected = vec![
        planted.as_std_path().to_owned(),
        planted_dir.as_std_path().to_owned(),
    ];
    expected.sort();
    assert_eq!(report.untracked, expected);
    for path in &made {
        assert!(!exists(path), "{path} was left behind");
    }
    assert_eq!(fs::read(&planted).unwrap(), b"theirs");
    assert_eq!(fs::read(planted_dir.join("inner")).unwrap(), b"theirs");
    assert_eq!(names(tmp.dir()), vec!["planted", "planted-dir"]);
    fs::remove_file(&planted).unwrap();
    fs::remove_dir_all(&planted_dir).unwrap();
    assert!(tmp.cleanup().is_complete());
    assert!(names(&fx.root).is_empty());
}

#[test]
fn concurrent_cleanups_run_one_at_a_time_and_report_once() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let (made, reports) = race(Arc::clone(&tmp), 4);
    let removing: Vec<_> = reports.iter().filter(|r| r.dir_removed).collect();
    assert_eq!(removing.len(), 1, "{reports:?}");
    for report in reports.iter().filter(|r| !r.dir_removed) {
        assert_eq!(report.status, DirStatus::CleanedUp, "{report:?}");
        assert_eq!(report.removed, 0, "{report:?}");
    }
    for path in &made {
        assert!(!exists(path), "{path} was left behind");
    }
    assert!(names(&fx.root).is_empty());
}

#[test]
fn drop_racing_nothing_but_its_own_threads_cleans_up() {
    let fx = Fixture::new();
    let tmp = Arc::new(fx.make());
    let dir = tmp.dir().to_owned();
    let made = within("workers then drop", move || {
        let workers: Vec<_> = (0..WORKERS)
            .map(|id| {
                let tmp = Arc::clone(&tmp);
                std::thread::spawn(move || work(&tmp, id).0)
            })
            .collect();
        drop(tmp);
        // The last worker to finish drops the instance, and the drop cleans up.
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("no worker panics"))
            .collect::<Vec<_>>()
    });
    assert!(!made.is_empty());
    assert!(!exists(&dir), "the drop removed the directory");
    assert!(names(&fx.root).is_empty());
}
