//! `[[registry]]`: how hoist reaches a registry.

use std::path::PathBuf;

use serde::Deserialize;

/// A hoist.toml `[[registry]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub host: String,
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    /// Plain HTTP (like `spec.insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// Extra PEM trust roots for this registry.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Concurrent requests to this registry (default 8).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// At most this many requests per second to this registry.
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// At most this many requests to this registry per run; the images
    /// not yet scanned then wait for the next run.
    #[serde(default)]
    pub max_requests_per_run: Option<u64>,
    /// `azure`: authenticate with Microsoft Entra ID (like `spec.provider`).
    #[serde(default)]
    pub provider: Option<String>,
    /// Literal secrets are refused; these exist only to say so.
    #[serde(default)]
    pub password: Option<toml::Value>,
    #[serde(default)]
    pub token: Option<toml::Value>,
}
