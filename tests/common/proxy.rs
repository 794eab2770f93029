//! A loopback HTTP proxy in front of the test registry that can paginate
//! tag lists like GHCR and inject faults. One connection per request
//! (`Connection: close`) keeps it small.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 500 for the first `n` tag-list requests.
    ServerError(usize),
    /// 429 with `Retry-After: 1` for the first `n` tag-list requests.
    TooMany(usize),
    /// Never answer the first `n` tag-list requests.
    Stall(usize),
    /// Promise a long body, send half, close (first `n` requests).
    CutBody(usize),
    /// `{"tags": [` forever.
    Malformed,
    /// Every page links to itself.
    LinkLoop,
    /// Drop `Docker-Content-Digest` from manifest replies.
    NoDigestHeader,
    /// An endless body.
    Endless,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Relative,
    Absolute,
}

pub struct Proxy {
    pub port: u16,
    pub fault: Arc<Mutex<Fault>>,
    pub tag_requests: Arc<AtomicUsize>,
    /// Faults actually served since the last `set`.
    pub injected: Arc<AtomicUsize>,
    /// Serve ACR's `/acr/v1/<repo>/_tags` (else 404, as other registries do).
    pub acr: Arc<std::sync::atomic::AtomicBool>,
    pub acr_requests: Arc<AtomicUsize>,
    rt: tokio::runtime::Runtime,
}

impl Proxy {
    /// Proxy to `upstream` (host:port). With `page`, tag lists are cut into
    /// pages of at most that many tags, ignoring smaller client `n`.
    pub fn start(upstream: String, page: Option<usize>, links: Links) -> Proxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let fault = Arc::new(Mutex::new(Fault::None));
        let tag_requests = Arc::new(AtomicUsize::new(0));
        let injected = Arc::new(AtomicUsize::new(0));
        let acr = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acr_requests = Arc::new(AtomicUsize::new(0));
        let (f, tr, inj) = (fault.clone(), tag_requests.clone(), injected.clone());
        let (acr_on, acr_n) = (acr.clone(), acr_requests.clone());
        rt.spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (http, upstream, f, tr) = (
                    http.clone(),
                    upstream.clone(),
                    f.clone(),
                    (tr.clone(), inj.clone()),
                );
                let acr = (acr_on.clone(), acr_n.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, http, upstream, page, links, port, f, tr, acr).await;
                });
            }
        });
        Proxy {
            port,
            fault,
            tag_requests,
            injected,
            acr,
            acr_requests,
            rt,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set(&self, f: Fault) {
        *self.fault.lock().unwrap() = f;
        self.tag_requests.store(0, Ordering::SeqCst);
        self.injected.store(0, Ordering::SeqCst);
    }

    /// How many faults were served since the last [`Proxy::set`].
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The runtime shuts down with the proxy.
        let _ = &self.rt;
    }
}

async fn read_head(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut b).await.ok()?;
        if n == 0 || buf.len() > 65536 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
    String::from_utf8(buf).ok()
}

async fn respond(
    sock: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body).await?;
    sock.shutdown().await
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    mut sock: TcpStream,
    http: reqwest::Client,
    upstream: String,
    page: Option<usize>,
    links: Links,
    port: u16,
    fault: Arc<Mutex<Fault>>,
    (tag_requests, injected): (Arc<AtomicUsize>, Arc<AtomicUsize>),
    (acr_on, acr_n): (Arc<std::sync::atomic::AtomicBool>, Arc<AtomicUsize>),
) -> std::io::Result<()> {
    let Some(head) = read_head(&mut sock).await else {
        return Ok(());
    };
    if head.contains("/acr/v1/") {
        if !acr_on.load(Ordering::SeqCst) {
            return respond(&mut sock, 404, &[], b"404 page not found").await;
        }
        acr_n.fetch_add(1, Ordering::SeqCst);
        return acr_tags(&mut sock, &head, &http, &upstream).await;
    }
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, target) = (
        first.next().unwrap_or("GET").to_string(),
        first.next().unwrap_or("/").to_string(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let is_tags = target.contains("/tags/list");
    let f = *fault.lock().unwrap();
    if is_tags {
        let n = tag_requests.fetch_add(1, Ordering::SeqCst);
        let faulty = match f {
            Fault::ServerError(k) | Fault::TooMany(k) | Fault::Stall(k) | Fault::CutBody(k) => {
                n < k
            }
            Fault::Malformed | Fault::Endless => true,
            Fault::None | Fault::LinkLoop | Fault::NoDigestHeader => false,
        };
        if faulty {
            injected.fetch_add(1, Ordering::SeqCst);
        }
        match f {
            Fault::ServerError(k) if n < k => {
                return respond(
                    &mut sock,
                    500,
                    &[],
                    b"{\"errors\":[{\"code\":\"UNKNOWN\"}]}",
                )
                .await;
            }
            Fault::TooMany(k) if n < k => {
                return respond(
                    &mut sock,
                    429,
                    &[("Retry-After".into(), "1".into())],
                    b"{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}",
                )
                .await;
            }
            Fault::Stall(k) if n < k => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            Fault::CutBody(k) if n < k => {
                sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"name\":\"x\",\"tags\":[\"1.0.0\",").await?;
                return Ok(());
            }
            Fault::Malformed => {
                return respond(
                    &mut sock,
                    200,
                    &[("Content-Type".into(), "application/json".into())],
                    b"{\"tags\": [\"1.0.0\", ",
                )
                .await;
            }
            Fault::Endless => {
                sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").await?;
                let chunk = format!("{:x}\r\n{}\r\n", 65536, "[".repeat(65536));
                loop {
                    if sock.write_all(chunk.as_bytes()).await.is_err() {
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
    }
    // Forward upstream (whole list when we paginate ourselves).
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let fwd = if is_tags && page.is_some() {
        format!("http://{upstream}{path}")
    } else {
        format!("http://{upstream}{target}")
    };
    let mut req = http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), fwd);
    for (k, v) in &headers {
        if k == "authorization" || k == "accept" {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(_) => return respond(&mut sock, 502, &[], b"").await,
    };
    let status = resp.status().as_u16();
    let mut out_headers: Vec<(String, String)> = Vec::new();
    let keep: &[&str] = if f == Fault::NoDigestHeader {
        &["content-type", "www-authenticate"]
    } else {
        &["content-type", "docker-content-digest", "www-authenticate"]
    };
    for k in keep.iter().copied() {
        if let Some(v) = resp.headers().get(k).and_then(|v| v.to_str().ok()) {
            out_headers.push((k.to_string(), v.to_string()));
        }
    }
    let body = resp.bytes().await.unwrap_or_default().to_vec();
    if method == "HEAD" {
        // Keep the upstream length semantics simple: no body for HEAD.
        return respond(&mut sock, status, &out_headers, b"").await;
    }
    if !(is_tags && status == 200) {
        return respond(&mut sock, status, &out_headers, &body).await;
    }
    let Some(page) = page else {
        return respond(&mut sock, status, &out_headers, &body).await;
    };
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    let last = params
        .iter()
        .find(|(k, _)| k == "last")
        .map(|(_, v)| v.clone());
    let start = last.map_or(0, |l| tags.partition_point(|t| *t <= l));
    let end = (start + page).min(tags.len());
    let chunk = &tags[start..end];
    if f == Fault::LinkLoop {
        injected.fetch_add(1, Ordering::SeqCst);
        out_headers.push(("Link".into(), format!("<{target}>; rel=\"next\"")));
    } else if end < tags.len() {
        let next = format!("{path}?n={page}&last={}", tags[end - 1]);
        let link = match links {
            Links::Relative => format!("<{next}>; rel=\"next\""),
            Links::Absolute => format!("<http://127.0.0.1:{port}{next}>; rel=\"next\""),
        };
        out_headers.push(("Link".into(), link));
    }
    let body = serde_json::json!({ "name": v["name"], "tags": chunk }).to_string();
    respond(&mut sock, 200, &out_headers, body.as_bytes()).await
}

/// ACR's `/acr/v1/<repo>/_tags?orderby=timedesc&n=N&last=T`, built from the
/// upstream tag list ("newest" = last in reverse lexical order here).
async fn acr_tags(
    sock: &mut TcpStream,
    head: &str,
    http: &reqwest::Client,
    upstream: &str,
) -> std::io::Result<()> {
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let repo = path
        .trim_start_matches("/acr/v1/")
        .trim_end_matches("/_tags")
        .to_string();
    let q = |k: &str| {
        query.split('&').find_map(|kv| {
            kv.split_once('=')
                .filter(|(a, _)| *a == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let n: usize = q("n").and_then(|v| v.parse().ok()).unwrap_or(100).min(100);
    let auth = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.trim().to_string())
    });
    let mut req = http.get(format!("http://{upstream}/v2/{repo}/tags/list"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let Ok(resp) = req.send().await else {
        return respond(sock, 502, &[], b"").await;
    };
    if resp.status() != 200 {
        return respond(sock, resp.status().as_u16(), &[], b"").await;
    }
    let v: serde_json::Value =
        serde_json::from_slice(&resp.bytes().await.unwrap_or_default()).unwrap_or_default();
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.as_str().map(String::from))
        .collect();
    tags.sort();
    tags.reverse();
    let start = q("last")
        .and_then(|l| tags.iter().position(|t| *t == l).map(|p| p + 1))
        .unwrap_or(0);
    let end = (start + n).min(tags.len());
    let entries: Vec<serde_json::Value> = tags[start..end]
        .iter()
        .map(|t| serde_json::json!({"name": t, "lastUpdateTime": "2026-01-01T00:00:00Z"}))
        .collect();
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if end < tags.len() {
        headers.push((
            "Link".into(),
            format!(
                "<{path}?orderby=timedesc&n={n}&last={}>; rel=\"next\"",
                tags[end - 1]
            ),
        ));
    }
    let body =
        serde_json::json!({"registry": upstream, "imageName": repo, "tags": entries}).to_string();
    respond(sock, 200, &headers, body.as_bytes()).await
}
