//! A token service like `ghcr.io/token`: `GET /token?service=S&scope=repository:NAME:pull`
//! with optional Basic credentials (username + PAT) returns a JWT that the
//! real registry verifies (users get the pull and push they ask for) (ES256, `x5c` chain to a self-signed root it trusts).
//! Anonymous callers get pull access to public repositories only.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;

use super::percent_decode;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

pub const SERVICE: &str = "hoist-test-registry";
pub const ISSUER: &str = "hoist-test-issuer";

pub struct TokenService {
    pub port: u16,
    pub cert_path: PathBuf,
    pub requests: Arc<AtomicUsize>,
    /// Every token issued, so tests can check none leaks into output.
    pub issued: Arc<Mutex<Vec<String>>>,
    key: Arc<Signer>,
}

struct Signer {
    pair: EcdsaKeyPair,
    cert_der: Vec<u8>,
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Signer {
    fn mint(&self, sub: &str, repo: &str, actions: &[&str], ttl: u64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({
            "typ": "JWT", "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let access = if actions.is_empty() {
            serde_json::json!([])
        } else {
            serde_json::json!([{ "type": "repository", "name": repo, "actions": actions }])
        };
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": sub, "aud": SERVICE,
            "exp": now + ttl, "nbf": now - 10, "iat": now,
            "jti": format!("{now}-{sub}-{repo}-{}", rand_u64()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .unwrap();
        format!("{signing_input}.{}", b64url(sig.as_ref()))
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap();
    u64::from_le_bytes(b)
}

impl TokenService {
    /// `users`: (username, password) pairs with pull+push everywhere;
    /// `public`: repositories anonymous callers may pull.
    pub fn start(dir: &Path, users: &[(&str, &str)], public: &[&str]) -> TokenService {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let kp = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["hoist-token-signer".to_string()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let _ = pair.public_key();
        let cert_path = dir.join("token-root.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        let key = Arc::new(Signer {
            pair,
            cert_der: cert.der().to_vec(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let users: Vec<(String, String)> = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        let public: Vec<String> = public.iter().map(|s| s.to_string()).collect();
        let (k, r, i) = (key.clone(), requests.clone(), issued.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut sock) = conn else { return };
                let (k, r, i, users, public) = (
                    k.clone(),
                    r.clone(),
                    i.clone(),
                    users.clone(),
                    public.clone(),
                );
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    // Read a form body when there is one (Entra, ACR endpoints).
                    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head = String::from_utf8_lossy(&buf[..split]).to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = buf[split..].to_vec();
                    while body.len() < len {
                        match sock.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => body.extend_from_slice(&chunk[..n]),
                        }
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let form = String::from_utf8_lossy(&body).to_string();
                    let (status, body) = if head.starts_with("POST ") || head.contains("/msi") {
                        azure_answer(&head, &form, &k, &i)
                    } else {
                        answer(&head, &k, &users, &public, &i)
                    };
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes());
                });
            }
        });
        TokenService {
            port,
            cert_path,
            requests,
            issued,
            key,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The realm an ACR-like registry names: `/oauth2/token` on the same host
    /// as `/oauth2/exchange`.
    pub fn acr_realm(&self) -> String {
        format!("http://127.0.0.1:{}/oauth2/token", self.port)
    }

    /// The realm GitLab's registries name: `/jwt/auth` on the GitLab
    /// instance, which answers `{"token": ...}` alone (no `expires_in`).
    pub fn gitlab_realm(&self) -> String {
        format!("http://127.0.0.1:{}/jwt/auth", self.port)
    }

    /// Where the fake Microsoft Entra ID lives (AZURE_AUTHORITY_HOST).
    pub fn authority(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// A push+pull token for the harness itself.
    pub fn admin_token(&self, repo: &str) -> String {
        self.key.mint("admin", repo, &["pull", "push"], 600)
    }
}

fn answer(
    head: &str,
    k: &Signer,
    users: &[(String, String)],
    public: &[String],
    issued: &Mutex<Vec<String>>,
) -> (u16, String) {
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| {
                v.replace("%3A", ":")
                    .replace("%2F", "/")
                    .replace("%2C", ",")
            })
        })
    };
    if param("service").as_deref() != Some(SERVICE) {
        return (
            400,
            r#"{"errors":[{"code":"UNSUPPORTED","message":"unknown service"}]}"#.into(),
        );
    }
    let Some(scope) = param("scope") else {
        return (400, r#"{"errors":[{"message":"scope required"}]}"#.into());
    };
    let repo = scope.split(':').nth(1).unwrap_or("").to_string();
    let auth = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("authorization")
            .then(|| v.trim().to_string())
    });
    let (sub, actions): (String, Vec<&str>) = match auth {
        Some(a) => {
            let decoded = a
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|d| String::from_utf8(d).ok())
                .unwrap_or_default();
            let ok = decoded
                .split_once(':')
                .is_some_and(|(u, p)| users.iter().any(|(uu, pp)| uu == u && pp == p));
            if !ok {
                return (
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.into(),
                );
            }
            // Users may pull and push (as a PAT with write:packages).
            let asked: Vec<&str> = scope
                .split(':')
                .nth(2)
                .unwrap_or("pull")
                .split(',')
                .filter(|a| *a == "pull" || *a == "push")
                .collect();
            (decoded.split(':').next().unwrap_or("").to_string(), asked)
        }
        None if public.contains(&repo) => ("anonymous".into(), vec!["pull"]),
        None => ("anonymous".into(), vec![]),
    };
    let token = k.mint(&sub, &repo, &actions, 300);
    issued.lock().unwrap().push(token.clone());
    if target.starts_with("/jwt/auth") {
        return (200, serde_json::json!({ "token": token }).to_string());
    }
    (
        200,
        serde_json::json!({ "token": token, "expires_in": 300 }).to_string(),
    )
}

pub const ENTRA_CLIENT: &str = "hoist-client-id";
pub const ENTRA_SECRET: &str = "entra-client-secret-value";
pub const FEDERATED_ASSERTION: &str = "eyJ.federated.assertion";
pub const MI_HEADER: &str = "managed-identity-header";

fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

/// Fake Microsoft Entra ID, managed identity, and ACR's exchange/token.
fn azure_answer(head: &str, form: &str, k: &Signer, issued: &Mutex<Vec<String>>) -> (u16, String) {
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let mint = |prefix: &str| {
        let t = format!("{prefix}-{}", rand_u64());
        issued.lock().unwrap().push(t.clone());
        t
    };
    if path.ends_with("/oauth2/v2.0/token") {
        let client_ok = form_value(form, "client_id").as_deref() == Some(ENTRA_CLIENT);
        let secret_ok = form_value(form, "client_secret").as_deref() == Some(ENTRA_SECRET);
        let assertion_ok =
            form_value(form, "client_assertion").as_deref() == Some(FEDERATED_ASSERTION);
        let scope_ok = form_value(form, "scope").as_deref()
            == Some("https://containerregistry.azure.net/.default");
        if !(client_ok && scope_ok && (secret_ok || assertion_ok)) {
            return (401, r#"{"error":"invalid_client"}"#.into());
        }
        return (200, serde_json::json!({"token_type": "Bearer", "expires_in": 3600, "access_token": mint("aad")}).to_string());
    }
    if path.starts_with("/msi") {
        let ok = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("x-identity-header:") && l.contains(MI_HEADER)
        });
        if !ok {
            return (401, r#"{"error":"bad identity header"}"#.into());
        }
        return (
            200,
            serde_json::json!({"access_token": mint("aad"), "expires_on": "0"}).to_string(),
        );
    }
    if path == "/oauth2/exchange" {
        let aad = form_value(form, "access_token").unwrap_or_default();
        let known = aad.starts_with("aad-") && issued.lock().unwrap().contains(&aad);
        if form_value(form, "grant_type").as_deref() != Some("access_token") || !known {
            return (401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.into());
        }
        return (
            200,
            serde_json::json!({"refresh_token": mint("acr-refresh")}).to_string(),
        );
    }
    if path == "/oauth2/token" {
        let rt = form_value(form, "refresh_token").unwrap_or_default();
        let known = rt.starts_with("acr-refresh-") && issued.lock().unwrap().contains(&rt);
        let scope = form_value(form, "scope").unwrap_or_default();
        if form_value(form, "grant_type").as_deref() != Some("refresh_token") || !known {
            return (401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.into());
        }
        let repo = scope.split(':').nth(1).unwrap_or("").to_string();
        let token = k.mint("acr-user", &repo, &["pull"], 300);
        issued.lock().unwrap().push(token.clone());
        return (200, serde_json::json!({"access_token": token}).to_string());
    }
    (404, "{}".into())
}
