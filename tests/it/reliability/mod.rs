//! Reliability: bad input, injected faults, differential property tests, stress.
//!
//! Every generic case takes a [`Harness`] (plus the few extras in [`Extra`]) and is
//! instantiated per backend by [`reliability!`](crate::reliability), as the conformance
//! suite is. What only the in-memory filesystem can do (inject faults) lives in
//! [`faults`]. Case counts are bounded so that the whole module stays well under a minute
//! in `cargo test`; `PROPTEST_CASES` and `TEMPDIRS_STRESS_OPS` make the long runs.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::harness::Harness;

pub mod bad_input;
pub mod differential;
pub mod faults;
pub mod memory;
pub mod stress;

// Unix only: its process cases re-execute the test binary and use non-UTF-8 `OsStr`s.
#[cfg(unix)]
pub mod disk;

/// What a reliability case needs besides [`Harness`].
pub trait Extra: Harness + Sync {
    /// The target of the symlink at `path`.
    fn read_link(&self, path: &Utf8Path) -> Option<Utf8PathBuf>;
    /// Makes a directory at `path` that the acting user can read but not write into;
    /// `false` where the harness cannot (on disk as root: root writes anywhere).
    fn make_unwritable_dir(&self, path: &Utf8Path) -> bool;
    /// Gives write permission back on what [`make_unwritable_dir`](Extra::make_unwritable_dir)
    /// made, so that the fixture can be removed.
    fn make_writable(&self, path: &Utf8Path);
}

/// One entry of a [`snapshot`]: what is there, with its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory and its permission bits.
    Dir(Option<u32>),
    /// A regular file, its permission bits and content (`None` if unreadable).
    File(Option<u32>, Option<Vec<u8>>),
    /// A symlink and its target.
    Symlink(Option<Utf8PathBuf>),
}

/// Everything below `root`, recursively, by path relative to `root`, without following
/// symlinks: compared before and after a refused operation, it shows that nothing changed.
pub fn snapshot<H: Extra>(h: &H, root: &Utf8Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let dir = if rel.is_empty() {
            root.to_owned()
        } else {
            root.join(&rel)
        };
        for name in h.read_dir(&dir) {
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = root.join(&rel);
            let node = if h.is_symlink(&path) {
                Node::Symlink(h.read_link(&path))
            } else if h.is_dir(&path) {
                pending.push(rel.clone());
                Node::Dir(h.mode(&path))
            } else {
                Node::File(h.mode(&path), h.read(&path).ok())
            };
            out.insert(rel, node);
        }
    }
    out
}

/// Instantiates every generic reliability case for a harness, as `#[test]` functions.
#[macro_export]
macro_rules! reliability {
    ($harness:ty) => {
        $crate::reliability!(@cases $harness;
            bad_input::bad_names_are_refused_and_change_nothing,
            bad_input::odd_but_valid_names_work,
            bad_input::bad_affixes_are_refused_and_change_nothing,
            bad_input::odd_but_valid_affixes_work,
            bad_input::bad_roots_are_refused_and_change_nothing,
            bad_input::a_symlink_to_a_directory_is_followed_at_open,
            bad_input::an_unwritable_root_is_permission_denied,
            bad_input::forgetting_unknown_or_foreign_names_changes_nothing,
            bad_input::use_after_cleanup_is_cleaned_up_and_changes_nothing,
            stress::threads_and_a_reaper_on_one_instance,
        );
    };
    (@cases $harness:ty; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::reliability::$module::$case::<$harness>();
            }
        )*
    };
}
