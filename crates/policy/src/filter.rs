//! `spec.filterTags`: an unanchored Go regular expression plus an optional
//! `extract` template expanded the way Go's `Regexp.ExpandString` does.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::CaptureLocations;

use super::goregex::{GoRegex, PatternError};

/// A compiled `filterTags` block.
#[derive(Debug, Clone)]
pub struct TagFilter {
    pattern: GoRegex,
    /// `None` when `extract` is empty: the tag itself is the key.
    extract: Option<Vec<Piece>>,
}

/// One piece of a parsed `extract` template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(GroupRef),
}

/// A group a Go expansion template refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// `$3` / `${3}`.
    Number(usize),
    /// `$name` / `${name}`: the first group of that name that matched.
    Name(String),
}

/// A Go `Regexp.Expand` template (`extract`, `tag_rewrite.to`), parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandTemplate(Vec<Piece>);

impl ExpandTemplate {
    /// Parse a Go `ExpandString` template (`$name`, `${1}`, `$$`).
    pub fn parse(template: &str) -> ExpandTemplate {
        ExpandTemplate(parse_template(template))
    }

    /// The groups the template names, in order.
    pub fn references(&self) -> impl Iterator<Item = &GroupRef> {
        self.0.iter().filter_map(|p| match p {
            Piece::Group(g) => Some(g),
            Piece::Text(_) => None,
        })
    }

    /// Expand with `group` giving each reference's text (`None`: empty).
    pub fn expand<'s>(&self, group: impl Fn(&GroupRef) -> Option<&'s str>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(g) => out.push_str(group(g).unwrap_or("")),
            }
        }
        out
    }
}

impl GoRegex {
    /// The index of the group `r` names in a match, as Go's `Expand`
    /// resolves it (`participated(i)`: did group `i` take part).
    pub fn group_index(&self, r: &GroupRef, participated: impl Fn(usize) -> bool) -> Option<usize> {
        match r {
            GroupRef::Number(n) => Some(*n),
            GroupRef::Name(name) => self.named_group(name, participated),
        }
    }
}

impl TagFilter {
    /// Compile `pattern` with Go's syntax and parse `extract` once, so
    /// each tag costs one match and a few slice copies.
    pub fn new(pattern: &str, extract: &str) -> Result<TagFilter, PatternError> {
        let pattern = GoRegex::new(pattern)?;
        let extract = (!extract.is_empty()).then(|| parse_template(extract));
        Ok(TagFilter { pattern, extract })
    }

    /// Reusable capture slots for [`TagFilter::key_with`].
    pub fn locations(&self) -> CaptureLocations {
        self.pattern.regex().capture_locations()
    }

    /// The key for `tag`, or `None` when the pattern does not match.
    pub fn key(&self, tag: &str) -> Option<String> {
        self.key_with(tag, &mut self.locations())
            .map(Cow::into_owned)
    }

    /// [`TagFilter::key`] without allocating when the key is a slice of the tag.
    pub fn key_with<'t>(&self, tag: &'t str, locs: &mut CaptureLocations) -> Option<Cow<'t, str>> {
        let Some(pieces) = &self.extract else {
            return self.pattern.is_match(tag).then_some(Cow::Borrowed(tag));
        };
        self.pattern.regex().captures_read(locs, tag)?;
        let group = |r: &GroupRef| -> Option<&'t str> {
            let i = self.pattern.group_index(r, |i| locs.get(i).is_some())?;
            locs.get(i).map(|(s, e)| &tag[s..e])
        };
        if let [only] = pieces.as_slice() {
            return Some(match only {
                Piece::Text(t) => Cow::Owned(t.clone()),
                Piece::Group(r) => Cow::Borrowed(group(r).unwrap_or("")),
            });
        }
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(r) => out.push_str(group(r).unwrap_or("")),
            }
        }
        Some(Cow::Owned(out))
    }
}

/// Go's `extract`: a name is a run of letters (category L), decimal digits
/// (Nd) and `_`.
static GO_NAME_CHAR: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{Nd}_]$").expect("static pattern"));

fn is_name_char(c: char) -> bool {
    let mut buf = [0u8; 4];
    GO_NAME_CHAR.is_match(c.encode_utf8(&mut buf))
}

/// Parse a template as Go's `expand`: `$$` is `$`; `$name` takes the
/// longest run of name characters; `${name}` is explicit; a malformed
/// reference leaves the `$` as text. An all-digit name without a leading
/// zero and below 1e8 is a group number.
fn parse_template(template: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        text.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            text.push('$');
            rest = r;
            continue;
        }
        let Some((name, after)) = parse_reference(rest) else {
            text.push('$');
            continue;
        };
        rest = after;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Group(match group_number(name) {
            Some(n) => GroupRef::Number(n),
            None => GroupRef::Name(name.to_string()),
        }));
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// Split a leading `name` or `{name}` off `s` (the `$` already removed).
fn parse_reference(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !is_name_char(c))
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
        assert_eq!(ex(r"(\d+)", "v", "7").unwrap(), "v");
    }

    #[test]
    fn go_names_and_duplicates() {
        // Go allows a name that starts with a digit, and repeated names:
        // `$n` takes the first group of that name that matched.
        assert_eq!(ex(r"(?P<1a>x)", "${1a}", "x").unwrap(), "x");
        assert_eq!(ex(r"(?P<v>a)|(?P<v>b)", "$v", "b").unwrap(), "b");
        assert_eq!(ex(r"(?P<v>a)|(?P<v>b)", "$v", "a").unwrap(), "a");
        // An all-digit name with a leading zero is a name, not a number.
        assert_eq!(ex(r"(?P<01>x)(y)", "$01", "xy").unwrap(), "x");
        // Name characters are Go's: letters and decimal digits, so `²`
        // (a number, not a decimal digit) ends the name.
        assert_eq!(ex(r"(?P<a>x)", "$a²", "x").unwrap(), "x²");
        assert_eq!(ex(r"(?P<a>x)", "$aé", "x").unwrap(), "");
    }
}
