//! A tally of the HTTP requests hoist makes, by service (registry or
//! forge), host and route class (`GET /repos/{repo}/pulls`, `HEAD
//! /v2/{name}/manifests/{ref}`): what a run cost, for `--output json`, the
//! CI summaries and `/metrics`. Every attempt counts (a retry is a request
//! the host saw). Route classes are the path with its variable parts
//! named, so the tally stays small whatever a fleet's size; past
//! [`MAX_ROUTES`] classes new ones are counted as `other`.
//!
//! The forge's count is also kept per thread: a run's forge calls are made
//! on the thread that runs it, so a run can tell what it spent itself
//! (`[forge] max_requests_per_run`) while other fleets run beside it.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Who was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// A container registry (or its token service).
    Registry,
    /// GitHub or Azure DevOps.
    Forge,
}

impl Service {
    /// `registry` or `forge`.
    pub fn word(self) -> &'static str {
        match self {
            Service::Registry => "registry",
            Service::Forge => "forge",
        }
    }
}

/// Requests of one class to one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// `registry` or `forge`.
    pub service: Service,
    /// `host[:port]`.
    pub host: String,
    /// Method and route class.
    pub route: String,
    /// How many.
    pub count: u64,
}

/// Route classes kept at most; later ones count as `other`.
pub const MAX_ROUTES: usize = 512;

type Key = (Service, String, String);
static TALLY: Mutex<BTreeMap<Key, u64>> = Mutex::new(BTreeMap::new());

thread_local! {
    static FORGE_ON_THIS_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// Count one request.
pub fn record(service: Service, method: &str, url: &str) {
    let (host, route) = classify(service, method, url);
    if service == Service::Forge {
        FORGE_ON_THIS_THREAD.with(|c| c.set(c.get() + 1));
    }
    let Ok(mut t) = TALLY.lock() else { return };
    let key = (service, host, route);
    if let Some(n) = t.get_mut(&key) {
        *n += 1;
    } else if t.len() < MAX_ROUTES {
        t.insert(key, 1);
    } else {
        *t.entry((service, key.1, "other".into())).or_default() += 1;
    }
}

/// Every count since the process started, sorted.
pub fn snapshot() -> Vec<Count> {
    let Ok(t) = TALLY.lock() else {
        return Vec::new();
    };
    t.iter()
        .map(|((service, host, route), n)| Count {
            service: *service,
            host: host.clone(),
            route: route.clone(),
            count: *n,
        })
        .collect()
}

/// What was counted between `before` (an earlier [`snapshot`]) and now.
pub fn since(before: &[Count]) -> Vec<Count> {
    snapshot()
        .into_iter()
        .filter_map(|mut c| {
            let was = before
                .iter()
                .find(|b| b.service == c.service && b.host == c.host && b.route == c.route)
                .map_or(0, |b| b.count);
            c.count -= was.min(c.count);
            (c.count > 0).then_some(c)
        })
        .collect()
}

/// Forge requests made on this thread so far.
pub fn forge_on_this_thread() -> u64 {
    FORGE_ON_THIS_THREAD.with(Cell::get)
}

/// `(host, "METHOD /route/{class}")` of a request.
pub fn classify(service: Service, method: &str, url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // Never a user name or password in the tally.
    let host = host.rsplit('@').next().unwrap_or(host);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let route = match service {
        Service::Registry => registry_route(&segs),
        Service::Forge => forge_route(&segs),
    };
    (
        host.to_string(),
        format!("{} /{route}", method.to_ascii_uppercase()),
    )
}

fn registry_route(segs: &[&str]) -> String {
    if segs.first() != Some(&"v2") {
        // A token service: its path, whatever it is, names no image.
        return segs.iter().take(2).copied().collect::<Vec<_>>().join("/");
    }
    let kinds = ["manifests", "blobs", "referrers", "tags"];
    match segs.iter().rposition(|s| kinds.contains(s)) {
        Some(i) if i > 1 => {
            let what = match segs[i] {
                "tags" => "tags/list",
                "manifests" => "manifests/{ref}",
                "blobs" => "blobs/{digest}",
                _ => "referrers/{digest}",
            };
            format!("v2/{{name}}/{what}")
        }
        _ if segs.len() == 1 => "v2/".to_string(),
        _ => "v2/{other}".to_string(),
    }
}

fn forge_route(segs: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let s = segs[i];
        // GitHub `/repos/{owner}/{repo}`, Azure DevOps
        // `/_apis/git/repositories/{repo}`: the repository is one class.
        if (s == "repos" && i + 2 < segs.len()) || (s == "repositories" && i + 1 < segs.len()) {
            out.push(s.to_string());
            out.push("{repo}".into());
            i += if s == "repos" { 3 } else { 2 };
            continue;
        }
        let variable = s.bytes().all(|b| b.is_ascii_digit())
            || (s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()));
        out.push(if variable {
            "{id}".into()
        } else {
            s.to_string()
        });
        i += 1;
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classes_not_urls() {
        let f = |m: &str, u: &str| classify(Service::Forge, m, u);
        assert_eq!(
            f(
                "get",
                "https://api.github.com/repos/acme/fleet/pulls?head=acme:hoist/prod&state=open"
            ),
            ("api.github.com".into(), "GET /repos/{repo}/pulls".into())
        );
        assert_eq!(
            f("PUT", "http://127.0.0.1:9/repos/a/b/pulls/12/merge").1,
            "PUT /repos/{repo}/pulls/{id}/merge"
        );
        assert_eq!(
            f(
                "POST",
                &format!("http://h/repos/a/b/statuses/{}", "ab".repeat(20))
            )
            .1,
            "POST /repos/{repo}/statuses/{id}"
        );
        assert_eq!(
            f("GET", "https://dev.azure.com/org/proj/_apis/git/repositories/fleet/pullrequests/7?api-version=7.1").1,
            "GET /org/proj/_apis/git/repositories/{repo}/pullrequests/{id}"
        );
        let r = |m: &str, u: &str| classify(Service::Registry, m, u);
        assert_eq!(
            r("HEAD", "https://ghcr.io/v2/acme/team/api/manifests/v1.2.3"),
            ("ghcr.io".into(), "HEAD /v2/{name}/manifests/{ref}".into())
        );
        assert_eq!(
            r("GET", "https://ghcr.io/v2/a/tags/list?n=1000&last=x").1,
            "GET /v2/{name}/tags/list"
        );
        assert_eq!(r("GET", "https://ghcr.io/v2/").1, "GET /v2/");
        assert_eq!(
            r(
                "GET",
                "https://user:secret@auth.example/token?scope=repository:a:pull"
            ),
            ("auth.example".into(), "GET /token".into())
        );
    }

    #[test]
    fn the_tally_counts_and_stays_bounded() {
        let before = snapshot();
        let here = forge_on_this_thread();
        for n in 0..3 {
            record(
                Service::Forge,
                "GET",
                &format!("http://tally.test/repos/a/b/pulls/{n}"),
            );
        }
        let got = since(&before);
        let mine: Vec<&Count> = got.iter().filter(|c| c.host == "tally.test").collect();
        assert_eq!(mine.len(), 1, "{got:?}");
        assert_eq!(mine[0].count, 3);
        assert_eq!(forge_on_this_thread() - here, 3);
        for n in 0..(MAX_ROUTES + 10) {
            record(
                Service::Registry,
                "GET",
                &format!("http://bound.test/x{n}/y"),
            );
        }
        assert!(snapshot().len() <= MAX_ROUTES + 2);
    }
}
