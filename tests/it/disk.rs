//! The conformance suite on `CapStdBackend` in a real directory, plus what only a real
//! directory has: umasks, close-on-exec, real locks, a root with no ambient authority.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_cap_std::CapStdBackend;
use tempdir_core::{Error, OpenRoot};

use crate::harness::Harness;

/// A fresh directory per test under the system temp dir (under the WASI preopen in a WASI
/// run), removed with everything in it when the test ends. The recursive delete is the
/// fixture's, never the library's.
pub struct DiskHarness {
    root: Utf8PathBuf,
}

/// Where fixtures go: the preopened directory under WASI, the system temp dir elsewhere.
fn fixtures_parent() -> Utf8PathBuf {
    if let Ok(root) = std::env::var("TEMPDIRS_WASI_ROOT") {
        return Utf8PathBuf::from(root);
    }
    Utf8PathBuf::try_from(std::env::temp_dir()).expect("the test machine's temp dir is UTF-8")
}

impl Harness for DiskHarness {
    type B = CapStdBackend;

    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = fixtures_parent().join(format!(
            "tempdirs-it-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&root).expect("fixture root is made");
        DiskHarness { root }
    }
    fn name(&self) -> &'static str {
        if cfg!(target_os = "wasi") {
            "cap-std (wasi)"
        } else {
            "cap-std"
        }
    }
    fn root(&self) -> &Utf8Path {
        &self.root
    }
    fn backend_in(&self, root: &Utf8Path) -> Result<CapStdBackend, Error> {
        CapStdBackend::open_root(root)
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
        #[cfg(target_os = "wasi")]
        return std::os::wasi::fs::symlink_path(target, link);
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
    fn age(&self, path: &Utf8Path) -> bool {
        let old = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let times = fs::FileTimes::new().set_accessed(old).set_modified(old);
        match fs::File::open(path).and_then(|f| f.set_times(times)) {
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

impl Drop for DiskHarness {
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

/// Every directory below `root` (not following symlinks), for the fixture's teardown.
#[cfg(unix)]
fn walk(root: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut dirs = vec![root.to_owned()];
    let mut at = 0;
    while at < dirs.len() {
        if let Ok(entries) = fs::read_dir(&dirs[at]) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if let Ok(path) = Utf8PathBuf::try_from(entry.path()) {
                        dirs.push(path);
                    }
                }
            }
        }
        at += 1;
    }
    dirs
}

crate::conformance!(DiskHarness);
