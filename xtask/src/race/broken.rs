//! Deliberately broken backends: the memory backend with one defence taken out. The
//! simulator tests itself with them (each break must be caught by at least one row of the
//! table, `tests.rs`), and `--break NAME` shows which rows catch one.
//!
//! Every break is a mistake a directory library could make: following a symlink where the
//! kernel call should not, working by absolute path instead of through the handle, or
//! removing the directory without making sure it is the one made.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Backend, FileId, FileKind, Meta};
use tempdir_memory::{MemoryBackend, MemoryDir, MemoryFile, MemoryFs};

use super::env::Outside;
use crate::lock;

/// One defence taken out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Break {
    /// `create_file` opens whatever is at the name, following a symlink
    /// (`O_CREAT` without `O_EXCL|O_NOFOLLOW`).
    CreateFollows,
    /// `open_file` follows a symlink at the name.
    OpenFollows,
    /// `remove_file` removes a symlink's target too.
    UnlinkFollows,
    /// `touch` (`keep_alive`) follows a symlink at the name.
    TouchFollows,
    /// `set_file_mode` by the path the file was made at, following symlinks (`chmod`
    /// instead of `fchmod`).
    ChmodByPath,
    /// `create_file` by absolute path (create-new, not following, as duplicity does).
    CreateByPath,
    /// `open_file` by absolute path, following symlinks.
    OpenByPath,
    /// `remove_file` by absolute path.
    UnlinkByPath,
    /// `touch` by absolute path, following symlinks (`os.utime`).
    TouchByPath,
    /// The directory is not moved aside: after the core's look, `rmdir` by its path.
    RmdirByPath,
    /// Whatever is at the directory's name is taken for the directory made.
    RmdirUnverified,
}

impl Break {
    pub const ALL: [Break; 11] = [
        Break::CreateFollows,
        Break::OpenFollows,
        Break::UnlinkFollows,
        Break::TouchFollows,
        Break::ChmodByPath,
        Break::CreateByPath,
        Break::OpenByPath,
        Break::UnlinkByPath,
        Break::TouchByPath,
        Break::RmdirByPath,
        Break::RmdirUnverified,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Break::CreateFollows => "create-follows",
            Break::OpenFollows => "open-follows",
            Break::UnlinkFollows => "unlink-follows",
            Break::TouchFollows => "touch-follows",
            Break::ChmodByPath => "chmod-by-path",
            Break::CreateByPath => "create-by-path",
            Break::OpenByPath => "open-by-path",
            Break::UnlinkByPath => "unlink-by-path",
            Break::TouchByPath => "touch-by-path",
            Break::RmdirByPath => "rmdir-by-path",
            Break::RmdirUnverified => "rmdir-unverified",
        }
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The prefix of the names the core moves its directory to before removing it.
const ASIDE: &str = ".tempdirs-rm-";

/// `MemoryBackend` with one [`Break`].
pub struct Broken {
    inner: MemoryBackend,
    /// The view the backend acts as, for what it does by path.
    fs: MemoryFs,
    brk: Break,
    /// The directory made: its name and identity.
    ours: Mutex<Option<(String, FileId)>>,
}

impl Broken {
    pub fn new(inner: MemoryBackend, brk: Break) -> Self {
        Broken {
            fs: inner.fs().clone(),
            inner,
            brk,
            ours: Mutex::new(None),
        }
    }

    fn ours(&self) -> Option<(String, FileId)> {
        lock(&self.ours).clone()
    }

    fn path(dir: &MemoryDir, name: &str) -> Utf8PathBuf {
        dir.path().join(name)
    }

    /// Where the symlink at `name` leads, if one is there (looked up through the handle).
    fn link_target(&self, dir: &MemoryDir, name: &str) -> io::Result<Option<Utf8PathBuf>> {
        match self.inner.entry(dir, name)? {
            Some(meta) if meta.kind == FileKind::Symlink => {
                let link = self.fs.read_link(Self::path(dir, name))?;
                Ok(Some(if link.is_relative() {
                    dir.path().join(link)
                } else {
                    link
                }))
            }
            _ => Ok(None),
        }
    }

    fn by_path(&self, path: Utf8PathBuf) -> io::Result<(BrokenFile, FileKind)> {
        let kind = self.fs.metadata(&path)?.kind;
        if kind == FileKind::Dir {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        Ok((
            BrokenFile::Path(PathFile {
                fs: self.fs.clone(),
                path,
                pos: 0,
            }),
            kind,
        ))
    }
}

impl Backend for Broken {
    type File = BrokenFile;
    type Dir = MemoryDir;

    fn root(&self) -> &Utf8Path {
        self.inner.root()
    }
    fn seed(&self) -> Option<u64> {
        self.inner.seed()
    }
    fn euid(&self) -> Option<u32> {
        self.inner.euid()
    }
    fn root_meta(&self) -> io::Result<Meta> {
        self.inner.root_meta()
    }
    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
        let ours = self.ours();
        match (self.brk, ours) {
            (Break::RmdirByPath, Some((dir, _))) if name.starts_with(ASIDE) => {
                self.inner.root_entry(&dir)
            }
            (Break::RmdirUnverified, Some((dir, id))) if name == dir || name.starts_with(ASIDE) => {
                Ok(self.inner.root_entry(name)?.map(|meta| Meta { id, ..meta }))
            }
            _ => self.inner.root_entry(name),
        }
    }
    fn make_dir(&self, name: &str, mode: u32) -> io::Result<()> {
        self.inner.make_dir(name, mode)?;
        if let Ok(Some(meta)) = self.inner.root_entry(name) {
            *lock(&self.ours) = Some((name.to_owned(), meta.id));
        }
        Ok(())
    }
    fn set_mode_at(&self, name: &str, mode: u32) -> io::Result<()> {
        self.inner.set_mode_at(name, mode)
    }
    fn open_dir(&self, name: &str) -> io::Result<MemoryDir> {
        self.inner.open_dir(name)
    }
    fn rename_at(&self, from: &str, to: &str) -> io::Result<()> {
        if self.brk == Break::RmdirByPath && (to.starts_with(ASIDE) || from.starts_with(ASIDE)) {
            // Not moved at all.
            return Ok(());
        }
        self.inner.rename_at(from, to)
    }
    fn remove_dir(&self, name: &str) -> io::Result<()> {
        if self.brk == Break::RmdirByPath
            && name.starts_with(ASIDE)
            && let Some((dir, _)) = self.ours()
        {
            return self.fs.remove_dir(self.inner.root().join(dir));
        }
        self.inner.remove_dir(name)
    }
    fn dir_meta(&self, dir: &MemoryDir) -> io::Result<Meta> {
        self.inner.dir_meta(dir)
    }
    fn set_dir_mode(&self, dir: &MemoryDir, mode: u32) -> io::Result<()> {
        self.inner.set_dir_mode(dir, mode)
    }
    fn lock_shared(&self, dir: &MemoryDir) -> io::Result<()> {
        self.inner.lock_shared(dir)
    }
    fn create_file(&self, dir: &MemoryDir, name: &str, mode: u32) -> io::Result<BrokenFile> {
        match self.brk {
            Break::CreateFollows => match self.inner.entry(dir, name)? {
                None => {}
                Some(meta) if meta.kind == FileKind::Symlink => {
                    let target = self.link_target(dir, name)?.unwrap_or_default();
                    if !self.fs.exists(&target) {
                        self.fs.write(&target, b"")?;
                    }
                    return self.by_path(target).map(|f| f.0);
                }
                Some(_) => {
                    return self
                        .inner
                        .open_file(dir, name)
                        .map(|f| BrokenFile::Handle(f.0));
                }
            },
            Break::CreateByPath => {
                let path = Self::path(dir, name);
                if self.fs.symlink_metadata(&path).is_ok() {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                self.fs.write(&path, b"")?;
                self.fs.set_permissions(&path, mode)?;
                return self.by_path(path).map(|f| f.0);
            }
            _ => {}
        }
        self.inner
            .create_file(dir, name, mode)
            .map(BrokenFile::Handle)
    }
    fn set_file_mode(&self, file: &BrokenFile, mode: u32) -> io::Result<()> {
        match (self.brk, file) {
            (Break::ChmodByPath, _) => self.fs.set_permissions(file.path(), mode),
            (_, BrokenFile::Handle(f)) => self.inner.set_file_mode(f, mode),
            (_, BrokenFile::Path(f)) => self.fs.set_permissions(&f.path, mode),
        }
    }
    fn open_file(&self, dir: &MemoryDir, name: &str) -> io::Result<(BrokenFile, FileKind)> {
        match self.brk {
            Break::OpenFollows => {
                if let Some(target) = self.link_target(dir, name)? {
                    return self.by_path(target);
                }
            }
            Break::OpenByPath => return self.by_path(Self::path(dir, name)),
            _ => {}
        }
        self.inner
            .open_file(dir, name)
            .map(|(f, kind)| (BrokenFile::Handle(f), kind))
    }
    fn entry(&self, dir: &MemoryDir, name: &str) -> io::Result<Option<Meta>> {
        self.inner.entry(dir, name)
    }
    fn remove_file(&self, dir: &MemoryDir, name: &str) -> io::Result<()> {
        match self.brk {
            Break::UnlinkFollows => {
                if let Some(target) = self.link_target(dir, name)? {
                    let _ = self.fs.remove_file(target);
                }
            }
            Break::UnlinkByPath => return self.fs.remove_file(Self::path(dir, name)),
            _ => {}
        }
        self.inner.remove_file(dir, name)
    }
    fn touch(&self, dir: &MemoryDir, name: Option<&str>) -> io::Result<()> {
        match (self.brk, name) {
            (Break::TouchFollows, Some(name)) => {
                if let Some(target) = self.link_target(dir, name)? {
                    return Outside::touch(&self.fs, &target);
                }
            }
            (Break::TouchByPath, None) => return Outside::touch(&self.fs, dir.path()),
            (Break::TouchByPath, Some(name)) => {
                return Outside::touch(&self.fs, &Self::path(dir, name));
            }
            _ => {}
        }
        self.inner.touch(dir, name)
    }
    fn list(&self, dir: &MemoryDir) -> io::Result<Vec<OsString>> {
        self.inner.list(dir)
    }
}

/// A file of a broken backend: a real handle, or a path it is read and written through.
#[derive(Debug)]
pub enum BrokenFile {
    Handle(MemoryFile),
    Path(PathFile),
}

impl BrokenFile {
    fn path(&self) -> &Utf8Path {
        match self {
            BrokenFile::Handle(f) => f.path(),
            BrokenFile::Path(f) => &f.path,
        }
    }
}

/// A file worked on by path: every read and write opens the path again, following
/// symlinks, as code that keeps a path instead of a descriptor does.
#[derive(Debug)]
pub struct PathFile {
    fs: MemoryFs,
    path: Utf8PathBuf,
    pos: u64,
}

impl Read for PathFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.fs.read(&self.path)?;
        let start = (self.pos as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for PathFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = match self.fs.read(&self.path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let start = self.pos as usize;
        if data.len() < start + buf.len() {
            data.resize(start + buf.len(), 0);
        }
        data[start..start + buf.len()].copy_from_slice(buf);
        self.fs.write(&self.path, &data)?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for PathFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let len = self.fs.metadata(&self.path)?.len;
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

impl Read for BrokenFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BrokenFile::Handle(f) => f.read(buf),
            BrokenFile::Path(f) => f.read(buf),
        }
    }
}

impl Write for BrokenFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            BrokenFile::Handle(f) => f.write(buf),
            BrokenFile::Path(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            BrokenFile::Handle(f) => f.flush(),
            BrokenFile::Path(f) => f.flush(),
        }
    }
}

impl Seek for BrokenFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            BrokenFile::Handle(f) => f.seek(pos),
            BrokenFile::Path(f) => f.seek(pos),
        }
    }
}
