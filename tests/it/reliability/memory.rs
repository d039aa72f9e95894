//! The reliability cases on `MemoryBackend`, and the differential test of the memory
//! backend against itself with another seed: outcomes must not depend on the names drawn.

use camino::{Utf8Path, Utf8PathBuf};

use super::Extra;
use crate::harness::Harness;
use crate::memory::MemoryHarness;

impl Extra for MemoryHarness {
    fn read_link(&self, path: &Utf8Path) -> Option<Utf8PathBuf> {
        self.fs.read_link(path).ok()
    }
    fn make_unwritable_dir(&self, path: &Utf8Path) -> bool {
        // Root's directory, 0755: the harness acts as uid 1000.
        self.fs
            .as_uid(0)
            .create_dir_with_mode(path, 0o755)
            .expect("root makes the directory");
        true
    }
    fn make_writable(&self, _path: &Utf8Path) {}
}

crate::reliability!(MemoryHarness);

#[test]
fn differential_memory_against_memory_with_other_names() {
    super::differential::same_observations(MemoryHarness::new, || {
        let h = MemoryHarness::new();
        // Another stretch of the seeded generator: every name differs.
        for _ in 0..7 {
            h.fs.random_u64();
        }
        h
    });
}
