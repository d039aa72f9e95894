//! Differential property tests: one random sequence of operations by the user, a reaper
//! and an attacker, applied to two backends; what can be observed must be the same.
//!
//! Observed after each operation: its outcome (`Ok`, or the error variant with the
//! operation and `io::ErrorKind` for `Io`), every entry below the root (names relative to
//! the root, the kind, a file's content) and, for `cleanup`, the report's counts. Random
//! names differ between backends, so each is replaced by its order of creation (`H0`,
//! `H1`…; the directory is `DIR`). A divergence is a bug in one backend.
//!
//! Case count: `PROPTEST_CASES`, else 64.

use std::collections::BTreeMap;
use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tempdir_core::{Error, TemporaryDirectory};

use super::{Extra, Node, snapshot};

/// A name an operation works on: one handed out earlier (by index, modulo how many), or a
/// fixed bare name.
#[derive(Clone, Copy, Debug)]
pub enum NameRef {
    Handed(usize),
    Fixed(u8),
}

#[derive(Clone, Copy, Debug)]
pub enum Op {
    // The user.
    Mktemp,
    Mkstemp(u8),
    Create(NameRef),
    Open(NameRef),
    Remove(NameRef),
    Forget(NameRef),
    /// The caller creates a name (from `mktemp`) by path, as duplicity's users do.
    WriteByPath(NameRef),
    KeepAlive,
    Status,
    Cleanup,
    // A reaper.
    ReapFile(NameRef),
    ReapDir,
    // An attacker.
    RecreateDir,
    PlantFile(NameRef),
    PlantSymlink(NameRef),
    RenameDirAway,
}

fn name_ref() -> impl Strategy<Value = NameRef> {
    prop_oneof![
        3 => any::<usize>().prop_map(NameRef::Handed),
        1 => (0u8..3).prop_map(NameRef::Fixed),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Mktemp),
        3 => (0u8..16).prop_map(Op::Mkstemp),
        2 => name_ref().prop_map(Op::Create),
        2 => name_ref().prop_map(Op::Open),
        2 => name_ref().prop_map(Op::Remove),
        1 => name_ref().prop_map(Op::Forget),
        2 => name_ref().prop_map(Op::WriteByPath),
        1 => Just(Op::KeepAlive),
        1 => Just(Op::Status),
        1 => Just(Op::Cleanup),
        2 => name_ref().prop_map(Op::ReapFile),
        1 => Just(Op::ReapDir),
        1 => Just(Op::RecreateDir),
        1 => name_ref().prop_map(Op::PlantFile),
        1 => name_ref().prop_map(Op::PlantSymlink),
        1 => Just(Op::RenameDirAway),
    ]
}

/// One backend's run: the instance, the names it handed out in order, what was seen.
struct Run<H: Extra> {
    // Dropped first: the instance cleans up before the fixture's root goes.
    td: TemporaryDirectory<H::B>,
    h: H,
    handed: Vec<String>,
    seen: Vec<String>,
}

fn error_of(err: &Error) -> String {
    match err {
        Error::Io { op, source, .. } => format!("Io({op:?}, {:?})", source.kind()),
        other => {
            let text = format!("{other:?}");
            text.split([' ', '{', '(']).next().unwrap_or("").to_owned()
        }
    }
}

fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("err {}", error_of(e)),
    }
}

fn outside<T>(result: &std::io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("err {:?}", e.kind()),
    }
}

impl<H: Extra> Run<H> {
    fn new(h: H) -> Self {
        let td = h.make();
        h.write(&h.root().join("sentinel"), b"precious").unwrap();
        Run {
            h,
            td,
            handed: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn name(&self, r: NameRef) -> String {
        match r {
            NameRef::Handed(i) if !self.handed.is_empty() => {
                self.handed[i % self.handed.len()].clone()
            }
            NameRef::Handed(_) => "a".to_owned(),
            NameRef::Fixed(k) => ["a", "b", "c"][usize::from(k)].to_owned(),
        }
    }

    fn path(&self, r: NameRef) -> Utf8PathBuf {
        self.td.dir().join(self.name(r))
    }

    fn hand(&mut self, path: &Utf8Path) -> String {
        let name = path.file_name().expect("named").to_owned();
        self.handed.push(name);
        format!("ok H{}", self.handed.len() - 1)
    }

    /// A name as both backends would write it.
    fn map(&self, component: &str) -> String {
        if component == self.td.dir().file_name().expect("named") {
            return "DIR".to_owned();
        }
        match self.handed.iter().position(|n| n == component) {
            Some(i) => format!("H{i}"),
            None => component.to_owned(),
        }
    }

    fn apply(&mut self, op: Op) {
        let said = match op {
            Op::Mktemp => match self.td.mktemp() {
                Ok(p) => self.hand(&p),
                Err(e) => format!("err {}", error_of(&e)),
            },
            Op::Mkstemp(len) => match self.td.mkstemp() {
                Ok((mut f, p)) => {
                    let wrote = f.write_all(&vec![b'x'; usize::from(len)]);
                    format!("{} write {}", self.hand(&p), outside(&wrote))
                }
                Err(e) => format!("err {}", error_of(&e)),
            },
            Op::Create(r) => outcome(&self.td.create(self.name(r))),
            Op::Open(r) => outcome(&self.td.open(self.name(r))),
            Op::Remove(r) => outcome(&self.td.remove(self.name(r))),
            Op::Forget(r) => self.td.forget(self.name(r)).to_string(),
            Op::WriteByPath(r) => outside(&self.h.write(&self.path(r), b"by path")),
            Op::KeepAlive => outcome(&self.td.keep_alive()),
            Op::Status => format!("{:?}", self.td.status()),
            Op::Cleanup => {
                let r = self.td.cleanup();
                format!(
                    "removed={} already_gone={} dir_removed={} status={:?} left={} \
                     untracked={} failures={:?}",
                    r.removed,
                    r.already_gone,
                    r.dir_removed,
                    r.status,
                    r.left_in_place.len(),
                    r.untracked.len(),
                    r.failures.iter().map(error_of).collect::<Vec<_>>()
                )
            }
            Op::ReapFile(r) => outside(&self.h.remove_file(&self.path(r))),
            Op::ReapDir => outside(&self.h.remove_dir(self.td.dir())),
            Op::RecreateDir => outside(&self.h.create_dir(self.td.dir())),
            Op::PlantFile(r) => outside(&self.h.write(&self.path(r), b"planted")),
            Op::PlantSymlink(r) => {
                let target = self.h.root().join("sentinel");
                outside(&self.h.symlink(&target, &self.path(r)))
            }
            Op::RenameDirAway => {
                outside(&self.h.rename(self.td.dir(), &self.h.root().join("moved")))
            }
        };
        let tree: BTreeMap<String, String> = snapshot(&self.h, self.h.root())
            .into_iter()
            .map(|(rel, node)| {
                let rel = rel
                    .split('/')
                    .map(|c| self.map(c))
                    .collect::<Vec<_>>()
                    .join("/");
                let node = match node {
                    Node::Dir(_) => "dir".to_owned(),
                    Node::File(_, data) => {
                        format!(
                            "file {:?}",
                            data.map(|d| String::from_utf8_lossy(&d).into_owned())
                        )
                    }
                    Node::Symlink(_) => "symlink".to_owned(),
                };
                (rel, node)
            })
            .collect();
        self.seen.push(format!(
            "{op:?} -> {said} | tracked={} | {tree:?}",
            self.td.tracked_count()
        ));
    }
}

/// Runs `PROPTEST_CASES` (64) random sequences on a fresh `A` and a fresh `B` each and
/// requires identical observations.
pub fn same_observations<A: Extra, B: Extra>(make_a: impl Fn() -> A, make_b: impl Fn() -> B) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let ops_run = std::cell::Cell::new(0usize);
    let result = runner.run(&proptest::collection::vec(op(), 1..28), |ops| {
        let (mut a, mut b) = (Run::new(make_a()), Run::new(make_b()));
        for (i, &op) in ops.iter().enumerate() {
            a.apply(op);
            b.apply(op);
            ops_run.set(ops_run.get() + 1);
            if a.seen[i] != b.seen[i] {
                return Err(TestCaseError::fail(format!(
                    "diverged at op {i} {op:?}\n  {}: {}\n  {}: {}\n  history: {:?}",
                    a.h.name(),
                    a.seen[i],
                    b.h.name(),
                    b.seen[i],
                    &a.seen[..i]
                )));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    println!(
        "differential: {cases} cases, {} operations (shrinking included) compared",
        ops_run.get()
    );
}
