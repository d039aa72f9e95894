//! A host that grants the library one directory capability — a WASI preopen, a sandbox's
//! scratch area — and no ambient authority: every operation is relative to that handle,
//! and nothing outside it can be named.
//!
//! `cargo run -p tempdirs --example capability_host`

use std::io::Write;

use tempdirs::cap_std::{ambient_authority, fs::Dir};
use tempdirs::core::TemporaryDirectory;
use tempdirs::{CapStdBackend, Error, Utf8PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The host's one act of ambient authority: opening the directory it grants.
    let granted = Utf8PathBuf::try_from(std::env::temp_dir())?;
    let dir = Dir::open_ambient_dir(&granted, ambient_authority())?;

    // From here on the library holds only the handle; the path is for messages.
    let tmp = TemporaryDirectory::with_backend(CapStdBackend::from_dir(dir, granted))?;
    let (mut file, path) = tmp.mkstemp()?;
    file.write_all(b"sandboxed scratch data")?;
    println!("created {path}");

    // Names that try to leave the directory are refused before any system call.
    for escape in ["../etc/passwd", "/etc/passwd", "a/b"] {
        match tmp.create(escape) {
            Err(Error::OutsideDirectory { .. }) => println!("refused {escape:?}"),
            other => panic!("{escape:?} was not refused: {other:?}"),
        }
    }

    let report = tmp.cleanup();
    assert!(report.is_complete(), "{report:?}");
    println!("cleaned up: {} file, directory removed", report.removed);
    Ok(())
}
