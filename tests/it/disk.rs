//! The conformance suite on `CapStdBackend` in a real directory, plus what only a real
//! directory has: close-on-exec, real locks, owners, a root with no ambient authority.

use std::fs;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Error, OpenRoot};

use crate::harness::Harness;

/// A fresh directory per test under `P`'s parent, removed with everything in it when the
/// test ends. The recursive delete is the fixture's, never the library's.
pub struct DiskAt<P> {
    root: Utf8PathBuf,
    place: PhantomData<P>,
}

/// The system temp dir (the WASI preopen in a WASI run); on this kind of machine often
/// ext4.
pub type DiskHarness = DiskAt<SystemTemp>;

/// `/dev/shm` where it is a tmpfs (else the system temp dir): the suites run once more on
/// the filesystem most `/tmp`s are, whose answers (inode numbers, `renameat2` flags, what
/// an unlink of a directory says) may differ from the system temp dir's.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub type TmpfsHarness = DiskAt<Tmpfs>;

/// Where a [`DiskAt`] makes its fixtures.
pub trait Place: Send + Sync + 'static {
    /// The directory the fixtures go in.
    fn parent() -> Utf8PathBuf;
    /// The harness's name in messages.
    const NAME: &'static str;
}

pub struct SystemTemp;

impl Place for SystemTemp {
    fn parent() -> Utf8PathBuf {
        if let Ok(root) = std::env::var("TEMPDIRS_WASI_ROOT") {
            return Utf8PathBuf::from(root);
        }
        Utf8PathBuf::try_from(std::env::temp_dir()).expect("the test machine's temp dir is UTF-8")
    }
    const NAME: &'static str = if cfg!(target_os = "wasi") {
        "cap-std (wasi)"
    } else if cfg!(windows) {
        "cap-std (windows)"
    } else {
        "cap-std"
    };
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub struct Tmpfs;

impl Place for Tmpfs {
    #[allow(clippy::useless_conversion)] // `f_type`'s type differs between targets
    fn parent() -> Utf8PathBuf {
        #[cfg(target_os = "linux")]
        {
            const TMPFS_MAGIC: i64 = 0x0102_1994;
            let shm = Utf8Path::new("/dev/shm");
            if rustix::fs::statfs(shm.as_std_path())
                .is_ok_and(|fs| i64::from(fs.f_type) == TMPFS_MAGIC)
                && rustix::fs::access(shm.as_std_path(), rustix::fs::Access::WRITE_OK).is_ok()
            {
                return shm.to_owned();
            }
        }
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            println!("unsupported: the tmpfs suites: /dev/shm is not a writable tmpfs here; they run in the system temp dir");
        });
        SystemTemp::parent()
    }
    const NAME: &'static str = "cap-std (tmpfs)";
}

impl<P: Place> Harness for DiskAt<P> {
    type B = CapStdBackend;

    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        // WASI has no process id; there one process runs at a time in its own sandbox.
        let pid = if cfg!(target_os = "wasi") {
            0
        } else {
            std::process::id()
        };
        let root = P::parent().join(format!(
            "tempdirs-it-{pid}-{}-{nanos}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&root).expect("fixture root is made");
        // Whatever the umask (a case may run under 0o777): ours alone to write to, as a
        // root must be to pass the library's check.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
                .expect("fixture root's mode is set");
        }
        DiskAt {
            root,
            place: PhantomData,
        }
    }
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn root(&self) -> &Utf8Path {
        &self.root
    }
    fn backend_in(&self, root: &Utf8Path) -> Result<CapStdBackend, Error> {
        CapStdBackend::open_root(root)
    }
    /// The umask is the process's: the body runs in a child process that re-executes
    /// `test` with the umask set, never in this one, where it would leak into every test
    /// running in parallel.
    fn with_umask(test: &str, mask: u32, body: impl Fn(&Self)) -> bool {
        #[cfg(unix)]
        {
            use crate::harness::{CHILD, run_child};
            let role = format!("umask-{mask:o}");
            let ran = format!("@@umask-child-ran {mask:o}");
            match std::env::var(CHILD) {
                Ok(child) if child == role => {
                    // `RawMode` is `u16` on Apple targets.
                    #[allow(clippy::useless_conversion)]
                    let mode = rustix::fs::Mode::from_raw_mode(mask.try_into().expect("a mode"));
                    rustix::process::umask(mode);
                    body(&Self::new());
                    println!("{ran}");
                }
                // The child of another umask: that one is not this process's to run.
                Ok(_) => {}
                Err(_) => {
                    let out = run_child(test, &[(CHILD, std::ffi::OsStr::new(&role))]);
                    assert!(out.contains(&ran), "the child did not run the case: {out}");
                }
            }
            true
        }
        #[cfg(not(unix))]
        {
            let _ = (test, mask, body);
            false
        }
    }
    fn exists(&self, path: &Utf8Path) -> bool {
        fs::symlink_metadata(path).is_ok()
    }
    fn is_symlink(&self, path: &Utf8Path) -> bool {
        fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    }
    fn is_dir(&self, path: &Utf8Path) -> bool {
        fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
    }
    fn write(&self, path: &Utf8Path, data: &[u8]) -> io::Result<()> {
        fs::write(path, data)
    }
    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }
    fn remove_file(&self, path: &Utf8Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn remove_dir(&self, path: &Utf8Path) -> io::Result<()> {
        fs::remove_dir(path)
    }
    fn create_dir(&self, path: &Utf8Path) -> io::Result<()> {
        fs::create_dir(path)
    }
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn symlink(&self, target: &Utf8Path, link: &Utf8Path) -> io::Result<()> {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(target, link);
        // WASI refuses absolute targets: point there relative to the link's directory.
        #[cfg(target_os = "wasi")]
        return std::os::wasi::fs::symlink_path(relative_to(link.parent().unwrap(), target), link);
        // Windows tells file links from directory links; a dangling one is a file link.
        // Making one needs a privilege, and Wine says it made one but makes nothing.
        #[cfg(windows)]
        {
            let made = if fs::metadata(target).is_ok_and(|m| m.is_dir()) {
                std::os::windows::fs::symlink_dir(target, link)
            } else {
                std::os::windows::fs::symlink_file(target, link)
            };
            match made {
                Ok(()) if self.is_symlink(link) => Ok(()),
                Ok(()) => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "the symlink was not made (Wine)",
                )),
                Err(e) => Err(io::Error::new(io::ErrorKind::Unsupported, e)),
            }
        }
    }
    fn mkfifo(&self, path: &Utf8Path) -> io::Result<()> {
        #[cfg(all(unix, not(target_vendor = "apple")))]
        return rustix::fs::mkfifoat(
            rustix::fs::CWD,
            path.as_std_path(),
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .map_err(io::Error::from);
        #[cfg(not(all(unix, not(target_vendor = "apple"))))]
        {
            let _ = path;
            Err(io::ErrorKind::Unsupported.into())
        }
    }
    fn read_dir(&self, path: &Utf8Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(path)
            .map(|entries| {
                entries
                    .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
    fn mode(&self, path: &Utf8Path) -> Option<u32> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::symlink_metadata(path).expect("entry exists");
            Some(meta.permissions().mode() & 0o7777)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }
    fn set_mode(&self, path: &Utf8Path, mode: u32) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("mode set");
            true
        }
        #[cfg(not(unix))]
        {
            let _ = (path, mode);
            false
        }
    }
    fn make_dir_owned_by(&self, path: &Utf8Path, uid: u32, mode: u32) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if !rustix::process::geteuid().is_root() {
                return false;
            }
            fs::create_dir(path).expect("directory made");
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).expect("chown");
            // After the chown, which may clear set-id bits.
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("mode set");
            true
        }
        #[cfg(not(unix))]
        {
            let _ = (path, uid, mode);
            false
        }
    }
    fn age(&self, path: &Utf8Path) -> bool {
        let old = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let times = fs::FileTimes::new().set_accessed(old).set_modified(old);
        let mut options = fs::OpenOptions::new();
        options.read(true);
        // Windows opens a directory only with FILE_FLAG_BACKUP_SEMANTICS, and sets times
        // only through a handle with FILE_WRITE_ATTRIBUTES.
        #[cfg(windows)]
        {
            use std::os::windows::fs::OpenOptionsExt;
            options.access_mode(0x0100).custom_flags(0x0200_0000);
        }
        match options.open(path).and_then(|f| f.set_times(times)) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => false,
            Err(e) => panic!("cannot age {path}: {e}"),
        }
    }
    fn times(&self, path: &Utf8Path) -> (Duration, Duration) {
        let meta = fs::symlink_metadata(path).expect("entry exists");
        let since = |t: io::Result<SystemTime>| {
            t.expect("times are supported")
                .duration_since(UNIX_EPOCH)
                .expect("after the epoch")
        };
        (since(meta.accessed()), since(meta.modified()))
    }
    fn exclusive_lock_blocked(&self, dir: &Utf8Path) -> Option<bool> {
        #[cfg(unix)]
        {
            use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
            // A second open file description, as systemd-tmpfiles' own open of the directory.
            let fd = open(
                dir.as_std_path(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .expect("directory opens");
            match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => Some(false),
                Err(rustix::io::Errno::WOULDBLOCK) => Some(true),
                Err(e) => panic!("flock failed oddly: {e}"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            None
        }
    }
}

impl<P> Drop for DiskAt<P> {
    fn drop(&mut self) {
        // Some cases leave read-only entries behind; give write back before deleting.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for entry in walk(&self.root) {
                let _ = fs::set_permissions(&entry, fs::Permissions::from_mode(0o700));
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `target` as a path relative to the directory `from` (both absolute).
#[cfg(target_os = "wasi")]
fn relative_to(from: &Utf8Path, target: &Utf8Path) -> Utf8PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = Utf8PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for part in &to[common..] {
        rel.push(part.as_str());
    }
    rel
}

/// Every directory below `root` (not following symlinks), for the fixture's teardown.
#[cfg(unix)]
fn walk(root: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut dirs = vec![root.to_owned()];
    let mut at = 0;
    while at < dirs.len() {
        if let Ok(entries) = fs::read_dir(&dirs[at]) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir())
                    && let Ok(path) = Utf8PathBuf::try_from(entry.path())
                {
                    dirs.push(path);
                }
            }
        }
        at += 1;
    }
    dirs
}

crate::conformance!(DiskHarness);

/// The suite once more on a tmpfs.
#[cfg(target_os = "linux")]
mod tmpfs {
    crate::conformance!(super::TmpfsHarness);
}

#[cfg(unix)]
mod unix_only {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use cap_std::ambient_authority;
    use cap_std::fs::Dir;
    use rustix::io::{FdFlags, fcntl_getfd};
    use tempdir_core::{DirStatus, TemporaryDirectory};

    use super::*;

    #[test]
    fn returned_files_are_close_on_exec() {
        let h = DiskHarness::new();
        let tmp = h.make();
        let (file, path) = tmp.mkstemp().unwrap();
        assert!(fcntl_getfd(&file).unwrap().contains(FdFlags::CLOEXEC));
        let created = tmp.create("c").unwrap();
        assert!(fcntl_getfd(&created).unwrap().contains(FdFlags::CLOEXEC));
        let opened = tmp.open(&path).unwrap();
        assert!(fcntl_getfd(&opened).unwrap().contains(FdFlags::CLOEXEC));
    }

    #[test]
    fn from_dir_needs_no_ambient_authority() {
        let h = DiskHarness::new();
        let dir = Dir::open_ambient_dir(h.root(), ambient_authority()).unwrap();
        let tmp =
            TemporaryDirectory::with_backend(CapStdBackend::from_dir(dir, h.root().to_owned()))
                .unwrap();
        let (mut file, path) = tmp.mkstemp().unwrap();
        file.write_all(b"x").unwrap();
        assert_eq!(path.parent(), Some(tmp.dir()));
        assert_eq!(tmp.dir().parent(), Some(h.root()));
        assert_eq!(fs::read(&path).unwrap(), b"x");
        assert!(tmp.cleanup().is_complete());
        assert!(h.read_dir(h.root()).is_empty());
    }

    #[test]
    fn a_root_behind_a_symlink_is_resolved_once_at_open() {
        // /tmp is a symlink on some systems. The root is resolved when it is opened, so the
        // paths handed out are the real ones the handle was opened at: re-pointing the
        // link later cannot make them lead anywhere else.
        let h = DiskHarness::new();
        let real = h.root().join("real");
        fs::create_dir(&real).unwrap();
        let link = h.root().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let tmp = TemporaryDirectory::<CapStdBackend>::new_in(&link).unwrap();
        assert_eq!(tmp.dir().parent(), Some(real.as_path()));
        let other = h.root().join("other");
        fs::create_dir(&other).unwrap();
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&other, &link).unwrap();
        let (_f, path) = tmp.mkstemp().unwrap();
        assert_eq!(path.parent(), Some(tmp.dir()));
        assert!(
            fs::symlink_metadata(&path).is_ok(),
            "the path leads to the file"
        );
        assert!(
            h.read_dir(&other).is_empty(),
            "nothing created where the link now points"
        );
        assert!(tmp.cleanup().is_complete());
    }

    #[test]
    fn an_attacker_of_another_uid_owns_the_recreated_directory() {
        if !rustix::process::geteuid().is_root() {
            return crate::harness::unsupported(
                &DiskHarness::new(),
                "an_attacker_of_another_uid_owns_the_recreated_directory",
                "chown needs root",
            );
        }
        let h = DiskHarness::new();
        let tmp = h.make();
        let (_f, tracked) = tmp.mkstemp().unwrap();
        let name = tracked.file_name().unwrap().to_owned();
        fs::remove_file(&tracked).unwrap();
        fs::remove_dir(tmp.dir()).unwrap();
        // The attacker (uid 4242) makes a world-writable directory with a symlink at our
        // tracked name, pointing at a file of the victim's.
        let victim = h.root().join("bashrc");
        fs::write(&victim, b"# victim's shell setup\n").unwrap();
        fs::create_dir(tmp.dir()).unwrap();
        fs::set_permissions(tmp.dir(), fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::symlink(&victim, &tracked).unwrap();
        std::os::unix::fs::chown(tmp.dir(), Some(4242), None).unwrap();
        std::os::unix::fs::lchown(&tracked, Some(4242), None).unwrap();

        assert_eq!(tmp.status(), DirStatus::Replaced);
        assert!(tmp.mkstemp().is_err() && tmp.mktemp().is_err() && tmp.open(&name).is_err());
        let report = tmp.cleanup();
        assert!(!report.dir_removed);
        assert_eq!(fs::read(&victim).unwrap(), b"# victim's shell setup\n");
        assert_eq!(fs::symlink_metadata(tmp.dir()).unwrap().uid(), 4242);
        assert!(
            fs::symlink_metadata(&tracked)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(h.read_dir(tmp.dir()), vec![name]);
    }
}
