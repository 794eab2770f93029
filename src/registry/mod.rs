//! Observing registries: list every tag of every image, resolve digests,
//! authenticate the way each registry wants.
//!
//! This stage knows nothing about policies or files: it turns image names
//! into tag lists ([`crate::snapshot::Snapshot`]), which the pure planner
//! then consumes exactly as it consumes a snapshot file.

pub mod challenge;
pub mod client;
pub mod credentials;
pub mod reference;
pub mod scan;

pub use client::{Client, Options, RegistryError};
pub use credentials::{Credential, Credentials, RegistryConfig, Secret};
pub use reference::ImageRef;
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
