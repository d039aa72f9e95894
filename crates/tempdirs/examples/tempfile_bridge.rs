//! With the `tempfile` feature, the shared instance becomes the `tempfile` crate's default
//! directory, so temp files made by any library in the program land inside it — as
//! duplicity points Python's `tempfile.tempdir` at its directory.
//!
//! `cargo run -p tempdirs --features tempfile --example tempfile_bridge`

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempdirs::default()?;
    // Somewhere deep in a dependency:
    let mut named = tempfile::NamedTempFile::new()?;
    named.write_all(b"made by another library")?;
    assert_eq!(named.path().parent(), Some(tmp.dir().as_std_path()));
    println!(
        "tempfile::NamedTempFile::new() made {}",
        named.path().display()
    );

    // tempfile removes its own file on drop; ours then cleans up the directory.
    drop(named);
    let report = tmp.cleanup();
    assert!(report.is_complete(), "{report:?}");
    println!("cleanup removed the directory: {}", report.dir_removed);
    Ok(())
}
