//! Names: the ones we make, and the ones users hand back.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

use camino::{Utf8Path, Utf8PathBuf};

use crate::{Error, FileId, Listed};

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

/// Appends the decimal digits of `n` to `out` without going through `fmt`.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
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

/// The names an instance tracks, each with the identity of the file it created there
/// (`None` for a `mktemp` name: the caller creates).
///
/// A name of the form this crate hands out, `mktemp-XXXXXXXX-N` or `mkstemp-XXXXXXXX-N`,
/// is stored as its parts in one 40-byte [`Slot`], in a vector sorted by counter: the
/// counter grows, so a new name is nearly always appended, and no name costs a heap
/// allocation or a hash. The form is canonical (one string per slot and back), so any
/// such name, ours or a user's, is stored this way. Every other name (from
/// [`create`](crate::TemporaryDirectory::create)) goes into a map.
///
/// Iteration is in a fixed order (slots by counter, then the map with fixed keys), so a
/// seeded run replays exactly.
#[derive(Default)]
pub(crate) struct Tracked {
    /// Sorted by [`Slot::key`]; removed slots stay as tombstones until compaction.
    slots: Vec<Slot>,
    /// Live slots.
    live: usize,
    /// Every other name. Names are ours or the program's own, never an adversary's, so
    /// hash flooding is not a concern and fixed keys keep the order reproducible.
    others: HashMap<Box<str>, Option<FileId>, BuildHasherDefault<DefaultHasher>>,
}

/// `kind-XXXXXXXX-N` in 40 bytes: the counter and three flags in `tag`, the random part,
/// and the identity (meaningful when [`HAS_ID`] is set).
#[derive(Clone, Copy, Debug)]
struct Slot {
    tag: u64,
    random: [u8; RANDOM_LEN],
    id: FileId,
}

/// The `mkstemp-` kind (else `mktemp-`).
const MKSTEMP: u64 = 1 << 63;
/// `id` is the identity of the file created there.
const HAS_ID: u64 = 1 << 62;
/// Removed: a tombstone.
const DEAD: u64 = 1 << 61;
/// The counter: names with a larger one go to the map.
const COUNTER: u64 = DEAD - 1;

impl Slot {
    /// What the vector is sorted by: counter, kind, random part.
    fn key(&self) -> (u64, u64, [u8; RANDOM_LEN]) {
        (self.tag & COUNTER, self.tag & MKSTEMP, self.random)
    }

    fn is_live(&self) -> bool {
        self.tag & DEAD == 0
    }

    fn id(&self) -> Option<FileId> {
        (self.tag & HAS_ID != 0).then_some(self.id)
    }

    fn set_id(&mut self, id: Option<FileId>) {
        match id {
            Some(id) => {
                self.tag |= HAS_ID;
                self.id = id;
            }
            None => {
                self.tag &= !HAS_ID;
                self.id = FileId {
                    dev: 0,
                    ino: 0,
                    birth: 0,
                };
            }
        }
    }

    /// The slot of `name` (without an identity), if `name` has the canonical form.
    fn parse(name: &str) -> Option<Slot> {
        let (kind, rest) = if let Some(rest) = name.strip_prefix("mkstemp-") {
            (MKSTEMP, rest)
        } else {
            (0, name.strip_prefix("mktemp-")?)
        };
        let rest = rest.as_bytes();
        if rest.len() < RANDOM_LEN + 2 || rest[RANDOM_LEN] != b'-' {
            return None;
        }
        let (random, digits) = (&rest[..RANDOM_LEN], &rest[RANDOM_LEN + 1..]);
        // `ALPHABET`, spelled as ranges: `ALPHABET.contains` is a `memchr` per byte.
        if !random
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9'))
        {
            return None;
        }
        // Canonical decimal only: no sign, no leading zero, so rendering gives `name` back.
        if digits.len() > 19 || (digits[0] == b'0' && digits.len() > 1) {
            return None;
        }
        let mut n: u64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u64::from(d - b'0');
        }
        if n > COUNTER {
            return None;
        }
        Some(Slot {
            tag: kind | n,
            random: random.try_into().ok()?,
            id: FileId {
                dev: 0,
                ino: 0,
                birth: 0,
            },
        })
    }

    /// Writes the slot's name into `out`, replacing what was there.
    fn render(&self, out: &mut String) {
        out.clear();
        out.push_str(if self.tag & MKSTEMP != 0 {
            "mkstemp-"
        } else {
            "mktemp-"
        });
        // The random part is `[a-z0-9]`, checked by `parse`.
        out.extend(self.random.iter().map(|&b| char::from(b)));
        out.push('-');
        push_decimal(out, self.tag & COUNTER);
    }
}

impl Tracked {
    fn find(&self, slot: &Slot) -> Result<usize, usize> {
        let key = slot.key();
        // New names come last: check there before searching.
        match self.slots.last() {
            Some(last) if last.key() < key => Err(self.slots.len()),
            _ => self.slots.binary_search_by(|s| s.key().cmp(&key)),
        }
    }

    /// Tracks `name`, with `id` replacing whatever identity it had.
    pub(crate) fn insert(&mut self, name: &str, id: Option<FileId>) {
        let Some(mut slot) = Slot::parse(name) else {
            self.others.insert(name.into(), id);
            return;
        };
        slot.set_id(id);
        match self.find(&slot) {
            Ok(i) => {
                if !self.slots[i].is_live() {
                    self.live += 1;
                }
                self.slots[i] = slot;
            }
            Err(i) => {
                self.slots.insert(i, slot);
                self.live += 1;
            }
        }
    }

    /// `Some(identity)` if `name` is tracked.
    pub(crate) fn get(&self, name: &str) -> Option<Option<FileId>> {
        match Slot::parse(name) {
            Some(slot) => match self.find(&slot) {
                Ok(i) if self.slots[i].is_live() => Some(self.slots[i].id()),
                _ => None,
            },
            None => self.others.get(name).copied(),
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Stops tracking `name`; `Some(identity)` if it was tracked.
    pub(crate) fn remove(&mut self, name: &str) -> Option<Option<FileId>> {
        let Some(slot) = Slot::parse(name) else {
            return self.others.remove(name);
        };
        let i = self.find(&slot).ok()?;
        let found = &mut self.slots[i];
        if !found.is_live() {
            return None;
        }
        found.tag |= DEAD;
        let id = found.id();
        self.live -= 1;
        // Compact once tombstones outnumber the living: amortised O(1) per removal.
        let dead = self.slots.len() - self.live;
        if dead > self.live && dead >= 32 {
            self.slots.retain(Slot::is_live);
            if self.slots.capacity() > 4 * self.slots.len().max(16) {
                self.slots.shrink_to_fit();
            }
        }
        Some(id)
    }

    /// Stops tracking `name` if it is tracked with identity `id`; whether it was.
    pub(crate) fn remove_if(&mut self, name: &str, id: Option<FileId>) -> bool {
        self.get(name) == Some(id) && self.remove(name).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.live + self.others.len()
    }

    /// Every tracked name, in the fixed order.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut buf = String::new();
        let mut names = Vec::with_capacity(self.len());
        for slot in self.slots.iter().filter(|s| s.is_live()) {
            slot.render(&mut buf);
            names.push(buf.clone());
        }
        names.extend(self.others.keys().map(|k| k.to_string()));
        names
    }

    /// An empty record of what a directory listing shows at the tracked names.
    pub(crate) fn sightings(&self) -> Sightings<'_> {
        Sightings {
            slots: vec![None; self.slots.len()],
            last: None,
            others: HashMap::default(),
        }
    }

    /// Notes that a listing showed `name` as `listed`; an untracked name is ignored.
    pub(crate) fn sight<'t>(&'t self, sightings: &mut Sightings<'t>, name: &str, listed: Listed) {
        match Slot::parse(name) {
            Some(slot) => {
                // A listing in creation order, or in its reverse (tmpfs lists newest first),
                // names a neighbour of the slot found last: look there before searching.
                let key = slot.key();
                let neighbours = sightings.last.map_or([None, None], |last| {
                    [last.checked_add(1), last.checked_sub(1)]
                });
                let i = neighbours
                    .into_iter()
                    .flatten()
                    .find(|&i| self.slots.get(i).is_some_and(|s| s.key() == key))
                    .map_or_else(|| self.find(&slot), Ok);
                if let Ok(i) = i {
                    sightings.last = Some(i);
                    if self.slots[i].is_live() {
                        sightings.slots[i] = Some(listed);
                    }
                }
            }
            None => {
                if let Some((name, _)) = self.others.get_key_value(name) {
                    sightings.others.insert(name, listed);
                }
            }
        }
    }

    /// Hands every tracked name to `f`, in the fixed order, with its identity and what
    /// `sightings` showed there ([`Sighting::Unknown`] for all without a listing).
    /// Slot names are rendered into one reused buffer.
    pub(crate) fn for_each(
        &self,
        sightings: Option<&Sightings<'_>>,
        mut f: impl FnMut(&str, Option<FileId>, Sighting),
    ) {
        let seen = |listed: Option<Listed>| match (sightings, listed) {
            (None, _) => Sighting::Unknown,
            (Some(_), Some(listed)) => Sighting::Listed(listed),
            (Some(_), None) => Sighting::Absent,
        };
        let mut buf = String::with_capacity(48);
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.is_live() {
                slot.render(&mut buf);
                f(&buf, slot.id(), seen(sightings.and_then(|s| s.slots[i])));
            }
        }
        for (name, &id) in &self.others {
            let listed = sightings.and_then(|s| s.others.get(&**name).copied());
            f(name, id, seen(listed));
        }
    }
}

/// What one listing of the directory showed at each tracked name.
pub(crate) struct Sightings<'t> {
    /// By index into [`Tracked`]'s slots.
    slots: Vec<Option<Listed>>,
    /// The slot of the name listed last (forgotten ones included): the next name listed
    /// is most often its neighbour.
    last: Option<usize>,
    others: HashMap<&'t str, Listed, BuildHasherDefault<DefaultHasher>>,
}

/// What is known of a tracked name before looking at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sighting {
    /// The listing did not show it: it is gone.
    Absent,
    /// The listing showed it, with this inode number and kind.
    Listed(Listed),
    /// There was no listing.
    Unknown,
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
    fn random_part_and_counter_render() {
        let mut s = String::new();
        push_random(&mut s, 0);
        assert_eq!(s, "aaaaaaaa");
        push_decimal(&mut s, 0);
        push_decimal(&mut s, 1234567890);
        assert_eq!(s, "aaaaaaaa01234567890");
        let mut max = String::new();
        push_decimal(&mut max, u64::MAX);
        assert_eq!(max, u64::MAX.to_string());
    }

    fn id(ino: u64) -> Option<FileId> {
        Some(FileId {
            dev: 7,
            ino,
            birth: 0,
        })
    }

    #[test]
    fn tracked_names_round_trip() {
        for name in [
            "mktemp-abcdefgh-0",
            "mkstemp-0123zzzz-18446744",
            "mktemp-a1b2c3d4-99",
        ] {
            let slot = Slot::parse(name).expect(name);
            let mut back = String::new();
            slot.render(&mut back);
            assert_eq!(back, name);
        }
        for other in [
            "mktemp-abcdefgh-01",
            "mktemp-abcdefgh-",
            "mktemp-abcdefgh-1x",
            "mktemp-ABCDEFGH-1",
            "mktemp-abcdefg-1",
            "mktemp-abcdefgh+1",
            "mktemp-abcdefgh-99999999999999999999",
            "mkstemp-abcdefgh--1",
            "tmp-abcdefgh-1",
            "mktemp-abcdefgh-2305843009213693952",
        ] {
            assert!(Slot::parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn tracked_set_is_a_map() {
        let mut t = Tracked::default();
        t.insert("mkstemp-aaaaaaaa-2", id(2));
        t.insert("mktemp-aaaaaaaa-1", None);
        t.insert("mkstemp-bbbbbbbb-2", id(3));
        t.insert("mktemp-aaaaaaaa-2", None);
        t.insert("user-name", id(9));
        assert_eq!(t.len(), 5);
        assert_eq!(t.get("mkstemp-aaaaaaaa-2"), Some(id(2)));
        assert_eq!(t.get("mkstemp-bbbbbbbb-2"), Some(id(3)));
        assert_eq!(t.get("mktemp-aaaaaaaa-2"), Some(None));
        assert_eq!(t.get("user-name"), Some(id(9)));
        assert_eq!(t.get("mktemp-aaaaaaaa-3"), None);
        // `create` after `mktemp`: the identity replaces the name's `None`.
        t.insert("mktemp-aaaaaaaa-1", id(4));
        assert_eq!(t.get("mktemp-aaaaaaaa-1"), Some(id(4)));
        assert_eq!(t.len(), 5);
        assert_eq!(t.remove("mktemp-aaaaaaaa-1"), Some(id(4)));
        assert_eq!(t.remove("mktemp-aaaaaaaa-1"), None);
        assert!(!t.contains("mktemp-aaaaaaaa-1"));
        t.insert("mktemp-aaaaaaaa-1", None);
        assert_eq!(t.get("mktemp-aaaaaaaa-1"), Some(None));
        assert_eq!(t.remove("user-name"), Some(id(9)));
        assert_eq!(
            t.names(),
            [
                "mktemp-aaaaaaaa-1",
                "mktemp-aaaaaaaa-2",
                "mkstemp-aaaaaaaa-2",
                "mkstemp-bbbbbbbb-2"
            ]
        );
    }

    #[test]
    fn tracked_set_compacts_and_stays_consistent() {
        let mut t = Tracked::default();
        let name = |i: u64| format!("mkstemp-abcdefgh-{i}");
        for i in 0..1000 {
            t.insert(&name(i), id(i));
        }
        for i in (0..1000).filter(|i| i % 3 != 0) {
            assert_eq!(t.remove(&name(i)), Some(id(i)));
        }
        assert_eq!(t.len(), 334);
        assert!(t.slots.len() < 1000, "compacted");
        for i in 0..1000 {
            assert_eq!(t.get(&name(i)).is_some(), i % 3 == 0, "{i}");
        }
        let mut seen = Vec::new();
        t.for_each(None, |n, id, sighting| {
            assert_eq!(sighting, Sighting::Unknown);
            seen.push((n.to_owned(), id));
        });
        let want: Vec<_> = (0..1000)
            .filter(|i| i % 3 == 0)
            .map(|i| (name(i), id(i)))
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn sightings_follow_the_tracked_names() {
        let mut t = Tracked::default();
        let listed = |ino| Listed::new(ino, Some(crate::FileKind::File));
        for i in 1..=4 {
            t.insert(&format!("mkstemp-abcdefgh-{i}"), id(i));
        }
        t.insert("notes.txt", None);
        t.insert("gone.txt", None);
        t.remove("mkstemp-abcdefgh-2");
        let mut sightings = t.sightings();
        // In directory order, with untracked and forgotten names among them.
        for (name, ino) in [
            ("notes.txt", 9),
            ("mkstemp-abcdefgh-3", 3),
            ("mkstemp-abcdefgh-2", 2),
            ("stranger", 7),
            ("mkstemp-zzzzzzzz-1", 8),
            ("mkstemp-abcdefgh-1", 1),
        ] {
            t.sight(&mut sightings, name, listed(ino));
        }
        let mut seen = Vec::new();
        t.for_each(Some(&sightings), |n, _, sighting| {
            seen.push((n.to_owned(), sighting))
        });
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            vec![
                ("gone.txt".to_owned(), Sighting::Absent),
                ("mkstemp-abcdefgh-1".to_owned(), Sighting::Listed(listed(1))),
                ("mkstemp-abcdefgh-3".to_owned(), Sighting::Listed(listed(3))),
                ("mkstemp-abcdefgh-4".to_owned(), Sighting::Absent),
                ("notes.txt".to_owned(), Sighting::Listed(listed(9))),
            ]
        );
    }

    /// Listings in creation order and in its reverse, with a forgotten name (a tombstone
    /// whose file is still there) in the run: every live name is sighted at its slot.
    #[test]
    fn sightings_in_either_order_match_every_slot() {
        let name = |i: u64| format!("mkstemp-abcdefgh-{i}");
        let mut t = Tracked::default();
        for i in 1..=50 {
            t.insert(&name(i), id(i));
        }
        t.remove(&name(20));
        for order in [
            (1..=50).collect::<Vec<u64>>(),
            (1..=50).rev().collect::<Vec<u64>>(),
        ] {
            let mut sightings = t.sightings();
            for &i in &order {
                t.sight(
                    &mut sightings,
                    &name(i),
                    Listed::new(i, Some(crate::FileKind::File)),
                );
            }
            let mut seen = Vec::new();
            t.for_each(Some(&sightings), |n, _, sighting| {
                seen.push((n.to_owned(), sighting));
            });
            let want: Vec<_> = (1..=50)
                .filter(|&i| i != 20)
                .map(|i| {
                    let listed = Listed::new(i, Some(crate::FileKind::File));
                    (name(i), Sighting::Listed(listed))
                })
                .collect();
            assert_eq!(seen, want, "order {:?}", &order[..3]);
        }
    }
}
