//! A program that chose the in-memory backend so that it never touches the disk, built
//! with every feature on: it must still never touch the disk.
//!
//! CI runs it with `--all-features` and `TMPDIR` pointing at an empty directory, and checks
//! that the directory is still empty afterwards. The in-memory root is `/scratch`, which
//! does not exist on disk: anything that reached the disk would fail there.

use std::io::{Read, Seek, Write};

use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fs = MemoryFs::with_seed(3);
    // Made by root, sticky and world-writable like /tmp.
    fs.as_uid(0).create_dir_with_mode("/scratch", 0o1777)?;
    let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/scratch")?)?;
    let (mut file, path) = tmp.mkstemp()?;
    file.write_all(b"never on disk")?;
    file.rewind()?;
    let mut back = String::new();
    file.read_to_string(&mut back)?;
    assert_eq!(back, "never on disk");
    assert!(fs.exists(&path), "the file is in memory");
    assert!(
        !std::path::Path::new(path.as_str()).exists(),
        "the file is not on disk"
    );
    let dir = tmp.dir().to_owned();
    assert!(tmp.cleanup().is_complete());
    assert!(!fs.exists(&dir));
    println!("in memory only: {path}");
    Ok(())
}
