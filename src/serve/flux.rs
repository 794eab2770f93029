//! Flux notification-controller events (a `generic-hmac` Provider): which
//! commit a reconcile result is about, and the commit status it becomes.

use serde_json::Value;

use super::config::FluxRoute;
use crate::propose::forge::{Status, StatusState, short_description};

/// The parts of a Flux event hoist reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluxEvent {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `info` or `error`.
    pub severity: String,
    pub reason: String,
    pub message: String,
    /// `metadata.revision` (or `<group>/revision`).
    pub revision: Option<String>,
    /// `metadata.cluster` (an Alert's `eventMetadata`), else the hook
    /// URL's `?cluster=`.
    pub cluster: Option<String>,
    /// When Flux saw it (RFC 3339).
    pub timestamp: Option<String>,
}

/// Kinds whose revision is a commit of the fleet repository.
const KINDS: [&str; 4] = [
    "Kustomization",
    "HelmRelease",
    "GitRepository",
    "OCIRepository",
];

pub fn parse(v: &Value, cluster_param: Option<&str>) -> Result<FluxEvent, String> {
    let obj = v
        .get("involvedObject")
        .ok_or("the event has no involvedObject")?;
    let field = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let kind = field(obj, "kind").ok_or("the event has no involvedObject.kind")?;
    let name = field(obj, "name").ok_or("the event has no involvedObject.name")?;
    let meta = v.get("metadata").and_then(Value::as_object);
    let meta_get = |key: &str| -> Option<String> {
        let m = meta?;
        m.get(key)
            .or_else(|| {
                m.iter()
                    .find(|(k, _)| k.rsplit('/').next() == Some(key))
                    .map(|(_, v)| v)
            })
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(FluxEvent {
        kind,
        namespace: field(obj, "namespace").unwrap_or_default(),
        name,
        severity: field(v, "severity").unwrap_or_else(|| "info".into()),
        reason: field(v, "reason").unwrap_or_default(),
        message: field(v, "message").unwrap_or_default(),
        revision: meta_get("revision"),
        cluster: meta_get("cluster").or_else(|| cluster_param.map(str::to_string)),
        timestamp: field(v, "timestamp"),
    })
}

impl FluxEvent {
    /// Is this an object whose results hoist reports?
    pub fn reportable(&self) -> bool {
        KINDS.iter().any(|k| k.eq_ignore_ascii_case(&self.kind))
    }

    /// The environment the first matching route names.
    pub fn environment<'a>(&self, routes: &'a [FluxRoute]) -> Option<&'a str> {
        routes
            .iter()
            .find(|r| {
                r.matches(
                    self.cluster.as_deref(),
                    &self.kind,
                    &self.namespace,
                    &self.name,
                )
            })
            .map(|r| r.environment.as_str())
    }

    /// The status this event sets: `Progressing` → pending, `info` →
    /// success, `error` → failure, on `hoist/<env>/<kind>/<name>`.
    pub fn status(&self, env: &str) -> Status {
        let state = if self.severity.eq_ignore_ascii_case("error") {
            StatusState::Failure
        } else if self.reason.contains("Progressing") {
            StatusState::Pending
        } else {
            StatusState::Success
        };
        let reason = split_words(&self.reason);
        let message = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let description = match (reason.is_empty(), message.is_empty()) {
            (false, false) => format!("{reason}: {message}"),
            (false, true) => reason,
            (true, false) => message,
            (true, true) => state.as_str().to_string(),
        };
        Status {
            context: format!("hoist/{env}/{}/{}", self.kind.to_lowercase(), self.name),
            state,
            description: short_description(&description),
            target_url: None,
        }
    }
}

/// `ReconciliationSucceeded` → `reconciliation succeeded`.
fn split_words(reason: &str) -> String {
    let mut out = String::new();
    for (i, c) in reason.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The Git commit a Flux revision names, in full: `main@sha1:<hex>`,
/// `refs/heads/main@sha1:<hex>`, `v1.2.3@sha1:<hex>`, `sha1:<hex>`, the
/// older `main/<hex>`, or a bare `<hex>`. OCI digests (`@sha256:`) and
/// chart versions name no commit.
pub fn commit_of(revision: &str) -> Option<String> {
    let r = revision.trim();
    let hex = if let Some((_, h)) = r.rsplit_once("@sha1:") {
        h
    } else if let Some(h) = r.strip_prefix("sha1:") {
        h
    } else if let Some((_, h)) = r.rsplit_once('/') {
        h
    } else {
        r
    };
    (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn revisions() {
        for r in [
            format!("main@sha1:{SHA}"),
            format!("refs/heads/main@sha1:{SHA}"),
            format!("v1.2.3@sha1:{SHA}"),
            format!("sha1:{SHA}"),
            format!("main/{SHA}"),
            SHA.to_string(),
            format!("feature/x@sha1:{}", SHA.to_uppercase()),
        ] {
            assert_eq!(commit_of(&r).as_deref(), Some(SHA), "{r}");
        }
        for r in [
            "latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "1.2.3",
            "main@sha1:0123",
            "",
        ] {
            assert_eq!(commit_of(r), None, "{r}");
        }
    }

    #[test]
    fn events_become_statuses() {
        let v: Value = serde_json::from_str(&format!(
            r#"{{"involvedObject":{{"kind":"Kustomization","namespace":"flux-system","name":"apps"}},"severity":"info","reason":"ReconciliationSucceeded","message":"Applied revision: main@sha1:{SHA}","metadata":{{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:{SHA}","cluster":"eu"}}}}"#
        ))
        .unwrap();
        let e = parse(&v, Some("ignored")).unwrap();
        assert_eq!(e.cluster.as_deref(), Some("eu"));
        assert_eq!(
            commit_of(e.revision.as_deref().unwrap()).as_deref(),
            Some(SHA)
        );
        let s = e.status("staging");
        assert_eq!(s.context, "hoist/staging/kustomization/apps");
        assert_eq!(s.state, StatusState::Success);
        assert!(
            s.description
                .starts_with("reconciliation succeeded: Applied revision")
        );
        let mut p = e.clone();
        p.reason = "Progressing".into();
        assert_eq!(p.status("x").state, StatusState::Pending);
        let mut f = e.clone();
        f.severity = "error".into();
        f.reason = "HealthCheckFailed".into();
        f.message = "x".repeat(500);
        let s = f.status("x");
        assert_eq!(s.state, StatusState::Failure);
        assert!(s.description.chars().count() <= 140);
        assert!(parse(&serde_json::json!({"severity": "info"}), None).is_err());
    }
}
