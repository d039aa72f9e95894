//! The bad-input matrix: names, prefixes and suffixes, roots, forgetting what is not ours,
//! use after cleanup. Each bad input gets one specific error kind (a variant, or an
//! `io::ErrorKind` with the operation) and leaves the filesystem exactly as it was: the
//! root is snapshotted recursively before and after and the two compared.
//!
//! Non-UTF-8 *names* cannot be passed: every method takes `AsRef<Utf8Path>`, so the type
//! system refuses them. Where non-UTF-8 can still come in — `TMPDIR`, and entry names
//! planted in the directory that cleanup lists — the disk cases cover it.

use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Builder, DirStatus, Error, Op, TemporaryDirectory};

use super::{Extra, snapshot};

/// The error class a bad name must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Outside,
    Invalid,
}

fn class(err: &Error) -> Option<Want> {
    match err {
        Error::OutsideDirectory { .. } => Some(Want::Outside),
        Error::InvalidName { .. } => Some(Want::Invalid),
        _ => None,
    }
}

/// Names no method may accept, with the class each must get. `dir` is the instance's
/// directory, `root` the root it is in.
fn bad_names(dir: &Utf8Path, root: &Utf8Path) -> Vec<(String, Want)> {
    let dir_s = dir.as_str();
    let dir_name = dir.file_name().expect("the directory has a name");
    // The directory's path less its last byte: a string prefix of it, not a parent.
    let dir_less_one = &dir_s[..dir_s.len() - 1];
    let mut names = vec![
        ("..".to_owned(), Want::Outside),
        (".".to_owned(), Want::Invalid),
        ("/".to_owned(), Want::Outside),
        ("".to_owned(), Want::Invalid),
        ("a\0b".to_owned(), Want::Invalid),
        ("\0".to_owned(), Want::Invalid),
        ("a/b".to_owned(), Want::Outside),
        ("a/b/c".to_owned(), Want::Outside),
        ("./x".to_owned(), Want::Outside),
        ("../x".to_owned(), Want::Outside),
        ("x/".to_owned(), Want::Outside),
        ("x/.".to_owned(), Want::Outside),
        ("x/..".to_owned(), Want::Outside),
        ("//x".to_owned(), Want::Outside),
        ("/etc/passwd".to_owned(), Want::Outside),
        ("/x".to_owned(), Want::Outside),
        (root.join("sibling").into_string(), Want::Outside),
        (root.as_str().to_owned(), Want::Outside),
        (dir_s.to_owned(), Want::Outside),
        (format!("{dir_s}/"), Want::Invalid),
        (format!("{dir_s}/."), Want::Invalid),
        (format!("{dir_s}/.."), Want::Outside),
        (format!("{dir_s}//x"), Want::Outside),
        (format!("{dir_s}/a/b"), Want::Outside),
        (format!("{dir_s}/../x"), Want::Outside),
        (format!("{dir_s}x"), Want::Outside),
        (format!("{dir_s}x/y"), Want::Outside),
        (format!("{dir_less_one}/x"), Want::Outside),
        (format!("{dir_name}/x"), Want::Outside),
        (format!("{dir_s}/{}", "x".repeat(256)), Want::Invalid),
        ("x".repeat(256), Want::Invalid),
        ("x".repeat(4096), Want::Invalid),
        // 128 two-byte characters: 128 chars, 256 bytes; the limit is in bytes.
        ("é".repeat(128), Want::Invalid),
        (format!("{dir_s}/a\0"), Want::Invalid),
    ];
    if !root.as_str().ends_with('/') {
        names.push((format!("{}/../x", root), Want::Outside));
    }
    names
}

/// Names that look odd but are single valid components: they must work.
fn odd_names(dir: &Utf8Path) -> Vec<String> {
    vec![
        "...".to_owned(),
        "..x".to_owned(),
        ".x".to_owned(),
        " ".to_owned(),
        "  a  ".to_owned(),
        "\t".to_owned(),
        "line\nbreak".to_owned(),
        "-".to_owned(),
        "~".to_owned(),
        "back\\slash".to_owned(),
        "snow☃man".to_owned(),
        "日本語".to_owned(),
        "\u{1F600}".to_owned(),
        "x".repeat(255),
        // 127 two-byte characters and one byte: exactly 255 bytes.
        format!("{}x", "é".repeat(127)),
        // The directory's own name, as a file inside it.
        dir.file_name().expect("named").to_owned(),
    ]
    .into_iter()
    // Windows takes none of these as one file name: they are refused there, not odd.
    .filter(|name| {
        !cfg!(windows)
            || !(name.ends_with(['.', ' ']) || name.contains(|c: char| c == '\\' || c < ' '))
    })
    .collect()
}

pub fn bad_names_are_refused_and_change_nothing<H: Extra>() {
    let h = H::new();
    let td = h.make();
    // A tracked file and a foreign one, so that a wrong resolution would have a target.
    let (_f, ours) = td.mkstemp().unwrap();
    h.write(&h.root().join("sibling"), b"foreign").unwrap();
    let before = snapshot(&h, h.root());
    let tracked = td.tracked_count();
    let names = bad_names(td.dir(), h.root());
    let mut checks = 0;
    for (name, want) in &names {
        let path = Utf8Path::new(name);
        let outcomes = [
            ("create", td.create(path).map(drop)),
            ("open", td.open(path).map(drop)),
            ("remove", td.remove(path)),
        ];
        for (op, outcome) in outcomes {
            let err = outcome.expect_err(&format!("{op}({name:?}) must be refused"));
            assert_eq!(class(&err), Some(*want), "{op}({name:?}): {err:?}");
            checks += 1;
        }
        assert!(!td.forget(path), "forget({name:?})");
        assert!(!td.is_tracked(path), "is_tracked({name:?})");
        checks += 2;
        assert_eq!(td.tracked_count(), tracked, "after {name:?}");
        assert_eq!(snapshot(&h, h.root()), before, "after {name:?}");
    }
    assert!(td.is_tracked(&ours));
    assert_eq!(td.status(), DirStatus::Intact);
    println!(
        "bad inputs: {} names x 5 operations = {checks} checks on {}",
        names.len(),
        h.name()
    );
}

pub fn odd_but_valid_names_work<H: Extra>() {
    let h = H::new();
    let td = h.make();
    let names = odd_names(td.dir());
    for name in &names {
        let before = snapshot(&h, h.root());
        td.create(name.as_str())
            .unwrap_or_else(|e| panic!("create({name:?}): {e:?}"));
        let full = td.dir().join(name);
        assert!(h.exists(&full), "{name:?} is in the directory");
        assert!(td.is_tracked(name.as_str()) && td.is_tracked(&full));
        td.open(&full)
            .unwrap_or_else(|e| panic!("open({name:?}): {e:?}"));
        assert!(matches!(
            td.create(name.as_str()),
            Err(Error::AlreadyExists { .. })
        ));
        td.remove(name.as_str())
            .unwrap_or_else(|e| panic!("remove({name:?}): {e:?}"));
        assert_eq!(snapshot(&h, h.root()), before, "after {name:?}");
    }
    // Kept to cleanup this time.
    for name in &names {
        td.create(name.as_str()).unwrap();
    }
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.removed, names.len());
    assert!(h.read_dir(h.root()).is_empty());
    println!("odd valid names: {} on {}", names.len(), h.name());
}

pub fn bad_affixes_are_refused_and_change_nothing<H: Extra>() {
    let h = H::new();
    let before = snapshot(&h, h.root());
    let root = h.root().to_owned();
    let bad = [
        "/",
        "a/b",
        "../",
        "..//x",
        "/tmp/x",
        root.as_str(),
        "\0",
        "a\0",
        &"p".repeat(248),
        &"é".repeat(124),
    ];
    let mut count = 0;
    for affix in bad {
        for (prefix, suffix) in [(affix, ""), ("", affix), (affix, affix)] {
            let err = Builder::new()
                .prefix(prefix)
                .suffix(suffix)
                .build(h.backend())
                .expect_err(&format!("prefix {prefix:?} suffix {suffix:?}"));
            assert!(
                matches!(err, Error::InvalidName { .. }),
                "prefix {prefix:?} suffix {suffix:?}: {err:?}"
            );
            count += 1;
        }
    }
    // Each fits alone, together they are longer than a component.
    let half = "h".repeat(124);
    let err = Builder::new()
        .prefix(half.as_str())
        .suffix(half.as_str())
        .build(h.backend())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
    count += 1;
    assert_eq!(snapshot(&h, h.root()), before);
    println!("bad affixes: {count} on {}", h.name());
}

pub fn odd_but_valid_affixes_work<H: Extra>() {
    let h = H::new();
    let before = snapshot(&h, h.root());
    let exact = "p".repeat(247);
    let cases: [(&str, &str); 9] = [
        ("", ""),
        (".", ""),
        ("..", ".."),
        ("-", "~"),
        (" ", "\t"),
        ("☃", "日本"),
        (exact.as_str(), ""),
        ("", exact.as_str()),
        ("tempdirs-", "-tempdirs"),
    ];
    for (prefix, suffix) in cases {
        // A control character is no part of a file name on Windows.
        if cfg!(windows) && format!("{prefix}{suffix}").contains(|c: char| c < ' ') {
            continue;
        }
        let td = Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .build(h.backend())
            .unwrap_or_else(|e| panic!("prefix {prefix:?} suffix {suffix:?}: {e:?}"));
        let name = td.dir().file_name().unwrap();
        assert!(
            name.starts_with(prefix) && name.ends_with(suffix),
            "{name:?}"
        );
        assert_eq!(name.len(), prefix.len() + 8 + suffix.len());
        assert_eq!(td.dir().parent(), Some(h.root()));
        assert!(h.is_dir(td.dir()));
        td.mkstemp().unwrap();
        assert!(td.cleanup().is_complete());
        assert_eq!(snapshot(&h, h.root()), before, "{prefix:?} {suffix:?}");
    }
    println!("odd valid affixes: {} on {}", cases.len(), h.name());
}

/// The raw errno behind an `Error::Io`.
fn raw_errno(err: &Error) -> Option<i32> {
    match err {
        // The memory backend's errors carry an `Errno` where the OS numbers differ (WASI).
        Error::Io { source, .. } => source
            .raw_os_error()
            .or_else(|| tempdir_memory::Errno::of(source).map(tempdir_memory::Errno::code)),
        _ => None,
    }
}

pub fn bad_roots_are_refused_and_change_nothing<H: Extra>() {
    let h = H::new();
    let root = h.root().to_owned();
    h.write(&root.join("a-file"), b"x").unwrap();
    h.symlink(&root.join("nowhere"), &root.join("dangling"))
        .unwrap();
    h.symlink(&root.join("loop-b"), &root.join("loop-a"))
        .unwrap();
    h.symlink(&root.join("loop-a"), &root.join("loop-b"))
        .unwrap();
    h.symlink(&root.join("a-file"), &root.join("to-file"))
        .unwrap();
    let before = snapshot(&h, &root);
    let enotdir = tempdir_memory::Errno::ENOTDIR.code();
    let eloop = tempdir_memory::Errno::ELOOP.code();
    let enoent = tempdir_memory::Errno::ENOENT.code();
    let cases: Vec<(Utf8PathBuf, i32)> = vec![
        (root.join("missing"), enoent),
        (root.join("missing/deeper"), enoent),
        (root.join("a-file"), enotdir),
        (root.join("a-file/x"), enotdir),
        (root.join("dangling"), enoent),
        (root.join("to-file"), enotdir),
        (root.join("loop-a"), eloop),
        (root.join("loop-a/x"), eloop),
    ];
    for (bad, errno) in &cases {
        let err = h
            .backend_in(bad)
            .and_then(TemporaryDirectory::with_backend)
            .expect_err(&format!("root {bad}"));
        assert_eq!(err.op(), Some(Op::OpenRoot), "{bad}: {err:?}");
        assert_eq!(raw_errno(&err), Some(*errno), "{bad}: {err:?}");
        assert_eq!(snapshot(&h, &root), before, "after {bad}");
    }
    println!("bad roots: {} on {}", cases.len(), h.name());
}

/// Decision: a root that is a symlink to a directory is followed **once, when the root is
/// opened**, as `std::env::temp_dir()` users expect (`/tmp` is a symlink on some systems,
/// macOS's `/var` is one). From then on the root is a handle: the symlink being changed
/// later redirects nothing, and no name *inside* the root is ever followed.
pub fn a_symlink_to_a_directory_is_followed_at_open<H: Extra>() {
    let h = H::new();
    let real = h.root().join("real");
    let link = h.root().join("link");
    h.create_dir(&real).unwrap();
    h.symlink(&real, &link).unwrap();
    let before = snapshot(&h, h.root());
    let td = TemporaryDirectory::with_backend(h.backend_in(&link).expect("a symlinked root opens"))
        .expect("made through the symlink");
    // Resolved at open: the paths handed out are the real ones, so re-pointing the link
    // later cannot redirect them.
    assert_eq!(td.dir().parent(), Some(real.as_path()));
    let name = td.dir().file_name().unwrap().to_owned();
    assert!(h.is_dir(&real.join(&name)), "made in the target");
    let (_f, path) = td.mkstemp().unwrap();
    assert!(h.exists(&real.join(&name).join(path.file_name().unwrap())));
    // The link is pointed elsewhere: the instance keeps to its root handle, so its
    // directory is still intact *there*, files still go into it, and nothing goes into the
    // new target; the paths it hands out still lead to its files.
    let elsewhere = h.root().join("elsewhere");
    h.create_dir(&elsewhere).unwrap();
    h.remove_file(&link).unwrap();
    h.symlink(&elsewhere, &link).unwrap();
    assert_eq!(td.status(), DirStatus::Intact);
    let (_g, second) = td.mkstemp().unwrap();
    assert_eq!(h.read_dir(&real.join(&name)).len(), 2);
    assert!(h.exists(&second), "a handed-out path leads to its file");
    assert!(h.read_dir(&elsewhere).is_empty());
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert!(h.read_dir(&real).is_empty());
    h.remove_file(&link).unwrap();
    h.symlink(&real, &link).unwrap();
    h.remove_dir(&elsewhere).unwrap();
    assert_eq!(snapshot(&h, h.root()), before);
}

pub fn an_unwritable_root_is_permission_denied<H: Extra>() {
    let h = H::new();
    let ro = h.root().join("read-only");
    if !h.make_unwritable_dir(&ro) {
        return crate::harness::unsupported(
            &h,
            "an_unwritable_root_is_permission_denied",
            "running as root: every directory is writable",
        );
    }
    let before = snapshot(&h, h.root());
    let err = h
        .backend_in(&ro)
        .and_then(TemporaryDirectory::with_backend)
        .unwrap_err();
    assert_eq!(err.op(), Some(Op::CreateDir), "{err:?}");
    assert_eq!(err.io_kind(), Some(io::ErrorKind::PermissionDenied));
    assert_eq!(snapshot(&h, h.root()), before);
    h.make_writable(&ro);
}

pub fn forgetting_unknown_or_foreign_names_changes_nothing<H: Extra>() {
    let h = H::new();
    let td = h.make();
    let other = h.make();
    let (_f, ours) = td.mkstemp().unwrap();
    let (_g, theirs) = other.mkstemp().unwrap();
    let planted = td.dir().join("planted");
    h.write(&planted, b"planted").unwrap();
    let before = snapshot(&h, h.root());
    // (name, whether `remove` must call it outside the directory rather than untracked)
    let unknown: Vec<(Utf8PathBuf, bool)> = vec![
        ("never-handed-out".into(), false),
        (planted.clone(), false),
        ("planted".into(), false),
        (theirs.clone(), true),
        (theirs.file_name().unwrap().into(), false),
        (other.dir().to_owned(), true),
        (h.root().join("sibling"), true),
        (td.dir().to_owned(), true),
    ];
    for (name, outside) in &unknown {
        assert!(!td.forget(name), "forget({name})");
        let err = td.remove(name).unwrap_err();
        if *outside {
            assert!(
                matches!(err, Error::OutsideDirectory { .. }),
                "{name}: {err:?}"
            );
        } else {
            assert!(matches!(err, Error::NotTracked { .. }), "{name}: {err:?}");
        }
    }
    assert_eq!(snapshot(&h, h.root()), before);
    assert!(td.is_tracked(&ours) && other.is_tracked(&theirs));
    assert!(td.forget(&ours), "ours is forgotten once");
    assert!(!td.forget(&ours), "and only once");
    assert!(h.exists(&ours), "forget never touches the file");
    let report = td.cleanup();
    assert!(!report.dir_removed, "untracked entries keep the directory");
    assert_eq!(report.untracked.len(), 2, "{report:?}");
    assert_eq!(h.read(&planted).unwrap(), b"planted");
    println!("unknown forgets: {} on {}", unknown.len() + 1, h.name());
}

pub fn use_after_cleanup_is_cleaned_up_and_changes_nothing<H: Extra>() {
    let h = H::new();
    let td = h.make();
    let (_f, path) = td.mkstemp().unwrap();
    let handed = td.mktemp().unwrap();
    assert!(td.cleanup().is_complete());
    let before = snapshot(&h, h.root());
    assert!(before.is_empty(), "{before:?}");
    assert!(matches!(td.mktemp(), Err(Error::CleanedUp)));
    assert!(matches!(td.mkstemp(), Err(Error::CleanedUp)));
    assert!(matches!(td.mkstemp_file(), Err(Error::CleanedUp)));
    assert!(matches!(td.keep_alive(), Err(Error::CleanedUp)));
    for name in [path.as_path(), handed.as_path(), Utf8Path::new("fresh")] {
        assert!(matches!(td.create(name), Err(Error::CleanedUp)), "{name}");
        assert!(matches!(td.open(name), Err(Error::CleanedUp)), "{name}");
        assert!(matches!(td.remove(name), Err(Error::CleanedUp)), "{name}");
        assert!(!td.forget(name) && !td.is_tracked(name));
    }
    // Name checks need no filesystem and come first, cleaned up or not.
    assert!(matches!(
        td.create("../x"),
        Err(Error::OutsideDirectory { .. })
    ));
    assert!(matches!(td.open(""), Err(Error::InvalidName { .. })));
    assert_eq!(td.status(), DirStatus::CleanedUp);
    assert!(td.is_cleaned_up());
    let again = td.cleanup();
    assert_eq!(again.status, DirStatus::CleanedUp);
    assert_eq!((again.removed, again.dir_removed), (0, false));
    assert!(again.failures.is_empty() && again.untracked.is_empty());
    assert_eq!(td.tracked_count(), 0);
    // A directory made at the old path since is not ours: left alone.
    h.create_dir(td.dir()).unwrap();
    h.write(&path, b"someone else's").unwrap();
    let later = snapshot(&h, h.root());
    drop(td);
    assert_eq!(snapshot(&h, h.root()), later);
    h.remove_file(&path).unwrap();
    h.remove_dir(path.parent().unwrap()).unwrap();
}
