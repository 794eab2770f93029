//! `hoist serve` as a child process, and a small HTTP/1.1 client to post
//! webhooks to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const GITHUB_SECRET: &str = "gh-hook-secret";
pub const REGISTRY_TOKEN: &str = "registry-hook-token";
pub const FLUX_KEY: &str = "flux-hmac-key";
pub const AZURE_SECRET: &str = "ado-hook-secret";
pub const GITLAB_TOKEN: &str = "gitlab-hook-token";
/// GitLab's signing token, as GitLab shows it: `whsec_` and 32 bytes in base64.
pub const GITLAB_SIGNING: &str = "whsec_aG9pc3QtdGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcyE=";

/// The `[server]` table the tests use, with `extra` lines appended.
pub fn server_toml(extra: &str) -> String {
    format!(
        "\n[server]\ngithub_webhook_secret_env = \"HOIST_TEST_GH_SECRET\"\nregistry_hook_token_env = \"HOIST_TEST_REG_TOKEN\"\nflux_hmac_key_env = \"HOIST_TEST_FLUX_KEY\"\nazure_devops_hook_secret_env = \"HOIST_TEST_ADO_SECRET\"\ngitlab_webhook_token_env = \"HOIST_TEST_GL_TOKEN\"\ngitlab_signing_token_env = \"HOIST_TEST_GL_SIGNING\"\n{extra}"
    )
}

pub struct Server {
    child: Option<Child>,
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Server {
    /// Start `hoist serve --config config` on a free loopback port and
    /// wait until it listens.
    pub fn start(config: &Path, state: &Path, env: &[(&str, String)]) -> Server {
        Server::start_fleets(&[config], state, env)
    }

    /// [`Server::start`] serving one fleet per config.
    pub fn start_fleets(configs: &[&Path], state: &Path, env: &[(&str, String)]) -> Server {
        let mut cmd = super::hoist_command();
        cmd.args(["-v", "serve", "--listen", "127.0.0.1:0"]);
        for c in configs {
            cmd.arg("--config").arg(c);
        }
        cmd.arg("--state-dir")
            .arg(state)
            .env("HOIST_TEST_GH_SECRET", GITHUB_SECRET)
            .env("HOIST_TEST_REG_TOKEN", REGISTRY_TOKEN)
            .env("HOIST_TEST_FLUX_KEY", FLUX_KEY)
            .env("HOIST_TEST_ADO_SECRET", AZURE_SECRET)
            .env("HOIST_TEST_GL_TOKEN", GITLAB_TOKEN)
            .env("HOIST_TEST_GL_SIGNING", GITLAB_SIGNING)
            .env("HOIST_TEST_FORGE_TOKEN", super::forge::TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn hoist serve");
        let err = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("hoist serve: listening on ") {
                    let _ = tx.send(a.to_string());
                }
                let mut g = l.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("hoist serve did not start:\n{}", log.lock().unwrap());
            }
        };
        Server {
            child: Some(child),
            addr,
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Reply {
        request(&self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    /// A GitHub delivery, signed with the test secret.
    pub fn github(&self, event: &str, delivery: &str, body: &str) -> Reply {
        let sig = hoist::serve::hooks::sign(GITHUB_SECRET.as_bytes(), body.as_bytes());
        self.request(
            "POST",
            "/hooks/github",
            &[
                ("X-GitHub-Event", event.to_string()),
                ("X-GitHub-Delivery", delivery.to_string()),
                ("X-Hub-Signature-256", sig),
                ("Content-Type", "application/json".into()),
            ],
            body.as_bytes(),
        )
    }

    /// A GitLab delivery with the test token (`token` overrides it), signed
    /// with the test signing token as GitLab signs: `webhook-id` is the
    /// Event-UUID, `webhook-timestamp` now.
    pub fn gitlab(&self, event: &str, uuid: &str, body: &str, token: Option<&str>) -> Reply {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let mut headers = Self::gitlab_headers(event, uuid, token);
        headers.extend(Self::gitlab_signature(uuid, &now, body));
        self.request("POST", "/hooks/gitlab", &headers, body.as_bytes())
    }

    /// The headers of a GitLab delivery other than its signature.
    pub fn gitlab_headers(
        event: &str,
        uuid: &str,
        token: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("X-Gitlab-Event", event.to_string()),
            ("X-Gitlab-Event-UUID", uuid.to_string()),
            ("X-Gitlab-Token", token.unwrap_or(GITLAB_TOKEN).to_string()),
            ("Content-Type", "application/json".into()),
        ]
    }

    /// The signature headers of a delivery `id` sent at `timestamp`.
    pub fn gitlab_signature(id: &str, timestamp: &str, body: &str) -> Vec<(&'static str, String)> {
        let key = hoist::serve::hooks::signing_key(GITLAB_SIGNING).unwrap();
        vec![
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                hoist::serve::hooks::sign_delivery(&key, id, timestamp, body.as_bytes()),
            ),
        ]
    }

    /// A distribution notification envelope for `host/repo:tag`.
    pub fn registry_push(&self, host: &str, repo: &str, tag: &str) -> Reply {
        let body = serde_json::json!({ "events": [{
            "id": format!("{repo}-{tag}"),
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "repository": repo,
                "tag": tag,
                "url": format!("http://{host}/v2/{repo}/manifests/{tag}"),
            },
            "request": { "host": host, "method": "PUT" },
        }]});
        self.request(
            "POST",
            "/hooks/registry",
            &[("Authorization", format!("Bearer {REGISTRY_TOKEN}"))],
            body.to_string().as_bytes(),
        )
    }

    /// A Flux event, signed as a generic-hmac Provider signs it.
    pub fn flux(&self, body: &str) -> Reply {
        let sig = hoist::serve::hooks::sign(FLUX_KEY.as_bytes(), body.as_bytes());
        self.request(
            "POST",
            "/hooks/flux",
            &[("X-Signature", sig)],
            body.as_bytes(),
        )
    }

    /// SIGTERM, then wait (at most 120 s) for the exit code.
    pub fn terminate(mut self) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("hoist serve did not stop after SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), self.log())
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect to hoist serve");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading everything.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Reply { status, body }
}

/// Wait (at most `secs`) until `cond` holds; false if it never did.
pub fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    cond()
}

/// Headless Chromium (Debian's) on `url`: with `screenshot`, a PNG there;
/// returns the DOM after load. Started as the workplace's probe starts
/// it: no sandbox (root), no background networking (the machine's
/// network is closed), a fresh profile.
pub fn chromium(url: &str, screenshot: Option<&Path>) -> String {
    chromium_at(url, screenshot, 1280)
}

/// [`chromium`] in a window `width` pixels wide.
pub fn chromium_at(url: &str, screenshot: Option<&Path>, width: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--window-size={width},900"))
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(p) => {
            cmd.arg(format!("--screenshot={}", p.display()));
        }
        None => {
            cmd.arg("--dump-dom");
        }
    }
    let out = cmd
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("chromium (Debian's chromium package) runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
