//! Reading Flux image-automation objects (`image.toolkit.fluxcd.io`) from
//! YAML documents, with file:line errors that name the offending field.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::core::diag::Diag;
use crate::policy::{Policy, PolicySpec};
use crate::setters::yaml::{Node, Value, for_each_document};

pub mod layout;

pub const API_GROUP: &str = "image.toolkit.fluxcd.io";
/// Bytes that must occur in a file before we parse it for Flux objects.
pub const NEEDLE: &[u8] = b"image.toolkit.fluxcd.io";

/// Where an object was declared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    pub name: String,
    /// The effective namespace (see [`layout`]); `""` only before
    /// [`place`] when the object names none.
    pub namespace: String,
    /// Where [`Meta::namespace`] came from.
    pub namespace_from: layout::NamespaceFrom,
    /// The cluster directory that applies it (`""`: none, or the whole
    /// repository).
    pub cluster: String,
    pub labels: BTreeMap<String, String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRepository {
    pub meta: Meta,
    pub image: String,
    pub interval: Option<String>,
    pub secret_ref: Option<String>,
    pub provider: String,
    pub insecure: bool,
    pub cert_secret_ref: Option<String>,
    /// `None`: Flux's default exclusion list.
    pub exclusion_list: Option<Vec<String>>,
    pub suspend: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DigestReflection {
    #[default]
    Never,
    IfNotPresent,
    Always,
}

#[derive(Debug, Clone)]
pub struct ImagePolicy {
    pub meta: Meta,
    pub repository_name: String,
    /// `spec.imageRepositoryRef.namespace`, else the policy's own.
    pub repository_namespace: String,
    /// `spec.imageRepositoryRef.namespace` is written.
    pub repository_namespace_set: bool,
    pub spec: PolicySpec,
    pub digest_reflection: DigestReflection,
    pub suspend: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    /// (key, operator, values)
    pub match_expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    /// Kubernetes semantics; an empty selector matches everything.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|(k, op, values)| {
                let have = labels.get(k);
                match op.as_str() {
                    "In" => have.is_some_and(|v| values.contains(v)),
                    "NotIn" => have.is_none_or(|v| !values.contains(v)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitAuthor {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageUpdateAutomation {
    pub meta: Meta,
    /// Repo-relative directory whose files the automation updates ("" = all).
    pub update_path: String,
    pub policy_selector: Option<LabelSelector>,
    pub checkout_branch: Option<String>,
    pub author: Option<CommitAuthor>,
    pub message_template: Option<String>,
    pub message_template_values: BTreeMap<String, String>,
    pub push_branch: Option<String>,
    pub push_refspec: Option<String>,
    pub push_options: BTreeMap<String, String>,
    pub suspend: bool,
}

#[derive(Debug, Clone)]
pub enum FluxObject {
    Repository(ImageRepository),
    Policy(ImagePolicy),
    Automation(ImageUpdateAutomation),
}

/// Collects field errors while reading one object.
struct Reader<'a> {
    file: &'a str,
    errors: Vec<Diag>,
}

impl Reader<'_> {
    fn fail(&mut self, node_line: usize, field: &str, msg: impl Into<String>) {
        self.errors
            .push(Diag::error(msg).at(self.file, Some(node_line)).field(field));
    }

    fn string(&mut self, parent: &Node, key: &str, path: &str) -> Option<String> {
        let n = parent.get(key)?;
        if n.is_null() {
            return None;
        }
        match &n.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.fail(
                    n.line,
                    path,
                    format!("expected a string, found {}", n.kind_name()),
                );
                None
            }
        }
    }

    fn required(&mut self, parent: &Node, key: &str, path: &str) -> String {
        match self.string(parent, key, path) {
            Some(s) if !s.is_empty() => s,
            _ => {
                self.fail(parent.line, path, "required field is missing");
                String::new()
            }
        }
    }

    fn boolean(&mut self, parent: &Node, key: &str, path: &str) -> bool {
        let Some(n) = parent.get(key) else {
            return false;
        };
        match n.as_str() {
            Some("true") => true,
            Some("false") | None => false,
            Some(other) => {
                self.fail(
                    n.line,
                    path,
                    format!("expected true or false, found {other:?}"),
                );
                false
            }
        }
    }

    /// Report `key` when present but not a mapping.
    fn expect_map(&mut self, parent: &Node, key: &str, path: &str) {
        if let Some(n) = parent.get(key)
            && !matches!(n.value, Value::Map(_))
            && !n.is_null()
        {
            self.fail(
                n.line,
                path,
                format!("expected a mapping, found {}", n.kind_name()),
            );
        }
    }

    fn string_map(&mut self, parent: &Node, key: &str, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(n) = parent.get(key) else { return out };
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    match (k.as_str(), v.as_str()) {
                        (Some(k), Some(v)) => {
                            out.insert(k.to_string(), v.to_string());
                        }
                        _ => self.fail(v.line, path, "expected string keys and values"),
                    }
                }
            }
            _ if n.is_null() => {}
            _ => self.fail(
                n.line,
                path,
                format!("expected a mapping, found {}", n.kind_name()),
            ),
        }
        out
    }

    fn string_list(&mut self, parent: &Node, key: &str, path: &str) -> Option<Vec<String>> {
        let n = parent.get(key)?;
        match &n.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => self.fail(item.line, &format!("{path}[{i}]"), "expected a string"),
                    }
                }
                Some(out)
            }
            _ if n.is_null() => None,
            _ => {
                self.fail(
                    n.line,
                    path,
                    format!("expected a list, found {}", n.kind_name()),
                );
                None
            }
        }
    }
}

static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:0|[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|ms|s|m|h))+)$")
        .expect("static regex")
});

/// Line of the node at a dotted path such as `spec.policy.semver.range`.
fn line_of(doc: &Node, path: &str) -> usize {
    let mut node = doc;
    for part in path.split('.') {
        let key = part.split('[').next().unwrap_or(part);
        match node.get(key) {
            Some(n) => node = n,
            None => break,
        }
    }
    node.line
}

fn meta(r: &mut Reader<'_>, doc: &Node) -> Meta {
    let origin = Origin {
        file: r.file.to_string(),
        line: doc.line,
    };
    let Some(m) = doc.get("metadata") else {
        r.fail(doc.line, "metadata.name", "required field is missing");
        return Meta {
            origin,
            ..Default::default()
        };
    };
    let namespace = r
        .string(m, "namespace", "metadata.namespace")
        .unwrap_or_default();
    Meta {
        name: r.required(m, "name", "metadata.name"),
        namespace_from: if namespace.is_empty() {
            layout::NamespaceFrom::Unset
        } else {
            layout::NamespaceFrom::Metadata
        },
        namespace,
        cluster: String::new(),
        labels: r.string_map(m, "labels", "metadata.labels"),
        origin,
    }
}

pub use crate::core::reference::check_image_name;

/// Read one YAML document. `None` when it is not an image-automation object.
pub fn read_document(doc: &Node, file: &str) -> Option<Result<FluxObject, Vec<Diag>>> {
    let api = doc.get("apiVersion")?.as_str()?;
    let (group, version) = api.split_once('/')?;
    if group != API_GROUP {
        return None;
    }
    let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
    let mut r = Reader {
        file,
        errors: Vec::new(),
    };
    if !matches!(version, "v1" | "v1beta2" | "v1beta1") {
        r.fail(
            doc.line,
            "apiVersion",
            format!("unsupported version {api:?} (use v1 or v1beta2)"),
        );
        return Some(Err(r.errors));
    }
    let empty = Node {
        value: Value::Map(Vec::new()),
        line: doc.line,
    };
    let spec = doc.get("spec").unwrap_or(&empty);
    let object = match kind {
        "ImageRepository" => read_repository(&mut r, doc, spec),
        "ImagePolicy" => read_policy(&mut r, doc, spec),
        "ImageUpdateAutomation" => read_automation(&mut r, doc, spec),
        _ => return None,
    };
    if r.errors.is_empty() {
        Some(Ok(object))
    } else {
        Some(Err(r.errors))
    }
}

fn read_repository(r: &mut Reader<'_>, doc: &Node, spec: &Node) -> FluxObject {
    let meta = meta(r, doc);
    let image = r.required(spec, "image", "spec.image");
    if !image.is_empty()
        && let Err(e) = check_image_name(&image)
    {
        r.fail(line_of(doc, "spec.image"), "spec.image", e);
    }
    let interval = r.string(spec, "interval", "spec.interval");
    match &interval {
        None => r.fail(spec.line, "spec.interval", "required field is missing"),
        Some(i) if !DURATION.is_match(i) => r.fail(
            line_of(doc, "spec.interval"),
            "spec.interval",
            format!("{i:?} is not a Go duration such as 1m0s or 5m"),
        ),
        _ => {}
    }
    let provider = r
        .string(spec, "provider", "spec.provider")
        .unwrap_or_else(|| "generic".into());
    if !matches!(provider.as_str(), "generic" | "azure" | "aws" | "gcp") {
        r.fail(
            line_of(doc, "spec.provider"),
            "spec.provider",
            format!("{provider:?} is not one of generic, azure, aws, gcp"),
        );
    }
    r.expect_map(spec, "secretRef", "spec.secretRef");
    let secret_ref = spec
        .get("secretRef")
        .and_then(|s| r.string(s, "name", "spec.secretRef.name"));
    let cert_secret_ref = spec
        .get("certSecretRef")
        .and_then(|s| r.string(s, "name", "spec.certSecretRef.name"));
    let exclusion_list = r.string_list(spec, "exclusionList", "spec.exclusionList");
    if let Some(list) = &exclusion_list {
        if list.len() > 25 {
            r.fail(
                line_of(doc, "spec.exclusionList"),
                "spec.exclusionList",
                format!("at most 25 patterns are allowed, found {}", list.len()),
            );
        }
        for (i, p) in list.iter().enumerate() {
            if let Err(e) = crate::policy::goregex::GoRegex::new(p) {
                r.fail(
                    line_of(doc, "spec.exclusionList"),
                    &format!("spec.exclusionList[{i}]"),
                    format!(
                        "invalid regular expression {}: {e}",
                        crate::core::diag::quoted(p)
                    ),
                );
            }
        }
    }
    FluxObject::Repository(ImageRepository {
        meta,
        image,
        interval,
        secret_ref,
        provider,
        insecure: r.boolean(spec, "insecure", "spec.insecure"),
        cert_secret_ref,
        exclusion_list,
        suspend: r.boolean(spec, "suspend", "spec.suspend"),
    })
}

fn read_policy(r: &mut Reader<'_>, doc: &Node, spec: &Node) -> FluxObject {
    let meta = meta(r, doc);
    let (repository_name, repository_ns) = match spec.get("imageRepositoryRef") {
        Some(rr) => (
            r.required(rr, "name", "spec.imageRepositoryRef.name"),
            r.string(rr, "namespace", "spec.imageRepositoryRef.namespace")
                .filter(|n| !n.is_empty()),
        ),
        None => {
            r.fail(
                spec.line,
                "spec.imageRepositoryRef.name",
                "required field is missing",
            );
            (String::new(), None)
        }
    };
    let repository_namespace_set = repository_ns.is_some();
    let repository_namespace = repository_ns.unwrap_or_else(|| meta.namespace.clone());
    let mut ps = PolicySpec::default();
    if let Some(p) = spec.get("policy") {
        // A kind written as null is Go's nil pointer: not set.
        let kind = |k: &str| p.get(k).filter(|n| !n.is_null());
        if let Some(s) = kind("semver") {
            ps.semver_range = Some(
                r.string(s, "range", "spec.policy.semver.range")
                    .unwrap_or_default(),
            );
        }
        if let Some(a) = kind("alphabetical") {
            ps.alphabetical_order = Some(
                r.string(a, "order", "spec.policy.alphabetical.order")
                    .unwrap_or_default(),
            );
        }
        if let Some(n) = kind("numerical") {
            ps.numerical_order = Some(
                r.string(n, "order", "spec.policy.numerical.order")
                    .unwrap_or_default(),
            );
        }
    }
    if let Some(f) = spec.get("filterTags") {
        ps.filter_pattern = r.string(f, "pattern", "spec.filterTags.pattern");
        ps.filter_extract = r.string(f, "extract", "spec.filterTags.extract");
    }
    if let Err(e) = Policy::from_spec(&ps) {
        r.fail(line_of(doc, &e.field), &e.field, e.message);
    }
    let digest_reflection = match r
        .string(
            spec,
            "digestReflectionPolicy",
            "spec.digestReflectionPolicy",
        )
        .as_deref()
    {
        None | Some("Never") => DigestReflection::Never,
        Some("IfNotPresent") => DigestReflection::IfNotPresent,
        Some("Always") => DigestReflection::Always,
        Some(other) => {
            r.fail(
                line_of(doc, "spec.digestReflectionPolicy"),
                "spec.digestReflectionPolicy",
                format!("{other:?} is not one of Never, IfNotPresent, Always"),
            );
            DigestReflection::Never
        }
    };
    FluxObject::Policy(ImagePolicy {
        meta,
        repository_name,
        repository_namespace,
        repository_namespace_set,
        spec: ps,
        digest_reflection,
        suspend: r.boolean(spec, "suspend", "spec.suspend"),
    })
}

fn read_selector(r: &mut Reader<'_>, n: &Node) -> LabelSelector {
    let mut sel = LabelSelector {
        match_labels: r.string_map(n, "matchLabels", "spec.policySelector.matchLabels"),
        ..Default::default()
    };
    if let Some(Node {
        value: Value::Seq(items),
        ..
    }) = n.get("matchExpressions")
    {
        for (i, e) in items.iter().enumerate() {
            let path = format!("spec.policySelector.matchExpressions[{i}]");
            let key = r.required(e, "key", &format!("{path}.key"));
            let op = r.required(e, "operator", &format!("{path}.operator"));
            if !matches!(op.as_str(), "In" | "NotIn" | "Exists" | "DoesNotExist") {
                r.fail(
                    e.line,
                    &format!("{path}.operator"),
                    format!("{op:?} is not one of In, NotIn, Exists, DoesNotExist"),
                );
            }
            let values = r
                .string_list(e, "values", &format!("{path}.values"))
                .unwrap_or_default();
            sel.match_expressions.push((key, op, values));
        }
    }
    sel
}

fn read_automation(r: &mut Reader<'_>, doc: &Node, spec: &Node) -> FluxObject {
    let meta = meta(r, doc);
    let mut a = ImageUpdateAutomation {
        meta,
        ..Default::default()
    };
    match spec.get("update") {
        Some(u) => {
            let strategy = r
                .string(u, "strategy", "spec.update.strategy")
                .unwrap_or_else(|| "Setters".into());
            if strategy != "Setters" {
                r.fail(
                    line_of(doc, "spec.update.strategy"),
                    "spec.update.strategy",
                    format!("{strategy:?} is not supported: the only strategy is Setters"),
                );
            }
            let path = r.string(u, "path", "spec.update.path").unwrap_or_default();
            a.update_path = normalise_dir(&path);
        }
        None => a.update_path = String::new(),
    }
    if let Some(sel) = spec.get("policySelector")
        && !sel.is_null()
    {
        a.policy_selector = Some(read_selector(r, sel));
    }
    if let Some(git) = spec.get("git") {
        a.checkout_branch = git
            .get("checkout")
            .and_then(|c| c.get("ref"))
            .and_then(|rf| r.string(rf, "branch", "spec.git.checkout.ref.branch"));
        if let Some(c) = git.get("commit") {
            if let Some(au) = c.get("author") {
                a.author = Some(CommitAuthor {
                    name: r
                        .string(au, "name", "spec.git.commit.author.name")
                        .unwrap_or_default(),
                    email: r.required(au, "email", "spec.git.commit.author.email"),
                });
            }
            a.message_template = r.string(c, "messageTemplate", "spec.git.commit.messageTemplate");
            a.message_template_values = r.string_map(
                c,
                "messageTemplateValues",
                "spec.git.commit.messageTemplateValues",
            );
        }
        if let Some(p) = git.get("push") {
            a.push_branch = r.string(p, "branch", "spec.git.push.branch");
            a.push_refspec = r.string(p, "refspec", "spec.git.push.refspec");
            a.push_options = r.string_map(p, "options", "spec.git.push.options");
        }
    }
    a.suspend = r.boolean(spec, "suspend", "spec.suspend");
    FluxObject::Automation(a)
}

/// A `kubernetes.io/dockerconfigjson` Secret: ((namespace, name), JSON).
/// Never logged.
pub fn read_pull_secret(doc: &Node) -> Option<((String, String), String)> {
    if doc.get("type")?.as_str()? != "kubernetes.io/dockerconfigjson" {
        return None;
    }
    read_secret_key(doc, ".dockerconfigjson")
}

/// One key of a Secret (`stringData` plain, `data` base64):
/// ((namespace, name), value).
pub fn read_secret_key(doc: &Node, key: &str) -> Option<((String, String), String)> {
    use base64::Engine;
    if doc.get("kind")?.as_str()? != "Secret" {
        return None;
    }
    let meta = doc.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let namespace = meta
        .get("namespace")
        .and_then(Node::as_str)
        .unwrap_or("default")
        .to_string();
    let value = match doc
        .get("stringData")
        .and_then(|d| d.get(key))
        .and_then(Node::as_str)
    {
        Some(s) => s.to_string(),
        None => {
            let b64 = doc.get("data")?.get(key)?.as_str()?;
            let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(cleaned)
                    .ok()?,
            )
            .ok()?
        }
    };
    Some(((namespace, name), value))
}

/// `./apps/` → `apps`; `.` and `` → `` (the repo root).
pub fn normalise_dir(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    parts.join("/")
}

/// The ImagePolicy of a file (the one named `want`, as NAME or NS/NAME,
/// when the file holds several), compiled, with the exclusion list of the
/// ImageRepository it points at when that is in the file too.
pub fn load_policy(path: &Path, want: Option<&str>) -> Result<Policy, Vec<Diag>> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| vec![Diag::error(format!("cannot read policy: {e}")).at(&display, None)])?;
    let text = String::from_utf8(bytes)
        .map_err(|_| vec![Diag::error("policy file is not valid UTF-8").at(&display, None)])?;
    let mut policies = Vec::new();
    let mut repositories = Vec::new();
    let mut errors = Vec::new();
    for_each_document(&text, |_, doc| match read_document(&doc, &display) {
        Some(Ok(FluxObject::Policy(p))) => policies.push(p),
        Some(Ok(FluxObject::Repository(r))) => repositories.push(r),
        Some(Err(e)) => errors.extend(e),
        _ => {}
    })
    .map_err(|e| {
        vec![Diag::error(format!("invalid YAML: {}", e.message)).at(&display, Some(e.line))]
    })?;
    if !errors.is_empty() {
        return Err(errors);
    }
    // One file alone: an object that names no namespace reads as default.
    for m in policies
        .iter_mut()
        .map(|p| &mut p.meta)
        .chain(repositories.iter_mut().map(|r| &mut r.meta))
        .filter(|m| m.namespace.is_empty())
    {
        m.namespace = "default".into();
    }
    for p in policies.iter_mut().filter(|p| !p.repository_namespace_set) {
        p.repository_namespace = p.meta.namespace.clone();
    }
    let names: Vec<String> = policies
        .iter()
        .map(|p| format!("{}/{}", p.meta.namespace, p.meta.name))
        .collect();
    let matches = |p: &ImagePolicy| match want {
        None => true,
        Some(w) => match w.split_once('/') {
            Some((ns, n)) => p.meta.namespace == ns && p.meta.name == n,
            None => p.meta.name == w,
        },
    };
    let mut chosen: Vec<_> = policies.into_iter().filter(|p| matches(p)).collect();
    if chosen.len() > 1 {
        return Err(vec![
            Diag::error(format!(
                "{} ImagePolicies in this file ({}); choose one with --name",
                chosen.len(),
                names.join(", ")
            ))
            .at(&display, None),
        ]);
    }
    let Some(mut p) = chosen.pop() else {
        let msg = match want {
            Some(w) if !names.is_empty() => format!(
                "no ImagePolicy named {w:?} in this file (it has {})",
                names.join(", ")
            ),
            _ => "no ImagePolicy (image.toolkit.fluxcd.io) document in this file".to_string(),
        };
        return Err(vec![Diag::error(msg).at(&display, None)]);
    };
    // The exclusion list of the ImageRepository the policy points at.
    p.spec.exclusion_list = repositories
        .into_iter()
        .find(|r| r.meta.name == p.repository_name && r.meta.namespace == p.repository_namespace)
        .and_then(|r| r.exclusion_list);
    Policy::from_spec(&p.spec).map_err(|e| {
        vec![
            Diag::error(e.message)
                .at(&display, Some(p.meta.origin.line))
                .field(e.field),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setters::yaml::load_all;

    fn read(y: &str) -> Result<FluxObject, Vec<Diag>> {
        let docs = load_all(y).unwrap();
        read_document(&docs[0], "f.yaml").unwrap()
    }

    #[test]
    fn policy_errors_name_field_and_line() {
        let y = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: p\n  namespace: n\nspec:\n  imageRepositoryRef:\n    name: r\n  policy:\n    semver:\n      range: '>=1.0.0 <'\n";
        let errs = read(y).unwrap_err();
        assert_eq!(
            errs[0].to_string().split(": ").take(2).collect::<Vec<_>>(),
            ["f.yaml:11", "spec.policy.semver.range"]
        );
    }

    #[test]
    fn repository_and_automation() {
        let y = "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n  name: r\nspec:\n  image: ghcr.io/a/b\n  interval: 5m\n";
        let FluxObject::Repository(r) = read(y).unwrap() else {
            panic!()
        };
        // No namespace written: the layout decides (see plan::collect_objects).
        assert_eq!(
            (
                r.image.as_str(),
                r.meta.namespace.as_str(),
                &r.meta.namespace_from
            ),
            ("ghcr.io/a/b", "", &layout::NamespaceFrom::Unset)
        );
        let y = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: a\n  namespace: n\nspec:\n  update:\n    path: ./clusters/dev/\n    strategy: Setters\n";
        let FluxObject::Automation(a) = read(y).unwrap() else {
            panic!()
        };
        assert_eq!(a.update_path, "clusters/dev");
        let bad = y.replace("Setters", "Other");
        assert!(
            read(&bad).unwrap_err()[0]
                .to_string()
                .contains("spec.update.strategy")
        );
    }

    #[test]
    fn null_policy_kinds_are_nil_pointers_not_defaults() {
        // Flux reads `alphabetical: null` as a nil pointer: no kind set.
        let y = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: p\nspec:\n  imageRepositoryRef:\n    name: r\n  policy:\n    alphabetical: null\n    numerical: ~\n";
        let errs = read(y).unwrap_err();
        assert!(
            errs[0]
                .to_string()
                .contains("spec.policy: no policy kind set"),
            "{errs:?}"
        );
        // A kind given alongside a null one is the one used.
        let y = y.replace("numerical: ~", "numerical: {order: desc}");
        let FluxObject::Policy(p) = read(&y).unwrap() else {
            panic!()
        };
        assert_eq!(p.spec.alphabetical_order, None);
        assert_eq!(p.spec.numerical_order.as_deref(), Some("desc"));
    }

    #[test]
    fn image_names() {
        assert!(check_image_name("localhost:5000/a/b").is_ok());
        assert!(check_image_name("ghcr.io/a/b:1.0").is_err());
        assert!(check_image_name("https://ghcr.io/a").is_err());
    }
}
