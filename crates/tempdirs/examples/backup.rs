//! A backup tool's flow, as duplicity runs it: each volume is written to an `mkstemp`
//! file, uploaded, then removed and forgotten; the manifest and a helper program's config
//! are left to the final cleanup.
//!
//! `cargo run -p tempdirs --example backup`

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

/// Stands in for the remote store a backup tool uploads to.
type Remote = BTreeMap<String, Vec<u8>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempdirs::default()?;
    println!("scratch directory: {}", tmp.dir());
    let mut remote = Remote::new();

    for volume in 1..=3 {
        let (mut file, path) = tmp.mkstemp_file()?;
        // A volume: 256 KiB of (pretend) compressed, encrypted data.
        let chunk: Vec<u8> = (0..1024u32).map(|i| (i * volume) as u8).collect();
        for _ in 0..256 {
            file.write_all(&chunk)?;
        }
        // Read it back to "upload" it, as a backend would stream it.
        file.seek(SeekFrom::Start(0))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        drop(file);
        remote.insert(format!("duplicity-full.vol{volume}.difftar.gpg"), data);
        tmp.remove(&path)?; // unlink + forget: no name piles up
        println!("uploaded volume {volume} from {path}");
    }

    // Left for cleanup: the manifest, and a config file for a helper program that must be
    // given a path (mktemp), created safely through the directory handle.
    let (mut manifest, _) = tmp.mkstemp_file()?;
    for name in remote.keys() {
        writeln!(manifest, "Volume {name}")?;
    }
    manifest.flush()?;
    let gpg_conf = tmp.mktemp()?;
    tmp.create(&gpg_conf)?.write_all(b"no-tty\nbatch\n")?;

    println!("{} files tracked before cleanup", tmp.tracked_count());
    let report = tmp.cleanup();
    println!(
        "cleanup: {} removed, directory removed: {}",
        report.removed, report.dir_removed
    );
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(remote.len(), 3);
    Ok(())
}
