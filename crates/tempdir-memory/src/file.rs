//! `MemoryFile`: an open file description on an inode of a `MemoryFs`.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::FileId;

use crate::Errno;
use crate::FaultOp;
use crate::backend::BackendOp;
use crate::fs::{Bytes, Handle, MemoryFs};
use crate::meta::MemoryMetadata;

/// The largest file a `MemoryFile` grows to (`EFBIG` beyond): content is held in memory,
/// holes included.
pub const MAX_FILE_SIZE: u64 = 1 << 30;

/// A file opened read-write by [`MemoryBackend`](crate::MemoryBackend), like a
/// `std::fs::File`: it refers to the inode, not the name, so reads and writes keep working
/// after the name is unlinked or replaced (a reaper removing an open file loses nothing
/// until the file is closed). Each read and write runs the filesystem's hook, is checked
/// against its faults ([`FaultOp::Read`](crate::FaultOp::Read),
/// [`FaultOp::Write`](crate::FaultOp::Write)) and is traced. Like `File`, `&MemoryFile`
/// reads, writes and seeks too; the position is shared.
///
/// A `MemoryFile` on a special file ([`MemoryFs::mkfifo`]) holds no data: reads and writes
/// fail with `EAGAIN` (`WouldBlock`, what a non-blocking FIFO says when it cannot go on),
/// seeks with `ESPIPE` and [`set_len`](Self::set_len) with `EINVAL`.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// # mod tempdirs { pub use tempdir_core::*; pub mod memory { pub use tempdir_memory::*; pub type TemporaryDirectory = tempdir_core::TemporaryDirectory<MemoryBackend>; } }
/// use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
///
/// let fs = MemoryFs::new();
/// let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
/// let (mut file, path) = tmp.mkstemp()?;
/// file.write_all(b"kept")?;
/// fs.remove_file(&path)?; // a reaper
/// file.seek(SeekFrom::Start(0))?;
/// let mut back = String::new();
/// file.read_to_string(&mut back)?;
/// assert_eq!(back, "kept");
/// assert_eq!(file.metadata().nlink, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryFile {
    fs: MemoryFs,
    handle: Handle,
    path: Utf8PathBuf,
    pos: AtomicU64,
    /// A special file: no data, no position.
    special: bool,
}

impl fmt::Debug for MemoryFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFile")
            .field("path", &self.path)
            .field("ino", &self.handle.ino)
            .field("pos", &self.pos.load(Ordering::SeqCst))
            .finish()
    }
}

impl MemoryFile {
    pub(crate) fn new(
        fs: &MemoryFs,
        handle: Handle,
        path: Utf8PathBuf,
        special: bool,
    ) -> MemoryFile {
        MemoryFile {
            fs: fs.clone(),
            handle,
            path,
            pos: AtomicU64::new(0),
            special,
        }
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// `fstat`: what the inode is now (`nlink` 0 once unlinked).
    pub fn metadata(&self) -> MemoryMetadata {
        self.fs.lock().metadata(self.handle.ino)
    }

    /// Its identity.
    pub fn id(&self) -> FileId {
        self.handle.id()
    }

    /// The path it was created or opened at (it may lead elsewhere by now).
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// `ftruncate`: cuts or zero-extends the content to `len` bytes.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a special file, `EFBIG` for a length past
    /// [`MAX_FILE_SIZE`](crate::MAX_FILE_SIZE).
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        if self.special {
            return Err(Errno::EINVAL.into());
        }
        if len > MAX_FILE_SIZE {
            return Err(Errno::EFBIG.into());
        }
        let len = len as usize;
        let mut state = self.fs.lock();
        if let Some(data) = state.file_data(self.handle.ino) {
            data.resize(len, 0);
        }
        state.modified(self.handle.ino);
        let line = format!("uid={} set_len {} {len} -> ok", self.fs.uid(), self.path);
        state.trace.push(line);
        Ok(())
    }

    fn read_at_pos(&self, buf: &mut [u8]) -> io::Result<usize> {
        let op = BackendOp::on_file(FaultOp::Read, &self.path).with_len(buf.len());
        let ino = self.handle.ino;
        let Bytes(n) = self.fs.backend_call(&op, |state, actor| {
            if self.special {
                // An empty FIFO opened without blocking: nothing to read yet.
                return if buf.is_empty() {
                    Ok(Bytes(0))
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            let pos = self.pos.load(Ordering::SeqCst);
            let data = state.file_data(ino).ok_or(Errno::EAGAIN)?;
            let start = usize::try_from(pos).unwrap_or(usize::MAX).min(data.len());
            let n = buf.len().min(data.len() - start);
            buf[..n].copy_from_slice(&data[start..start + n]);
            self.pos.store(pos + n as u64, Ordering::SeqCst);
            if !buf.is_empty() {
                state.accessed(ino, actor);
            }
            Ok(Bytes(n))
        })?;
        Ok(n)
    }

    fn write_at_pos(&self, buf: &[u8]) -> io::Result<usize> {
        let op = BackendOp::on_file(FaultOp::Write, &self.path).with_len(buf.len());
        let ino = self.handle.ino;
        let Bytes(n) = self.fs.backend_call(&op, |state, _| {
            if buf.is_empty() {
                return Ok(Bytes(0));
            }
            if self.special {
                // The model keeps no data in a special file: as a full pipe, no room.
                return Err(Errno::EAGAIN);
            }
            let pos = self.pos.load(Ordering::SeqCst);
            let start = usize::try_from(pos).map_err(|_| Errno::EFBIG)?;
            let end = start
                .checked_add(buf.len())
                .filter(|end| *end as u64 <= MAX_FILE_SIZE)
                .ok_or(Errno::EFBIG)?;
            let data = state.file_data(ino).ok_or(Errno::EAGAIN)?;
            if data.len() < end {
                // Writing past the end leaves a hole that reads as zeros.
                data.resize(end, 0);
            }
            data[start..end].copy_from_slice(buf);
            state.modified(ino);
            self.pos.store(end as u64, Ordering::SeqCst);
            Ok(Bytes(buf.len()))
        })?;
        Ok(n)
    }

    fn seek_to(&self, to: SeekFrom) -> io::Result<u64> {
        if self.special {
            return Err(Errno::ESPIPE.into());
        }
        let base = match to {
            SeekFrom::Start(offset) => {
                self.pos.store(offset, Ordering::SeqCst);
                return Ok(offset);
            }
            SeekFrom::End(delta) => {
                let len = self
                    .fs
                    .lock()
                    .file_data(self.handle.ino)
                    .map_or(0, |data| data.len() as u64);
                (len, delta)
            }
            SeekFrom::Current(delta) => (self.pos.load(Ordering::SeqCst), delta),
        };
        let (from, delta) = base;
        let pos = from
            .checked_add_signed(delta)
            .ok_or_else(|| io::Error::from(Errno::EINVAL))?;
        self.pos.store(pos, Ordering::SeqCst);
        Ok(pos)
    }
}

impl Read for MemoryFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_at_pos(buf)
    }
}

impl Write for MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_at_pos(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for MemoryFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.seek_to(to)
    }
}

impl Read for &MemoryFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_at_pos(buf)
    }
}

impl Write for &MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_at_pos(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &MemoryFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.seek_to(to)
    }
}
