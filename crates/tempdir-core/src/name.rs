//! Names: the ones we make, and the ones users hand back.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use std::path::Path;

use camino::{Utf8Path, Utf8PathBuf};

use crate::Error;
use crate::sip;

/// The longest file name most filesystems take (`NAME_MAX` on Linux), in bytes.
pub(crate) const NAME_MAX: usize = 255;

/// Characters of the random part of a name: `[a-z0-9]`, safe on every filesystem.
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of the random part: 36^8 ≈ 2^41 names, so a planted name has to be guessed.
pub(crate) const RANDOM_LEN: usize = 8;

/// The [`RANDOM_LEN`] characters derived from `bits`: its base-36 digits, lowest first.
#[inline]
fn random_chars(bits: u64) -> [u8; RANDOM_LEN] {
    // Four digits at a time fit a `u32` (36^4 < 2^21), whose divisions by a constant are
    // cheaper than a `u64`'s.
    const FOUR: u64 = 36u64.pow(4);
    let mut chars = [0; RANDOM_LEN];
    let halves = [bits % FOUR, (bits / FOUR) % FOUR];
    for (quad, half) in chars.chunks_exact_mut(4).zip(halves) {
        let mut half = half as u32;
        for c in quad {
            *c = ALPHABET[(half % 36) as usize];
            half /= 36;
        }
    }
    chars
}

/// `b`, which is ASCII, as a `char` the compiler can see is ASCII: pushing it writes one
/// byte, without the branch for longer encodings.
#[inline(always)]
fn ascii(b: u8) -> char {
    debug_assert!(b.is_ascii());
    char::from(b & 0x7F)
}

/// Appends [`RANDOM_LEN`] characters derived from `bits` to `out`.
#[inline]
pub(crate) fn push_random(out: &mut String, bits: u64) {
    for c in random_chars(bits) {
        out.push(ascii(c));
    }
}

/// Why `name`, which has no path separator, can never be a single entry name, if it
/// cannot. `nul`: whether it has a NUL byte.
fn component_problem(name: &str, nul: bool) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty")
    } else if nul {
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

/// Whether `b` separates path components here: `/` everywhere, `\` on Windows too.
fn is_separator(b: u8) -> bool {
    b == b'/' || (cfg!(windows) && b == b'\\')
}

/// Whether `text` has a path separator in it, and whether a NUL byte: one pass, without
/// an early exit, which the compiler turns into a few wide compares for a name's length.
fn separator_and_nul(text: &str) -> (bool, bool) {
    let (mut separator, mut nul) = (false, false);
    for &b in text.as_bytes() {
        separator |= is_separator(b);
        nul |= b == 0;
    }
    (separator, nul)
}

/// Checks a directory-name prefix or suffix: it must fit inside one path component.
pub(crate) fn check_affix(affix: &str) -> Result<(), Error> {
    let (separator, nul) = separator_and_nul(affix);
    let reason = if separator {
        Some("contains a path separator")
    } else if nul {
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
    let candidate = candidate_name(dir, given)?;
    check_name(dir, given, candidate)?;
    Ok(candidate)
}

/// The first half of [`resolve`]: `given` as UTF-8, without `dir/` in front, and not an
/// absolute path elsewhere. What it gives may still not be one entry's name: a tracked
/// name is one by construction, and [`check_name`] says why any other is not.
pub(crate) fn candidate_name<'a>(dir: &Utf8Path, given: &'a Path) -> Result<&'a str, Error> {
    // The whole path is checked for UTF-8 at once: a path handed out starts where its
    // allocation is aligned, and from there the check reads words at a time, where from
    // the name's start it would go byte by byte.
    let whole = utf8(given)?;
    match whole.as_str().strip_prefix(dir.as_str()) {
        Some(rest) if rest.bytes().next().is_some_and(is_separator) => Ok(&rest[1..]),
        _ if whole.is_absolute() => Err(outside(dir, whole)),
        _ => Ok(whole.as_str()),
    }
}

/// The second half of [`resolve`]: whether `candidate`, from [`candidate_name`] of
/// `given`, names one entry of `dir`.
pub(crate) fn check_name(dir: &Utf8Path, given: &Path, candidate: &str) -> Result<(), Error> {
    let (separator, nul) = separator_and_nul(candidate);
    if separator || candidate == ".." {
        return Err(outside(dir, utf8(given)?));
    }
    match component_problem(candidate, nul) {
        Some(reason) => Err(Error::InvalidName {
            name: utf8(given)?.as_str().to_owned(),
            reason,
        }),
        None => Ok(()),
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
    let mut path = dir_with_separator(dir, name.len());
    path.push_str(name);
    Utf8PathBuf::from(path)
}

/// `dir/`, with room for a name of `name_len` bytes.
#[inline]
fn dir_with_separator(dir: &Utf8Path, name_len: usize) -> String {
    let mut path = String::with_capacity(dir.as_str().len() + 1 + name_len);
    path.push_str(dir.as_str());
    if !path.ends_with('/') {
        path.push('/');
    }
    path
}

/// A file name just made, as the path handed out for it: the name is the path's end, so
/// one allocation holds both.
pub(crate) struct FreshName {
    pub(crate) path: Utf8PathBuf,
    name_at: usize,
}

impl FreshName {
    /// `dir/{prefix}{random}-{generation}{suffix}`.
    #[inline]
    pub(crate) fn new(
        dir: &Utf8Path,
        prefix: &str,
        random: u64,
        generation: u64,
        suffix: &str,
    ) -> Self {
        let mut path = dir_with_separator(dir, file_name_capacity(prefix, suffix));
        let name_at = path.len();
        push_file_name(&mut path, prefix, random, generation, suffix);
        FreshName {
            path: Utf8PathBuf::from(path),
            name_at,
        }
    }

    #[inline]
    pub(crate) fn name(&self) -> &str {
        &self.path.as_str()[self.name_at..]
    }
}

/// Where the random parts of one instance's names come from: SipHash-1-3 under a key
/// drawn from the operating system's randomness (through std's [`RandomState`]). Other
/// processes cannot predict a name, and no name costs a syscall. With a seed (a backend
/// whose runs must replay) the key is the seed's.
///
/// The random part of a file's name is a function of its generation
/// ([`of_generation`](Self::of_generation)): the tracked set can make a name again from
/// its generation instead of keeping it.
pub(crate) struct Random {
    key: sip::Key,
    /// How many [`fresh`](Self::fresh) values were drawn.
    drawn: AtomicU64,
}

/// Set in the values hashed for what is not a file, to keep them apart from generations
/// (which never reach it).
const NOT_A_FILE: u64 = 1 << 63;

impl Random {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let key = match seed {
            Some(seed) => [seed, 0],
            None => {
                // std's keys, hashed with the process id: a child forked before the first
                // instance inherits the keys std hands out, and must not repeat its
                // parent's names.
                let keys = RandomState::new();
                let pid = process_id();
                [keys.hash_one((pid, 0u8)), keys.hash_one((pid, 1u8))]
            }
        };
        Random {
            key,
            drawn: AtomicU64::new(0),
        }
    }

    /// The random bits of the file name made at `generation`: the same every time.
    #[inline]
    pub(crate) fn of_generation(&self, generation: u64) -> u64 {
        debug_assert!(generation < NOT_A_FILE);
        sip::sip13(self.key, [generation])
    }

    /// 64 fresh bits, for what is named once: the directory, a cleanup's aside name.
    pub(crate) fn fresh(&self) -> u64 {
        let n = self.drawn.fetch_add(1, Ordering::Relaxed);
        sip::sip13(self.key, [n | NOT_A_FILE])
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

/// Appends `n` in decimal.
#[inline]
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(ascii(digit));
    }
}

/// Appends `{prefix}{random}-{generation}{suffix}`: duplicity's `mkstemp-XXXXXXXX-N` for
/// the prefix `mkstemp-`. The generation makes it unique for this instance, the random
/// part unguessable for everyone else.
#[inline]
pub(crate) fn push_file_name(
    out: &mut String,
    prefix: &str,
    random: u64,
    generation: u64,
    suffix: &str,
) {
    out.push_str(prefix);
    push_random(out, random);
    out.push('-');
    push_decimal(out, generation);
    out.push_str(suffix);
}

/// The longest file name made with `prefix` and `suffix`.
pub(crate) fn file_name_capacity(prefix: &str, suffix: &str) -> usize {
    prefix.len() + RANDOM_LEN + COUNTER_MAX_LEN + suffix.len()
}

/// The names this crate makes with a prefix of its own and no suffix. Such a name is a
/// function of its kind and its generation (the random part comes from the generation),
/// so the tracked set keeps the generation alone and makes the name again when it needs
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `mkstemp-…`: a file made by `mkstemp`.
    Mkstemp,
    /// `mktemp-…`: a name handed out by `mktemp`, not created.
    Mktemp,
    /// `tmp-…`: a named or unnamed temporary file.
    Tmp,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Mkstemp, Kind::Mktemp, Kind::Tmp];

    pub(crate) const fn prefix(self) -> &'static str {
        match self {
            Kind::Mkstemp => "mkstemp-",
            Kind::Mktemp => "mktemp-",
            Kind::Tmp => "tmp-",
        }
    }

    /// Whether this instance created the file (a `mktemp` name is created by the caller,
    /// or never).
    fn created(self) -> bool {
        self != Kind::Mktemp
    }

    /// The kind and generation `name` was made with, if it has the form of one; whether
    /// its random part is right is for the caller to see.
    fn parse(name: &str) -> Option<(Kind, u64, &str)> {
        Kind::ALL.into_iter().find_map(|kind| {
            let rest = name.strip_prefix(kind.prefix())?;
            let (random, digits) = rest.split_at_checked(RANDOM_LEN)?;
            let digits = digits.strip_prefix('-')?.as_bytes();
            // Only the form this crate writes: digits alone, no leading zero.
            if digits.first().is_none_or(|&first| first == b'0') {
                return None;
            }
            let mut generation: u64 = 0;
            for &digit in digits {
                if !digit.is_ascii_digit() {
                    return None;
                }
                generation = generation
                    .checked_mul(10)?
                    .checked_add(u64::from(digit - b'0'))?;
            }
            Some((kind, generation, random))
        })
    }
}

/// What the tracked set knows of a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The counter value the name was tracked at: for the names this crate makes, the
    /// one it carries. A name removed and tracked again has a new one, which lets a
    /// `remove` racing a `create` of the same name forget only what it removed.
    pub(crate) generation: u64,
    pub(crate) origin: Origin,
}

/// How a tracked name is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Made by this instance as `kind`: the name follows from the generation.
    Made(Kind),
    /// Given (adopted, created by name) or made with a caller's prefix or suffix: the
    /// name is kept. `created` when this instance created the file.
    Kept { created: bool },
}

impl Entry {
    /// Whether this instance created the file.
    pub(crate) fn created(self) -> bool {
        match self.origin {
            Origin::Made(kind) => kind.created(),
            Origin::Kept { created } => created,
        }
    }
}

/// The names an instance tracks.
///
/// A name this crate made with a prefix of its own (a [`Kind`]) is not kept as a string:
/// it follows from its kind and generation, so the set keeps runs of consecutive
/// generations of one kind. Files made one after another form one run, so tracking a new
/// one extends a run in place: no allocation, no copy of the name, a few bytes at most
/// per name; cleanup makes each name again, as it would have to format it anyway. Every
/// other name is kept as given, by name.
///
/// Iteration is in creation order (generation order), the kernel's cheapest order for
/// unlinks, and fixed, so a seeded run replays exactly.
#[derive(Default)]
pub(crate) struct Tracked {
    /// Made names.
    runs: Runs,
    /// Kept names, with their entries.
    kept: BTreeMap<Box<str>, Entry>,
    /// How many names in all.
    len: usize,
}

/// Generations of made names, as runs of consecutive generations of one kind.
///
/// The newest run (the one starting last) is kept out of the map: names made one after
/// another extend it, and a name made and removed at once (`mkstemp` then `remove`) comes
/// and goes there, so the common cases touch no tree node.
///
/// The newest run also keeps its names as they were made, one after another in one
/// string, for as long as it only grows and shrinks at its ends: cleanup then reads them
/// instead of hashing and formatting each again, and a `remove` of the newest name
/// compares it instead of hashing. Older runs keep nothing but their bounds.
#[derive(Default)]
struct Runs {
    /// The newest run, with its first generation. While it is `None`, the map may still
    /// hold runs.
    newest: Option<(u64, Run)>,
    /// Every older run, by its first generation.
    older: BTreeMap<u64, Run>,
    /// While `named`: the newest run's names, `names[names_from..]`, oldest first.
    names: String,
    names_from: usize,
    /// Whether `names` holds the newest run's names. Set when a newest run starts; cleared
    /// when one is split or goes into the map.
    named: bool,
}

/// A string that grew past this is let go once empty, not kept for the next run.
const NAMES_KEPT_MAX: usize = 4096;

/// The length of the name made as `kind` at `generation`: prefix, random part, `-` and
/// the generation's digits.
fn made_len(kind: Kind, generation: u64) -> usize {
    let digits = generation
        .checked_ilog10()
        .map_or(1, |log| log as usize + 1);
    kind.prefix().len() + RANDOM_LEN + 1 + digits
}

/// The generations `start..end` (`start` is kept beside it), all made as `kind`.
#[derive(Clone, Copy, Debug)]
struct Run {
    end: u64,
    kind: Kind,
}

impl Runs {
    /// Adds `generation`, which must not be there yet, made as `kind` with the name `name`.
    #[inline]
    fn add(&mut self, kind: Kind, generation: u64, name: &str) {
        debug_assert_eq!(self.kind_of(generation), None, "a generation is added once");
        debug_assert_eq!(name.len(), made_len(kind, generation));
        let next = generation + 1;
        match &mut self.newest {
            Some((_, run)) if run.end == generation && run.kind == kind => {
                run.end = next;
                if self.named {
                    self.names.push_str(name);
                }
                return;
            }
            None if self
                .older
                .last_key_value()
                .is_none_or(|(_, last)| last.end < generation) =>
            {
                self.newest = Some((generation, Run { end: next, kind }));
                self.names.clear();
                self.names.push_str(name);
                self.names_from = 0;
                self.named = true;
                return;
            }
            _ => {}
        }
        // Anywhere else: in the map, with the newest run, which then comes out again.
        self.forget_names();
        if let Some((start, run)) = self.newest.take() {
            self.older.insert(start, run);
        }
        let start = match self.older.range_mut(..generation).next_back() {
            Some((&start, run)) if run.end == generation && run.kind == kind => {
                run.end = next;
                start
            }
            _ => {
                self.older.insert(generation, Run { end: next, kind });
                generation
            }
        };
        // Threads that drew generations in one order may track them in another.
        if let Some(&after) = self.older.get(&next)
            && after.kind == kind
        {
            self.older.remove(&next);
            if let Some(run) = self.older.get_mut(&start) {
                run.end = after.end;
            }
        }
        self.newest = self.older.pop_last();
    }

    /// The newest run's names stop being kept (they are made again when needed).
    fn forget_names(&mut self) {
        self.named = false;
        self.names_from = 0;
        if self.names.capacity() > NAMES_KEPT_MAX {
            self.names = String::new();
        } else {
            self.names.clear();
        }
    }

    /// The kind and generation of the newest name, if `name` is it and the names are kept.
    fn newest_named(&self, name: &str) -> Option<(Kind, u64)> {
        let (_, run) = self.newest.filter(|_| self.named)?;
        let generation = run.end - 1;
        let at = self.names.len() - made_len(run.kind, generation);
        (self.names[at..] == *name).then_some((run.kind, generation))
    }

    /// Removes the newest generation if `name` is the name kept for it: what `remove`
    /// right after `mkstemp` asks, answered with one look at the names.
    fn take_newest_named(&mut self, name: &str) -> Option<(Kind, u64)> {
        let newest = self.newest_named(name)?;
        self.pop_newest(name.len());
        Some(newest)
    }

    /// Removes the newest run's last generation, whose name, where the names are kept,
    /// is the last `len` bytes of them. An emptied run goes.
    fn pop_newest(&mut self, len: usize) {
        let Some((start, run)) = &mut self.newest else {
            return;
        };
        run.end -= 1;
        if *start == run.end {
            self.newest = None;
            self.forget_names();
        } else if self.named {
            self.names.truncate(self.names.len() - len);
        }
    }

    /// Whether `generation` is there, made as `kind`.
    fn holds(&self, kind: Kind, generation: u64) -> bool {
        self.kind_of(generation) == Some(kind)
    }

    /// The kind `generation` was made as, if it is there.
    fn kind_of(&self, generation: u64) -> Option<Kind> {
        let run = match self.newest {
            Some((start, run)) if start <= generation => Some(run),
            _ => self
                .older
                .range(..=generation)
                .next_back()
                .map(|(_, &run)| run),
        };
        run.filter(|run| generation < run.end).map(|run| run.kind)
    }

    /// Removes `generation`, which must be there: the run holding it is split around it.
    fn remove(&mut self, generation: u64) {
        debug_assert!(self.kind_of(generation).is_some(), "only what is there");
        if let Some((start, run)) = &mut self.newest
            && *start <= generation
        {
            let Run { end, kind } = *run;
            let len = made_len(kind, generation);
            if generation + 1 == end {
                self.pop_newest(len);
            } else if *start == generation {
                *start = generation + 1;
                if self.named {
                    self.names_from += len;
                    // Let the string hold at most twice what is left in it.
                    if self.names_from > self.names.len() / 2 {
                        self.names.drain(..self.names_from);
                        self.names_from = 0;
                    }
                }
            } else {
                self.older.insert(
                    *start,
                    Run {
                        end: generation,
                        kind,
                    },
                );
                *start = generation + 1;
                self.forget_names();
            }
            return;
        }
        let Some((&start, run)) = self.older.range_mut(..=generation).next_back() else {
            return;
        };
        let Run { end, kind } = *run;
        if start < generation {
            run.end = generation;
        } else {
            self.older.remove(&start);
        }
        if generation + 1 < end {
            self.older.insert(generation + 1, Run { end, kind });
        }
    }

    /// Every run, oldest first, with its first generation, and for the newest run its
    /// names if they are kept.
    fn iter(&self) -> impl Iterator<Item = (u64, Run, Option<&str>)> + '_ {
        let older = self.older.iter().map(|(&start, &run)| (start, run, None));
        let names = self.named.then(|| &self.names[self.names_from..]);
        older.chain(self.newest.map(|(start, run)| (start, run, names)))
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.older.len() + usize::from(self.newest.is_some())
    }
}

impl Tracked {
    /// Tracks `name` as `entry`, in place of what it was tracked as before. A made entry's
    /// generation must have been drawn for this name and not be tracked now: fresh, or
    /// taken out and put back.
    #[inline]
    pub(crate) fn insert(&mut self, name: &str, entry: Entry, random: &Random) {
        match entry.origin {
            Origin::Made(kind) => {
                debug_assert_eq!(
                    Kind::parse(name).map(|(kind, generation, _)| (kind, generation)),
                    Some((kind, entry.generation)),
                );
                // Only a kept name can already be there: the generation is fresh. (Seldom
                // any: the look at `is_empty` spares `mkstemp` a call into the map.)
                if !self.kept.is_empty() && self.kept.remove(name).is_some() {
                    self.len -= 1;
                }
                self.runs.add(kind, entry.generation, name);
            }
            Origin::Kept { .. } => {
                self.remove(name, random);
                self.kept.insert(name.into(), entry);
            }
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, name: &str, random: &Random) -> Option<Entry> {
        // The newest name first, compared whole: `mkstemp` then `remove` hands it back.
        if let Some((kind, generation)) = self.runs.newest_named(name) {
            return Some(Entry {
                generation,
                origin: Origin::Made(kind),
            });
        }
        if let Some(&entry) = self.kept.get(name) {
            return Some(entry);
        }
        let (kind, generation, random_part) = Kind::parse(name)?;
        if !self.runs.holds(kind, generation) {
            return None;
        }
        let expected = random_chars(random.of_generation(generation));
        (expected == random_part.as_bytes()).then_some(Entry {
            generation,
            origin: Origin::Made(kind),
        })
    }

    pub(crate) fn contains(&self, name: &str, random: &Random) -> bool {
        self.get(name, random).is_some()
    }

    pub(crate) fn remove(&mut self, name: &str, random: &Random) -> bool {
        self.take(name, random).is_some()
    }

    /// Forgets `name` and gives what it was tracked as, if it was.
    pub(crate) fn take(&mut self, name: &str, random: &Random) -> Option<Entry> {
        if let Some((kind, generation)) = self.runs.take_newest_named(name) {
            self.len -= 1;
            return Some(Entry {
                generation,
                origin: Origin::Made(kind),
            });
        }
        let entry = self.get(name, random)?;
        self.forget(name, entry);
        Some(entry)
    }

    /// Whether `name` is still tracked as `entry`, which [`get`](Self::get) gave for it.
    /// A made name is its kind and generation, so no name is made again to tell.
    pub(crate) fn holds(&self, name: &str, entry: Entry) -> bool {
        match entry.origin {
            Origin::Made(kind) => self.runs.holds(kind, entry.generation),
            Origin::Kept { .. } => self.kept.get(name) == Some(&entry),
        }
    }

    /// Forgets `name` if it is still tracked as `entry`, which [`get`](Self::get) gave
    /// for it; whether it was.
    pub(crate) fn remove_if(&mut self, name: &str, entry: Entry) -> bool {
        let held = self.holds(name, entry);
        if held {
            self.forget(name, entry);
        }
        held
    }

    /// Forgets `name`, tracked as `entry`.
    fn forget(&mut self, name: &str, entry: Entry) {
        match entry.origin {
            Origin::Made(_) => self.runs.remove(entry.generation),
            Origin::Kept { .. } => {
                self.kept.remove(name);
            }
        }
        self.len -= 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Forgets every name.
    pub(crate) fn clear(&mut self) {
        *self = Tracked::default();
    }

    /// Calls `f` with every tracked name, oldest first.
    #[inline]
    pub(crate) fn each(&self, random: &Random, mut f: impl FnMut(&str)) {
        let mut kept: Vec<(u64, &str)> = self
            .kept
            .iter()
            .map(|(name, entry)| (entry.generation, &**name))
            .collect();
        kept.sort_unstable();
        let mut kept = kept.into_iter().peekable();
        let mut made = String::new();
        for (start, run, mut names) in self.runs.iter() {
            for generation in start..run.end {
                while let Some((_, name)) = kept.next_if(|&(g, _)| g < generation) {
                    f(name);
                }
                if let Some(rest) = names {
                    let (name, after) = rest.split_at(made_len(run.kind, generation));
                    names = Some(after);
                    f(name);
                    continue;
                }
                made.clear();
                let bits = random.of_generation(generation);
                push_file_name(&mut made, run.kind.prefix(), bits, generation, "");
                f(&made);
            }
        }
        kept.for_each(|(_, name)| f(name));
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

    fn file_name(prefix: &str, random: u64, generation: u64, suffix: &str) -> String {
        let mut name = String::new();
        push_file_name(&mut name, prefix, random, generation, suffix);
        name
    }

    #[test]
    fn file_names_carry_kind_random_part_and_counter() {
        assert_eq!(file_name("mkstemp-", 0, 0, ""), "mkstemp-aaaaaaaa-0");
        assert_eq!(
            file_name("mktemp-", 35, u64::MAX, ""),
            format!("mktemp-9aaaaaaa-{}", u64::MAX)
        );
        assert_eq!(file_name("x", 0, 7, ".txt"), "xaaaaaaaa-7.txt");
        // Every count of digits, at both of its ends.
        for generation in (0..20).flat_map(|e| [10u64.pow(e) - 1, 10u64.pow(e)]) {
            assert_eq!(
                file_name("", 0, generation, ""),
                format!("aaaaaaaa-{generation}")
            );
        }
        let fresh = FreshName::new(Utf8Path::new("/tmp/d/"), "tmp-", 1, 10, ".x");
        assert_eq!(fresh.path, "/tmp/d/tmp-baaaaaaa-10.x");
        assert_eq!(fresh.name(), "tmp-baaaaaaa-10.x");
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
        let draw = |r: &Random| [r.fresh(), r.fresh(), r.of_generation(1), r.of_generation(2)];
        let first = draw(&a);
        assert_eq!(first, draw(&b));
        assert_eq!(
            a.of_generation(2),
            first[3],
            "a generation's bits never change"
        );
        assert_ne!(first[..2], first[2..], "files and the rest draw apart");
        assert_ne!(first, draw(&Random::new(Some(8))));
        let (c, d) = (Random::new(None), Random::new(None));
        assert_ne!(c.of_generation(1), d.of_generation(1));
        assert_ne!(c.fresh(), d.fresh());
    }

    fn made(random: &Random, kind: Kind, generation: u64) -> (String, Entry) {
        let bits = random.of_generation(generation);
        let entry = Entry {
            generation,
            origin: Origin::Made(kind),
        };
        (file_name(kind.prefix(), bits, generation, ""), entry)
    }

    fn kept(generation: u64, created: bool) -> Entry {
        Entry {
            generation,
            origin: Origin::Kept { created },
        }
    }

    fn names(tracked: &Tracked, random: &Random) -> Vec<String> {
        let mut names = Vec::new();
        tracked.each(random, |name| names.push(name.to_owned()));
        names
    }

    #[test]
    fn made_names_are_kept_as_runs_and_made_again_in_creation_order() {
        let random = Random::new(Some(1));
        let mut tracked = Tracked::default();
        let [m1, m2, m4, m5, m6] = [1, 2, 4, 5, 6].map(|g| made(&random, Kind::Mkstemp, g));
        let t3 = made(&random, Kind::Mktemp, 3);
        // Tracked out of order, as two threads may: the runs join up.
        for (name, entry) in [&m2, &m1, &t3, &m5, &m4] {
            tracked.insert(name, *entry, &random);
        }
        tracked.insert("given.txt", kept(7, false), &random);
        tracked.insert(&m6.0, m6.1, &random);
        assert_eq!(tracked.len(), 7);
        assert_eq!(
            tracked.runs.count(),
            3,
            "1-2 mkstemp, 3 mktemp, 4-6 mkstemp"
        );
        assert_eq!(
            names(&tracked, &random),
            [&m1.0, &m2.0, &t3.0, &m4.0, &m5.0, &m6.0, "given.txt"]
        );
        assert_eq!(tracked.get(&t3.0, &random), Some(t3.1));
        assert!(!t3.1.created() && m4.1.created());
        assert_eq!(tracked.get("given.txt", &random), Some(kept(7, false)));

        // Removing from the middle of a run splits it.
        assert!(tracked.remove(&m5.0, &random));
        assert!(!tracked.remove(&m5.0, &random));
        assert_eq!(tracked.len(), 6);
        assert_eq!(
            names(&tracked, &random),
            [&m1.0, &m2.0, &t3.0, &m4.0, &m6.0, "given.txt"]
        );
        assert_eq!(tracked.get(&m6.0, &random), Some(m6.1));
        assert_eq!(tracked.get(&m5.0, &random), None);
        tracked.clear();
        assert_eq!((tracked.len(), names(&tracked, &random).len()), (0, 0));
    }

    #[test]
    fn only_the_exact_made_name_is_found() {
        let random = Random::new(Some(2));
        let mut tracked = Tracked::default();
        let (name, entry) = made(&random, Kind::Mkstemp, 12);
        tracked.insert(&name, entry, &random);
        let random_part = &name["mkstemp-".len()..][..RANDOM_LEN];
        let others = [
            name.replace(random_part, "zzzzzzzz"),
            name.replace("-12", "-012"),
            name.replace("-12", "-+12"),
            name.replace("mkstemp-", "mktemp-"),
            name.replace("mkstemp-", "tmp-"),
            format!("{name}.txt"),
            format!("x{name}"),
        ];
        // The newest name is compared with the name kept for it; once another is made
        // after it, with the random part made again from its generation.
        for newest in [true, false] {
            for other in &others {
                assert_eq!(tracked.get(other, &random), None, "{other}");
                assert!(!tracked.remove(other, &random), "{other}");
            }
            assert_eq!(tracked.get(&name, &random), Some(entry));
            let (next, next_entry) = made(&random, Kind::Mkstemp, 13);
            if newest {
                tracked.insert(&next, next_entry, &random);
            }
        }
        assert_eq!(
            tracked.get(&name, &Random::new(Some(3))),
            None,
            "other keys"
        );
    }

    #[test]
    fn a_name_is_tracked_once_whichever_way_it_came() {
        let random = Random::new(Some(4));
        let mut tracked = Tracked::default();
        // A mktemp name created at last: kept under its new generation.
        let (name, entry) = made(&random, Kind::Mktemp, 1);
        tracked.insert(&name, entry, &random);
        tracked.insert(&name, kept(2, true), &random);
        assert_eq!(tracked.len(), 1);
        assert_eq!(tracked.get(&name, &random), Some(kept(2, true)));
        assert_eq!(tracked.runs.count(), 0);
        // A name adopted before this instance made it.
        let (later, entry) = made(&random, Kind::Mkstemp, 3);
        tracked.insert(&later, kept(0, false), &random);
        tracked.insert(&later, entry, &random);
        assert_eq!(tracked.len(), 2);
        assert_eq!(tracked.get(&later, &random), Some(entry));
        assert_eq!(names(&tracked, &random), [name, later]);
    }

    #[test]
    fn remove_if_forgets_only_the_generation_it_saw() {
        let random = Random::new(Some(5));
        let mut tracked = Tracked::default();
        tracked.insert("x", kept(1, true), &random);
        tracked.insert("x", kept(2, true), &random);
        tracked.remove_if("x", kept(1, true));
        assert_eq!(tracked.get("x", &random), Some(kept(2, true)));
        tracked.remove_if("x", kept(2, true));
        assert!(!tracked.contains("x", &random));
        let (name, entry) = made(&random, Kind::Tmp, 3);
        tracked.insert(&name, entry, &random);
        tracked.remove_if(&name, kept(3, true));
        assert!(tracked.contains(&name, &random));
        tracked.remove_if(&name, entry);
        assert_eq!(tracked.len(), 0);
    }

    proptest::proptest! {
        /// The random part is the lowest eight base-36 digits of the bits, lowest first,
        /// however they are computed.
        #[test]
        fn random_chars_are_base_36_digits(bits in proptest::num::u64::ANY) {
            let mut rest = bits;
            let digits: Vec<u8> = (0..RANDOM_LEN)
                .map(|_| {
                    let digit = ALPHABET[(rest % 36) as usize];
                    rest /= 36;
                    digit
                })
                .collect();
            proptest::prop_assert_eq!(&random_chars(bits)[..], &digits[..]);
        }

        /// Any sequence of tracking, removing and re-tracking: the set answers as a plain
        /// map from name to entry does, and lists its names by generation.
        #[test]
        fn the_set_behaves_as_a_map_of_names(
            ops in proptest::collection::vec((0u8..6, 0usize..64, proptest::bool::ANY), 0..300),
        ) {
            let random = Random::new(Some(9));
            let mut tracked = Tracked::default();
            let mut model: BTreeMap<String, Entry> = BTreeMap::new();
            let mut seen: Vec<String> = vec!["given".into()];
            // Every (name, entry) tracked: what a caller can hand back to `remove_if`.
            let mut history: Vec<(String, Entry)> = Vec::new();
            let mut generation = 0;
            for (op, index, flag) in ops {
                let pick = seen[index % seen.len()].clone();
                match op {
                    // Made names: with `flag`, two drawn and tracked in reverse order, as
                    // two threads may.
                    0 | 1 => {
                        let drawn = if flag { 2 } else { 1 };
                        for g in (generation + 1..=generation + drawn).rev() {
                            // Mostly one kind, so that runs grow and split.
                            let kind = match index % 5 {
                                0 => Kind::Mktemp,
                                1 => Kind::Tmp,
                                _ => Kind::Mkstemp,
                            };
                            let (name, entry) = made(&random, kind, g);
                            tracked.insert(&name, entry, &random);
                            model.insert(name.clone(), entry);
                            history.push((name.clone(), entry));
                            seen.push(name);
                        }
                        generation += drawn;
                    }
                    2 => {
                        generation += 1;
                        let entry = kept(generation, flag);
                        let name = if flag { pick } else { format!("given-{generation}") };
                        tracked.insert(&name, entry, &random);
                        model.insert(name.clone(), entry);
                        history.push((name.clone(), entry));
                        seen.push(name);
                    }
                    3 | 4 => {
                        let taken = tracked.take(&pick, &random);
                        proptest::prop_assert_eq!(taken, model.get(&pick).copied());
                        // With `flag`, put back, as a refused unlink puts it.
                        match taken {
                            Some(entry) if flag => tracked.insert(&pick, entry, &random),
                            _ => {
                                model.remove(&pick);
                            }
                        }
                    }
                    // An entry seen once, perhaps no longer the name's.
                    _ if !history.is_empty() => {
                        let (name, entry) = &history[index % history.len()];
                        tracked.remove_if(name, *entry);
                        if model.get(name) == Some(entry) {
                            model.remove(name);
                        }
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(tracked.len(), model.len());
            }
            for name in &seen {
                proptest::prop_assert_eq!(tracked.get(name, &random), model.get(name).copied());
            }
            let mut by_generation: Vec<(u64, &String)> =
                model.iter().map(|(name, entry)| (entry.generation, name)).collect();
            by_generation.sort();
            let expected: Vec<&String> = by_generation.into_iter().map(|(_, name)| name).collect();
            let listed = names(&tracked, &random);
            proptest::prop_assert_eq!(listed.iter().collect::<Vec<_>>(), expected);
        }
    }
}
