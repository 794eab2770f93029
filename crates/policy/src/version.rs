//! Versions as Flux reads them from image tags.
//!
//! Flux parses tags with Masterminds/semver's *coercing* `NewVersion`, after
//! first insisting on at least two dots (it splits on `.` into three parts).
//! That accepts `v1.2.3` and `2025.07.03` but not `1.2` or `v1`. We store the
//! numbers and identifiers in the `semver` crate's types and implement the
//! comparison ourselves, because Masterminds ignores build metadata when
//! ordering while `semver::Version`'s `Ord` does not.

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Prerelease};

/// A parsed version. `Display` gives the normalised form (`1.2.0-beta.5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The major version.
    pub major: u64,
    /// The minor version.
    pub minor: u64,
    /// The patch version.
    pub patch: u64,
    /// The prerelease (`-rc.1`), empty when none.
    pub pre: Prerelease,
    /// The build metadata (`+sha.5114f85`), empty when none.
    pub build: BuildMetadata,
}

/// Why a string is not a version. Kept small: callers add the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError(pub &'static str);

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Length of a dot-separated run of non-empty `[0-9A-Za-z-]` identifiers at
/// the start of `s`, or `None` when an identifier is empty.
fn dotted_idents_len(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let start = i;
        while i < s.len() && is_ident_byte(s[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
            continue;
        }
        return Some(i);
    }
}

fn parse_number(digits: &str) -> Result<u64, VersionError> {
    digits
        .parse::<u64>()
        .map_err(|_| VersionError("numeric part does not fit in 64 bits"))
}

/// Which of Masterminds' version parsers to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseMode {
    /// `NewVersion` with its default `CoerceNewVersion = true` (what Flux
    /// uses): optional `v`, partial versions, leading zeros coerced.
    Coerce,
    /// `NewVersion` with `CoerceNewVersion = false`: as above, but leading
    /// zeros in major/minor/patch are errors.
    NoCoerce,
    /// `StrictNewVersion`: exactly `MAJOR.MINOR.PATCH[-pre][+build]` per
    /// SemVer 2.0, no `v`, no leading zeros.
    Strict,
}

impl Version {
    /// Masterminds `NewVersion` (coercing): `v?N(.N)?(.N)?(-pre)?(+build)?`,
    /// missing minor/patch become 0, leading zeros in numbers are accepted.
    pub fn parse_loose(s: &str) -> Result<Version, VersionError> {
        Version::parse_mode(s, ParseMode::Coerce)
    }

    /// Parse following one of Masterminds' parsers.
    pub fn parse_mode(s: &str, mode: ParseMode) -> Result<Version, VersionError> {
        let b = s.as_bytes();
        let mut i = 0;
        if b.first() == Some(&b'v') && mode != ParseMode::Strict {
            i = 1;
        }
        let mut nums = [0u64; 3];
        for (n, slot) in nums.iter_mut().enumerate() {
            if n > 0 {
                if b.get(i) != Some(&b'.') {
                    if mode == ParseMode::Strict {
                        return Err(VersionError("a strict version needs major.minor.patch"));
                    }
                    break;
                }
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(VersionError("invalid semantic version"));
            }
            if mode != ParseMode::Coerce && i - start > 1 && b[start] == b'0' {
                return Err(VersionError("numeric part has a leading zero"));
            }
            *slot = parse_number(&s[start..i])?;
        }
        let mut pre = Prerelease::EMPTY;
        if b.get(i) == Some(&b'-') {
            let len = dotted_idents_len(&b[i + 1..]).ok_or(VersionError("invalid prerelease"))?;
            let text = &s[i + 1..i + 1 + len];
            pre = Prerelease::new(text).map_err(|_| VersionError("invalid prerelease"))?;
            i += 1 + len;
        }
        let mut build = BuildMetadata::EMPTY;
        if b.get(i) == Some(&b'+') {
            let len =
                dotted_idents_len(&b[i + 1..]).ok_or(VersionError("invalid build metadata"))?;
            let text = &s[i + 1..i + 1 + len];
            build = BuildMetadata::new(text).map_err(|_| VersionError("invalid build metadata"))?;
            i += 1 + len;
        }
        if i != b.len() {
            return Err(VersionError("invalid semantic version"));
        }
        Ok(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            build,
        })
    }

    /// Flux's tag rule: at least two dots, then [`Version::parse_loose`].
    pub fn parse_tag(tag: &str) -> Result<Version, VersionError> {
        if memchr::memchr_iter(b'.', tag.as_bytes()).nth(1).is_none() {
            return Err(VersionError(
                "a version tag needs at least two dots (major.minor.patch)",
            ));
        }
        Version::parse_loose(tag)
    }

    /// Does it have a prerelease part?
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// SemVer precedence: numbers, then prerelease; build metadata ignored.
    pub fn precedence(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_prerelease(self.pre.as_str(), other.pre.as_str()))
    }
}

/// Prerelease ordering as Masterminds implements it: no prerelease sorts
/// after any prerelease; identifiers compare numerically when both are
/// numbers, a number sorts before a word, words compare byte-wise; a shorter
/// list that is a prefix of a longer one sorts first.
pub fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = compare_identifier(x, y);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

fn compare_identifier(x: &str, y: &str) -> Ordering {
    let xn = x
        .parse::<u64>()
        .ok()
        .filter(|_| x.bytes().all(|c| c.is_ascii_digit()));
    let yn = y
        .parse::<u64>()
        .ok()
        .filter(|_| y.bytes().all(|c| c.is_ascii_digit()));
    match (xn, yn) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => x.cmp(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerces_and_normalises() {
        assert_eq!(
            Version::parse_loose("v1.2-5").unwrap().to_string(),
            "1.2.0-5"
        );
        assert_eq!(Version::parse_loose("01.1.1").unwrap().to_string(), "1.1.1");
        assert!(Version::parse_loose("1.2.3-alpha.01").is_err());
        assert!(Version::parse_loose("99999999999999999999.0.0").is_err());
    }

    #[test]
    fn tag_rule_needs_two_dots() {
        assert!(Version::parse_tag("v1.2").is_err());
        let v = Version::parse_tag("v2025.07.03").unwrap();
        assert_eq!(
            (v.major, v.minor, v.patch),
            (2025, 7, 3),
            "leading zeros coerced"
        );
    }

    #[test]
    fn rc9_sorts_after_rc10_but_dotted_numbers_compare_numerically() {
        let a = Version::parse_tag("1.0.0-rc9").unwrap();
        let b = Version::parse_tag("1.0.0-rc10").unwrap();
        assert_eq!(a.precedence(&b), Ordering::Greater);
        let a = Version::parse_tag("1.0.0-rc.9").unwrap();
        let b = Version::parse_tag("1.0.0-rc.10").unwrap();
        assert_eq!(a.precedence(&b), Ordering::Less);
    }
}
