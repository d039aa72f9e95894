//! Testing code that uses temporary files, deterministically, on the in-memory backend:
//! the same seed gives the same names, the virtual clock replaces waiting, and the test
//! can play the tmp reaper at exactly the moment it wants.
//!
//! `cargo run -p tempdirs --features memory --example deterministic`, and its tests run
//! with `cargo test -p tempdirs --features memory`.

use std::io::Write;
use std::time::Duration;

use tempdirs::memory::{MemoryBackend, MemoryFs, TemporaryDirectory};
use tempdirs::{DirStatus, Error, Utf8PathBuf};

/// The code under test: writes a report into a fresh temporary file.
fn write_report(tmp: &TemporaryDirectory, text: &str) -> Result<Utf8PathBuf, Error> {
    let (mut file, path) = tmp.mkstemp()?;
    file.write_all(text.as_bytes())
        .map_err(|source| Error::Io {
            op: tempdirs::Op::CreateFile,
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Ten days pass, tmpwatch's `10d /tmp` runs: our file and then our directory go.
fn play_tmpwatch(fs: &MemoryFs, tmp: &TemporaryDirectory, report: &Utf8PathBuf) {
    fs.advance_clock(Duration::from_secs(11 * 86_400));
    fs.remove_file(report).expect("the reaper removes the file");
    fs.remove_dir(tmp.dir())
        .expect("the reaper removes the empty directory");
}

/// One run of the scenario; returns the names it saw.
fn scenario(seed: u64) -> Result<Vec<Utf8PathBuf>, Box<dyn std::error::Error>> {
    let fs = MemoryFs::with_seed(seed);
    let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp")?)?;
    let report = write_report(&tmp, "all good")?;
    assert_eq!(fs.read(&report)?, b"all good");

    play_tmpwatch(&fs, &tmp, &report);
    assert_eq!(tmp.status(), DirStatus::Reaped);
    // The code under test now gets a typed error instead of writing into whatever is at
    // the old path.
    assert!(matches!(
        write_report(&tmp, "again"),
        Err(Error::Reaped { .. })
    ));
    Ok(vec![tmp.dir().to_owned(), report])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let first = scenario(2026)?;
    let second = scenario(2026)?;
    assert_eq!(first, second, "same seed, same names");
    println!("seed 2026 gives {first:?} every time");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_passes_and_repeats() {
        assert_eq!(scenario(7).unwrap(), scenario(7).unwrap());
    }

    #[test]
    fn other_seeds_give_other_names() {
        assert_ne!(scenario(1).unwrap(), scenario(2).unwrap());
    }
}
