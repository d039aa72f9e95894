//! What `stat` says about an inode.

use std::time::Duration;

use tempdir_core::{FileId, FileKind};

/// The `stat` of an entry in a [`MemoryFs`](crate::MemoryFs), with Linux's fields.
///
/// Times are instants on the filesystem's virtual clock (durations since its epoch, see
/// [`MemoryFs::now`](crate::MemoryFs::now)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryMetadata {
    /// What kind of object it is ([`FileKind::Other`] for a FIFO).
    pub kind: FileKind,
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`), without the
    /// file type bits.
    pub mode: u32,
    /// The owner (`st_uid`).
    pub uid: u32,
    /// Size in bytes: a file's content, a symlink's target, 4096 for a directory, 0 for a
    /// special file.
    pub len: u64,
    /// The inode number (`st_ino`): never reused within one filesystem.
    pub ino: u64,
    /// The device (`st_dev`): [`MemoryFs::DEV`](crate::MemoryFs::DEV), but for entries
    /// under a directory made with [`create_device_dir`](crate::MemoryFs::create_device_dir).
    pub dev: u64,
    /// The link count: 0 once the last name is gone (an open handle keeps the inode), 2 +
    /// subdirectories for a directory.
    pub nlink: u64,
    /// Last access (`st_atime`).
    pub atime: Duration,
    /// Last content change (`st_mtime`).
    pub mtime: Duration,
    /// Last status change (`st_ctime`).
    pub ctime: Duration,
    /// Birth (`statx`'s `stx_btime`).
    pub btime: Duration,
}

impl MemoryMetadata {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == FileKind::File
    }

    /// Whether it is a symbolic link (only [`symlink_metadata`] can say so).
    ///
    /// [`symlink_metadata`]: crate::MemoryFs::symlink_metadata
    pub fn is_symlink(&self) -> bool {
        self.kind == FileKind::Symlink
    }

    /// Its identity, as the core compares it.
    pub fn id(&self) -> FileId {
        FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }
}
