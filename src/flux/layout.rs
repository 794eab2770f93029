//! Where Flux puts each file: which cluster applies it, through which Flux
//! `Kustomization`, and in which namespace its objects land.
//!
//! Read from the repository alone, as the kustomize-controller would build
//! it: cluster roots are the bootstrap `Kustomization`s whose `spec.path`
//! holds their own file (`clusters/<name>`), or else the directories under
//! `clusters/`; a path with a `kustomization.yaml` follows its
//! `resources:`/`components:` (and owns its patches and transformers), a
//! path without one takes every manifest below it the way Flux generates
//! one (a sub-directory with its own kustomization counts as one
//! resource); a Flux `Kustomization` reached in a cluster is followed into
//! its `spec.path` when it reads the same source. kustomization
//! directories no cluster reaches are roots of their own (cluster `""`).
//!
//! The namespace rule is kustomize's and the controller's: the outermost
//! `namespace:` on the way down wins over the inner ones and over
//! `metadata.namespace`, and a Flux `spec.targetNamespace` wins over all.
//! Pure: (path, text) pairs in, placements out.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::diag::Diag;
use crate::setters::yaml::{Node, Value, for_each_document};

/// Bytes that must occur in a file holding a Flux `Kustomization`.
pub const KUSTOMIZE_NEEDLE: &[u8] = b"kustomize.toolkit.fluxcd.io";

/// Is this the name of a kustomize entry file?
pub fn is_entry_name(rel: &str) -> bool {
    matches!(
        rel.rsplit('/').next().unwrap_or(rel),
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

/// Where an object's namespace came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum NamespaceFrom {
    /// Its own `metadata.namespace`.
    #[default]
    Metadata,
    /// The `namespace:` of this kustomization file.
    Kustomize(String),
    /// The `spec.targetNamespace` of this Flux Kustomization (`ns/name`).
    Target(String),
    /// Nothing in the repository: the one namespace its markers name
    /// (`file:line` of the first).
    Markers(String),
    /// hoist.toml's `[namespaces]` entry for this glob.
    Config(String),
    /// Nothing sets it: Flux refuses such an object; hoist reads `default`.
    Unset,
}

impl std::fmt::Display for NamespaceFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Metadata => write!(f, "metadata.namespace"),
            Self::Kustomize(file) => write!(f, "namespace: in {file}"),
            Self::Target(k) => write!(f, "spec.targetNamespace of Kustomization {k}"),
            Self::Markers(at) => write!(f, "the markers that name it ({at})"),
            Self::Config(glob) => write!(f, "hoist.toml [namespaces] {glob:?}"),
            Self::Unset => write!(f, "nothing (no namespace anywhere; read as default)"),
        }
    }
}

/// One way a file is applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    /// The cluster directory's name (`""`: not under any cluster).
    pub cluster: String,
    /// The namespace forced on its objects, and by what.
    pub namespace: Option<(String, NamespaceFrom)>,
    /// What applies it: a Flux Kustomization (`ns/name`) or a kustomization
    /// file.
    pub via: String,
    /// Its objects are resources (a patch, transformer or kustomization
    /// file is applied, but creates no object of its own).
    pub resource: bool,
}

/// A Flux `Kustomization` object as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluxKustomization {
    /// `namespace/name`.
    pub id: String,
    pub file: String,
    pub line: usize,
    /// Repo-relative, normalised (`""` = the root).
    pub path: String,
    pub target_namespace: Option<String>,
    /// `Kind/namespace/name` of `spec.sourceRef`.
    pub source: String,
}

/// The placements of every file that is applied somewhere.
#[derive(Debug, Default, Clone)]
pub struct Layout {
    pub files: BTreeMap<String, Vec<Placement>>,
    /// Cluster names, sorted.
    pub clusters: BTreeSet<String>,
    pub kustomizations: Vec<FluxKustomization>,
    /// Flux Kustomizations whose source is another repository.
    pub external: Vec<FluxKustomization>,
    pub diags: Vec<Diag>,
}

impl Layout {
    /// How `rel` is applied (empty when nothing applies it).
    pub fn placements(&self, rel: &str) -> &[Placement] {
        self.files.get(rel).map_or(&[], Vec::as_slice)
    }

    /// The clusters that apply `rel`.
    pub fn clusters_of(&self, rel: &str) -> BTreeSet<&str> {
        self.placements(rel)
            .iter()
            .map(|p| p.cluster.as_str())
            .collect()
    }
}

/// A kustomize entry file, as far as placement needs it.
#[derive(Debug, Default)]
struct Kustomize {
    file: String,
    namespace: Option<String>,
    /// Resolved repo-relative paths of `resources:`, `bases:`, `components:`.
    resources: Vec<String>,
    /// Resolved paths of patches, transformers, generators.
    others: Vec<String>,
}

/// `a/b` + `../c/./d` → `a/c/d`; `None` when it leaves the repository or
/// is remote.
pub fn join(dir: &str, entry: &str) -> Option<String> {
    let entry = entry.trim();
    if entry.is_empty() || entry.contains("://") || entry.contains("?ref=") {
        return None;
    }
    let mut parts: Vec<&str> = if entry.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in entry.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn dir_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

fn under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

fn strings(n: Option<&Node>) -> Vec<&str> {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(Node::as_str).collect(),
        _ => Vec::new(),
    }
}

fn read_kustomize(rel: &str, text: &str) -> Result<Kustomize, Diag> {
    let mut doc = None;
    for_each_document(text, |_, d| {
        if doc.is_none() {
            doc = Some(d);
        }
    })
    .map_err(|e| Diag::warning(format!("invalid YAML: {}", e.message)).at(rel, Some(e.line)))?;
    let dir = dir_of(rel);
    let mut k = Kustomize {
        file: rel.to_string(),
        ..Default::default()
    };
    let Some(doc) = doc else { return Ok(k) };
    k.namespace = doc
        .get("namespace")
        .and_then(Node::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    for key in ["resources", "bases", "components"] {
        k.resources.extend(
            strings(doc.get(key))
                .into_iter()
                .filter_map(|e| join(dir, e)),
        );
    }
    // Strategic-merge patches may be inline YAML; a file name has no line end.
    for key in ["patchesStrategicMerge", "transformers", "generators"] {
        k.others.extend(
            strings(doc.get(key))
                .into_iter()
                .filter(|e| !e.contains('\n'))
                .filter_map(|e| join(dir, e)),
        );
    }
    for key in ["patches", "patchesJson6902"] {
        if let Some(Node {
            value: Value::Seq(items),
            ..
        }) = doc.get(key)
        {
            k.others.extend(
                items
                    .iter()
                    .filter_map(|i| i.get("path").and_then(Node::as_str))
                    .filter_map(|e| join(dir, e)),
            );
        }
    }
    Ok(k)
}

/// Flux Kustomizations in one file.
fn read_flux(rel: &str, text: &str, out: &mut Vec<FluxKustomization>) {
    let _ = crate::setters::yaml::for_each_document_containing(text, KUSTOMIZE_NEEDLE, |doc| {
        let is_flux = doc
            .get("apiVersion")
            .and_then(Node::as_str)
            .is_some_and(|a| a.starts_with("kustomize.toolkit.fluxcd.io/"));
        if !is_flux || doc.get("kind").and_then(Node::as_str) != Some("Kustomization") {
            return;
        }
        let meta = doc.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or("");
        let ns = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Node::as_str)
            .unwrap_or("flux-system");
        let spec = doc.get("spec");
        let path = spec
            .and_then(|s| s.get("path"))
            .and_then(Node::as_str)
            .unwrap_or("");
        let sref = spec.and_then(|s| s.get("sourceRef"));
        let field = |k: &str| sref.and_then(|s| s.get(k)).and_then(Node::as_str);
        out.push(FluxKustomization {
            id: format!("{ns}/{name}"),
            file: rel.to_string(),
            line: doc.line,
            path: join("", path).unwrap_or_default(),
            target_namespace: spec
                .and_then(|s| s.get("targetNamespace"))
                .and_then(Node::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            source: format!(
                "{}/{}/{}",
                field("kind").unwrap_or("GitRepository"),
                field("namespace").unwrap_or(ns),
                field("name").unwrap_or("")
            ),
        });
    });
}

/// The name a cluster root path gives its cluster.
fn cluster_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

struct Walker<'a> {
    /// Every known file.
    files: &'a BTreeSet<&'a str>,
    /// Directory → its kustomization.
    kustomize: BTreeMap<String, Kustomize>,
    /// File → the Flux Kustomizations it declares.
    flux_in: BTreeMap<String, Vec<FluxKustomization>>,
    out: BTreeMap<String, BTreeSet<Placement>>,
    seen: BTreeSet<(String, String, Option<String>, String)>,
    reached_flux: BTreeSet<String>,
    reached_kustomize: BTreeSet<String>,
    external: Vec<FluxKustomization>,
    diags: Vec<Diag>,
}

/// What is carried down one walk.
#[derive(Clone)]
struct Ctx {
    cluster: String,
    namespace: Option<(String, NamespaceFrom)>,
    via: String,
    /// `Kind/ns/name` of the source (`None`: unknown, follow any).
    source: Option<String>,
    depth: usize,
}

impl Ctx {
    /// The start of a walk: nothing forced yet, any source followed.
    fn root(cluster: String, via: String) -> Ctx {
        Ctx {
            cluster,
            namespace: None,
            via,
            source: None,
            depth: 0,
        }
    }
}

impl Walker<'_> {
    fn place(&mut self, rel: &str, ctx: &Ctx, resource: bool) {
        self.out
            .entry(rel.to_string())
            .or_default()
            .insert(Placement {
                cluster: ctx.cluster.clone(),
                namespace: ctx.namespace.clone(),
                via: ctx.via.clone(),
                resource,
            });
        if resource && let Some(ks) = self.flux_in.get(rel).cloned() {
            for k in ks {
                self.follow(&k, ctx);
            }
        }
    }

    fn follow(&mut self, k: &FluxKustomization, parent: &Ctx) {
        if parent.depth > 32 {
            return;
        }
        let same_source = parent.source.as_ref().is_none_or(|s| *s == k.source);
        if !same_source {
            if !self
                .external
                .iter()
                .any(|e| e.id == k.id && e.file == k.file)
            {
                self.external.push(k.clone());
            }
            return;
        }
        self.reached_flux.insert(format!("{}:{}", k.file, k.line));
        let ctx = Ctx {
            cluster: parent.cluster.clone(),
            namespace: k
                .target_namespace
                .clone()
                .map(|t| (t, NamespaceFrom::Target(k.id.clone()))),
            via: format!("Kustomization {}", k.id),
            source: Some(k.source.clone()),
            depth: parent.depth + 1,
        };
        self.path(&k.path.clone(), &ctx);
    }

    /// A path as a resource: a file, a kustomization directory, or a plain
    /// directory (Flux generates a kustomization for it).
    fn path(&mut self, path: &str, ctx: &Ctx) {
        let key = (
            path.to_string(),
            ctx.cluster.clone(),
            ctx.namespace.as_ref().map(|n| n.0.clone()),
            ctx.via.clone(),
        );
        if ctx.depth > 32 || !self.seen.insert(key) {
            return;
        }
        if self.files.contains(path) {
            self.place(path, ctx, true);
            return;
        }
        if self.kustomize.contains_key(path) {
            self.kustomization(path, ctx);
            return;
        }
        // A directory without a kustomization: every manifest below it,
        // a sub-directory with a kustomization as one resource.
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let below: Vec<&str> = self
            .files
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|f| f.starts_with(&prefix))
            .copied()
            .collect();
        let mut dirs = BTreeSet::new();
        for f in below {
            let mut owner = None;
            let mut d = dir_of(f);
            while d.len() > path.len() {
                if self.kustomize.contains_key(d) {
                    owner = Some(d.to_string());
                }
                d = dir_of(d);
            }
            match owner {
                Some(o) => {
                    dirs.insert(o);
                }
                None if !is_entry_name(f) => self.place(f, ctx, true),
                None => {}
            }
        }
        for d in dirs {
            self.kustomization(&d, ctx);
        }
    }

    fn kustomization(&mut self, dir: &str, ctx: &Ctx) {
        let Some(k) = self.kustomize.get(dir) else {
            return;
        };
        let file = k.file.clone();
        let resources = k.resources.clone();
        let others = k.others.clone();
        let namespace = k.namespace.clone();
        self.reached_kustomize.insert(dir.to_string());
        let mut inner = ctx.clone();
        inner.depth += 1;
        if inner.namespace.is_none() {
            inner.namespace = namespace.map(|n| (n, NamespaceFrom::Kustomize(file.clone())));
        }
        self.place(&file, &inner, false);
        for o in others {
            self.place(&o, &inner, false);
        }
        for r in resources {
            self.path(&r, &inner);
        }
    }
}

/// Place every file of `files` ((path, text) pairs of the files kept by
/// the walk: markers, Flux objects, kustomizations, Flux Kustomizations).
pub fn layout(files: &[(&str, &str)]) -> Layout {
    let names: BTreeSet<&str> = files.iter().map(|(r, _)| *r).collect();
    let mut kustomize = BTreeMap::new();
    let mut flux_in: BTreeMap<String, Vec<FluxKustomization>> = BTreeMap::new();
    let mut diags = Vec::new();
    let mut all_flux = Vec::new();
    for (rel, text) in files {
        if is_entry_name(rel) {
            match read_kustomize(rel, text) {
                Ok(k) => {
                    let dir = dir_of(rel).to_string();
                    if let Some(prev) = kustomize.get(&dir) {
                        let prev: &Kustomize = prev;
                        diags.push(
                            Diag::warning(format!(
                                "two kustomization files in one directory ({} and {rel}); kustomize refuses this, hoist reads the first",
                                prev.file
                            ))
                            .at(*rel, None),
                        );
                    } else {
                        kustomize.insert(dir, k);
                    }
                }
                Err(d) => diags.push(d),
            }
        }
        if memchr::memmem::find(text.as_bytes(), KUSTOMIZE_NEEDLE).is_some() {
            let mut ks = Vec::new();
            read_flux(rel, text, &mut ks);
            all_flux.extend(ks.iter().cloned());
            if !ks.is_empty() {
                flux_in.insert(rel.to_string(), ks);
            }
        }
    }
    let mut w = Walker {
        files: &names,
        kustomize,
        flux_in,
        out: BTreeMap::new(),
        seen: BTreeSet::new(),
        reached_flux: BTreeSet::new(),
        reached_kustomize: BTreeSet::new(),
        external: Vec::new(),
        diags,
    };
    // 1. Bootstrap roots: a Kustomization whose path holds its own file.
    let roots: Vec<FluxKustomization> = all_flux
        .iter()
        .filter(|k| under(&k.file, &k.path))
        .cloned()
        .collect();
    for k in &roots {
        let ctx = Ctx::root(cluster_name(&k.path), format!("Kustomization {}", k.id));
        w.follow(k, &ctx);
    }
    // 2. Directories under clusters/ that no bootstrap root covers.
    let cluster_dirs: BTreeSet<String> = names
        .iter()
        .filter_map(|f| {
            let rest = f.strip_prefix("clusters/")?;
            let (c, _) = rest.split_once('/')?;
            Some(format!("clusters/{c}"))
        })
        .collect();
    for d in cluster_dirs {
        if roots
            .iter()
            .any(|k| under(&d, &k.path) || under(&k.path, &d))
        {
            continue;
        }
        let ctx = Ctx::root(cluster_name(&d), format!("cluster directory {d}"));
        w.path(&d, &ctx);
    }
    // 3. Flux Kustomizations no cluster reaches.
    for k in &all_flux {
        if !w.reached_flux.contains(&format!("{}:{}", k.file, k.line))
            && !w.external.iter().any(|e| e.id == k.id && e.file == k.file)
        {
            let ctx = Ctx::root(String::new(), format!("Kustomization {}", k.id));
            w.follow(k, &ctx);
        }
    }
    // 4. kustomization directories nothing reaches and no other lists.
    let listed: BTreeSet<String> = w
        .kustomize
        .values()
        .flat_map(|k| k.resources.iter().cloned())
        .collect();
    let loose: Vec<String> = w
        .kustomize
        .keys()
        .filter(|d| !w.reached_kustomize.contains(*d) && !listed.contains(*d))
        .cloned()
        .collect();
    for d in loose {
        let ctx = Ctx::root(
            String::new(),
            format!("kustomization {}", w.kustomize[&d].file),
        );
        w.kustomization(&d, &ctx);
    }
    // 5. What is left lists only itself (a cycle): each is a root.
    let left: Vec<String> = w
        .kustomize
        .keys()
        .filter(|d| !w.reached_kustomize.contains(*d))
        .cloned()
        .collect();
    for d in left {
        if w.reached_kustomize.contains(&d) {
            continue;
        }
        let ctx = Ctx::root(
            String::new(),
            format!("kustomization {}", w.kustomize[&d].file),
        );
        w.kustomization(&d, &ctx);
    }
    let mut layout = Layout {
        clusters: w
            .out
            .values()
            .flatten()
            .map(|p| p.cluster.clone())
            .filter(|c| !c.is_empty())
            .collect(),
        files: w
            .out
            .into_iter()
            .map(|(f, ps)| (f, ps.into_iter().collect()))
            .collect(),
        kustomizations: all_flux,
        external: w.external,
        diags: w.diags,
    };
    layout.diags.sort();
    layout
}

/// The namespaces one object of `rel` lands in: (cluster, namespace,
/// where it came from), one per distinct landing, given its own
/// `metadata.namespace` (`""` when it has none).
pub fn landings(layout: &Layout, rel: &str, own: &str) -> Vec<(String, String, NamespaceFrom)> {
    let mut out: Vec<(String, String, NamespaceFrom)> = Vec::new();
    let own_ns = || {
        if own.is_empty() {
            (String::new(), NamespaceFrom::Unset)
        } else {
            (own.to_string(), NamespaceFrom::Metadata)
        }
    };
    for p in layout.placements(rel).iter().filter(|p| p.resource) {
        let (ns, from) = p.namespace.clone().unwrap_or_else(own_ns);
        if !out.iter().any(|(c, n, _)| *c == p.cluster && *n == ns) {
            out.push((p.cluster.clone(), ns, from));
        }
    }
    if out.is_empty() {
        let (ns, from) = own_ns();
        out.push((String::new(), ns, from));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_of(l: &Layout, rel: &str, own: &str) -> Vec<(String, String)> {
        landings(l, rel, own)
            .into_iter()
            .map(|(c, n, _)| (c, n))
            .collect()
    }

    fn pair(c: &str, n: &str) -> (String, String) {
        (c.to_string(), n.to_string())
    }

    const POLICY: &str = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n";

    #[test]
    fn joins_paths() {
        assert_eq!(
            join("apps/staging", "../base/x").as_deref(),
            Some("apps/base/x")
        );
        assert_eq!(join("", "./apps/").as_deref(), Some("apps"));
        assert_eq!(join("a", "../../x"), None);
        assert_eq!(join("a", "github.com/x/y?ref=v1"), None);
        assert_eq!(join("a", "https://example.com/x.yaml"), None);
    }

    #[test]
    fn kustomize_namespace_in_base_overlay_both_neither() {
        let base_ns = "namespace: base-ns\nresources:\n  - policy.yaml\n";
        let base_plain = "resources:\n  - policy.yaml\n";
        let overlay_ns = "namespace: overlay-ns\nresources:\n  - ../base\n";
        let overlay_plain = "resources:\n  - ../base\n";
        let case = |base: &str, overlay: &str, own: &str| {
            let l = layout(&[
                ("apps/base/kustomization.yaml", base),
                ("apps/base/policy.yaml", POLICY),
                ("apps/dev/kustomization.yaml", overlay),
            ]);
            ns_of(&l, "apps/base/policy.yaml", own)
        };
        // Base only: the base's namespace.
        assert_eq!(case(base_ns, overlay_plain, ""), [pair("", "base-ns")]);
        // Overlay only: the overlay's.
        assert_eq!(case(base_plain, overlay_ns, ""), [pair("", "overlay-ns")]);
        // Both: the outermost (the overlay) wins.
        assert_eq!(case(base_ns, overlay_ns, "own"), [pair("", "overlay-ns")]);
        // Neither: the object's own, else unset.
        assert_eq!(case(base_plain, overlay_plain, "own"), [pair("", "own")]);
        let l = layout(&[
            ("apps/base/kustomization.yaml", base_plain),
            ("apps/base/policy.yaml", POLICY),
        ]);
        assert_eq!(
            landings(&l, "apps/base/policy.yaml", "")[0].2,
            NamespaceFrom::Unset
        );
    }

    fn flux(name: &str, path: &str, target: Option<&str>) -> String {
        let t = target.map_or(String::new(), |t| format!("  targetNamespace: {t}\n"));
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  path: {path}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n{t}"
        )
    }

    #[test]
    fn target_namespace_wins_and_clusters_are_told_apart() {
        let sync_s = flux("flux-system", "./clusters/staging", None);
        let sync_p = flux("flux-system", "./clusters/prod", None);
        let apps_s = flux("apps", "./apps/staging", Some("web"));
        let apps_p = flux("apps", "./apps/prod", None);
        let files = [
            (
                "apps/base/kustomization.yaml",
                "namespace: base-ns\nresources:\n  - policy.yaml\n",
            ),
            ("apps/base/policy.yaml", POLICY),
            ("apps/prod/kustomization.yaml", "resources:\n  - ../base\n"),
            (
                "apps/staging/kustomization.yaml",
                "namespace: stg\nresources:\n  - ../base\npatches:\n  - path: tags.yaml\n",
            ),
            ("apps/staging/tags.yaml", "x: 1\n"),
            ("clusters/prod/apps.yaml", apps_p.as_str()),
            ("clusters/prod/flux-system/gotk-sync.yaml", sync_p.as_str()),
            ("clusters/staging/apps.yaml", apps_s.as_str()),
            (
                "clusters/staging/flux-system/gotk-sync.yaml",
                sync_s.as_str(),
            ),
        ];
        let l = layout(&files);
        assert_eq!(
            l.clusters.iter().map(String::as_str).collect::<Vec<_>>(),
            ["prod", "staging"]
        );
        let mut got = ns_of(&l, "apps/base/policy.yaml", "own");
        got.sort();
        // prod: the base's namespace:, staging: targetNamespace over both.
        assert_eq!(got, [pair("prod", "base-ns"), pair("staging", "web")]);
        let from: Vec<_> = landings(&l, "apps/base/policy.yaml", "")
            .into_iter()
            .map(|(_, _, f)| f)
            .collect();
        assert!(from.contains(&NamespaceFrom::Target("flux-system/apps".into())));
        assert_eq!(
            l.clusters_of("apps/staging/tags.yaml"),
            BTreeSet::from(["staging"])
        );
        assert!(!l.placements("apps/staging/tags.yaml")[0].resource);
        // A cluster's own files belong to it.
        assert_eq!(
            l.clusters_of("clusters/prod/apps.yaml"),
            BTreeSet::from(["prod"])
        );
    }

    #[test]
    fn other_sources_are_not_followed_and_plain_dirs_are_generated() {
        let mut other = flux("tenant", "./apps", Some("t"));
        other = other.replace("name: flux-system\n", "name: tenant-repo\n");
        let sync = flux("flux-system", "./clusters/dev", None);
        let files = [
            ("apps/policy.yaml", POLICY),
            ("clusters/dev/flux-system/gotk-sync.yaml", sync.as_str()),
            ("clusters/dev/tenant.yaml", other.as_str()),
            ("clusters/dev/sub/policy.yaml", POLICY),
        ];
        let l = layout(&files);
        assert!(l.placements("apps/policy.yaml").is_empty());
        assert_eq!(l.external.len(), 1);
        assert_eq!(
            l.clusters_of("clusters/dev/sub/policy.yaml"),
            BTreeSet::from(["dev"])
        );
    }

    #[test]
    fn cycles_end() {
        let files = [
            ("a/kustomization.yaml", "resources:\n  - ../b\n"),
            ("b/kustomization.yaml", "resources:\n  - ../a\n  - p.yaml\n"),
            ("b/p.yaml", POLICY),
        ];
        let l = layout(&files);
        assert!(!l.placements("b/p.yaml").is_empty());
    }
}
