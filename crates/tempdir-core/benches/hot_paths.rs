//! The in-process hot paths of `TemporaryDirectory`, away from the kernel: name generation,
//! tracking (insert, lookup, removal) and the validation of names users hand back.
//!
//! Everything runs on the in-memory backend, through the public API only. Lookups,
//! `forget` and validation make no backend call, so they measure the core alone; what does
//! call the backend (`mktemp`, `mkstemp`, `remove`, `cleanup`) includes the in-memory
//! filesystem's own work (its inode table and its trace line per call), so read those as
//! upper bounds of the core's share. `cargo xtask bench` measures the same calls with the
//! real syscalls.

use std::hint::black_box;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use criterion::{Criterion, criterion_group, criterion_main};
use tempdir_core::TemporaryDirectory;
use tempdir_memory::{MemoryBackend, MemoryFs};

type Tmp = TemporaryDirectory<MemoryBackend>;

/// A fresh filesystem and an instance in its `/tmp`.
fn instance() -> (MemoryFs, Tmp) {
    let fs = MemoryFs::new();
    let backend = MemoryBackend::new(&fs, "/tmp").expect("/tmp exists in a new MemoryFs");
    let tmp = TemporaryDirectory::with_backend(backend).expect("a fresh MemoryFs has room");
    (fs, tmp)
}

/// An instance tracking `n` created files, and their paths.
fn filled(n: usize) -> (MemoryFs, Tmp, Vec<Utf8PathBuf>) {
    let (fs, tmp) = instance();
    let paths = (0..n)
        .map(|_| tmp.mkstemp().expect("memory mkstemp").1)
        .collect();
    // The trace grows with every backend call; what setup left there is not measured.
    fs.take_trace();
    (fs, tmp, paths)
}

/// Times `iters` calls on one fresh instance, so the tracked set grows as it does in use.
fn on_fresh(iters: u64, mut op: impl FnMut(&Tmp)) -> Duration {
    let (fs, tmp) = instance();
    let t = Instant::now();
    for _ in 0..iters {
        op(&tmp);
    }
    let elapsed = t.elapsed();
    drop((tmp, fs));
    elapsed
}

fn names(c: &mut Criterion) {
    let mut g = c.benchmark_group("names");
    g.bench_function("mktemp (name + track; memory backend)", |b| {
        b.iter_custom(|iters| on_fresh(iters, |tmp| drop(black_box(tmp.mktemp()))));
    });
    g.bench_function("mkstemp (name + create + track; memory backend)", |b| {
        b.iter_custom(|iters| on_fresh(iters, |tmp| drop(black_box(tmp.mkstemp()))));
    });
    g.finish();
}

fn tracking(c: &mut Criterion) {
    const N: usize = 10_000;
    let (_fs, tmp, paths) = filled(N);
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
            let (_fs, tmp, paths) = filled(iters as usize);
            let t = Instant::now();
            for p in &paths {
                black_box(tmp.forget(p));
            }
            t.elapsed()
        });
    });
    g.bench_function("remove (lookup + unlink + untrack; memory backend)", |b| {
        b.iter_custom(|iters| {
            let (_fs, tmp, paths) = filled(iters as usize);
            let t = Instant::now();
            for p in &paths {
                let _ = black_box(tmp.remove(p));
            }
            t.elapsed()
        });
    });
    g.bench_function("cleanup (per tracked name; memory backend)", |b| {
        b.iter_custom(|iters| {
            let (_fs, tmp, _paths) = filled(iters as usize);
            let t = Instant::now();
            let report = black_box(tmp.cleanup());
            let elapsed = t.elapsed();
            assert!(report.is_complete(), "{report:?}");
            elapsed
        });
    });
    g.finish();
}

fn validation(c: &mut Criterion) {
    let (_fs, tmp) = instance();
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
