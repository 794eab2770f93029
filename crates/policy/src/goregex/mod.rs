//! Go's regular expressions, run on the `regex` crate.
//!
//! Flux compiles `filterTags.pattern` and `exclusionList` with Go's
//! `regexp.Compile`. The `regex` crate's syntax is close to Go's but not the
//! same: Go reads `\101` as an octal escape, `\Q…\E` as a quote, `a{,5}` as
//! literal text, and refuses `a**`, `(?x)` and `x{1001}`; the crate does the
//! opposite on each. Feeding a Flux pattern to the crate as it is would make
//! hoist pick a tag Flux would not.
//!
//! So a pattern is parsed here with Go's grammar (`regexp/syntax`, Perl
//! flags: its parse rules, flag groups, repeat limits, Perl, POSIX and
//! Unicode classes, its error messages) into a small tree, and that tree is
//! written out as a `regex` pattern in which nothing is left to the crate's
//! dialect: every literal is an escape, every class is spelt out, every
//! flag is resolved at parse time (`(?i:…)` only where Go folds case), and
//! ASCII-only Go classes (`\d`, `\w`, `\s`, `\b`, `[[:alpha:]]`) become
//! explicit ASCII sets. Capture groups are numbered by their opening
//! parenthesis in both dialects, so group numbers carry over; names are
//! kept here (Go allows names the crate refuses, such as `1a` or a repeated
//! name) and the crate sees only unnamed groups.
//!
//! The match semantics of the two engines are the same (leftmost-first,
//! Perl-style submatches), which is why translating the syntax suffices.

mod names;
mod parse;

use std::fmt;

pub use parse::GoError;

/// The largest compiled program the `regex` crate may build for one
/// pattern. Go's own limit is an instruction count (about 3.3 million);
/// patterns Go accepts but that would need more than this are refused with
/// a clear message rather than allowed to use unbounded memory.
const SIZE_LIMIT: usize = 64 << 20;

/// A pattern compiled with Go's syntax.
#[derive(Debug, Clone)]
pub struct GoRegex {
    re: regex::Regex,
    /// Group names by group index (index 0 is the whole match); empty for
    /// unnamed groups, as Go's `SubexpNames`.
    names: Vec<String>,
    source: String,
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Go refuses the pattern; the message is Go's own.
    Go(GoError),
    /// Go accepts it, but it is too large for hoist's engine.
    TooLarge,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Go(e) => e.fmt(f),
            PatternError::TooLarge => write!(
                f,
                "pattern is valid Go syntax but compiles to more than {} MiB; simplify it",
                SIZE_LIMIT >> 20
            ),
        }
    }
}

impl std::error::Error for PatternError {}

impl From<GoError> for PatternError {
    fn from(e: GoError) -> Self {
        PatternError::Go(e)
    }
}

/// The `regex` crate pattern equivalent to Go pattern `pattern`, with the
/// group names. Exposed for tests and `--explain`.
pub fn translate(pattern: &str) -> Result<(String, Vec<String>), GoError> {
    parse::translate(pattern)
}

/// Compiled patterns by source. A fleet has few distinct patterns but
/// plans them often (the ladder plans every rung, per image, on every new
/// tip), and compiling is what costs. Bounded: at most `CACHE_ENTRIES`
/// patterns, each of which compiled within `CACHE_PROGRAM`; the rest are
/// compiled every time.
static CACHE: std::sync::Mutex<Option<std::collections::HashMap<String, GoRegex>>> =
    std::sync::Mutex::new(None);
const CACHE_ENTRIES: usize = 64;
const CACHE_PROGRAM: usize = 256 << 10;

impl GoRegex {
    /// Compile a Go pattern; errors are Go's, word for word.
    pub fn new(pattern: &str) -> Result<GoRegex, PatternError> {
        let lock = || CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = lock().as_ref().and_then(|c| c.get(pattern)) {
            return Ok(hit.clone());
        }
        let small = GoRegex::compile(pattern, CACHE_PROGRAM);
        let re = match small {
            Err(PatternError::TooLarge) => return GoRegex::compile(pattern, SIZE_LIMIT),
            other => other?,
        };
        let mut cache = lock();
        let cache = cache.get_or_insert_with(Default::default);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        Ok(re)
    }

    fn compile(pattern: &str, size_limit: usize) -> Result<GoRegex, PatternError> {
        let (rust, names) = parse::translate(pattern)?;
        let re = regex::RegexBuilder::new(&rust)
            .size_limit(size_limit)
            .dfa_size_limit(4 << 20)
            // Go allows a tree 1000 deep; the translation adds at most a
            // group per level.
            .nest_limit(2100)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => PatternError::TooLarge,
                // The translation only emits syntax the crate accepts; a
                // syntax error here is a bug, reported rather than hidden.
                other => PatternError::Go(GoError::internal(&format!(
                    "{pattern}: the translation was refused: {}",
                    other.to_string().lines().last().unwrap_or_default()
                ))),
            })?;
        if re.captures_len() != names.len() {
            return Err(PatternError::Go(GoError::internal(&format!(
                "{pattern}: group count differs after translation to {rust:?}"
            ))));
        }
        Ok(GoRegex {
            re,
            names,
            source: pattern.to_string(),
        })
    }

    /// The Go pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Does the pattern match anywhere in `s` (Go's `MatchString`)?
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The compiled form, for callers that need capture positions.
    pub fn regex(&self) -> &regex::Regex {
        &self.re
    }

    /// Group names by index, as Go's `SubexpNames`.
    pub fn subexp_names(&self) -> &[String] {
        &self.names
    }

    /// The index of the group Go's `Expand` uses for `$name`: the first
    /// group of that name that took part in the match (Go allows several
    /// groups with one name).
    pub fn named_group(&self, name: &str, participated: impl Fn(usize) -> bool) -> Option<usize> {
        self.names
            .iter()
            .enumerate()
            .find(|(i, n)| *n == name && participated(*i))
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests;
