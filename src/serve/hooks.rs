//! Webhook deliveries: who sent them (signatures, tokens) and what they
//! mean. Pure functions of headers and bytes, so every rule is tested
//! without a server.

use std::collections::{HashSet, VecDeque};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::decide::ladder::ForgeKind;
use crate::run::comment::CommentEvent;

/// What a delivery asks of hoist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new tag (or manifest) in a registry: scan the image now.
    ImagePushed { image: String, tag: Option<String> },
    /// A repository changed (a push, a merged pull request): plan again.
    RepoChanged { repository: String, why: String },
    /// A comment on a pull request, maybe with commands.
    Comment(CommentEvent),
    /// Nothing for hoist, and why.
    Ignored(String),
}

/// Why a delivery's body cannot be read: the text of the 400 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The body, or the form field that carries it, is not JSON.
    NotJson {
        /// "the body" or "the payload field".
        what: &'static str,
        /// The JSON parser's words.
        detail: String,
    },
    /// A field hoist needs is absent or not a string or number (its
    /// dotted path).
    Missing(String),
    /// JSON, but not of any shape this hook knows.
    Shape(&'static str),
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::NotJson { what, detail } => write!(f, "{what} is not JSON: {detail}"),
            PayloadError::Missing(field) => write!(f, "the payload has no {field}"),
            PayloadError::Shape(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PayloadError {}

fn missing(field: &str) -> PayloadError {
    PayloadError::Missing(field.to_string())
}

/// Does `header` (`sha256=<hex>`) carry the HMAC-SHA256 of `body` under
/// `key`? The comparison is constant-time (ring's `hmac::verify`).
pub fn verify_hmac(key: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Some(sig) = decode_hex(hex) else {
        return false;
    };
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::verify(&k, body, &sig).is_ok()
}

/// `sha256=<hex>` for `body` under `key` (tests, load clients).
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, body);
    format!("sha256={}", crate::core::hex(tag.as_ref()))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// How far a signed GitLab delivery's `webhook-timestamp` may be from the
/// clock, either way (the Standard Webhooks tolerance).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// The key of a GitLab signing token as GitLab shows it, `whsec_<base64>`.
pub fn signing_key(token: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let b64 = token.trim().strip_prefix("whsec_")?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|k| !k.is_empty())
}

/// Check a delivery signed by GitLab's signing token (the Standard Webhooks
/// scheme): `webhook-signature` holds one or more space-separated
/// `v1,<base64>` entries, each an HMAC-SHA256 of `<id>.<timestamp>.<body>`
/// under `key`, and `webhook-timestamp` (Unix seconds) is within
/// [`SIGNATURE_TOLERANCE_SECS`] of `now`. `Err` says what failed, without
/// the signature or key.
pub fn verify_signed_delivery(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    use base64::Engine as _;
    let (Some(id), Some(ts), Some(sig)) = (id, timestamp, signature) else {
        return Err(
            "a signing token is configured: webhook-id, webhook-timestamp and webhook-signature are required",
        );
    };
    let t: i64 = ts
        .trim()
        .parse()
        .map_err(|_| "webhook-timestamp is not Unix seconds")?;
    if now.abs_diff(t) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return Err("webhook-timestamp is more than 5 minutes from this server's clock");
    }
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let signed = delivery_text(id, ts.trim(), body);
    let ok = sig
        .split_ascii_whitespace()
        .take(16)
        .filter_map(|e| e.strip_prefix("v1,"))
        .filter_map(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .any(|mac| ring::hmac::verify(&k, &signed, &mac).is_ok());
    if ok {
        Ok(())
    } else {
        Err("webhook-signature does not match the signing token")
    }
}

/// What a signed delivery's MAC covers: `<id>.<timestamp>.<body>`.
fn delivery_text(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    text.extend_from_slice(id.as_bytes());
    text.push(b'.');
    text.extend_from_slice(timestamp.as_bytes());
    text.push(b'.');
    text.extend_from_slice(body);
    text
}

/// The `webhook-signature` value GitLab sends for a delivery (tests).
pub fn sign_delivery(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, &delivery_text(id, timestamp, body));
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// Equal secrets, compared in time independent of where they differ:
/// both sides are hashed first, so lengths do not leak either.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Is `authorization` `Bearer <token>`?
pub fn bearer_ok(authorization: Option<&str>, token: &[u8]) -> bool {
    authorization
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
        .is_some_and(|t| same_secret(t.trim().as_bytes(), token))
}

/// Azure DevOps service hooks: Basic auth whose password is the secret
/// (any user name), or the `X-Hoist-Secret` header.
pub fn azure_ok(authorization: Option<&str>, header: Option<&str>, secret: &[u8]) -> bool {
    if header.is_some_and(|h| same_secret(h.as_bytes(), secret)) {
        return true;
    }
    let Some(b64) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
        return false;
    };
    use base64::Engine;
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let password = match raw.iter().position(|&b| b == b':') {
        Some(i) => &raw[i + 1..],
        None => &raw[..],
    };
    same_secret(password, secret)
}

/// Delivery ids seen recently: a replayed delivery is recognised, and
/// memory stays bounded (the oldest ids are forgotten first).
pub struct Seen {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
}

impl Seen {
    pub fn new(capacity: usize) -> Seen {
        Seen {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Remember `id`; false when it was already seen.
    pub fn first_time(&mut self, id: &str) -> bool {
        // Ids are GUIDs; a longer one is cut so it cannot grow memory.
        let id: String = id.chars().take(128).collect();
        if self.set.contains(&id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(id.clone());
        self.order.push_back(id);
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Parse JSON, naming what is wrong (the 400 reply's text).
pub fn json(body: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(body).map_err(|e| PayloadError::NotJson {
        what: "the body",
        detail: e.to_string(),
    })
}

/// A GitHub delivery's JSON: the body itself (`application/json`), or its
/// `payload` field when the hook sends `application/x-www-form-urlencoded`
/// (GitHub's default). The signature is over the raw body either way.
pub fn github_payload(content_type: Option<&str>, body: &[u8]) -> Result<Value, PayloadError> {
    let form = content_type.is_some_and(|t| {
        t.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !form {
        return json(body);
    }
    let payload = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or(PayloadError::Shape(
            "the form-encoded body has no payload field",
        ))?;
    serde_json::from_str(&payload).map_err(|e| PayloadError::NotJson {
        what: "the payload field",
        detail: e.to_string(),
    })
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn require<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, PayloadError> {
    s(v, path).ok_or_else(|| PayloadError::Missing(path.join(".")))
}

/// A GitHub delivery (`X-GitHub-Event: event`).
pub fn github(event: &str, v: &Value) -> Result<Event, PayloadError> {
    match event {
        "ping" => Ok(Event::Ignored("ping".into())),
        "package" | "registry_package" => {
            let p = v.get(event).ok_or_else(|| missing(event))?;
            if !p["package_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("container"))
            {
                return Ok(Event::Ignored("not a container package".into()));
            }
            let version = &p["package_version"];
            // package_url is `ghcr.io/owner/name:tag` where GitHub sends it.
            if let Some(url) = version["package_url"].as_str().filter(|u| !u.is_empty()) {
                let (image, tag) = split_reference(url);
                return Ok(Event::ImagePushed { image, tag });
            }
            let owner = s(p, &["namespace"])
                .or_else(|| s(p, &["owner", "login"]))
                .ok_or(PayloadError::Shape(
                    "the package has neither namespace nor owner.login",
                ))?;
            let name = require(p, &["name"])?;
            let tag = s(version, &["container_metadata", "tag", "name"])
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            Ok(Event::ImagePushed {
                image: format!("ghcr.io/{}/{}", owner.to_lowercase(), name.to_lowercase()),
                tag,
            })
        }
        "push" => {
            let repo = require(v, &["repository", "full_name"])?;
            let r = require(v, &["ref"])?;
            Ok(Event::RepoChanged {
                repository: repo.to_string(),
                why: format!("push to {}", r.trim_start_matches("refs/heads/")),
            })
        }
        "pull_request" => {
            let repo = require(v, &["repository", "full_name"])?;
            let merged = v["pull_request"]["merged"].as_bool().unwrap_or(false);
            if s(v, &["action"]) != Some("closed") || !merged {
                return Ok(Event::Ignored("a pull request that was not merged".into()));
            }
            let n = v["pull_request"]["number"].as_u64().unwrap_or(0);
            Ok(Event::RepoChanged {
                repository: repo.to_string(),
                why: format!("pull request #{n} merged"),
            })
        }
        "issue_comment" => {
            if s(v, &["action"]) != Some("created") {
                return Ok(Event::Ignored("a comment edited or deleted".into()));
            }
            if v["issue"].get("pull_request").is_none() {
                return Ok(Event::Ignored(
                    "a comment on an issue, not a pull request".into(),
                ));
            }
            let c = &v["comment"];
            Ok(Event::Comment(CommentEvent {
                forge: ForgeKind::Github,
                repository: require(v, &["repository", "full_name"])?.to_string(),
                pull: v["issue"]["number"]
                    .as_u64()
                    .ok_or_else(|| missing("issue.number"))?,
                comment_id: c["id"].as_u64().unwrap_or(0),
                author: require(c, &["user", "login"])?.to_string(),
                author_is_bot: s(c, &["user", "type"]) == Some("Bot"),
                body: s(c, &["body"]).unwrap_or("").to_string(),
            }))
        }
        other => Ok(Event::Ignored(format!(
            "event {other:?} is not one hoist handles"
        ))),
    }
}

/// `host/path:tag` or `host/path@digest` → (`host/path`, tag).
fn split_reference(r: &str) -> (String, Option<String>) {
    let r = r.split('@').next().unwrap_or(r);
    let slash = r.rfind('/').unwrap_or(0);
    match r[slash..].find(':') {
        Some(i) => (
            r[..slash + i].to_string(),
            Some(r[slash + i + 1..].to_string()),
        ),
        None => (r.to_string(), None),
    }
}

/// An Azure DevOps service hook delivery.
pub fn azure(v: &Value) -> Result<Event, PayloadError> {
    let kind = require(v, &["eventType"])?;
    let res = &v["resource"];
    let repo_of = |r: &Value| -> Option<String> {
        let org = v["resourceContainers"]["account"]["baseUrl"]
            .as_str()
            .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
            .map(str::to_string);
        let project = s(r, &["project", "name"])?;
        let name = s(r, &["name"])?;
        Some(match org {
            Some(o) if !o.is_empty() => format!("{o}/{project}/{name}"),
            _ => format!("{project}/{name}"),
        })
    };
    match kind {
        "ms.vss-code.git-pullrequest-comment-event" => {
            let pr = &res["pullRequest"];
            let c = &res["comment"];
            if c["commentType"].as_str().is_some_and(|t| t != "text") {
                return Ok(Event::Ignored("a system comment".into()));
            }
            let author = s(c, &["author", "uniqueName"])
                .or_else(|| s(c, &["author", "displayName"]))
                .ok_or_else(|| missing("resource.comment.author.uniqueName"))?;
            Ok(Event::Comment(CommentEvent {
                forge: ForgeKind::AzureDevops,
                repository: repo_of(&pr["repository"])
                    .ok_or_else(|| missing("resource.pullRequest.repository"))?,
                pull: pr["pullRequestId"]
                    .as_u64()
                    .ok_or_else(|| missing("resource.pullRequest.pullRequestId"))?,
                comment_id: c["id"].as_u64().unwrap_or(0),
                author: author.to_string(),
                author_is_bot: c["author"]["isContainer"].as_bool().unwrap_or(false),
                body: s(c, &["content"]).unwrap_or("").to_string(),
            }))
        }
        "git.pullrequest.merged" | "git.pullrequest.updated" => {
            if s(res, &["status"]) != Some("completed") {
                return Ok(Event::Ignored(
                    "a pull request that was not completed".into(),
                ));
            }
            Ok(Event::RepoChanged {
                repository: repo_of(&res["repository"])
                    .ok_or_else(|| missing("resource.repository"))?,
                why: format!(
                    "pull request {} completed",
                    res["pullRequestId"].as_u64().unwrap_or(0)
                ),
            })
        }
        "git.push" => Ok(Event::RepoChanged {
            repository: repo_of(&res["repository"])
                .ok_or_else(|| missing("resource.repository"))?,
            why: "push".into(),
        }),
        other => Ok(Event::Ignored(format!(
            "event {other:?} is not one hoist handles"
        ))),
    }
}

/// A GitLab webhook delivery (`X-Gitlab-Event: Note Hook` …).
pub fn gitlab(event: &str, v: &Value) -> Result<Event, PayloadError> {
    let project = || -> Result<String, PayloadError> {
        Ok(require(v, &["project", "path_with_namespace"])?.to_string())
    };
    match event {
        "Push Hook" => Ok(Event::RepoChanged {
            repository: project()?,
            why: format!(
                "push to {}",
                require(v, &["ref"])?.trim_start_matches("refs/heads/")
            ),
        }),
        "Merge Request Hook" => {
            let a = &v["object_attributes"];
            if s(a, &["action"]) != Some("merge") && s(a, &["state"]) != Some("merged") {
                return Ok(Event::Ignored("a merge request that was not merged".into()));
            }
            Ok(Event::RepoChanged {
                repository: project()?,
                why: format!("merge request !{} merged", a["iid"].as_u64().unwrap_or(0)),
            })
        }
        "Note Hook" => {
            let a = &v["object_attributes"];
            if s(a, &["noteable_type"]) != Some("MergeRequest") {
                return Ok(Event::Ignored(
                    "a note on something other than a merge request".into(),
                ));
            }
            if a["system"].as_bool() == Some(true) {
                return Ok(Event::Ignored("a system note".into()));
            }
            if s(a, &["action"]).is_some_and(|x| x != "create") {
                return Ok(Event::Ignored("a note edited or deleted".into()));
            }
            let author = require(v, &["user", "username"])?;
            Ok(Event::Comment(CommentEvent {
                forge: ForgeKind::Gitlab,
                repository: project()?,
                pull: v["merge_request"]["iid"]
                    .as_u64()
                    .ok_or_else(|| missing("merge_request.iid"))?,
                comment_id: a["id"].as_u64().unwrap_or(0),
                author: author.to_string(),
                // Project and group access tokens act as bot users
                // named project_<id>_bot_<hex> / group_<id>_bot_<hex>.
                author_is_bot: v["user"]["bot"].as_bool() == Some(true)
                    || is_gitlab_bot_name(author),
                body: s(a, &["note"]).unwrap_or("").to_string(),
            }))
        }
        other => Ok(Event::Ignored(format!(
            "event {other:?} is not one hoist handles"
        ))),
    }
}

/// `project_12_bot_3f9a…`, `group_7_bot_…`: the users GitLab makes for
/// project and group access tokens.
fn is_gitlab_bot_name(name: &str) -> bool {
    let mut parts = name.split('_');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("project" | "group"), Some(id), Some("bot")) if id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty()
    )
}

/// A registry notification: an ACR webhook (`{action, target, request}`)
/// or a distribution envelope (`{events: [...]}`). Only pushes of tagged
/// manifests matter.
pub fn registry(v: &Value) -> Result<Vec<Event>, PayloadError> {
    let events: Vec<&Value> = match v.get("events") {
        Some(Value::Array(a)) => a.iter().take(1000).collect(),
        Some(_) => return Err(PayloadError::Shape("events is not a list")),
        None if v.get("action").is_some() => vec![v],
        None => {
            return Err(PayloadError::Shape(
                "neither an ACR event (action) nor a notification envelope (events)",
            ));
        }
    };
    let mut out = Vec::new();
    for e in events {
        if s(e, &["action"]) != Some("push") {
            out.push(Event::Ignored("not a push".into()));
            continue;
        }
        let repo = require(e, &["target", "repository"])?;
        let tag = s(e, &["target", "tag"]).filter(|t| !t.is_empty());
        // The host: the target URL's (distribution), else the request's.
        let host = s(e, &["target", "url"])
            .and_then(|u| u.split_once("://"))
            .and_then(|(_, rest)| rest.split('/').next())
            .or_else(|| s(e, &["request", "host"]))
            .unwrap_or("");
        let image = if host.is_empty() {
            repo.to_string()
        } else {
            format!("{host}/{repo}")
        };
        out.push(Event::ImagePushed {
            image,
            tag: tag.map(str::to_string),
        });
    }
    Ok(out)
}

/// Does a pushed `image` (as a registry names it) concern the fleet
/// image `fleet`? Exact matches, Docker Hub's short names, and — for
/// registries behind a proxy that reports another host — the same
/// repository path. A false match costs one scan, never a wrong change:
/// what to write is decided from the scan, not from the event.
pub fn image_matches(pushed: &str, fleet: &str) -> bool {
    let norm = |i: &str| -> String {
        let i = i.trim().to_lowercase();
        let first = i.split('/').next().unwrap_or("");
        let has_host =
            i.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
        let i = if has_host {
            i
        } else {
            format!("docker.io/{i}")
        };
        let i = i
            .replace("index.docker.io/", "docker.io/")
            .replace("registry-1.docker.io/", "docker.io/");
        match i.strip_prefix("docker.io/") {
            Some(rest) if !rest.contains('/') => format!("docker.io/library/{rest}"),
            _ => i,
        }
    };
    let (p, f) = (norm(pushed), norm(fleet));
    if p == f {
        return true;
    }
    let path = |i: &str| {
        i.split_once('/')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default()
    };
    !path(&p).is_empty() && path(&p) == path(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_gitlab_deliveries() {
        use base64::Engine as _;
        let token = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        let key = signing_key(&token).unwrap();
        assert_eq!(key, vec![7u8; 32]);
        assert!(signing_key("no-prefix").is_none());
        assert!(signing_key("whsec_***").is_none());
        assert!(signing_key("whsec_").is_none());
        let body = br#"{"object_kind":"push"}"#;
        let sig = sign_delivery(&key, "id-1", "1700000000", body);
        let ok = |id, ts, sig: &str, body: &[u8], now| {
            verify_signed_delivery(&key, Some(id), Some(ts), Some(sig), body, now)
        };
        assert_eq!(ok("id-1", "1700000000", &sig, body, 1_700_000_100), Ok(()));
        // Key rotation: GitLab may send several entries; any one matching passes.
        let two = format!("v1,AAAA {sig}");
        assert_eq!(ok("id-1", "1700000000", &two, body, 1_700_000_000), Ok(()));
        assert!(ok("id-2", "1700000000", &sig, body, 1_700_000_000).is_err());
        assert!(ok("id-1", "1700000001", &sig, body, 1_700_000_000).is_err());
        assert!(ok("id-1", "1700000000", &sig, b"{}", 1_700_000_000).is_err());
        let stale = ok("id-1", "1700000000", &sig, body, 1_700_000_301).unwrap_err();
        assert!(stale.contains("5 minutes"), "{stale}");
        assert!(ok("id-1", "soon", &sig, body, 1_700_000_000).is_err());
        // Timestamps at the ends of i64 are far from now, not an overflow.
        for far in [i64::MIN, i64::MAX] {
            let ts = far.to_string();
            let sig = sign_delivery(&key, "id-1", &ts, body);
            let why = verify_signed_delivery(
                &key,
                Some("id-1"),
                Some(&ts),
                Some(&sig),
                body,
                1_700_000_000,
            )
            .unwrap_err();
            assert!(why.contains("5 minutes"), "{why}");
        }
        assert!(ok("id-1", "1700000000", "v2,xyz", body, 1_700_000_000).is_err());
        let none = verify_signed_delivery(&key, None, Some("1"), Some(&sig), body, 1);
        assert!(none.unwrap_err().contains("webhook-id"));
    }

    #[test]
    fn signatures() {
        let body = br#"{"a":1}"#;
        let good = sign(b"k", body);
        assert!(verify_hmac(b"k", body, Some(&good)));
        assert!(!verify_hmac(b"other", body, Some(&good)));
        assert!(!verify_hmac(b"k", b"{\"a\":2}", Some(&good)));
        assert!(!verify_hmac(b"k", body, None));
        assert!(!verify_hmac(b"k", body, Some("sha1=00")));
        assert!(!verify_hmac(b"k", body, Some("sha256=zz")));
        assert!(!verify_hmac(b"k", body, Some(&good[..good.len() - 2])));
        // GitHub's documented example (secret "It's a Secret to Everybody").
        assert!(verify_hmac(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        ));
    }

    #[test]
    fn tokens_and_basic() {
        assert!(bearer_ok(Some("Bearer t0k"), b"t0k"));
        assert!(!bearer_ok(Some("Bearer t0"), b"t0k"));
        assert!(!bearer_ok(None, b"t0k"));
        // "user:s3cret" and ":s3cret"
        assert!(azure_ok(Some("Basic dXNlcjpzM2NyZXQ="), None, b"s3cret"));
        assert!(azure_ok(Some("Basic OnMzY3JldA=="), None, b"s3cret"));
        assert!(!azure_ok(Some("Basic dXNlcjpub3Bl"), None, b"s3cret"));
        assert!(azure_ok(None, Some("s3cret"), b"s3cret"));
        assert!(!azure_ok(Some("Basic !!"), None, b"s3cret"));
    }

    #[test]
    fn replays_are_seen_and_memory_is_bounded() {
        let mut seen = Seen::new(3);
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        for id in ["b", "c", "d"] {
            assert!(seen.first_time(id));
        }
        assert_eq!(seen.len(), 3);
        assert!(seen.first_time("a"), "the oldest id was forgotten");
        assert!(seen.first_time(&"x".repeat(10_000)));
        assert!(
            !seen.first_time(&"x".repeat(20_000)),
            "ids are cut to 128 chars"
        );
    }

    #[test]
    fn registry_events() {
        let acr = json(br#"{"id":"1","action":"push","target":{"repository":"team/api","tag":"v1","digest":"sha256:00"},"request":{"host":"acme.azurecr.io"}}"#).unwrap();
        assert_eq!(
            registry(&acr).unwrap(),
            [Event::ImagePushed {
                image: "acme.azurecr.io/team/api".into(),
                tag: Some("v1".into())
            }]
        );
        let env = json(br#"{"events":[{"action":"pull","target":{"repository":"api"}},{"action":"push","target":{"repository":"api","url":"http://127.0.0.1:5000/v2/api/manifests/sha256:00","tag":"2"},"request":{"host":"proxy:80"}}]}"#).unwrap();
        let got = registry(&env).unwrap();
        assert!(matches!(got[0], Event::Ignored(_)));
        assert_eq!(
            got[1],
            Event::ImagePushed {
                image: "127.0.0.1:5000/api".into(),
                tag: Some("2".into())
            }
        );
        // docs/gitlab.md's call from a pipeline, its variables filled in.
        let gl = json(br#"{"events":[{"action":"push","target":{"repository":"acme/platform/api","tag":"1.4.0","url":"https://registry.gitlab.com/v2/acme/platform/api/manifests/1.4.0"}}]}"#).unwrap();
        assert_eq!(
            registry(&gl).unwrap(),
            vec![Event::ImagePushed {
                image: "registry.gitlab.com/acme/platform/api".into(),
                tag: Some("1.4.0".into()),
            }]
        );
        assert!(registry(&json(b"{}").unwrap()).is_err());
        assert!(registry(&json(br#"{"action":"push"}"#).unwrap()).is_err());
    }

    #[test]
    fn image_matching() {
        assert!(image_matches("127.0.0.1:5000/api", "127.0.0.1:5000/api"));
        assert!(image_matches("nginx", "docker.io/library/nginx"));
        assert!(image_matches("index.docker.io/library/nginx", "nginx"));
        assert!(image_matches(
            "proxy:80/team/api",
            "acme.azurecr.io/team/api"
        ));
        assert!(!image_matches(
            "acme.azurecr.io/team/web",
            "acme.azurecr.io/team/api"
        ));
    }

    #[test]
    fn github_events() {
        let p = json(br#"{"action":"published","package":{"name":"API","namespace":"Acme","package_type":"CONTAINER","package_version":{"container_metadata":{"tag":{"name":"1.2.3"}}}}}"#).unwrap();
        assert_eq!(
            github("package", &p).unwrap(),
            Event::ImagePushed {
                image: "ghcr.io/acme/api".into(),
                tag: Some("1.2.3".into())
            }
        );
        let p = json(br#"{"registry_package":{"package_type":"CONTAINER","package_version":{"package_url":"ghcr.io/acme/api:1.2.4"}}}"#).unwrap();
        assert_eq!(
            github("registry_package", &p).unwrap(),
            Event::ImagePushed {
                image: "ghcr.io/acme/api".into(),
                tag: Some("1.2.4".into())
            }
        );
        let c = json(br#"{"action":"created","issue":{"number":7,"pull_request":{}},"comment":{"id":9,"body":"/hoist help","user":{"login":"alice","type":"User"}},"repository":{"full_name":"acme/fleet"}}"#).unwrap();
        match github("issue_comment", &c).unwrap() {
            Event::Comment(e) => {
                assert_eq!((e.pull, e.comment_id, e.author.as_str()), (7, 9, "alice"));
                assert!(!e.author_is_bot);
            }
            other => panic!("{other:?}"),
        }
        let issue = json(br#"{"action":"created","issue":{"number":7},"comment":{}}"#).unwrap();
        assert!(matches!(
            github("issue_comment", &issue).unwrap(),
            Event::Ignored(_)
        ));
        assert!(
            github(
                "issue_comment",
                &json(br#"{"action":"created","issue":{"pull_request":{}}}"#).unwrap()
            )
            .is_err()
        );
        assert!(matches!(github("star", &c).unwrap(), Event::Ignored(_)));
    }

    #[test]
    fn gitlab_events() {
        let note = json(br#"{"object_kind":"note","event_type":"note","user":{"id":7,"username":"bob","name":"Bob"},"project":{"id":42,"path_with_namespace":"acme/platform/fleet"},"object_attributes":{"id":1244,"note":"/hoist promote prod","noteable_type":"MergeRequest","system":false,"action":"create"},"merge_request":{"iid":3,"state":"opened"}}"#).unwrap();
        match gitlab("Note Hook", &note).unwrap() {
            Event::Comment(c) => {
                assert_eq!(c.forge, ForgeKind::Gitlab);
                assert_eq!(c.repository, "acme/platform/fleet");
                assert_eq!((c.pull, c.comment_id), (3, 1244));
                assert_eq!(c.author, "bob");
                assert!(!c.author_is_bot);
                assert_eq!(c.body, "/hoist promote prod");
            }
            other => panic!("{other:?}"),
        }
        let mut bot = note.clone();
        bot["user"]["username"] = "project_42_bot_5f3a9c".into();
        assert!(matches!(gitlab("Note Hook", &bot).unwrap(), Event::Comment(c) if c.author_is_bot));
        let mut issue = note.clone();
        issue["object_attributes"]["noteable_type"] = "Issue".into();
        assert!(matches!(
            gitlab("Note Hook", &issue).unwrap(),
            Event::Ignored(_)
        ));
        let mut system = note.clone();
        system["object_attributes"]["system"] = true.into();
        assert!(matches!(
            gitlab("Note Hook", &system).unwrap(),
            Event::Ignored(_)
        ));
        let mut no_mr = note.clone();
        no_mr["merge_request"] = Value::Null;
        assert_eq!(
            gitlab("Note Hook", &no_mr).unwrap_err().to_string(),
            "the payload has no merge_request.iid"
        );
        let merged = json(br#"{"object_kind":"merge_request","project":{"path_with_namespace":"acme/fleet"},"object_attributes":{"iid":5,"action":"merge","state":"merged"}}"#).unwrap();
        assert_eq!(
            gitlab("Merge Request Hook", &merged).unwrap(),
            Event::RepoChanged {
                repository: "acme/fleet".into(),
                why: "merge request !5 merged".into()
            }
        );
        let opened = json(br#"{"project":{"path_with_namespace":"acme/fleet"},"object_attributes":{"iid":5,"action":"open","state":"opened"}}"#).unwrap();
        assert!(matches!(
            gitlab("Merge Request Hook", &opened).unwrap(),
            Event::Ignored(_)
        ));
        let push = json(br#"{"object_kind":"push","ref":"refs/heads/main","project":{"path_with_namespace":"acme/fleet"}}"#).unwrap();
        assert!(
            matches!(gitlab("Push Hook", &push).unwrap(), Event::RepoChanged { why, .. } if why == "push to main")
        );
        assert!(gitlab("Push Hook", &json(b"{}").unwrap()).is_err());
        assert!(matches!(
            gitlab("Pipeline Hook", &push).unwrap(),
            Event::Ignored(_)
        ));
        assert!(is_gitlab_bot_name("group_7_bot_ab12"));
        assert!(!is_gitlab_bot_name("project_x_bot_1"));
        assert!(!is_gitlab_bot_name("bob"));
    }
}
