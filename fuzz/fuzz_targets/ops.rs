//! Byte strings as sequences of operations by the user, a reaper and an attacker on one
//! memory-backed instance, with the invariants checked after every operation: no panic,
//! no name handed out twice, nothing planted at a name the library does not track is ever
//! removed or written by it (what is planted at a tracked name, which only our own uid can
//! do, is unlinked, never followed), the sentinel outside the directory never changes, and
//! cleanup removes the directory exactly when it says so.
#![no_main]

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use camino::Utf8PathBuf;
use libfuzzer_sys::fuzz_target;
use tempdir_core::{DirStatus, TemporaryDirectory};
use tempdir_memory::{MemoryBackend, MemoryFs};

const FIXED: [&str; 3] = ["a", "b", "c"];

fuzz_target!(|data: &[u8]| {
    let fs = MemoryFs::with_seed(u64::from(data.first().copied().unwrap_or(0)));
    fs.write("/tmp/sentinel", b"precious").unwrap();
    let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap();
    let dir = tmp.dir().to_owned();
    let mut handed: Vec<String> = Vec::new();
    let mut mktemp_names: HashSet<String> = HashSet::new();
    let mut seen: HashSet<String> = HashSet::new();
    // What was planted and only the reaper, or the library at a tracked name, may remove:
    // name -> is symlink.
    let mut planted: BTreeMap<String, bool> = BTreeMap::new();
    let mut files = Vec::new();
    let mut cleaned = false;
    for pair in data.chunks(2).skip(1) {
        let (code, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let name = if arg & 0x80 != 0 || handed.is_empty() {
            FIXED[usize::from(arg) % 3].to_owned()
        } else {
            handed[usize::from(arg) % handed.len()].clone()
        };
        let path = dir.join(&name);
        let library = code % 16 < 10;
        match code % 16 {
            0 => {
                if let Ok(p) = tmp.mktemp() {
                    let n = p.file_name().unwrap().to_owned();
                    assert!(seen.insert(n.clone()), "{n} handed out twice");
                    mktemp_names.insert(n.clone());
                    handed.push(n);
                }
            }
            1 => {
                if let Ok((mut f, p)) = tmp.mkstemp() {
                    let n = p.file_name().unwrap().to_owned();
                    assert!(seen.insert(n.clone()), "{n} handed out twice");
                    let _ = f.write_all(&[arg]);
                    files.push(f);
                    handed.push(n);
                }
            }
            2 => {
                if let Ok(f) = tmp.create(name.as_str()) {
                    // Through the handle: once our directory is no longer at its path, what
                    // was planted there is in someone else's directory, not over our name.
                    assert!(
                        !planted.contains_key(&name) || tmp.status() != DirStatus::Intact,
                        "created over a planted {name}"
                    );
                    files.push(f);
                }
            }
            3 => drop(tmp.open(name.as_str())),
            4 => {
                // A tracked name is unlinked whatever holds it (a symlink itself, never its
                // target): only our own uid can plant there, which the threat model leaves
                // out. An untracked one is never touched.
                let tracked = tmp.is_tracked(name.as_str());
                if tmp.remove(name.as_str()).is_ok() && tracked {
                    planted.remove(&name);
                }
            }
            5 => drop(tmp.forget(name.as_str())),
            6 => drop(tmp.keep_alive()),
            7 => {
                let status = tmp.status();
                assert_eq!(status == DirStatus::CleanedUp, cleaned);
            }
            8 | 9 => {
                // Cleanup unlinks every tracked name, planted or not (see above).
                planted.retain(|name, _| !tmp.is_tracked(name.as_str()));
                let report = tmp.cleanup();
                if !cleaned {
                    let gone =
                        !fs.exists(&dir) || fs.symlink_metadata(&dir).is_ok_and(|m| !m.is_dir());
                    if report.dir_removed {
                        assert!(gone || report.status != DirStatus::Intact, "{report:?}");
                    }
                }
                cleaned = true;
            }
            10 | 11 => {
                // The reaper.
                if fs.remove_file(&path).is_ok() {
                    planted.remove(&name);
                }
                if code % 16 == 11 {
                    let _ = fs.remove_dir(&dir);
                }
            }
            12 => {
                // The attacker plants a file, not at a mktemp name (cleanup owns those:
                // the caller was to create them).
                if !mktemp_names.contains(&name)
                    && !fs.exists(&path)
                    && fs.symlink_metadata(&path).is_err()
                    && fs.write(&path, b"planted").is_ok()
                {
                    planted.insert(name, false);
                }
            }
            13 => {
                if !mktemp_names.contains(&name) && fs.symlink("/tmp/sentinel", &path).is_ok() {
                    planted.insert(name, true);
                }
            }
            14 => {
                if fs.create_dir(&dir).is_ok() {
                    planted.clear();
                }
            }
            _ => {
                if fs.rename(&dir, "/tmp/moved").is_ok() {
                    planted.clear();
                }
            }
        }
        assert_eq!(
            fs.read("/tmp/sentinel").unwrap(),
            b"precious",
            "sentinel written"
        );
        if library {
            for (name, symlink) in &planted {
                let meta = fs.symlink_metadata(dir.join(name));
                assert!(
                    meta.is_ok_and(|m| m.is_symlink() == *symlink),
                    "planted {name} touched by {code}"
                );
                if !symlink {
                    assert_eq!(fs.read(dir.join(name)).unwrap(), b"planted");
                }
            }
        }
    }
    drop(files);
    let _: Utf8PathBuf = dir;
});
