//! The bottom floor: value types and helpers every stage shares, with no
//! knowledge of any stage. Diagnostics, time, image references, ref names,
//! secrets, tag lists, the tally of HTTP requests, and the one backoff
//! every retry uses.

pub use hoist_diag as diag;
pub mod backoff;
pub mod reference;
pub mod refname;
pub mod requests;
pub mod secret;
pub mod tags;
pub mod time;

/// Lowercase hex of `bytes` (digests, MACs, fingerprints).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
