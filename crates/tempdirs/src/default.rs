//! The shared instance: duplicity's `tempdir.default()`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tempdir_core::{Error, Utf8Path, Utf8PathBuf};

use crate::TemporaryDirectory;

/// The shared instance and the root it is made in, behind one lock.
struct Shared {
    /// Set by [`set_default_root`]; `None` means the system temp dir.
    root: Option<Utf8PathBuf>,
    /// Whether an instance was ever made: the root is fixed from then on.
    used: bool,
    instance: Option<Arc<TemporaryDirectory>>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    root: None,
    used: false,
    instance: None,
});

fn shared() -> MutexGuard<'static, Shared> {
    // Nothing panics while holding it; should something, the state is still consistent.
    SHARED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process-wide instance, made on first use: duplicity's `tempdir.default()`.
///
/// Every thread gets the same instance; many threads racing on the first call make one
/// directory. A failure is returned and the next call tries again. Once the instance is
/// cleaned up, the next call makes a fresh one (in the same root).
///
/// The root is the one given to [`set_default_root`] before first use, else the system
/// temp dir (`TMPDIR`, else `/tmp`).
///
/// Unlike duplicity, which points Python's `tempfile.tempdir` at its directory, this does
/// not point the `tempfile` crate at it: `tempfile`'s directory can be set once per
/// process and is used by path, so once this instance is cleaned up, files made through it
/// could land in a directory someone else made at that path. Use this crate's own
/// [`NamedTempFile`](crate::NamedTempFile) and [`tempfile()`](crate::tempfile), which go
/// through the handle.
///
/// Nothing is cleaned up at exit (Rust runs no destructors for statics): call
/// `default()?.cleanup()` at the end of `main`, as duplicity's callers do in a `finally`.
///
/// # Errors
///
/// As [`TemporaryDirectory::new_in`](tempdir_core::TemporaryDirectory::new_in) when the
/// instance has to be made; the next call tries again.
pub fn default() -> Result<Arc<TemporaryDirectory>, Error> {
    let mut shared = shared();
    if let Some(instance) = &shared.instance
        && !instance.is_cleaned_up()
    {
        return Ok(Arc::clone(instance));
    }
    // Made under the lock, so that racing first calls make one directory.
    let instance = Arc::new(make(shared.root.as_deref())?);
    shared.used = true;
    shared.instance = Some(Arc::clone(&instance));
    drop(shared);
    tracing::debug!(target: "tempdirs", path = %instance.dir(), "made the shared temporary directory");
    Ok(instance)
}

/// Sets the root [`default()`] makes its directory in: duplicity's `--tempdir`
/// (`config.temproot`). Call it before the first `default()`; afterwards it is
/// [`Error::AlreadyInitialized`] and the root stays as it was.
///
/// The root is checked when `default()` makes the directory, and a bad one is an error
/// there.
///
/// # Errors
///
/// [`Error::AlreadyInitialized`] once `default()` was called; [`Error::NonUtf8Path`] for a
/// root that is not UTF-8.
pub fn set_default_root(root: impl AsRef<Path>) -> Result<(), Error> {
    let root = root.as_ref();
    let root = Utf8Path::from_path(root).ok_or_else(|| Error::NonUtf8Path {
        path: root.to_owned(),
    })?;
    let mut shared = shared();
    if shared.used {
        return Err(Error::AlreadyInitialized {
            what: "the default root",
        });
    }
    shared.root = Some(root.to_owned());
    Ok(())
}

/// A file without a name in the shared instance's directory (`tempfile::tempfile()`), as
/// duplicity writes `tempfile.TemporaryFile(dir=tempdir.default().dir())`: see
/// [`TemporaryDirectory::tempfile`](tempdir_core::TemporaryDirectory::tempfile). Nothing
/// is left to clean up: the file goes when it is closed.
///
/// ```no_run
/// use std::io::{Seek, Write};
///
/// let mut spill = tempdirs::tempfile()?;
/// spill.write_all(b"sorted run 1")?;
/// spill.rewind()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`default()`], then as
/// [`TemporaryDirectory::tempfile`](tempdir_core::TemporaryDirectory::tempfile).
pub fn tempfile() -> Result<std::fs::File, Error> {
    default()?.tempfile()
}

fn make(root: Option<&Utf8Path>) -> Result<TemporaryDirectory, Error> {
    match root {
        Some(root) => TemporaryDirectory::new_in(root),
        None => TemporaryDirectory::new(),
    }
}

/// Forgets the shared instance and the root, for tests of this module only.
#[cfg(test)]
pub(crate) fn reset() {
    let mut shared = shared();
    if let Some(instance) = shared.instance.take() {
        let _ = instance.cleanup();
    }
    shared.root = None;
    shared.used = false;
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use serial_test::serial;

    use super::*;

    /// A root of our own for the shared instance, made fresh for each test.
    fn fresh_root() -> Utf8PathBuf {
        reset();
        {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let root = Utf8PathBuf::try_from(std::env::temp_dir())
                .unwrap()
                .join(format!(
                    "tempdirs-default-test-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
            std::fs::create_dir(&root).unwrap();
            set_default_root(&root).unwrap();
            root
        }
    }

    fn remove_root(root: &Utf8Path) {
        reset();
        std::fs::remove_dir(root).expect("cleanup left the root empty");
    }

    // The shared instance is process-global state: these tests run one at a time.
    #[test]
    #[serial(default_instance)]
    fn racing_first_calls_make_one_instance() {
        let root = fresh_root();
        let barrier = Barrier::new(16);
        let instances: Vec<Arc<TemporaryDirectory>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        default().unwrap()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(instances.iter().all(|i| Arc::ptr_eq(i, &instances[0])));
        assert_eq!(
            std::fs::read_dir(&root).unwrap().count(),
            1,
            "one directory"
        );
        remove_root(&root);
    }

    #[test]
    #[serial(default_instance)]
    fn a_cleaned_up_instance_is_replaced() {
        let root = fresh_root();
        let first = default().unwrap();
        assert!(Arc::ptr_eq(&first, &default().unwrap()));
        first.mkstemp().unwrap();
        assert!(first.cleanup().is_complete());
        let second = default().unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_ne!(first.dir(), second.dir());
        second.mkstemp().unwrap();
        remove_root(&root);
    }

    #[test]
    #[serial(default_instance)]
    fn the_root_is_fixed_once_used() {
        let root = fresh_root();
        let tmp = default().unwrap();
        assert_eq!(tmp.dir().parent(), Some(root.as_path()));
        assert!(matches!(
            set_default_root("/elsewhere"),
            Err(Error::AlreadyInitialized { .. })
        ));
        assert_eq!(default().unwrap().dir().parent(), Some(root.as_path()));
        remove_root(&root);
    }

    #[test]
    #[serial(default_instance)]
    fn a_failure_is_returned_and_the_next_call_retries() {
        reset();
        set_default_root("/no/such/root/for/tempdirs").unwrap();
        let err = default().unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err:?}");
        // The failed call fixed nothing: the root can still be changed, and then it works.
        let root = fresh_root();
        assert!(default().is_ok());
        remove_root(&root);
    }
}
