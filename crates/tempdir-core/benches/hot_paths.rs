//! The in-process hot paths of `TemporaryDirectory`, with every filesystem call taken away:
//! name generation, tracking (insert, lookup, removal) and the validation of names users
//! hand back. What is measured here is the library's own cost on top of the syscalls,
//! which `cargo xtask bench` measures with them.

use std::hint::black_box;
use std::io::{self, Cursor};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use criterion::{Criterion, criterion_group, criterion_main};
use tempdir_core::{Backend, FileId, FileKind, Listed, Meta, TemporaryDirectory};

/// A backend whose every operation succeeds at once and touches nothing: what is left is
/// the core's own work.
struct NullBackend {
    root: Utf8PathBuf,
    rng: AtomicU64,
    ino: AtomicU64,
    /// What `scan` lists, for the cleanup that reads the directory; `None`: it declines.
    listing: Option<Mutex<Vec<(String, u64)>>>,
}

const DIR_ID: FileId = FileId {
    dev: 1,
    ino: 1,
    birth: 0,
};

impl NullBackend {
    fn new() -> Self {
        NullBackend {
            root: Utf8PathBuf::from("/null"),
            rng: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
            ino: AtomicU64::new(2),
            listing: None,
        }
    }

    /// One whose `scan` lists what it created, newest first, as tmpfs does on Linux 6.x.
    fn listing() -> Self {
        NullBackend {
            listing: Some(Mutex::new(Vec::new())),
            ..NullBackend::new()
        }
    }
}

impl Backend for NullBackend {
    type File = Cursor<Vec<u8>>;
    type Dir = ();

    fn root(&self) -> &Utf8Path {
        &self.root
    }

    fn random(&self) -> u64 {
        // splitmix64: cheap, and distinct enough that names never collide here.
        let mut z = self.rng.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn make_dir(&self, _name: &str) -> io::Result<((), FileId)> {
        Ok(((), DIR_ID))
    }

    fn lock_shared(&self, _dir: &()) -> io::Result<()> {
        Ok(())
    }

    fn dir_meta(&self, _dir: &()) -> io::Result<Meta> {
        Ok(dir_meta())
    }

    fn root_entry(&self, _name: &str) -> io::Result<Option<Meta>> {
        Ok(Some(dir_meta()))
    }

    fn remove_dir(&self, _name: &str) -> io::Result<()> {
        Ok(())
    }

    fn create_file(&self, _dir: &(), name: &str) -> io::Result<(Self::File, FileId)> {
        let ino = self.ino.fetch_add(1, Ordering::Relaxed);
        if let Some(listing) = &self.listing {
            listing.lock().unwrap().push((name.to_owned(), ino));
        }
        Ok((
            Cursor::new(Vec::new()),
            FileId {
                dev: 1,
                ino,
                birth: 0,
            },
        ))
    }

    fn open_file(&self, _dir: &(), _name: &str) -> io::Result<(Self::File, FileId)> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn entry(&self, _dir: &(), _name: &str) -> io::Result<Option<Meta>> {
        Ok(None)
    }

    fn remove_file(&self, _dir: &(), _name: &str) -> io::Result<()> {
        Ok(())
    }

    fn touch(&self, _dir: &(), _name: Option<&str>) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, _dir: &()) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn scan(&self, _dir: &(), visit: &mut dyn FnMut(&str, Listed)) -> io::Result<bool> {
        let Some(listing) = &self.listing else {
            return Ok(false);
        };
        for (name, ino) in listing.lock().unwrap().iter().rev() {
            let kind = Some(FileKind::File);
            visit(name, Listed::new(*ino, kind));
        }
        Ok(true)
    }
}

fn dir_meta() -> Meta {
    Meta {
        id: DIR_ID,
        kind: FileKind::Dir,
        nlink: 2,
    }
}

fn instance() -> TemporaryDirectory<NullBackend> {
    TemporaryDirectory::with_backend(NullBackend::new()).expect("the null backend cannot fail")
}

/// An instance tracking `n` created names, and their paths.
fn filled(n: usize) -> (TemporaryDirectory<NullBackend>, Vec<Utf8PathBuf>) {
    filled_on(NullBackend::new(), n)
}

fn filled_on(
    backend: NullBackend,
    n: usize,
) -> (TemporaryDirectory<NullBackend>, Vec<Utf8PathBuf>) {
    let tmp = TemporaryDirectory::with_backend(backend).expect("the null backend cannot fail");
    let paths = (0..n)
        .map(|_| tmp.mkstemp().expect("null mkstemp").1)
        .collect();
    (tmp, paths)
}

/// Times `iters` calls on one fresh instance, so the tracked set grows as it does in use
/// (its rehashing included).
fn on_fresh(iters: u64, mut op: impl FnMut(&TemporaryDirectory<NullBackend>)) -> Duration {
    let tmp = instance();
    let t = Instant::now();
    for _ in 0..iters {
        op(&tmp);
    }
    let elapsed = t.elapsed();
    drop(tmp);
    elapsed
}

fn names(c: &mut Criterion) {
    let mut g = c.benchmark_group("names");
    g.bench_function("mktemp (name + track)", |b| {
        b.iter_custom(|iters| on_fresh(iters, |tmp| drop(black_box(tmp.mktemp()))));
    });
    g.bench_function("mkstemp (name + track + identity)", |b| {
        b.iter_custom(|iters| on_fresh(iters, |tmp| drop(black_box(tmp.mkstemp()))));
    });
    g.finish();
}

fn tracking(c: &mut Criterion) {
    const N: usize = 10_000;
    let (tmp, paths) = filled(N);
    let bare: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().expect("a file name").to_owned())
        .collect();
    let mut g = c.benchmark_group("tracking");
    let mut i = 0;
    g.bench_function("is_tracked (full path, hit, 10k tracked)", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            black_box(tmp.is_tracked(black_box(&paths[i])))
        });
    });
    g.bench_function("is_tracked (bare name, hit, 10k tracked)", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            black_box(tmp.is_tracked(black_box(bare[i].as_str())))
        });
    });
    g.bench_function("is_tracked (miss, 10k tracked)", |b| {
        b.iter(|| black_box(tmp.is_tracked(black_box("mkstemp-zzzzzzzz-0"))));
    });
    g.bench_function("forget (hit)", |b| {
        b.iter_custom(|iters| {
            let (tmp, paths) = filled(iters as usize);
            let t = Instant::now();
            for p in &paths {
                black_box(tmp.forget(p));
            }
            t.elapsed()
        });
    });
    g.bench_function("remove (lookup + entry + forget)", |b| {
        b.iter_custom(|iters| {
            let (tmp, paths) = filled(iters as usize);
            let t = Instant::now();
            for p in &paths {
                let _ = black_box(tmp.remove(p));
            }
            t.elapsed()
        });
    });
    g.bench_function("cleanup (per tracked name)", |b| {
        b.iter_custom(|iters| {
            let (tmp, _paths) = filled(iters as usize);
            let t = Instant::now();
            black_box(tmp.cleanup());
            t.elapsed()
        });
    });
    g.bench_function("cleanup from one listing (per tracked name)", |b| {
        b.iter_custom(|iters| {
            let (tmp, _paths) = filled_on(NullBackend::listing(), iters as usize);
            let t = Instant::now();
            black_box(tmp.cleanup());
            t.elapsed()
        });
    });
    g.finish();
}

fn validation(c: &mut Criterion) {
    let tmp = instance();
    let mut g = c.benchmark_group("validation");
    for (label, name) in [
        ("outside the directory", "/etc/passwd"),
        ("dot-dot", ".."),
        ("two components", "a/b"),
        ("NUL", "a\0b"),
    ] {
        g.bench_function(format!("reject: {label}"), |b| {
            b.iter(|| black_box(tmp.is_tracked(black_box(name))));
        });
    }
    let long = format!("{}/{}", tmp.dir(), "x".repeat(200));
    g.bench_function("accept: full path, 200-byte name", |b| {
        b.iter(|| black_box(tmp.is_tracked(black_box(long.as_str()))));
    });
    g.finish();
}

criterion_group!(benches, names, tracking, validation);
criterion_main!(benches);
