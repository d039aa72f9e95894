//! Arbitrary bytes as names handed to `create`, `open`, `remove`, `forget` and
//! `is_tracked` on the memory backend: never a panic, and nothing outside the instance's
//! directory ever changes; a name that is accepted names exactly one entry directly in it.
#![no_main]

use camino::Utf8Path;
use libfuzzer_sys::fuzz_target;
use tempdir_core::{Error, TemporaryDirectory};
use tempdir_memory::{MemoryBackend, MemoryFs};

fuzz_target!(|data: &[u8]| {
    let fs = MemoryFs::with_seed(1);
    fs.write("/tmp/sentinel", b"precious").unwrap();
    fs.create_dir("/tmp/next-door").unwrap();
    let tmp = TemporaryDirectory::with_backend(MemoryBackend::new(&fs, "/tmp").unwrap()).unwrap();
    let dir = tmp.dir().to_owned();
    let outside = |fs: &MemoryFs| (fs.read_dir("/").unwrap(), fs.read_dir("/tmp").unwrap());
    let before = outside(&fs);
    // The first byte picks how the name is given: bare, under the directory, or raw.
    let (how, rest) = data.split_first().map_or((0, data), |(h, r)| (*h, r));
    let text = String::from_utf8_lossy(rest);
    let given = match how % 3 {
        0 => text.into_owned(),
        1 => format!("{dir}/{text}"),
        _ => format!("/tmp/{text}"),
    };
    let name = Utf8Path::new(&given);
    let created = tmp.create(name);
    match &created {
        Ok(_) => {
            let entries = fs.read_dir(&dir).unwrap();
            assert_eq!(entries.len(), 1, "{given:?}: {entries:?}");
            assert!(tmp.is_tracked(name) && tmp.is_tracked(entries[0].as_str()));
            assert!(tmp.open(name).is_ok());
            assert!(tmp.remove(name).is_ok());
            assert!(fs.read_dir(&dir).unwrap().is_empty());
            assert!(tmp.create(name).is_ok());
            assert!(tmp.forget(name));
            assert!(!tmp.is_tracked(name));
        }
        Err(Error::InvalidName { .. } | Error::OutsideDirectory { .. }) => {
            assert!(tmp.open(name).is_err() && tmp.remove(name).is_err());
            assert!(!tmp.forget(name) && !tmp.is_tracked(name));
            assert!(fs.read_dir(&dir).unwrap().is_empty(), "{given:?}");
        }
        Err(other) => panic!("{given:?}: {other:?}"),
    }
    assert_eq!(
        outside(&fs),
        before,
        "{given:?} reached outside the directory"
    );
    assert_eq!(fs.read("/tmp/sentinel").unwrap(), b"precious");
    assert!(fs.read_dir("/tmp/next-door").unwrap().is_empty());
    let report = tmp.cleanup();
    assert_eq!(report.dir_removed, created.is_err(), "{report:?}");
});
