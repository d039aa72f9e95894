//! Stress: eight threads mixing every operation on one instance while a reaper deletes
//! entries and then the directory, and an attacker makes another directory at its path
//! (after the tempfile crate's `test_pathological_cleaner`, rewritten for this API).
//!
//! Checked: no panic; no name handed out twice; every outcome a success or one of the
//! error variants the situation allows (`Io`, `Reaped`, `Replaced`, `Vanished` for a file
//! the reaper took), never a name error,
//! `Swapped`, `NotTracked`, `TooManyCollisions`; no foreign entry touched: a sentinel
//! outside the directory, a file and a symlink planted inside it (until the reaper takes
//! them) and everything in the attacker's directory.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use camino::Utf8PathBuf;
use tempdir_core::{DirStatus, Error};

use super::{Extra, snapshot};

/// A small deterministic generator per thread (xorshift64*): the test's own choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// Operations per worker thread: `TEMPDIRS_STRESS_OPS`, else 400 in memory, 150 on disk.
fn ops_per_thread(backend: &str) -> usize {
    std::env::var("TEMPDIRS_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if backend == "memory" { 400 } else { 150 })
}

const THREADS: usize = 8;

fn variant(result: &Result<(), Error>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(Error::Io { .. }) => "io",
        Err(Error::Reaped { .. }) => "reaped",
        Err(Error::Replaced { .. }) => "replaced",
        Err(Error::CleanedUp) => "cleaned-up",
        Err(Error::Swapped { .. }) => "swapped",
        Err(Error::Vanished { .. }) => "vanished",
        Err(Error::NotTracked { .. }) => "not-tracked",
        Err(Error::AlreadyExists { .. }) => "already-exists",
        Err(Error::TooManyCollisions { .. }) => "too-many-collisions",
        Err(Error::InvalidName { .. } | Error::OutsideDirectory { .. }) => "name",
        Err(_) => "other",
    }
}

pub fn threads_and_a_reaper_on_one_instance<H: Extra>() {
    let h = H::new();
    if cfg!(target_os = "wasi") {
        return crate::harness::unsupported(&h, "threads_and_a_reaper_on_one_instance", "threads");
    }
    let td = h.make();
    let dir = td.dir().to_owned();
    let per_thread = ops_per_thread(h.name());
    let outside = h.root().join("sentinel-out");
    h.write(&outside, b"precious").unwrap();
    let inside = dir.join("sentinel-in");
    h.write(&inside, b"planted").unwrap();
    let link = dir.join("sentinel-link");
    h.symlink(&outside, &link).unwrap();

    let handed: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let outcomes: Mutex<BTreeMap<(&'static str, &'static str), usize>> =
        Mutex::new(BTreeMap::new());
    let done = AtomicUsize::new(0);
    let progress = AtomicUsize::new(0);
    let attacker_dir_made = AtomicBool::new(false);
    let note = |op: &'static str, result: &Result<(), Error>| {
        let v = variant(result);
        assert!(
            matches!(v, "ok" | "io" | "reaped" | "replaced" | "vanished"),
            "{op}: unexpected {result:?}"
        );
        *outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((op, v))
            .or_default() += 1;
    };
    let fresh = |path: &Utf8PathBuf| {
        let name = path.file_name().unwrap().to_owned();
        assert!(
            handed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name),
            "{path} handed out twice"
        );
    };

    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (td, h, note, fresh, done, progress) = (&td, &h, &note, &fresh, &done, &progress);
            s.spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                let mut mine: Vec<Utf8PathBuf> = Vec::new();
                for i in 0..per_thread {
                    progress.fetch_add(1, Ordering::Relaxed);
                    let pick = |rng: &mut Rng, mine: &Vec<Utf8PathBuf>| {
                        (!mine.is_empty()).then(|| rng.below(mine.len()))
                    };
                    match rng.below(11) {
                        0 => note(
                            "mktemp",
                            &td.mktemp().map(|p| {
                                fresh(&p);
                            }),
                        ),
                        1 => note(
                            "mkstemp",
                            &td.mkstemp().map(|(mut f, p)| {
                                fresh(&p);
                                let _ = f.write_all(b"data");
                                mine.push(p);
                            }),
                        ),
                        2 => note(
                            "mkstemp_file",
                            &td.mkstemp_file().map(|(mut f, p)| {
                                fresh(&p);
                                let _ = f.write_all(b"data").and_then(|()| f.flush());
                                mine.push(p);
                            }),
                        ),
                        3 => {
                            let name = format!("t{t}-{i}");
                            note(
                                "create",
                                &td.create(name.as_str()).map(|_| {
                                    mine.push(td.dir().join(&name));
                                }),
                            );
                        }
                        4 => {
                            if let Some(k) = pick(&mut rng, &mine) {
                                note("open", &td.open(&mine[k]).map(drop));
                            }
                        }
                        5 => {
                            if let Some(k) = pick(&mut rng, &mine) {
                                let path = mine.swap_remove(k);
                                let result = td.remove(&path);
                                if result.is_err() {
                                    mine.push(path);
                                }
                                note("remove", &result);
                            }
                        }
                        6 => {
                            // duplicity's pattern: the caller deletes, then forgets.
                            if let Some(k) = pick(&mut rng, &mine) {
                                let path = mine.swap_remove(k);
                                let _ = h.remove_file(&path);
                                assert!(td.forget(&path), "{path} was tracked");
                            }
                        }
                        7 => note("keep_alive", &td.keep_alive()),
                        8 => {
                            let status = td.status();
                            assert_ne!(status, DirStatus::CleanedUp);
                        }
                        9 => {
                            for path in &mine {
                                assert!(td.is_tracked(path), "{path} lost its tracking");
                            }
                            let _ = td.tracked_count();
                        }
                        _ => {
                            if let Some(k) = pick(&mut rng, &mine) {
                                assert!(!td.forget(mine[k].join("x")));
                            }
                        }
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        // The reaper: deletes what it finds (never the sentinels) until half the work is
        // done, then checks the sentinels, empties the directory and removes it; then an
        // attacker makes a directory of their own at the same path.
        let (h, dir, done, progress) = (&h, &dir, &done, &progress);
        let (inside, link, made) = (&inside, &link, &attacker_dir_made);
        s.spawn(move || {
            let mut rng = Rng::new(99);
            let half = THREADS * per_thread / 2;
            while progress.load(Ordering::Relaxed) < half && done.load(Ordering::SeqCst) < THREADS {
                for name in h.read_dir(dir) {
                    if !name.starts_with("sentinel") && rng.below(3) == 0 {
                        let _ = h.remove_file(&dir.join(&name));
                    }
                }
                std::thread::yield_now();
            }
            assert_eq!(
                h.read(inside).unwrap(),
                b"planted",
                "inside sentinel touched"
            );
            assert!(h.is_symlink(link), "planted symlink touched");
            // Terminates: once the workers are done nothing refills the directory.
            loop {
                for name in h.read_dir(dir) {
                    let _ = h.remove_file(&dir.join(&name));
                }
                if h.remove_dir(dir).is_ok() {
                    break;
                }
                std::thread::yield_now();
            }
            assert!(!h.exists(dir), "the reaper got the directory");
            h.create_dir(dir).unwrap();
            h.write(&dir.join("attacker"), b"theirs").unwrap();
            made.store(true, Ordering::SeqCst);
        });
    });

    assert!(attacker_dir_made.load(Ordering::SeqCst));
    let theirs = snapshot(&h, &dir);
    assert_eq!(td.status(), DirStatus::Replaced);
    let report = td.cleanup();
    assert_eq!(report.status, DirStatus::Replaced, "{report:?}");
    assert!(!report.dir_removed);
    assert_eq!(
        snapshot(&h, &dir),
        theirs,
        "the attacker's directory was touched"
    );
    assert_eq!(h.read(&outside).unwrap(), b"precious");
    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let total: usize = outcomes.values().sum();
    println!(
        "stress on {}: {} threads x {per_thread} ops ({total} fallible calls, {} names \
         handed out, none twice) with a reaper and an attacker: {outcomes:?}",
        h.name(),
        THREADS,
        handed.lock().unwrap_or_else(PoisonError::into_inner).len(),
    );
}
