//! `MemoryBackend`: the core's backend trait over a `MemoryFs`, through handles.

use std::ffi::OsString;
use std::fmt;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Backend, Error, FileId, FileKind, Meta, Op};

use crate::Errno;
use crate::fault::FaultOp;
use crate::file::MemoryFile;
use crate::fs::{Handle, Ino, MemoryFs, Opened};
use crate::meta::MemoryMetadata;

/// The backend operation about to run, as a [hook](MemoryFs::set_hook) sees it and the
/// trace prints it.
///
/// `dir` is the absolute path of the directory the operation works in, as the backend
/// knows it: the root's path, or the root's path joined with the name
/// [`open_dir`](Backend::open_dir) opened. The operation itself goes through the handle,
/// wherever that directory now is. For [`set_file_mode`](Backend::set_file_mode) and the
/// reads and writes of a [`MemoryFile`], `dir` and `name` split the path the file was
/// created or opened at.
///
/// ```
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::memory::{BackendOp, FaultOp, MemoryFs};
///
/// let fs = MemoryFs::new();
/// // Plant a file right before each file the backend creates, at the same name.
/// fs.set_hook(|fs, op: &BackendOp| {
///     if let BackendOp { op: FaultOp::CreateFile, .. } = op {
///         let _ = fs.as_uid(1001).write(op.path(), "planted");
///     }
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendOp {
    /// Which operation it is.
    pub op: FaultOp,
    /// The directory it works in.
    pub dir: Utf8PathBuf,
    /// The entry's name, for the operations that take one (`touch` of the directory
    /// itself takes none), and the file's for reads, writes and `set_file_mode`.
    pub name: Option<String>,
    /// The new name, for `rename_at` and `rename_to`.
    pub to: Option<String>,
    /// The directory the new name is in, for `rename_to` (`rename_at` stays in `dir`).
    pub to_dir: Option<Utf8PathBuf>,
    /// The mode asked for, for `make_dir`, `create_file` and the `set_*mode*` calls.
    pub mode: Option<u32>,
    /// The buffer's length, for reads and writes.
    pub len: Option<usize>,
}

impl BackendOp {
    /// An operation on `dir` itself; the `with_*` methods add the rest.
    pub(crate) fn new(op: FaultOp, dir: &Utf8Path) -> BackendOp {
        BackendOp {
            op,
            dir: dir.to_owned(),
            name: None,
            to: None,
            to_dir: None,
            mode: None,
            len: None,
        }
    }

    /// An operation on an open file: the path it was created or opened at, split.
    pub(crate) fn on_file(op: FaultOp, path: &Utf8Path) -> BackendOp {
        let dir = path.parent().unwrap_or(path);
        let mut made = BackendOp::new(op, dir);
        made.name = path.file_name().map(str::to_owned);
        made
    }

    pub(crate) fn with_name(mut self, name: &str) -> BackendOp {
        self.name = Some(name.to_owned());
        self
    }

    pub(crate) fn with_to(mut self, to: &str) -> BackendOp {
        self.to = Some(to.to_owned());
        self
    }

    pub(crate) fn with_mode(mut self, mode: u32) -> BackendOp {
        self.mode = Some(mode);
        self
    }

    pub(crate) fn with_len(mut self, len: usize) -> BackendOp {
        self.len = Some(len);
        self
    }

    /// Which operation it is, as [`Fault`](crate::Fault)s name them.
    pub fn fault_op(&self) -> FaultOp {
        self.op
    }

    /// The entry's name, if the operation takes one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The absolute path the operation is about: the entry's (`dir` joined with `name`,
    /// the source's for `rename_at`), or the directory's for operations on the directory
    /// itself.
    pub fn path(&self) -> Utf8PathBuf {
        match &self.name {
            Some(name) => crate::state::join(&self.dir, name),
            None => self.dir.clone(),
        }
    }
}

impl fmt::Display for BackendOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.path())?;
        if let Some(to) = &self.to {
            let to_dir = self.to_dir.as_ref().unwrap_or(&self.dir);
            write!(f, " {}", crate::state::join(to_dir, to))?;
        }
        if let Some(mode) = self.mode {
            write!(f, " mode={mode:o}")?;
        }
        if let Some(len) = self.len {
            write!(f, " ({len} bytes)")?;
        }
        Ok(())
    }
}

/// A [`Backend`] over a [`MemoryFs`]: a handle on a root directory, in which the core
/// makes its temporary directory, acting as the uid of the view it was made from.
///
/// It is a model of the kernel's calls, not of the library's policy: every operation goes
/// through a handle (the root's, or a [`MemoryDir`]) with the semantics and errors of the
/// Linux call its method names. The umask applies to what it creates, a non-root uid
/// needs the permission bits the kernel would ask for (root bypasses them), and nothing
/// is followed through a symlink except by [`set_mode_at`](Backend::set_mode_at), as
/// `fchmodat` does: `create_file` on a symlink is `AlreadyExists`, `open_dir` and
/// `open_file` on one are `ELOOP`, `root_entry` reports it as
/// [`FileKind::Symlink`](tempdir_core::FileKind). The name seed comes from the
/// filesystem's seeded generator. Before each operation the filesystem's hook runs and its
/// faults are checked.
///
/// ```
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
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
    /// Opened by path, as with ambient authority; `false` models a host's granted handle.
    ambient: bool,
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("root", &self.root_path)
            .field("ino", &self.root.ino)
            .field("uid", &self.fs.uid())
            .field("ambient", &self.ambient)
            .finish()
    }
}

/// A directory opened by [`MemoryBackend::open_dir`](Backend::open_dir): it keeps the
/// inode (and its identity) after the directory is removed, as an open fd does, and holds
/// the shared `flock` [`lock_shared`](Backend::lock_shared) took until it is dropped.
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
    /// The path the directory was opened at (it may have moved or gone since).
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Its identity.
    pub fn id(&self) -> FileId {
        self.handle.id()
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
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with [`Op::OpenRoot`] and the errno Linux would give (`ENOENT`,
    /// `ENOTDIR`, `EACCES`).
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
                ambient: true,
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

    /// The same backend without ambient authority, as a host that holds only the root's
    /// handle (`CapStdBackend::from_dir`): it can open nothing outside the root, so a
    /// destination elsewhere is refused by the core.
    ///
    /// ```
    /// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
    /// use tempdirs::Error;
    /// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
    ///
    /// let fs = MemoryFs::new();
    /// let backend = MemoryBackend::new(&fs, "/tmp")?.without_ambient_authority();
    /// let tmp = TemporaryDirectory::with_backend(backend)?;
    /// let failed = tmp.named_tempfile()?.persist("/etc/passwd").unwrap_err();
    /// assert!(matches!(failed.error, Error::OutsideRoot { .. }));
    /// failed.file.persist("/tmp/inside").map_err(|failed| failed.error)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn without_ambient_authority(mut self) -> Self {
        self.ambient = false;
        self
    }

    /// The full metadata of the directory behind a handle (`fstat`), without a hook, a
    /// fault or a trace line: for tests.
    pub fn dir_metadata(&self, dir: &MemoryDir) -> MemoryMetadata {
        self.fs.lock().metadata(dir.handle.ino)
    }

    fn root_op(&self, op: FaultOp) -> BackendOp {
        BackendOp::new(op, &self.root_path)
    }

    /// A handle from another filesystem is `EBADF`, as an fd of another process would be.
    fn check_dir(&self, dir: &MemoryDir) -> io::Result<()> {
        if dir.handle.belongs_to(&self.fs) {
            Ok(())
        } else {
            Err(Errno::EBADF.into())
        }
    }
}

impl Backend for MemoryBackend {
    type File = MemoryFile;
    type Dir = MemoryDir;

    fn root(&self) -> &Utf8Path {
        &self.root_path
    }

    /// Drawn from the filesystem's seeded generator, so that runs replay.
    fn seed(&self) -> Option<u64> {
        Some(self.fs.random_u64())
    }

    fn euid(&self) -> Option<u32> {
        Some(self.fs.uid())
    }

    fn root_meta(&self) -> io::Result<Meta> {
        let root = self.root.ino;
        self.fs
            .backend_call(&self.root_op(FaultOp::RootMeta), |state, _| {
                Ok(state.meta(root))
            })
    }

    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
        let op = self.root_op(FaultOp::RootEntry).with_name(name);
        let root = self.root.ino;
        self.fs
            .backend_call(&op, |state, actor| state.entry_at(actor, root, name))
    }

    fn make_dir(&self, name: &str, mode: u32) -> io::Result<()> {
        let op = self
            .root_op(FaultOp::MakeDir)
            .with_name(name)
            .with_mode(mode);
        let root = self.root.ino;
        self.fs.backend_call(&op, |state, actor| {
            state.make_dir_at(actor, root, name, mode)
        })
    }

    fn set_mode_at(&self, name: &str, mode: u32) -> io::Result<()> {
        let op = self
            .root_op(FaultOp::SetModeAt)
            .with_name(name)
            .with_mode(mode);
        let root = self.root.ino;
        self.fs.backend_call(&op, |state, actor| {
            state.set_mode_at(actor, root, name, mode)
        })
    }

    fn open_dir(&self, name: &str) -> io::Result<MemoryDir> {
        let op = self.root_op(FaultOp::OpenDir).with_name(name);
        let root = self.root.ino;
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state.open_dir_at(actor, root, name).map(Ino)
        })?;
        Ok(MemoryDir {
            handle: Handle::new(&self.fs, ino),
            path: crate::state::join(&self.root_path, name),
        })
    }

    fn rename_at(&self, from: &str, to: &str) -> io::Result<()> {
        let op = self.root_op(FaultOp::RenameAt).with_name(from).with_to(to);
        let root = self.root.ino;
        self.fs
            .backend_call(&op, |state, actor| state.rename_at(actor, root, from, to))
    }

    fn remove_dir(&self, name: &str) -> io::Result<()> {
        let op = self.root_op(FaultOp::RemoveDir).with_name(name);
        let root = self.root.ino;
        self.fs
            .backend_call(&op, |state, actor| state.remove_dir_at(actor, root, name))
    }

    fn dir_meta(&self, dir: &MemoryDir) -> io::Result<Meta> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::DirMeta, &dir.path);
        self.fs
            .backend_call(&op, |state, _| Ok(state.meta(dir.handle.ino)))
    }

    fn set_dir_mode(&self, dir: &MemoryDir, mode: u32) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::SetDirMode, &dir.path).with_mode(mode);
        self.fs
            .backend_call(&op, |state, actor| state.chmod(actor, dir.handle.ino, mode))
    }

    fn lock_shared(&self, dir: &MemoryDir) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::Lock, &dir.path);
        self.fs.backend_call(&op, |state, _| {
            if dir.handle.mark_locked() {
                state.lock_shared(dir.handle.ino);
            }
            Ok(())
        })
    }

    fn create_file(&self, dir: &MemoryDir, name: &str, mode: u32) -> io::Result<MemoryFile> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::CreateFile, &dir.path)
            .with_name(name)
            .with_mode(mode);
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state
                .create_file_at(actor, dir.handle.ino, name, mode)
                .map(Ino)
        })?;
        let handle = Handle::new(&self.fs, ino);
        Ok(MemoryFile::new(
            &self.fs,
            handle,
            crate::state::join(&dir.path, name),
            false,
        ))
    }

    fn set_file_mode(&self, file: &MemoryFile, mode: u32) -> io::Result<()> {
        if !file.handle().belongs_to(&self.fs) {
            return Err(Errno::EBADF.into());
        }
        let op = BackendOp::on_file(FaultOp::SetFileMode, file.path()).with_mode(mode);
        let ino = file.handle().ino;
        self.fs
            .backend_call(&op, |state, actor| state.chmod(actor, ino, mode))
    }

    /// A FIFO (or any special file) opens at once, with [`FileKind::Other`]; reading or
    /// writing it fails with `EAGAIN` and seeking with `ESPIPE`
    /// ([`MemoryFs::mkfifo`]).
    fn open_file(&self, dir: &MemoryDir, name: &str) -> io::Result<(MemoryFile, FileKind)> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::OpenFile, &dir.path).with_name(name);
        let Opened(ino, kind) = self.fs.backend_call(&op, |state, actor| {
            state
                .open_file_at(actor, dir.handle.ino, name)
                .map(|(ino, kind)| Opened(ino, kind))
        })?;
        let handle = Handle::new(&self.fs, ino);
        let special = kind != FileKind::File;
        let file = MemoryFile::new(
            &self.fs,
            handle,
            crate::state::join(&dir.path, name),
            special,
        );
        Ok((file, kind))
    }

    fn entry(&self, dir: &MemoryDir, name: &str) -> io::Result<Option<Meta>> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::Entry, &dir.path).with_name(name);
        self.fs.backend_call(&op, |state, actor| {
            state.entry_at(actor, dir.handle.ino, name)
        })
    }

    fn remove_file(&self, dir: &MemoryDir, name: &str) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::RemoveFile, &dir.path).with_name(name);
        self.fs.backend_call(&op, |state, actor| {
            state.remove_file_at(actor, dir.handle.ino, name)
        })
    }

    fn touch(&self, dir: &MemoryDir, name: Option<&str>) -> io::Result<()> {
        self.check_dir(dir)?;
        let mut op = BackendOp::new(FaultOp::Touch, &dir.path);
        op.name = name.map(str::to_owned);
        self.fs.backend_call(&op, |state, actor| {
            state.touch_at(actor, dir.handle.ino, name)
        })
    }

    fn list(&self, dir: &MemoryDir) -> io::Result<Vec<OsString>> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::List, &dir.path);
        let names = self
            .fs
            .backend_call(&op, |state, actor| state.list_at(actor, dir.handle.ino))?;
        Ok(names.into_iter().map(OsString::from).collect())
    }

    /// `O_TMPFILE`: an inode no entry names. Its [`MemoryFile::path`] is the directory's
    /// path joined with `<unnamed N>` (N its inode number), for traces and faults.
    fn create_unnamed(&self, dir: &MemoryDir, mode: u32) -> io::Result<MemoryFile> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::CreateUnnamed, &dir.path).with_mode(mode);
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state
                .create_unnamed_at(actor, dir.handle.ino, mode)
                .map(Ino)
        })?;
        let handle = Handle::new(&self.fs, ino);
        let path = crate::state::join(&dir.path, format!("<unnamed {ino}>"));
        Ok(MemoryFile::new(&self.fs, handle, path, false))
    }

    /// True, but for a backend made [`without_ambient_authority`](Self::without_ambient_authority).
    fn ambient_authority(&self) -> bool {
        self.ambient
    }

    /// Resolves `path` from `/` as an outside actor would (following symlinks), needing
    /// only search permission along the way, as `O_PATH` does.
    fn open_dir_ambient(&self, path: &Utf8Path) -> io::Result<MemoryDir> {
        if !self.ambient {
            return Err(Errno::EACCES.into());
        }
        let op = BackendOp::new(FaultOp::OpenDirAmbient, path);
        let opened = self.fs.backend_call(&op, |state, actor| {
            state
                .open_dir_path(actor, path)
                .map(|ino| Opened(ino, FileKind::Dir))
        })?;
        Ok(self.opened_dir(opened.0))
    }

    /// Resolves the relative `path` from the root's handle; what resolves outside the root
    /// is `EACCES`, as cap-std's sandbox reports an escape.
    fn open_dir_beneath(&self, path: &Utf8Path) -> io::Result<MemoryDir> {
        let op = self
            .root_op(FaultOp::OpenDirBeneath)
            .with_name(path.as_str());
        let root = self.root.ino;
        let opened = self.fs.backend_call(&op, |state, actor| {
            state
                .open_dir_beneath(actor, root, path)
                .map(|ino| Opened(ino, FileKind::Dir))
        })?;
        Ok(self.opened_dir(opened.0))
    }

    fn rename_to(
        &self,
        dir: &MemoryDir,
        name: &str,
        to_dir: &MemoryDir,
        to: &str,
        replace: bool,
    ) -> io::Result<()> {
        self.check_dir(dir)?;
        self.check_dir(to_dir)?;
        let mut op = BackendOp::new(FaultOp::RenameTo, &dir.path)
            .with_name(name)
            .with_to(to);
        op.to_dir = Some(to_dir.path.clone());
        let (from, into) = (dir.handle.ino, to_dir.handle.ino);
        self.fs.backend_call(&op, |state, actor| {
            state.rename_between(actor, (from, name), (into, to), replace)
        })
    }

    /// `openat(O_DIRECTORY|O_NOFOLLOW)` relative to `dir`: traced and faulted as
    /// [`FaultOp::OpenDir`], the same call as `open_dir`'s on another handle.
    fn open_subdir(&self, dir: &MemoryDir, name: &str) -> io::Result<MemoryDir> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::OpenDir, &dir.path).with_name(name);
        let Ino(ino) = self.fs.backend_call(&op, |state, actor| {
            state.open_dir_at(actor, dir.handle.ino, name).map(Ino)
        })?;
        Ok(MemoryDir {
            handle: Handle::new(&self.fs, ino),
            path: crate::state::join(&dir.path, name),
        })
    }

    /// `unlinkat(AT_REMOVEDIR)` relative to `dir`: traced and faulted as
    /// [`FaultOp::RemoveDir`].
    fn remove_subdir(&self, dir: &MemoryDir, name: &str) -> io::Result<()> {
        self.check_dir(dir)?;
        let op = BackendOp::new(FaultOp::RemoveDir, &dir.path).with_name(name);
        self.fs.backend_call(&op, |state, actor| {
            state.remove_dir_at(actor, dir.handle.ino, name)
        })
    }
}

impl MemoryBackend {
    /// A handle on a directory just opened by path: its path is its real one.
    fn opened_dir(&self, ino: u64) -> MemoryDir {
        let path = self.fs.lock().dir_path(ino);
        MemoryDir {
            handle: Handle::new(&self.fs, ino),
            path,
        }
    }
}
