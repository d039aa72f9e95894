//! What a user of the `tempfile` crate reaches for, on every backend: named files that go
//! when dropped and move into place with `persist`, unnamed files, a builder for names and
//! modes, `keep`, and, for test directories that code under test writes into by path,
//! `adopt` and `cleanup_all`. Each case runs per backend through [`Surface`], which adds to
//! the conformance [`Harness`] what these cases need: a backend without ambient authority,
//! and a directory on another filesystem.

use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Builder, DirStatus, Error, NamedTempFile, Op, TemporaryDirectory};

use crate::harness::{
    Harness, NO_SYMLINKS, OPEN_KEEPS_NAME, join, symlink_or_unsupported, unsupported,
};

/// What these cases need beyond the conformance harness.
pub trait Surface: Harness {
    /// A backend on the fixture's root without ambient authority: a host's granted handle.
    fn confined_backend(&self) -> Self::B;
    /// A fresh, empty directory on another filesystem than the fixture's root, and what
    /// removes it; `None` where there is none.
    fn other_device(&self) -> Option<(Utf8PathBuf, Scratch)>;
}

/// Removes a fixture directory made outside the harness's root when the case ends.
pub struct Scratch(Option<Utf8PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            // The fixture's recursive delete, never the library's.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Instantiates every case below for a harness, as `#[test]` functions.
#[macro_export]
macro_rules! tempfile_surface {
    ($harness:ty) => {
        $crate::tempfile_surface!(@cases $harness;
            named_tempfile_is_private_tracked_and_removed_on_drop,
            named_tempfile_close_and_cleanup_both_remove_it,
            persist_replaces_the_destination_and_stops_tracking,
            persist_replaces_a_symlink_at_the_destination_not_its_target,
            persist_noclobber_refuses_a_taken_name_and_hands_the_file_back,
            persist_across_filesystems_is_crosses_devices_and_keeps_the_file,
            persist_after_the_directory_was_reaped_says_so_and_keeps_the_file,
            persist_after_cleanup_is_cleaned_up_and_keeps_the_open_file,
            persist_of_a_reaped_file_says_it_vanished,
            persist_refuses_what_is_not_a_file_name_and_reports_the_rest,
            persist_without_ambient_authority_stays_beneath_the_root,
            keep_leaves_the_file_and_stops_tracking,
            keep_after_a_reap_is_refused,
            owned_named_tempfile_has_a_directory_of_its_own,
            owned_named_tempfile_persist_takes_its_directory_along,
            owned_named_tempfile_keep_keeps_its_directory,
            unnamed_files_leave_no_name,
            unnamed_files_after_cleanup_or_a_reap_are_refused_or_nameless,
            builder_names_and_modes_files,
            builder_refuses_bad_names_and_modes_and_makes_nothing,
            mkstemp_names_stay_duplicitys,
            directory_keep_leaves_everything,
            adopt_tracks_entries_made_by_path,
            adopted_directory_is_left_by_cleanup_and_removed_by_cleanup_all,
            cleanup_all_removes_a_tree_and_never_follows_a_symlink,
            cleanup_stays_non_recursive_by_default,
            remove_untracked_makes_the_drop_remove_the_tree,
            cleanup_all_reports_what_it_cannot_remove_and_retries,
            errors_become_io_errors_of_a_sensible_kind,
            names_and_roots_take_std_paths,
        );
        $crate::tempfile_surface!(@named $harness;
            file_modes_are_exact_under_any_umask,
        );
    };
    (@cases $harness:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::tempfile_surface::$case::<$harness>();
            }
        )*
    };
    (@named $harness:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::tempfile_surface::$case::<$harness>(concat!(
                    module_path!(),
                    "::",
                    stringify!($case)
                ));
            }
        )*
    };
}

/// Reads a whole open file from its start.
fn read_all(file: &mut impl ReadSeek) -> Vec<u8> {
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut back = Vec::new();
    file.read_to_end(&mut back).unwrap();
    back
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// A reaper: the file at `path`, if any, then the (now empty) directory.
fn reap<H: Harness>(h: &H, path: &Utf8Path, dir: &Utf8Path) {
    let _ = h.remove_file(path);
    h.remove_dir(dir)
        .expect("the reaper removes the empty directory");
}

/// A directory in the root for destinations.
fn dest_dir<H: Harness>(h: &H) -> Utf8PathBuf {
    let dest = join(h.root(), "dest");
    h.create_dir(&dest).unwrap();
    dest
}

pub fn named_tempfile_is_private_tracked_and_removed_on_drop<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let mut file = td.named_tempfile().unwrap();
    let path = file.path().to_owned();
    assert_eq!(path.parent(), Some(td.dir()));
    assert!(path.file_name().unwrap().starts_with("tmp-"), "{path}");
    assert!(td.is_tracked(&path));
    if let Some(mode) = h.mode(&path) {
        assert_eq!(mode, 0o600);
    }
    file.write_all(b"abc").unwrap();
    file.as_file_mut().write_all(b"d").unwrap();
    assert_eq!(read_all(&mut file), b"abcd");
    assert_eq!(h.read(&path).unwrap(), b"abcd");
    assert_eq!(read_all(&mut file.reopen().unwrap()), b"abcd");
    let as_path: &Path = file.as_ref();
    assert_eq!(as_path, path.as_std_path());
    assert_eq!(file.directory().dir(), td.dir());
    drop(file);
    assert!(!h.exists(&path), "the drop removed the name");
    assert_eq!(td.tracked_count(), 0);
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
}

pub fn named_tempfile_close_and_cleanup_both_remove_it<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "named_tempfile_close_and_cleanup_both_remove_it",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let closed = td.named_tempfile().unwrap();
    let path = closed.path().to_owned();
    closed.close().unwrap();
    assert!(!h.exists(&path));
    // A file still open when cleanup runs: cleanup removes it, its drop then has nothing
    // to do.
    let mut open = td.named_tempfile().unwrap();
    let path = open.path().to_owned();
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.removed, 1);
    open.write_all(b"still writable").unwrap();
    assert!(open.close().is_ok());
    assert!(!h.exists(&path));
}

pub fn persist_replaces_the_destination_and_stops_tracking<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let dest = join(&dest_dir(&h), "final.txt");
    h.write(&dest, b"old").unwrap();
    let mut file = td.named_tempfile().unwrap();
    let path = file.path().to_owned();
    file.write_all(b"new").unwrap();
    let mut persisted = file.persist(dest.as_std_path()).unwrap();
    assert_eq!(h.read(&dest).unwrap(), b"new");
    assert!(!h.exists(&path));
    assert!(!td.is_tracked(&path));
    // The same open file, now at its new name.
    persisted.write_all(b"!").unwrap();
    assert_eq!(h.read(&dest).unwrap(), b"new!");
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert!(h.exists(&dest), "cleanup never touches what was persisted");
}

pub fn persist_replaces_a_symlink_at_the_destination_not_its_target<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let dir = dest_dir(&h);
    let target = join(&dir, "target");
    h.write(&target, b"precious").unwrap();
    let link = join(&dir, "link");
    if !symlink_or_unsupported(
        &h,
        "persist_replaces_a_symlink_at_the_destination_not_its_target",
        &target,
        &link,
    ) {
        return;
    }
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"ours").unwrap();
    // Without replacing: the symlink is something at the name.
    let failed = file.persist_noclobber(&link).unwrap_err();
    assert!(
        matches!(failed.error, Error::AlreadyExists { .. }),
        "{failed:?}"
    );
    assert!(h.is_symlink(&link));
    // Replacing: the link itself is replaced; what it pointed to is not written.
    failed.file.persist(&link).unwrap();
    assert!(!h.is_symlink(&link));
    assert_eq!(h.read(&link).unwrap(), b"ours");
    assert_eq!(h.read(&target).unwrap(), b"precious");
}

pub fn persist_noclobber_refuses_a_taken_name_and_hands_the_file_back<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let dir = dest_dir(&h);
    let taken = join(&dir, "taken");
    h.write(&taken, b"theirs").unwrap();
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"ours").unwrap();
    let failed = file.persist_noclobber(&taken).unwrap_err();
    assert!(
        matches!(failed.error, Error::AlreadyExists { .. }),
        "{failed:?}"
    );
    assert_eq!(failed.error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(h.read(&taken).unwrap(), b"theirs", "left as it was");
    let mut file = failed.into_file();
    assert!(h.exists(file.path()) && td.is_tracked(file.path()));
    assert_eq!(read_all(&mut file), b"ours");
    let free = join(&dir, "free");
    file.persist_noclobber(&free).unwrap();
    assert_eq!(h.read(&free).unwrap(), b"ours");
    assert_eq!(td.tracked_count(), 0);
}

pub fn persist_across_filesystems_is_crosses_devices_and_keeps_the_file<H: Surface>() {
    let h = H::new();
    let Some((other, _scratch)) = h.other_device() else {
        return unsupported(
            &h,
            "persist_across_filesystems_is_crosses_devices_and_keeps_the_file",
            "no second filesystem",
        );
    };
    let td = h.make();
    let dest = join(&other, "moved");
    for replace in [true, false] {
        let mut file = td.named_tempfile().unwrap();
        file.write_all(b"data").unwrap();
        let failed = if replace {
            file.persist(&dest).unwrap_err()
        } else {
            file.persist_noclobber(&dest).unwrap_err()
        };
        assert!(
            matches!(failed.error, Error::CrossesDevices { .. }),
            "{failed:?}"
        );
        assert_eq!(failed.error.kind(), ErrorKind::CrossesDevices);
        assert!(!h.exists(&dest), "never a copy");
        let file = failed.file;
        assert_eq!(h.read(file.path()).unwrap(), b"data");
        assert!(td.is_tracked(file.path()));
    }
    assert!(td.cleanup().is_complete());
}

pub fn persist_after_the_directory_was_reaped_says_so_and_keeps_the_file<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "persist_after_the_directory_was_reaped_says_so_and_keeps_the_file",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let dest = join(&dest_dir(&h), "final");
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"in use").unwrap();
    reap(&h, file.path(), td.dir());
    let failed = file.persist(&dest).unwrap_err();
    assert!(matches!(failed.error, Error::Reaped { .. }), "{failed:?}");
    assert!(!h.exists(&dest));
    let mut file = failed.file;
    assert_eq!(
        read_all(&mut file),
        b"in use",
        "the open file still holds it"
    );
}

pub fn persist_after_cleanup_is_cleaned_up_and_keeps_the_open_file<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "persist_after_cleanup_is_cleaned_up_and_keeps_the_open_file",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let dest = join(&dest_dir(&h), "final");
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"late").unwrap();
    assert!(td.cleanup().is_complete());
    let failed = file.persist(&dest).unwrap_err();
    assert!(matches!(failed.error, Error::CleanedUp), "{failed:?}");
    let failed = failed.file.keep().unwrap_err();
    assert!(matches!(failed.error, Error::CleanedUp), "{failed:?}");
    let mut file = failed.file;
    assert_eq!(read_all(&mut file), b"late");
    assert!(!h.exists(&dest));
}

pub fn persist_of_a_reaped_file_says_it_vanished<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "persist_of_a_reaped_file_says_it_vanished",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let dest = join(&dest_dir(&h), "final");
    let file = td.named_tempfile().unwrap();
    h.remove_file(file.path()).unwrap();
    let failed = file.persist(&dest).unwrap_err();
    assert!(matches!(failed.error, Error::Vanished { .. }), "{failed:?}");
    assert_eq!(failed.error.kind(), ErrorKind::NotFound);
    assert!(!h.exists(&dest));
}

pub fn persist_refuses_what_is_not_a_file_name_and_reports_the_rest<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let dir = dest_dir(&h);
    let mut file = td.named_tempfile().unwrap();
    for bad in [format!("{dir}/"), format!("{dir}/."), format!("{dir}/..")] {
        let failed = file.persist(&bad).unwrap_err();
        assert!(
            matches!(failed.error, Error::InvalidName { .. }),
            "{bad}: {failed:?}"
        );
        file = failed.file;
    }
    // A directory at the destination: the kernel refuses to replace it with a file.
    let failed = file.persist(&dir).unwrap_err();
    assert_eq!(failed.error.op(), Some(Op::Persist), "{failed:?}");
    assert_eq!(failed.error.io_kind(), Some(ErrorKind::IsADirectory));
    // A destination directory that does not exist.
    let missing = join(h.root(), "no/such/dir/file");
    let failed = failed.file.persist(&missing).unwrap_err();
    assert_eq!(failed.error.op(), Some(Op::Persist), "{failed:?}");
    assert_eq!(failed.error.io_kind(), Some(ErrorKind::NotFound));
    assert!(td.is_tracked(failed.file.path()));
    assert!(h.is_dir(&dir));
}

pub fn persist_without_ambient_authority_stays_beneath_the_root<H: Surface>() {
    let h = H::new();
    let td = TemporaryDirectory::with_backend(h.confined_backend()).unwrap();
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"sandboxed").unwrap();
    let root = h.root();
    let outside = [
        Utf8PathBuf::from("/elsewhere/file"),
        join(root, "../escaped"),
        join(root, "dest/../../escaped"),
        Utf8PathBuf::from("relative"),
    ];
    for dest in outside {
        let failed = file.persist(&dest).unwrap_err();
        assert!(
            matches!(failed.error, Error::OutsideRoot { .. }),
            "{dest}: {failed:?}"
        );
        assert_eq!(failed.error.kind(), ErrorKind::PermissionDenied);
        file = failed.file;
    }
    let inside = join(&dest_dir(&h), "final");
    file.persist(&inside).unwrap();
    assert_eq!(h.read(&inside).unwrap(), b"sandboxed");
    // The root itself is beneath the root.
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"top").unwrap();
    file.persist(join(root, "top")).unwrap();
    assert_eq!(h.read(&join(root, "top")).unwrap(), b"top");
}

pub fn keep_leaves_the_file_and_stops_tracking<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let mut file = td.named_tempfile().unwrap();
    file.write_all(b"kept").unwrap();
    let (mut kept, path) = file.keep().unwrap();
    kept.write_all(b"!").unwrap();
    drop(kept);
    assert!(!td.is_tracked(&path));
    assert_eq!(h.read(&path).unwrap(), b"kept!");
    let report = td.cleanup();
    assert!(!report.dir_removed, "the kept file keeps the directory");
    assert_eq!(report.untracked, [path.as_std_path()]);
    assert_eq!(h.read(&path).unwrap(), b"kept!");
    h.remove_file(&path).unwrap();
    assert!(td.cleanup().is_complete(), "the retry finds it gone");
}

pub fn keep_after_a_reap_is_refused<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "keep_after_a_reap_is_refused", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    let file = td.named_tempfile().unwrap();
    reap(&h, file.path(), td.dir());
    let failed = file.keep().unwrap_err();
    assert!(matches!(failed.error, Error::Reaped { .. }), "{failed:?}");
}

pub fn owned_named_tempfile_has_a_directory_of_its_own<H: Surface>() {
    let h = H::new();
    let mut file = NamedTempFile::with_backend(h.backend()).unwrap();
    file.write_all(b"alone").unwrap();
    let dir = file.path().parent().unwrap().to_owned();
    assert_eq!(dir.parent(), Some(h.root()));
    assert_eq!(dir, file.directory().dir());
    if let Some(mode) = h.mode(&dir) {
        assert_eq!(mode, 0o700);
    }
    assert_eq!(h.read_dir(h.root()).len(), 1);
    assert_eq!(h.read(file.path()).unwrap(), b"alone");
    drop(file);
    assert!(!h.exists(&dir), "the directory goes with the file");
    assert!(h.read_dir(h.root()).is_empty());
}

pub fn owned_named_tempfile_persist_takes_its_directory_along<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "owned_named_tempfile_persist_takes_its_directory_along",
            OPEN_KEEPS_NAME,
        );
    }
    let dest = join(h.root(), "final");
    h.write(&dest, b"taken").unwrap();
    let mut file = NamedTempFile::with_backend(h.backend()).unwrap();
    file.write_all(b"owned").unwrap();
    let dir = file.path().parent().unwrap().to_owned();
    let failed = file.persist_noclobber(&dest).unwrap_err();
    assert!(matches!(failed.error, Error::AlreadyExists { .. }));
    let file = failed.file;
    assert!(h.exists(file.path()), "nothing lost");
    h.remove_file(&dest).unwrap();
    let persisted = file.persist_noclobber(&dest).unwrap();
    drop(persisted);
    assert_eq!(h.read(&dest).unwrap(), b"owned");
    assert!(!h.exists(&dir), "the emptied directory went");
}

pub fn owned_named_tempfile_keep_keeps_its_directory<H: Surface>() {
    let h = H::new();
    let file = NamedTempFile::with_backend(h.backend()).unwrap();
    let dir = file.path().parent().unwrap().to_owned();
    let (kept, path) = file.keep().unwrap();
    drop(kept);
    assert!(h.is_dir(&dir));
    assert!(h.exists(&path));
    assert_eq!(h.read_dir(&dir).len(), 1);
}

pub fn unnamed_files_leave_no_name<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "unnamed_files_leave_no_name", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    let mut file = td.tempfile().unwrap();
    file.write_all(b"spilled").unwrap();
    assert_eq!(read_all(&mut file), b"spilled");
    let mut builder_made = Builder::new()
        .prefix("spill-")
        .permissions(0o640)
        .tempfile(&td)
        .unwrap();
    builder_made.write_all(b"too").unwrap();
    assert!(h.read_dir(td.dir()).is_empty(), "no name, ever");
    assert_eq!(td.tracked_count(), 0);
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    // The files outlive the directory.
    assert_eq!(read_all(&mut file), b"spilled");
    assert_eq!(read_all(&mut builder_made), b"too");
}

pub fn unnamed_files_after_cleanup_or_a_reap_are_refused_or_nameless<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "unnamed_files_after_cleanup_or_a_reap_are_refused_or_nameless",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let dir = td.dir().to_owned();
    h.remove_dir(&dir).unwrap();
    // Some filesystems make a nameless file even in a removed directory (tmpfs), others
    // refuse (ext4): either way nothing appears at the old path.
    match td.tempfile() {
        Ok(mut file) => {
            file.write_all(b"x").unwrap();
        }
        Err(e) => assert!(matches!(e, Error::Reaped { .. }), "{e:?}"),
    }
    assert!(!h.exists(&dir));
    let _ = td.cleanup();
    assert!(matches!(td.tempfile(), Err(Error::CleanedUp)));
}

pub fn builder_names_and_modes_files<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "builder_names_and_modes_files", OPEN_KEEPS_NAME);
    }
    let td = h.make();
    let (mut file, path) = Builder::new()
        .prefix("vol")
        .suffix(".difftar")
        .permissions(0o640)
        .mkstemp(&td)
        .unwrap();
    let name = path.file_name().unwrap();
    assert!(
        name.starts_with("vol") && name.ends_with(".difftar"),
        "{name}"
    );
    assert!(td.is_tracked(&path));
    file.write_all(b"v").unwrap();
    for mode in [0o640, 0o755, 0o444, 0o600, 0o700] {
        let named = Builder::new()
            .suffix(".json")
            .permissions(mode)
            .named_tempfile(&td)
            .unwrap();
        assert!(named.path().as_str().ends_with(".json"));
        if let Some(got) = h.mode(named.path()) {
            assert_eq!(got, mode, "{mode:o}");
        }
    }
    let empty = Builder::new().prefix("").named_tempfile(&td).unwrap();
    assert!(empty.path().file_name().unwrap().len() > 8);
    if let Some(got) = h.mode(&path) {
        assert_eq!(got, 0o640);
    }
    drop(empty);
    assert!(td.cleanup().is_complete());
}

pub fn builder_refuses_bad_names_and_modes_and_makes_nothing<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let long = "p".repeat(240);
    let names = [
        Builder::new().prefix("a/b"),
        Builder::new().suffix("x\0"),
        Builder::new().prefix(long.as_str()),
    ];
    for builder in &names {
        assert!(
            matches!(builder.mkstemp(&td), Err(Error::InvalidName { .. })),
            "{builder:?}"
        );
        assert!(matches!(
            builder.named_tempfile(&td),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            builder.tempfile(&td),
            Err(Error::InvalidName { .. })
        ));
    }
    let mode = Builder::new().permissions(0o10_000);
    assert!(matches!(mode.mkstemp(&td), Err(Error::InvalidMode { .. })));
    assert!(matches!(
        mode.named_tempfile(&td),
        Err(Error::InvalidMode { .. })
    ));
    assert!(h.read_dir(td.dir()).is_empty());
    assert_eq!(td.tracked_count(), 0);
    // The directory is 0700, always.
    let wide = Builder::new().permissions(0o755).build(h.backend());
    assert!(matches!(wide, Err(Error::InvalidMode { .. })));
    let exact = Builder::new()
        .permissions(0o700)
        .build(h.backend())
        .unwrap();
    assert_eq!(h.read_dir(h.root()).len(), 2);
    drop(exact);
    assert_eq!(h.read_dir(h.root()).len(), 1);
}

pub fn mkstemp_names_stay_duplicitys<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let (_a, first) = td.mkstemp().unwrap();
    let (_b, second) = Builder::new().mkstemp(&td).unwrap();
    for (path, n) in [(&first, "1"), (&second, "2")] {
        let name = path.file_name().unwrap();
        let rest = name.strip_prefix("mkstemp-").expect("duplicity's prefix");
        let (random, counter) = rest.split_once('-').expect("random part, then counter");
        assert_eq!(random.len(), 8, "{name}");
        assert!(
            random
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(counter, n, "{name}");
    }
}

pub fn directory_keep_leaves_everything<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let (_file, path) = td.mkstemp().unwrap();
    let dir = td.dir().to_owned();
    let kept = td.keep();
    assert_eq!(kept, dir);
    assert!(h.is_dir(&dir));
    assert!(h.exists(&path), "no cleanup ran");
    if h.exclusive_lock_blocked(&dir).is_some() {
        assert_eq!(
            h.exclusive_lock_blocked(&dir),
            Some(false),
            "the flock went too"
        );
    }
}

pub fn adopt_tracks_entries_made_by_path<H: Surface>() {
    let h = H::new();
    let td = h.make();
    h.write(&join(td.dir(), "report.xml"), b"<ok/>").unwrap();
    td.adopt("report.xml").unwrap();
    assert!(td.is_tracked("report.xml"));
    td.adopt(join(td.dir(), "report.xml").as_std_path())
        .unwrap();
    assert_eq!(td.tracked_count(), 1, "adopting again changes nothing");
    let missing = td.adopt("missing").unwrap_err();
    assert_eq!(
        (missing.op(), missing.io_kind()),
        (Some(Op::Stat), Some(ErrorKind::NotFound))
    );
    assert!(matches!(
        td.adopt("../x"),
        Err(Error::OutsideDirectory { .. })
    ));
    assert!(matches!(td.adopt(""), Err(Error::InvalidName { .. })));
    let report = td.cleanup();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.removed, 1);
    assert!(matches!(td.adopt("report.xml"), Err(Error::CleanedUp)));
}

pub fn adopted_directory_is_left_by_cleanup_and_removed_by_cleanup_all<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let out = join(td.dir(), "out");
    h.create_dir(&out).unwrap();
    h.write(&join(&out, "result.json"), b"{}").unwrap();
    td.adopt("out").unwrap();
    let report = td.cleanup();
    assert_eq!(report.left_in_place, std::slice::from_ref(&out));
    assert!(!report.dir_removed);
    let report = td.cleanup_all();
    assert!(report.is_complete(), "{report:?}");
    assert!(report.left_in_place.is_empty());
    assert_eq!((report.removed, report.untracked_removed), (1, 1));
    assert!(!h.exists(td.dir()));
}

/// A tree the code under test made by path, with symlinks planted inside that lead out:
/// to a directory and to a file, both of which must survive untouched.
fn plant_tree<H: Harness>(h: &H, dir: &Utf8Path) -> (Utf8PathBuf, usize) {
    let outside = join(h.root(), "outside");
    h.create_dir(&outside).unwrap();
    h.write(&join(&outside, "victim"), b"precious").unwrap();
    h.create_dir(&join(&outside, "sub")).unwrap();
    h.write(&join(&outside, "sub/deep"), b"deep").unwrap();
    let a = join(dir, "a");
    h.create_dir(&a).unwrap();
    h.create_dir(&join(&a, "b")).unwrap();
    h.write(&join(&a, "b/file"), b"x").unwrap();
    h.symlink(&outside, &join(&a, "to_dir")).unwrap();
    h.symlink(&join(&outside, "victim"), &join(&a, "b/to_file"))
        .unwrap();
    h.symlink(&outside, &join(dir, "top_link")).unwrap();
    h.write(&join(dir, "loose"), b"y").unwrap();
    // a, a/b, a/b/file, a/to_dir, a/b/to_file, top_link, loose
    (outside, 7)
}

fn outside_untouched<H: Harness>(h: &H, outside: &Utf8Path) {
    assert_eq!(h.read(&join(outside, "victim")).unwrap(), b"precious");
    assert_eq!(h.read(&join(outside, "sub/deep")).unwrap(), b"deep");
    assert_eq!(h.read_dir(outside), ["sub", "victim"]);
}

pub fn cleanup_all_removes_a_tree_and_never_follows_a_symlink<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "cleanup_all_removes_a_tree_and_never_follows_a_symlink",
            NO_SYMLINKS,
        );
    }
    let td = h.make();
    let (_file, _path) = td.mkstemp().unwrap();
    let (outside, planted) = plant_tree(&h, td.dir());
    let report = td.cleanup_all();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.removed, report.untracked_removed), (1, planted));
    assert!(!h.exists(td.dir()));
    outside_untouched(&h, &outside);
    assert_eq!(td.status(), DirStatus::CleanedUp);
}

pub fn cleanup_stays_non_recursive_by_default<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(&h, "cleanup_stays_non_recursive_by_default", NO_SYMLINKS);
    }
    let td = h.make();
    let (outside, planted) = plant_tree(&h, td.dir());
    let report = td.cleanup();
    assert!(!report.dir_removed);
    assert_eq!(report.untracked_removed, 0);
    assert_eq!(report.untracked.len(), 3, "{report:?}");
    assert!(h.exists(&join(td.dir(), "a/b/file")));
    // The explicit opt-in, on what the first cleanup left.
    let report = td.cleanup_all();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.untracked_removed, planted);
    outside_untouched(&h, &outside);
}

pub fn remove_untracked_makes_the_drop_remove_the_tree<H: Surface>() {
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "remove_untracked_makes_the_drop_remove_the_tree",
            NO_SYMLINKS,
        );
    }
    let td = Builder::new()
        .remove_untracked(true)
        .build(h.backend())
        .unwrap();
    let dir = td.dir().to_owned();
    let (outside, _) = plant_tree(&h, &dir);
    drop(td);
    assert!(!h.exists(&dir));
    outside_untouched(&h, &outside);
}

pub fn cleanup_all_reports_what_it_cannot_remove_and_retries<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let locked = join(td.dir(), "locked");
    h.create_dir(&locked).unwrap();
    h.write(&join(&locked, "inside"), b"x").unwrap();
    if !h.set_mode(&locked, 0o500) {
        return unsupported(
            &h,
            "cleanup_all_reports_what_it_cannot_remove_and_retries",
            "modes",
        );
    }
    let report = td.cleanup_all();
    if !report.is_complete() {
        // Not root: the read-only directory keeps its entry, and says so.
        assert!(!report.failures.is_empty(), "{report:?}");
        assert!(
            report
                .failures
                .iter()
                .all(|e| e.io_kind() == Some(ErrorKind::PermissionDenied)),
            "{report:?}"
        );
        assert_eq!(report.untracked, [locked.as_std_path()]);
        assert!(h.exists(&join(&locked, "inside")));
        h.set_mode(&locked, 0o700);
        let report = td.cleanup_all();
        assert!(report.is_complete(), "{report:?}");
    }
    assert!(!h.exists(td.dir()));
}

pub fn errors_become_io_errors_of_a_sensible_kind<H: Surface>() {
    fn create<B: tempdir_core::Backend>(td: &TemporaryDirectory<B>, name: &str) -> io::Result<()> {
        td.create(name)?;
        Ok(())
    }
    fn persist_noclobber<D: tempdir_core::DirRef>(
        file: NamedTempFile<D>,
        dest: &Utf8Path,
    ) -> io::Result<()> {
        file.persist_noclobber(dest)?;
        Ok(())
    }
    let h = H::new();
    if cfg!(windows) {
        return unsupported(
            &h,
            "errors_become_io_errors_of_a_sensible_kind",
            OPEN_KEEPS_NAME,
        );
    }
    let td = h.make();
    let outside = create(&td, "../x").unwrap_err();
    assert_eq!(outside.kind(), ErrorKind::InvalidInput);
    let inner = outside.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(inner, Some(Error::OutsideDirectory { .. })));
    create(&td, "once").unwrap();
    assert_eq!(
        create(&td, "once").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    let taken = join(td.dir(), "once");
    let file = td.named_tempfile().unwrap();
    let refused = persist_noclobber(file, &taken).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::AlreadyExists);
    h.remove_file(&taken).unwrap();
    h.remove_dir(td.dir()).unwrap();
    let reaped = io::Error::from(td.mktemp().unwrap_err());
    assert_eq!(reaped.kind(), ErrorKind::NotFound);
    let _ = td.cleanup();
    assert_eq!(
        io::Error::from(td.mkstemp().unwrap_err()).kind(),
        ErrorKind::NotFound
    );
    assert!(!td.status().to_string().is_empty());
}

pub fn names_and_roots_take_std_paths<H: Surface>() {
    let h = H::new();
    let td = h.make();
    let std_name = Path::new("std-name");
    td.create(std_name).unwrap();
    assert!(td.is_tracked(std::path::PathBuf::from("std-name")));
    td.open(std::ffi::OsStr::new("std-name")).unwrap();
    let as_path: &Path = td.as_ref();
    assert_eq!(as_path, td.dir().as_std_path());
    td.remove(join(td.dir(), "std-name").into_std_path_buf())
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        assert!(matches!(td.create(bad), Err(Error::NonUtf8Path { .. })));
        assert!(matches!(td.adopt(bad), Err(Error::NonUtf8Path { .. })));
        assert!(!td.is_tracked(bad) && !td.forget(bad));
        let file = td.named_tempfile().unwrap();
        let failed = file.persist(bad).unwrap_err();
        assert!(matches!(failed.error, Error::NonUtf8Path { .. }));
        assert_eq!(failed.error.kind(), ErrorKind::InvalidInput);
    }
    assert!(td.cleanup().is_complete());
}

pub fn file_modes_are_exact_under_any_umask<H: Surface>(test: &str) {
    for mask in [0o022, 0o077, 0o277, 0o777] {
        let ran = H::with_umask(test, mask, |h| {
            let td = h.make();
            let wide = Builder::new()
                .permissions(0o644)
                .named_tempfile(&td)
                .unwrap();
            let plain = td.named_tempfile().unwrap();
            let (_f, made) = Builder::new().permissions(0o640).mkstemp(&td).unwrap();
            assert_eq!(h.mode(wide.path()), Some(0o644), "umask {mask:o}");
            assert_eq!(h.mode(plain.path()), Some(0o600), "umask {mask:o}");
            assert_eq!(h.mode(&made), Some(0o640), "umask {mask:o}");
            let mut unnamed = td.tempfile().unwrap();
            unnamed.write_all(b"x").unwrap();
            assert_eq!(read_all(&mut unnamed), b"x", "umask {mask:o}");
            drop((wide, plain));
            assert!(td.cleanup().is_complete(), "umask {mask:o}");
        });
        if !ran {
            let h = H::new();
            return unsupported(&h, "file_modes_are_exact_under_any_umask", "umask");
        }
    }
}

mod memory_backend {
    use camino::Utf8PathBuf;
    use tempdir_memory::MemoryBackend;

    use super::{Scratch, Surface};
    use crate::harness::Harness;
    use crate::memory::MemoryHarness;

    impl Surface for MemoryHarness {
        fn confined_backend(&self) -> MemoryBackend {
            MemoryBackend::new(&self.fs, self.root())
                .unwrap()
                .without_ambient_authority()
        }
        fn other_device(&self) -> Option<(Utf8PathBuf, Scratch)> {
            let dir = Utf8PathBuf::from("/mnt-other");
            self.fs.as_uid(0).create_device_dir(&dir).unwrap();
            self.fs.as_uid(0).set_permissions(&dir, 0o1777).unwrap();
            Some((dir, Scratch(None)))
        }
    }

    crate::tempfile_surface!(MemoryHarness);

    mod only {
        //! What only the in-memory filesystem can show: the fallback where there is no
        //! `O_TMPFILE`, faults in the new calls, a mount point inside the directory.

        use std::io::{ErrorKind, Write};

        use tempdir_core::{Error, Op};
        use tempdir_memory::{Errno, Fault, FaultOp};

        use crate::harness::Harness;
        use crate::memory::MemoryHarness;

        #[test]
        fn without_o_tmpfile_a_name_lives_for_one_unlink() {
            let h = MemoryHarness::new();
            let td = h.make();
            h.fs.inject(Fault::new(FaultOp::CreateUnnamed, Errno::EOPNOTSUPP));
            h.fs.take_trace();
            let mut file = td.tempfile().unwrap();
            file.write_all(b"x").unwrap();
            let calls: Vec<String> =
                h.fs.trace()
                    .into_iter()
                    .filter(|line| line.starts_with("uid=1000 "))
                    .map(|line| line.split(' ').nth(1).unwrap().to_owned())
                    .collect();
            assert_eq!(
                calls,
                ["create_unnamed", "create_file", "remove_file", "write"]
            );
            assert!(h.fs.read_dir(td.dir()).unwrap().is_empty());
            assert_eq!(td.tracked_count(), 0);
            assert!(td.cleanup().is_complete());
        }

        #[test]
        fn a_fallback_name_that_cannot_go_stays_tracked_for_cleanup() {
            let h = MemoryHarness::new();
            let td = h.make();
            h.fs.inject(Fault::new(FaultOp::CreateUnnamed, Errno::EOPNOTSUPP));
            h.fs.inject(Fault::new(FaultOp::RemoveFile, Errno::EIO).first());
            let error = td.tempfile().unwrap_err();
            assert_eq!(error.op(), Some(Op::RemoveFile));
            assert_eq!(td.tracked_count(), 1);
            let report = td.cleanup();
            assert!(report.is_complete(), "{report:?}");
        }

        #[test]
        fn a_failed_rename_leaves_the_file_tracked_and_a_retry_works() {
            let h = MemoryHarness::new();
            let td = h.make();
            let mut file = td.named_tempfile().unwrap();
            file.write_all(b"x").unwrap();
            h.fs.inject(Fault::new(FaultOp::RenameTo, Errno::EIO).first());
            let failed = file.persist("/tmp/dest").unwrap_err();
            let Error::Io { op, source, .. } = &failed.error else {
                panic!("{failed:?}");
            };
            assert_eq!((*op, Errno::of(source)), (Op::Persist, Some(Errno::EIO)));
            assert!(td.is_tracked(failed.file.path()));
            failed.file.persist("/tmp/dest").unwrap();
            assert_eq!(h.fs.read("/tmp/dest").unwrap(), b"x");
            h.fs.inject(Fault::new(FaultOp::OpenDirAmbient, Errno::EACCES).first());
            let failed = td.named_tempfile().unwrap().persist("/tmp/d2").unwrap_err();
            assert_eq!(
                (failed.error.op(), failed.error.io_kind()),
                (Some(Op::Persist), Some(ErrorKind::PermissionDenied))
            );
        }

        #[test]
        fn persist_is_one_rename_between_handles_never_a_copy() {
            let h = MemoryHarness::new();
            let td = h.make();
            let file = td.named_tempfile().unwrap();
            h.fs.take_trace();
            file.persist("/tmp/dest").unwrap();
            let calls: Vec<String> =
                h.fs.trace()
                    .into_iter()
                    .filter(|line| line.starts_with("uid=1000 "))
                    .map(|line| line.split(' ').nth(1).unwrap().to_owned())
                    .collect();
            assert_eq!(calls, ["open_dir_ambient", "rename_to"]);
        }

        #[test]
        fn cleanup_all_does_not_enter_another_filesystem() {
            let h = MemoryHarness::new();
            let td = h.make();
            let mount = td.dir().join("mnt");
            h.fs.create_device_dir(&mount).unwrap();
            h.fs.write(mount.join("data"), "theirs").unwrap();
            let report = td.cleanup_all();
            assert!(!report.dir_removed);
            assert!(
                report.failures.iter().any(|e| e.op() == Some(Op::OpenDir)
                    && e.io_kind() == Some(ErrorKind::CrossesDevices)),
                "{report:?}"
            );
            assert_eq!(h.fs.read(mount.join("data")).unwrap(), b"theirs");
        }

        #[test]
        fn an_owned_file_in_a_confined_backend_persists_beneath_its_root() {
            let h = MemoryHarness::new();
            let backend = tempdir_memory::MemoryBackend::new(&h.fs, "/tmp")
                .unwrap()
                .without_ambient_authority();
            let file = tempdir_core::NamedTempFile::with_backend(backend).unwrap();
            let failed = file.persist("/etc/passwd").unwrap_err();
            assert!(matches!(failed.error, Error::OutsideRoot { .. }));
            failed.file.persist("/tmp/placed").unwrap();
            assert!(h.fs.exists("/tmp/placed"));
            assert_eq!(h.fs.read_dir("/tmp").unwrap(), ["placed"]);
        }
    }
}

mod disk_backend {
    use camino::{Utf8Path, Utf8PathBuf};
    use tempdir_cap_std::CapStdBackend;
    use tempdir_cap_std::cap_std::{ambient_authority, fs::Dir};

    use super::{Scratch, Surface};
    use crate::disk::{DiskAt, Place};
    use crate::harness::Harness;

    impl<P: Place> Surface for DiskAt<P> {
        fn confined_backend(&self) -> CapStdBackend {
            let dir = Dir::open_ambient_dir(self.root(), ambient_authority()).unwrap();
            CapStdBackend::from_dir(dir, self.root().to_owned())
        }
        fn other_device(&self) -> Option<(Utf8PathBuf, Scratch)> {
            other_device(self.root())
        }
    }

    /// A fresh directory on another filesystem than `root`'s: `/dev/shm` or the system
    /// temp dir, whichever differs.
    #[cfg(unix)]
    fn other_device(root: &Utf8Path) -> Option<(Utf8PathBuf, Scratch)> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let ours = std::fs::metadata(root).ok()?.dev();
        let system = Utf8PathBuf::try_from(std::env::temp_dir()).ok()?;
        for parent in [Utf8PathBuf::from("/dev/shm"), system] {
            if std::fs::metadata(&parent).map_or(true, |m| m.dev() == ours) {
                continue;
            }
            let dir = parent.join(format!(
                "tempdirs-it-xdev-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            if std::fs::create_dir(&dir).is_ok() {
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
                return Some((dir.clone(), Scratch(Some(dir))));
            }
        }
        None
    }

    #[cfg(not(unix))]
    fn other_device(_root: &Utf8Path) -> Option<(Utf8PathBuf, Scratch)> {
        None
    }

    mod system_temp {
        crate::tempfile_surface!(crate::disk::DiskHarness);
    }

    /// The cases once more on a tmpfs.
    #[cfg(target_os = "linux")]
    mod tmpfs {
        crate::tempfile_surface!(crate::disk::TmpfsHarness);
    }

    #[cfg(unix)]
    mod facade {
        //! The `tempdirs` facade's names, as a `tempfile` user writes them: no type
        //! annotations.

        use std::io::{Read, Seek, Write};

        use crate::disk::DiskHarness;
        use crate::harness::Harness;

        #[test]
        fn named_temp_file_new_in_and_persist_infer() {
            let h = DiskHarness::new();
            let mut file = tempdirs::NamedTempFile::new_in(h.root()).unwrap();
            file.write_all(b"conf").unwrap();
            let dest = h.root().join("app.conf");
            file.persist(&dest).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), b"conf");
            assert_eq!(h.read_dir(h.root()), ["app.conf"]);
        }

        #[test]
        fn builder_calls_infer_and_name_what_they_make() {
            let h = DiskHarness::new();
            let dir = tempdirs::Builder::new()
                .prefix("x-")
                .tempdir_in(h.root())
                .unwrap();
            assert!(dir.dir().file_name().unwrap().starts_with("x-"));
            let file = tempdirs::Builder::new()
                .prefix("r-")
                .suffix(".json")
                .tempfile_in(h.root())
                .unwrap();
            let name = file.path().file_name().unwrap();
            assert!(name.starts_with("r-") && name.ends_with(".json"));
            drop((dir, file));
            assert!(h.read_dir(h.root()).is_empty());
        }

        #[test]
        fn tempfile_in_leaves_nothing_behind() {
            let h = DiskHarness::new();
            let mut file = tempdirs::tempfile_in(h.root()).unwrap();
            file.write_all(b"spill").unwrap();
            file.rewind().unwrap();
            let mut back = String::new();
            file.read_to_string(&mut back).unwrap();
            assert_eq!(back, "spill");
            assert!(h.read_dir(h.root()).is_empty());
        }

        #[test]
        fn errors_go_through_question_marks_into_io_results() {
            fn make(root: &camino::Utf8Path) -> std::io::Result<tempdirs::NamedTempFile> {
                let file = tempdirs::NamedTempFile::new_in(root.join("missing"))?;
                Ok(file)
            }
            let h = DiskHarness::new();
            let error = make(h.root()).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        }
    }
}
