//! Planning: repository files + tag lists → the exact edits to make.
//!
//! Everything here is pure. The caller reads the files (see [`crate::repo`])
//! and supplies tag lists (a snapshot today, a registry scan later); the plan
//! says which policy selected what, which bytes change, and what was not
//! applied and why. Nothing in this module touches the network or the disk,
//! so re-planning after someone else's push is cheap and cannot conflict.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::config::Config;
use crate::diag::Diag;
use crate::flux::layout::{Layout, NamespaceFrom};
use crate::flux::{
    DigestReflection, FluxObject, ImagePolicy, ImageRepository, ImageUpdateAutomation,
    read_document,
};
use crate::policy::Policy;
use crate::repo::SourceFile;
use crate::setters::{self, Field, ObjectId, Replacement};
use crate::snapshot::TagList;
use crate::yaml::for_each_document_containing;

/// Every image-automation object in the repo and config.
#[derive(Debug, Default, Clone)]
pub struct Objects {
    pub repositories: Vec<ImageRepository>,
    pub policies: Vec<ImagePolicy>,
    pub automations: Vec<ImageUpdateAutomation>,
    /// `kubernetes.io/dockerconfigjson` Secrets found in the repo (e.g. SOPS-
    /// decrypted in CI): (namespace, name) → the Docker config JSON.
    pub pull_secrets: BTreeMap<(String, String), String>,
    /// Secrets with a `ca.crt` key: (namespace, name) → PEM (`certSecretRef`).
    pub ca_secrets: BTreeMap<(String, String), String>,
    /// Objects that were found but are invalid (their errors are reported
    /// on their own): (kind, namespace, name). A marker naming an invalid
    /// policy is then not told the policy "does not exist".
    pub invalid: std::collections::BTreeSet<(String, String, String)>,
    /// Where Flux applies each file: clusters, Kustomizations, namespaces.
    pub layout: std::sync::Arc<Layout>,
}

impl Objects {
    /// The ImageRepository a policy points at: same name and namespace, in
    /// the policy's cluster first, else one that belongs to no cluster.
    pub fn repository_of(&self, p: &ImagePolicy) -> Option<&ImageRepository> {
        let named = |r: &&ImageRepository| {
            r.meta.name == p.repository_name && r.meta.namespace == p.repository_namespace
        };
        self.repositories
            .iter()
            .filter(named)
            .find(|r| r.meta.cluster == p.meta.cluster)
            .or_else(|| {
                self.repositories
                    .iter()
                    .filter(named)
                    .find(|r| r.meta.cluster.is_empty() || p.meta.cluster.is_empty())
            })
    }
}

/// The identity of a document that failed to read, as far as it can be
/// told: (kind, its own namespace or "", name).
fn identity(doc: &crate::yaml::Node) -> Option<(String, String, String)> {
    let kind = doc.get("kind")?.as_str()?.to_string();
    let meta = doc.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let namespace = meta
        .get("namespace")
        .and_then(crate::yaml::Node::as_str)
        .unwrap_or("")
        .to_string();
    Some((kind, namespace, name))
}

/// Where one object of `rel` lands: (cluster, namespace, from), with
/// hoist.toml's `[namespaces]` for the ones nothing in the repository sets.
fn landings(
    layout: &Layout,
    config: &Config,
    rel: &str,
    own: &str,
) -> Vec<(String, String, NamespaceFrom)> {
    let mut out = crate::flux::layout::landings(layout, rel, own);
    for l in &mut out {
        if l.2 == NamespaceFrom::Unset
            && let Some((glob, ns)) = config.namespace_for(rel)
        {
            l.1 = ns.to_string();
            l.2 = NamespaceFrom::Config(glob.to_string());
        }
    }
    out
}

/// Copies of `meta`'s object, one per landing.
fn place<T: Clone>(
    item: T,
    meta: impl Fn(&mut T) -> &mut crate::flux::Meta,
    landings: &[(String, String, NamespaceFrom)],
) -> Vec<T> {
    landings
        .iter()
        .map(|(cluster, ns, from)| {
            let mut it = item.clone();
            let m = meta(&mut it);
            m.cluster = cluster.clone();
            m.namespace = ns.clone();
            m.namespace_from = from.clone();
            it
        })
        .collect()
}

/// Every marker reference in the marker files: (namespace, name, file, line).
fn marker_refs(files: &[SourceFile]) -> Vec<(String, String, &str, usize)> {
    let finder = memchr::memmem::Finder::new(crate::setters::NEEDLE);
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.has_markers) {
        let b = f.text.as_bytes();
        for at in finder.find_iter(b) {
            let rest = &f.text[at + crate::setters::NEEDLE.len()..];
            let Some(rest) = rest.trim_start().strip_prefix(':') else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some(value) = rest.split('"').next() else {
                continue;
            };
            if let Ok(m) = crate::setters::parse_ref(value) {
                let line = memchr::memchr_iter(b'\n', &b[..at]).count() + 1;
                out.push((m.namespace, m.name, f.rel.as_str(), line));
            }
        }
    }
    out
}

/// Objects whose namespace nothing in the repository sets take the one
/// namespace their markers name (D2: the `targetNamespace` is in another
/// repository); their ImageRepositories follow them. The rest read as
/// `default`.
fn bind_unset(objects: &mut Objects, files: &[SourceFile]) {
    let unset = |m: &crate::flux::Meta| m.namespace_from == NamespaceFrom::Unset;
    if !objects.policies.iter().any(|p| unset(&p.meta)) {
        for m in objects
            .repositories
            .iter_mut()
            .map(|r| &mut r.meta)
            .chain(objects.automations.iter_mut().map(|a| &mut a.meta))
            .filter(|m| m.namespace.is_empty())
        {
            m.namespace = "default".into();
        }
        return;
    }
    let refs = marker_refs(files);
    let layout = objects.layout.clone();
    let compatible = |cluster: &str, file: &str| {
        let cs = layout.clusters_of(file);
        cluster.is_empty() || cs.is_empty() || cs.contains(cluster)
    };
    let explicit: Vec<(String, String, String)> = objects
        .policies
        .iter()
        .filter(|p| !unset(&p.meta))
        .map(|p| {
            (
                p.meta.cluster.clone(),
                p.meta.namespace.clone(),
                p.meta.name.clone(),
            )
        })
        .collect();
    let mut bound: Vec<(String, String, String, String)> = Vec::new();
    let names: Vec<(String, String)> = objects
        .policies
        .iter()
        .filter(|p| unset(&p.meta))
        .map(|p| (p.meta.cluster.clone(), p.meta.name.clone()))
        .collect();
    for p in objects.policies.iter_mut().filter(|p| unset(&p.meta)) {
        let (cluster, name) = (p.meta.cluster.clone(), p.meta.name.clone());
        let alone = names
            .iter()
            .filter(|n| **n == (cluster.clone(), name.clone()))
            .count()
            == 1;
        let mut seen: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        for (ns, n, file, line) in &refs {
            if *n == name
                && compatible(&cluster, file)
                && !explicit.iter().any(|(c, e_ns, e_n)| {
                    e_ns == ns && *e_n == name && (*c == cluster || c.is_empty())
                })
            {
                seen.entry(ns.as_str()).or_insert((file, *line));
            }
        }
        if alone && seen.len() == 1 {
            let (ns, (file, line)) = seen.into_iter().next().expect("one");
            p.meta.namespace = ns.to_string();
            p.meta.namespace_from = NamespaceFrom::Markers(format!("{file}:{line}"));
            if !p.repository_namespace_set {
                p.repository_namespace = ns.to_string();
                bound.push((
                    cluster.clone(),
                    p.repository_name.clone(),
                    ns.to_string(),
                    format!("{file}:{line}"),
                ));
            }
        } else {
            p.meta.namespace = "default".into();
            if !p.repository_namespace_set {
                p.repository_namespace = "default".into();
            }
        }
    }
    for r in objects.repositories.iter_mut().filter(|r| unset(&r.meta)) {
        let mut to: Vec<&(String, String, String, String)> = bound
            .iter()
            .filter(|(c, n, _, _)| *n == r.meta.name && *c == r.meta.cluster)
            .collect();
        to.dedup_by(|a, b| a.2 == b.2);
        match to.as_slice() {
            [(_, _, ns, at)] => {
                r.meta.namespace = ns.clone();
                r.meta.namespace_from = NamespaceFrom::Markers(at.clone());
            }
            _ => r.meta.namespace = "default".into(),
        }
    }
    for a in objects.automations.iter_mut().filter(|a| unset(&a.meta)) {
        a.meta.namespace = "default".into();
    }
}

/// A file whose objects land in two namespaces of one cluster.
fn namespace_conflicts(layout: &Layout, rel: &str, diags: &mut Vec<Diag>) {
    let mut by_cluster: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for p in layout.placements(rel).iter().filter(|p| p.resource) {
        let ns = p.namespace.as_ref().map_or("(its own)", |n| n.0.as_str());
        by_cluster
            .entry(p.cluster.as_str())
            .or_default()
            .entry(ns)
            .or_insert(p.via.as_str());
    }
    for (cluster, nss) in by_cluster.into_iter().filter(|(_, n)| n.len() > 1) {
        let list: Vec<String> = nss
            .iter()
            .map(|(ns, via)| format!("{ns} (through {via})"))
            .collect();
        let where_ = if cluster.is_empty() {
            String::new()
        } else {
            format!(" of cluster {cluster}")
        };
        diags.push(
            Diag::warning(format!(
                "the objects in this file land in {} namespaces{where_}: {}; markers must name the one they mean",
                nss.len(),
                list.join(", ")
            ))
            .at(rel, None),
        );
    }
}

/// Read Flux objects from the files and merge the config's declarations.
pub fn collect_objects(files: &[SourceFile], config: &Config) -> (Objects, Vec<Diag>) {
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.rel.as_str(), f.text.as_str()))
        .collect();
    let layout = crate::flux::layout::layout(&pairs);
    let mut diags = layout.diags.clone();
    let mut objects = Objects::default();
    for f in files.iter().filter(|f| f.has_flux_objects) {
        let mut found = false;
        let res = for_each_document_containing(&f.text, crate::flux::NEEDLE, |doc| {
            match read_document(&doc, &f.rel) {
                None => {}
                Some(Err(errs)) => {
                    diags.extend(errs);
                    if let Some((kind, own, name)) = identity(&doc) {
                        for (_, ns, _) in landings(&layout, config, &f.rel, &own) {
                            let ns = if ns.is_empty() { "default".into() } else { ns };
                            objects.invalid.insert((kind.clone(), ns, name.clone()));
                        }
                    }
                }
                Some(Ok(o)) => {
                    found = true;
                    match o {
                        FluxObject::Repository(r) => {
                            let l = landings(&layout, config, &f.rel, &r.meta.namespace);
                            objects.repositories.extend(place(r, |r| &mut r.meta, &l));
                        }
                        FluxObject::Policy(p) => {
                            let l = landings(&layout, config, &f.rel, &p.meta.namespace);
                            for mut p in place(p, |p| &mut p.meta, &l) {
                                if !p.repository_namespace_set {
                                    p.repository_namespace = p.meta.namespace.clone();
                                }
                                objects.policies.push(p);
                            }
                        }
                        FluxObject::Automation(a) => {
                            let l = landings(&layout, config, &f.rel, &a.meta.namespace);
                            objects.automations.extend(place(a, |a| &mut a.meta, &l));
                        }
                    }
                }
            }
        });
        if let Err(e) = res {
            diags
                .push(Diag::error(format!("invalid YAML: {}", e.message)).at(&f.rel, Some(e.line)));
        }
        if found {
            namespace_conflicts(&layout, &f.rel, &mut diags);
        }
    }
    // A Secret lands where Flux puts it, as the objects that name it do.
    let secret_keys = |doc: &crate::yaml::Node, rel: &str, name: &str| -> Vec<(String, String)> {
        let own = doc
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(crate::yaml::Node::as_str)
            .unwrap_or("");
        landings(&layout, config, rel, own)
            .into_iter()
            .map(|(_, ns, _)| {
                let ns = if ns.is_empty() { "default".into() } else { ns };
                (ns, name.to_string())
            })
            .collect()
    };
    for f in files.iter().filter(|f| f.has_pull_secrets) {
        let _ = for_each_document_containing(&f.text, crate::repo::SECRET_NEEDLE, |doc| {
            if let Some(((_, name), json)) = crate::flux::read_pull_secret(&doc) {
                for key in secret_keys(&doc, &f.rel, &name) {
                    objects.pull_secrets.insert(key, json.clone());
                }
            }
        });
        let _ = for_each_document_containing(&f.text, crate::repo::CA_NEEDLE, |doc| {
            if let Some(((_, name), pem)) = crate::flux::read_secret_key(&doc, "ca.crt") {
                for key in secret_keys(&doc, &f.rel, &name) {
                    objects.ca_secrets.insert(key, pem.clone());
                }
            }
        });
    }
    objects.layout = std::sync::Arc::new(layout);
    objects
        .repositories
        .extend(config.repositories.iter().cloned());
    objects.policies.extend(config.policies.iter().cloned());
    bind_unset(&mut objects, files);
    dedupe(
        &mut objects.repositories,
        |r| (&r.meta, "ImageRepository"),
        &mut diags,
    );
    dedupe(
        &mut objects.policies,
        |p| (&p.meta, "ImagePolicy"),
        &mut diags,
    );
    dedupe(
        &mut objects.automations,
        |a| (&a.meta, "ImageUpdateAutomation"),
        &mut diags,
    );
    (objects, diags)
}

fn dedupe<T>(
    items: &mut Vec<T>,
    meta: impl Fn(&T) -> (&crate::flux::Meta, &'static str),
    diags: &mut Vec<Diag>,
) {
    let mut seen: HashMap<(String, String, String), crate::flux::Origin> = HashMap::new();
    items.retain(|item| {
        let (m, kind) = meta(item);
        let key = (m.cluster.clone(), m.namespace.clone(), m.name.clone());
        if let Some(first) = seen.get(&key) {
            // The same file reached twice in one cluster and namespace is
            // one object, not a second declaration.
            if first.file == m.origin.file && first.line == m.origin.line {
                return false;
            }
            let cluster = if m.cluster.is_empty() {
                String::new()
            } else {
                format!(" in cluster {}", m.cluster)
            };
            diags.push(
                Diag::warning(format!(
                    "{kind} {}/{}{cluster} is declared again; the first declaration ({}:{}) wins",
                    m.namespace, m.name, first.file, first.line
                ))
                .at(&m.origin.file, Some(m.origin.line)),
            );
            false
        } else {
            seen.insert(key, m.origin.clone());
            true
        }
    });
}

/// What a policy selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selected {
    pub image: String,
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Selected {
    /// `image:tag` or `image:tag@digest`.
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}:{}@{}", self.image, self.tag, d),
            None => format!("{}:{}", self.image, self.tag),
        }
    }
}

/// The outcome of one policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyOutcome {
    /// The cluster that declares it (`""`: none in particular).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub namespace: String,
    /// Where the namespace came from, when not its own `metadata.namespace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_from: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub selected: Option<Selected>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    #[serde(skip)]
    pub digest_reflection: DigestReflection,
    /// The policy or its repository is suspended: no result, no failure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
    /// No tag list for its image (not in the snapshot given, or the scan
    /// failed, which is reported on its own): no result, not the policy's
    /// failure.
    #[serde(skip)]
    pub unobserved: bool,
    #[serde(skip)]
    pub origin: crate::flux::Origin,
}

/// Digest reflection as Flux does it, given the previously reflected ref.
///
/// `Never` clears the digest; `Always` resolves again; `IfNotPresent` keeps
/// the previous digest while the tag is unchanged and a digest was recorded.
pub fn reflect_digest(
    policy: DigestReflection,
    previous: Option<(&str, &str)>,
    tag: &str,
    resolve: impl FnOnce() -> Option<String>,
) -> Option<String> {
    match policy {
        DigestReflection::Never => None,
        DigestReflection::Always => resolve(),
        DigestReflection::IfNotPresent => match previous {
            Some((t, d)) if t == tag && !d.is_empty() => Some(d.to_string()),
            _ => resolve(),
        },
    }
}

/// Run every policy against the tag lists `tags_for(image)` supplies.
pub fn decide<'a>(
    objects: &Objects,
    tags_for: impl Fn(&str) -> Result<&'a TagList, String>,
) -> Vec<PolicyOutcome> {
    let mut out = Vec::new();
    for p in &objects.policies {
        let mut o = PolicyOutcome {
            cluster: p.meta.cluster.clone(),
            namespace: p.meta.namespace.clone(),
            namespace_from: (p.meta.namespace_from != NamespaceFrom::Metadata)
                .then(|| p.meta.namespace_from.to_string()),
            name: p.meta.name.clone(),
            image: None,
            selected: None,
            reference: None,
            error: None,
            labels: p.meta.labels.clone(),
            digest_reflection: p.digest_reflection,
            suspended: p.suspend,
            unobserved: false,
            origin: p.meta.origin.clone(),
        };
        let repo = objects.repository_of(p);
        let result = (|| {
            if p.suspend {
                return Err("policy is suspended".to_string());
            }
            let repo = repo.ok_or_else(|| {
                let key = (
                    "ImageRepository".to_string(),
                    p.repository_namespace.clone(),
                    p.repository_name.clone(),
                );
                let why = if objects.invalid.contains(&key) {
                    "is invalid (see its errors)"
                } else {
                    "not found"
                };
                format!(
                    "ImageRepository {}/{} {why}",
                    p.repository_namespace, p.repository_name
                )
            })?;
            o.image = Some(repo.image.clone());
            if repo.suspend {
                o.suspended = true;
                return Err(format!(
                    "ImageRepository {}/{} is suspended",
                    repo.meta.namespace, repo.meta.name
                ));
            }
            let mut spec = p.spec.clone();
            spec.exclusion_list = repo.exclusion_list.clone();
            let policy = Policy::from_spec(&spec).map_err(|e| e.to_string())?;
            let list = tags_for(&repo.image).inspect_err(|_| o.unobserved = true)?;
            let sel = policy.select(&list.tags).map_err(|e| e.to_string())?;
            let digest = reflect_digest(p.digest_reflection, None, &sel.tag, || {
                list.digests.get(&sel.tag).cloned()
            });
            if p.digest_reflection != DigestReflection::Never && digest.is_none() {
                return Err(format!("no digest known for {}:{}", repo.image, sel.tag));
            }
            Ok(Selected {
                image: repo.image.clone(),
                tag: sel.tag,
                digest,
            })
        })();
        match result {
            Ok(s) => {
                o.reference = Some(s.reference());
                o.selected = Some(s);
            }
            Err(e) => o.error = Some(e),
        }
        out.push(o);
    }
    out
}

/// One changed scalar.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub line: usize,
    pub old: String,
    pub new: String,
    pub setter: String,
}

/// The changes to one object in one file.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectChanges {
    pub object: ObjectId,
    pub changes: Vec<Change>,
}

/// A file to rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub file: String,
    pub objects: Vec<ObjectChanges>,
    #[serde(skip)]
    pub original: std::sync::Arc<String>,
    #[serde(skip)]
    pub updated: std::sync::Arc<String>,
}

/// The whole plan.
#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub policies: Vec<PolicyOutcome>,
    pub files: Vec<FileChange>,
    pub diagnostics: Vec<Diag>,
}

impl Plan {
    pub fn change_count(&self) -> usize {
        change_count(&self.files)
    }
}

/// How many markers `files` change.
pub fn change_count(files: &[FileChange]) -> usize {
    files
        .iter()
        .flat_map(|f| &f.objects)
        .map(|o| o.changes.len())
        .sum()
}

/// The value a marker should hold once the digest is decided.
fn value_of(field: Field, s: &Selected) -> String {
    match field {
        Field::Image => s.reference(),
        Field::Tag => s.tag.clone(),
        Field::Name => s.image.clone(),
        Field::Digest => s.digest.clone().unwrap_or_default(),
    }
}

/// What one document currently records for one policy, read from all its
/// markers of that policy: the image name, tag and digest. This is hoist's
/// stand-in for the previous `status.latestRef` Flux keeps in the cluster.
#[derive(Debug, Default, Clone)]
pub(crate) struct Recorded {
    pub(crate) image: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl Recorded {
    pub(crate) fn add(&mut self, field: Field, value: &str) {
        match field {
            Field::Tag => self.tag = Some(value.to_string()),
            Field::Digest => self.digest = Some(value.to_string()),
            Field::Name => self.image = Some(value.to_string()),
            Field::Image => {
                let (reference, digest) = match value.split_once('@') {
                    Some((r, d)) => (r, Some(d)),
                    None => (value, None),
                };
                // The tag follows the last `:` after the last `/` (a
                // registry port is not a tag).
                let slash = reference.rfind('/').map_or(0, |i| i + 1);
                if let Some(colon) = reference[slash..].rfind(':') {
                    self.image = Some(reference[..slash + colon].to_string());
                    self.tag = Some(reference[slash + colon + 1..].to_string());
                } else {
                    self.image = Some(reference.to_string());
                }
                if let Some(d) = digest {
                    self.digest = Some(d.to_string());
                }
            }
        }
    }

    /// The previous (tag, digest) for [`reflect_digest`], if this document
    /// records one for the same image.
    fn previous(&self, image: &str) -> Option<(&str, &str)> {
        if self.image.as_deref().is_some_and(|i| i != image) {
            return None;
        }
        Some((self.tag.as_deref()?, self.digest.as_deref().unwrap_or("")))
    }
}

/// Does active automation `a` take policy `p` (namespace, cluster,
/// `policySelector`)?
pub fn takes(a: &ImageUpdateAutomation, p: &ImagePolicy) -> bool {
    !a.suspend
        && a.meta.namespace == p.meta.namespace
        && (a.meta.cluster.is_empty()
            || p.meta.cluster.is_empty()
            || a.meta.cluster == p.meta.cluster)
        && a.policy_selector
            .as_ref()
            .is_none_or(|sel| sel.matches(&p.meta.labels))
}

/// Is `path` inside directory `dir` (`""` is the root)?
pub fn under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// For a marker naming a policy that does not exist: `; there is ns/name
/// (file:line, namespace from …)` for the policies of that name that do.
pub fn same_named_hint(objects: &Objects, name: &str) -> String {
    let found: Vec<String> = objects
        .policies
        .iter()
        .filter(|p| p.meta.name == name)
        .map(|p| {
            format!(
                "{}/{} ({}:{}, namespace from {})",
                p.meta.namespace,
                p.meta.name,
                p.meta.origin.file,
                p.meta.origin.line,
                p.meta.namespace_from
            )
        })
        .collect();
    if found.is_empty() {
        String::new()
    } else {
        format!("; there is {}", found.join(", "))
    }
}

/// `ns/name`, with its cluster when it has one.
pub fn automation_name(a: &ImageUpdateAutomation) -> String {
    if a.meta.cluster.is_empty() {
        format!("{}/{}", a.meta.namespace, a.meta.name)
    } else {
        format!(
            "{}/{} (cluster {})",
            a.meta.namespace, a.meta.name, a.meta.cluster
        )
    }
}

fn cluster_label(c: &str) -> String {
    if c.is_empty() {
        "the repository".into()
    } else {
        format!("cluster {c}")
    }
}

/// Compute the edits for every marker, given the policy outcomes.
pub fn mutate(
    files: &[SourceFile],
    objects: &Objects,
    outcomes: &[PolicyOutcome],
    config: &Config,
) -> (Vec<FileChange>, Vec<Diag>) {
    mutate_scoped(files, objects, outcomes, config, None)
}

/// Policies a plan covers, by (namespace, name); `None`: all.
pub type PolicyScope<'a> = Option<&'a std::collections::BTreeSet<(String, String)>>;

/// [`mutate`], touching (and reporting on) only the markers of the
/// policies in `scope`: the others belong to another plan.
pub fn mutate_scoped(
    files: &[SourceFile],
    objects: &Objects,
    outcomes: &[PolicyOutcome],
    config: &Config,
    scope: PolicyScope<'_>,
) -> (Vec<FileChange>, Vec<Diag>) {
    let mut by_key: HashMap<(&str, &str), Vec<&PolicyOutcome>> = HashMap::new();
    for o in outcomes {
        by_key
            .entry((o.namespace.as_str(), o.name.as_str()))
            .or_default()
            .push(o);
    }
    let mut diags = Vec::new();
    let mut changes = Vec::new();
    for f in files.iter().filter(|f| f.has_markers) {
        let scan = match setters::scan(&f.text) {
            Ok(s) => s,
            Err(e) => {
                diags.push(
                    Diag::error(format!(
                        "invalid YAML: {}; no markers in this file were applied",
                        e.message
                    ))
                    .at(&f.rel, Some(e.line)),
                );
                continue;
            }
        };
        for p in &scan.problems {
            diags.push(Diag::warning(p.message.clone()).at(&f.rel, Some(p.line)));
        }
        let file_clusters = objects.layout.clusters_of(&f.rel);
        let mut overlaps: std::collections::BTreeSet<Vec<String>> = Default::default();
        let mut recorded: HashMap<(&ObjectId, &str, &str), Recorded> = HashMap::new();
        for s in &scan.setters {
            let m = &s.marker;
            recorded
                .entry((&s.object, m.namespace.as_str(), m.name.as_str()))
                .or_default()
                .add(m.field, &s.value);
        }
        let mut reps: Vec<(Replacement, ObjectId, String, usize)> = Vec::new();
        for s in &scan.setters {
            let m = &s.marker;
            if scope.is_some_and(|sc| !sc.contains(&(m.namespace.clone(), m.name.clone()))) {
                continue;
            }
            let warn = |msg: String| Diag::warning(msg).at(&f.rel, Some(s.marker_line));
            let named = by_key
                .get(&(m.namespace.as_str(), m.name.as_str()))
                .map_or(&[][..], Vec::as_slice);
            // The clusters whose policies this marker may mean: those of the
            // automations that update the file, else those that apply it.
            let mut allowed: Option<std::collections::BTreeSet<&str>> =
                (!file_clusters.is_empty()).then(|| file_clusters.clone());
            let mut same_ns: Vec<&ImageUpdateAutomation> = Vec::new();
            if !objects.automations.is_empty() {
                let covering: Vec<_> = objects
                    .automations
                    .iter()
                    .filter(|a| under(&f.rel, &a.update_path))
                    .collect();
                if covering.is_empty() {
                    diags.push(warn(format!("marker {m} is not under the update.path of any ImageUpdateAutomation; not applied")));
                    continue;
                }
                same_ns = covering
                    .iter()
                    .copied()
                    .filter(|a| a.meta.namespace == m.namespace)
                    .collect();
                if same_ns.is_empty() {
                    let names: Vec<String> = covering.iter().map(|a| automation_name(a)).collect();
                    diags.push(warn(format!(
                        "marker {m} names a policy in namespace {:?}, but this file is updated by {} (policies of another namespace never apply)",
                        m.namespace,
                        names.join(", ")
                    )));
                    continue;
                }
                if same_ns.iter().all(|a| a.suspend) {
                    diags.push(warn(format!(
                        "marker {m}: its ImageUpdateAutomation is suspended; not applied"
                    )));
                    continue;
                }
                allowed = (!same_ns.iter().any(|a| a.meta.cluster.is_empty()))
                    .then(|| same_ns.iter().map(|a| a.meta.cluster.as_str()).collect());
            }
            let mut candidates: Vec<&PolicyOutcome> = named
                .iter()
                .copied()
                .filter(|o| {
                    o.cluster.is_empty()
                        || allowed
                            .as_ref()
                            .is_none_or(|a| a.contains(o.cluster.as_str()))
                })
                .collect();
            if candidates.len() > 1 && !file_clusters.is_empty() {
                let narrow: Vec<&PolicyOutcome> = candidates
                    .iter()
                    .copied()
                    .filter(|o| o.cluster.is_empty() || file_clusters.contains(o.cluster.as_str()))
                    .collect();
                if !narrow.is_empty() {
                    candidates = narrow;
                }
            }
            if let [first, rest @ ..] = candidates.as_slice()
                && rest.iter().any(|o| {
                    o.selected != first.selected || o.digest_reflection != first.digest_reflection
                })
            {
                let list: Vec<String> = candidates
                    .iter()
                    .map(|o| {
                        format!(
                            "{} ({}:{})",
                            cluster_label(&o.cluster),
                            o.origin.file,
                            o.origin.line
                        )
                    })
                    .collect();
                diags.push(warn(format!(
                    "marker {m}: ImagePolicy {}/{} is declared by {} and they disagree; this file is applied by {}, so which one is meant cannot be told; not applied",
                    m.namespace,
                    m.name,
                    list.join(", "),
                    if file_clusters.is_empty() {
                        "no cluster".to_string()
                    } else {
                        file_clusters.iter().copied().collect::<Vec<_>>().join(", ")
                    }
                )));
                continue;
            }
            let outcome = candidates.first();
            if let Some(o) = outcome
                && !same_ns.is_empty()
            {
                let selecting: Vec<&&ImageUpdateAutomation> = same_ns
                    .iter()
                    .filter(|a| {
                        !a.suspend
                            && (a.meta.cluster.is_empty()
                                || o.cluster.is_empty()
                                || a.meta.cluster == o.cluster)
                            && a.policy_selector
                                .as_ref()
                                .is_none_or(|sel| sel.matches(&o.labels))
                    })
                    .collect();
                if selecting.len() > 1 {
                    let names: Vec<String> = selecting.iter().map(|a| automation_name(a)).collect();
                    if overlaps.insert(names.clone()) {
                        diags.push(warn(format!(
                            "marker {m} is taken by {} ImageUpdateAutomations ({}): their update.path and policySelector both cover it, so Flux would write it from each; hoist writes it once",
                            names.len(),
                            names.join(", ")
                        )));
                    }
                }
                if selecting.is_empty() {
                    diags.push(warn(format!("marker {m}: policy is not selected by the automation's policySelector; not applied")));
                    continue;
                }
            }
            let Some(outcome) = outcome else {
                let key = (
                    "ImagePolicy".to_string(),
                    m.namespace.clone(),
                    m.name.clone(),
                );
                // A marker that can never apply fails the plan (a CI gate
                // on `plan --exit-code` must not pass it); a policy merely
                // outside this plan's scope never gets here.
                let fail = |msg: String| Diag::error(msg).at(&f.rel, Some(s.marker_line));
                if objects.invalid.contains(&key) {
                    diags.push(fail(format!(
                        "marker {m}: ImagePolicy {}/{} is invalid (see its errors); not applied",
                        m.namespace, m.name
                    )));
                    continue;
                }
                let hint = same_named_hint(objects, &m.name);
                diags.push(fail(format!(
                    "marker {m} names ImagePolicy {}/{}, which does not exist{hint}",
                    m.namespace, m.name
                )));
                continue;
            };
            let Some(sel) = &outcome.selected else {
                diags.push(warn(format!(
                    "marker {m}: policy has no result ({}); not applied",
                    outcome.error.as_deref().unwrap_or("unknown")
                )));
                continue;
            };
            // Digest reflection, one path for every marker form: the
            // document's recorded tag and digest play Flux's previous ref.
            let previous = recorded
                .get(&(&s.object, m.namespace.as_str(), m.name.as_str()))
                .and_then(|r| r.previous(&sel.image));
            let chosen = Selected {
                digest: reflect_digest(outcome.digest_reflection, previous, &sel.tag, || {
                    sel.digest.clone()
                }),
                ..sel.clone()
            };
            let new = value_of(m.field, &chosen);
            if new == s.value {
                continue;
            }
            if !config.may_write(&f.rel) {
                diags.push(warn(format!(
                    "marker {m} would change {:?} to {new:?}, but {} is outside write_paths ({}); not written",
                    s.value,
                    f.rel,
                    config.write_patterns.join(", ")
                )));
                continue;
            }
            let text = setters::render(s.style, &new);
            reps.push((
                Replacement {
                    span: s.span.clone(),
                    old: s.value.clone(),
                    new,
                    text,
                },
                s.object.clone(),
                m.to_string(),
                s.line,
            ));
        }
        if reps.is_empty() {
            continue;
        }
        reps.sort_by_key(|r| r.0.span.start);
        reps.dedup_by(|a, b| a.0.span == b.0.span);
        let plain: Vec<Replacement> = reps.iter().map(|r| r.0.clone()).collect();
        let updated = match setters::apply_verified(&f.text, &plain) {
            Ok(u) => u,
            Err(e) => {
                diags.push(Diag::error(e.to_string()).at(&f.rel, None));
                continue;
            }
        };
        let mut objects_out: Vec<ObjectChanges> = Vec::new();
        for (rep, object, setter, line) in reps {
            let change = Change {
                line,
                old: rep.old,
                new: rep.new,
                setter,
            };
            match objects_out.iter_mut().find(|o| o.object == object) {
                Some(o) => o.changes.push(change),
                None => objects_out.push(ObjectChanges {
                    object,
                    changes: vec![change],
                }),
            }
        }
        changes.push(FileChange {
            file: f.rel.clone(),
            objects: objects_out,
            original: f.text.clone(),
            updated: updated.into(),
        });
    }
    (changes, diags)
}

/// The whole pipeline: objects → decisions → edits.
pub fn plan<'a>(
    files: &[SourceFile],
    config: &Config,
    tags_for: impl Fn(&str) -> Result<&'a TagList, String>,
) -> Plan {
    let (objects, diagnostics) = collect_objects(files, config);
    plan_objects(files, &objects, diagnostics, config, tags_for)
}

/// [`plan`] for objects already collected.
pub fn plan_objects<'a>(
    files: &[SourceFile],
    objects: &Objects,
    diagnostics: Vec<Diag>,
    config: &Config,
    tags_for: impl Fn(&str) -> Result<&'a TagList, String>,
) -> Plan {
    plan_objects_scoped(files, objects, diagnostics, config, tags_for, None)
}

/// [`plan_objects`] for the markers of the policies in `scope` only.
pub fn plan_objects_scoped<'a>(
    files: &[SourceFile],
    objects: &Objects,
    mut diagnostics: Vec<Diag>,
    config: &Config,
    tags_for: impl Fn(&str) -> Result<&'a TagList, String>,
    scope: PolicyScope<'_>,
) -> Plan {
    let policies = decide(objects, tags_for);
    // A policy that could not decide is an error of the run (a suspended
    // or unobserved one is not); its markers say why they were not applied.
    for o in policies.iter().filter(|o| !o.suspended && !o.unobserved) {
        if let Some(e) = &o.error {
            diagnostics.push(
                Diag::error(format!("ImagePolicy {}/{}: {e}", o.namespace, o.name))
                    .at(&o.origin.file, Some(o.origin.line)),
            );
        }
    }
    let (files, more) = mutate_scoped(files, objects, &policies, config, scope);
    diagnostics.extend(more);
    Plan {
        policies,
        files,
        diagnostics,
    }
}

/// Which `(image, insecure, tag)` digests the policies that reflect digests
/// will need, given the tag lists: the tag each of them selects.
pub fn digest_requests<'a>(
    objects: &Objects,
    tags_for: impl Fn(&str) -> Result<&'a TagList, String>,
) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    for p in &objects.policies {
        if p.digest_reflection == DigestReflection::Never || p.suspend {
            continue;
        }
        let Some(repo) = objects.repository_of(p) else {
            continue;
        };
        let mut spec = p.spec.clone();
        spec.exclusion_list = repo.exclusion_list.clone();
        let (Ok(policy), Ok(list)) = (Policy::from_spec(&spec), tags_for(&repo.image)) else {
            continue;
        };
        if let Ok(sel) = policy.select(&list.tags) {
            out.push((repo.image.clone(), repo.insecure, sel.tag));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_reflection_transitions() {
        use DigestReflection::*;
        let d2 = || Some("D2".to_string());
        assert_eq!(reflect_digest(Never, Some(("v1", "D1")), "v1", d2), None);
        assert_eq!(
            reflect_digest(Always, Some(("v1", "D1")), "v1", d2).as_deref(),
            Some("D2")
        );
        assert_eq!(
            reflect_digest(IfNotPresent, Some(("v1", "D1")), "v1", d2).as_deref(),
            Some("D1")
        );
        assert_eq!(
            reflect_digest(IfNotPresent, Some(("v1", "D1")), "v2", d2).as_deref(),
            Some("D2")
        );
        assert_eq!(
            reflect_digest(IfNotPresent, Some(("v1", "")), "v1", d2).as_deref(),
            Some("D2")
        );
        assert_eq!(
            reflect_digest(IfNotPresent, None, "v1", d2).as_deref(),
            Some("D2")
        );
    }

    #[test]
    fn recorded_state_from_markers() {
        let mut r = Recorded::default();
        r.add(Field::Image, "reg:5000/app:1.0.0@sha256:old");
        assert_eq!(r.previous("reg:5000/app"), Some(("1.0.0", "sha256:old")));
        assert_eq!(r.previous("reg:5000/other"), None);
        let mut r = Recorded::default();
        r.add(Field::Image, "reg:5000/app");
        assert_eq!(r.previous("reg:5000/app"), None);
        let mut r = Recorded::default();
        r.add(Field::Digest, "sha256:old");
        r.add(Field::Tag, "1.0.0");
        assert_eq!(r.previous("any"), Some(("1.0.0", "sha256:old")));
    }

    #[test]
    fn under_paths() {
        assert!(under("a/b.yaml", ""));
        assert!(under("clusters/dev/x.yaml", "clusters/dev"));
        assert!(!under("clusters/dev2/x.yaml", "clusters/dev"));
    }
}
