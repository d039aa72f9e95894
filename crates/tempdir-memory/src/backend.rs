//! `MemoryBackend`: the core's backend trait over a `MemoryFs`, through handles.

use std::fmt;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Backend, Error, FileId, Listed, Meta, Op};

use crate::Errno;
use crate::fault::FaultOp;
use crate::file::MemoryFile;
use crate::fs::{Handle, Ino, MemoryFs};
use crate::meta::MemoryMetadata;

/// The backend operation about to run, as a [hook](MemoryFs::set_hook) sees it.
///
/// `dir` is the absolute path of the directory the operation works in, as the backend
/// knows it: the root's path, or the root's path joined with the name `make_dir` made.
/// The operation itself goes through the handle, wherever that directory now is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendOp {
    /// `make_dir(name)` in the root.
    MakeDir {
        /// The root's path.
        dir: Utf8PathBuf,
        /// The new directory's name.
        name: String,
    },
    /// `lock_shared` on the temporary directory.
    Lock {
        /// The directory's path.
        dir: Utf8PathBuf,
    },
    /// `dir_meta` of the temporary directory.
    DirMeta {
        /// The directory's path.
        dir: Utf8PathBuf,
    },
    /// `root_entry(name)`.
    RootEntry {
        /// The root's path.
        dir: Utf8PathBuf,
        /// The name looked up.
        name: String,
    },
    /// `remove_dir(name)` in the root.
    RemoveDir {
        /// The root's path.
        dir: Utf8PathBuf,
        /// The directory's name.
        name: String,
    },
    /// `create_file(dir, name)`.
    CreateFile {
        /// The directory's path.
        dir: Utf8PathBuf,
        /// The file's name.
        name: String,
    },
    /// `open_file(dir, name)`.
    OpenFile {
        /// The directory's path.
        dir: Utf8PathBuf,
        /// The file's name.
        name: String,
    },
    /// `entry(dir, name)`.
    Entry {
        /// The directory's path.
        dir: Utf8PathBuf,
        /// The name looked up.
        name: String,
    },
    /// `remove_file(dir, name)`.
    RemoveFile {
        /// The directory's path.
        dir: Utf8PathBuf,
        /// The name unlinked.
        name: String,
    },
    /// `touch(dir, name)`; `name` is `None` for the directory itself.
    Touch {
        /// The directory's path.
        dir: Utf8PathBuf,
        /// The entry touched, if not the directory.
        name: Option<String>,
    },
    /// `list(dir)`.
    List {
        /// The directory's path.
        dir: Utf8PathBuf,
    },
    /// `scan(dir)`: the listing with inode numbers and kinds.
    Scan {
        /// The directory's path.
        dir: Utf8PathBuf,
    },
    /// A read on a [`MemoryFile`].
    Read {
        /// The path the file was created or opened at.
        path: Utf8PathBuf,
        /// The buffer's length.
        len: usize,
    },
    /// A write on a [`MemoryFile`].
    Write {
        /// The path the file was created or opened at.
        path: Utf8PathBuf,
        /// How many bytes are written.
        len: usize,
    },
}

impl BackendOp {
    /// Which operation it is, as [`Fault`](crate::Fault)s name them.
    pub fn fault_op(&self) -> FaultOp {
        match self {
            BackendOp::MakeDir { .. } => FaultOp::MakeDir,
            BackendOp::Lock { .. } => FaultOp::Lock,
            BackendOp::DirMeta { .. } => FaultOp::DirMeta,
            BackendOp::RootEntry { .. } => FaultOp::RootEntry,
            BackendOp::RemoveDir { .. } => FaultOp::RemoveDir,
            BackendOp::CreateFile { .. } => FaultOp::CreateFile,
            BackendOp::OpenFile { .. } => FaultOp::OpenFile,
            BackendOp::Entry { .. } => FaultOp::Entry,
            BackendOp::RemoveFile { .. } => FaultOp::RemoveFile,
            BackendOp::Touch { .. } => FaultOp::Touch,
            BackendOp::List { .. } => FaultOp::List,
            BackendOp::Scan { .. } => FaultOp::Scan,
            BackendOp::Read { .. } => FaultOp::Read,
            BackendOp::Write { .. } => FaultOp::Write,
        }
    }

    /// The entry's name, for the operations that take one (a file's name for reads and
    /// writes).
    pub fn name(&self) -> Option<&str> {
        match self {
            BackendOp::MakeDir { name, .. }
            | BackendOp::RootEntry { name, .. }
            | BackendOp::RemoveDir { name, .. }
            | BackendOp::CreateFile { name, .. }
            | BackendOp::OpenFile { name, .. }
            | BackendOp::Entry { name, .. }
            | BackendOp::RemoveFile { name, .. } => Some(name),
            BackendOp::Touch { name, .. } => name.as_deref(),
            BackendOp::Read { path, .. } | BackendOp::Write { path, .. } => path.file_name(),
            BackendOp::Lock { .. }
            | BackendOp::DirMeta { .. }
            | BackendOp::List { .. }
            | BackendOp::Scan { .. } => None,
        }
    }

    /// The absolute path the operation is about: the entry's (`dir` joined with `name`),
    /// or the directory's for operations on the directory itself.
    pub fn path(&self) -> Utf8PathBuf {
        match self {
            BackendOp::Read { path, .. } | BackendOp::Write { path, .. } => path.clone(),
            BackendOp::Lock { dir }
            | BackendOp::DirMeta { dir }
            | BackendOp::List { dir }
            | BackendOp::Scan { dir } => dir.clone(),
            BackendOp::Touch { dir, name: None } => dir.clone(),
            BackendOp::MakeDir { dir, name }
            | BackendOp::RootEntry { dir, name }
            | BackendOp::RemoveDir { dir, name }
            | BackendOp::CreateFile { dir, name }
            | BackendOp::OpenFile { dir, name }
            | BackendOp::Entry { dir, name }
            | BackendOp::RemoveFile { dir, name }
            | BackendOp::Touch {
                dir,
                name: Some(name),
            } => dir.join(name),
        }
    }
}

impl fmt::Display for BackendOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.fault_op(), self.path())?;
        match self {
            BackendOp::Read { len, .. } | BackendOp::Write { len, .. } => {
                write!(f, " ({len} bytes)")
            }
            _ => Ok(()),
        }
    }
}

/// A [`Backend`] over a [`MemoryFs`]: a handle on a root directory, in which the core
/// makes its temporary directory, acting as the uid of the view it was made from.
///
/// Every operation goes through a handle (the root's, or a [`MemoryDir`]) and **never
/// follows a symlink**: `create_file` on a symlink is `AlreadyExists`, `open_file` on one
/// is `ELOOP`, `entry` reports it as [`FileKind::Symlink`](tempdir_core::FileKind).
/// Directories are made with mode exactly `0700` and files `0600`, whatever the umask.
/// Names come from the filesystem's seeded generator. Before each operation the
/// filesystem's hook runs and its faults are checked.
///
/// ```
/// use tempdir_core::TemporaryDirectory;
/// use tempdir_memory::{MemoryBackend, MemoryFs};
///
/// let fs = MemoryFs::with_seed(42);
/// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
/// let meta = fs.metadata(tmp.dir())?;
/// assert!(meta.is_dir());
/// assert_eq!((meta.mode, meta.uid), (0o700, 1000));
/// // systemd-tmpfiles would skip it: the instance holds a shared flock.
/// assert!(!fs.as_uid(0).try_lock_exclusive(tmp.dir())?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryBackend {
    fs: MemoryFs,
    root_path: Utf8PathBuf,
    root: Handle,
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("root", &self.root_path)
            .field("ino", &self.root.ino)
            .field("uid", &self.fs.uid())
            .finish()
    }
}

/// A handle on a directory made by [`MemoryBackend`]: it keeps the inode (and its
/// identity) after the directory is removed, as an open fd does, and holds the shared
/// `flock` [`lock_shared`](Backend::lock_shared) took until it is dropped.
pub struct MemoryDir {
    handle: Handle,
    path: Utf8PathBuf,
}

impl fmt::Debug for MemoryDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDir")
            .field("path", &self.path)
            .field("ino", &self.handle.ino)
            .field("locked", &self.handle.holds_lock())
            .finish()
    }
}

impl MemoryDir {
    /// The path the directory was made at (it may have moved or gone since).
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Its identity.
    pub fn id(&self) -> FileId {
        crate::state::file_id(self.handle.ino)
    }

    /// Whether this handle holds a shared `flock`.
    pub fn holds_lock(&self) -> bool {
        self.handle.holds_lock()
    }
}

impl MemoryBackend {
    /// Opens `root` in `fs` (following symlinks, as opening a directory by path with
    /// ambient authority does) and acts as `fs`'s uid. A root that is missing, not a
    /// directory or not readable is [`Error::Io`] with [`Op::OpenRoot`].
    pub fn new(fs: &MemoryFs, root: impl AsRef<Utf8Path>) -> Result<Self, Error> {
        let root = root.as_ref();
        // Resolved once, like the cap-std backend's: the paths handed out are the real ones
        // the handle was opened at, whatever symlinks led there.
        let opened = {
            let mut state = fs.lock();
            let result = state
                .open_root(fs.actor(), root)
                .map(|ino| (ino, state.dir_path(ino)));
            let outcome = match &result {
                Ok((ino, _)) => format!("ino={ino}"),
                Err(errno) => errno.name().to_owned(),
            };
            let line = format!("uid={} open_root {root} -> {outcome}", fs.uid());
            state.trace.push(line);
            result
        };
        match opened {
            Ok((ino, root_path)) => Ok(MemoryBackend {
                fs: fs.clone(),
                root_path,
                root: Handle::new(fs, ino),
            }),
            Err(errno) => Err(Error::Io {
                op: Op::OpenRoot,
                path: root.to_owned(),
                source: errno.into(),
            }),
        }
    }

    /// The filesystem it works on (the view it acts as).
    pub fn fs(&self) -> &MemoryFs {
        &self.fs
    }

    /// The full metadata of the directory behind a handle (`fstat`), without a hook, a
    /// fault or a trace line: for tests.
    pub fn dir_metadata(&self, dir: &MemoryDir) -> MemoryMetadata {
        self.fs.lock().metadata(dir.handle.ino)
    }

    fn root_op(&self, kind: fn(Utf8PathBuf, String) -> BackendOp, name: &str) -> BackendOp {
        kind(self.root_path.clone(), name.to_owned())
    }

    /// A handle from another filesystem is `EBADF`, as an fd of another process would be.
    fn check_dir(&self, dir: &MemoryDir) -> io::Result<()> {
        if dir.handle.belongs_to(&self.fs) {
            Ok(())
        } else {
            Err(Errno::EBADF.into())
        }
    }

    fn file(&self, dir: &MemoryDir, name: &str, ino: u64) -> (MemoryFile, FileId) {
        let file = MemoryFile::new(&self.fs, Handle::new(&self.fs, ino), dir.path.join(name));
        (file, crate::state::file_id(ino))
    }
}

impl Backend for MemoryBackend {
    type File = MemoryFile;
    type Dir = MemoryDir;

    fn root(&self) -> &Utf8Path {
        &self.root_path
    }

    fn random(&self) -> u64 {
        self.fs.random_u64()
    }

    fn make_dir(&self, name: &str) -> io::Result<(MemoryDir, FileId)> {
        let op = self.root_op(|dir, name| BackendOp::MakeDir { dir, name }, name);
        let root = self.root.ino;
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state.make_dir_at(actor, root, name).map(Ino)
        })?;
        let dir = MemoryDir {
            handle: Handle::new(&self.fs, ino),
            path: self.root_path.join(name),
        };
        let id = dir.id();
        Ok((dir, id))
    }

    fn lock_shared(&self, dir: &MemoryDir) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::Lock {
            dir: dir.path.clone(),
        };
        self.fs.backend_call(&op, |state, _| {
            if dir.handle.mark_locked() {
                state.lock_shared(dir.handle.ino);
            }
            Ok(())
        })
    }

    fn dir_meta(&self, dir: &MemoryDir) -> io::Result<Meta> {
        self.check_dir(dir)?;
        let op = BackendOp::DirMeta {
            dir: dir.path.clone(),
        };
        self.fs
            .backend_call(&op, |state, _| Ok(state.meta(dir.handle.ino)))
    }

    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
        let op = self.root_op(|dir, name| BackendOp::RootEntry { dir, name }, name);
        let root = self.root.ino;
        self.fs
            .backend_call(&op, |state, actor| state.entry_at(actor, root, name))
    }

    fn remove_dir(&self, name: &str) -> io::Result<()> {
        let op = self.root_op(|dir, name| BackendOp::RemoveDir { dir, name }, name);
        let root = self.root.ino;
        self.fs
            .backend_call(&op, |state, actor| state.remove_dir_at(actor, root, name))
    }

    fn create_file(&self, dir: &MemoryDir, name: &str) -> io::Result<(MemoryFile, FileId)> {
        self.check_dir(dir)?;
        let op = BackendOp::CreateFile {
            dir: dir.path.clone(),
            name: name.to_owned(),
        };
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state.create_file_at(actor, dir.handle.ino, name).map(Ino)
        })?;
        Ok(self.file(dir, name, ino))
    }

    fn open_file(&self, dir: &MemoryDir, name: &str) -> io::Result<(MemoryFile, FileId)> {
        self.check_dir(dir)?;
        let op = BackendOp::OpenFile {
            dir: dir.path.clone(),
            name: name.to_owned(),
        };
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state.open_file_at(actor, dir.handle.ino, name).map(Ino)
        })?;
        Ok(self.file(dir, name, ino))
    }

    fn entry(&self, dir: &MemoryDir, name: &str) -> io::Result<Option<Meta>> {
        self.check_dir(dir)?;
        let op = BackendOp::Entry {
            dir: dir.path.clone(),
            name: name.to_owned(),
        };
        self.fs.backend_call(&op, |state, actor| {
            state.entry_at(actor, dir.handle.ino, name)
        })
    }

    fn remove_file(&self, dir: &MemoryDir, name: &str) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::RemoveFile {
            dir: dir.path.clone(),
            name: name.to_owned(),
        };
        self.fs.backend_call(&op, |state, actor| {
            state.remove_file_at(actor, dir.handle.ino, name)
        })
    }

    fn touch(&self, dir: &MemoryDir, name: Option<&str>) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::Touch {
            dir: dir.path.clone(),
            name: name.map(str::to_owned),
        };
        self.fs.backend_call(&op, |state, actor| {
            state.touch_at(actor, dir.handle.ino, name)
        })
    }

    fn list(&self, dir: &MemoryDir) -> io::Result<Vec<String>> {
        self.check_dir(dir)?;
        let op = BackendOp::List {
            dir: dir.path.clone(),
        };
        self.fs
            .backend_call(&op, |state, actor| state.list_at(actor, dir.handle.ino))
    }

    /// Always a listing: inode numbers are never reused here, so one identifies a file.
    fn scan(&self, dir: &MemoryDir, visit: &mut dyn FnMut(&str, Listed)) -> io::Result<bool> {
        self.check_dir(dir)?;
        let op = BackendOp::Scan {
            dir: dir.path.clone(),
        };
        let listed = self
            .fs
            .backend_call(&op, |state, actor| state.scan_at(actor, dir.handle.ino))?;
        for (name, listed) in &listed {
            visit(name, *listed);
        }
        Ok(true)
    }
}
