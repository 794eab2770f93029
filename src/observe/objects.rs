//! The Flux objects of a repository, placed as Flux would place them: read
//! from the files (and hoist.toml's declarations), each landing in the
//! cluster and namespace the layout gives it (`crate::flux::layout`).
//! What the later stages decide on.
use std::collections::{BTreeMap, HashMap};

use crate::config::Config;
use crate::core::diag::Diag;
use crate::core::tags::{TagList, Unobserved};
use crate::flux::layout::{Layout, NamespaceFrom};
use crate::flux::{
    DigestReflection, FluxObject, ImagePolicy, ImageRepository, ImageUpdateAutomation,
    read_document,
};
use crate::observe::repo::SourceFile;
use crate::policy::Policy;
use crate::setters::yaml::for_each_document_containing;

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
fn identity(doc: &crate::setters::yaml::Node) -> Option<(String, String, String)> {
    let kind = doc.get("kind")?.as_str()?.to_string();
    let meta = doc.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let namespace = meta
        .get("namespace")
        .and_then(crate::setters::yaml::Node::as_str)
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
fn bind_unset(objects: &mut Objects, files: &[SourceFile]) -> bool {
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
        return false;
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
    true
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
    let (objects, diags, _) = collect(files, config);
    (objects, diags)
}

/// What a value derived from a tree's Flux objects was made from: the
/// configuration, and the parts of the files [`collect_objects`] reads
/// (every file's name; the text of each file holding Flux objects, Secrets
/// or kustomize input; marker files' text only when a policy's namespace
/// was bound from its markers).
struct Inputs {
    config: std::sync::Arc<Config>,
    objects: u64,
    markers: Option<u64>,
}

/// One value derived from [`collect_objects`], kept for the last tree it
/// was made from. A run that plans many rungs and images on one tree, or
/// on trees that differ only in marker values (each merged pull request
/// of a `group = "image"` rung), parses and places the Flux objects once.
pub struct ObjectsMemo<T> {
    last: std::cell::RefCell<Option<(Inputs, std::rc::Rc<T>)>>,
    /// The last tree's texts and what hashing each found, by the text's
    /// address: a text (immutable, kept alive here) already seen costs a
    /// lookup, not a hash of its bytes.
    texts: std::cell::RefCell<HashMap<usize, (std::sync::Arc<String>, TextHash)>>,
}

/// What [`input_hashes`] learns of one text: whether `collect_objects`
/// reads it, and its hash.
#[derive(Clone, Copy)]
struct TextHash {
    read: bool,
    hash: u64,
}

impl<T> Default for ObjectsMemo<T> {
    fn default() -> Self {
        ObjectsMemo {
            last: Default::default(),
            texts: Default::default(),
        }
    }
}

impl<T> ObjectsMemo<T> {
    /// `make` of what [`collect_objects`] finds in `files`, or the value
    /// kept from a tree that gives the same objects.
    pub fn get(
        &self,
        files: &[SourceFile],
        config: &std::sync::Arc<Config>,
        make: impl FnOnce(Objects, Vec<Diag>) -> T,
    ) -> std::rc::Rc<T> {
        let (objects, markers) = self.input_hashes(files);
        if let Some((i, v)) = self.last.borrow().as_ref()
            && std::sync::Arc::ptr_eq(&i.config, config)
            && i.objects == objects
            && i.markers.is_none_or(|m| m == markers)
        {
            return v.clone();
        }
        let (found, diags, read_markers) = collect(files, config);
        let v = std::rc::Rc::new(make(found, diags));
        let inputs = Inputs {
            config: config.clone(),
            objects,
            markers: read_markers.then_some(markers),
        };
        *self.last.borrow_mut() = Some((inputs, v.clone()));
        v
    }
}

impl<T> ObjectsMemo<T> {
    /// (What [`collect_objects`] always reads, marker files' text), hashed;
    /// each text's own hash is computed once while the text lives.
    fn input_hashes(&self, files: &[SourceFile]) -> (u64, u64) {
        use std::hash::{Hash, Hasher};
        let mut seen = self.texts.borrow_mut();
        let mut now = HashMap::with_capacity(files.len());
        let mut objects = std::collections::hash_map::DefaultHasher::new();
        let mut markers = std::collections::hash_map::DefaultHasher::new();
        for f in files {
            let at = std::sync::Arc::as_ptr(&f.text) as usize;
            let known = seen.get(&at).map(|(_, h)| *h);
            let h = known.unwrap_or_else(|| {
                let mut t = std::collections::hash_map::DefaultHasher::new();
                f.text.hash(&mut t);
                TextHash {
                    read: memchr::memmem::find(
                        f.text.as_bytes(),
                        crate::flux::layout::KUSTOMIZE_NEEDLE,
                    )
                    .is_some(),
                    hash: t.finish(),
                }
            });
            now.insert(at, (f.text.clone(), h));
            let read = f.has_flux_objects
                || f.has_pull_secrets
                || crate::flux::layout::is_entry_name(&f.rel)
                || h.read;
            (&f.rel, f.has_markers, read).hash(&mut objects);
            if read {
                h.hash.hash(&mut objects);
            } else if f.has_markers {
                (&f.rel, h.hash).hash(&mut markers);
            }
        }
        *seen = now;
        (objects.finish(), markers.finish())
    }
}

/// [`collect_objects`], and whether it read the markers (to bind a
/// policy's unset namespace).
fn collect(files: &[SourceFile], config: &Config) -> (Objects, Vec<Diag>, bool) {
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
    let secret_keys =
        |doc: &crate::setters::yaml::Node, rel: &str, name: &str| -> Vec<(String, String)> {
            let own = doc
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(crate::setters::yaml::Node::as_str)
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
        let _ = for_each_document_containing(&f.text, crate::observe::repo::SECRET_NEEDLE, |doc| {
            if let Some(((_, name), json)) = crate::flux::read_pull_secret(&doc) {
                for key in secret_keys(&doc, &f.rel, &name) {
                    objects.pull_secrets.insert(key, json.clone());
                }
            }
        });
        let _ = for_each_document_containing(&f.text, crate::observe::repo::CA_NEEDLE, |doc| {
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
    let read_markers = bind_unset(&mut objects, files);
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
    (objects, diags, read_markers)
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

/// Would active automation `a` write a marker naming policy
/// `namespace/name` in `file`: is the file under its `update.path`, and does
/// it take a policy of that name?
pub fn takes_marker(
    objects: &Objects,
    a: &ImageUpdateAutomation,
    file: &str,
    namespace: &str,
    name: &str,
) -> bool {
    under(file, &a.update_path)
        && objects
            .policies
            .iter()
            .any(|p| p.meta.namespace == namespace && p.meta.name == name && takes(a, p))
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

pub fn cluster_label(c: &str) -> String {
    if c.is_empty() {
        "the repository".into()
    } else {
        format!("cluster {c}")
    }
}

/// Which `(image, insecure, tag)` digests the policies that reflect digests
/// will need, given the tag lists: the tag each of them selects.
pub fn digest_requests<'a>(
    objects: &Objects,
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
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
