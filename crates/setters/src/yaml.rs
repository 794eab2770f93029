//! A small, line-aware YAML document model on top of `granit-parser`.
//!
//! hoist needs two things from YAML that serde-style loaders hide: the line
//! of every node (so an error can say `apps/api.yaml:14: spec.image: …`) and
//! the exact byte span of scalars (so setters can rewrite only those bytes).
//! This module provides the first; `setters` uses the raw events for the
//! second. Aliases are expanded with a budget so a "billion laughs" document
//! is an error, not an out-of-memory.

use std::borrow::Cow;
use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, Span};

/// Upper bound on nodes produced by alias expansion in one document.
const ALIAS_BUDGET: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
/// A node's value.
pub enum Value {
    /// A scalar with its text; `plain` is false for quoted and block scalars.
    Scalar {
        /// The scalar's value.
        text: String,
        /// Whether it was written plain (unquoted, not a block scalar).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
/// A YAML node with its place.
pub struct Node {
    /// What it holds.
    pub value: Value,
    /// 1-based line where the node starts.
    pub line: usize,
}

/// A YAML syntax error at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// The 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for YamlError {}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Scalar text, unless the scalar is a plain null (`~`, `null`, empty).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, plain } if !(*plain && is_null(text)) => Some(text),
            _ => None,
        }
    }

    /// Is it `null`, `~` or empty?
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null(text))
    }

    /// `scalar`, `sequence` or `mapping`, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn line_of(span: &Span) -> usize {
    span.start.line()
}

pub(crate) fn scan_error(e: &granit_parser::ScanError) -> YamlError {
    YamlError {
        line: e.marker().line(),
        message: e.info().to_string(),
    }
}

enum Frame {
    Seq(Vec<Node>, usize, Option<usize>),
    Map(Vec<(Node, Node)>, Option<Node>, usize, Option<usize>),
}

/// Parse every document in `text` and hand each to `visit` as soon as it is
/// complete, so memory is bounded by the largest document, not the file.
pub fn for_each_document(text: &str, mut visit: impl FnMut(usize, Node)) -> Result<(), YamlError> {
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut expanded = 0usize;
    let mut doc_index = 0usize;
    let mut root: Option<Node> = None;
    let options = granit_parser::options! { emit_comments: false };
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span) = item.map_err(|e| scan_error(&e))?;
        let line = line_of(&span);
        let (node, anchor) = match event {
            Event::DocumentStart(..) => {
                anchors.clear();
                expanded = 0;
                continue;
            }
            Event::DocumentEnd => {
                if let Some(doc) = root.take() {
                    visit(doc_index, doc);
                }
                doc_index += 1;
                continue;
            }
            Event::Scalar(text, style, anchor, _) => (
                Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    line,
                },
                anchor,
            ),
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), line, nonzero(anchor)));
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, line, nonzero(anchor)));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, l, a)) => (
                    Node {
                        value: Value::Seq(items),
                        line: l,
                    },
                    a.unwrap_or(0),
                ),
                Some(Frame::Map(entries, _, l, a)) => (
                    Node {
                        value: Value::Map(entries),
                        line: l,
                    },
                    a.unwrap_or(0),
                ),
                None => continue,
            },
            Event::Alias(id) => {
                let Some((_, target)) = anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(YamlError {
                        line,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                expanded += count_nodes(target);
                if expanded > ALIAS_BUDGET {
                    return Err(YamlError {
                        line,
                        message: format!("aliases expand to more than {ALIAS_BUDGET} nodes"),
                    });
                }
                (target.clone(), 0)
            }
            _ => continue,
        };
        if anchor != 0 {
            anchors.push((anchor, node.clone()));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(())
}

fn nonzero(a: usize) -> Option<usize> {
    (a != 0).then_some(a)
}

fn count_nodes(n: &Node) -> usize {
    match &n.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

/// Parse all documents into memory (small files: kustomizations, tests).
pub fn load_all(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    for_each_document(text, |_, d| docs.push(d))?;
    Ok(docs)
}

/// Quote `s` as a YAML double-quoted scalar.
pub fn double_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The scalar text of an event, if it is one (used by the verifier).
pub(crate) fn scalar_text<'a>(e: &'a Event<'_>) -> Option<&'a Cow<'a, str>> {
    match e {
        Event::Scalar(t, ..) => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_lookup() {
        let docs = load_all("---\na: 1\nb:\n  c: \"x\"\n---\nd: ~\n").unwrap();
        assert_eq!(docs.len(), 2);
        let c = docs[0].get("b").unwrap().get("c").unwrap();
        assert_eq!((c.as_str(), c.line), (Some("x"), 4));
        assert!(docs[1].get("d").unwrap().is_null());
    }

    #[test]
    fn billion_laughs_is_an_error() {
        let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = if i == 1 {
                "a".to_string()
            } else {
                format!("a{}", i - 1)
            };
            y.push_str(&format!(
                "a{i}: &a{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            ));
        }
        assert!(load_all(&y).unwrap_err().message.contains("aliases"));
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let e = load_all("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
    }
}

/// One YAML document's bytes within a file, found without parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The bytes of the document in the text.
    pub range: std::ops::Range<usize>,
    /// 1-based line of the chunk's first byte.
    pub first_line: usize,
}

/// Split a stream into documents at `---` lines.
///
/// YAML forbids a line that starts with `---` (followed by a space, tab or
/// line end) inside any content, quoted or block, so such a line always
/// starts a new document. Directives (`%YAML`, `%TAG`) precede the marker of
/// the document they belong to; when a file has any, we return the whole
/// file as one chunk rather than reason about them.
pub fn chunks(text: &str) -> Vec<Chunk> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut line = 1;
    let mut pos = 0;
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |i| pos + i + 1);
        let l = &b[pos..end];
        if l.first() == Some(&b'%') {
            return vec![Chunk {
                range: 0..b.len(),
                first_line: 1,
            }];
        }
        if l.starts_with(b"---")
            && matches!(l.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
            && pos > start
        {
            out.push(Chunk {
                range: start..pos,
                first_line,
            });
            start = pos;
            first_line = line;
        }
        pos = end;
        line += 1;
    }
    out.push(Chunk {
        range: start..b.len(),
        first_line,
    });
    out
}

/// [`for_each_document`] over only the documents whose bytes contain
/// `needle`, with line numbers relative to the whole file.
pub fn for_each_document_containing(
    text: &str,
    needle: &[u8],
    mut visit: impl FnMut(Node),
) -> Result<(), YamlError> {
    for c in chunks(text) {
        let part = &text[c.range.clone()];
        if memchr::memmem::find(part.as_bytes(), needle).is_none() {
            continue;
        }
        let offset = c.first_line - 1;
        for_each_document(part, |_, mut doc| {
            shift_lines(&mut doc, offset);
            visit(doc)
        })
        .map_err(|mut e| {
            e.line += offset;
            e
        })?;
    }
    Ok(())
}

fn shift_lines(n: &mut Node, by: usize) {
    if by == 0 {
        return;
    }
    n.line += by;
    match &mut n.value {
        Value::Scalar { .. } => {}
        Value::Seq(items) => items.iter_mut().for_each(|i| shift_lines(i, by)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift_lines(k, by);
            shift_lines(v, by);
        }),
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn splits_at_document_markers_only() {
        let t = "a: 1\n---\nb: |\n  --- not a marker\n---   \nc: 3\n";
        let c = chunks(t);
        assert_eq!(c.len(), 3);
        assert_eq!(
            (&t[c[1].range.clone()], c[1].first_line),
            ("---\nb: |\n  --- not a marker\n", 2)
        );
        assert_eq!(c[2].first_line, 5);
        assert_eq!(chunks("%YAML 1.2\n---\na: 1\n---\nb: 2\n").len(), 1);
        assert_eq!(chunks("---\na: 1\n").len(), 1);
        assert_eq!(chunks("----\na: 1\n").len(), 1);
    }

    #[test]
    fn lines_are_file_relative() {
        let t = "a: 1\n---\nkind: X\nname: [1,\n";
        let mut seen = Vec::new();
        let r = for_each_document_containing("a: 1\n---\nkind: X\nv: 1\n", b"kind", |d| {
            seen.push(d.get("v").unwrap().line)
        });
        assert_eq!((r, seen), (Ok(()), vec![4]));
        assert!(
            for_each_document_containing(t, b"kind", |_| {})
                .unwrap_err()
                .line
                >= 4
        );
    }
}
