//! Planning: repository files + tag lists → the exact edits to make.
//!
//! Everything here is pure. The caller reads the files (see [`crate::observe::repo`])
//! and supplies tag lists (from a registry scan or a snapshot); the plan
//! says which policy selected what, which bytes change, and what was not
//! applied and why. Nothing in this module touches the network or the disk,
//! so re-planning after someone else's push is cheap and cannot conflict.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::config::{Config, WriteScope};
use crate::core::diag::Diag;
use crate::core::tags::{TagList, Unobserved};
use crate::flux::layout::NamespaceFrom;
use crate::flux::{DigestReflection, ImageUpdateAutomation};
use crate::observe::repo::SourceFile;
use crate::policy::Policy;
use crate::setters::{self, Field, ObjectId, Replacement};

pub use crate::observe::objects::{
    Objects, automation_name, cluster_label, collect_objects, digest_requests, same_named_hint,
    takes, under,
};

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
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
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
            let list = tags_for(&repo.image).map_err(|e| {
                o.unobserved = true;
                e.to_string()
            })?;
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub line: usize,
    pub old: String,
    pub new: String,
    pub setter: String,
}

/// The changes to one object in one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectChanges {
    pub object: ObjectId,
    pub changes: Vec<Change>,
}

/// A file to rewrite.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The markers of a file's text, as [`setters::scan`] finds them,
/// remembered for the last few texts scanned on this thread. A ladder run
/// plans each image of a rung on the same marker files: one scan of each
/// text serves every image instead of one each (the scan is pure, so the
/// answer is the same).
pub fn scan(
    text: &std::sync::Arc<String>,
) -> Result<std::rc::Rc<Scanned>, setters::yaml::YamlError> {
    use std::hash::{Hash, Hasher};
    type Kept = Vec<(u64, std::sync::Arc<String>, std::rc::Rc<Scanned>)>;
    thread_local! {
        static KEPT: std::cell::RefCell<Kept> = const { std::cell::RefCell::new(Vec::new()) };
    }
    const KEEP: usize = 16;
    // The same text (by address) first: no hash of its bytes.
    let same = KEPT.with_borrow(|kept| {
        kept.iter()
            .find(|(_, t, _)| std::sync::Arc::ptr_eq(t, text))
            .map(|(_, _, s)| s.clone())
    });
    if let Some(s) = same {
        return Ok(s);
    }
    let mut h = rustc_hash::FxHasher::default();
    text.hash(&mut h);
    let key = h.finish();
    let found = KEPT.with_borrow(|kept| {
        kept.iter()
            .find(|(k, t, _)| *k == key && (std::sync::Arc::ptr_eq(t, text) || t == text))
            .map(|(_, _, s)| s.clone())
    });
    if let Some(s) = found {
        return Ok(s);
    }
    let scanned = std::rc::Rc::new(Scanned {
        scan: setters::scan(text)?,
        by_policy: Default::default(),
    });
    KEPT.with_borrow_mut(|kept| {
        if kept.len() >= KEEP {
            kept.remove(0);
        }
        kept.push((key, text.clone(), scanned.clone()));
    });
    Ok(scanned)
}

/// A file's markers ([`setters::FileScan`], which it derefs to), with an
/// index by the policy each names, built the first time it is asked for.
#[derive(Debug)]
pub struct Scanned {
    scan: setters::FileScan,
    by_policy: std::cell::OnceCell<HashMap<String, HashMap<String, Vec<usize>>>>,
}

impl std::ops::Deref for Scanned {
    type Target = setters::FileScan;
    fn deref(&self) -> &setters::FileScan {
        &self.scan
    }
}

impl Scanned {
    /// The indices into `setters` of the markers naming any policy of
    /// `policies` (namespace, name), in file order.
    pub fn setters_naming(
        &self,
        policies: &std::collections::BTreeSet<(String, String)>,
    ) -> Vec<usize> {
        let index = self.by_policy.get_or_init(|| {
            let mut index: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
            for (i, s) in self.scan.setters.iter().enumerate() {
                index
                    .entry(s.marker.namespace.clone())
                    .or_default()
                    .entry(s.marker.name.clone())
                    .or_default()
                    .push(i);
            }
            index
        });
        let mut out: Vec<usize> = policies
            .iter()
            .filter_map(|(ns, name)| index.get(ns)?.get(name))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out
    }
}

/// Compute the edits for every marker, given the policy outcomes.
pub fn mutate(
    files: &[SourceFile],
    objects: &Objects,
    outcomes: &[PolicyOutcome],
    write: &WriteScope,
) -> (Vec<FileChange>, Vec<Diag>) {
    mutate_scoped(files, objects, outcomes, write, None)
}

/// Policies a plan covers, by (namespace, name); `None`: all.
pub type PolicyScope<'a> = Option<&'a std::collections::BTreeSet<(String, String)>>;

/// [`mutate`], touching (and reporting on) only the markers of the
/// policies in `scope`: the others belong to another plan.
pub fn mutate_scoped(
    files: &[SourceFile],
    objects: &Objects,
    outcomes: &[PolicyOutcome],
    write: &WriteScope,
    scope: PolicyScope<'_>,
) -> (Vec<FileChange>, Vec<Diag>) {
    let mut by_key: HashMap<(&str, &str), Vec<&PolicyOutcome>> = HashMap::new();
    for o in outcomes {
        by_key
            .entry((o.namespace.as_str(), o.name.as_str()))
            .or_default()
            .push(o);
    }
    // The scope, for lookups by a marker's borrowed names.
    let in_scope: Option<std::collections::HashSet<(&str, &str)>> =
        scope.map(|sc| sc.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect());
    let covered =
        |ns: &str, name: &str| in_scope.as_ref().is_none_or(|sc| sc.contains(&(ns, name)));
    let mut diags = Vec::new();
    let mut changes = Vec::new();
    for f in files.iter().filter(|f| f.has_markers) {
        let scan = match scan(&f.text) {
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
        // The markers this plan covers, in file order (through the scan's
        // index when the plan is scoped).
        let picked: Vec<&setters::Setter> = match scope {
            Some(sc) => scan
                .setters_naming(sc)
                .into_iter()
                .map(|i| &scan.setters[i])
                .collect(),
            None => scan.setters.iter().collect(),
        };
        let mut recorded: HashMap<(&ObjectId, &str, &str), Recorded> = HashMap::new();
        for &s in &picked {
            let m = &s.marker;
            if !covered(&m.namespace, &m.name) {
                continue;
            }
            recorded
                .entry((&s.object, m.namespace.as_str(), m.name.as_str()))
                .or_default()
                .add(m.field, &s.value);
        }
        let mut reps: Vec<(Replacement, ObjectId, String, usize)> = Vec::new();
        for &s in &picked {
            let m = &s.marker;
            if !covered(&m.namespace, &m.name) {
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
            if !write.may_write(&f.rel) {
                diags.push(warn(format!(
                    "marker {m} would change {:?} to {new:?}, but {} is outside write_paths ({}); not written",
                    s.value,
                    f.rel,
                    write.patterns().join(", ")
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
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
) -> Plan {
    let (objects, diagnostics) = collect_objects(files, config);
    plan_objects(files, &objects, diagnostics, &config.write, tags_for)
}

/// [`plan`] for objects already collected.
pub fn plan_objects<'a>(
    files: &[SourceFile],
    objects: &Objects,
    diagnostics: Vec<Diag>,
    write: &WriteScope,
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
) -> Plan {
    plan_objects_scoped(files, objects, diagnostics, write, tags_for, None)
}

/// [`plan_objects`] for the markers of the policies in `scope` only.
pub fn plan_objects_scoped<'a>(
    files: &[SourceFile],
    objects: &Objects,
    mut diagnostics: Vec<Diag>,
    write: &WriteScope,
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
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
    let (files, more) = mutate_scoped(files, objects, &policies, write, scope);
    diagnostics.extend(more);
    Plan {
        policies,
        files,
        diagnostics,
    }
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
