//! Five everyday tasks, written with the `tempfile` crate (in the comment beside each) and
//! with tempdirs, in no more lines. It depends on `tempdirs` alone.
//!
//! `cargo run -p tempdirs --example from_tempfile`

use std::io::{Read, Seek, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Everything lands in a scratch root of its own, gone at the end.
    let scratch = tempdirs::TemporaryDirectory::new()?;
    let root = scratch.dir();

    // 1. A directory for a test, which the code under test writes into by path.
    //    let dir = tempfile::tempdir()?;
    //    std::fs::write(dir.path().join("out.txt"), "result")?;
    let dir = tempdirs::Builder::new().remove_untracked(true).tempdir()?;
    std::fs::write(dir.dir().join("out.txt"), "result")?;
    let path = dir.dir().to_owned();
    drop(dir); // tempfile removes the tree on drop; so does this one, through handles
    assert!(!path.exists());

    // 2. A file written, then renamed into place.
    //    let mut file = tempfile::NamedTempFile::new_in(root)?;
    //    file.write_all(b"[settings]")?;
    //    file.persist(root.join("app.conf"))?;
    let mut file = tempdirs::NamedTempFile::new_in(root)?;
    file.write_all(b"[settings]")?;
    file.persist(root.join("app.conf"))?;
    assert_eq!(std::fs::read(root.join("app.conf"))?, b"[settings]");

    // 3. A file in a chosen directory, read back.
    //    let mut file = tempfile::NamedTempFile::new_in(root)?;
    //    file.write_all(b"scratch")?;
    //    file.rewind()?;
    let mut file = tempdirs::NamedTempFile::new_in(root)?;
    file.write_all(b"scratch")?;
    file.rewind()?;
    let mut back = String::new();
    file.read_to_string(&mut back)?;
    assert_eq!(back, "scratch");
    assert!(file.path().starts_with(root));
    drop(file); // the file and its private directory go

    // 4. A scoped directory, its cleanup checked.
    //    let dir = tempfile::TempDir::new_in(root)?;
    //    std::fs::File::create(dir.path().join("part.1"))?.write_all(b"1")?;
    //    dir.close()?;
    let dir = tempdirs::TemporaryDirectory::new_in(root)?;
    dir.create("part.1")?.write_all(b"1")?;
    assert!(dir.cleanup().is_complete());

    // 5. A prefix and a suffix.
    //    let file = tempfile::Builder::new()
    //        .prefix("report-")
    //        .suffix(".json")
    //        .tempfile_in(root)?;
    let file = tempdirs::Builder::new()
        .prefix("report-")
        .suffix(".json")
        .tempfile_in(root)?;
    let name = file.path().file_name().unwrap_or_default();
    assert!(name.starts_with("report-") && name.ends_with(".json"));
    drop(file);

    // And an unnamed file (`tempfile::tempfile()`), in the shared instance's directory.
    let mut spill = tempdirs::tempfile()?;
    spill.write_all(b"sorted run")?;
    assert!(tempdirs::default()?.cleanup().is_complete());

    std::fs::remove_file(root.join("app.conf"))?;
    assert!(scratch.cleanup().is_complete());
    println!("five tasks, as with tempfile");
    Ok(())
}
