//! Names: the ones we make, and the ones users hand back.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};

use crate::Error;

/// The longest file name most filesystems take (`NAME_MAX` on Linux), in bytes.
pub(crate) const NAME_MAX: usize = 255;

/// Characters of the random part of a name: `[a-z0-9]`, safe on every filesystem.
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of the random part: 36^8 ≈ 2^41 names, so a planted name has to be guessed.
pub(crate) const RANDOM_LEN: usize = 8;

/// Appends [`RANDOM_LEN`] characters derived from `bits` to `out`.
pub(crate) fn push_random(out: &mut String, mut bits: u64) {
    for _ in 0..RANDOM_LEN {
        out.push(char::from(ALPHABET[(bits % 36) as usize]));
        bits /= 36;
    }
}

/// Why `name` can never be a single entry name, if it cannot.
fn component_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name == "." {
        Some("names the directory itself")
    } else if name.len() > NAME_MAX {
        Some("longer than 255 bytes")
    } else {
        None
    }
}

/// Checks a directory-name prefix or suffix: it must fit inside one path component.
pub(crate) fn check_affix(affix: &str) -> Result<(), Error> {
    let reason = if affix.contains('/') {
        Some("contains a path separator")
    } else if affix.contains('\0') {
        Some("contains a NUL byte")
    } else if affix.len() > NAME_MAX - RANDOM_LEN {
        Some("too long to leave room for the random part")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            name: affix.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks that prefix + random part + suffix fits in one component.
pub(crate) fn check_affixes(prefix: &str, suffix: &str) -> Result<(), Error> {
    check_affix(prefix)?;
    check_affix(suffix)?;
    if prefix.len() + RANDOM_LEN + suffix.len() > NAME_MAX {
        return Err(Error::InvalidName {
            name: format!("{prefix}{}{suffix}", "X".repeat(RANDOM_LEN)),
            reason: "longer than 255 bytes",
        });
    }
    Ok(())
}

/// Resolves a name a user hands back to the bare entry name inside `dir`.
///
/// Accepted: the full path this instance handed out (`dir` + `/` + name) or the bare name.
/// Anything with a directory part of its own is [`Error::OutsideDirectory`]; what can never
/// be an entry name is [`Error::InvalidName`].
pub(crate) fn resolve<'a>(dir: &Utf8Path, given: &'a Utf8Path) -> Result<&'a str, Error> {
    let text = given.as_str();
    let candidate = match text
        .strip_prefix(dir.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(rest) => rest,
        None if given.is_absolute() => return Err(outside(dir, given)),
        None => text,
    };
    if candidate.contains('/') || candidate == ".." {
        return Err(outside(dir, given));
    }
    match component_problem(candidate) {
        Some(reason) => Err(Error::InvalidName {
            name: text.to_owned(),
            reason,
        }),
        None => Ok(candidate),
    }
}

fn outside(dir: &Utf8Path, given: &Utf8Path) -> Error {
    Error::OutsideDirectory {
        path: given.to_owned(),
        dir: dir.to_owned(),
    }
}

/// `dir/name` as a fresh path.
pub(crate) fn join(dir: &Utf8Path, name: &str) -> Utf8PathBuf {
    let mut path = String::with_capacity(dir.as_str().len() + 1 + name.len());
    path.push_str(dir.as_str());
    if !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(name);
    Utf8PathBuf::from(path)
}

/// Where the random parts of one instance's names come from: SipHash, keyed from the
/// operating system's randomness (std's [`RandomState`]), over a counter. Other processes
/// cannot predict a name, and no name costs a syscall. With a seed (a backend whose runs
/// must replay) the keys are fixed and the seed is mixed in instead.
pub(crate) struct Random {
    keys: Keys,
    /// The seed, or the process id: a child forked before the first instance inherits the
    /// keys std hands out, and must not repeat its parent's names.
    salt: u64,
    counter: AtomicU64,
}

enum Keys {
    Os(RandomState),
    Seeded(BuildHasherDefault<DefaultHasher>),
}

impl Random {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let (keys, salt) = match seed {
            Some(seed) => (Keys::Seeded(BuildHasherDefault::default()), seed),
            None => (Keys::Os(RandomState::new()), u64::from(process_id())),
        };
        Random {
            keys,
            salt,
            counter: AtomicU64::new(0),
        }
    }

    /// 64 fresh bits.
    pub(crate) fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match &self.keys {
            Keys::Os(keys) => keys.hash_one((self.salt, n)),
            Keys::Seeded(keys) => keys.hash_one((self.salt, n)),
        }
    }
}

#[cfg(unix)]
pub(crate) fn process_id() -> u32 {
    std::process::id()
}

/// No `fork` outside Unix (and `std::process::id` panics under WASI).
#[cfg(not(unix))]
pub(crate) fn process_id() -> u32 {
    0
}

/// `{kind}-{random}-{n}`: duplicity's `mkstemp-XXXXXXXX-N`. The counter makes it unique for
/// this instance, the random part unguessable for everyone else.
pub(crate) fn file_name(kind: &str, random: u64, n: u64) -> String {
    let mut name = String::with_capacity(kind.len() + RANDOM_LEN + 22);
    name.push_str(kind);
    name.push('-');
    push_random(&mut name, random);
    // Writing to a String cannot fail.
    let _ = write!(name, "-{n}");
    name
}

/// The names an instance tracks, each with the generation it was tracked at (the counter
/// of the name that made it), so that a `remove` racing a `create` of the same name
/// forgets only what it removed, and whether this instance created the file (a `mktemp`
/// name is created by the caller, or never). Iterates in name order, so a seeded run
/// replays exactly.
#[derive(Default)]
pub(crate) struct Tracked(BTreeMap<Box<str>, Entry>);

/// What the tracked set knows of a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) generation: u64,
    pub(crate) created: bool,
}

impl Tracked {
    pub(crate) fn insert(&mut self, name: &str, entry: Entry) {
        self.0.insert(name.into(), entry);
    }

    pub(crate) fn get(&self, name: &str) -> Option<Entry> {
        self.0.get(name).copied()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub(crate) fn remove(&mut self, name: &str) -> bool {
        self.0.remove(name).is_some()
    }

    /// Forgets `name` if it is still tracked as `entry`.
    pub(crate) fn remove_if(&mut self, name: &str, entry: Entry) {
        if self.get(name) == Some(entry) {
            self.0.remove(name);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(|name| &**name)
    }

    pub(crate) fn into_names(self) -> impl Iterator<Item = Box<str>> {
        self.0.into_keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> &'static Utf8Path {
        Utf8Path::new("/tmp/tempdirs-abc")
    }

    #[test]
    fn accepts_bare_and_full_names() {
        assert_eq!(resolve(dir(), "x".as_ref()).unwrap(), "x");
        assert_eq!(resolve(dir(), "/tmp/tempdirs-abc/x".as_ref()).unwrap(), "x");
        assert_eq!(resolve(dir(), "..x".as_ref()).unwrap(), "..x");
    }

    #[test]
    fn refuses_other_directories() {
        for bad in [
            "../x",
            "a/b",
            "/tmp/x",
            "/tmp/tempdirs-abcd/x",
            "/tmp/tempdirs-abc/a/b",
            "/tmp/tempdirs-abc/..",
            "..",
            "x/",
        ] {
            assert!(
                matches!(
                    resolve(dir(), bad.as_ref()),
                    Err(Error::OutsideDirectory { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_impossible_names() {
        let long = "x".repeat(256);
        for bad in ["", ".", "a\0b", long.as_str(), "/tmp/tempdirs-abc/"] {
            assert!(
                matches!(resolve(dir(), bad.as_ref()), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
        assert!(resolve(dir(), "x".repeat(255).as_str().as_ref()).is_ok());
    }

    #[test]
    fn affixes_must_fit_one_component() {
        assert!(check_affixes("tempdirs-", "").is_ok());
        assert!(matches!(
            check_affixes("a/b", ""),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            check_affixes("", "\0"),
            Err(Error::InvalidName { .. })
        ));
        let long = "p".repeat(200);
        assert!(matches!(
            check_affixes(&long, &long),
            Err(Error::InvalidName { .. })
        ));
    }

    #[test]
    fn file_names_carry_kind_random_part_and_counter() {
        assert_eq!(file_name("mkstemp", 0, 0), "mkstemp-aaaaaaaa-0");
        assert_eq!(
            file_name("mktemp", 35, u64::MAX),
            format!("mktemp-9aaaaaaa-{}", u64::MAX)
        );
    }

    #[test]
    fn seeded_names_replay_and_os_names_differ() {
        let (a, b) = (Random::new(Some(7)), Random::new(Some(7)));
        let first: Vec<u64> = (0..4).map(|_| a.next()).collect();
        assert_eq!(first, (0..4).map(|_| b.next()).collect::<Vec<_>>());
        let other = Random::new(Some(8));
        assert_ne!(first, (0..4).map(|_| other.next()).collect::<Vec<_>>());
        let (c, d) = (Random::new(None), Random::new(None));
        assert_ne!(c.next(), d.next());
    }

    #[test]
    fn remove_if_forgets_only_the_generation_it_saw() {
        let entry = |generation| Entry {
            generation,
            created: true,
        };
        let mut tracked = Tracked::default();
        tracked.insert("x", entry(1));
        tracked.insert("x", entry(2));
        tracked.remove_if("x", entry(1));
        assert_eq!(tracked.get("x"), Some(entry(2)));
        tracked.remove_if("x", entry(2));
        assert!(!tracked.contains("x"));
    }
}
