//! Diagnostics: every problem hoist reports names where it is.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A located problem: `file:line: field: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Diag {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl Diag {
    pub fn error(message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Error,
            file: None,
            line: None,
            field: None,
            message: message.into(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(message)
        }
    }

    pub fn at(mut self, file: impl Into<String>, line: Option<usize>) -> Diag {
        self.file = Some(file.into());
        self.line = line;
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Diag {
        self.field = Some(field.into());
        self
    }

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
