//! Command-line front end. Each subcommand lives in its own file; this
//! module holds what they share: loading a repository, printing
//! diagnostics, and the exit-code contract.

pub mod apply;
pub mod commit;
pub mod lint;
pub mod plan;
pub mod policy;
pub mod scan;

use std::path::{Path, PathBuf};

use anstyle::{AnsiColor, Style};

use crate::config::{self, Config};
use crate::diag::{Diag, Severity};
use crate::repo::{self, SourceFile};
use crate::snapshot::Snapshot;

/// Where the fleet repository and its config are (every repo command).
#[derive(Debug, clap::Args)]
pub struct RepoArgs {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// hoist.toml to use (default: <repo>/hoist.toml when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Where tags come from (plan, apply).
#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// Read tags from this snapshot file instead of scanning the registries.
    #[arg(long, value_name = "FILE")]
    pub registry_snapshot: Option<PathBuf>,
}

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const OK: i32 = 0;
    /// Problems found (`lint`), errors reported (`plan`), no tag selected
    /// (`policy eval`), or some edits could not be made (`apply`).
    pub const FOUND: i32 = 1;
    /// Usage or configuration error.
    pub const USAGE: i32 = 2;
    /// `plan --exit-code`: changes are pending.
    pub const CHANGES: i32 = 3;
}

/// A failure that ends the command with an exit code.
#[derive(Debug)]
pub struct Fatal {
    pub code: i32,
    pub diags: Vec<Diag>,
}

impl Fatal {
    pub fn usage(d: Diag) -> Fatal {
        Fatal {
            code: exit::USAGE,
            diags: vec![d],
        }
    }
}

impl From<Vec<Diag>> for Fatal {
    fn from(diags: Vec<Diag>) -> Fatal {
        Fatal {
            code: exit::USAGE,
            diags,
        }
    }
}

/// Print diagnostics to stderr, cargo style.
pub fn report(diags: &[Diag]) {
    let err = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    let warn = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
    for d in diags {
        let (style, word) = match d.severity {
            Severity::Error => (err, "error"),
            Severity::Warning => (warn, "warning"),
        };
        anstream::eprintln!("{style}{word}{style:#}: {d}");
    }
}

/// Everything a repository-level command starts from.
pub struct Loaded {
    pub root: PathBuf,
    pub config: Config,
    pub files: Vec<SourceFile>,
    pub diags: Vec<Diag>,
}

pub fn load_repo(root: &Path, config_path: Option<&Path>) -> Result<Loaded, Fatal> {
    if !root.is_dir() {
        return Err(Fatal::usage(
            Diag::error("not a directory").at(root.display().to_string(), None),
        ));
    }
    let config = config::load(root, config_path)?;
    let scan = repo::walk(root).map_err(Fatal::usage)?;
    Ok(Loaded {
        root: root.to_path_buf(),
        config,
        files: scan.files,
        diags: scan.diags,
    })
}

/// Tag lists for every image, from a snapshot file or a live scan.
#[derive(Debug, Default)]
pub struct Tags {
    pub snapshot: Snapshot,
    /// Images whose scan failed, with the reason.
    pub errors: std::collections::BTreeMap<String, String>,
    /// Tags the registries returned that were dropped as invalid, per image.
    pub dropped: std::collections::BTreeMap<String, Vec<String>>,
}

impl Tags {
    pub fn get(&self, image: &str) -> Result<&crate::snapshot::TagList, String> {
        if let Some(l) = self.snapshot.get(image) {
            return Ok(l);
        }
        Err(self
            .errors
            .get(image)
            .cloned()
            .unwrap_or_else(|| format!("image {image} is not in the registry snapshot")))
    }
}

/// Read `--registry-snapshot FILE`, or scan the registries live.
pub fn obtain_tags(
    config: &Config,
    objects: &crate::plan::Objects,
    snapshot: Option<&Path>,
) -> Result<(Tags, Vec<Diag>), Fatal> {
    match snapshot {
        Some(p) => {
            let (snapshot, diags) = Snapshot::load(p).map_err(Fatal::usage)?;
            Ok((
                Tags {
                    snapshot,
                    ..Default::default()
                },
                diags,
            ))
        }
        None => live_scan(config, objects),
    }
}

/// Scan every (non-suspended) ImageRepository's image, then resolve the
/// digests that digest-reflecting policies need.
pub fn live_scan(
    config: &Config,
    objects: &crate::plan::Objects,
) -> Result<(Tags, Vec<Diag>), Fatal> {
    use crate::registry::{Client, Credentials, scan};
    use std::sync::Arc;
    let mut diags = Vec::new();
    let creds = Credentials::load(config.registries.clone());
    diags.extend(creds.warnings.iter().map(|w| Diag::warning(w.clone())));
    let mut roots = Vec::new();
    for r in &config.registries {
        if let Some(ca) = &r.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                Fatal::usage(
                    Diag::error(format!("cannot read ca_file for registry {}: {e}", r.host))
                        .at(ca.display().to_string(), None),
                )
            })?;
            if !is_pem_certificate(&String::from_utf8_lossy(&pem)) {
                return Err(Fatal::usage(
                    Diag::error(format!(
                        "ca_file for registry {} is not a PEM certificate",
                        r.host
                    ))
                    .at(ca.display().to_string(), None),
                ));
            }
            roots.push(pem);
        }
    }
    // certSecretRef: a CA from a Secret in the repository. The client has one
    // trust store, so the CA is trusted for this run's other registries too.
    for r in objects.repositories.iter().filter(|r| !r.suspend) {
        if let Some(name) = &r.cert_secret_ref
            && let Some(pem) = objects
                .ca_secrets
                .get(&(r.meta.namespace.clone(), name.clone()))
        {
            if is_pem_certificate(pem) {
                tracing::debug!(secret = %name, image = %r.image, "trusting the CA from certSecretRef");
                roots.push(pem.clone().into_bytes());
            } else {
                diags.push(
                    Diag::warning(format!(
                        "Secret {}/{name}: ca.crt is not a PEM certificate; ignored",
                        r.meta.namespace
                    ))
                    .at(&r.meta.origin.file, Some(r.meta.origin.line)),
                );
            }
        }
    }
    let client = Arc::new(
        Client::new(creds, config.scan.options(), &roots)
            .map_err(|e| Fatal::usage(Diag::error(e)))?,
    );
    let mut targets: Vec<scan::Target> = Vec::new();
    for r in objects.repositories.iter().filter(|r| !r.suspend) {
        if targets.iter().any(|t| t.image == r.image) {
            continue;
        }
        let secret = match &r.secret_ref {
            Some(name) => match objects
                .pull_secrets
                .get(&(r.meta.namespace.clone(), name.clone()))
            {
                Some(json) => match crate::registry::credentials::from_dockerconfigjson(json) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        diags.push(
                            Diag::warning(format!(
                                "Secret {}/{name} for {}: {e}; using other credential sources",
                                r.meta.namespace, r.image
                            ))
                            .at(&r.meta.origin.file, Some(r.meta.origin.line)),
                        );
                        None
                    }
                },
                // Usually the Secret lives only in the cluster: fall back quietly.
                None => None,
            },
            None => None,
        };
        targets.push(scan::Target {
            image: r.image.clone(),
            insecure: r.insecure,
            secret,
            provider: r.provider.clone(),
        });
    }
    // A progress bar on a terminal only; scripts and CI logs get none.
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && targets.len() > 1 {
        let b = indicatif::ProgressBar::new(targets.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning {pos}/{len} images {wide_bar} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let scanned = scan::block_on(scan::scan(client.clone(), targets, |s| {
        bar.set_message(s.image.clone());
        bar.inc(1);
    }));
    bar.finish_and_clear();
    let mut tags = Tags::default();
    for s in scanned {
        match s.tags {
            Ok(list) => {
                tags.snapshot.images.insert(
                    s.image.clone(),
                    crate::snapshot::TagList {
                        tags: list,
                        ..Default::default()
                    },
                );
            }
            Err(e) => {
                diags.push(Diag::error(format!("{}: {e}", s.image)));
                tags.errors.insert(s.image.clone(), e);
            }
        }
        for d in &s.dropped {
            diags.push(Diag::warning(format!(
                "{}: dropped tag {} from the registry: not a valid OCI tag",
                s.image,
                crate::diag::quoted(d)
            )));
        }
        if !s.dropped.is_empty() {
            tags.dropped.insert(s.image, s.dropped);
        }
    }
    let wants = crate::plan::digest_requests(objects, |img| tags.get(img));
    if !wants.is_empty() {
        for (image, tag, r) in scan::block_on(scan::digests(client, wants)) {
            match r {
                Ok(d) => {
                    if let Some(l) = tags.snapshot.images.get_mut(&image) {
                        l.digests.insert(tag, d);
                    }
                }
                Err(e) => diags.push(Diag::error(format!(
                    "{image}:{tag}: cannot resolve digest: {e}"
                ))),
            }
        }
    }
    Ok((tags, diags))
}

/// A PEM bundle with at least one certificate whose body is valid base64.
/// (reqwest accepts garbage here and fails later, or silently.)
fn is_pem_certificate(pem: &str) -> bool {
    use base64::Engine;
    let mut found = false;
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start + 27..];
        let Some(end) = after.find("-----END CERTIFICATE-----") else {
            return false;
        };
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if body.is_empty()
            || base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_err()
        {
            return false;
        }
        found = true;
        rest = &after[end..];
    }
    found
}

/// Everything `plan` and `apply` print besides the plan itself.
pub struct Planned {
    pub plan: crate::plan::Plan,
    pub diags: Vec<Diag>,
}

/// Walked repo + tags → plan.
pub fn plan_repo(loaded: &Loaded, snapshot: Option<&Path>) -> Result<Planned, Fatal> {
    let (objects, object_diags) = crate::plan::collect_objects(&loaded.files, &loaded.config);
    let (tags, tag_diags) = obtain_tags(&loaded.config, &objects, snapshot)?;
    let plan = crate::plan::plan_objects(
        &loaded.files,
        &objects,
        object_diags,
        &loaded.config,
        |img| tags.get(img),
    );
    let mut diags = loaded.diags.clone();
    diags.extend(tag_diags);
    diags.extend(plan.diagnostics.iter().cloned());
    Ok(Planned { plan, diags })
}

/// Colour helper for diff lines.
pub fn diff_style(kind: char, line: &str) -> String {
    let style = match kind {
        '-' => Style::new().fg_color(Some(AnsiColor::Red.into())),
        '+' => Style::new().fg_color(Some(AnsiColor::Green.into())),
        '@' => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
        'h' => Style::new().bold(),
        _ => return line.to_string(),
    };
    format!("{style}{line}{style:#}")
}

/// `1 change`, `2 changes`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
