//! Observing for a fleet: which images its objects name, and their tags.
//!
//! The glue between the Flux objects ([`crate::flux`], [`crate::decide::plan::Objects`])
//! and the registry client ([`crate::observe::registry`]), which knows nothing of
//! Flux: pull Secrets and CA Secrets from the repository become plain
//! credentials and trust roots, images become scan targets, and the
//! results become the [`TagList`]s the pure planner reads, exactly as it
//! reads a snapshot file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::core::diag::Diag;
use crate::core::tags::{TagList, Unobserved};
use crate::observe::objects::{Objects, digest_requests};
use crate::observe::registry::credentials::from_dockerconfigjson;
use crate::observe::registry::{Client, Credentials, scan};
use crate::observe::snapshot::Snapshot;

/// Tag lists for every image, from a snapshot file or a live scan.
#[derive(Default, Clone)]
pub struct Tags {
    pub snapshot: Snapshot,
    /// Images whose scan failed, with the reason.
    pub errors: BTreeMap<String, String>,
    /// Tags the registries returned that were dropped as invalid, per image.
    pub dropped: BTreeMap<String, Vec<String>>,
    /// The client the tags were read with (none for a snapshot): missing
    /// digests can be asked for on it.
    client: Option<Arc<Client>>,
    /// What this run has asked of each registry (its scan, and the
    /// digests asked for later), for `max_requests_per_run`.
    spend: Arc<crate::observe::registry::client::Spend>,
    /// Where the run remembers digests whose signatures verified (a
    /// session over a remote: its state directory).
    signature_memo: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Tags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tags")
            .field("snapshot", &self.snapshot)
            .field("errors", &self.errors)
            .field("dropped", &self.dropped)
            .field("live", &self.is_live())
            .finish()
    }
}

impl Tags {
    /// Read from the registries, not a snapshot file.
    pub fn is_live(&self) -> bool {
        self.client.is_some()
    }

    /// Remember verified signatures in `path` across runs.
    pub fn set_signature_memo(&mut self, path: std::path::PathBuf) {
        self.signature_memo = Some(path);
    }

    /// Where verified signatures are remembered, if anywhere.
    pub fn signature_memo(&self) -> Option<&Path> {
        self.signature_memo.as_deref()
    }

    /// The tag list of `image`, or why there is none: its scan failed,
    /// or it is not in the snapshot.
    pub fn get(&self, image: &str) -> Result<&TagList, Unobserved> {
        if let Some(l) = self.snapshot.get(image) {
            return Ok(l);
        }
        Err(match self.errors.get(image) {
            Some(reason) => Unobserved::ScanFailed {
                image: image.to_string(),
                reason: reason.clone(),
            },
            None => Unobserved::NotInSnapshot {
                image: image.to_string(),
            },
        })
    }
}

/// Read a snapshot file, or scan the registries live. `progress` hears
/// of each image scanned: (done, total, image).
pub fn obtain_tags(
    config: &Config,
    objects: &Objects,
    snapshot: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(Tags, Vec<Diag>), Diag> {
    match snapshot {
        Some(p) => {
            let (snapshot, diags) = Snapshot::load(p)?;
            Ok((
                Tags {
                    snapshot,
                    ..Default::default()
                },
                diags,
            ))
        }
        None => live_scan(config, objects, progress),
    }
}

/// The registry client for a fleet: hoist.toml's registries and CAs, the
/// CAs of `certSecretRef` Secrets in the repository, and the pull Secrets
/// of `targets` (from the process's pool: the same configuration gets the
/// same client, token cache and limits, run after run).
fn client_for(
    config: &Config,
    objects: &Objects,
    targets: &[scan::Target],
) -> Result<(Arc<Client>, Vec<Diag>), Diag> {
    let mut diags = Vec::new();
    let creds = Credentials::load(config.registries.clone());
    diags.extend(creds.warnings.iter().map(|w| Diag::warning(w.clone())));
    let mut roots = Vec::new();
    for r in &config.registries {
        if let Some(ca) = &r.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                Diag::error(format!("cannot read ca_file for registry {}: {e}", r.host))
                    .at(ca.display().to_string(), None)
            })?;
            if !is_pem_certificate(&String::from_utf8_lossy(&pem)) {
                return Err(Diag::error(format!(
                    "ca_file for registry {} is not a PEM certificate",
                    r.host
                ))
                .at(ca.display().to_string(), None));
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
    let secrets = targets
        .iter()
        .filter_map(|t| {
            let img = crate::observe::registry::reference::ImageRef::parse(&t.image).ok()?;
            let cred = t.secret.as_ref()?.get(&img.registry)?.clone();
            Some((img, cred))
        })
        .collect();
    let client =
        crate::observe::registry::pool::client(creds, options(&config.scan), &roots, secrets)
            .map_err(Diag::error)?;
    Ok((client, diags))
}

/// Scan every (non-suspended) ImageRepository's image, then resolve the
/// digests that digest-reflecting policies need.
pub fn live_scan(
    config: &Config,
    objects: &Objects,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(Tags, Vec<Diag>), Diag> {
    let mut diags = Vec::new();
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
                Some(json) => match from_dockerconfigjson(json) {
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
    let (client, client_diags) = client_for(config, objects, &targets)?;
    diags.splice(0..0, client_diags);
    let total = targets.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    // One budget of requests per registry for the whole run: the scan and
    // the digests after it (`[[registry]] max_requests_per_run`).
    let spend = Arc::new(crate::observe::registry::client::Spend::default());
    let scanned = scan::block_on(crate::observe::registry::client::RUN_SPEND.scope(
        spend.clone(),
        scan::scan(client.clone(), targets, |s| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total, &s.image);
        }),
    ));
    let mut tags = Tags {
        client: Some(client.clone()),
        spend,
        ..Default::default()
    };
    for s in scanned {
        match s.tags {
            Ok(list) => {
                tags.snapshot.images.insert(
                    s.image.clone(),
                    TagList {
                        tags: list,
                        ..Default::default()
                    },
                );
            }
            Err(e) => {
                // Deferred work is not a failure: the next run takes it up.
                let d = format!("{}: {e}", s.image);
                diags.push(if s.deferred {
                    Diag::warning(d)
                } else {
                    Diag::error(d)
                });
                tags.errors.insert(s.image.clone(), e);
            }
        }
        for d in &s.dropped {
            diags.push(Diag::warning(format!(
                "{}: dropped tag {} from the registry: not a valid OCI tag",
                s.image,
                crate::core::diag::quoted(d)
            )));
        }
        if !s.dropped.is_empty() {
            tags.dropped.insert(s.image, s.dropped);
        }
    }
    let wants = digest_requests(objects, |img| tags.get(img));
    diags.extend(store_digests(&client, wants, &mut tags));
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

/// Ask the registries the tags came from for the digests of `(image, tag)`
/// pairs the lists lack (a live scan only resolves those policies
/// reflect). Nothing to ask for a snapshot.
pub fn resolve_digests(
    objects: &Objects,
    tags: &mut Tags,
    wants: &[(String, String)],
) -> Vec<Diag> {
    let wants: Vec<(String, bool, String)> = wants
        .iter()
        .filter(|(image, tag)| {
            tags.snapshot
                .get(image)
                .is_some_and(|l| !l.digests.contains_key(tag))
        })
        .map(|(image, tag)| {
            let insecure = objects
                .repositories
                .iter()
                .any(|r| r.image == *image && r.insecure);
            (image.clone(), insecure, tag.clone())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let Some(client) = tags.client.clone() else {
        return Vec::new();
    };
    store_digests(&client, wants, tags)
}

/// Resolve `wants` on `client` into `tags`; an error per digest that fails.
pub fn store_digests(
    client: &Arc<Client>,
    wants: Vec<(String, bool, String)>,
    tags: &mut Tags,
) -> Vec<Diag> {
    let mut diags = Vec::new();
    if wants.is_empty() {
        return diags;
    }
    let spend = tags.spend.clone();
    let asked = crate::observe::registry::client::RUN_SPEND
        .scope(spend, scan::digests(client.clone(), wants));
    for (image, tag, r) in scan::block_on(asked) {
        match r {
            Ok(d) => {
                if let Some(l) = tags.snapshot.images.get_mut(&image) {
                    l.digests.insert(tag, d);
                }
            }
            // Deferred by the run's request budget: a warning, as in the scan.
            Err(e) if e.starts_with(crate::observe::registry::client::DEFERRED) => {
                diags.push(Diag::warning(format!("{image}:{tag}: digest {e}")))
            }
            Err(e) => diags.push(Diag::error(format!(
                "{image}:{tag}: cannot resolve digest: {e}"
            ))),
        }
    }
    diags
}

/// Fetch the cosign signatures (and attestations, with `attestations`)
/// of `wants` (`(image, digest)`) into `tags`. A registry that cannot be
/// asked leaves the digest unsigned as far as hoist knows (the image
/// waits), with the reason in its place. A digest already read from
/// cosign's tags only is read again from its referrers, and what they
/// hold is added.
pub fn resolve_signatures(
    objects: &Objects,
    tags: &mut Tags,
    wants: &[(String, String)],
    attestations: bool,
) -> Vec<Diag> {
    let mut diags = Vec::new();
    let wants: Vec<(String, bool, String, bool)> = wants
        .iter()
        .filter_map(|(image, digest)| {
            let list = tags.snapshot.get(image)?;
            let referrers_only = match list.signed.get(digest) {
                None => false,
                Some(s) if !s.referrers_read && s.verified.is_empty() => true,
                Some(_) => return None,
            };
            let insecure = objects
                .repositories
                .iter()
                .any(|r| r.image == *image && r.insecure);
            Some((image.clone(), insecure, digest.clone(), referrers_only))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let Some(client) = tags.client.clone() else {
        return diags;
    };
    if wants.is_empty() {
        return diags;
    }
    let spend = tags.spend.clone();
    let asked = crate::observe::registry::client::RUN_SPEND
        .scope(spend, scan::signatures(client, wants, attestations));
    for (image, digest, r) in scan::block_on(asked) {
        let signed = match r {
            Ok(s) => s,
            Err(e) => {
                diags.push(Diag::warning(format!(
                    "{image}@{digest}: cannot read its signatures: {e}"
                )));
                crate::core::tags::Signed {
                    problems: vec![format!("the registry could not be asked: {e}")],
                    referrers_read: true,
                    ..Default::default()
                }
            }
        };
        if let Some(l) = tags.snapshot.images.get_mut(&image) {
            match l.signed.get_mut(&digest) {
                Some(had) => {
                    had.signatures.extend(signed.signatures);
                    if let (Some(a), Some(more)) = (had.attestations.as_mut(), signed.attestations)
                    {
                        a.extend(more);
                    }
                    had.problems.extend(signed.problems);
                    had.referrers_read = true;
                }
                None => {
                    l.signed.insert(digest, signed);
                }
            }
        }
    }
    diags
}

/// What to do about tags `create_tag` promotions lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagCreation {
    /// Create them in the registry (a live run that writes).
    Create,
    /// Plan as if they existed, and say so (previews: nothing is written).
    Preview,
}

/// The registry client's tunables from `[scan]`.
fn options(scan: &crate::config::ScanConfig) -> crate::observe::registry::Options {
    let mut o = crate::observe::registry::Options::default();
    if let Some(n) = scan.page_size {
        o.page_size = n.clamp(1, 10_000);
    }
    if let Some(n) = scan.max_pages {
        o.max_pages = n.max(1);
    }
    if let Some(s) = scan.timeout_seconds {
        o.timeout = std::time::Duration::from_secs(s.max(1));
    }
    if let Some(r) = scan.retries {
        o.retries = r;
    }
    if let Some(c) = scan.concurrency {
        o.concurrency = c.max(1);
    }
    o.requests_per_second = scan.requests_per_second.filter(|r| *r > 0.0);
    o
}

/// Create the tags `(image, from, to)` that `create_tag` promotions need
/// (`Preview`: only say they would be), and add them to the tag lists.
pub fn create_tags(
    objects: &Objects,
    tags: &mut Tags,
    creates: std::collections::BTreeSet<(String, String, String)>,
    creation: TagCreation,
) -> Vec<Diag> {
    let mut diags = Vec::new();
    for (image, from, to) in creates {
        let known = tags
            .snapshot
            .get(&image)
            .and_then(|l| l.digests.get(&from).cloned());
        let digest = match (creation, tags.client.clone()) {
            (TagCreation::Preview, _) | (_, None) => {
                diags.push(Diag::warning(format!(
                    "{image}:{to} does not exist; create_tag would create it from {from}"
                )));
                known
            }
            (TagCreation::Create, Some(client)) => {
                let insecure = objects
                    .repositories
                    .iter()
                    .any(|r| r.image == image && r.insecure);
                let r = crate::core::reference::ImageRef::parse(&image)
                    .map_err(|e| e.to_string())
                    .and_then(|img| {
                        scan::block_on(client.retag(&img, insecure, &from, &to))
                            .map_err(|e| e.to_string())
                    });
                match r {
                    Ok(d) => {
                        tracing::info!(%image, %from, %to, digest = %d, "created tag (create_tag)");
                        Some(d)
                    }
                    Err(e) => {
                        diags.push(Diag::error(format!(
                            "{image}:{to}: create_tag could not create it from {from}: {e}"
                        )));
                        continue;
                    }
                }
            }
        };
        if let Some(list) = tags.snapshot.images.get_mut(&image) {
            list.tags.push(to.clone());
            if let Some(d) = digest {
                list.digests.insert(to, d);
            }
        }
    }
    diags
}
