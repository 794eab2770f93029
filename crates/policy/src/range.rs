//! Masterminds/semver v3 version ranges, as Flux's `semver` policy reads them.
//!
//! This is deliberately *not* Cargo's or npm's grammar. `||` separates OR
//! groups; within a group constraints are separated by whitespace or commas;
//! `A - B` means `>= A, <= B`; partial versions and `x`/`X`/`*` wildcards
//! widen the match (`1.2` behaves like `~1.2`). The grammar below follows the
//! upstream regular expressions token for token, because users depend on its
//! quirks (`1x` is a parse error, `>1.2` needs minor > 2, `<=1.2` admits any
//! `1.2.*`). Prereleases only satisfy a group in which some constraint itself
//! names a prerelease.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use super::version::{Version, compare_prerelease};

/// Go's `\s` is ASCII-only and excludes `\v`; Rust's is Unicode. Spell it out.
const WS: &str = r"[\t\n\f\r ]";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn cv() -> String {
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?".to_string()
}

fn re(p: String) -> Regex {
    Regex::new(&p).expect("built-in range grammar compiles")
}

static SINGLE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{WS}*({OPS}){WS}*({}){WS}*$", cv())));
static HYPHEN: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"{WS}*({}){WS}+-{WS}+({}){WS}*", cv(), cv())));
static FIND: LazyLock<Regex> = LazyLock::new(|| re(format!(r"({OPS}){WS}*({})", cv())));
static VALID: LazyLock<Regex> = LazyLock::new(|| {
    re(format!(
        r"^({WS}*({OPS}){WS}*({}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({}){WS}*)*$",
        cv(),
        cv()
    ))
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

impl Op {
    fn from_token(t: &str) -> Op {
        match t {
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            _ => Op::TildeOrEqual,
        }
    }
}

#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    text: String,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed range. `Display` prints the normalised form upstream prints.
#[derive(Debug, Clone)]
pub struct Range {
    groups: Vec<Vec<Constraint>>,
    /// Per group: does any constraint carry a prerelease?
    group_allows_pre: Vec<bool>,
}

/// A range that does not parse. The message follows upstream's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub String);

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RangeError {}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Upstream replaces `A - B` with `>= A, <= B ` textually (first occurrence of
/// the matched text), which we reproduce exactly.
fn rewrite_hyphen_ranges(input: &str) -> String {
    let mut out = input.to_string();
    for caps in HYPHEN.captures_iter(input) {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let lo = caps.get(1).map_or("", |m| m.as_str());
        let hi = caps.get(11).map_or("", |m| m.as_str());
        let replacement = format!(">= {lo}, <= {hi} ");
        out = out.replacen(whole, &replacement, 1);
    }
    out
}

fn parse_constraint(s: &str) -> Result<Constraint, RangeError> {
    let caps = SINGLE
        .captures(s)
        .ok_or_else(|| RangeError(format!("improper constraint: {s:?}")))?;
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let (op, text, major, minor, patch, pre) = (g(1), g(2), g(3), g(4), g(5), g(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let mut ver = text.to_string();
    if is_x(major) || major.is_empty() {
        ver = format!("0.0.0{pre}");
        dirty = true;
    } else if minor.is_empty() || is_x(&minor[1..]) {
        ver = format!("{major}.0.0{pre}");
        dirty = true;
        minor_dirty = true;
    } else if patch.is_empty() || is_x(&patch[1..]) {
        ver = format!("{major}{minor}.0{pre}");
        dirty = true;
        patch_dirty = true;
    }
    let con = Version::parse_loose(&ver).map_err(|e| {
        RangeError(format!(
            "constraint parser error: {s:?} is not a version ({e})"
        ))
    })?;
    Ok(Constraint {
        op: Op::from_token(op),
        text: format!("{op}{text}"),
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Range {
    /// Parse a Masterminds v3 constraint (`>=1.2 <2`, `^1.x`, `~1.2 || 3.0`).
    pub fn parse(input: &str) -> Result<Range, RangeError> {
        let rewritten = rewrite_hyphen_ranges(input);
        let mut groups = Vec::new();
        for part in rewritten.split("||") {
            if !VALID.is_match(part) {
                return Err(RangeError(format!(
                    "improper constraint: {:?}",
                    part.trim()
                )));
            }
            let mut group = Vec::new();
            for m in FIND.find_iter(part) {
                group.push(parse_constraint(m.as_str())?);
            }
            if group.is_empty() {
                return Err(RangeError(format!(
                    "improper constraint: {:?}",
                    part.trim()
                )));
            }
            groups.push(group);
        }
        let group_allows_pre = groups
            .iter()
            .map(|g| g.iter().any(|c| c.con.is_prerelease()))
            .collect();
        Ok(Range {
            groups,
            group_allows_pre,
        })
    }

    /// Does `v` satisfy the constraint (with Masterminds' prerelease rule)?
    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.group_allows_pre)
            .any(|(group, &pre_ok)| group.iter().all(|c| c.check(v, pre_ok)))
    }

    /// Number of OR groups and AND constraints in the first group (tests).
    pub fn shape(&self) -> (usize, usize) {
        (self.groups.len(), self.groups.first().map_or(0, Vec::len))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|c| c.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        f.write_str(&groups.join(" || "))
    }
}

impl Constraint {
    fn check(&self, v: &Version, pre_ok: bool) -> bool {
        if v.is_prerelease() && !pre_ok {
            return false;
        }
        let c = &self.con;
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.precedence(c).is_eq()
                }
            }
            Op::NotEqual => self.not_equal(v),
            Op::Greater => {
                if !self.dirty {
                    return v.precedence(c).is_gt();
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v.precedence(c).is_gt()
            }
            Op::Less => v.precedence(c).is_lt(),
            Op::GreaterEqual => v.precedence(c).is_ge(),
            Op::LessEqual => {
                if !self.dirty {
                    return v.precedence(c).is_le();
                }
                if v.major > c.major {
                    return false;
                }
                !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if c.patch != v.patch && !self.patch_dirty {
                return true;
            }
            if self.patch_dirty {
                if v.is_prerelease() || c.is_prerelease() {
                    return compare_prerelease(v.pre.as_str(), c.pre.as_str()).is_ne();
                }
                return false;
            }
        }
        !v.precedence(c).is_eq()
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.precedence(c).is_lt() {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.precedence(c).is_lt() {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: &str, v: &str) -> bool {
        Range::parse(r)
            .unwrap()
            .matches(&Version::parse_loose(v).unwrap())
    }

    #[test]
    fn hyphen_and_or() {
        assert!(ok("1.0.0 - 2.0.0 || >3", "4.1.0"));
        assert!(!ok(">3", "3.9.0"), "Masterminds: >3 needs major 4");
        assert!(!ok("1.0.0 - 2.0.0 || >3", "2.5.0"));
        assert_eq!(
            Range::parse("3 - 4 || => 3.0, < 4").unwrap().to_string(),
            ">=3 <=4 || =>3.0 <4"
        );
    }

    #[test]
    fn malformed_ranges_are_errors_not_panics() {
        for bad in [
            ">=1.0.0 <",
            "~>",
            "",
            "1x",
            "x1",
            "*-*",
            "||",
            "a",
            ">= bar",
        ] {
            assert!(Range::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
