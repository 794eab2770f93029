//! Tag selection, exactly as Flux's image-reflector-controller does it.
//!
//! The pipeline is: registry tags → drop `exclusionList` matches →
//! `filterTags` (pattern + extract gives each surviving tag a *key*) → the
//! policy picks one key → the result is the ORIGINAL tag behind that key.
//! [`Policy::evaluate`] can also record why every tag was or was not chosen,
//! which is what `hoist policy eval --explain` prints.
//!
//! This crate is the policy engine alone: strings in (tags, the policy's
//! fields), a tag and its explanation out. It is not a reader of Flux
//! objects, a registry client or a planner, and it depends on nothing of
//! hoist but `hoist-diag`'s message quoting.

#![deny(missing_docs)]

mod filter;
mod gofloat;
pub mod goregex;
mod range;
mod version;

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

pub use filter::{ExpandTemplate, GroupRef, TagFilter};
pub use gofloat::parse_go_float;
use goregex::GoRegex;
pub use range::{Range, RangeError};
pub use version::{ParseMode, Version, VersionError, compare_prerelease};

/// Flux's default `exclusionList`: cosign signature tags.
pub const DEFAULT_EXCLUSION: &str = r"^.*\.sig$";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Sort order of an alphabetical or numerical policy.
pub enum Order {
    /// Ascending: the last tag wins.
    Asc,
    /// Descending: the first tag wins.
    Desc,
}

impl Order {
    /// Flux accepts `asc`/`desc` in any case; empty means `asc`.
    pub fn parse(s: &str) -> Result<Order, String> {
        match s.to_ascii_uppercase().as_str() {
            "" | "ASC" => Ok(Order::Asc),
            "DESC" => Ok(Order::Desc),
            other => Err(format!(
                "invalid order argument provided: '{other}', must be one of: ASC, DESC"
            )),
        }
    }
}

/// Which rule picks the winning key.
#[derive(Debug, Clone)]
pub enum Choice {
    /// `semver.range`: the highest version inside the range.
    SemVer(Range),
    /// `alphabetical.order`: by byte order of the keys.
    Alphabetical(Order),
    /// `numerical.order`: by the keys read as Go floats.
    Numerical(Order),
}

/// A policy problem found while building it: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The field at fault (`spec.policy.semver.range`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The raw fields of an ImagePolicy (plus its repository's exclusion list).
#[derive(Debug, Clone, Default)]
pub struct PolicySpec {
    /// `spec.policy.semver.range`.
    pub semver_range: Option<String>,
    /// `spec.policy.alphabetical.order` (`asc` or `desc`).
    pub alphabetical_order: Option<String>,
    /// `spec.policy.numerical.order` (`asc` or `desc`).
    pub numerical_order: Option<String>,
    /// `spec.filterTags.pattern`, in Go's regexp dialect.
    pub filter_pattern: Option<String>,
    /// `spec.filterTags.extract`, with Go's `$name` expansion.
    pub filter_extract: Option<String>,
    /// `None`: Flux's default list. `Some(list)`: replaces the default.
    pub exclusion_list: Option<Vec<String>>,
}

impl PolicySpec {
    /// Policy kinds set besides the one Flux uses (semver, else
    /// alphabetical, else numerical): they are ignored, silently in Flux.
    pub fn ignored_kinds(&self) -> Vec<&'static str> {
        let set = [
            ("semver", self.semver_range.is_some()),
            ("alphabetical", self.alphabetical_order.is_some()),
            ("numerical", self.numerical_order.is_some()),
        ];
        set.iter()
            .filter(|(_, on)| *on)
            .skip(1)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// A ready-to-run selection pipeline.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Which kind of policy, with its parameters.
    pub choice: Choice,
    filter: Option<TagFilter>,
    exclusions: Vec<GoRegex>,
}

/// What happened to one tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Matched this `exclusionList` pattern.
    Excluded(String),
    /// Did not match `filterTags.pattern`.
    FilteredOut,
    /// A later tag produced the same key and replaced this one.
    Shadowed {
        /// Its key.
        key: String,
        /// The tag that replaced it.
        by: String,
    },
    /// Not a version (semver policy), with the reason.
    NotAVersion {
        /// Its key.
        key: String,
        /// Why it is not a version.
        reason: String,
    },
    /// A version outside the range (semver policy).
    OutsideRange {
        /// Its key.
        key: String,
    },
    /// Not a number (numerical policy): fails the whole policy, as in Flux.
    NotANumber {
        /// Its key.
        key: String,
    },
    /// Eligible but not chosen.
    Candidate {
        /// Its key.
        key: String,
    },
    /// The winner.
    Selected {
        /// Its key.
        key: String,
    },
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fate::Excluded(p) => write!(f, "excluded (matches exclusionList pattern {p:?})"),
            Fate::FilteredOut => write!(f, "filtered out (does not match filterTags.pattern)"),
            Fate::Shadowed { key, by } => {
                write!(
                    f,
                    "shadowed (key {key:?} also produced by later tag {by:?}, which wins)"
                )
            }
            Fate::NotAVersion { key, reason } => {
                write!(f, "not a version (key {key:?}: {reason})")
            }
            Fate::OutsideRange { key } => write!(f, "outside range (key {key:?})"),
            Fate::NotANumber { key } => {
                write!(f, "not a number (key {key:?}); this fails the whole policy")
            }
            Fate::Candidate { key } => write!(f, "candidate (key {key:?})"),
            Fate::Selected { key } => write!(f, "selected (key {key:?})"),
        }
    }
}

impl Fate {
    /// The key this tag was reduced to, when it got that far.
    pub fn key(&self) -> Option<&str> {
        match self {
            Fate::Excluded(_) | Fate::FilteredOut => None,
            Fate::Shadowed { key, .. }
            | Fate::NotAVersion { key, .. }
            | Fate::OutsideRange { key }
            | Fate::NotANumber { key }
            | Fate::Candidate { key }
            | Fate::Selected { key } => Some(key),
        }
    }

    /// Like `Display`, but leaves out the key when it is the tag itself.
    pub fn describe(&self, tag: &str) -> String {
        let full = self.to_string();
        match self.key() {
            Some(k) if k == tag => full
                .replace(&format!(" (key {k:?})"), "")
                .replace(&format!("key {k:?}: "), "")
                .replace(&format!("(key {k:?}); "), "("),
            _ => full,
        }
    }
}

/// Hints for the classic puzzles, given the tags and their fates.
pub fn hints<S: AsRef<str>>(tags: &[S], fates: &[Fate]) -> Vec<String> {
    let mut out = Vec::new();
    let word_then_number = |id: &str| {
        let digits = id.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '-');
        !digits.is_empty() && digits.len() < id.len() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let eligible = fates
        .iter()
        .filter(|f| matches!(f, Fate::Candidate { .. } | Fate::Selected { .. }));
    let has_text_numbers = eligible
        .filter_map(|f| f.key())
        .filter_map(|k| k.split_once('-').map(|(_, pre)| pre))
        .any(|pre| pre.split('.').any(word_then_number));
    if has_text_numbers {
        out.push(
            "prerelease identifiers such as \"rc9\" compare as text, so rc9 sorts after rc10; \
             tags written \"rc.9\" and \"rc.10\" compare as numbers"
                .to_string(),
        );
    }
    let empty_keys = tags
        .iter()
        .zip(fates)
        .filter(|(_, f)| f.key() == Some(""))
        .count();
    if empty_keys > 0 {
        out.push(format!(
            "filterTags.extract produced an empty key for {empty_keys} tag(s): check that every $name in extract \
             is a named group in the pattern, e.g. (?P<ts>[0-9]+) for $ts, and that the group always matches"
        ));
    }
    out
}

/// Why no tag was selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// The tag list itself is empty.
    NoTags,
    /// Exclusions and `filterTags` removed every tag.
    NothingLeft {
        /// How many tags there were.
        total: usize,
    },
    /// Semver: no tag is a version inside the range.
    NoMatch {
        /// The range.
        range: String,
    },
    /// Numerical: one key is not a Go float.
    NotANumber {
        /// The tag.
        tag: String,
        /// Its key.
        key: String,
    },
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::NoTags => write!(f, "no tags to choose from: the tag list is empty"),
            SelectError::NothingLeft { total } => write!(
                f,
                "no tags to choose from: all {total} tags were excluded or filtered out"
            ),
            SelectError::NoMatch { range } => {
                write!(f, "no tag is a version in range {range:?}")
            }
            SelectError::NotANumber { tag, key } => write!(
                f,
                "failed to parse invalid numeric value {key:?} (from tag {tag:?})"
            ),
        }
    }
}

impl std::error::Error for SelectError {}

/// The selected tag and the key it was chosen by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The original tag, as the registry lists it.
    pub tag: String,
    /// The key the policy compared (the tag, or what `extract` made of it).
    pub key: String,
}

fn err(field: &str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field: field.to_string(),
        message: message.into(),
    }
}

impl Policy {
    /// Build a policy from its spec, checking every field as Flux does.
    pub fn from_spec(spec: &PolicySpec) -> Result<Policy, PolicyError> {
        let set = [
            spec.semver_range.is_some(),
            spec.alphabetical_order.is_some(),
            spec.numerical_order.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set == 0 {
            return Err(err(
                "spec.policy",
                "no policy kind set: give exactly one of semver, alphabetical, numerical",
            ));
        }
        let choice = if let Some(r) = &spec.semver_range {
            Choice::SemVer(
                Range::parse(r).map_err(|e| err("spec.policy.semver.range", e.to_string()))?,
            )
        } else if let Some(o) = &spec.alphabetical_order {
            Choice::Alphabetical(
                Order::parse(o).map_err(|e| err("spec.policy.alphabetical.order", e))?,
            )
        } else {
            let o = spec.numerical_order.as_deref().unwrap_or_default();
            Choice::Numerical(Order::parse(o).map_err(|e| err("spec.policy.numerical.order", e))?)
        };
        let filter = match &spec.filter_pattern {
            Some(p)
                if !p.is_empty()
                    || spec
                        .filter_extract
                        .as_deref()
                        .is_some_and(|e| !e.is_empty()) =>
            {
                Some(
                    TagFilter::new(p, spec.filter_extract.as_deref().unwrap_or("")).map_err(
                        |e| {
                            err(
                                "spec.filterTags.pattern",
                                format!(
                                    "invalid regular expression pattern {}: {e}",
                                    hoist_diag::quoted(p)
                                ),
                            )
                        },
                    )?,
                )
            }
            _ => None,
        };
        let list = match &spec.exclusion_list {
            None => vec![DEFAULT_EXCLUSION.to_string()],
            Some(l) => l.clone(),
        };
        if list.len() > 25 {
            return Err(err(
                "spec.exclusionList",
                format!("at most 25 patterns are allowed, found {}", list.len()),
            ));
        }
        let mut exclusions = Vec::with_capacity(list.len());
        for (i, p) in list.iter().enumerate() {
            let re = GoRegex::new(p).map_err(|e| {
                err(
                    &format!("spec.exclusionList[{i}]"),
                    format!("invalid regular expression {}: {e}", hoist_diag::quoted(p)),
                )
            })?;
            exclusions.push(re);
        }
        Ok(Policy {
            choice,
            filter,
            exclusions,
        })
    }

    /// The exclusion pattern `tag` matches, if any. Flux's default pattern
    /// `^.*\.sig$` is, for a tag without line breaks (the OCI grammar has
    /// none), exactly "ends with .sig": test that directly.
    fn excluded_by(&self, tag: &str) -> Option<&str> {
        self.exclusions
            .iter()
            .find(|re| {
                if re.as_str() == DEFAULT_EXCLUSION && !tag.contains('\n') {
                    tag.ends_with(".sig")
                } else {
                    re.is_match(tag)
                }
            })
            .map(GoRegex::as_str)
    }

    /// Select a tag.
    pub fn select<S: AsRef<str>>(&self, tags: &[S]) -> Result<Selection, SelectError> {
        self.evaluate(tags, None)
    }

    /// Select a tag and record each tag's fate (same order as `tags`).
    pub fn explain<S: AsRef<str>>(
        &self,
        tags: &[S],
    ) -> (Vec<Fate>, Result<Selection, SelectError>) {
        let mut fates = Vec::with_capacity(tags.len());
        let r = self.evaluate(tags, Some(&mut fates));
        (fates, r)
    }

    fn evaluate<S: AsRef<str>>(
        &self,
        tags: &[S],
        mut fates: Option<&mut Vec<Fate>>,
    ) -> Result<Selection, SelectError> {
        if tags.is_empty() {
            return Err(SelectError::NoTags);
        }
        if let Some(f) = fates.as_deref_mut() {
            f.clear();
            f.resize(tags.len(), Fate::FilteredOut);
        }
        // (key, index of the original tag) in order of the key's first appearance.
        let mut cands: Vec<(Cow<'_, str>, usize)> = Vec::with_capacity(tags.len());
        let capacity = if self.filter.is_some() { tags.len() } else { 0 };
        // FxHash: keys come from one registry's tag list, so hash flooding
        // is not a concern worth SipHash's cost.
        let mut seen: HashMap<Cow<'_, str>, usize, rustc_hash::FxBuildHasher> =
            HashMap::with_capacity_and_hasher(capacity, rustc_hash::FxBuildHasher);
        let mut locs = self.filter.as_ref().map(TagFilter::locations);
        for (i, tag) in tags.iter().enumerate() {
            let tag = tag.as_ref();
            if let Some(p) = self.excluded_by(tag) {
                if let Some(f) = fates.as_deref_mut() {
                    f[i] = Fate::Excluded(p.to_string());
                }
                continue;
            }
            match (&self.filter, locs.as_mut()) {
                (Some(filter), Some(locs)) => {
                    let Some(key) = filter.key_with(tag, locs) else {
                        continue;
                    };
                    match seen.entry(key) {
                        Entry::Occupied(e) => {
                            let slot = *e.get();
                            let prev = cands[slot].1;
                            if let Some(f) = fates.as_deref_mut() {
                                f[prev] = Fate::Shadowed {
                                    key: e.key().to_string(),
                                    by: tag.to_string(),
                                };
                            }
                            cands[slot].1 = i;
                        }
                        Entry::Vacant(e) => {
                            cands.push((e.key().clone(), i));
                            e.insert(cands.len() - 1);
                        }
                    }
                }
                _ => cands.push((Cow::Borrowed(tag), i)),
            }
        }
        if cands.is_empty() {
            return Err(SelectError::NothingLeft { total: tags.len() });
        }
        // Fates are built only when an explanation was asked for.
        let mut mark = |i: usize, fate: &dyn Fn() -> Fate| {
            if let Some(f) = fates.as_deref_mut() {
                f[i] = fate();
            }
        };
        let winner = match &self.choice {
            Choice::SemVer(range) => {
                let mut best: Option<(Version, usize)> = None;
                for (c, (key, i)) in cands.iter().enumerate() {
                    match Version::parse_tag(key) {
                        Err(e) => mark(*i, &|| Fate::NotAVersion {
                            key: key.to_string(),
                            reason: e.to_string(),
                        }),
                        Ok(v) if !range.matches(&v) => mark(*i, &|| Fate::OutsideRange {
                            key: key.to_string(),
                        }),
                        Ok(v) => {
                            mark(*i, &|| Fate::Candidate {
                                key: key.to_string(),
                            });
                            if best.as_ref().is_none_or(|(b, _)| v.precedence(b).is_gt()) {
                                best = Some((v, c));
                            }
                        }
                    }
                }
                best.map(|(_, c)| c).ok_or_else(|| SelectError::NoMatch {
                    range: range.to_string(),
                })?
            }
            Choice::Alphabetical(order) => {
                // Flux sorts the keys (byte-wise) and takes the last for
                // `asc`, the first for `desc`; keys are unique here, so
                // that is the maximum or the minimum. An empty key (from
                // `extract`) is the smallest of all.
                for (key, i) in &cands {
                    mark(*i, &|| Fate::Candidate {
                        key: key.to_string(),
                    });
                }
                let keyed = cands.iter().enumerate().map(|(c, (k, _))| (k.as_ref(), c));
                let best = match order {
                    Order::Asc => keyed.max(),
                    Order::Desc => keyed.min(),
                };
                best.map_or(0, |(_, c)| c)
            }
            Choice::Numerical(order) => {
                let mut latest: Option<(f64, usize)> = None;
                let mut bad: Option<SelectError> = None;
                for (c, (key, i)) in cands.iter().enumerate() {
                    let Some(v) = parse_go_float(key) else {
                        mark(*i, &|| Fate::NotANumber {
                            key: key.to_string(),
                        });
                        if bad.is_none() {
                            bad = Some(SelectError::NotANumber {
                                tag: tags[*i].as_ref().to_string(),
                                key: key.to_string(),
                            });
                        }
                        continue;
                    };
                    mark(*i, &|| Fate::Candidate {
                        key: key.to_string(),
                    });
                    let skip = match (latest, order) {
                        (None, _) => false,
                        (Some((pv, _)), Order::Asc) => v < pv,
                        (Some((pv, _)), Order::Desc) => v > pv,
                    };
                    if !skip {
                        latest = Some((v, c));
                    }
                }
                if let Some(e) = bad {
                    return Err(e);
                }
                latest.map_or(0, |(_, c)| c)
            }
        };
        let (key, i) = &cands[winner];
        mark(*i, &|| Fate::Selected {
            key: key.to_string(),
        });
        Ok(Selection {
            tag: tags[*i].as_ref().to_string(),
            key: key.to_string(),
        })
    }
}
