//! Names: the ones we make, and the ones users hand back.

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
}
