//! Find every marker in a file and the exact scalar it annotates.
//!
//! We walk the parser's event stream once, collecting value scalars (with
//! byte spans), comments, and each document's identity (apiVersion, kind,
//! metadata). Block scalars (`|`, `>`) are never targets, and comment-like
//! text inside them is never a comment, because the parser already knows
//! which bytes are scalar content.

use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use super::marker::{MarkerRef, parse_comment};
use crate::yaml::{YamlError, scan_error};

/// How a scalar is written in the file; edits keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A plain scalar.
    Plain,
    /// A single-quoted scalar.
    Single,
    /// A double-quoted scalar.
    Double,
}

/// The Kubernetes identity of a YAML document.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct ObjectId {
    #[serde(rename = "apiVersion")]
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, empty when unset.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

/// A marker attached to the scalar it annotates.
#[derive(Debug, Clone)]
pub struct Setter {
    /// The policy (and field) the marker names.
    pub marker: MarkerRef,
    /// 1-based line of the scalar.
    pub line: usize,
    /// 1-based line of the marker comment.
    pub marker_line: usize,
    /// Byte span of the scalar as written (quotes included).
    pub span: Range<usize>,
    /// The scalar's current value (unquoted).
    pub value: String,
    /// How the scalar is quoted, kept when it is rewritten.
    pub style: Style,
    /// The Kubernetes object (document) the scalar belongs to.
    pub object: ObjectId,
}

/// A marker that cannot be used, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerProblem {
    /// The 1-based line of the marker.
    pub line: usize,
    /// Why Flux would not apply it, and the fix.
    pub message: String,
}

/// Everything found in one file.
#[derive(Debug, Clone, Default)]
pub struct FileScan {
    /// The markers Flux applies, in file order.
    pub setters: Vec<Setter>,
    /// The markers Flux would ignore or refuse.
    pub problems: Vec<MarkerProblem>,
}

struct Scalar {
    span: Range<usize>,
    start_line: usize,
    end_line: usize,
    value: String,
    style: Option<Style>,
    doc: usize,
    /// Inside a flow collection (`{…}`, `[…]`): a comment after it is the
    /// collection's, not this scalar's.
    in_flow: bool,
    /// A mapping value whose key starts on the same line: a comment on its
    /// own line above is the key's.
    key_on_line: bool,
}

struct Comment {
    line: usize,
    start: usize,
    body: String,
    own_line: bool,
}

enum Frame {
    Map {
        expect_key: bool,
        key: Option<String>,
        /// Line of the current key.
        key_line: usize,
        flow: bool,
    },
    Seq {
        flow: bool,
    },
}

impl Frame {
    fn flow(&self) -> bool {
        match self {
            Frame::Map { flow, .. } | Frame::Seq { flow } => *flow,
        }
    }
}

/// Scan `text` for setters. Only documents that contain a marker are
/// parsed (see [`crate::yaml::chunks`]); a YAML syntax error in one of those
/// fails the whole file.
pub fn scan(text: &str) -> Result<FileScan, YamlError> {
    let mut out = FileScan::default();
    for c in crate::yaml::chunks(text) {
        let part = &text[c.range.clone()];
        if memchr::memmem::find(part.as_bytes(), super::marker::NEEDLE).is_none() {
            continue;
        }
        let mut s = scan_stream(part).map_err(|mut e| {
            e.line += c.first_line - 1;
            e
        })?;
        let shift = c.first_line - 1;
        for st in &mut s.setters {
            st.span = st.span.start + c.range.start..st.span.end + c.range.start;
            st.line += shift;
            st.marker_line += shift;
        }
        for p in &mut s.problems {
            p.line += shift;
        }
        out.setters.extend(s.setters);
        out.problems.extend(s.problems);
    }
    Ok(out)
}

/// Scan one self-contained YAML stream.
fn scan_stream(text: &str) -> Result<FileScan, YamlError> {
    let mut scalars: Vec<Scalar> = Vec::new();
    let mut comments: Vec<Comment> = Vec::new();
    let mut objects: Vec<ObjectId> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut doc = 0usize;
    let mut current = ObjectId::default();
    let bytes = text.as_bytes();
    // Only scalars on a marker's line or the line after it can be targets;
    // keeping just those bounds memory on huge documents.
    let near_marker = marker_lines(bytes);

    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| scan_error(&e))?;
        let range = span.byte_range().unwrap_or(0..0);
        match event {
            Event::DocumentEnd => {
                objects.push(std::mem::take(&mut current));
                doc += 1;
                stack.clear();
                continue;
            }
            Event::Comment(body, _) => {
                let line_start = bytes[..range.start]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let own_line = bytes[line_start..range.start]
                    .iter()
                    .all(|b| *b == b' ' || *b == b'\t');
                comments.push(Comment {
                    line: span.start.line(),
                    start: range.start,
                    body: body.into_owned(),
                    own_line,
                });
                continue;
            }
            _ => {}
        }
        // Is this node a mapping key? Work it out before touching the stack.
        let is_key = matches!(
            stack.last(),
            Some(Frame::Map {
                expect_key: true,
                ..
            })
        );
        let is_node_start = matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(..)
        );
        if is_node_start && let Some(Frame::Map { expect_key, .. }) = stack.last_mut() {
            *expect_key = !*expect_key;
        }
        if is_key && let Some(Frame::Map { key_line, .. }) = stack.last_mut() {
            *key_line = span.start.line();
        }
        match event {
            Event::Scalar(value, style, ..) => {
                if is_key {
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = Some(value.into_owned());
                    }
                    continue;
                }
                record_identity(&stack, &value, &mut current);
                let (start_line, end_line) = (span.start.line(), span.end.line());
                if !near_marker.contains(&start_line) && !near_marker.contains(&end_line) {
                    continue;
                }
                let style = match style {
                    ScalarStyle::Plain => Some(Style::Plain),
                    ScalarStyle::SingleQuoted => Some(Style::Single),
                    ScalarStyle::DoubleQuoted => Some(Style::Double),
                    _ => None,
                };
                let key_on_line = matches!(
                    stack.last(),
                    Some(Frame::Map { key_line, flow: false, .. }) if *key_line == start_line
                );
                scalars.push(Scalar {
                    span: range,
                    start_line,
                    end_line,
                    value: value.into_owned(),
                    style,
                    doc,
                    in_flow: stack.iter().any(Frame::flow),
                    key_on_line,
                });
            }
            Event::MappingStart(st, ..) => stack.push(Frame::Map {
                expect_key: true,
                key: None,
                key_line: 0,
                flow: st == StructureStyle::Flow,
            }),
            Event::SequenceStart(st, ..) => stack.push(Frame::Seq {
                flow: st == StructureStyle::Flow,
            }),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    if objects.len() <= doc {
        objects.push(current);
    }
    Ok(attach(scalars, comments, objects))
}

/// Lines (1-based) holding `$imagepolicy`, and the lines after them.
fn marker_lines(bytes: &[u8]) -> std::collections::HashSet<usize> {
    let mut out = std::collections::HashSet::new();
    let mut line = 1;
    let mut counted = 0;
    for pos in memchr::memmem::find_iter(bytes, b"$imagepolicy") {
        line += memchr::memchr_iter(b'\n', &bytes[counted..pos]).count();
        counted = pos;
        out.insert(line);
        out.insert(line + 1);
    }
    out
}

/// Track `apiVersion`, `kind`, `metadata.name`, `metadata.namespace`.
fn record_identity(stack: &[Frame], value: &str, id: &mut ObjectId) {
    let key_at = |i: usize| match stack.get(i) {
        Some(Frame::Map { key, .. }) => key.as_deref(),
        _ => None,
    };
    match stack.len() {
        1 => match key_at(0) {
            Some("apiVersion") => id.api_version = value.to_string(),
            Some("kind") => id.kind = value.to_string(),
            _ => {}
        },
        2 if key_at(0) == Some("metadata") => match key_at(1) {
            Some("name") => id.name = value.to_string(),
            Some("namespace") => id.namespace = value.to_string(),
            _ => {}
        },
        _ => {}
    }
}

/// Pair markers with scalars the way go-yaml (v3, under kyaml) attaches
/// comments, since Flux's setter reads only the value scalar's own line
/// or head comment: a same-line comment annotates the last value scalar
/// that ends on its line before it, unless that scalar is inside a flow
/// collection (the comment is then the collection's); an own-line comment
/// annotates the value scalar starting on the next line, unless that line
/// has a comment of its own, or the scalar is a mapping value whose key
/// starts that line (the comment is then the key's), or it is in a flow
/// collection. Markers Flux ignores are reported, never applied.
fn attach(scalars: Vec<Scalar>, comments: Vec<Comment>, objects: Vec<ObjectId>) -> FileScan {
    let mut out = FileScan::default();
    let right_comment_lines: std::collections::HashSet<usize> = comments
        .iter()
        .filter(|c| !c.own_line)
        .map(|c| c.line)
        .collect();
    for c in &comments {
        let marker = match parse_comment(&c.body) {
            Ok(None) => continue,
            Ok(Some(m)) => m,
            Err(message) => {
                out.problems.push(MarkerProblem {
                    line: c.line,
                    message,
                });
                continue;
            }
        };
        let target = if c.own_line {
            let next = c.line + 1;
            if right_comment_lines.contains(&next) {
                None
            } else {
                scalars.iter().rev().find(|s| s.start_line == next)
            }
        } else {
            scalars
                .iter()
                .rev()
                .find(|s| s.end_line == c.line && s.span.end <= c.start)
        };
        let Some(s) = target else {
            out.problems.push(MarkerProblem {
                line: c.line,
                message: format!("marker {marker} does not annotate a scalar value"),
            });
            continue;
        };
        let ignored = if s.in_flow {
            Some("it follows a flow collection ({…} or […]), so YAML gives it to the collection")
        } else if c.own_line && s.key_on_line {
            Some("on its own line above `key: value` it is the key's comment")
        } else {
            None
        };
        if let Some(why) = ignored {
            out.problems.push(MarkerProblem {
                line: c.line,
                message: format!(
                    "Flux ignores marker {marker} here ({why}); put it at the end of the value's line, after the value{}",
                    if s.in_flow {
                        " written in block style (`key: value` on its own line)"
                    } else {
                        ""
                    }
                ),
            });
            continue;
        }
        let Some(style) = s.style else {
            out.problems.push(MarkerProblem {
                line: c.line,
                message: format!(
                    "marker {marker} annotates a block scalar (| or >), which setters cannot write"
                ),
            });
            continue;
        };
        out.setters.push(Setter {
            marker,
            line: s.start_line,
            marker_line: c.line,
            span: s.span.clone(),
            value: s.value.clone(),
            style,
            object: objects.get(s.doc).cloned().unwrap_or_default(),
        });
    }
    out.setters.sort_by_key(|s| s.span.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_line_and_line_above() {
        let y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: n\nspec:\n  a: x:1 # {\"$imagepolicy\": \"ns:a\"}\n  b:\n    # {\"$imagepolicy\": \"ns:b:tag\"}\n    '2'\n  c: |\n    # {\"$imagepolicy\": \"ns:c\"}\n";
        let s = scan(y).unwrap();
        assert_eq!(s.setters.len(), 2, "{:?}", s.problems);
        assert_eq!(&y[s.setters[0].span.clone()], "x:1");
        assert_eq!(&y[s.setters[1].span.clone()], "'2'");
        assert_eq!(s.setters[1].style, Style::Single);
        assert_eq!(s.setters[0].object.name, "p");
        assert_eq!(s.setters[0].object.namespace, "n");
        assert!(s.problems.is_empty());
    }

    #[test]
    fn markers_flux_gives_to_a_key_or_a_collection_are_reported_not_applied() {
        for y in [
            "# {\"$imagepolicy\": \"ns:a\"}\nimage: x:1\n",
            "image: {repository: x, tag: 1.0} # {\"$imagepolicy\": \"ns:a:tag\"}\n",
            "containers: [x:1] # {\"$imagepolicy\": \"ns:a\"}\n",
        ] {
            let s = scan(y).unwrap();
            assert!(s.setters.is_empty(), "{y}");
            assert!(
                s.problems[0].message.starts_with("Flux ignores marker"),
                "{:?}",
                s.problems
            );
            assert_eq!(s.problems[0].line, 1);
        }
    }

    #[test]
    fn marker_on_a_key_only_line_is_reported() {
        let y = "image: # {\"$imagepolicy\": \"ns:a\"}\n  x\n";
        let s = scan(y).unwrap();
        assert!(s.setters.is_empty());
        assert_eq!(s.problems[0].line, 1);
    }
}
