//! A subset of Go's `text/template`, enough for Flux commit message
//! templates (`spec.git.commit.messageTemplate`).
//!
//! Flux renders these templates with Go's engine plus the Sprig function
//! library, so fleets carry templates such as
//! `{{ range $f, $_ := .Changed.FileChanges -}}- {{ $f }}{{ end }}`. hoist
//! must render the same bytes. Supported: text, `{{- -}}` trimming,
//! comments, field chains on `.`/`$var`/`(pipeline)`, pipelines, variables
//! (`:=`, `=`), `if`/`else if`/`else`, `range` (lists, maps in sorted key
//! order, integers) with `break`/`continue`, `with`, Go's builtins
//! (`and or not len index print printf println eq ne lt le gt ge`) and the
//! Sprig functions listed in [`FUNCTIONS`]. Anything else (`define`,
//! `template`, other Sprig functions) is rejected when the template is
//! parsed, with its line, so a bad template never produces a half-rendered
//! commit message.
//!
//! This crate is the template engine alone: a template and values in,
//! bytes out, bounded in output, steps and memory. It is not Flux's commit
//! message data (hoist builds that) and knows nothing else of hoist.

#![deny(missing_docs)]

/// Values a template sees. Maps keep their keys sorted, as Go's `range`
/// visits them in key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A slice.
    List(Vec<Value>),
    /// A map, ranged over in key order as Go does.
    Map(Vec<(Value, Value)>),
    /// Named fields, printed like Go's `%v` of a struct: `{a b}`.
    Struct(Vec<(String, Value)>),
    /// A struct with a `String()` method: fields for `.Field`, and how it
    /// prints (Go calls `String()` when printing).
    Object(Vec<(String, Value)>, String),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A map from unsorted pairs (sorted here, like Go's `fmtsort`).
    pub fn map(mut pairs: Vec<(Value, Value)>) -> Value {
        pairs.sort_by(|a, b| cmp_values(&a.0, &b.0));
        Value::Map(pairs)
    }

    fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(_) | Value::Object(..) => true,
        }
    }

    fn field(&self, name: &str) -> Result<Value, String> {
        match self {
            Value::Struct(fields) | Value::Object(fields, _) => fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("can't evaluate field {name}")),
            Value::Map(pairs) => Ok(pairs
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == name))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Nil)),
            Value::Nil => Err(format!("nil pointer evaluating .{name}")),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            )),
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Struct(_) | Value::Object(..) => "struct",
        }
    }
}

/// Go's `%v` formatting.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn join(f: &mut std::fmt::Formatter<'_>, items: &[Value]) -> std::fmt::Result {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        }
        match self {
            Value::Nil => f.write_str("<no value>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                join(f, l)?;
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(_, display) => f.write_str(display),
            Value::Struct(fields) => {
                f.write_str("{")?;
                let vals: Vec<Value> = fields.iter().map(|(_, v)| v.clone()).collect();
                join(f, &vals)?;
                f.write_str("}")
            }
        }
    }
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Struct(x) | Value::Object(x, _), Value::Struct(y) | Value::Object(y, _)) => {
            for ((_, u), (_, v)) in x.iter().zip(y) {
                let o = cmp_values(u, v);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// A template error, with the template line it concerns (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template line {line}: {message}")]
pub struct Error {
    /// The template line at fault (1-based).
    pub line: usize,
    /// What is wrong, in Go's words where Go has them.
    pub message: String,
}

/// Functions hoist implements: Go's builtins and the Sprig functions seen
/// in commit message templates.
pub const FUNCTIONS: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    // Sprig
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "join",
    "split",
    "splitList",
    "default",
    "empty",
    "coalesce",
    "ternary",
    "quote",
    "squote",
    "indent",
    "nindent",
    "list",
    "first",
    "last",
    "uniq",
    "sortAlpha",
    "toString",
    "trunc",
    "nospace",
    "repeat",
    "cat",
    "keys",
    "base",
];

mod exec;
mod funcs;
mod lex;
mod parse;

use parse::Node;

/// The most a message, or any one string a template builds, may hold.
pub const MAX_OUTPUT: usize = 1 << 20;
/// The most actions and loop iterations one render may run.
pub const MAX_STEPS: u64 = 1_000_000;
/// The most bytes of values one render may copy or produce in total.
pub const MAX_WORK: usize = 64 << 20;
/// The deepest a list may nest inside lists.
const MAX_VALUE_DEPTH: usize = 32;

/// Deepest nesting of blocks or parentheses accepted (a template is
/// repository input; recursion must stay bounded).
const MAX_NESTING: usize = 64;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Parse a template, refusing any feature outside the supported subset.
    pub fn parse(src: &str) -> Result<Template, Error> {
        Ok(Template {
            nodes: parse::parse(src)?,
        })
    }

    /// Render with `data` as `.` and `$`, within [`Limits`]: a template
    /// comes from the repository, so neither its output nor its work may
    /// grow without bound.
    pub fn render(&self, data: &Value) -> Result<String, Error> {
        exec::render(&self.nodes, data)
    }
}

#[cfg(test)]
mod tests;
