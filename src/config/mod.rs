//! `hoist.toml`: declare images and policies without Flux objects, and
//! restrict which files hoist may write.
//!
//! ```toml
//! # Only these files may be written (globs relative to the repo root).
//! write_paths = ["**/image-tags.yaml"]
//!
//! [[image_repository]]
//! name = "api"
//! namespace = "flux-system"        # default "flux-system"
//! image = "ghcr.io/acme/api"
//! exclusion_list = ['^.*\.sig$']   # optional; replaces the default
//!
//! [[image_policy]]
//! name = "api-prod"
//! namespace = "flux-system"
//! repository = "api"               # an image_repository (or ImageRepository) name
//! semver = { range = ">=1.0.0" }   # or alphabetical = { order = "asc" }, numerical = { order = "desc" }
//! filter_tags = { pattern = '^main-[a-f0-9]+-(?P<ts>\d+)$', extract = "$ts" }
//! digest_reflection_policy = "IfNotPresent"
//! ```

pub mod ladder;
pub mod registry;
pub mod server;
pub mod verify;
pub mod window;

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::core::diag::Diag;
use crate::flux::layout::NamespaceFrom;
use crate::flux::{DigestReflection, ImagePolicy, ImageRepository, Meta, Origin, check_image_name};
use crate::policy::{Policy, PolicySpec};

pub const DEFAULT_NAMESPACE: &str = "flux-system";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub write_paths: Vec<String>,
    #[serde(default)]
    pub image_repository: Vec<RawRepository>,
    #[serde(default)]
    pub image_policy: Vec<RawPolicy>,
    /// Path glob → the namespace of the Flux objects in those files that
    /// name none (their namespace is set outside this repository).
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
    #[serde(default)]
    pub registry: Vec<registry::RegistryConfig>,
    #[serde(default)]
    pub scan: ScanConfig,
    #[serde(default)]
    pub git: GitConfig,
    #[serde(default)]
    pub forge: Option<crate::config::ladder::RawForge>,
    #[serde(default)]
    pub environment: Vec<crate::config::ladder::RawEnvironment>,
    /// Image → the forge repository its builds come from (changelogs).
    #[serde(default)]
    pub source_repository: BTreeMap<String, String>,
    /// `[server]`: `hoist serve` only.
    #[serde(default)]
    pub server: Option<crate::config::server::RawServer>,
}

/// How hoist authenticates to a Git remote over HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitAuth {
    /// `Authorization: Basic base64(x-access-token:TOKEN)` (GitHub App or
    /// Actions token).
    Github,
    /// `Authorization: Basic base64(:PAT)` (Azure DevOps personal token).
    AzureDevops,
    /// `Authorization: Bearer TOKEN` (Azure DevOps `System.AccessToken`).
    Bearer,
    /// `Authorization: Basic base64(oauth2:TOKEN)` (a GitLab personal,
    /// project or group access token).
    Gitlab,
    /// `Authorization: Basic base64(username:TOKEN)`.
    Basic,
}

/// `[git]`: where and how commits are made and pushed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitConfig {
    /// The fleet repository's URL, for runs given neither `--url` nor a
    /// checkout and no `[forge]` to ask.
    pub url: Option<String>,
    /// Checkout mode: the remote to push to (default `origin`).
    pub remote: Option<String>,
    /// The branch to read (default: the automation's checkout branch, else
    /// the checked-out branch or the remote's default branch).
    pub branch: Option<String>,
    /// The branch to push to (default: the checkout branch).
    pub push_branch: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    /// Go text/template, as `spec.git.commit.messageTemplate`.
    pub message_template: Option<String>,
    /// Name of the environment variable holding the HTTPS token.
    pub token_env: Option<String>,
    pub auth: Option<GitAuth>,
    /// User name for `auth = "basic"`.
    pub username: Option<String>,
    /// Sign commits with this key (`user.signingKey`), via the git binary.
    pub signing_key: Option<String>,
    /// `gpg.format`: `openpgp` (default), `ssh` or `x509`.
    pub signing_format: Option<String>,
    /// Push attempts before giving up when the branch keeps moving (default 10).
    pub max_attempts: Option<u32>,
    /// Push options (`git push -o`), in addition to the automation's.
    #[serde(default)]
    pub push_options: Vec<String>,
}

/// `[scan]`: registry client tunables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    /// Tags per page (`n`), default 1000.
    pub page_size: Option<usize>,
    /// Pages per image before giving up, default 1000.
    pub max_pages: Option<usize>,
    /// Per-request timeout in seconds, default 30.
    pub timeout_seconds: Option<u64>,
    /// Retries after a failed attempt, default 4.
    pub retries: Option<u32>,
    /// Concurrent requests per registry, default 8.
    pub concurrency: Option<usize>,
    /// Requests per second per registry, default unlimited.
    pub requests_per_second: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepository {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub image: String,
    #[serde(default)]
    pub exclusion_list: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    #[serde(default)]
    pub order: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemverRange {
    pub range: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterTags {
    #[serde(default)]
    pub pattern: String,
    #[serde(default)]
    pub extract: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub repository: String,
    #[serde(default)]
    pub semver: Option<SemverRange>,
    #[serde(default)]
    pub alphabetical: Option<Order>,
    #[serde(default)]
    pub numerical: Option<Order>,
    #[serde(default)]
    pub filter_tags: Option<FilterTags>,
    #[serde(default)]
    pub digest_reflection_policy: Option<DigestReflection>,
}

/// Where hoist may write: `write_paths`, compiled. All a plan needs of
/// hoist.toml besides the Flux objects.
#[derive(Debug, Default, Clone)]
pub struct WriteScope {
    globs: Option<GlobSet>,
    patterns: Vec<String>,
}

impl WriteScope {
    /// May hoist write this repo-relative path? (Anywhere, without
    /// `write_paths`.)
    pub fn may_write(&self, rel: &str) -> bool {
        self.globs.as_ref().is_none_or(|g| g.is_match(rel))
    }

    /// The patterns as written, for messages.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// A loaded, validated configuration.
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub path: Option<String>,
    /// `write_paths`.
    pub write: WriteScope,
    pub repositories: Vec<ImageRepository>,
    pub policies: Vec<ImagePolicy>,
    /// `[namespaces]`: (glob, matcher, namespace) in the file's order.
    pub namespaces: Vec<(String, globset::GlobMatcher, String)>,
    pub registries: Vec<registry::RegistryConfig>,
    pub scan: ScanConfig,
    pub git: GitConfig,
    /// `[forge]` and `[[environment]]`: empty without them.
    pub ladder: ladder::Ladder,
    /// `[server]`, defaults when absent.
    pub server: crate::config::server::ServerConfig,
}

impl Config {
    /// `[namespaces]`'s namespace for the objects of `rel`: (glob, namespace).
    pub fn namespace_for(&self, rel: &str) -> Option<(&str, &str)> {
        self.namespaces
            .iter()
            .find(|(_, m, _)| m.is_match(rel))
            .map(|(g, _, n)| (g.as_str(), n.as_str()))
    }

    /// May hoist write this repo-relative path?
    pub fn may_write(&self, rel: &str) -> bool {
        self.write.may_write(rel)
    }
}

/// The line of `path` (dotted keys) inside the `index`-th `[[array]]`
/// table of `text`: a `a.b = …` line, else a `b = …` line in that table
/// (or its `[array.a]` sub-table), else the line that opens `a`, else the
/// table's header. `None` when there is no such table.
fn key_line(text: &str, array: &str, index: usize, path: &[&str]) -> Option<usize> {
    let header = format!("[[{array}]]");
    let sub = format!("[{array}.");
    let mut lines = text.lines().enumerate();
    let mut seen = 0;
    let start = lines.find(|(_, l)| {
        if l.trim() == header {
            seen += 1;
            seen == index + 1
        } else {
            false
        }
    })?;
    let mut section = Vec::new();
    for (n, l) in lines {
        let t = l.trim_start();
        if t.starts_with("[[") || (t.starts_with('[') && !t.starts_with(&sub)) {
            break;
        }
        section.push((n + 1, t));
    }
    let assigns = |key: &str, t: &str| {
        t.strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('='))
    };
    let full = path.join(".");
    let last = path.last().copied().unwrap_or("");
    let first = path.first().copied().unwrap_or("");
    section
        .iter()
        .find(|(_, t)| assigns(&full, t))
        .or_else(|| section.iter().find(|(_, t)| assigns(last, t)))
        .or_else(|| {
            section
                .iter()
                .find(|(_, t)| t.starts_with(first) && !first.is_empty())
        })
        .map(|(n, _)| *n)
        .or(Some(start.0 + 1))
}

/// Line number (1-based) of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parse and validate `text` (read from `display`). All problems are
/// returned together; any error means the config is unusable.
pub fn parse(text: &str, display: &str) -> Result<Config, Vec<Diag>> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_at(text, s.start));
        vec![Diag::error(e.message().trim().to_string()).at(display, line)]
    })?;
    let mut errors = Vec::new();
    let find_line = |needle: &str| text.find(needle).map(|o| line_at(text, o));
    let mut cfg = Config {
        path: Some(display.to_string()),
        ..Default::default()
    };
    if !raw.write_paths.is_empty() {
        let mut b = GlobSetBuilder::new();
        for (i, p) in raw.write_paths.iter().enumerate() {
            match Glob::new(p) {
                Ok(g) => {
                    b.add(g);
                }
                Err(e) => errors.push(
                    Diag::error(format!("invalid glob {p:?}: {e}"))
                        .at(display, find_line(p))
                        .field(format!("write_paths[{i}]")),
                ),
            }
        }
        cfg.write = WriteScope {
            globs: b.build().ok(),
            patterns: raw.write_paths.clone(),
        };
    }
    for (glob, ns) in &raw.namespaces {
        let line = find_line(&format!("\"{glob}\""));
        match Glob::new(glob) {
            Ok(g) if !ns.is_empty() => {
                cfg.namespaces
                    .push((glob.clone(), g.compile_matcher(), ns.clone()))
            }
            Ok(_) => errors.push(
                Diag::error("the namespace is empty")
                    .at(display, line)
                    .field(format!("namespaces.{glob:?}")),
            ),
            Err(e) => errors.push(
                Diag::error(format!("invalid glob {glob:?}: {e}"))
                    .at(display, line)
                    .field(format!("namespaces.{glob:?}")),
            ),
        }
    }
    for (i, r) in raw.image_repository.into_iter().enumerate() {
        let line = key_line(text, "image_repository", i, &["name"]);
        if let Err(e) = check_image_name(&r.image) {
            errors.push(
                Diag::error(e)
                    .at(display, key_line(text, "image_repository", i, &["image"]))
                    .field(format!("image_repository[{i}].image")),
            );
        }
        cfg.repositories.push(ImageRepository {
            meta: Meta {
                name: r.name,
                namespace: r.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
                namespace_from: NamespaceFrom::Metadata,
                cluster: String::new(),
                labels: BTreeMap::new(),
                origin: Origin {
                    file: display.to_string(),
                    line: line.unwrap_or(1),
                },
            },
            image: r.image,
            interval: None,
            secret_ref: None,
            provider: "generic".into(),
            insecure: false,
            cert_secret_ref: None,
            exclusion_list: r.exclusion_list,
            suspend: false,
        });
    }
    for (i, p) in raw.image_policy.into_iter().enumerate() {
        let line = key_line(text, "image_policy", i, &["name"]);
        let namespace = p.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        let spec = PolicySpec {
            semver_range: p.semver.map(|s| s.range),
            alphabetical_order: p.alphabetical.map(|o| o.order),
            numerical_order: p.numerical.map(|o| o.order),
            filter_pattern: p.filter_tags.as_ref().map(|f| f.pattern.clone()),
            filter_extract: p.filter_tags.as_ref().map(|f| f.extract.clone()),
            exclusion_list: None,
        };
        if let Err(e) = Policy::from_spec(&spec) {
            let field = e
                .field
                .replace("spec.policy.", "")
                .replace("spec.filterTags", "filter_tags");
            let path: Vec<&str> = field.split('.').collect();
            errors.push(
                Diag::error(e.message)
                    .at(display, key_line(text, "image_policy", i, &path).or(line))
                    .field(format!("image_policy[{i}].{field}")),
            );
        }
        cfg.policies.push(ImagePolicy {
            meta: Meta {
                name: p.name,
                namespace: namespace.clone(),
                namespace_from: NamespaceFrom::Metadata,
                cluster: String::new(),
                labels: BTreeMap::new(),
                origin: Origin {
                    file: display.to_string(),
                    line: line.unwrap_or(1),
                },
            },
            repository_name: p.repository,
            repository_namespace: namespace,
            repository_namespace_set: true,
            spec,
            digest_reflection: p.digest_reflection_policy.unwrap_or_default(),
            suspend: false,
        });
    }
    cfg.registries = raw.registry;
    cfg.scan = raw.scan;
    if let Some(f) = raw.git.signing_format.as_deref()
        && !matches!(f, "openpgp" | "ssh" | "x509")
    {
        errors.push(
            Diag::error(format!(
                "unknown signing format {f:?} (expected openpgp, ssh or x509)"
            ))
            .at(display, find_line("signing_format"))
            .field("git.signing_format"),
        );
    }
    if let Some(t) = &raw.git.message_template
        && let Err(e) = crate::template::Template::parse(t)
    {
        errors.push(
            Diag::error(e.to_string())
                .at(display, find_line("message_template"))
                .field("git.message_template"),
        );
    }
    cfg.git = raw.git;
    match crate::config::ladder::validate(raw.forge, raw.environment, display, &|span| {
        line_at(text, span.start)
    }) {
        Ok(l) => cfg.ladder = l,
        Err(e) => errors.extend(e),
    }
    for (image, repo) in &raw.source_repository {
        if let Err(e) = check_image_name(image) {
            errors.push(
                Diag::error(e)
                    .at(display, find_line(image))
                    .field(format!("source_repository.{image:?}")),
            );
        }
        if repo.split('/').count() < 2 || repo.split('/').any(str::is_empty) {
            errors.push(
                Diag::error(format!(
                    "{repo:?} is not a repository (expected owner/repo, or org/project/repo on Azure DevOps)"
                ))
                .at(display, find_line(repo))
                .field(format!("source_repository.{image:?}")),
            );
        }
    }
    cfg.ladder.sources = raw.source_repository;
    if let Some(server) = raw.server {
        let envs: Vec<String> = cfg.ladder.rungs.iter().map(|r| r.name.clone()).collect();
        match crate::config::server::validate(server, display, &find_line, &envs) {
            Ok(s) => cfg.server = s,
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

/// Load `--config FILE`, or `hoist.toml` at the repo root when present.
pub fn load(repo: &Path, explicit: Option<&Path>) -> Result<Config, Vec<Diag>> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (repo.join("hoist.toml"), false),
    };
    let display = path.display().to_string();
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| vec![Diag::error("file is not valid UTF-8").at(&display, None)])?;
            parse(&text, &display)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(Config::default()),
        Err(e) => Err(vec![
            Diag::error(format!("cannot read config: {e}")).at(&display, None),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_line_and_field() {
        let e = parse("write_paths = [\"**/x.yaml\"]\n[[image_policy]]\nname = \"p\"\nrepository = \"r\"\nsemver = { range = \"~>\" }\n", "hoist.toml").unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "hoist.toml:5: image_policy[0].semver.range: improper constraint: \"~>\""
        );
        // The key's own line, in the right table (#17: not the header's,
        // nor the first line that mentions the same name).
        let t = "[[image_repository]]\nname = \"app\"\nimage = \"ghcr.io/a/app\"\n\n[[image_policy]]\nname = \"app\"\nrepository = \"app\"\nnumerical.order = \"up\"\n\n[[image_policy]]\nname = \"b\"\nrepository = \"app\"\n[image_policy.semver]\nrange = \">=1 <\"\n";
        let e = parse(t, "hoist.toml").unwrap_err();
        let shown: Vec<String> = e
            .iter()
            .map(|d| {
                d.to_string()
                    .split(": ")
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .collect();
        assert_eq!(
            shown,
            [
                "hoist.toml:8: image_policy[0].numerical.order",
                "hoist.toml:14: image_policy[1].semver.range"
            ]
        );
        let e = parse("bogus = 1\n", "hoist.toml").unwrap_err();
        assert!(
            e[0].to_string()
                .starts_with("hoist.toml:1: unknown field `bogus`"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn write_paths_restrict() {
        let c = parse("write_paths = [\"**/image-tags.yaml\"]\n", "h").unwrap();
        assert!(c.may_write("clusters/dev/image-tags.yaml"));
        assert!(!c.may_write("clusters/dev/kustomization.yaml"));
        assert!(Config::default().may_write("anything.yaml"));
    }
}
