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
