//! `[server]` of hoist.toml: what `hoist serve` listens on, where its hook
//! secrets come from, how often it scans, and which Flux objects report
//! for which environment.
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:8080"
//! github_webhook_secret_env = "HOIST_GITHUB_WEBHOOK_SECRET"
//! azure_devops_hook_secret_env = "HOIST_AZURE_DEVOPS_HOOK_SECRET"
//! gitlab_webhook_token_env = "HOIST_GITLAB_WEBHOOK_TOKEN"
//! gitlab_signing_token_env = "HOIST_GITLAB_SIGNING_TOKEN"   # whsec_…, optional
//! registry_hook_token_env = "HOIST_REGISTRY_HOOK_TOKEN"
//! flux_hmac_key_env = "HOIST_FLUX_HMAC_KEY"
//! max_body_bytes = 1048576
//! interval = "5m"          # when no ImageRepository names spec.interval
//!
//! [[server.flux]]          # first match wins
//! environment = "staging"
//! cluster = "staging"      # the event's metadata.cluster, or ?cluster= on the hook URL
//! kind = "Kustomization"   # optional filters on involvedObject
//! namespace = "flux-system"
//! name = "apps"
//! ```
//!
//! Secrets are never in the file: only the names of the environment
//! variables holding them.

use std::time::Duration;

use serde::Deserialize;

use crate::core::diag::Diag;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub github_webhook_secret_env: Option<String>,
    pub azure_devops_hook_secret_env: Option<String>,
    pub gitlab_webhook_token_env: Option<String>,
    pub gitlab_signing_token_env: Option<String>,
    pub registry_hook_token_env: Option<String>,
    pub flux_hmac_key_env: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub interval: Option<String>,
    #[serde(default)]
    pub flux: Vec<FluxRoute>,
}

/// Which Flux objects report for which environment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FluxRoute {
    pub environment: String,
    pub cluster: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl FluxRoute {
    /// Does an event about `kind` `namespace/name`, from `cluster`, belong
    /// to this route? Kinds compare without case (`kustomization`).
    pub fn matches(&self, cluster: Option<&str>, kind: &str, namespace: &str, name: &str) -> bool {
        let eq = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| got.is_some_and(|g| g == w))
        };
        eq(&self.cluster, cluster)
            && self
                .kind
                .as_deref()
                .is_none_or(|k| k.eq_ignore_ascii_case(kind))
            && eq(&self.namespace, Some(namespace))
            && eq(&self.name, Some(name))
    }
}

/// The validated `[server]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: Option<String>,
    pub github_webhook_secret_env: Option<String>,
    pub azure_devops_hook_secret_env: Option<String>,
    pub gitlab_webhook_token_env: Option<String>,
    pub gitlab_signing_token_env: Option<String>,
    pub registry_hook_token_env: Option<String>,
    pub flux_hmac_key_env: Option<String>,
    pub max_body_bytes: usize,
    /// Scan interval for images whose ImageRepository names none.
    pub interval: Duration,
    pub flux: Vec<FluxRoute>,
}

pub const DEFAULT_MAX_BODY: usize = 1 << 20;
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: None,
            github_webhook_secret_env: None,
            azure_devops_hook_secret_env: None,
            gitlab_webhook_token_env: None,
            gitlab_signing_token_env: None,
            registry_hook_token_env: None,
            flux_hmac_key_env: None,
            max_body_bytes: DEFAULT_MAX_BODY,
            interval: DEFAULT_INTERVAL,
            flux: Vec::new(),
        }
    }
}

/// Check `[server]`; `line` finds a key's line in the file for messages.
pub fn validate(
    raw: RawServer,
    display: &str,
    line: &dyn Fn(&str) -> Option<usize>,
    known_envs: &[String],
) -> Result<ServerConfig, Vec<Diag>> {
    let mut errors = Vec::new();
    let mut cfg = ServerConfig {
        listen: raw.listen,
        max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        ..ServerConfig::default()
    };
    if cfg.max_body_bytes < 1024 || cfg.max_body_bytes > 64 << 20 {
        errors.push(
            Diag::error(format!(
                "{} is out of range (1024 to 67108864 bytes)",
                cfg.max_body_bytes
            ))
            .at(display, line("max_body_bytes"))
            .field("server.max_body_bytes"),
        );
    }
    if let Some(l) = &cfg.listen
        && l.parse::<std::net::SocketAddr>().is_err()
    {
        errors.push(
            Diag::error(format!(
                "{l:?} is not an address (expected host:port, e.g. 0.0.0.0:8080)"
            ))
            .at(display, line("listen"))
            .field("server.listen"),
        );
    }
    if let Some(i) = &raw.interval {
        match crate::core::time::parse_go_duration(i) {
            Ok(d) if d >= Duration::from_secs(1) => cfg.interval = d,
            Ok(_) => errors.push(
                Diag::error(format!("{i:?} is shorter than one second"))
                    .at(display, line("interval"))
                    .field("server.interval"),
            ),
            Err(e) => errors.push(
                Diag::error(e)
                    .at(display, line("interval"))
                    .field("server.interval"),
            ),
        }
    }
    for (field, value, slot) in [
        (
            "github_webhook_secret_env",
            raw.github_webhook_secret_env,
            &mut cfg.github_webhook_secret_env,
        ),
        (
            "azure_devops_hook_secret_env",
            raw.azure_devops_hook_secret_env,
            &mut cfg.azure_devops_hook_secret_env,
        ),
        (
            "gitlab_webhook_token_env",
            raw.gitlab_webhook_token_env,
            &mut cfg.gitlab_webhook_token_env,
        ),
        (
            "gitlab_signing_token_env",
            raw.gitlab_signing_token_env,
            &mut cfg.gitlab_signing_token_env,
        ),
        (
            "registry_hook_token_env",
            raw.registry_hook_token_env,
            &mut cfg.registry_hook_token_env,
        ),
        (
            "flux_hmac_key_env",
            raw.flux_hmac_key_env,
            &mut cfg.flux_hmac_key_env,
        ),
    ] {
        if let Some(v) = value {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                errors.push(
                    Diag::error(format!(
                        "{v:?} is not an environment variable name (letters, digits, _)"
                    ))
                    .at(display, line(field))
                    .field(format!("server.{field}")),
                );
            }
            *slot = Some(v);
        }
    }
    for (i, f) in raw.flux.iter().enumerate() {
        if !known_envs.contains(&f.environment) {
            errors.push(
                Diag::error(format!(
                    "no [[environment]] named {:?} (known: {})",
                    f.environment,
                    known_envs.join(", ")
                ))
                .at(display, line(&format!("\"{}\"", f.environment)))
                .field(format!("server.flux[{i}].environment")),
            );
        }
    }
    cfg.flux = raw.flux;
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::time::parse_go_duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_go_duration("10m0s").unwrap(),
            Duration::from_secs(600)
        );
        for bad in ["", "5", "m", "-1m", "1d", "1h 30m", "ms5"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_server_tables_name_line_and_field() {
        let toml = "[[environment]]\nname = \"dev\"\npaths = [\"d/**\"]\n\n[server]\nlisten = \"everywhere\"\ngithub_webhook_secret_env = \"not a name\"\nmax_body_bytes = 10\ninterval = \"5 minutes\"\n\n[[server.flux]]\nenvironment = \"staging\"\n";
        let e: Vec<String> = crate::config::parse(toml, "hoist.toml")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        let all = e.join("\n");
        for needle in [
            "hoist.toml:6: server.listen: \"everywhere\" is not an address",
            "hoist.toml:7: server.github_webhook_secret_env: \"not a name\" is not an environment variable name",
            "hoist.toml:8: server.max_body_bytes: 10 is out of range",
            "hoist.toml:9: server.interval: \"5 minutes\" is not a duration",
            "hoist.toml:12: server.flux[0].environment: no [[environment]] named \"staging\" (known: dev)",
        ] {
            assert!(all.contains(needle), "{needle}\n in:\n{all}");
        }
        let unknown = crate::config::parse("[server]\nport = 1\n", "hoist.toml").unwrap_err();
        assert!(
            unknown[0].to_string().contains("unknown field `port`"),
            "{unknown:?}"
        );
    }

    #[test]
    fn routes_match_on_what_they_name() {
        let r = FluxRoute {
            environment: "staging".into(),
            cluster: Some("eu-1".into()),
            kind: Some("Kustomization".into()),
            ..Default::default()
        };
        assert!(r.matches(Some("eu-1"), "kustomization", "flux-system", "apps"));
        assert!(!r.matches(None, "Kustomization", "flux-system", "apps"));
        assert!(!r.matches(Some("eu-1"), "HelmRelease", "flux-system", "apps"));
    }
}
