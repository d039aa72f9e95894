//! One `mkstemp` and one `cleanup`, with markers around each, to read under strace:
//!
//! ```text
//! cargo build -p tempdir-cap-std --example syscalls
//! strace -f -e trace=%file,%desc target/debug/examples/syscalls 2>&1 | sed -n '/== mkstemp/,$p'
//! ```
//!
//! Each marker is a `write(2, "== …")` in the trace; what lies between two markers is what
//! the library asked of the kernel for that step. On Linux 6.18, release build, with the
//! system temp dir on ext4:
//!
//! ```text
//! == mkstemp
//! openat(4, "mkstemp-pysamyvt-1", O_RDWR|O_CREAT|O_EXCL|O_LARGEFILE|O_NOFOLLOW|O_CLOEXEC, 0600) = 5
//! statx(5, "", AT_EMPTY_PATH, STATX_TYPE|STATX_MODE|STATX_NLINK|STATX_INO|STATX_BTIME, {stx_mode=S_IFREG|0600, ...}) = 0
//! statx(3, "tempdirs-rff5u4qr", AT_SYMLINK_NOFOLLOW, ..., {stx_mode=S_IFDIR|0700, ...}) = 0
//! == close
//! close(5) = 0
//! == cleanup
//! statx(4, "mkstemp-pysamyvt-1", AT_SYMLINK_NOFOLLOW, ..., {stx_mode=S_IFREG|0600, ...}) = 0
//! unlinkat(4, "mkstemp-pysamyvt-1", 0) = 0
//! statx(3, "tempdirs-rff5u4qr", AT_SYMLINK_NOFOLLOW, ..., {stx_mode=S_IFDIR|0700, ...}) = 0
//! unlinkat(3, "tempdirs-rff5u4qr", AT_REMOVEDIR) = 0
//! close(4) = 0
//! == done
//! ```
//!
//! The `statx` of the directory's own name in the root (fd 3) is the core checking
//! that the path still leads to the directory; the rest is the backend. With `TMPDIR` on a
//! tmpfs (`TMPDIR=/dev/shm`), cleanup reads the directory once instead of stat'ing each
//! name, since tmpfs never hands a freed inode number out again:
//!
//! ```text
//! == cleanup
//! openat(4, ".", O_RDONLY|O_LARGEFILE|O_CLOEXEC|O_DIRECTORY) = 5
//! getdents64(5, /* 3 entries */, 65536) = 88
//! getdents64(5, /* 0 entries */, 65536) = 0
//! close(5) = 0
//! unlinkat(4, "mkstemp-bmnly8ui-1", 0) = 0
//! statx(3, "tempdirs-fjoh3o05", AT_SYMLINK_NOFOLLOW, ..., {stx_mode=S_IFDIR|0700, ...}) = 0
//! unlinkat(3, "tempdirs-fjoh3o05", AT_REMOVEDIR) = 0
//! ```

use std::io::Write;

use tempdir_cap_std::{CapStdBackend, TemporaryDirectory};

fn marker(step: &str) {
    // One unbuffered write per marker, so it lands exactly between the steps.
    let _ = std::io::stderr().write_all(format!("== {step}\n").as_bytes());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = TemporaryDirectory::<CapStdBackend>::new()?;
    marker("mkstemp");
    let (file, _path) = tmp.mkstemp()?;
    marker("close");
    drop(file);
    marker("cleanup");
    let report = tmp.cleanup();
    marker("done");
    assert!(report.is_complete(), "{report:?}");
    Ok(())
}
