//! Malformed names and other instances' paths handed to every call that takes a name:
//! each is a typed error before any filesystem call (D4: one validated component), and
//! nothing anywhere changes.

use std::fs;
use std::io::Write;

use camino::Utf8PathBuf;
use tempdir_core::Error;

use super::{Bystander, Fixture, Tmp, tree};

/// What a bad name must be refused as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Outside,
    Invalid,
}

/// Every malformed name we know of for `tmp`, with how it must be refused. `elsewhere` is
/// an absolute path outside the directory.
fn bad_names(tmp: &Tmp, elsewhere: &str) -> Vec<(String, Refusal)> {
    use Refusal::{Invalid, Outside};
    let dir = tmp.dir().as_str();
    let own = tmp.dir().file_name().unwrap();
    let long = "x".repeat(256);
    vec![
        ("..".into(), Outside),
        ("../x".into(), Outside),
        (format!("../{own}/x"), Outside),
        ("a/b".into(), Outside),
        ("x/".into(), Outside),
        ("./x".into(), Outside),
        (elsewhere.into(), Outside),
        ("/etc/passwd".into(), Outside),
        ("/".into(), Outside),
        (format!("{dir}/.."), Outside),
        (format!("{dir}/a/b"), Outside),
        (format!("{dir}/../{own}/x"), Outside),
        (format!("{dir}x/x"), Outside),
        (dir.to_owned(), Outside),
        (String::new(), Invalid),
        (".".into(), Invalid),
        ("a\0b".into(), Invalid),
        ("\0".into(), Invalid),
        (long.clone(), Invalid),
        (format!("{dir}/"), Invalid),
        (format!("{dir}/."), Invalid),
        (format!("{dir}/{long}"), Invalid),
    ]
}

#[track_caller]
fn assert_refused(err: &Error, refusal: Refusal, name: &str) {
    let ok = match refusal {
        Refusal::Outside => matches!(err, Error::OutsideDirectory { .. }),
        Refusal::Invalid => matches!(err, Error::InvalidName { .. }),
    };
    assert!(ok, "{name:?}: expected {refusal:?}, got {err:?}");
}

/// An instance with one file of content and one `mktemp` name, a bystander outside, and
/// the snapshot of the whole fixture.
struct Scene {
    fx: Fixture,
    tmp: Tmp,
    bystander: Bystander,
}

impl Scene {
    fn new() -> Self {
        let fx = Fixture::new();
        let tmp = fx.make();
        let (mut file, _) = tmp.mkstemp().unwrap();
        file.write_all(b"ours").unwrap();
        tmp.mktemp().unwrap();
        let bystander = Bystander::new(&fx.outside.join("secret"));
        Scene { fx, tmp, bystander }
    }

    fn each(&self, call: impl Fn(&Tmp, &str, Refusal)) {
        let before = tree(self.fx.base());
        for (name, refusal) in bad_names(&self.tmp, self.bystander.path.as_str()) {
            call(&self.tmp, &name, refusal);
        }
        assert_eq!(
            tree(self.fx.base()),
            before,
            "a refused name changed something"
        );
        assert_eq!(self.tmp.tracked_count(), 2);
        self.bystander.assert_unchanged();
        assert!(self.tmp.cleanup().is_complete());
    }
}

#[test]
fn every_malformed_name_is_refused_by_create_and_makes_nothing() {
    Scene::new().each(|tmp, name, refusal| {
        let err = tmp.create(name).unwrap_err();
        assert_refused(&err, refusal, name);
    });
}

#[test]
fn every_malformed_name_is_refused_by_open() {
    Scene::new().each(|tmp, name, refusal| {
        let err = tmp.open(name).unwrap_err();
        assert_refused(&err, refusal, name);
    });
}

#[test]
fn every_malformed_name_is_refused_by_remove_and_removes_nothing() {
    Scene::new().each(|tmp, name, refusal| {
        let err = tmp.remove(name).unwrap_err();
        assert_refused(&err, refusal, name);
    });
}

#[test]
fn forget_and_is_tracked_of_malformed_names_say_no_and_change_nothing() {
    Scene::new().each(|tmp, name, _| {
        assert!(!tmp.is_tracked(name), "{name:?}");
        assert!(!tmp.forget(name), "{name:?}");
    });
}

#[test]
fn another_instances_paths_are_refused_by_every_call() {
    let fx = Fixture::new();
    let (ours, theirs) = (fx.make(), fx.make());
    let (mut file, made) = theirs.mkstemp().unwrap();
    file.write_all(b"theirs").unwrap();
    drop(file);
    let named = theirs.mktemp().unwrap();
    fs::write(&named, b"theirs too").unwrap();
    let before = tree(fx.base());
    let paths: Vec<Utf8PathBuf> = vec![
        made.clone(),
        named.clone(),
        theirs.dir().to_owned(),
        theirs.dir().join("x"),
    ];
    for path in &paths {
        let outside = |r: Result<(), Error>| matches!(r, Err(Error::OutsideDirectory { .. }));
        assert!(outside(ours.create(path).map(drop)), "create {path}");
        assert!(outside(ours.open(path).map(drop)), "open {path}");
        assert!(outside(ours.remove(path)), "remove {path}");
        assert!(!ours.forget(path) && !ours.is_tracked(path), "{path}");
    }
    // Their bare names are names in our directory, where nothing of theirs is.
    for path in [&made, &named] {
        let name = path.file_name().unwrap();
        assert!(matches!(ours.remove(name), Err(Error::NotTracked { .. })));
        let err = ours.open(name).unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err:?}");
        assert!(!ours.forget(name) && !ours.is_tracked(name));
    }
    assert_eq!(tree(fx.base()), before, "nothing of theirs was touched");
    assert!(theirs.is_tracked(&made) && theirs.is_tracked(&named));
    assert!(ours.cleanup().is_complete());
    assert_eq!(fs::read(&made).unwrap(), b"theirs");
    assert_eq!(theirs.cleanup().removed, 2);
}
