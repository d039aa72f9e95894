//! One `mkstemp` and one `cleanup`, with markers around each, to read under strace:
//!
//! ```text
//! cargo build -p tempdir-cap-std --example syscalls
//! strace -f -e trace=%file,%desc target/debug/examples/syscalls 2>&1 | sed -n '/== mkstemp/,$p'
//! ```
//!
//! Each marker is a `write(2, "== …")` in the trace; what lies between two markers is what
//! the library asked of the kernel for that step. On Linux 6.18, release build, with the
//! system temp dir on ext4 (fd 3 is the root, fd 4 the directory):
//!
//! ```text
//! == mkstemp
//! openat(4, "mkstemp-r3aap3lk-1", O_RDWR|O_CREAT|O_EXCL|O_LARGEFILE|O_NOFOLLOW|O_CLOEXEC, 0600) = 5
//! == close
//! close(5) = 0
//! == cleanup
//! unlinkat(4, "mkstemp-r3aap3lk-1", 0) = 0
//! newfstatat(3, "tempdirs-uvmkqpx3", {st_mode=S_IFDIR|0700, ...}, AT_SYMLINK_NOFOLLOW) = 0
//! renameat2(3, "tempdirs-uvmkqpx3", 3, ".tempdirs-rm-9c7babb728aebcd2", RENAME_NOREPLACE) = 0
//! newfstatat(3, ".tempdirs-rm-9c7babb728aebcd2", {st_mode=S_IFDIR|0700, ...}, AT_SYMLINK_NOFOLLOW) = 0
//! unlinkat(3, ".tempdirs-rm-9c7babb728aebcd2", AT_REMOVEDIR) = 0
//! close(4) = 0
//! == done
//! ```
//!
//! `mkstemp` is the one `openat` of `Backend::create_file`; each file costs cleanup one
//! `unlinkat`. The rest is the core removing the directory only while its name in the
//! root still leads to it: a look at the name (`root_entry`), a move to a fresh hidden name
//! that nobody else can be using (`rename_at`), a look there, and the `rmdir`
//! (`remove_dir`).

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
