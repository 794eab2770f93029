//! Observing registries: list every tag of every image, resolve digests,
//! authenticate the way each registry wants.
//!
//! This stage knows nothing about policies, Flux objects or files: it turns
//! image names into tag lists and digests. [`crate::observe::scan`] maps a
//! fleet's objects onto it and its results into the tag lists the pure
//! planner reads.

pub mod challenge;
pub mod client;
pub mod cosign;
pub mod credentials;
pub mod pool;
pub use crate::core::reference;
pub mod scan;

pub use client::{Client, Options};
pub use credentials::{Credential, Credentials, RegistryConfig};
pub mod azure;

/// What kind of JSON problem a reply or file had, without quoting it
/// (serde_json's messages can echo content, which may be secret).
pub fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected JSON structure",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}
