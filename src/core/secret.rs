//! A credential in memory: a string that never prints.
//!
//! Tokens, passwords and `Authorization` values live in [`Secret`], whose
//! `Debug` and `Display` print `<redacted>`, so no log line, error or
//! reply can carry one by accident; [`Secret::expose`] is the one way to
//! the text, for building a header.

use std::fmt;

/// A string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for building an Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
