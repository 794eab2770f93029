//! One JSON-over-HTTPS call with the retries every forge needs.
//!
//! Retried, each within a bound: transport errors and 5xx (exponential
//! backoff from 500 ms, 4 attempts); 429, and 403 when it is a rate limit
//! (a `retry-after` header, `x-ratelimit-remaining: 0`, or GitHub's
//! "secondary rate limit" message), after the wait the forge asks for, at
//! most 60 s. Everything else goes back to the caller, who knows what a
//! 404, 409 or 422 means for its request. Replies are read up to 8 MiB.
//!
//! Blocking on purpose: the run loop is sequential (rung after rung, each
//! waiting on git), and the bot calls it from a blocking task.

use std::io::Read;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::{Error, Result};
use crate::core::secret::Secret;

const MAX_REPLY: u64 = 8 << 20;
const MAX_WAIT: Duration = Duration::from_secs(60);

pub struct Http {
    /// The process's client for this forge host (see [`client_for`]).
    client: std::sync::Arc<Client>,
    /// The credential's header value…
    auth: Option<Secret>,
    /// …and its name: `Authorization`, or GitLab's `PRIVATE-TOKEN`.
    auth_name: reqwest::header::HeaderName,
    /// Headers every call carries (Accept, API version).
    headers: HeaderMap,
    /// "GitHub acme/fleet", for errors.
    pub who: String,
    attempts: u32,
}

/// The last `x-ratelimit-remaining` any forge reply carried (-1: none
/// yet), for the bot's metrics.
pub static RATE_LIMIT_REMAINING: std::sync::atomic::AtomicI64 =
    std::sync::atomic::AtomicI64::new(-1);

/// Forge replies that were server errors or rate limits, and transport
/// failures, since start (the bot's metrics).
pub static ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A reply the caller handles itself.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The forge's own words: GitHub's `message` (plus its `errors`),
    /// Azure DevOps' `message`.
    pub fn message(&self) -> String {
        let mut m = match &self.json["message"] {
            Value::String(s) => s.clone(),
            // GitLab: a list of sentences, or field → sentences.
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            Value::Object(o) => o
                .iter()
                .map(|(k, v)| match v {
                    Value::Array(a) => format!(
                        "{k} {}",
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    other => format!("{k} {other}"),
                })
                .collect::<Vec<_>>()
                .join("; "),
            // GitLab's parameter errors: {"error": "title is missing"}.
            _ => self.json["error"].as_str().unwrap_or("").to_string(),
        };
        if let Some(errors) = self.json["errors"].as_array() {
            let more: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    e["message"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| e["code"].as_str().map(|c| format!("{c} {}", e["field"])))
                })
                .collect();
            if !more.is_empty() {
                m = format!("{m} ({})", more.join("; "));
            }
        }
        if m.is_empty() {
            m = "no message".into();
        }
        m
    }
}

/// The origin (`scheme://host:port`) of a URL: what the client pool is
/// keyed by.
fn origin_of(url: &str) -> &str {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let end = rest.find('/').map_or(url.len(), |i| scheme.len() + 3 + i);
    &url[..end]
}

/// One HTTP client per forge host for the whole process: every fleet and
/// every run that talks to a host shares its connections (and, on a
/// blocking client, its one I/O thread) instead of building its own.
/// Credentials are not part of a client: each call carries its own
/// `Authorization`, so fleets with different tokens share a host safely.
fn client_for(api: &str) -> Result<std::sync::Arc<Client>> {
    static CLIENTS: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Client>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    let origin = origin_of(api).to_ascii_lowercase();
    if let Some(c) = clients.get(&origin) {
        return Ok(c.clone());
    }
    let client = std::sync::Arc::new(
        Client::builder()
            .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::new(format!("cannot build an HTTP client: {e}")))?,
    );
    clients.insert(origin, client.clone());
    Ok(client)
}

impl Http {
    /// A client for the forge API at `api` (its host's shared client),
    /// sending `auth` and `headers` with every call; `who` names it in
    /// errors.
    pub fn new(
        api: &str,
        who: String,
        auth: Option<Secret>,
        headers: &[(&str, &str)],
    ) -> Result<Http> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::new(format!("bad header {k}: {e}")))?;
            let value =
                HeaderValue::from_str(v).map_err(|e| Error::new(format!("bad header {k}: {e}")))?;
            map.insert(name, value);
        }
        Ok(Http {
            client: client_for(api)?,
            auth,
            auth_name: reqwest::header::AUTHORIZATION,
            headers: map,
            who,
            attempts: 4,
        })
    }

    /// Send the credential in header `name` instead of `Authorization`.
    pub fn auth_header(mut self, name: &'static str) -> Http {
        self.auth_name = reqwest::header::HeaderName::from_static(name);
        self
    }

    /// Send `method url` with an optional JSON body; retry as described
    /// above; return any other reply as it is.
    pub fn call(&self, method: &str, url: &str, body: Option<&Value>) -> Result<Reply> {
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::new(format!("bad method {method}: {e}")))?;
        let path = path_of(url);
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let mut req = self
                .client
                .request(m.clone(), url)
                .headers(self.headers.clone());
            if let Some(a) = &self.auth {
                let mut v = HeaderValue::from_str(a.expose()).map_err(|_| {
                    Error::setup(format!(
                        "{}: the token is not a valid header value",
                        self.who
                    ))
                })?;
                v.set_sensitive(true);
                req = req.header(self.auth_name.clone(), v);
            }
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.to_string());
            }
            crate::core::requests::record(crate::core::requests::Service::Forge, method, url);
            let resp = match req.send() {
                Ok(r) => r,
                Err(e) => {
                    ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    last = transport_error(&e);
                    tracing::debug!(attempt, %path, error = %last, "forge call failed; retrying");
                    backoff(attempt);
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if let Some(n) = headers
                .get("x-ratelimit-remaining")
                .or_else(|| headers.get("ratelimit-remaining"))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
            {
                RATE_LIMIT_REMAINING.store(n, std::sync::atomic::Ordering::Relaxed);
            }
            if status >= 500 || status == 429 {
                ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let mut raw = Vec::new();
            if let Err(e) = resp.take(MAX_REPLY + 1).read_to_end(&mut raw) {
                last = format!("reading the reply: {e}");
                backoff(attempt);
                continue;
            }
            if raw.len() as u64 > MAX_REPLY {
                return Err(Error::new(format!(
                    "{}: {method} {path}: the reply is larger than {} MiB",
                    self.who,
                    MAX_REPLY >> 20
                )));
            }
            let json: Value = if raw.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                match serde_json::from_slice(&raw) {
                    Ok(v) => v,
                    Err(_) if status >= 500 => Value::Null,
                    Err(e) => {
                        return Err(Error::new(format!(
                            "{}: {method} {path}: {status}: the reply is not JSON ({e})",
                            self.who
                        )));
                    }
                }
            };
            let reply = Reply { status, json };
            if status >= 500 {
                last = format!("{status} {}", reply.message());
                tracing::debug!(attempt, %path, status, "forge server error; retrying");
                backoff(attempt);
                continue;
            }
            if let Some(wait) = rate_limited(status, &headers, &reply) {
                last = format!("{status} rate limited: {}", reply.message());
                if wait > MAX_WAIT {
                    return Err(Error::new(format!(
                        "{}: {method} {path}: rate limited for {} s more; run again later",
                        self.who,
                        wait.as_secs()
                    )));
                }
                tracing::info!(attempt, %path, wait_s = wait.as_secs_f32(), "forge rate limit; waiting");
                if attempt < self.attempts {
                    std::thread::sleep(wait);
                }
                continue;
            }
            return Ok(reply);
        }
        Err(Error::new(format!(
            "{}: {method} {path}: {last} (gave up after {} attempts)",
            self.who, self.attempts
        )))
    }

    /// `call`, then any non-2xx reply becomes an error naming `what`.
    pub fn expect(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value> {
        let r = self.call(method, url, body)?;
        if r.ok() {
            return Ok(r.json);
        }
        let e = Error::new(format!(
            "{}: {what}: {} {}",
            self.who,
            r.status,
            r.message()
        ));
        Err(if r.status == 401 || r.status == 404 {
            e.into_setup()
        } else {
            e
        })
    }
}

/// The path part of a URL, for messages (no host, no query).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}

fn transport_error(e: &reqwest::Error) -> String {
    // reqwest's Display names the URL; ours never carry credentials, but
    // keep the text to its cause all the same.
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// Sleep before retry `attempt` (1-based): from 500 ms to 4 s, half of
/// it random.
fn backoff(attempt: u32) {
    crate::core::backoff::Backoff::new(Duration::from_millis(500), Duration::from_secs(4))
        .sleep(attempt);
}

/// How long a rate-limited reply asks hoist to wait; `None` when the reply
/// is not a rate limit.
fn rate_limited(status: u16, headers: &HeaderMap, reply: &Reply) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if let Some(s) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(s));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return Some(Duration::from_secs(
            reset.map_or(60, |r| r.saturating_sub(now) + 1),
        ));
    }
    let text = reply.message().to_ascii_lowercase();
    if status == 429 || text.contains("secondary rate limit") || text.contains("abuse") {
        return Some(Duration::from_secs(60));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_for_messages() {
        assert_eq!(
            path_of("https://api.github.com/repos/a/b/pulls?state=open"),
            "/repos/a/b/pulls"
        );
        assert_eq!(path_of("http://127.0.0.1:9/graphql"), "/graphql");
    }

    #[test]
    fn one_client_per_forge_host_whoever_asks() {
        assert_eq!(
            origin_of("https://dev.azure.com/acme/x?y"),
            "https://dev.azure.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:9"), "http://127.0.0.1:9");
        let a = Http::new(
            "http://forge.test:9/api/v3",
            "GitHub a/one".into(),
            Some(Secret::new("Bearer one".to_string())),
            &[],
        )
        .unwrap();
        let b = Http::new(
            "HTTP://forge.test:9/api/graphql",
            "GitHub b/two".into(),
            Some(Secret::new("Bearer two".to_string())),
            &[("accept", "application/json")],
        )
        .unwrap();
        let other = Http::new("http://other.test:9", "x".into(), None, &[]).unwrap();
        assert!(
            std::sync::Arc::ptr_eq(&a.client, &b.client),
            "one host, one client"
        );
        assert!(!std::sync::Arc::ptr_eq(&a.client, &other.client));
        assert_ne!(a.auth, b.auth, "each keeps its own credentials");
    }

    #[test]
    fn rate_limits() {
        let reply = |msg: &str| Reply {
            status: 403,
            json: serde_json::json!({ "message": msg }),
        };
        let mut h = HeaderMap::new();
        assert_eq!(
            rate_limited(403, &h, &reply("Must have admin rights")),
            None
        );
        assert_eq!(
            rate_limited(
                403,
                &h,
                &reply("You have exceeded a secondary rate limit. Please wait a few minutes")
            ),
            Some(Duration::from_secs(60))
        );
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            rate_limited(403, &h, &reply("x")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(rate_limited(404, &h, &reply("x")), None);
    }
}
