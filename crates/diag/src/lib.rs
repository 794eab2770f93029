//! Diagnostics: every problem hoist reports names where it is.
//!
//! A [`Diag`] is a severity, a message, and as much of the place as is
//! known (file, line, field); it prints as `file:line: field: message`.
//! This crate is only that value type and [`quoted`]: it knows nothing of
//! hoist's stages, and every other crate may use it.

#![deny(missing_docs)]

use std::fmt;

/// How bad a [`Diag`] is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The run cannot do what was asked (exit code 1 or 2).
    Error,
    /// Worth saying; the run goes on.
    Warning,
}

/// A located problem: `file:line: field: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Diag {
    /// Error or warning.
    pub severity: Severity,
    /// The file (repository-relative where one is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The 1-based line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The field or key, as a dotted path (`spec.policy.semver.range`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, and where possible what to do.
    pub message: String,
}

impl Diag {
    /// An error with no place yet.
    pub fn error(message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Error,
            file: None,
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// A warning with no place yet.
    pub fn warning(message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(message)
        }
    }

    /// The same, placed at `file` (and `line`).
    pub fn at(mut self, file: impl Into<String>, line: Option<usize>) -> Diag {
        self.file = Some(file.into());
        self.line = line;
        self
    }

    /// The same, naming `field`.
    pub fn field(mut self, field: impl Into<String>) -> Diag {
        self.field = Some(field.into());
        self
    }

    /// Is it an error (not a warning)?
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// `s` quoted for a message, cut to its first 64 characters when longer
/// (a registry or a file may hand hoist a tag of any size; a message must
/// stay readable and small).
pub fn quoted(s: &str) -> String {
    const KEEP: usize = 64;
    match s.char_indices().nth(KEEP) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_values_are_cut() {
        assert_eq!(super::quoted("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(50_000_000);
        let q = super::quoted(&long);
        assert!(q.len() < 100, "{q}");
        assert!(q.ends_with("… (50000000 bytes)"));
    }
}
