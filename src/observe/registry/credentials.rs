//! Where registry credentials come from, in order:
//!
//! 1. a `[[registry]]` entry in hoist.toml naming environment variables
//!    (`username_env`/`password_env`, or `token_env` for a static bearer
//!    token) — never a literal secret in a file;
//! 2. Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//!    `~/.docker/config.json`): `auths` entries with `auth` (base64
//!    `user:password`) or `username`/`password`;
//! 3. for `ghcr.io`, the `GITHUB_TOKEN` environment variable.
//!
//! Secrets live in [`Secret`], whose `Debug` and `Display` print
//! `<redacted>`, so they cannot leak through logs or error messages.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use serde::Deserialize;

use crate::core::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Credential {
    /// The value of an `Authorization` header.
    pub fn header(&self) -> String {
        match self {
            Credential::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            Credential::Bearer(t) => format!("Bearer {}", t.expose()),
        }
    }
}

pub use crate::config::registry::RegistryConfig;

#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Resolves credentials for registry hosts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    entries: Vec<RegistryConfig>,
    docker: BTreeMap<String, Credential>,
    /// `credHelpers`: host → helper name (`docker-credential-<name>`).
    helpers: BTreeMap<String, String>,
    /// `credsStore`: the helper for every other host.
    store: Option<String>,
    env: BTreeMap<String, String>,
    /// Problems met while loading (bad config.json, unset variables).
    pub warnings: Vec<String>,
}

/// Normalise a `config.json` key (`https://index.docker.io/v1/`, `ghcr.io`,
/// `http://localhost:5000`) to a registry host.
fn docker_key_host(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

impl Credentials {
    /// Load from hoist.toml entries, the process environment and Docker's config.
    pub fn load(entries: Vec<RegistryConfig>) -> Credentials {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let path = env
            .get("DOCKER_CONFIG")
            .map(|d| PathBuf::from(d).join("config.json"))
            .or_else(|| {
                env.get("HOME")
                    .map(|h| PathBuf::from(h).join(".docker/config.json"))
            });
        let docker_text = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
        Credentials::from_parts(
            entries,
            env,
            docker_text.as_deref(),
            path.map(|p| p.display().to_string()),
        )
    }

    /// Build from explicit parts (tests, and [`Credentials::load`]).
    pub fn from_parts(
        entries: Vec<RegistryConfig>,
        env: BTreeMap<String, String>,
        docker_config: Option<&str>,
        docker_path: Option<String>,
    ) -> Credentials {
        let mut c = Credentials {
            entries,
            env,
            ..Default::default()
        };
        for e in &c.entries {
            if e.password.is_some() || e.token.is_some() {
                c.warnings.push(format!(
                    "hoist.toml: registry {}: a literal password or token was found and is ignored; \
                     name an environment variable with password_env or token_env instead",
                    e.host
                ));
            }
        }
        if let Some(text) = docker_config {
            match serde_json::from_str::<DockerConfig>(text) {
                Ok(cfg) => {
                    c.helpers = cfg
                        .cred_helpers
                        .into_iter()
                        .map(|(k, v)| (docker_key_host(&k), v))
                        .collect();
                    c.store = cfg.creds_store.filter(|s| !s.is_empty());
                    for (key, a) in cfg.auths {
                        if let Some(cred) = docker_credential(&a) {
                            c.docker.insert(docker_key_host(&key), cred);
                        }
                    }
                }
                Err(e) => c.warnings.push(format!(
                    "{}: not a valid Docker config ({}); ignored",
                    docker_path.as_deref().unwrap_or("config.json"),
                    super::json_error_kind(&e)
                )),
            }
        }
        c
    }

    /// The environment credentials are read from.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The hoist.toml entry for `host`, if any.
    pub fn entry(&self, host: &str) -> Option<&RegistryConfig> {
        self.entries.iter().find(|e| e.host == host)
    }

    /// Credentials for a registry host, if any source has them.
    pub fn lookup(&self, host: &str) -> Result<Option<Credential>, String> {
        if let Some(e) = self.entry(host) {
            let var = |name: &Option<String>| -> Result<Option<String>, String> {
                match name {
                    None => Ok(None),
                    Some(n) => self
                        .env
                        .get(n)
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| format!("environment variable {n} (named in hoist.toml for {host}) is not set")),
                }
            };
            if let Some(t) = var(&e.token_env)? {
                return Ok(Some(Credential::Bearer(Secret::new(t))));
            }
            if let Some(p) = var(&e.password_env)? {
                let username = var(&e.username_env)?.unwrap_or_else(|| "hoist".to_string());
                return Ok(Some(Credential::Basic {
                    username,
                    password: Secret::new(p),
                }));
            }
        }
        // Docker's order: a per-host helper, then the default store, then auths.
        if let Some(helper) = self.helpers.get(host).or(self.store.as_ref()) {
            match run_helper(helper, host, &self.env)? {
                Some(c) => return Ok(Some(c)),
                None if self.helpers.contains_key(host) => return Ok(None),
                None => {}
            }
        }
        if let Some(c) = self.docker.get(host) {
            return Ok(Some(c.clone()));
        }
        if host == "ghcr.io"
            && let Some(t) = self.env.get("GITHUB_TOKEN").filter(|t| !t.is_empty())
        {
            return Ok(Some(Credential::Basic {
                username: "x-access-token".to_string(),
                password: Secret::new(t.clone()),
            }));
        }
        Ok(None)
    }
}

/// Ask `docker-credential-<helper> get` for `host`. The server URL goes in
/// on stdin and the secret comes back on stdout: nothing secret is ever in
/// a process argument.
fn run_helper(
    helper: &str,
    host: &str,
    env: &BTreeMap<String, String>,
) -> Result<Option<Credential>, String> {
    use std::io::Write;
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!("credential helper name {helper:?} is not valid"));
    }
    let program = format!("docker-credential-{helper}");
    let server = if host == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    };
    let mut cmd = std::process::Command::new(&program);
    cmd.arg("get")
        .env_clear()
        .envs(env.iter())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {program} for {host}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program} failed: {e}"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_lowercase()
            + &String::from_utf8_lossy(&out.stderr).to_lowercase();
        if msg.contains("not found") {
            return Ok(None);
        }
        return Err(format!(
            "{program} get failed for {host} (exit {})",
            out.status.code().unwrap_or(-1)
        ));
    }
    #[derive(Deserialize)]
    struct HelperReply {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let reply: HelperReply = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("{program} printed something that is not credentials"))?;
    if reply.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential::Basic {
        username: reply.username,
        password: Secret::new(reply.secret),
    }))
}

/// Credentials from a `kubernetes.io/dockerconfigjson` Secret's JSON.
pub fn from_dockerconfigjson(json: &str) -> Result<BTreeMap<String, Credential>, String> {
    let cfg: DockerConfig = serde_json::from_str(json)
        .map_err(|e| format!("not a Docker config ({})", super::json_error_kind(&e)))?;
    Ok(cfg
        .auths
        .iter()
        .filter_map(|(k, a)| docker_credential(a).map(|c| (docker_key_host(k), c)))
        .collect())
}

fn docker_credential(a: &DockerAuth) -> Option<Credential> {
    if let Some(t) = a.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        let username = a.username.clone().unwrap_or_else(|| "<token>".to_string());
        return Some(Credential::Basic {
            username,
            password: Secret::new(t.clone()),
        });
    }
    if let Some(auth) = a.auth.as_ref().filter(|s| !s.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (u, p) = raw.split_once(':')?;
        return Some(Credential::Basic {
            username: u.to_string(),
            password: Secret::new(p),
        });
    }
    match (&a.username, &a.password) {
        (Some(u), Some(p)) => Some(Credential::Basic {
            username: u.clone(),
            password: Secret::new(p.clone()),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_sources_and_redaction() {
        let env: BTreeMap<String, String> =
            [("GHCR_PAT", "s3cret-pat"), ("GITHUB_TOKEN", "gh-token")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        let docker = r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpodWIlcGFzcw=="},
                                   "ghcr.io": {"username": "docker-user", "password": "docker-pass"}}}"#;
        let entries = vec![RegistryConfig {
            host: "ghcr.io".into(),
            password_env: Some("GHCR_PAT".into()),
            ..Default::default()
        }];
        let c = Credentials::from_parts(entries, env.clone(), Some(docker), None);
        let ghcr = c.lookup("ghcr.io").unwrap().unwrap();
        assert!(
            matches!(&ghcr, Credential::Basic { password, .. } if password.expose() == "s3cret-pat")
        );
        assert!(!format!("{ghcr:?}").contains("s3cret"));
        let hub = c.lookup("docker.io").unwrap().unwrap();
        assert!(
            matches!(&hub, Credential::Basic { username, password } if username == "user" && password.expose() == "hub%pass")
        );
        // Without the hoist.toml entry, config.json wins over GITHUB_TOKEN.
        let c = Credentials::from_parts(vec![], env.clone(), Some(docker), None);
        assert!(
            matches!(c.lookup("ghcr.io").unwrap().unwrap(), Credential::Basic { username, .. } if username == "docker-user")
        );
        let c = Credentials::from_parts(vec![], env, None, None);
        assert!(
            matches!(c.lookup("ghcr.io").unwrap().unwrap(), Credential::Basic { password, .. } if password.expose() == "gh-token")
        );
        assert_eq!(c.lookup("quay.io").unwrap(), None);
    }

    #[test]
    fn unset_variable_and_literal_secret() {
        let entries = vec![RegistryConfig {
            host: "r.example".into(),
            token_env: Some("NOPE".into()),
            password: Some(toml::Value::String("hunter2".into())),
            ..Default::default()
        }];
        let c = Credentials::from_parts(
            entries,
            BTreeMap::new(),
            Some("{not json"),
            Some("/x/config.json".into()),
        );
        assert!(c.lookup("r.example").unwrap_err().contains("NOPE"));
        assert!(c.warnings.iter().any(|w| w.contains("literal password")));
        assert!(c.warnings.iter().any(|w| w.contains("/x/config.json")));
        assert!(c.warnings.iter().all(|w| !w.contains("hunter2")));
    }
}
