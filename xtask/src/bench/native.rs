//! The comparators that run in this process: the syscall floor, `tempdirs` on cap-std, the
//! `tempfile` crate and `cap-tempfile`.
//!
//! Every timed region of W1, W2 and W4 goes from the root's path to the comparator's
//! directory being gone, so each pays for opening the root, its own setup and its own
//! cleanup; the floor included.

use std::hint::black_box;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::Instant;

use cap_std::fs::OpenOptionsExt as _;
use rustix::fs::{AtFlags, Mode, OFlags};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::TemporaryDirectory;

use super::{Memory, Plan, Results, Row};
use crate::lock;

type Tmp = TemporaryDirectory<CapStdBackend>;

const FLOOR: &str = "floor";
const TEMPDIRS: &str = "tempdirs";
const FLOOR_AS_LIBRARY: &str = "floor as a library";
const TEMPDIRS_FLOOR_UNLINKS: &str = "tempdirs, raw unlinks";
const TEMPFILE: &str = "tempfile";
const CAP_TEMPFILE: &str = "cap-tempfile";

/// Flags of every file the floor creates: those `mkstemp` promises.
fn create_flags() -> OFlags {
    OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDWR
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// A reused buffer for `mkstemp-XXXXXXXX-N` names: the length of ours, from a counter.
struct Names {
    buf: String,
    stem: usize,
}

impl Names {
    fn new(tag: &str) -> Names {
        // Eight characters in place of the random part, so names are as long as ours.
        let buf = format!("mkstemp-{tag:0>8}-");
        Names {
            stem: buf.len(),
            buf,
        }
    }

    fn get(&mut self, i: u64) -> &str {
        use std::fmt::Write as _;
        self.buf.truncate(self.stem);
        let _ = write!(self.buf, "{i}");
        &self.buf
    }
}

/// A directory made for one floor run: `open` of the root, `mkdirat` + `openat`; at the
/// end `close` + `unlinkat` + `close`.
struct FloorDir {
    root: OwnedFd,
    name: String,
    fd: OwnedFd,
}

impl FloorDir {
    fn make(root: &Path, tag: &str) -> io::Result<FloorDir> {
        let root = rustix::fs::open(root, dir_flags(), Mode::empty())?;
        let name = format!("floor-{tag}");
        rustix::fs::mkdirat(&root, name.as_str(), Mode::from_raw_mode(0o700))?;
        let fd = rustix::fs::openat(&root, name.as_str(), dir_flags(), Mode::empty())?;
        Ok(FloorDir { root, name, fd })
    }

    fn remove(self) -> io::Result<()> {
        drop(self.fd);
        rustix::fs::unlinkat(&self.root, self.name.as_str(), AtFlags::REMOVEDIR)?;
        Ok(())
    }

    fn create(&self, name: &str) -> io::Result<()> {
        let fd = rustix::fs::openat(&self.fd, name, create_flags(), Mode::from_raw_mode(0o600))?;
        drop(fd);
        Ok(())
    }

    fn unlink(&self, name: &str) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?;
        Ok(())
    }
}

fn floor_w1(root: &Path, n: u64) -> io::Result<u64> {
    floor_w1_phases(root, n).map(|phases| phases.iter().sum())
}

/// W1's floor, timed in its three phases: the directory made, the files made, everything
/// removed.
fn floor_w1_phases(root: &Path, n: u64) -> io::Result<[u64; 3]> {
    let mut names = Names::new("floor");
    let t = Instant::now();
    let dir = FloorDir::make(root, "w1")?;
    let set_up = elapsed(t);
    for i in 0..n {
        dir.create(names.get(i))?;
    }
    let made = elapsed(t);
    for i in 0..n {
        dir.unlink(names.get(i))?;
    }
    dir.remove()?;
    let all = elapsed(t);
    Ok([set_up, made - set_up, all - made])
}

/// `--breakdown`: names and paths as any library with tempdirs' calls makes them:
/// unguessable (SipHash of a counter, the same form as tempdirs'), each in a path of its
/// own, allocated and handed back.
struct LibraryNames {
    keys: std::collections::hash_map::RandomState,
    dir_path: String,
}

impl LibraryNames {
    fn new(root: &Path, tag: &str) -> io::Result<LibraryNames> {
        Ok(LibraryNames {
            keys: std::collections::hash_map::RandomState::new(),
            dir_path: format!("{}/floor-{tag}", utf8(root)?),
        })
    }

    /// The path of the `i`-th name, and where in it the name starts.
    fn path_of(&self, i: u64) -> (String, usize) {
        use std::fmt::Write as _;
        use std::hash::BuildHasher as _;
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut path = String::with_capacity(self.dir_path.len() + 40);
        path.push_str(&self.dir_path);
        path.push('/');
        let name_at = path.len();
        path.push_str("mkstemp-");
        let mut bits = self.keys.hash_one(i);
        for _ in 0..8 {
            path.push(char::from(ALPHABET[(bits % 36) as usize]));
            bits /= 36;
        }
        path.push('-');
        let _ = write!(path, "{i}");
        (path, name_at)
    }
}

/// `--breakdown`: the floor's loop with what any library with tempdirs' calls pays and
/// the floor does not: [`LibraryNames`], the locks a shared instance needs, and each
/// name made again at cleanup.
fn floor_as_library_w1(root: &Path, n: u64) -> io::Result<u64> {
    use std::sync::{Mutex, RwLock};
    let names = LibraryNames::new(root, "as-library")?;
    let (gate, tracked) = (RwLock::new(()), Mutex::new(0..0));
    let t = Instant::now();
    let dir = FloorDir::make(root, "as-library")?;
    for i in 0..n {
        let _open = gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (path, name_at) = names.path_of(i);
        dir.create(&path[name_at..])?;
        lock(&tracked).end = i + 1;
        black_box(path);
    }
    for i in 0..n {
        let (path, name_at) = names.path_of(i);
        dir.unlink(&path[name_at..])?;
    }
    dir.remove()?;
    Ok(elapsed(t))
}

/// `--breakdown`: W2's floor with what any library with tempdirs' calls pays per file:
/// the name and path of [`LibraryNames`] and the create under the locks, the name kept
/// as the newest tracked; then, from the path handed back, the directory's part and the
/// name compared with what is kept and forgotten, the unlink, the path freed. No UTF-8
/// check: a library could compare the bytes it is handed back.
fn floor_as_library_w2(root: &Path, n: u64) -> io::Result<u64> {
    use std::sync::{Mutex, RwLock};
    let names = LibraryNames::new(root, "as-library-w2")?;
    let (gate, newest) = (RwLock::new(()), Mutex::new(String::new()));
    let t = Instant::now();
    let dir = FloorDir::make(root, "as-library-w2")?;
    for i in 0..n {
        let path = {
            let _open = gate
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (path, name_at) = names.path_of(i);
            dir.create(&path[name_at..])?;
            let mut newest = lock(&newest);
            newest.clear();
            newest.push_str(&path[name_at..]);
            black_box(path)
        };
        let _open = gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let given = Path::new(&path).as_os_str().as_encoded_bytes();
        let name = given
            .strip_prefix(names.dir_path.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"/"))
            .ok_or_else(|| io::Error::other("floor as a library: not in the directory"))?;
        let taken = {
            let mut newest = lock(&newest);
            let tracked = newest.as_bytes() == name;
            if tracked {
                newest.clear();
            }
            tracked
        };
        if !taken {
            return Err(io::Error::other("floor as a library: not tracked"));
        }
        dir.unlink(&path[path.len() - name.len()..])?;
    }
    dir.remove()?;
    Ok(elapsed(t))
}

/// `--breakdown`: tempdirs' `mkstemp`, then the directory kept and every file unlinked by
/// the floor's loop from the paths handed out, to split tempdirs' time between making and
/// cleaning up.
fn tempdirs_floor_unlinks_w1(root: &Path, n: u64) -> io::Result<u64> {
    let t = Instant::now();
    let tmp = Tmp::new_in(utf8(root)?).map_err(io::Error::other)?;
    let mut paths = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (file, path) = tmp.mkstemp().map_err(io::Error::other)?;
        drop(file);
        paths.push(path);
    }
    let dir_path = tmp.keep();
    let dir = rustix::fs::open(dir_path.as_str(), dir_flags(), Mode::empty())?;
    let name_at = dir_path.as_str().len() + 1;
    for path in &paths {
        rustix::fs::unlinkat(&dir, &path.as_str()[name_at..], AtFlags::empty())?;
    }
    drop(dir);
    rustix::fs::rmdir(dir_path.as_str())?;
    Ok(elapsed(t))
}

/// Per file: create, close, unlink.
fn floor_w2(root: &Path, n: u64) -> io::Result<u64> {
    let mut names = Names::new("floor");
    let t = Instant::now();
    let dir = FloorDir::make(root, "w2")?;
    for i in 0..n {
        let name = names.get(i);
        dir.create(name)?;
        dir.unlink(name)?;
    }
    dir.remove()?;
    Ok(elapsed(t))
}

/// The floor of `mktemp`: one `fstatat` per name to see it is free.
fn floor_w3(root: &Path, n: u64) -> io::Result<u64> {
    let mut names = Names::new("floor");
    let dir = FloorDir::make(root, "w3")?;
    let t = Instant::now();
    for i in 0..n {
        match rustix::fs::statat(&dir.fd, names.get(i), AtFlags::SYMLINK_NOFOLLOW) {
            Err(rustix::io::Errno::NOENT) => {}
            Ok(_) => return Err(io::Error::other("floor w3: name taken")),
            Err(e) => return Err(e.into()),
        }
    }
    let ns = elapsed(t);
    dir.remove()?;
    Ok(ns)
}

/// Two threads creating in one shared directory fd, then one pass removing every file (as
/// one `cleanup` does). Returns (total, create phase, removal phase).
fn floor_w4(root: &Path, n: u64) -> io::Result<[u64; 3]> {
    let barrier = Barrier::new(2);
    let t = Instant::now();
    let dir = FloorDir::make(root, "w4")?;
    let created = std::thread::scope(|s| {
        let workers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|tag| {
                let (dir, barrier) = (&dir, &barrier);
                s.spawn(move || {
                    let mut names = Names::new(tag);
                    barrier.wait();
                    for i in 0..n {
                        dir.create(names.get(i))?;
                    }
                    Ok::<(), io::Error>(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("floor thread panicked"))
    });
    created?;
    let t_create = elapsed(t);
    for tag in ["a", "b"] {
        let mut names = Names::new(tag);
        for i in 0..n {
            dir.unlink(names.get(i))?;
        }
    }
    dir.remove()?;
    let total = elapsed(t);
    Ok([total, t_create, total - t_create])
}

fn tempdirs_w1(root: &Path, n: u64) -> io::Result<u64> {
    tempdirs_w1_phases(root, n).map(|phases| phases.iter().sum())
}

/// W1 of tempdirs, timed in the floor's three phases.
fn tempdirs_w1_phases(root: &Path, n: u64) -> io::Result<[u64; 3]> {
    let t = Instant::now();
    let tmp = Tmp::new_in(utf8(root)?).map_err(io::Error::other)?;
    let set_up = elapsed(t);
    for _ in 0..n {
        let (file, path) = tmp.mkstemp().map_err(io::Error::other)?;
        drop(file);
        black_box(path);
    }
    let made = elapsed(t);
    let report = tmp.cleanup();
    let all = elapsed(t);
    check_report(&report, n)?;
    Ok([set_up, made - set_up, all - made])
}

/// `--phases K`: W1 at `n` files, tempdirs and the floor alternating `pairs` times (who
/// goes first alternating too, each after [`settle`]), and per phase (directory made,
/// files made, everything removed, all) the median of tempdirs' time over the floor's in
/// each pair, with the quartiles; then W2 at `n` files, alike, as a fifth row. Many short
/// pairs see finer than a few long runs.
pub(crate) fn phases(root: &Path, n: u64, pairs: usize) -> io::Result<[[f64; 3]; 5]> {
    let mut ratios: [Vec<f64>; 5] = Default::default();
    let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    for pair in 0..pairs {
        let [floor, tempdirs] = alternated(pair, [floor_w1_phases, tempdirs_w1_phases], root, n)?;
        for (k, ratios) in ratios.iter_mut().take(3).enumerate() {
            ratios.push(ratio(tempdirs[k], floor[k]));
        }
        ratios[3].push(ratio(tempdirs.iter().sum(), floor.iter().sum()));
    }
    for pair in 0..pairs {
        let [floor, tempdirs] = alternated(pair, [floor_w2, tempdirs_w2], root, n)?;
        ratios[4].push(ratio(tempdirs, floor));
    }
    Ok(ratios.map(|mut ratios| {
        ratios.sort_unstable_by(f64::total_cmp);
        let at = |q: usize| ratios[(ratios.len() - 1) * q / 4];
        [at(2), at(1), at(3)]
    }))
}

/// One pair of [`phases`]: both workloads, each after [`settle`], the first going first in
/// even pairs; their results in the order given.
fn alternated<T>(
    pair: usize,
    [a, b]: [fn(&Path, u64) -> io::Result<T>; 2],
    root: &Path,
    n: u64,
) -> io::Result<[T; 2]> {
    let timed = |workload: fn(&Path, u64) -> io::Result<T>| {
        settle();
        workload(root, n)
    };
    Ok(if pair.is_multiple_of(2) {
        let a = timed(a)?;
        [a, timed(b)?]
    } else {
        let b = timed(b)?;
        [timed(a)?, b]
    })
}

fn tempdirs_w2(root: &Path, n: u64) -> io::Result<u64> {
    let t = Instant::now();
    let tmp = Tmp::new_in(utf8(root)?).map_err(io::Error::other)?;
    for _ in 0..n {
        let (file, path) = tmp.mkstemp().map_err(io::Error::other)?;
        drop(file);
        tmp.remove(&path).map_err(io::Error::other)?;
    }
    let report = tmp.cleanup();
    let ns = elapsed(t);
    check_report(&report, 0)?;
    Ok(ns)
}

fn tempdirs_w3(root: &Path, n: u64) -> io::Result<u64> {
    let tmp = Tmp::new_in(utf8(root)?).map_err(io::Error::other)?;
    let t = Instant::now();
    for _ in 0..n {
        black_box(tmp.mktemp().map_err(io::Error::other)?);
    }
    let ns = elapsed(t);
    let report = tmp.cleanup();
    check_report(&report, n)?;
    Ok(ns)
}

fn tempdirs_w4(root: &Path, n: u64) -> io::Result<[u64; 3]> {
    let barrier = Barrier::new(2);
    let t = Instant::now();
    let tmp = Tmp::new_in(utf8(root)?).map_err(io::Error::other)?;
    let created = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (tmp, barrier) = (&tmp, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    for _ in 0..n {
                        let (file, path) = tmp.mkstemp().map_err(io::Error::other)?;
                        drop(file);
                        black_box(path);
                    }
                    Ok::<(), io::Error>(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("tempdirs thread panicked"))
    });
    created?;
    let t_create = elapsed(t);
    let report = tmp.cleanup();
    let total = elapsed(t);
    check_report(&report, 2 * n)?;
    Ok([total, t_create, total - t_create])
}

fn tempdirs_status(root: &Path, calls: u64) -> io::Result<u64> {
    let tmp = Tmp::new_in(utf8(root)?).map_err(io::Error::other)?;
    let t = Instant::now();
    for _ in 0..calls {
        black_box(tmp.status());
    }
    let ns = elapsed(t);
    check_report(&tmp.cleanup(), 0)?;
    Ok(ns)
}

/// What `status()` cannot do with less: one `fstatat` of the directory's name in the root.
fn floor_status(root: &Path, calls: u64) -> io::Result<u64> {
    let dir = FloorDir::make(root, "status")?;
    let t = Instant::now();
    for _ in 0..calls {
        black_box(rustix::fs::statat(
            &dir.root,
            dir.name.as_str(),
            AtFlags::SYMLINK_NOFOLLOW,
        )?);
    }
    let ns = elapsed(t);
    dir.remove()?;
    Ok(ns)
}

/// `tempfile::Builder::tempfile_in`, each file closed at once and kept by name
/// (`into_temp_path`), all removed at the end; the directory is a `tempfile::TempDir`.
fn tempfile_w1(root: &Path, n: u64) -> io::Result<u64> {
    let t = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("tempfile-")
        .tempdir_in(root)?;
    let mut kept = Vec::with_capacity(n as usize);
    for _ in 0..n {
        kept.push(
            tempfile::Builder::new()
                .tempfile_in(dir.path())?
                .into_temp_path(),
        );
    }
    for path in kept {
        path.close()?;
    }
    dir.close()?;
    Ok(elapsed(t))
}

fn tempfile_w2(root: &Path, n: u64) -> io::Result<u64> {
    let t = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("tempfile-")
        .tempdir_in(root)?;
    for _ in 0..n {
        tempfile::Builder::new().tempfile_in(dir.path())?.close()?;
    }
    dir.close()?;
    Ok(elapsed(t))
}

/// `cap_tempfile::TempDir` and cap-std's `open_with` (create-new, 0600) for named files:
/// cap-tempfile's own `TempFile` is unnamed (`O_TMPFILE`). Its cleanup is `close()`, a
/// recursive removal through the handle.
fn cap_tempfile_w1(root: &Path, n: u64) -> io::Result<u64> {
    let mut names = Names::new("cap");
    let opts = cap_open_options();
    let t = Instant::now();
    let dir = cap_tempfile::TempDir::new_in(&cap_root(root)?)?;
    for i in 0..n {
        drop(dir.open_with(names.get(i), &opts)?);
    }
    dir.close()?;
    Ok(elapsed(t))
}

fn cap_tempfile_w2(root: &Path, n: u64) -> io::Result<u64> {
    let mut names = Names::new("cap");
    let opts = cap_open_options();
    let t = Instant::now();
    let dir = cap_tempfile::TempDir::new_in(&cap_root(root)?)?;
    for i in 0..n {
        let name = names.get(i);
        drop(dir.open_with(name, &opts)?);
        dir.remove_file(name)?;
    }
    dir.close()?;
    Ok(elapsed(t))
}

/// The root as a cap-std `Dir`, opened by path (inside the timed region, as every
/// comparator opens its root).
fn cap_root(root: &Path) -> io::Result<cap_std::fs::Dir> {
    cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority())
}

fn cap_open_options() -> cap_std::fs::OpenOptions {
    let mut opts = cap_std::fs::OpenOptions::new();
    opts.read(true).write(true).create_new(true).mode(0o600);
    opts
}

/// One run of every native measurement, comparators taking turns repetition by
/// repetition, recorded as the next run of each sample.
pub(crate) fn run_once(
    root: &Path,
    plan: &Plan,
    run: usize,
    r: &mut Results,
) -> Result<(), String> {
    let ctx = |what: String| move |e: io::Error| format!("{what}: {e}");
    let mut w1: Vec<(&'static str, Workload)> = vec![
        (FLOOR, floor_w1),
        (TEMPDIRS, tempdirs_w1),
        (TEMPFILE, tempfile_w1),
        (CAP_TEMPFILE, cap_tempfile_w1),
    ];
    if plan.breakdown {
        w1.push((FLOOR_AS_LIBRARY, floor_as_library_w1));
        w1.push((TEMPDIRS_FLOOR_UNLINKS, tempdirs_floor_unlinks_w1));
    }
    for &n in &plan.w1 {
        per_file(root, plan, run, r, ("W1", n), &w1)?;
    }
    let mut w2: Vec<(&'static str, Workload)> = vec![
        (FLOOR, floor_w2),
        (TEMPDIRS, tempdirs_w2),
        (TEMPFILE, tempfile_w2),
        (CAP_TEMPFILE, cap_tempfile_w2),
    ];
    if plan.breakdown {
        w2.push((FLOOR_AS_LIBRARY, floor_as_library_w2));
    }
    per_file(root, plan, run, r, ("W2", plan.w2), &w2)?;

    let n = plan.w3;
    settle();
    let ns = floor_w3(root, n).map_err(ctx("floor W3".into()))?;
    r.record(row("W3", n, W3_FLOOR, n, W3_FLOOR), ns);
    settle();
    let ns = tempdirs_w3(root, n).map_err(ctx("tempdirs W3".into()))?;
    r.record(row("W3", n, "tempdirs mktemp", n, W3_FLOOR), ns);

    let n = plan.w4;
    let comparators: [Comparator<'_, 3>; 2] = [
        (W4_FLOOR, &|| floor_w4(root, n)),
        (W4_TEMPDIRS, &|| tempdirs_w4(root, n)),
    ];
    for (comparator, [total, create, clean]) in taking_turns(plan, 2 * n, run, &comparators, "W4")?
    {
        let [create_row, clean_row] = if comparator == W4_FLOOR {
            [W4_FLOOR_CREATE, W4_FLOOR_REMOVE]
        } else {
            ["tempdirs 2t: mkstemp", "tempdirs 2t: cleanup"]
        };
        r.record(row("W4", n, comparator, 2 * n, W4_FLOOR), total);
        r.record(row("W4", n, create_row, 2 * n, W4_FLOOR_CREATE), create);
        r.record(row("W4", n, clean_row, 2 * n, W4_FLOOR_REMOVE), clean);
    }

    let n = plan.w5;
    settle();
    let ns = floor_status(root, n).map_err(ctx("floor status".into()))?;
    r.record(row("W5", n, W5_FLOOR, n, W5_FLOOR), ns);
    settle();
    let ns = tempdirs_status(root, n).map_err(ctx("tempdirs status".into()))?;
    r.record(row("W5", n, "tempdirs status()", n, W5_FLOOR), ns);
    Ok(())
}

/// One size of W1 or W2: `workloads` (the floor first) taking turns, each recorded
/// against the floor.
fn per_file(
    root: &Path,
    plan: &Plan,
    run: usize,
    r: &mut Results,
    (workload, n): (&'static str, u64),
    workloads: &[(&'static str, Workload)],
) -> Result<(), String> {
    let once: Vec<_> = workloads
        .iter()
        .map(|&(name, workload)| (name, move || workload(root, n).map(|ns| [ns])))
        .collect();
    let comparators: Vec<Comparator<'_, 1>> = once
        .iter()
        .map(|(name, once)| (*name, once as &dyn Fn() -> io::Result<[u64; 1]>))
        .collect();
    for (comparator, [ns]) in taking_turns(plan, n, run, &comparators, workload)? {
        r.record(row(workload, n, comparator, n, FLOOR), ns);
    }
    Ok(())
}

/// One run of a workload of `n` files from the root's path, timed.
type Workload = fn(&Path, u64) -> io::Result<u64>;

const W3_FLOOR: &str = "floor (fstatat)";
/// The two-thread floor and tempdirs' two threads, which the W4 target compares.
pub(crate) const W4_FLOOR: &str = "floor 2t";
pub(crate) const W4_TEMPDIRS: &str = "tempdirs 2t";
const W4_FLOOR_CREATE: &str = "floor 2t: create";
const W4_FLOOR_REMOVE: &str = "floor 2t: remove";
const W5_FLOOR: &str = "floor: fstatat root";

fn row(
    workload: &'static str,
    n: u64,
    comparator: &'static str,
    ops: u64,
    baseline: &'static str,
) -> Row {
    Row {
        workload,
        n,
        comparator,
        ops,
        baseline,
    }
}

/// Runs the W3 memory probe in a fresh process: a process that already ran the other
/// workloads has a high-water mark and a warm heap that would hide the growth.
///
/// It counts resident memory, not allocations: RSS includes the allocator's per-chunk
/// header and rounding, which the tracked set costs as surely as its own bytes, and a
/// counting global allocator would tax every allocation of the timed comparators here.
pub(crate) fn memory(root: &Path, n: u64) -> Result<Memory, String> {
    let [in_order, name_len] = memory_probe(root, n, false)?;
    let [apart, _] = memory_probe(root, n, true)?;
    Ok(Memory {
        names: n,
        in_order_per_name: in_order,
        apart_per_name: apart,
        name_len,
    })
}

/// Runs the memory probe in a process of its own: its growth per name, and the names'
/// average length.
fn memory_probe(root: &Path, n: u64, apart: bool) -> Result<[f64; 2], String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["bench", "--w3-memory-child", &n.to_string()])
        .arg(if apart { "apart" } else { "in-order" })
        .arg(root)
        .output()
        .map_err(|e| format!("cannot run the memory probe: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "memory probe failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match v.as_slice() {
        &[per_name, name_len] => Ok([per_name, name_len]),
        _ => Err(format!("memory probe said {text:?}")),
    }
}

/// The memory probe's own process: `n` tracked `mktemp` names, and their peak RSS growth
/// per name. With `apart`, a second name is handed out and forgotten after each one, so
/// that no two tracked names are neighbours.
pub(crate) fn memory_child(n: &str, apart: bool, root: &str) -> ExitCode {
    let Ok(n) = n.parse::<u64>() else {
        eprintln!("bad count {n}");
        return ExitCode::FAILURE;
    };
    let tmp = match Tmp::new_in(root) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let before = proc_status("VmRSS:");
    let mut name_bytes = 0u64;
    for _ in 0..n {
        let made = tmp.mktemp().and_then(|kept| {
            if apart {
                let gap = tmp.mktemp()?;
                tmp.forget(&gap);
            }
            Ok(kept)
        });
        match made {
            Ok(p) => name_bytes += p.file_name().map_or(0, str::len) as u64,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let peak = proc_status("VmHWM:");
    // The growth is the tracked set's only if every name is in it.
    if tmp.tracked_count() as u64 != n {
        eprintln!("{} names tracked, not {n}", tmp.tracked_count());
        return ExitCode::FAILURE;
    }
    let (Some(before), Some(peak)) = (before, peak) else {
        eprintln!("cannot read /proc/self/status");
        return ExitCode::FAILURE;
    };
    println!(
        "{:.1} {:.1}",
        (peak.saturating_sub(before) * 1024) as f64 / n as f64,
        name_bytes as f64 / n as f64
    );
    drop(tmp);
    ExitCode::SUCCESS
}

/// A `kB` figure from `/proc/self/status`.
fn proc_status(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn check_report(report: &tempdir_core::CleanupReport, removed: u64) -> io::Result<()> {
    if report.is_complete() && report.removed as u64 == removed {
        Ok(())
    } else {
        Err(io::Error::other(format!("incomplete cleanup: {report:?}")))
    }
}

/// Lets the kernel finish what the previous run left it. Inodes unlinked by one run are
/// freed later, by RCU callbacks, and that work lands on whatever runs next: measured
/// here, the next 2,000 files right after 20,000 unlinks cost 25-70% more, and nothing
/// more after 30 ms. Every run starts settled, so that comparators and repetitions are
/// measured alike.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(50));
}

/// Every comparator's workload of `files` files (timed in `K` phases), repeated until each
/// has made the plan's `min_files` (a run of N = 1,000 lasts about 15 ms, short enough for
/// one hiccup of a shared machine to move a median), and at least `min_reps` times, in
/// pairs where there is more than one repetition. The comparators take turns repetition by
/// repetition, each after [`settle`]: a comparator and its baseline are measured moments
/// apart, so that the machine's drift hits both alike. Every other repetition takes the
/// turns in reverse order (A B C, C B A, …), so that over a pair of them each comparator
/// sits, on average, at the same moment: a drift that grows steadily cancels. Who goes
/// first rotates with `run`, so that no comparator always follows the same one. The mean
/// time of one repetition of each, per phase, in the order given.
fn taking_turns<const K: usize>(
    plan: &Plan,
    files: u64,
    run: usize,
    comparators: &[Comparator<'_, K>],
    workload: &str,
) -> Result<Vec<(&'static str, [u64; K])>, String> {
    let reps = plan.min_files.div_ceil(files.max(1)).max(plan.min_reps);
    // Pairs of a forward and a reverse repetition, where there is more than one.
    let reps = if reps > 1 {
        reps.next_multiple_of(2)
    } else {
        reps
    };
    let count = comparators.len();
    let mut total = vec![[0; K]; count];
    for rep in 0..reps {
        for turn in 0..count {
            let turn = if rep.is_multiple_of(2) {
                turn
            } else {
                count - 1 - turn
            };
            let i = (run + turn) % count;
            let ((comparator, once), sums) = (&comparators[i], &mut total[i]);
            settle();
            let phases = once().map_err(|e| format!("{comparator} {workload}: {e}"))?;
            for (sum, ns) in sums.iter_mut().zip(phases) {
                *sum += ns;
            }
        }
    }
    let means = comparators.iter().zip(total);
    Ok(means
        .map(|((comparator, _), sums)| (*comparator, sums.map(|sum| sum / reps)))
        .collect())
}

/// A comparator's name, and one repetition of its workload timed in `K` phases.
type Comparator<'a, const K: usize> = (&'static str, &'a dyn Fn() -> io::Result<[u64; K]>);

fn utf8(path: &Path) -> io::Result<&str> {
    path.to_str()
        .ok_or_else(|| io::Error::other("the bench root is not UTF-8"))
}

fn elapsed(t: Instant) -> u64 {
    t.elapsed().as_nanos() as u64
}

/// `--profile WHAT N`: one run of one workload, in a private folder under `base`.
pub(crate) fn profile(what: &str, n: &str, base: &Path) -> ExitCode {
    let Ok(n) = n.parse::<u64>() else {
        eprintln!("bad count {n}");
        return ExitCode::from(2);
    };
    let root = base.join(format!("tempdirs-profile-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&root) {
        eprintln!("cannot create {}: {e}", root.display());
        return ExitCode::FAILURE;
    }
    let outcome = match what {
        "floor-w1" => floor_w1(&root, n),
        "floor-w2" => floor_w2(&root, n),
        "floor-as-library-w2" => floor_as_library_w2(&root, n),
        "floor-w4" => floor_w4(&root, n).map(|[total, ..]| total),
        "floor-status" => floor_status(&root, n),
        "tempdirs-w1" => tempdirs_w1(&root, n),
        "tempdirs-w2" => tempdirs_w2(&root, n),
        "tempdirs-w3" => tempdirs_w3(&root, n),
        "tempdirs-w4" => tempdirs_w4(&root, n).map(|[total, ..]| total),
        "tempdirs-status" => tempdirs_status(&root, n),
        other => Err(io::Error::other(format!("unknown workload {other}"))),
    };
    let _ = std::fs::remove_dir(&root);
    match outcome {
        Ok(ns) => {
            println!("{what} N={n}: {:.0} ns per op", ns as f64 / n.max(1) as f64);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{what}: {e}");
            ExitCode::FAILURE
        }
    }
}
