//! `spec.filterTags`: an unanchored regular expression plus an optional
//! `extract` template expanded the way Go's `Regexp.ExpandString` does.

use regex::{Captures, Regex};

/// A compiled `filterTags` block.
#[derive(Debug, Clone)]
pub struct TagFilter {
    pattern: Regex,
    extract: String,
}

impl TagFilter {
    /// Compile the pattern. Go writes named groups `(?P<n>..)` or `(?<n>..)`;
    /// the `regex` crate accepts both.
    pub fn new(pattern: &str, extract: &str) -> Result<TagFilter, regex::Error> {
        let pattern = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 22)
            .build()?;
        Ok(TagFilter {
            pattern,
            extract: extract.to_string(),
        })
    }

    /// The key for `tag`, or `None` when the pattern does not match.
    pub fn key(&self, tag: &str) -> Option<String> {
        if self.extract.is_empty() {
            return self.pattern.is_match(tag).then(|| tag.to_string());
        }
        let caps = self.pattern.captures(tag)?;
        Some(expand_go(&self.pattern, &caps, &self.extract))
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
