//! A stateful fake forge: GitHub's REST and GraphQL routes and Azure
//! DevOps' REST routes that hoist uses, with the status codes and JSON
//! shapes of the official API documentation, backed by real bare Git
//! repositories. A merge really merges (`git merge-tree --write-tree`,
//! `commit-tree`, a compare-and-swap `update-ref`); a pull request's head
//! is whatever its branch holds in the bare repository.
//!
//! Faults are injected per route (`fail`), and every call is recorded
//! (`calls`) so tests and the benchmark can count them.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::percent_decode;

pub const TOKEN: &str = "fake-forge-token-7f3a9c";
pub const ADO_USER: &str = "6f2e9a51-hoist-bot";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: State,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// The merge method when auto-merge (auto-complete) is on.
    pub auto_merge: Option<String>,
    pub merge_sha: Option<String>,
    /// The head when it was merged or closed (the branch may go later).
    pub final_head: Option<String>,
    pub comments: Vec<String>,
    /// When it merged (seconds since the epoch).
    pub merged_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub bare: PathBuf,
    pub default_branch: String,
    pub allow_auto_merge: bool,
    /// Status contexts that must be `success` before a merge.
    pub required: Vec<String>,
    pub collaborators: Vec<String>,
    pub pulls: Vec<Pull>,
    /// sha → statuses, oldest first.
    pub statuses: HashMap<String, Vec<Value>>,
    /// login → role (`admin`, `maintain`, `write`, `triage`, `read`);
    /// anyone else has none.
    pub permissions: HashMap<String, String>,
    /// Reactions given: (comment id, content).
    pub reactions: Vec<(u64, String)>,
    /// Deployments: `{id, sha, ref, environment, statuses: [newest first]}`.
    pub deployments: Vec<Value>,
}

pub(super) struct Fault {
    /// A body sent as it is (not JSON), instead of `body`.
    raw: Option<String>,
    method: String,
    path_contains: String,
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
    times: usize,
}

#[derive(Default)]
pub(super) struct Inner {
    /// A GitHub App: its id and public key (PKCS#1 DER).
    pub(super) app: Option<(String, Vec<u8>)>,
    /// Installation tokens issued to the app.
    pub(super) installation_tokens: Vec<String>,
    pub(super) raw_paths: Vec<String>,
    pub(super) repos: BTreeMap<String, Repo>,
    pub(super) calls: Vec<(String, String)>,
    pub(super) faults: Vec<Fault>,
    pub(super) next_number: u64,
    pub(super) next_id: u64,
    /// (org, team slug) → active members.
    pub(super) teams: BTreeMap<(String, String), Vec<String>>,
    /// Added before every answer (a slow forge keeps hoist busy).
    pub(super) latency: std::time::Duration,
    /// GitLab: usernames by id (id = 100 + index), made as they are
    /// looked up.
    pub(super) gitlab_users: Vec<String>,
    /// GitLab: the documented route each call matched
    /// (`GET /projects/:id/merge_requests`).
    pub(super) gitlab_routes: Vec<String>,
}

pub struct FakeForge {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub(super) struct Request {
    pub(super) method: String,
    /// The path as sent, still percent-encoded (GitLab's project ids
    /// are encoded paths).
    pub(super) encoded_path: String,
    /// Every query pair, repeated keys too (`refs[]=a&refs[]=b`).
    pub(super) query_all: Vec<(String, String)>,
    /// GitLab's `PRIVATE-TOKEN` / `JOB-TOKEN`.
    pub(super) private_token: Option<String>,
    /// The path as sent (before the Enterprise Server prefix is removed).
    pub(super) raw_path: String,
    pub(super) path: String,
    pub(super) query: BTreeMap<String, String>,
    pub(super) auth: Option<String>,
    pub(super) body: Value,
}

pub(super) struct Response {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) headers: Vec<(String, String)>,
    pub(super) raw: Option<String>,
}

pub(super) fn reply(status: u16, body: Value) -> Response {
    Response {
        status,
        body,
        headers: Vec::new(),
        raw: None,
    }
}

fn gh_error(status: u16, message: &str) -> Response {
    reply(
        status,
        json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string() }),
    )
}

fn validation(errors: Value) -> Response {
    reply(
        422,
        json!({ "message": "Validation Failed", "errors": errors,
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422" }),
    )
}

fn ado_error(status: u16, type_key: &str, message: &str) -> Response {
    reply(
        status,
        json!({ "$id": "1", "innerException": null, "message": message,
                "typeName": format!("Microsoft.TeamFoundation.Git.Server.{type_key}, Microsoft.TeamFoundation.Git.Server"),
                "typeKey": type_key, "errorCode": 0, "eventId": 3000 }),
    )
}

pub(super) fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Forge")
        .env("GIT_AUTHOR_EMAIL", "noreply@forge.example")
        .env("GIT_COMMITTER_NAME", "Forge")
        .env("GIT_COMMITTER_EMAIL", "noreply@forge.example")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub(super) fn branch_sha(bare: &Path, branch: &str) -> Option<String> {
    git(
        bare,
        &[
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ],
    )
    .ok()
}

impl FakeForge {
    pub fn start() -> FakeForge {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Mutex::new(Inner {
            next_number: 1,
            next_id: 1000,
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (i2, s2) = (inner.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let i3 = i2.clone();
                std::thread::spawn(move || serve(conn, port, &i3));
            }
        });
        FakeForge { port, inner, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Register `name` (`owner/repo`, or `org/project/repo` for Azure)
    /// backed by `bare`.
    pub fn add_repo(&self, name: &str, bare: &Path) {
        self.inner.lock().unwrap().repos.insert(
            name.to_string(),
            Repo {
                bare: bare.to_path_buf(),
                default_branch: "main".into(),
                allow_auto_merge: true,
                required: Vec::new(),
                collaborators: vec!["alice".into(), "bob".into()],
                pulls: Vec::new(),
                statuses: HashMap::new(),
                permissions: [("alice", "admin"), ("bob", "write"), ("carol", "read")]
                    .into_iter()
                    .map(|(u, r)| (u.to_string(), r.to_string()))
                    .collect(),
                reactions: Vec::new(),
                deployments: Vec::new(),
            },
        );
    }

    /// Act as GitHub for the app `app_id` whose public key (PKCS#1 DER)
    /// is `key`.
    pub fn set_app(&self, app_id: &str, key: Vec<u8>) {
        self.inner.lock().unwrap().app = Some((app_id.to_string(), key));
    }

    pub fn installation_tokens(&self) -> Vec<String> {
        self.inner.lock().unwrap().installation_tokens.clone()
    }

    pub fn configure(&self, name: &str, f: impl FnOnce(&mut Repo)) {
        f(self.inner.lock().unwrap().repos.get_mut(name).unwrap());
    }

    pub fn repo(&self, name: &str) -> Repo {
        self.inner.lock().unwrap().repos[name].clone()
    }

    /// Answer the next `times` calls whose method is `method` and whose
    /// path contains `path_contains` with `status` and `body`.
    pub fn fail(
        &self,
        method: &str,
        path_contains: &str,
        status: u16,
        body: Value,
        headers: &[(&str, &str)],
        times: usize,
    ) {
        self.inner.lock().unwrap().faults.push(Fault {
            raw: None,
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            body,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            times,
        });
    }

    /// The next `times` calls `method` on a path containing
    /// `path_contains` are done, but their replies are lost (a 502).
    pub fn lose_reply(&self, method: &str, path_contains: &str, times: usize) {
        self.fail(method, path_contains, 0, Value::Null, &[], times);
    }

    /// Like `fail`, with a body that is not JSON.
    pub fn fail_raw(
        &self,
        method: &str,
        path_contains: &str,
        status: u16,
        raw: &str,
        times: usize,
    ) {
        self.inner.lock().unwrap().faults.push(Fault {
            raw: Some(raw.to_string()),
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            body: Value::Null,
            headers: Vec::new(),
            times,
        });
    }

    /// Every call so far: (method, path).
    /// Answer every request `d` late from now on.
    pub fn set_latency(&self, d: std::time::Duration) {
        self.inner.lock().unwrap().latency = d;
    }

    pub fn calls(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Calls that changed something (not GET).
    pub fn writes(&self) -> Vec<(String, String)> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m != "GET")
            .collect()
    }

    /// Every path as sent, Enterprise Server prefixes included.
    pub fn raw_paths(&self) -> Vec<String> {
        self.inner.lock().unwrap().raw_paths.clone()
    }

    /// The documented GitLab routes the calls so far matched.
    pub fn gitlab_routes(&self) -> Vec<String> {
        self.inner.lock().unwrap().gitlab_routes.clone()
    }

    pub fn reset_calls(&self) {
        let mut st = self.inner.lock().unwrap();
        st.calls.clear();
        st.gitlab_routes.clear();
    }
}

fn serve(conn: TcpStream, port: u16, inner: &Mutex<Inner>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut len = 0usize;
        let mut auth = None;
        let mut private_token = None;
        let mut close = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => len = v.parse().unwrap_or(0),
                    "authorization" => auth = Some(v.to_string()),
                    "private-token" | "job-token" => private_token = Some(v.to_string()),
                    "connection" if v.eq_ignore_ascii_case("close") => close = true,
                    _ => {}
                }
            }
        }
        let mut raw = vec![0u8; len];
        if reader.read_exact(&mut raw).is_err() {
            return;
        }
        let (path, q) = target.split_once('?').unwrap_or((&target, ""));
        let query_all: Vec<(String, String)> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let query = query_all.iter().cloned().collect();
        // GitHub Enterprise Server serves REST under /api/v3 and GraphQL
        // at /api/graphql.
        let encoded_path = path.to_string();
        let raw_path = percent_decode(path);
        let path = match raw_path.strip_prefix("/api/v3") {
            Some(rest) => rest.to_string(),
            None if raw_path == "/api/graphql" => "/graphql".to_string(),
            None => raw_path.clone(),
        };
        let req = Request {
            method,
            encoded_path,
            query_all,
            private_token,
            raw_path,
            path,
            query,
            auth,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        };
        let latency = inner.lock().unwrap().latency;
        std::thread::sleep(latency);
        let resp = handle(&req, port, inner);
        let body = match &resp.raw {
            Some(raw) => raw.clone(),
            None if resp.body.is_null() => String::new(),
            None => resp.body.to_string(),
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n",
            resp.status,
            body.len()
        );
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(body.as_bytes()).is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

fn handle(req: &Request, port: u16, inner: &Mutex<Inner>) -> Response {
    let mut st = inner.lock().unwrap();
    st.calls.push((req.method.clone(), req.path.clone()));
    st.raw_paths.push(req.raw_path.clone());
    if let Some(i) = st
        .faults
        .iter()
        .position(|f| f.times > 0 && f.method == req.method && req.path.contains(&f.path_contains))
    {
        st.faults[i].times -= 1;
        let f = &st.faults[i];
        if f.status == 0 {
            // A lost reply: the forge does the work, the caller hears a
            // gateway's 502 (a proxy that lost the upstream's answer).
            let _ = route_by_forge(&mut st, req, port);
            return reply(502, Value::Null);
        }
        let mut r = reply(f.status, f.body.clone());
        r.headers = f.headers.clone();
        r.raw = f.raw.clone();
        return r;
    }
    route_by_forge(&mut st, req, port)
}

fn route_by_forge(st: &mut Inner, req: &Request, port: u16) -> Response {
    if req.path.contains("/_apis/") {
        return azure(st, req, port);
    }
    if req.encoded_path.starts_with("/api/v4/") {
        return super::gitlab::route(st, req, port);
    }
    if req.path.ends_with("/installation") || req.path.starts_with("/app/") {
        return app_route(st, req);
    }
    let bearer = req
        .auth
        .as_deref()
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("token "))
        })
        .unwrap_or("");
    if bearer != TOKEN && !st.installation_tokens.iter().any(|t| t == bearer) {
        return gh_error(401, "Bad credentials");
    }
    github(st, req, port)
}

// ---------------------------------------------------------------- GitHub

/// Check a GitHub App JWT: RS256 over `header.claims` with the app's key,
/// `iss` the app id, not expired, at most ten minutes long.
fn app_jwt_ok(st: &Inner, auth: Option<&str>) -> bool {
    use base64::Engine;
    let Some((app_id, key)) = &st.app else {
        return false;
    };
    let Some(jwt) = auth.and_then(|a| a.strip_prefix("Bearer ")) else {
        return false;
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return false;
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (Ok(claims), Ok(sig)) = (b64.decode(c), b64.decode(sig)) else {
        return false;
    };
    let key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key);
    if key.verify(format!("{h}.{c}").as_bytes(), &sig).is_err() {
        return false;
    }
    let claims: Value = serde_json::from_slice(&claims).unwrap_or(Value::Null);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap_or(0),
        claims["exp"].as_u64().unwrap_or(0),
    );
    claims["iss"].as_str() == Some(app_id.as_str()) && exp > now && exp - iat <= 600
}

fn app_route(st: &mut Inner, req: &Request) -> Response {
    if !app_jwt_ok(st, req.auth.as_deref()) {
        return gh_error(401, "A JSON web token could not be decoded");
    }
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["repos", owner, name, "installation"]) => {
            if !st.repos.contains_key(&format!("{owner}/{name}")) {
                return gh_error(404, "Not Found");
            }
            reply(
                200,
                json!({ "id": 4242, "account": { "login": owner }, "app_id": 1 }),
            )
        }
        ("POST", ["app", "installations", "4242", "access_tokens"]) => {
            let token = format!("ghs_installation{}", st.installation_tokens.len() + 1);
            st.installation_tokens.push(token.clone());
            reply(
                201,
                json!({ "token": token, "expires_at": "2099-01-01T00:00:00Z",
                               "permissions": { "contents": "write", "pull_requests": "write", "statuses": "write" } }),
            )
        }
        _ => gh_error(404, "Not Found"),
    }
}

fn gh_pull(name: &str, repo: &Repo, p: &Pull, port: u16) -> Value {
    let head_sha = p
        .final_head
        .clone()
        .or_else(|| branch_sha(&repo.bare, &p.head))
        .unwrap_or_default();
    let base_sha = branch_sha(&repo.bare, &p.base).unwrap_or_default();
    let owner = name.split('/').next().unwrap_or("");
    json!({
        "url": format!("http://127.0.0.1:{port}/repos/{name}/pulls/{}", p.number),
        "id": p.number + 5000,
        "node_id": format!("PR_kw{}_{}", name.replace('/', "_"), p.number),
        "html_url": format!("http://127.0.0.1:{port}/{name}/pull/{}", p.number),
        "number": p.number,
        "state": if p.state == State::Open { "open" } else { "closed" },
        "locked": false,
        "title": p.title,
        "user": { "login": "hoist-bot", "type": "Bot" },
        "body": if p.body.is_empty() { Value::Null } else { json!(p.body) },
        "labels": p.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "requested_reviewers": p.reviewers.iter().map(|r| json!({ "login": r })).collect::<Vec<_>>(),
        "merged_at": p.merged_at.map(hoist::core::time::format),
        "merge_commit_sha": p.merge_sha,
        "merged": p.state == State::Merged,
        "draft": false,
        "head": { "label": format!("{owner}:{}", p.head), "ref": p.head, "sha": head_sha,
                  "repo": { "full_name": name } },
        "base": { "label": format!("{owner}:{}", p.base), "ref": p.base, "sha": base_sha,
                  "repo": { "full_name": name } },
        "auto_merge": match &p.auto_merge {
            Some(m) => json!({ "enabled_by": { "login": "hoist-bot" }, "merge_method": m.to_lowercase(),
                               "commit_title": "", "commit_message": "" }),
            None => Value::Null,
        },
    })
}

/// Are the repository's required contexts all `success` on `sha`?
pub(super) fn checks_pass(repo: &Repo, sha: &str) -> bool {
    let list = repo.statuses.get(sha).cloned().unwrap_or_default();
    repo.required.iter().all(|ctx| {
        list.iter()
            .rev()
            .find(|s| s["context"] == json!(ctx))
            .is_some_and(|s| s["state"] == "success" || s["state"] == "succeeded")
    })
}

/// Merge pull `idx` of `repo` with `method`; Err(message) if it cannot.
pub(super) fn do_merge(repo: &mut Repo, idx: usize, method: &str) -> Result<String, String> {
    let p = repo.pulls[idx].clone();
    let head = branch_sha(&repo.bare, &p.head).ok_or("head branch is gone")?;
    let base = branch_sha(&repo.bare, &p.base).ok_or("base branch is gone")?;
    let tree = git(&repo.bare, &["merge-tree", "--write-tree", &base, &head])
        .map_err(|_| "Pull Request is not mergeable".to_string())?;
    let tree = tree.lines().next().unwrap_or("").to_string();
    let msg = format!("{} (#{})", p.title, p.number);
    let commit = match method {
        "merge" | "noFastForward" => git(
            &repo.bare,
            &["commit-tree", &tree, "-p", &base, "-p", &head, "-m", &msg],
        ),
        _ => git(&repo.bare, &["commit-tree", &tree, "-p", &base, "-m", &msg]),
    }?;
    git(
        &repo.bare,
        &[
            "update-ref",
            &format!("refs/heads/{}", p.base),
            &commit,
            &base,
        ],
    )
    .map_err(|_| "Base branch was modified. Review and try the merge again.".to_string())?;
    let pm = &mut repo.pulls[idx];
    pm.state = State::Merged;
    pm.merged_at = Some(hoist::core::time::now());
    pm.merge_sha = Some(commit.clone());
    pm.final_head = Some(head);
    Ok(commit)
}

/// Merge every auto-merge pull whose checks now pass.
pub(super) fn run_auto_merges(repo: &mut Repo) {
    for i in 0..repo.pulls.len() {
        let p = &repo.pulls[i];
        if p.state != State::Open {
            continue;
        }
        let Some(method) = p.auto_merge.clone() else {
            continue;
        };
        let Some(head) = branch_sha(&repo.bare, &p.head) else {
            continue;
        };
        if checks_pass(repo, &head) {
            let _ = do_merge(repo, i, &method.to_lowercase());
        }
    }
}

fn github(st: &mut Inner, req: &Request, port: u16) -> Response {
    let m = req.method.as_str();
    if req.path == "/graphql" && m == "POST" {
        return graphql(st, req);
    }
    if let Some(rest) = req.path.strip_prefix("/orgs/") {
        // GET /orgs/{org}/teams/{team_slug}/memberships/{username}
        let p: Vec<&str> = rest.split('/').collect();
        if let (true, [org, "teams", slug, "memberships", user]) = (m == "GET", p.as_slice()) {
            let members = st.teams.get(&(org.to_string(), slug.to_string()));
            return if members.is_some_and(|ms| ms.iter().any(|u| u == user)) {
                reply(
                    200,
                    json!({ "url": format!("http://127.0.0.1:{port}/orgs/{org}/teams/{slug}/memberships/{user}"), "role": "member", "state": "active" }),
                )
            } else {
                gh_error(404, "Not Found")
            };
        }
        return gh_error(404, "Not Found");
    }
    let Some(rest) = req.path.strip_prefix("/repos/") else {
        return gh_error(404, "Not Found");
    };
    let mut seg = rest.splitn(3, '/');
    let (owner, name, tail) = (
        seg.next().unwrap_or(""),
        seg.next().unwrap_or(""),
        seg.next().unwrap_or(""),
    );
    let full = format!("{owner}/{name}");
    let next_number = st.next_number;
    let Some(repo) = st.repos.get_mut(&full) else {
        return gh_error(404, "Not Found");
    };
    let parts: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
    let find = |repo: &Repo, n: &str| -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        repo.pulls.iter().position(|p| p.number == n)
    };
    match (m, parts.as_slice()) {
        ("GET", []) => reply(
            200,
            json!({
                "id": 42, "node_id": "R_kgDO", "name": name, "full_name": full,
                "owner": { "login": owner }, "private": true,
                "html_url": format!("http://127.0.0.1:{port}/{full}"),
                "clone_url": format!("file://{}", repo.bare.display()),
                "default_branch": repo.default_branch,
                "allow_auto_merge": repo.allow_auto_merge,
                "allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": true,
            }),
        ),
        ("GET", ["pulls"]) => {
            let state = req.query.get("state").map_or("open", String::as_str);
            let head = req.query.get("head").cloned();
            let base = req.query.get("base").cloned();
            let per_page: usize = req
                .query
                .get("per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30)
                .min(100);
            let page: usize = req
                .query
                .get("page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
                .max(1);
            let mut list: Vec<Value> = repo
                .pulls
                .iter()
                .rev()
                .filter(|p| match state {
                    "open" => p.state == State::Open,
                    "closed" => p.state != State::Open,
                    _ => true,
                })
                .filter(|p| {
                    head.as_ref()
                        .is_none_or(|h| *h == format!("{owner}:{}", p.head))
                })
                .filter(|p| base.as_ref().is_none_or(|b| *b == p.base))
                .map(|p| gh_pull(&full, repo, p, port))
                .collect();
            let start = (page - 1) * per_page;
            list = list.into_iter().skip(start).take(per_page).collect();
            reply(200, json!(list))
        }
        ("POST", ["pulls"]) => {
            let b = &req.body;
            let (Some(title), Some(head), Some(base)) =
                (b["title"].as_str(), b["head"].as_str(), b["base"].as_str())
            else {
                return validation(
                    json!([{ "resource": "PullRequest", "code": "missing_field", "field": "head" }]),
                );
            };
            let head = head.rsplit(':').next().unwrap_or(head).to_string();
            let Some(head_sha) = branch_sha(&repo.bare, &head) else {
                return validation(
                    json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }]),
                );
            };
            let Some(base_sha) = branch_sha(&repo.bare, base) else {
                return validation(
                    json!([{ "resource": "PullRequest", "field": "base", "code": "invalid" }]),
                );
            };
            if repo
                .pulls
                .iter()
                .any(|p| p.state == State::Open && p.head == head && p.base == base)
            {
                return validation(json!([{ "resource": "PullRequest", "code": "custom",
                    "message": format!("A pull request already exists for {owner}:{head}.") }]));
            }
            if git(
                &repo.bare,
                &["merge-base", "--is-ancestor", &head_sha, &base_sha],
            )
            .is_ok()
            {
                return validation(json!([{ "resource": "PullRequest", "code": "custom",
                    "message": format!("No commits between {base} and {head}") }]));
            }
            let p = Pull {
                number: next_number,
                head,
                base: base.to_string(),
                title: title.to_string(),
                body: b["body"].as_str().unwrap_or("").to_string(),
                state: State::Open,
                labels: Vec::new(),
                reviewers: Vec::new(),
                auto_merge: None,
                merge_sha: None,
                final_head: None,
                comments: Vec::new(),
                merged_at: None,
            };
            let v = gh_pull(&full, repo, &p, port);
            repo.pulls.push(p);
            st.next_number += 1;
            reply(201, v)
        }
        ("GET", ["pulls", n]) => match find(repo, n) {
            Some(i) => {
                let mut v = gh_pull(&full, repo, &repo.pulls[i], port);
                v["mergeable"] = json!(true);
                v["mergeable_state"] = json!("clean");
                reply(200, v)
            }
            None => gh_error(404, "Not Found"),
        },
        ("PATCH", ["pulls", n]) => {
            let Some(i) = find(repo, n) else {
                return gh_error(404, "Not Found");
            };
            let b = &req.body;
            if let Some(t) = b["title"].as_str() {
                repo.pulls[i].title = t.to_string();
            }
            if let Some(t) = b["body"].as_str() {
                repo.pulls[i].body = t.to_string();
            }
            if b["state"] == "closed" && repo.pulls[i].state == State::Open {
                repo.pulls[i].final_head = branch_sha(&repo.bare, &repo.pulls[i].head);
                repo.pulls[i].state = State::Closed;
            }
            reply(200, gh_pull(&full, repo, &repo.pulls[i], port))
        }
        ("PUT", ["pulls", n, "merge"]) => {
            let Some(i) = find(repo, n) else {
                return gh_error(404, "Not Found");
            };
            if repo.pulls[i].state != State::Open {
                return gh_error(405, "Pull Request is not mergeable");
            }
            let head = branch_sha(&repo.bare, &repo.pulls[i].head).unwrap_or_default();
            if let Some(sha) = req.body["sha"].as_str()
                && sha != head
            {
                return gh_error(
                    409,
                    "Head branch was modified. Review and try the merge again.",
                );
            }
            if let Some(ctx) = repo.required.iter().find(|c| {
                !checks_pass(
                    &Repo {
                        required: vec![(*c).clone()],
                        ..repo.clone()
                    },
                    &head,
                )
            }) {
                return gh_error(
                    405,
                    &format!("Required status check \"{ctx}\" is expected."),
                );
            }
            let method = req.body["merge_method"]
                .as_str()
                .unwrap_or("merge")
                .to_string();
            match do_merge(repo, i, &method) {
                Ok(sha) => reply(
                    200,
                    json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
                ),
                Err(e) => gh_error(405, &e),
            }
        }
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            let Some(i) = find(repo, n) else {
                return gh_error(404, "Not Found");
            };
            let wanted: Vec<String> = req.body["reviewers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if wanted.iter().any(|w| !repo.collaborators.contains(w)) {
                return gh_error(
                    422,
                    &format!(
                        "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {full} repository."
                    ),
                );
            }
            for w in wanted {
                if !repo.pulls[i].reviewers.contains(&w) {
                    repo.pulls[i].reviewers.push(w);
                }
            }
            reply(201, gh_pull(&full, repo, &repo.pulls[i], port))
        }
        ("POST", ["issues", n, "labels"]) => {
            let Some(i) = find(repo, n) else {
                return gh_error(404, "Not Found");
            };
            for l in req.body["labels"].as_array().cloned().unwrap_or_default() {
                if let Some(l) = l.as_str()
                    && !repo.pulls[i].labels.iter().any(|x| x == l)
                {
                    repo.pulls[i].labels.push(l.to_string());
                }
            }
            let labels: Vec<Value> = repo.pulls[i]
                .labels
                .iter()
                .map(|l| json!({ "name": l, "color": "ededed" }))
                .collect();
            reply(200, json!(labels))
        }
        ("GET", ["deployments"]) => {
            let list: Vec<Value> = repo
                .deployments
                .iter()
                .rev()
                .filter(|d| req.query.get("sha").is_none_or(|s| d["sha"] == json!(s)))
                .filter(|d| {
                    req.query
                        .get("environment")
                        .is_none_or(|e| d["environment"] == json!(e))
                })
                .map(|d| {
                    let mut d = d.clone();
                    d.as_object_mut().unwrap().remove("statuses");
                    d
                })
                .collect();
            reply(200, json!(list))
        }
        ("POST", ["deployments"]) => {
            let Some(r) = req.body["ref"].as_str() else {
                return validation(
                    json!([{ "resource": "Deployment", "code": "missing_field", "field": "ref" }]),
                );
            };
            let Ok(sha) = git(
                &repo.bare,
                &["rev-parse", "--verify", &format!("{r}^{{commit}}")],
            ) else {
                return validation(
                    json!([{ "resource": "Deployment", "code": "invalid", "field": "ref" }]),
                );
            };
            let d = json!({
                "id": repo.deployments.len() + 1, "sha": sha.trim(), "ref": r,
                "environment": req.body["environment"].as_str().unwrap_or("production"),
                "description": req.body["description"], "statuses": [],
            });
            repo.deployments.push(d.clone());
            let mut out = d;
            out.as_object_mut().unwrap().remove("statuses");
            reply(201, out)
        }
        ("GET", ["deployments", id, "statuses"]) => {
            let Some(d) = repo
                .deployments
                .iter()
                .find(|d| d["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(*id))
            else {
                return gh_error(404, "Not Found");
            };
            reply(200, d["statuses"].clone())
        }
        ("POST", ["deployments", id, "statuses"]) => {
            let state = req.body["state"].as_str().unwrap_or("");
            if ![
                "error",
                "failure",
                "inactive",
                "in_progress",
                "queued",
                "pending",
                "success",
            ]
            .contains(&state)
            {
                return validation(
                    json!([{ "resource": "DeploymentStatus", "code": "invalid", "field": "state" }]),
                );
            }
            let Some(d) = repo
                .deployments
                .iter_mut()
                .find(|d| d["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(*id))
            else {
                return gh_error(404, "Not Found");
            };
            let st = json!({ "state": state, "description": req.body["description"].as_str().unwrap_or(""),
                             "environment": d["environment"] });
            d["statuses"].as_array_mut().unwrap().insert(0, st.clone());
            reply(201, st)
        }
        ("GET", ["collaborators", user, "permission"]) => {
            let role = repo
                .permissions
                .get(*user)
                .cloned()
                .unwrap_or_else(|| "none".into());
            // `permission` folds custom and finer roles into the classic
            // four; `role_name` keeps them.
            let permission = match role.as_str() {
                "maintain" => "write",
                "triage" => "read",
                r => r,
            };
            reply(
                200,
                json!({ "permission": permission, "role_name": role, "user": { "login": user } }),
            )
        }
        ("POST", ["issues", "comments", id, "reactions"]) => {
            let content = req.body["content"].as_str().unwrap_or("");
            if ![
                "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
            ]
            .contains(&content)
            {
                return validation(
                    json!([{ "resource": "Reaction", "code": "invalid", "field": "content" }]),
                );
            }
            let id: u64 = id.parse().unwrap_or(0);
            repo.reactions.push((id, content.to_string()));
            reply(
                201,
                json!({ "id": repo.reactions.len(), "content": content, "user": { "login": "hoist-bot" } }),
            )
        }
        ("GET", ["issues", n, "comments"]) => {
            let Some(i) = find(repo, n) else {
                return gh_error(404, "Not Found");
            };
            let page: usize = req
                .query
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let per: usize = req
                .query
                .get("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30)
                .min(100);
            let list: Vec<Value> = repo.pulls[i]
                .comments
                .iter()
                .enumerate()
                .skip((page - 1) * per)
                .take(per)
                .map(|(k, b)| json!({ "id": 9000 + k, "body": b, "user": { "login": "someone" } }))
                .collect();
            reply(200, json!(list))
        }
        ("POST", ["issues", n, "comments"]) => {
            let Some(i) = find(repo, n) else {
                return gh_error(404, "Not Found");
            };
            let body = req.body["body"].as_str().unwrap_or("").to_string();
            repo.pulls[i].comments.push(body.clone());
            reply(
                201,
                json!({ "id": 9000 + i, "body": body, "user": { "login": "hoist-bot" } }),
            )
        }
        ("POST", ["statuses", sha]) => {
            let state = req.body["state"].as_str().unwrap_or("");
            if !["error", "failure", "pending", "success"].contains(&state) {
                return validation(
                    json!([{ "resource": "Status", "field": "state", "code": "invalid" }]),
                );
            }
            let desc = req.body["description"].as_str().unwrap_or("");
            if desc.chars().count() > 140 {
                return validation(
                    json!([{ "resource": "Status", "code": "custom", "field": "description",
                    "message": "description is too long (maximum is 140 characters)" }]),
                );
            }
            let s = json!({
                "state": state,
                "description": desc,
                "target_url": req.body["target_url"],
                "context": req.body["context"].as_str().unwrap_or("default"),
                "created_at": "2026-11-27T00:00:00Z",
            });
            repo.statuses
                .entry(sha.to_string())
                .or_default()
                .push(s.clone());
            run_auto_merges(repo);
            reply(201, s)
        }
        ("GET", ["commits", sha, "statuses"]) => {
            let sha = branch_sha(&repo.bare, sha).unwrap_or_else(|| sha.to_string());
            let mut list = repo.statuses.get(&sha).cloned().unwrap_or_default();
            list.reverse();
            reply(200, json!(list))
        }
        ("GET", ["compare", spec]) => {
            let Some((base, head)) = spec.split_once("...") else {
                return gh_error(404, "Not Found");
            };
            match git(
                &repo.bare,
                &[
                    "log",
                    "--reverse",
                    "--format=%H%x00%an%x00%s",
                    &format!("{base}..{head}"),
                ],
            ) {
                Ok(out) => {
                    let commits: Vec<Value> = out
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            let f: Vec<&str> = l.split('\0').collect();
                            json!({ "sha": f[0], "commit": { "message": f.get(2).unwrap_or(&""),
                                "author": { "name": f.get(1).unwrap_or(&"") } } })
                        })
                        .collect();
                    let behind = git(
                        &repo.bare,
                        &["rev-list", "--count", &format!("{head}..{base}")],
                    )
                    .ok()
                    .and_then(|c| c.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                    let status = match (commits.len(), behind) {
                        (0, 0) => "identical",
                        (_, 0) => "ahead",
                        (0, _) => "behind",
                        _ => "diverged",
                    };
                    reply(
                        200,
                        json!({ "status": status, "ahead_by": commits.len(), "behind_by": behind,
                                "total_commits": commits.len(), "commits": commits }),
                    )
                }
                Err(_) => gh_error(404, "Not Found"),
            }
        }
        ("DELETE", ["git", "refs", "heads", ..]) => {
            let branch = parts[3..].join("/");
            match git(
                &repo.bare,
                &["update-ref", "-d", &format!("refs/heads/{branch}")],
            ) {
                Ok(_) if branch_sha(&repo.bare, &branch).is_none() => reply(204, Value::Null),
                _ => gh_error(422, "Reference does not exist"),
            }
        }
        _ => gh_error(404, "Not Found"),
    }
}

fn graphql(st: &mut Inner, req: &Request) -> Response {
    let query = req.body["query"].as_str().unwrap_or("");
    if !query.contains("enablePullRequestAutoMerge") {
        return reply(
            200,
            json!({ "errors": [{ "message": "this fake serves enablePullRequestAutoMerge only" }] }),
        );
    }
    let id = req.body["variables"]["id"].as_str().unwrap_or("");
    let method = req.body["variables"]["method"].as_str().unwrap_or("MERGE");
    let err = |msg: String| {
        reply(
            200,
            json!({ "data": { "enablePullRequestAutoMerge": null },
                    "errors": [{ "type": "UNPROCESSABLE", "path": ["enablePullRequestAutoMerge"],
                                 "locations": [{ "line": 1, "column": 72 }], "message": msg }] }),
        )
    };
    for (name, repo) in st.repos.iter_mut() {
        let prefix = format!("PR_kw{}_", name.replace('/', "_"));
        let Some(n) = id.strip_prefix(&prefix).and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let Some(i) = repo.pulls.iter().position(|p| p.number == n) else {
            break;
        };
        if !repo.allow_auto_merge {
            return err("Pull request Auto merge is not allowed for this repository".into());
        }
        if repo.pulls[i].state != State::Open {
            return err("Pull request Pull request is closed".into());
        }
        let head = branch_sha(&repo.bare, &repo.pulls[i].head).unwrap_or_default();
        if checks_pass(repo, &head) {
            return err("Pull request Pull request is in clean status".into());
        }
        repo.pulls[i].auto_merge = Some(method.to_string());
        return reply(
            200,
            json!({ "data": { "enablePullRequestAutoMerge": { "pullRequest": {
                "number": n, "autoMergeRequest": { "enabledAt": "2026-11-27T00:00:00Z" } } } } }),
        );
    }
    reply(
        200,
        json!({ "data": { "enablePullRequestAutoMerge": null },
                "errors": [{ "type": "NOT_FOUND", "path": ["enablePullRequestAutoMerge"],
                             "message": format!("Could not resolve to a node with the global id of '{id}'") }] }),
    )
}

// ---------------------------------------------------------- Azure DevOps

fn ado_pull(name: &str, repo: &Repo, p: &Pull, port: u16) -> Value {
    let head_sha = p
        .final_head
        .clone()
        .or_else(|| branch_sha(&repo.bare, &p.head))
        .unwrap_or_default();
    let web = match name.split('/').collect::<Vec<_>>().as_slice() {
        [org, project, repo] => format!("http://127.0.0.1:{port}/{org}/{project}/_git/{repo}"),
        _ => format!("http://127.0.0.1:{port}/{name}"),
    };
    json!({
        "pullRequestId": p.number,
        "codeReviewId": p.number,
        "status": match p.state { State::Open => "active", State::Closed => "abandoned", State::Merged => "completed" },
        "createdBy": { "id": ADO_USER, "displayName": "hoist" },
        "title": p.title,
        "description": p.body,
        "sourceRefName": format!("refs/heads/{}", p.head),
        "targetRefName": format!("refs/heads/{}", p.base),
        "mergeStatus": "succeeded",
        "lastMergeSourceCommit": { "commitId": head_sha },
        "lastMergeCommit": p.merge_sha.as_ref().map(|s| json!({ "commitId": s })),
        "closedDate": p.merged_at.map(hoist::core::time::format),
        "autoCompleteSetBy": if p.auto_merge.is_some() { json!({ "id": ADO_USER }) } else { Value::Null },
        "reviewers": p.reviewers.iter().map(|r| json!({ "id": r, "vote": 0 })).collect::<Vec<_>>(),
        "labels": p.labels.iter().map(|l| json!({ "name": l, "active": true })).collect::<Vec<_>>(),
        "url": format!("http://127.0.0.1:{port}/{name}/pullRequests/{}", p.number),
        "repository": { "name": name.rsplit('/').next(), "webUrl": web },
    })
}

fn azure(st: &mut Inner, req: &Request, port: u16) -> Response {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{TOKEN}"))
    );
    if req.auth.as_deref() != Some(expected.as_str()) {
        // Azure answers an unauthenticated API call with 401 and HTML;
        // hoist must cope with a non-JSON body.
        return reply(401, Value::Null);
    }
    if req.query.get("api-version").map(String::as_str) != Some("7.1") {
        return ado_error(
            400,
            "VssVersionOutOfRangeException",
            &format!(
                "No api-version was supplied for the \"{}\" request. The version must be supplied either as part of the Accept header (e.g. \"application/json; api-version=1.0\") or as a query parameter (e.g. \"?api-version=1.0\").",
                req.method
            ),
        );
    }
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let [
        org,
        project,
        "_apis",
        "git",
        "repositories",
        name,
        tail @ ..,
    ] = segs.as_slice()
    else {
        return ado_error(404, "NotFoundException", "The resource cannot be found.");
    };
    let full = format!("{org}/{project}/{name}");
    let next_number = st.next_number;
    let Some(repo) = st.repos.get_mut(&full) else {
        return ado_error(
            404,
            "GitRepositoryNotFoundException",
            &format!(
                "TF401019: The Git repository with name or identifier {name} does not exist or you do not have permissions for the operation you are attempting."
            ),
        );
    };
    let find = |repo: &Repo, n: &str| -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        repo.pulls.iter().position(|p| p.number == n)
    };
    let m = req.method.as_str();
    match (m, tail) {
        ("GET", []) => reply(
            200,
            json!({ "id": "a1b2", "name": name, "project": { "name": project },
                    "defaultBranch": format!("refs/heads/{}", repo.default_branch),
                    "remoteUrl": format!("file://{}", repo.bare.display()),
                    "webUrl": format!("http://127.0.0.1:{port}/{org}/{project}/_git/{name}") }),
        ),
        ("GET", ["pullrequests"]) => {
            let status = req
                .query
                .get("searchCriteria.status")
                .map_or("active", String::as_str);
            let src = req.query.get("searchCriteria.sourceRefName");
            let dst = req.query.get("searchCriteria.targetRefName");
            let num = |k: &str| req.query.get(k).and_then(|v| v.parse::<usize>().ok());
            let list: Vec<Value> = repo
                .pulls
                .iter()
                .rev()
                .filter(|p| match status {
                    "active" => p.state == State::Open,
                    "all" => true,
                    "completed" => p.state == State::Merged,
                    _ => p.state == State::Closed,
                })
                .filter(|p| src.is_none_or(|s| *s == format!("refs/heads/{}", p.head)))
                .filter(|p| dst.is_none_or(|d| *d == format!("refs/heads/{}", p.base)))
                .skip(num("$skip").unwrap_or(0))
                .take(num("$top").unwrap_or(101))
                .map(|p| ado_pull(&full, repo, p, port))
                .collect();
            reply(200, json!({ "value": list, "count": list.len() }))
        }
        ("POST", ["pullrequests"]) => {
            let b = &req.body;
            let head = b["sourceRefName"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("refs/heads/")
                .to_string();
            let base = b["targetRefName"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("refs/heads/")
                .to_string();
            if branch_sha(&repo.bare, &head).is_none() || branch_sha(&repo.bare, &base).is_none() {
                return ado_error(
                    400,
                    "InvalidArgumentValueException",
                    "TF401398: The pull request cannot be activated because the source and/or the target branch no longer exists, or the requested refs are not branches",
                );
            }
            if repo
                .pulls
                .iter()
                .any(|p| p.state == State::Open && p.head == head && p.base == base)
            {
                return ado_error(
                    409,
                    "GitPullRequestExistsException",
                    "TF401179: An active pull request for the source and target branch already exists.",
                );
            }
            let p = Pull {
                number: next_number,
                head,
                base,
                title: b["title"].as_str().unwrap_or("").to_string(),
                body: b["description"].as_str().unwrap_or("").to_string(),
                state: State::Open,
                labels: b["labels"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|l| l["name"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                reviewers: b["reviewers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|l| l["id"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                auto_merge: None,
                merge_sha: None,
                final_head: None,
                comments: Vec::new(),
                merged_at: None,
            };
            if p.body.chars().count() > 4000 {
                return ado_error(
                    400,
                    "InvalidArgumentValueException",
                    "The description of a pull request must be 4000 characters or fewer.",
                );
            }
            let v = ado_pull(&full, repo, &p, port);
            repo.pulls.push(p);
            st.next_number += 1;
            reply(201, v)
        }
        ("GET", ["pullrequests", n]) => match find(repo, n) {
            Some(i) => reply(200, ado_pull(&full, repo, &repo.pulls[i], port)),
            None => ado_error(
                404,
                "GitPullRequestNotFoundException",
                "TF401180: The requested pull request was not found.",
            ),
        },
        ("PATCH", ["pullrequests", n]) => {
            let Some(i) = find(repo, n) else {
                return ado_error(
                    404,
                    "GitPullRequestNotFoundException",
                    "TF401180: The requested pull request was not found.",
                );
            };
            let b = &req.body;
            if let Some(t) = b["title"].as_str() {
                repo.pulls[i].title = t.to_string();
            }
            if let Some(t) = b["description"].as_str() {
                if t.chars().count() > 4000 {
                    return ado_error(
                        400,
                        "InvalidArgumentValueException",
                        "The description of a pull request must be 4000 characters or fewer.",
                    );
                }
                repo.pulls[i].body = t.to_string();
            }
            if b["status"] == "abandoned" && repo.pulls[i].state == State::Open {
                repo.pulls[i].final_head = branch_sha(&repo.bare, &repo.pulls[i].head);
                repo.pulls[i].state = State::Closed;
            }
            if b["autoCompleteSetBy"].is_object() {
                let strategy = b["completionOptions"]["mergeStrategy"]
                    .as_str()
                    .unwrap_or("noFastForward");
                repo.pulls[i].auto_merge = Some(strategy.to_string());
                run_auto_merges(repo);
                if b["completionOptions"]["deleteSourceBranch"] == json!(true)
                    && repo.pulls[i].state == State::Merged
                {
                    let _ = git(
                        &repo.bare,
                        &[
                            "update-ref",
                            "-d",
                            &format!("refs/heads/{}", repo.pulls[i].head),
                        ],
                    );
                }
            }
            reply(200, ado_pull(&full, repo, &repo.pulls[i], port))
        }
        ("GET", ["pullrequests", n, "threads"]) => {
            let Some(i) = find(repo, n) else {
                return ado_error(
                    404,
                    "GitPullRequestNotFoundException",
                    "TF401180: The requested pull request was not found.",
                );
            };
            let threads: Vec<Value> = repo.pulls[i]
                .comments
                .iter()
                .enumerate()
                .map(|(k, c)| json!({ "id": k + 1, "comments": [{ "id": 1, "content": c, "commentType": "text" }], "status": "closed" }))
                .collect();
            reply(200, json!({ "value": threads, "count": threads.len() }))
        }
        ("POST", ["pullrequests", n, "threads"]) => {
            let Some(i) = find(repo, n) else {
                return ado_error(
                    404,
                    "GitPullRequestNotFoundException",
                    "TF401180: The requested pull request was not found.",
                );
            };
            let text = req.body["comments"][0]["content"]
                .as_str()
                .unwrap_or("")
                .to_string();
            repo.pulls[i].comments.push(text.clone());
            reply(
                200,
                json!({ "id": 77, "comments": [{ "id": 1, "content": text }], "status": req.body["status"] }),
            )
        }
        ("POST", ["commits", sha, "statuses"]) => {
            let state = req.body["state"].as_str().unwrap_or("");
            if !["pending", "succeeded", "failed", "error", "notApplicable"].contains(&state) {
                return ado_error(
                    400,
                    "InvalidArgumentValueException",
                    "The value of state is not valid.",
                );
            }
            let s = json!({
                "state": state,
                "description": req.body["description"],
                "context": req.body["context"],
                "targetUrl": req.body["targetUrl"],
                // Kept beside Azure's shape so checks_pass reads both forges.
                "contextName": format!("{}/{}", req.body["context"]["genre"].as_str().unwrap_or(""), req.body["context"]["name"].as_str().unwrap_or("")),
            });
            let mut stored = s.clone();
            stored["context"] = json!(s["contextName"]);
            stored["azureContext"] = req.body["context"].clone();
            repo.statuses
                .entry(sha.to_string())
                .or_default()
                .push(stored);
            run_auto_merges(repo);
            reply(201, s)
        }
        ("GET", ["commits", sha, "statuses"]) => {
            let list: Vec<Value> = repo
                .statuses
                .get(*sha)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .rev()
                .map(|mut s| {
                    s["context"] = s["azureContext"].take();
                    s
                })
                .collect();
            reply(200, json!({ "value": list, "count": list.len() }))
        }
        ("GET", ["diffs", "commits"]) => {
            let (Some(base), Some(target)) =
                (req.query.get("baseVersion"), req.query.get("targetVersion"))
            else {
                return ado_error(
                    400,
                    "ArgumentException",
                    "baseVersion and targetVersion are required",
                );
            };
            let n = |range: String| {
                git(&repo.bare, &["rev-list", "--count", &range])
                    .ok()
                    .and_then(|c| c.trim().parse::<u64>().ok())
            };
            match (
                n(format!("{base}..{target}")),
                n(format!("{target}..{base}")),
            ) {
                (Some(ahead), Some(behind)) => reply(
                    200,
                    json!({ "aheadCount": ahead, "behindCount": behind, "baseCommit": base,
                            "targetCommit": target, "allChangesIncluded": true, "changes": [] }),
                ),
                _ => ado_error(
                    404,
                    "GitCommitNotFoundException",
                    "TF401175: The version descriptor could not be resolved.",
                ),
            }
        }
        ("POST", ["commitsbatch"]) => {
            let head = req.body["itemVersion"]["version"].as_str().unwrap_or("");
            let base = req.body["compareVersion"]["version"].as_str().unwrap_or("");
            match git(
                &repo.bare,
                &[
                    "log",
                    "--format=%H%x00%an%x00%s",
                    &format!("{base}..{head}"),
                ],
            ) {
                Ok(out) => {
                    let list: Vec<Value> = out
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            let f: Vec<&str> = l.split('\0').collect();
                            json!({ "commitId": f[0], "author": { "name": f.get(1).unwrap_or(&"") },
                                    "comment": f.get(2).unwrap_or(&"") })
                        })
                        .collect();
                    reply(200, json!({ "value": list, "count": list.len() }))
                }
                Err(_) => ado_error(
                    404,
                    "GitItemNotFoundException",
                    "TF401175: The version descriptor could not be resolved to a version in the repository.",
                ),
            }
        }
        ("POST", ["refs"]) => {
            let mut out = Vec::new();
            for u in req.body.as_array().cloned().unwrap_or_default() {
                let name = u["name"].as_str().unwrap_or("");
                let old = u["oldObjectId"].as_str().unwrap_or("");
                let new = u["newObjectId"].as_str().unwrap_or("");
                let ok = if new.bytes().all(|b| b == b'0') {
                    git(&repo.bare, &["update-ref", "-d", name, old]).is_ok()
                } else {
                    git(&repo.bare, &["update-ref", name, new, old]).is_ok()
                };
                out.push(json!({ "name": name, "success": ok,
                                 "updateStatus": if ok { "succeeded" } else { "staleOldObjectId" } }));
            }
            reply(200, json!({ "value": out, "count": out.len() }))
        }
        _ => ado_error(404, "NotFoundException", "The resource cannot be found."),
    }
}

impl FakeForge {
    /// A status posted by someone else (CI), as over the API: it may let
    /// an auto-merge pull request merge.
    /// Make `users` active members of `org`'s team `slug`.
    pub fn set_team(&self, org: &str, slug: &str, users: &[&str]) {
        self.inner.lock().unwrap().teams.insert(
            (org.to_string(), slug.to_string()),
            users.iter().map(|u| u.to_string()).collect(),
        );
    }

    /// A person merges pull request `number` of `repo` in the forge's UI
    /// (a merge commit); the merge commit.
    pub fn merge_by_hand(&self, repo: &str, number: u64) -> String {
        let mut st = self.inner.lock().unwrap();
        let r = st.repos.get_mut(repo).unwrap();
        let idx = r.pulls.iter().position(|p| p.number == number).unwrap();
        do_merge(r, idx, "merge").unwrap()
    }

    pub fn post_status(&self, repo: &str, sha: &str, context: &str, state: &str) {
        let mut st = self.inner.lock().unwrap();
        let r = st.repos.get_mut(repo).unwrap();
        r.statuses
            .entry(sha.to_string())
            .or_default()
            .push(json!({ "state": state, "context": context, "description": "" }));
        run_auto_merges(r);
    }
}
