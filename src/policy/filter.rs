//! `spec.filterTags`: an unanchored regular expression plus an optional
//! `extract` template expanded the way Go's `Regexp.ExpandString` does.

use std::borrow::Cow;

use regex::{CaptureLocations, Captures, Regex};

/// A compiled `filterTags` block.
#[derive(Debug, Clone)]
pub struct TagFilter {
    pattern: Regex,
    extract: String,
    /// When `extract` is exactly one group reference (`$ts`, `${ts}`, `$1`),
    /// the key is a slice of the tag and needs no allocation.
    single_group: Option<Option<usize>>,
}

impl TagFilter {
    /// Compile the pattern. Go writes named groups `(?P<n>..)` or `(?<n>..)`;
    /// the `regex` crate accepts both.
    pub fn new(pattern: &str, extract: &str) -> Result<TagFilter, regex::Error> {
        let pattern = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 22)
            .build()?;
        let single_group = extract
            .strip_prefix('$')
            .and_then(|rest| parse_reference(rest))
            .filter(|(_, after)| after.is_empty())
            .map(|(name, _)| match group_number(name) {
                Some(n) => (n < pattern.captures_len()).then_some(n),
                None => pattern.capture_names().position(|n| n == Some(name)),
            });
        Ok(TagFilter {
            pattern,
            extract: extract.to_string(),
            single_group,
        })
    }

    /// Reusable capture slots for [`TagFilter::key_with`].
    pub fn locations(&self) -> CaptureLocations {
        self.pattern.capture_locations()
    }

    /// The key for `tag`, or `None` when the pattern does not match.
    pub fn key(&self, tag: &str) -> Option<String> {
        self.key_with(tag, &mut self.locations())
            .map(Cow::into_owned)
    }

    /// [`TagFilter::key`] without allocating when the key is a slice of the tag.
    pub fn key_with<'t>(&self, tag: &'t str, locs: &mut CaptureLocations) -> Option<Cow<'t, str>> {
        if self.extract.is_empty() {
            return self.pattern.is_match(tag).then_some(Cow::Borrowed(tag));
        }
        if let Some(group) = self.single_group {
            self.pattern.captures_read(locs, tag)?;
            let slice = group
                .and_then(|g| locs.get(g))
                .map_or("", |(s, e)| &tag[s..e]);
            return Some(Cow::Borrowed(slice));
        }
        let caps = self.pattern.captures(tag)?;
        Some(Cow::Owned(expand_go(&self.pattern, &caps, &self.extract)))
    }
}

/// Go `ExpandString`: `$name` takes the longest run of letters, digits and
/// `_`; `${name}` is explicit; `$$` is `$`; a malformed reference is kept as
/// a literal `$`; unknown or unmatched groups expand to nothing.
pub fn expand_go(re: &Regex, caps: &Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        match parse_reference(rest) {
            None => out.push('$'),
            Some((name, after)) => {
                rest = after;
                let m = match group_number(name) {
                    Some(n) => caps.get(n),
                    None => re
                        .capture_names()
                        .position(|n| n == Some(name))
                        .and_then(|i| caps.get(i)),
                };
                if let Some(m) = m {
                    out.push_str(m.as_str());
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Split a leading `name` or `{name}` off `s` (the `$` already removed).
fn parse_reference(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if brace {
        let after = body[end..].strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, &body[end..]))
}

/// Go treats an all-digit name (no leading zero, below 1e8) as a group number.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|&n| n < 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(p: &str, t: &str, tag: &str) -> Option<String> {
        TagFilter::new(p, t).unwrap().key(tag)
    }

    #[test]
    fn go_expand_rules() {
        assert_eq!(
            ex(r"(?P<a>\d+)-(?<b>\w+)", "$a.$b", "12-x").unwrap(),
            "12.x"
        );
        assert_eq!(ex(r"(?P<a>\d+)", "${a}x", "7").unwrap(), "7x");
        assert_eq!(ex(r"(?P<a>\d+)", "$ax", "7").unwrap(), "");
        assert_eq!(ex(r"(\d+)", "$$1=$1", "7").unwrap(), "$1=7");
        assert_eq!(ex(r"(\d+)", "${1", "7").unwrap(), "${1");
        assert_eq!(ex(r"(\d+)", "$-", "7").unwrap(), "$-");
        assert_eq!(ex(r"^main-", "", "xmain-1"), None);
        assert_eq!(ex(r"main-", "", "xmain-1").unwrap(), "xmain-1");
    }
}
