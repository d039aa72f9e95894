//! Names: the ones we make, and the ones users hand back.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};

use std::path::Path;

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
    } else if cfg!(windows) {
        windows_problem(name)
    } else {
        None
    }
}

/// What Windows will not take as one file name: a `:` (which names a stream of another
/// file), a character its filesystems refuse, a trailing dot or space (which Windows drops,
/// so the name would be another's), or a device name (`CON`, `NUL`, `COM1`…, with or
/// without an extension), which opens the device instead of a file.
fn windows_problem(name: &str) -> Option<&'static str> {
    if name.contains(refused_on_windows) {
        return Some("contains a character Windows refuses in one file name");
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("ends with a dot or a space, which Windows drops");
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let device = matches!(
        stem.to_ascii_uppercase().as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || (stem.len() == 4
        && stem.get(..3).is_some_and(|port| {
            port.eq_ignore_ascii_case("COM") || port.eq_ignore_ascii_case("LPT")
        })
        && stem.as_bytes()[3].is_ascii_digit());
    device.then_some("names a device on Windows")
}

/// The characters Windows refuses in a file name; `:` names a stream of another file.
fn refused_on_windows(c: char) -> bool {
    matches!(c, ':' | '<' | '>' | '"' | '|' | '?' | '*') || u32::from(c) < 32
}

/// Whether `c` separates path components here: `/` everywhere, `\` on Windows too.
fn is_separator(c: char) -> bool {
    c == '/' || (cfg!(windows) && c == '\\')
}

/// Checks a directory-name prefix or suffix: it must fit inside one path component.
pub(crate) fn check_affix(affix: &str) -> Result<(), Error> {
    let reason = if affix.contains(is_separator) {
        Some("contains a path separator")
    } else if affix.contains('\0') {
        Some("contains a NUL byte")
    } else if affix.len() > NAME_MAX - RANDOM_LEN {
        Some("too long to leave room for the random part")
    } else if cfg!(windows) && affix.contains(refused_on_windows) {
        Some("contains a character Windows refuses in file names")
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

/// The longest counter a file name carries: `-` and `u64::MAX`'s 20 digits.
const COUNTER_MAX_LEN: usize = 21;

/// Checks a file-name prefix and suffix: each fits inside one component, and so does
/// prefix + random part + counter + suffix.
pub(crate) fn check_file_affixes(prefix: &str, suffix: &str) -> Result<(), Error> {
    check_affix(prefix)?;
    check_affix(suffix)?;
    if prefix.len() + RANDOM_LEN + COUNTER_MAX_LEN + suffix.len() > NAME_MAX {
        return Err(Error::InvalidName {
            name: format!("{prefix}{}-N{suffix}", "X".repeat(RANDOM_LEN)),
            reason: "longer than 255 bytes with the random part and the counter",
        });
    }
    Ok(())
}

/// `given` as UTF-8, or [`Error::NonUtf8Path`].
pub(crate) fn utf8(given: &Path) -> Result<&Utf8Path, Error> {
    Utf8Path::from_path(given).ok_or_else(|| Error::NonUtf8Path {
        path: given.to_owned(),
    })
}

/// Resolves a name a user hands back to the bare entry name inside `dir`.
///
/// Accepted: the full path this instance handed out (`dir` + `/` + name) or the bare name.
/// Anything with a directory part of its own is [`Error::OutsideDirectory`]; what can never
/// be an entry name is [`Error::InvalidName`]; what is not UTF-8 is
/// [`Error::NonUtf8Path`].
pub(crate) fn resolve<'a>(dir: &Utf8Path, given: &'a Path) -> Result<&'a str, Error> {
    let given = utf8(given)?;
    let text = given.as_str();
    let candidate = match text
        .strip_prefix(dir.as_str())
        .and_then(|rest| rest.strip_prefix(is_separator))
    {
        Some(rest) => rest,
        None if given.is_absolute() => return Err(outside(dir, given)),
        None => text,
    };
    if candidate.contains(is_separator) || candidate == ".." {
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

/// `{prefix}{random}-{n}{suffix}`: duplicity's `mkstemp-XXXXXXXX-N` for the prefix
/// `mkstemp-`. The counter makes it unique for this instance, the random part unguessable
/// for everyone else.
pub(crate) fn file_name(prefix: &str, random: u64, n: u64, suffix: &str) -> String {
    let mut name =
        String::with_capacity(prefix.len() + RANDOM_LEN + COUNTER_MAX_LEN + suffix.len());
    name.push_str(prefix);
    push_random(&mut name, random);
    // Writing to a String cannot fail.
    let _ = write!(name, "-{n}");
    name.push_str(suffix);
    name
}

/// The names an instance tracks, in the order they were tracked.
///
/// Each name is kept with its generation, the counter value it was tracked at (the counter
/// its own name carries, for the names this crate makes), and whether this instance
/// created the file (a `mktemp` name is created by the caller, or never). The generation
/// lets a `remove` racing a `create` of the same name forget only what it removed.
///
/// The set is ordered by generation, not by name: a new name is an append at the hot end
/// of the map, where a name-ordered map compares random strings behind cold pointers on
/// every insert; cleanup unlinks in creation order, which is the kernel's cheapest order;
/// and iteration is in a fixed order, so a seeded run replays exactly. A name is found
/// through the counter it ends with; names that do not end with their own generation
/// (given by the caller, or with a suffix) are found through a second map.
#[derive(Default)]
pub(crate) struct Tracked {
    /// Every tracked name, keyed by `generation << 1 | created`.
    by_generation: BTreeMap<u64, Box<str>>,
    /// The generation of each name that does not end with it.
    by_name: BTreeMap<Box<str>, u64>,
}

/// What the tracked set knows of a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) generation: u64,
    pub(crate) created: bool,
}

impl Entry {
    fn key(self) -> u64 {
        self.generation << 1 | u64::from(self.created)
    }

    fn from_key(key: u64) -> Entry {
        Entry {
            generation: key >> 1,
            created: key & 1 == 1,
        }
    }
}

/// The counter a name ends with (`…-N`), if it ends with one.
fn trailing_generation(name: &str) -> Option<u64> {
    let (_, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Tracked {
    /// Tracks `name` as `entry`, in place of what it was tracked as before.
    pub(crate) fn insert(&mut self, name: &str, entry: Entry) {
        self.remove(name);
        self.by_generation.insert(entry.key(), name.into());
        if trailing_generation(name) != Some(entry.generation) {
            self.by_name.insert(name.into(), entry.generation);
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Entry> {
        let generation = match trailing_generation(name) {
            Some(generation) => self
                .lookup(name, generation)
                .map(|entry| entry.generation)
                .or_else(|| self.by_name.get(name).copied())?,
            None => *self.by_name.get(name)?,
        };
        self.lookup(name, generation)
    }

    /// The entry at `generation`, if it holds `name`.
    fn lookup(&self, name: &str, generation: u64) -> Option<Entry> {
        let keys = generation << 1..=generation << 1 | 1;
        self.by_generation
            .range(keys)
            .find(|(_, tracked)| &***tracked == name)
            .map(|(&key, _)| Entry::from_key(key))
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn remove(&mut self, name: &str) -> bool {
        match self.get(name) {
            Some(entry) => {
                self.forget(name, entry);
                true
            }
            None => false,
        }
    }

    /// Forgets `name` if it is still tracked as `entry`.
    pub(crate) fn remove_if(&mut self, name: &str, entry: Entry) {
        if self.get(name) == Some(entry) {
            self.forget(name, entry);
        }
    }

    fn forget(&mut self, name: &str, entry: Entry) {
        self.by_generation.remove(&entry.key());
        if trailing_generation(name) != Some(entry.generation) {
            self.by_name.remove(name);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_generation.len()
    }

    /// Forgets every name.
    pub(crate) fn clear(&mut self) {
        *self = Tracked::default();
    }

    /// Every tracked name, oldest first.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_generation.values().map(|name| &**name)
    }

    /// Every tracked name, oldest first.
    pub(crate) fn into_names(self) -> impl Iterator<Item = Box<str>> {
        self.by_generation.into_values()
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
    fn windows_names_that_are_not_one_file_are_refused_there() {
        for bad in [
            "a:b", "x?", "con", "NUL.txt", "com1", "LPT9.log", "dot.", "space ",
        ] {
            assert!(windows_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "mkstemp-abcdefgh-1",
            "console",
            "com10",
            "nul-not",
            ".hidden",
        ] {
            assert_eq!(windows_problem(good), None, "{good}");
        }
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
        assert_eq!(file_name("mkstemp-", 0, 0, ""), "mkstemp-aaaaaaaa-0");
        assert_eq!(
            file_name("mktemp-", 35, u64::MAX, ""),
            format!("mktemp-9aaaaaaa-{}", u64::MAX)
        );
        assert_eq!(file_name("x", 0, 7, ".txt"), "xaaaaaaaa-7.txt");
    }

    #[test]
    fn file_affixes_leave_room_for_random_part_and_counter() {
        assert!(check_file_affixes("", "").is_ok());
        let longest = "p".repeat(NAME_MAX - RANDOM_LEN - COUNTER_MAX_LEN);
        assert!(check_file_affixes(&longest, "").is_ok());
        let name = file_name(&longest, u64::MAX, u64::MAX, "");
        assert_eq!(name.len(), NAME_MAX);
        assert!(matches!(
            check_file_affixes(&longest, "s"),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            check_file_affixes("a/b", ""),
            Err(Error::InvalidName { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_a_typed_error() {
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"a\xff"));
        assert!(matches!(
            resolve(dir(), bad),
            Err(Error::NonUtf8Path { .. })
        ));
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
    fn tracked_names_are_found_by_their_counter_or_by_name_and_kept_in_creation_order() {
        let mut tracked = Tracked::default();
        let made = |generation| Entry {
            generation,
            created: true,
        };
        tracked.insert("mkstemp-aaaaaaaa-2", made(2));
        tracked.insert("given.txt", made(3));
        tracked.insert("mkstemp-bbbbbbbb-1", made(1));
        // A name that ends with another generation than its own, and a suffixed one.
        tracked.insert("mkstemp-cccccccc-9", made(4));
        tracked.insert("xdddddddd-5.txt", made(5));
        let mktemp = Entry {
            generation: 6,
            created: false,
        };
        tracked.insert("mktemp-eeeeeeee-6", mktemp);
        assert_eq!(tracked.len(), 6);
        assert_eq!(tracked.get("mkstemp-cccccccc-9"), Some(made(4)));
        assert_eq!(tracked.get("given.txt"), Some(made(3)));
        assert_eq!(tracked.get("mktemp-eeeeeeee-6"), Some(mktemp));
        assert_eq!(
            tracked.get("mkstemp-zzzzzzzz-2"),
            None,
            "same counter, other name"
        );
        assert_eq!(
            tracked.names().collect::<Vec<_>>(),
            [
                "mkstemp-bbbbbbbb-1",
                "mkstemp-aaaaaaaa-2",
                "given.txt",
                "mkstemp-cccccccc-9",
                "xdddddddd-5.txt",
                "mktemp-eeeeeeee-6"
            ]
        );
        // Tracked again (created at last): one entry, at its new place.
        tracked.insert("mktemp-eeeeeeee-6", made(7));
        assert_eq!(tracked.len(), 6);
        assert_eq!(tracked.get("mktemp-eeeeeeee-6"), Some(made(7)));
        for name in [
            "given.txt",
            "mkstemp-cccccccc-9",
            "xdddddddd-5.txt",
            "mkstemp-aaaaaaaa-2",
        ] {
            assert!(tracked.remove(name), "{name}");
            assert!(!tracked.contains(name), "{name}");
        }
        assert_eq!(
            tracked.by_name.len(),
            1,
            "only the mktemp name tracked again"
        );
        assert_eq!(tracked.len(), 2);
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
