//! The OCI distribution API client: tag lists, digests, authentication.
//!
//! Every request goes through [`Client::fetch`], which owns the policies
//! that make a scan safe to run against real registries: a per-registry
//! concurrency limit, a per-request timeout covering the whole body, a cap
//! on how many bytes a reply may have, retries with exponential backoff and
//! jitter on connection errors, timeouts and 5xx, `Retry-After` on 429, and
//! the `401` → challenge → token dance with a token cache.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, LINK, RETRY_AFTER, WWW_AUTHENTICATE};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use super::challenge::{self, Challenge};
use super::credentials::{Credential, Credentials};
use super::reference::ImageRef;
use super::reference::{is_valid_digest, is_valid_tag};
use crate::core::secret::Secret;

/// Manifest media types accepted when resolving a digest.
pub const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Tunables. The defaults suit public registries and 100,000-tag images.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `n` for tag-list pages.
    pub page_size: usize,
    /// Stop after this many pages (a `Link` chain longer than this is an error).
    pub max_pages: usize,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest `Retry-After` honoured; a longer one fails the request.
    pub max_retry_after: Duration,
    /// Largest reply body read, in bytes.
    pub max_body: usize,
    /// Concurrent requests per registry host.
    pub concurrency: usize,
    /// Requests per second per registry host (`None`: unlimited).
    pub requests_per_second: Option<f64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            page_size: 1000,
            max_pages: 1000,
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            max_body: 16 << 20,
            concurrency: 8,
            requests_per_second: None,
        }
    }
}

/// A failure talking to a registry. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Transport(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("{url} answered {status}{detail}")]
    Status {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("malformed reply from {url}: {what}")]
    Malformed { url: String, what: String },
    #[error("reply from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("tag list pagination: {0}")]
    Pagination(String),
    #[error("{DEFERRED}: {used} requests made to {host} in this run, max_requests_per_run = {max}")]
    Deferred { host: String, used: u64, max: u64 },
}

/// How a request the run's budget refused begins.
pub const DEFERRED: &str = "deferred to the next run";

tokio::task_local! {
    /// What the current run has asked of each registry host, for
    /// `[[registry]] max_requests_per_run`; unset outside a run's scan
    /// (then no budget applies).
    pub static RUN_SPEND: Arc<Spend>;
}

/// Requests per registry host within one run.
#[derive(Debug, Default)]
pub struct Spend(std::sync::Mutex<HashMap<String, u64>>);

impl Spend {
    /// The spend of the run this task belongs to, or a new one.
    pub fn current_or_new() -> Arc<Spend> {
        RUN_SPEND.try_with(Arc::clone).unwrap_or_default()
    }

    /// Count one request to `host`, or, with `max` made already, the
    /// number made.
    fn take(&self, host: &str, max: Option<u64>) -> Result<(), u64> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let used = m.entry(host.to_string()).or_default();
        if max.is_some_and(|max| *used >= max) {
            return Err(*used);
        }
        *used += 1;
        Ok(())
    }
}

/// What a successful request returned.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

type TokenKey = (String, String, String);

/// How to authenticate requests for one repository, learned from a challenge.
#[derive(Clone)]
enum Auth {
    /// A fixed `Authorization` header: Basic credentials, or a static
    /// bearer token the registry takes as it is.
    Header(Secret),
    /// A token from the registry's token service, cached under this key.
    Token(TokenKey),
}

/// Why one attempt produced no reply.
enum AttemptError {
    Http(reqwest::Error),
    /// The body passed `Options::max_body`; reading stopped there.
    TooLarge,
}

pub struct Client {
    http: reqwest::Client,
    creds: Credentials,
    opts: Options,
    tokens: Mutex<HashMap<TokenKey, (Secret, Instant)>>,
    /// Held while a token is fetched, so one request serves every caller.
    token_gates: Mutex<HashMap<TokenKey, Arc<tokio::sync::Mutex<()>>>>,
    learned: Mutex<HashMap<ImageRef, Auth>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Credentials that belong to one repository (its pull Secret).
    per_image: Mutex<HashMap<ImageRef, Credential>>,
    /// Registry hosts that authenticate through Microsoft Entra ID.
    azure: Mutex<HashSet<String>>,
    /// ACR refresh tokens by (realm, service).
    acr_refresh: tokio::sync::Mutex<HashMap<(String, String), Secret>>,
}

/// Next free request slot per registry host, when a rate limit applies:
/// one per process, so a registry's `requests_per_second` holds across
/// every client (every fleet) that calls it.
static PACING: std::sync::LazyLock<Mutex<HashMap<String, Instant>>> =
    std::sync::LazyLock::new(Default::default);

/// A short, printable excerpt of an error body.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t = one_line.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(": {t}")
    }
}

/// Describe a transport error without its URL's query or any header.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading the reply"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    let url = e
        .url()
        .map(|u| format!("{}{}", u.origin().ascii_serialization(), u.path()));
    match url {
        Some(u) => format!("{kind} ({u})"),
        None => kind.to_string(),
    }
}

impl Client {
    pub fn new(
        creds: Credentials,
        opts: Options,
        extra_roots: &[Vec<u8>],
    ) -> Result<Client, String> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5));
        for pem in extra_roots {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("invalid CA certificate: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        let http = b
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(Client {
            http,
            creds,
            opts,
            tokens: Mutex::default(),
            token_gates: Mutex::default(),
            learned: Mutex::default(),
            limits: Mutex::default(),
            per_image: Mutex::default(),
            azure: Mutex::default(),
            acr_refresh: tokio::sync::Mutex::default(),
        })
    }

    fn limiter(&self, host: &str) -> Arc<Semaphore> {
        let mut m = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let n = self
            .creds
            .entry(host)
            .and_then(|e| e.concurrency)
            .unwrap_or(self.opts.concurrency)
            .max(1);
        m.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(n)))
            .clone()
    }

    /// Wait for this host's next request slot, if it is rate limited.
    async fn pace(&self, host: &str) {
        let rps = self
            .creds
            .entry(host)
            .and_then(|e| e.requests_per_second)
            .or(self.opts.requests_per_second)
            .filter(|r| *r > 0.0);
        let Some(rps) = rps else { return };
        let interval = Duration::from_secs_f64(1.0 / rps);
        let wait = {
            let mut m = PACING.lock().unwrap_or_else(|p| p.into_inner());
            reserve(
                m.entry(host.to_string()).or_insert_with(Instant::now),
                Instant::now(),
                interval,
            )
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    pub fn base_url(&self, img: &ImageRef, insecure: bool) -> String {
        let insecure = insecure || self.creds.entry(&img.registry).is_some_and(|e| e.insecure);
        let scheme = if insecure { "http" } else { "https" };
        format!("{scheme}://{}", img.api_host())
    }

    fn backoff(&self, attempt: u32) -> Duration {
        crate::core::backoff::Backoff::new(self.opts.backoff_base, self.opts.backoff_max)
            .wait(attempt.saturating_add(1))
    }

    /// One attempt: send and read the body, capped.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        accept: &str,
        auth: Option<&str>,
        body: Option<&(String, Vec<u8>)>,
    ) -> Result<Reply, AttemptError> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .header(ACCEPT, accept)
            .timeout(self.opts.timeout);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        if let Some((content_type, bytes)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                .body(bytes.clone());
        }
        tracing::debug!(%method, url, authenticated = auth.is_some(), "request");
        crate::core::requests::record(
            crate::core::requests::Service::Registry,
            method.as_str(),
            url,
        );
        let mut resp = req.send().await.map_err(AttemptError::Http)?;
        let status = resp.status().as_u16();
        tracing::trace!(%method, url, status, "response headers");
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(AttemptError::Http)? {
            if body.len() + chunk.len() > self.opts.max_body {
                return Err(AttemptError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Send a request for `img`'s repository, authenticating and retrying
    /// as needed. Returns any final status; callers decide what is success.
    pub async fn fetch(
        &self,
        img: &ImageRef,
        method: Method,
        url: &str,
        accept: &str,
    ) -> Result<Reply, RegistryError> {
        self.send(img, method, url, accept, None).await
    }

    /// [`Client::fetch`] with a request body (`content type`, bytes).
    async fn send(
        &self,
        img: &ImageRef,
        method: Method,
        url: &str,
        accept: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<Reply, RegistryError> {
        let limiter = self.limiter(&img.registry);
        let mut auth = self.known_auth(img).await?;
        let mut authenticated = false;
        let mut attempt = 0u32;
        loop {
            if let Ok(spend) = RUN_SPEND.try_with(Arc::clone) {
                let max = self
                    .creds
                    .entry(&img.registry)
                    .and_then(|e| e.max_requests_per_run);
                if let Err(used) = spend.take(&img.registry, max) {
                    return Err(RegistryError::Deferred {
                        host: img.registry.clone(),
                        used,
                        max: max.unwrap_or_default(),
                    });
                }
            }
            let result = {
                let _permit = limiter
                    .acquire()
                    .await
                    .map_err(|_| RegistryError::Transport("scan cancelled".into()))?;
                self.pace(&img.registry).await;
                self.attempt(&method, url, accept, auth.as_deref(), body.as_ref())
                    .await
            };
            let retry_in = match result {
                Err(AttemptError::TooLarge) => {
                    return Err(RegistryError::TooLarge {
                        url: url.to_string(),
                        limit: self.opts.max_body,
                    });
                }
                Err(AttemptError::Http(e)) => {
                    if attempt >= self.opts.retries {
                        return Err(RegistryError::Transport(format!(
                            "{} after {} attempts",
                            describe(&e),
                            attempt + 1
                        )));
                    }
                    self.backoff(attempt)
                }
                Ok(r) if r.status == 401 && !authenticated => {
                    authenticated = true;
                    let header = r
                        .headers
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    tracing::debug!(
                        url,
                        challenge = header.as_deref().unwrap_or(""),
                        "authentication required"
                    );
                    auth = Some(self.authenticate(img, header.as_deref()).await?);
                    continue;
                }
                Ok(r)
                    if r.status == 429
                        || (r.status == 503 && r.headers.contains_key(RETRY_AFTER)) =>
                {
                    if hub_quota_exhausted(&r.headers) {
                        return Err(RegistryError::Status {
                            url: url.to_string(),
                            status: r.status,
                            detail: ": Docker Hub pull rate limit reached (ratelimit-remaining: 0)"
                                .into(),
                        });
                    }
                    let wait = retry_after(&r.headers).unwrap_or_else(|| self.backoff(attempt));
                    if attempt >= self.opts.retries || wait > self.opts.max_retry_after {
                        return Err(RegistryError::Status {
                            url: url.to_string(),
                            status: r.status,
                            detail: format!(
                                ": too many requests (retry after {}s)",
                                wait.as_secs()
                            ),
                        });
                    }
                    wait
                }
                Ok(r) if r.status >= 500 => {
                    if attempt >= self.opts.retries {
                        return Err(RegistryError::Status {
                            url: url.to_string(),
                            status: r.status,
                            detail: format!(" after {} attempts{}", attempt + 1, excerpt(&r.body)),
                        });
                    }
                    self.backoff(attempt)
                }
                Ok(r) => return Ok(r),
            };
            tracing::debug!(
                url,
                attempt,
                wait_ms = retry_in.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(retry_in).await;
            attempt += 1;
        }
    }

    /// The Authorization header already learned for this repository.
    async fn known_auth(&self, img: &ImageRef) -> Result<Option<String>, RegistryError> {
        let learned = self
            .learned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(img)
            .cloned();
        match learned {
            None => Ok(None),
            Some(Auth::Header(h)) => Ok(Some(h.expose().to_string())),
            Some(Auth::Token(key)) => Ok(self
                .cached_token(&key)
                .map(|t| format!("Bearer {}", t.expose()))),
        }
    }

    fn token_gate(&self, key: &TokenKey) -> Arc<tokio::sync::Mutex<()>> {
        self.token_gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone()
    }

    fn cached_token(&self, key: &TokenKey) -> Option<Secret> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(key)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(t, _)| t.clone())
    }

    /// Authenticate `host` through Microsoft Entra ID (`provider: azure`).
    pub fn use_azure(&self, host: &str) {
        self.azure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(host.to_string());
    }

    fn is_azure(&self, host: &str) -> bool {
        self.azure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(host)
            || self.creds.entry(host).and_then(|e| e.provider.as_deref()) == Some("azure")
    }

    /// ACR: Entra token → /oauth2/exchange → refresh token → access token.
    async fn acr_token(&self, key: &TokenKey) -> Result<Secret, RegistryError> {
        let (realm, service, scope) = key;
        let mut cache = self.acr_refresh.lock().await;
        let refresh = match cache.get(&(realm.clone(), service.clone())) {
            Some(r) => r.clone(),
            None => {
                let src = super::azure::EntraSource::from_env(self.creds.env())
                    .map_err(RegistryError::Auth)?;
                let aad = super::azure::entra_token(&self.http, &src)
                    .await
                    .map_err(RegistryError::Auth)?;
                let r = super::azure::exchange(&self.http, realm, service, src.tenant(), &aad)
                    .await
                    .map_err(RegistryError::Auth)?;
                cache.insert((realm.clone(), service.clone()), r.clone());
                r
            }
        };
        drop(cache);
        let token = super::azure::access_token(&self.http, realm, service, scope, &refresh)
            .await
            .map_err(RegistryError::Auth)?;
        let life = jwt_lifetime(token.expose()).unwrap_or(Duration::from_secs(60));
        let expiry = Instant::now()
            + life
                .saturating_sub(Duration::from_secs(30))
                .max(Duration::from_secs(1));
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), (token.clone(), expiry));
        Ok(token)
    }

    /// Use `cred` for `img` ahead of every other source (its pull Secret).
    pub fn set_image_credential(&self, img: &ImageRef, cred: Credential) {
        self.per_image
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(img.clone(), cred);
    }

    fn credential(&self, img: &ImageRef) -> Result<Option<Credential>, RegistryError> {
        if let Some(c) = self
            .per_image
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(img)
        {
            return Ok(Some(c.clone()));
        }
        self.creds
            .lookup(&img.registry)
            .map_err(RegistryError::Auth)
    }

    /// Answer a challenge; remember how, for the next request.
    async fn authenticate(
        &self,
        img: &ImageRef,
        header: Option<&str>,
    ) -> Result<String, RegistryError> {
        let challenge = header.and_then(challenge::parse).ok_or_else(|| {
            RegistryError::Auth(format!(
                "{} answered 401 without a Basic or Bearer challenge",
                img.registry
            ))
        })?;
        let cred = self.credential(img)?;
        match challenge {
            Challenge::Basic => {
                let c = cred.ok_or_else(|| {
                    RegistryError::Auth(format!(
                        "{} requires credentials and none were found (hoist.toml [[registry]], Docker config.json)",
                        img.registry
                    ))
                })?;
                let h = c.header();
                self.learned
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(img.clone(), Auth::Header(Secret::new(h.clone())));
                Ok(h)
            }
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                if let Some(Credential::Bearer(t)) = &cred {
                    let h = format!("Bearer {}", t.expose());
                    self.learned
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(img.clone(), Auth::Header(Secret::new(h.clone())));
                    return Ok(h);
                }
                let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", img.repository));
                let key = (realm, service.unwrap_or_default(), scope);
                let token = match self.cached_token(&key) {
                    Some(t) => t,
                    None => {
                        // One request per token: whoever waited here finds
                        // the token the first caller fetched.
                        let gate = self.token_gate(&key);
                        let _one_at_a_time = gate.lock().await;
                        match self.cached_token(&key) {
                            Some(t) => t,
                            None if self.is_azure(&img.registry) => self.acr_token(&key).await?,
                            None => self.fetch_token(img, &key, cred.as_ref()).await?,
                        }
                    }
                };
                self.learned
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(img.clone(), Auth::Token(key));
                Ok(format!("Bearer {}", token.expose()))
            }
        }
    }

    /// GET the realm with service and scope (Docker token spec), Basic
    /// credentials if we have them.
    async fn fetch_token(
        &self,
        img: &ImageRef,
        key: &TokenKey,
        cred: Option<&Credential>,
    ) -> Result<Secret, RegistryError> {
        let (realm, service, scope) = key;
        let parsed = reqwest::Url::parse(realm)
            .map_err(|_| RegistryError::Auth(format!("token realm {realm:?} is not a URL")))?;
        let realm_insecure = parsed.scheme() == "http";
        if realm_insecure
            && !self.base_url(img, false).starts_with("http:")
            && parsed.host_str() != Some("127.0.0.1")
            && parsed.host_str() != Some("localhost")
        {
            return Err(RegistryError::Auth(format!(
                "refusing to send credentials to plain-HTTP token realm {realm}"
            )));
        }
        let mut url = parsed;
        {
            let mut q = url.query_pairs_mut();
            if !service.is_empty() {
                q.append_pair("service", service);
            }
            q.append_pair("scope", scope);
        }
        let mut req = self.http.get(url.clone()).timeout(self.opts.timeout);
        if let Some(c @ Credential::Basic { .. }) = cred {
            req = req.header(AUTHORIZATION, c.header());
        }
        let realm_show = format!("{}{}", url.origin().ascii_serialization(), url.path());
        crate::core::requests::record(crate::core::requests::Service::Registry, "GET", &realm_show);
        let resp = req
            .send()
            .await
            .map_err(|e| RegistryError::Auth(describe(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| RegistryError::Auth(describe(&e)))?;
        if status != 200 {
            return Err(RegistryError::Auth(format!(
                "token service {realm_show} answered {status}{}",
                if cred.is_some() {
                    " (credentials were sent; are they valid?)"
                } else {
                    " (no credentials found)"
                }
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenReply {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let reply: TokenReply = serde_json::from_slice(&body).map_err(|_| {
            RegistryError::Auth(format!("token service {realm_show} sent a malformed reply"))
        })?;
        let token = reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                RegistryError::Auth(format!("token service {realm_show} sent no token"))
            })?;
        let life = Duration::from_secs(reply.expires_in.unwrap_or(60).max(1));
        let expiry = token_expiry(Instant::now(), reply.expires_in);
        tracing::debug!(realm = %realm_show, scope = %scope, lifetime_s = life.as_secs(), "token issued");
        let secret = Secret::new(token);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), (secret.clone(), expiry));
        Ok(secret)
    }

    /// Every tag of `img`, following `Link: rel="next"` to the end.
    /// Returns the valid tags in registry order and the invalid ones dropped.
    /// For Azure Container Registry, ACR's own listing (newest first) is
    /// tried first, with the standard API as the fallback.
    pub async fn list_tags(
        &self,
        img: &ImageRef,
        insecure: bool,
    ) -> Result<(Vec<String>, Vec<String>), RegistryError> {
        let base = self.base_url(img, insecure);
        if img.is_acr() || self.is_azure(&img.registry) {
            let url = format!(
                "{base}/acr/v1/{}/_tags?orderby=timedesc&n=100",
                img.repository
            );
            match self.paginate(img, &base, url, true).await {
                Ok(r) => return Ok(r),
                Err(RegistryError::Status {
                    status: 400 | 401 | 403 | 404 | 405,
                    ..
                }) => {
                    tracing::debug!(image = %img, "ACR tag listing unavailable; using the standard API");
                }
                Err(e) => return Err(e),
            }
        }
        let url = format!(
            "{base}/v2/{}/tags/list?n={}",
            img.repository, self.opts.page_size
        );
        self.paginate(img, &base, url, false).await
    }

    /// Read a tag list page by page. With `acr`, pages are ACR's
    /// `{"tags": [{"name": "…"}]}` rather than `{"tags": ["…"]}`.
    async fn paginate(
        &self,
        img: &ImageRef,
        base: &str,
        first: String,
        acr: bool,
    ) -> Result<(Vec<String>, Vec<String>), RegistryError> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Name(String),
            Acr { name: String },
        }
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<Entry>>,
        }
        let mut url = first;
        let mut seen = HashSet::new();
        let mut tags = Vec::new();
        let mut dropped = Vec::new();
        for _ in 0..self.opts.max_pages {
            if !seen.insert(url.clone()) {
                return Err(RegistryError::Pagination(format!(
                    "Link header loops back to {url}"
                )));
            }
            let r = self
                .fetch(img, Method::GET, &url, "application/json")
                .await?;
            if r.status != 200 {
                return Err(RegistryError::Status {
                    url,
                    status: r.status,
                    detail: excerpt(&r.body),
                });
            }
            let page: Page =
                serde_json::from_slice(&r.body).map_err(|e| RegistryError::Malformed {
                    url: url.clone(),
                    what: format!("not a tag list ({})", super::json_error_kind(&e)),
                })?;
            for entry in page.tags.unwrap_or_default() {
                let t = match (entry, acr) {
                    (Entry::Name(t), false) | (Entry::Acr { name: t }, true) => t,
                    _ => {
                        return Err(RegistryError::Malformed {
                            url: url.clone(),
                            what: "unexpected tag entry shape".into(),
                        });
                    }
                };
                if is_valid_tag(&t) {
                    tags.push(t)
                } else {
                    dropped.push(t)
                }
            }
            match next_link(&r.headers, base, &url)? {
                Some(next) => url = next,
                None => return Ok((tags, dropped)),
            }
        }
        Err(RegistryError::Pagination(format!(
            "more than {} pages of {} tags; raise the page cap",
            self.opts.max_pages,
            if acr { 100 } else { self.opts.page_size }
        )))
    }

    /// The manifest digest of `img:tag`: `HEAD` and `Docker-Content-Digest`,
    /// or `GET` and SHA-256 of the body when the header is missing.
    pub async fn digest(
        &self,
        img: &ImageRef,
        insecure: bool,
        tag: &str,
    ) -> Result<String, RegistryError> {
        let url = format!(
            "{}/v2/{}/manifests/{tag}",
            self.base_url(img, insecure),
            img.repository
        );
        let head = self.fetch(img, Method::HEAD, &url, MANIFEST_TYPES).await?;
        if head.status == 200
            && let Some(d) = head
                .headers
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
            && is_valid_digest(d)
        {
            return Ok(d.to_string());
        }
        let get = self.manifest(img, &url).await?;
        Ok(sha256_digest(&get.body))
    }
}

impl Client {
    /// Put `img:from`'s manifest under the tag `to` as well (the same
    /// bytes, so the same digest): `create_tag` of a promotion. Needs push
    /// rights; the registry's challenge asks for them and the token flow
    /// follows. Returns the digest.
    pub async fn retag(
        &self,
        img: &ImageRef,
        insecure: bool,
        from: &str,
        to: &str,
    ) -> Result<String, RegistryError> {
        let base = format!(
            "{}/v2/{}/manifests",
            self.base_url(img, insecure),
            img.repository
        );
        let get = self.manifest(img, &format!("{base}/{from}")).await?;
        let content_type = get
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_string();
        let digest = sha256_digest(&get.body);
        let put_url = format!("{base}/{to}");
        let put = self
            .send(
                img,
                Method::PUT,
                &put_url,
                MANIFEST_TYPES,
                Some((content_type, get.body)),
            )
            .await?;
        if put.status != 201 && put.status != 200 {
            return Err(RegistryError::Status {
                url: put_url,
                status: put.status,
                detail: excerpt(&put.body),
            });
        }
        Ok(digest)
    }

    /// `GET` a manifest; anything but 200 is an error naming the URL.
    async fn manifest(&self, img: &ImageRef, url: &str) -> Result<Reply, RegistryError> {
        let get = self.fetch(img, Method::GET, url, MANIFEST_TYPES).await?;
        if get.status != 200 {
            return Err(RegistryError::Status {
                url: url.to_string(),
                status: get.status,
                detail: excerpt(&get.body),
            });
        }
        Ok(get)
    }
}

/// `sha256:<hex>` of `bytes`: a manifest's digest.
fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::core::hex(&Sha256::digest(bytes)))
}

/// When a token from a reply with `expires_in` stops being reused: the
/// token spec's default lifetime is 60 s; renew 5 s early, but keep any
/// token for at least a second.
fn token_expiry(now: Instant, expires_in: Option<u64>) -> Instant {
    let life = Duration::from_secs(expires_in.unwrap_or(60).max(1));
    now + life
        .saturating_sub(Duration::from_secs(5))
        .max(Duration::from_secs(1))
}

/// Take the next request slot: returns how long to wait from `now`, and
/// moves `next` one interval past the slot taken.
fn reserve(next: &mut Instant, now: Instant, interval: Duration) -> Duration {
    let slot = (*next).max(now);
    *next = slot + interval;
    slot - now
}

/// Remaining lifetime from a JWT's `exp` claim (no signature check: this
/// only decides when to ask for a new token).
fn jwt_lifetime(token: &str) -> Option<Duration> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let exp = v.get("exp")?.as_u64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(exp.saturating_sub(now)))
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// Docker Hub's `ratelimit-remaining: 0;w=21600`.
fn hub_quota_exhausted(h: &HeaderMap) -> bool {
    h.get("ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        == Some(0)
}

/// The `rel="next"` target of a `Link` header, absolute. A link to another
/// host is refused: credentials must not follow it.
pub fn next_link(
    h: &HeaderMap,
    base: &str,
    current: &str,
) -> Result<Option<String>, RegistryError> {
    for value in h.get_all(LINK) {
        let Ok(v) = value.to_str() else { continue };
        for part in v.split(',') {
            let Some((target, params)) = part.trim().split_once(';') else {
                continue;
            };
            if !params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            }) {
                continue;
            }
            let target = target.trim().trim_start_matches('<').trim_end_matches('>');
            // RFC 3986 resolution against the page that carried the header.
            let here = reqwest::Url::parse(current)
                .map_err(|e| RegistryError::Pagination(format!("bad page URL {current}: {e}")))?;
            let next = here.join(target).map_err(|e| {
                RegistryError::Pagination(format!("bad Link target {target:?}: {e}"))
            })?;
            if next.origin() != here.origin() || !next.as_str().starts_with(base) {
                return Err(RegistryError::Pagination(format!(
                    "Link points to another host ({next}); not followed"
                )));
            }
            let next = next.to_string();
            return Ok(Some(next));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn link_headers() {
        let base = "https://ghcr.io";
        let cur = "https://ghcr.io/v2/a/b/tags/list?n=1000";
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static("</v2/a/b/tags/list?last=x&n=1000>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&h, base, cur).unwrap().unwrap(),
            "https://ghcr.io/v2/a/b/tags/list?last=x&n=1000"
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://ghcr.io/v2/a/b/tags/list?last=y>; rel=next"),
        );
        assert_eq!(
            next_link(&h, base, cur).unwrap().unwrap(),
            "https://ghcr.io/v2/a/b/tags/list?last=y"
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://evil.example/v2/x>; rel=\"next\""),
        );
        assert!(next_link(&h, base, cur).is_err());
        h.insert(
            LINK,
            HeaderValue::from_static("<https://ghcr.io/x>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h, base, cur).unwrap(), None);
        assert_eq!(next_link(&HeaderMap::new(), base, cur).unwrap(), None);
        // A query-only reference keeps the page's path (RFC 3986).
        h.insert(
            LINK,
            HeaderValue::from_static("<?last=z&n=1000>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&h, base, cur).unwrap().unwrap(),
            "https://ghcr.io/v2/a/b/tags/list?last=z&n=1000"
        );
    }

    #[test]
    fn token_lifetimes_honour_expires_in() {
        let now = Instant::now();
        assert_eq!(token_expiry(now, Some(300)), now + Duration::from_secs(295));
        assert_eq!(
            token_expiry(now, None),
            now + Duration::from_secs(55),
            "spec default: 60 s"
        );
        assert_eq!(
            token_expiry(now, Some(3)),
            now + Duration::from_secs(1),
            "never below a second"
        );
        assert_eq!(token_expiry(now, Some(0)), now + Duration::from_secs(1));
    }

    #[test]
    fn pacing_spaces_requests_one_interval_apart() {
        let now = Instant::now();
        let mut next = now;
        let i = Duration::from_millis(100);
        assert_eq!(reserve(&mut next, now, i), Duration::ZERO);
        assert_eq!(reserve(&mut next, now, i), i);
        assert_eq!(reserve(&mut next, now, i), 2 * i);
        // After a quiet spell, no debt is carried over.
        assert_eq!(reserve(&mut next, now + 10 * i, i), Duration::ZERO);
    }

    #[test]
    fn rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        h.insert("ratelimit-remaining", HeaderValue::from_static("0;w=21600"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        assert!(hub_quota_exhausted(&h));
    }
}
