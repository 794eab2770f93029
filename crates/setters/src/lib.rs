//! Setter markers: find them, compute new scalar text, and rewrite only those
//! bytes.
//!
//! Flux re-serialises whole files; hoist splices new scalar text into the
//! original bytes, so comments, blank lines, a leading `---`, CRLF line ends,
//! indentation and key order all survive. Every edited file is parsed again
//! and compared event-by-event with the original before it may be written:
//! if anything other than the intended scalars changed, the edit is refused.
//!
//! This crate is markers and YAML bytes alone: text in, scalar locations and
//! verified rewritten text out. It is not a planner (it never decides a
//! value), reads no files, and depends on nothing of hoist but
//! `hoist-diag`'s message quoting.

#![deny(missing_docs)]

mod locate;
mod marker;
mod shape;
pub mod yaml;

use std::ops::Range;
use std::sync::LazyLock;

use granit_parser::Parser;
use regex::Regex;

pub use locate::{FileScan, MarkerProblem, ObjectId, Setter, Style, scan};
pub use marker::{Field, MarkerRef, NEEDLE, parse_comment, parse_ref};

use crate::yaml::{double_quote, scalar_text, scan_error};

/// One scalar replacement inside a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The bytes of the scalar in the original text.
    pub span: Range<usize>,
    /// The scalar's current value.
    pub old: String,
    /// Its new value (unquoted; quoting follows the old style).
    pub new: String,
    /// The text written in place of `span` (quoted as needed).
    pub text: String,
}

/// Plain scalars that YAML 1.1 (or 1.2) readers would not take as a string.
static NON_STRING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:",
        r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        r"|~|null|Null|NULL|<<|=",
        r"|[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",
        r"|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+",
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?",
        r")$"
    ))
    .expect("static regex")
});

/// Characters a plain scalar value may carry without any quoting concern.
fn plain_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:@+".contains(&b))
        && !s.starts_with([':', '-', '@'])
        && !s.ends_with(':')
}

/// Does `s` need double quotes if written where a plain scalar stood?
pub fn needs_quotes(s: &str) -> bool {
    !plain_safe(s) || NON_STRING.is_match(s)
}

/// Render `new` in the style of the scalar it replaces.
pub fn render(style: Style, new: &str) -> String {
    match style {
        Style::Plain if !needs_quotes(new) => new.to_string(),
        Style::Plain | Style::Double => double_quote(new),
        Style::Single => format!("'{}'", new.replace('\'', "''")),
    }
}

/// Splice replacements (sorted, non-overlapping) into `text`.
pub fn splice(text: &str, reps: &[Replacement]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for r in reps {
        out.push_str(&text[at..r.span.start]);
        out.push_str(&r.text);
        at = r.span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Why an edited file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to write: {0}")]
pub struct VerifyError(pub String);

/// Apply `reps` (sorted, non-overlapping) to `text` and verify the result,
/// one YAML document at a time: only documents holding an edit are parsed
/// again, since the others are byte-identical.
pub fn apply_verified(text: &str, reps: &[Replacement]) -> Result<String, VerifyError> {
    for c in crate::yaml::chunks(text) {
        let local: Vec<Replacement> = reps
            .iter()
            .filter(|r| c.range.contains(&r.span.start))
            .map(|r| Replacement {
                span: r.span.start - c.range.start..r.span.end - c.range.start,
                ..r.clone()
            })
            .collect();
        if local.is_empty() {
            continue;
        }
        let original = &text[c.range.clone()];
        let edited = splice(original, &local);
        verify(original, &edited, &local).map_err(|VerifyError(m)| {
            VerifyError(format!(
                "{m} (in the document starting at line {})",
                c.first_line
            ))
        })?;
    }
    Ok(splice(text, reps))
}

/// Check that `edited` parses to the same events as `original`, except the
/// scalars in `reps`, which must read back as exactly their new values.
///
/// The original's events come from a small memo ([`shape`]): verifying
/// many edits of one text parses that text once.
pub fn verify(original: &str, edited: &str, reps: &[Replacement]) -> Result<(), VerifyError> {
    let shape = shape::of(original);
    let mut a = shape.events.iter();
    let mut b = Parser::new_from_str(edited);
    let mut pending = reps.iter().peekable();
    loop {
        let ea = a.next();
        let eb = b.next();
        let (seen, ev_b) = match (ea, eb) {
            (None, None) if shape.error.is_none() => break,
            (Some(x), Some(Ok((y, _)))) => (x, y),
            (_, Some(Err(e))) => {
                return Err(VerifyError(format!(
                    "the edited file no longer parses ({})",
                    scan_error(&e)
                )));
            }
            (None, _) if shape.error.is_some() => {
                let why = shape.error.as_deref().unwrap_or_default();
                return Err(VerifyError(format!("the original does not parse ({why})")));
            }
            _ => {
                return Err(VerifyError(
                    "the edited file has a different structure".into(),
                ));
            }
        };
        let start = seen.start;
        if let Some(r) = pending.peek()
            && start == r.span.start
        {
            let tb = scalar_text(&ev_b);
            if seen.scalar != Some(shape::text_fingerprint(&r.old))
                || tb.map(|t| t.as_ref()) != Some(r.new.as_str())
            {
                return Err(VerifyError(format!(
                    "the scalar at byte {start} would read back as {tb:?}, not {:?}",
                    r.new
                )));
            }
            pending.next();
            continue;
        }
        if seen.event != shape::fingerprint(&ev_b) {
            return Err(VerifyError(format!(
                "the edit would change more than the marked values (at byte {start}: it became {ev_b:?})"
            )));
        }
    }
    if pending.peek().is_some() {
        return Err(VerifyError(
            "an edited scalar was not found when re-reading the file".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules() {
        assert_eq!(render(Style::Plain, "v1.2.3"), "v1.2.3");
        assert_eq!(render(Style::Plain, "1.0"), "\"1.0\"");
        assert_eq!(render(Style::Plain, "123"), "\"123\"");
        assert_eq!(render(Style::Plain, "yes"), "\"yes\"");
        assert_eq!(render(Style::Plain, "0x1F"), "\"0x1F\"");
        assert_eq!(render(Style::Plain, "1e3"), "\"1e3\"");
        assert_eq!(render(Style::Plain, "2024-01-02"), "\"2024-01-02\"");
        assert_eq!(render(Style::Plain, ""), "\"\"");
        assert_eq!(render(Style::Plain, "1.2.3"), "1.2.3");
        assert_eq!(render(Style::Single, "1.0"), "'1.0'");
        assert_eq!(render(Style::Double, "a"), "\"a\"");
        assert_eq!(
            render(Style::Plain, "ghcr.io/a/b:1.0@sha256:ab"),
            "ghcr.io/a/b:1.0@sha256:ab"
        );
    }

    #[test]
    fn verify_remembers_an_original_but_checks_every_edit() {
        let orig = "a: 1 # x\nb: [c, d]\n";
        let at = orig.find('1').unwrap();
        let rep = |text: &str, new: &str| Replacement {
            span: at..at + 1,
            old: "1".into(),
            new: new.into(),
            text: text.into(),
        };
        // The same original twice: the second check uses the memo and
        // still refuses an edit that changes the structure.
        verify(orig, &orig.replacen('1', "2", 1), &[rep("2", "2")]).unwrap();
        let bad = orig.replacen('1', "[2]", 1);
        assert!(verify(orig, &bad, &[rep("[2]", "2")]).is_err());
        let sneaky = orig.replacen("[c, d]", "[c, e]", 1);
        let err = verify(orig, &sneaky, &[]).unwrap_err();
        assert!(err.0.contains("more than the marked values"), "{err}");
        let broken = "a: [1\n";
        let err = verify(broken, broken, &[]).unwrap_err();
        assert!(err.0.contains("parse"), "{err}");
    }

    #[test]
    fn verify_catches_structure_changes() {
        let orig = "a: x # c\nb: y\n";
        let s = scan("a: x # {\"$imagepolicy\": \"n:p\"}\n").unwrap();
        assert_eq!(s.setters.len(), 1);
        let rep = Replacement {
            span: 3..4,
            old: "x".into(),
            new: "z".into(),
            text: "z".into(),
        };
        let ok = splice(orig, std::slice::from_ref(&rep));
        assert_eq!(ok, "a: z # c\nb: y\n");
        verify(orig, &ok, std::slice::from_ref(&rep)).unwrap();
        let bad = Replacement {
            text: "z\nc: w".into(),
            ..rep
        };
        let edited = splice(orig, std::slice::from_ref(&bad));
        assert!(verify(orig, &edited, &[bad]).is_err());
    }
}
