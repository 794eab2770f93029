//! Real Git remotes for the tests: bare repositories over `file://`,
//! smart HTTP (`git http-backend` behind a small loopback server with Basic
//! auth) and `git daemon`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Run git in `dir` with a fixed identity and no user/system config;
/// panics with stderr on failure. Returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Human")
        .env("GIT_AUTHOR_EMAIL", "human@example.com")
        .env("GIT_COMMITTER_NAME", "Human")
        .env("GIT_COMMITTER_EMAIL", "human@example.com")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR");
    c
}

/// Make `<root>/<name>.git`, a bare repository whose `main` holds one
/// commit with the files of `content` (a directory).
pub fn bare_from(root: &Path, name: &str, content: &Path) -> PathBuf {
    let work = root.join(format!("{name}-seed"));
    super::copy_tree(content, &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    let bare = root.join(format!("{name}.git"));
    git(
        root,
        &["clone", "-q", "--bare", super::s(&work), super::s(&bare)],
    );
    git(&bare, &["config", "receive.advertisePushOptions", "true"]);
    std::fs::remove_dir_all(&work).unwrap();
    bare
}

pub fn file_url(bare: &Path) -> String {
    format!("file://{}", bare.display())
}

/// `git show <rev>:<path>` in a bare repo.
pub fn show(bare: &Path, rev: &str, path: &str) -> String {
    git(bare, &["show", &format!("{rev}:{path}")])
}

/// Number of commits reachable from `rev`.
pub fn count(bare: &Path, rev: &str) -> usize {
    git(bare, &["rev-list", "--count", rev])
        .trim()
        .parse()
        .unwrap()
}

/// `git fsck --strict` must be clean (dangling objects are fine).
pub fn assert_fsck(dir: &Path) {
    let out = git_cmd(dir)
        .args(["fsck", "--strict", "--no-dangling", "--no-progress"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git fsck in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A smart-HTTP Git server on 127.0.0.1 running `git http-backend` as CGI
/// for the bare repositories under `root`, requiring Basic auth when
/// `auth` is set. Counts requests; stops when dropped.
pub struct HttpServer {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    /// Authorization headers that were refused.
    pub refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    pub fn start(root: &Path, auth: Option<(&str, &str)>) -> HttpServer {
        HttpServer::start_with_header(
            root,
            auth.map(|(u, p)| format!("Basic {}", super::base64_encode(&format!("{u}:{p}")))),
        )
    }

    /// Require exactly this `Authorization` header value.
    pub fn start_with_header(root: &Path, expected: Option<String>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let root = root.to_path_buf();
        {
            let (stop, requests, refused) = (stop.clone(), requests.clone(), refused.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (root, expected, requests, refused) = (
                        root.clone(),
                        expected.clone(),
                        requests.clone(),
                        refused.clone(),
                    );
                    std::thread::spawn(move || {
                        requests.fetch_add(1, Ordering::SeqCst);
                        let _ = serve(conn, &root, expected.as_deref(), &refused);
                    });
                }
            });
        }
        HttpServer {
            port,
            requests,
            refused,
            stop,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_chunked(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if n == 0 {
            let mut end = String::new();
            r.read_line(&mut end)?;
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

fn serve(
    conn: TcpStream,
    root: &Path,
    expected: Option<&str>,
    refused: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(exp) = expected
        && header("authorization").as_deref() != Some(exp)
    {
        if header("authorization").is_some() {
            refused.fetch_add(1, Ordering::SeqCst);
        }
        out.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let n: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut b = vec![0u8; n];
        reader.read_exact(&mut b)?;
        b
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_USER", "hoist-test")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(ct) = header("content-type") {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(ce) = header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", ce);
    }
    if let Some(p) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", p);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let output = child.wait_with_output()?;
    let _ = writer.join();
    let raw = output.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let (head, payload) = match split {
        Some((p, n)) => (
            String::from_utf8_lossy(&raw[..p]).into_owned(),
            &raw[p + n..],
        ),
        None => (String::new(), &raw[..]),
    };
    let mut status = "200 OK".to_string();
    let mut resp_headers = String::new();
    for l in head.lines() {
        if let Some(s) = l.strip_prefix("Status:") {
            status = s.trim().to_string();
        } else if !l.trim().is_empty() {
            resp_headers.push_str(l.trim_end());
            resp_headers.push_str("\r\n");
        }
    }
    write!(
        out,
        "HTTP/1.1 {status}\r\n{resp_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )?;
    out.write_all(payload)?;
    out.flush()
}

/// `git daemon` serving `root` (push enabled) on a free loopback port.
pub struct Daemon {
    pub port: u16,
    child: std::process::Child,
}

impl Daemon {
    pub fn start(root: &Path) -> Daemon {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = git_cmd(root)
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", root.display()),
                &root.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Daemon { port, child }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small fleet: a policy per image in hoist.toml and one image-tags.yaml
/// with a marker per policy (all at `0.0.0`).
pub fn fleet(dir: &Path, policies: usize) {
    let toml = fleet_toml(0..policies);
    let mut tags = String::from("# image tags, written by hoist\n");
    for i in 0..policies {
        tags.push_str(&format!(
            "app{i}:\n  tag: 0.0.0 # {{\"$imagepolicy\": \"flux-system:app{i}:tag\"}}\n"
        ));
    }
    super::write(dir, "hoist.toml", &toml);
    super::write(dir, "clusters/prod/image-tags.yaml", &tags);
    super::write(dir, "README.md", "fleet\n");
}

/// A snapshot where `app<i>` has tags up to `0.0.<n>` (and no other image).
pub fn snapshot_for(i: usize, n: usize) -> String {
    let tags: Vec<String> = (0..=n).map(|k| format!("0.0.{k}")).collect();
    format!(
        "images:\n  127.0.0.1:1/app{i}:\n    tags: [{}]\n",
        tags.join(", ")
    )
}

/// A hoist.toml allowing `**/image-tags.yaml` and declaring `app<i>` for
/// each `i`.
pub fn fleet_toml(apps: impl IntoIterator<Item = usize>) -> String {
    let mut toml = String::from("write_paths = [\"**/image-tags.yaml\"]\n\n");
    for i in apps {
        toml.push_str(&policy_toml(i));
    }
    toml
}

/// hoist.toml declarations of `app<i>`'s repository and policy.
pub fn policy_toml(i: usize) -> String {
    format!(
        "[[image_repository]]\nname = \"app{i}\"\nimage = \"127.0.0.1:1/app{i}\"\n\n[[image_policy]]\nname = \"app{i}\"\nrepository = \"app{i}\"\nsemver = {{ range = \">=0.0.0\" }}\n\n"
    )
}

/// Write a fast-import stream for `files` files and `commits` commits
/// (the first adds everything, each later one edits one file), with a
/// marker in clusters/prod/image-tags.yaml.
pub fn big_repo(dir: &Path, files: usize, commits: usize) -> std::path::PathBuf {
    use std::io::Write;
    let bare = dir.join("big.git");
    git(
        dir,
        &["init", "-q", "--bare", "-b", "main", super::s(&bare)],
    );
    let mut fi = git_cmd(&bare)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut w = std::io::BufWriter::new(fi.stdin.take().unwrap());
        let blob = |w: &mut dyn Write, mark: usize, data: &str| {
            write!(w, "blob\nmark :{mark}\ndata {}\n{data}\n", data.len()).unwrap();
        };
        let path = |k: usize| format!("apps/team-{:03}/svc-{:04}.yaml", k % 500, k);
        for k in 0..files {
            let body = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{k}\ndata:\n  rev: \"0\"\n"
            );
            blob(&mut w, k + 1, &body);
        }
        let toml = "write_paths = [\"**/image-tags.yaml\"]\n[[image_repository]]\nname = \"app0\"\nimage = \"127.0.0.1:1/app0\"\n[[image_policy]]\nname = \"app0\"\nrepository = \"app0\"\nsemver = { range = \">=0.0.0\" }\n";
        blob(&mut w, files + 1, toml);
        blob(
            &mut w,
            files + 2,
            "app0:\n  tag: 0.0.0 # {\"$imagepolicy\": \"flux-system:app0:tag\"}\n",
        );
        write!(w, "commit refs/heads/main\ncommitter Gen <gen@example.com> 1700000000 +0000\ndata 7\ninitial\n").unwrap();
        for k in 0..files {
            writeln!(w, "M 100644 :{} {}", k + 1, path(k)).unwrap();
        }
        writeln!(w, "M 100644 :{} hoist.toml", files + 1).unwrap();
        writeln!(w, "M 100644 :{} clusters/prod/image-tags.yaml", files + 2).unwrap();
        writeln!(w).unwrap();
        for c in 1..commits {
            let k = (c * 7919) % files;
            let body = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{k}\ndata:\n  rev: \"{c}\"\n"
            );
            write!(
                w,
                "commit refs/heads/main\ncommitter Gen <gen@example.com> {} +0000\ndata 4\nedit\nM 100644 inline {}\ndata {}\n{body}\n\n",
                1700000000 + c,
                path(k),
                body.len()
            )
            .unwrap();
        }
        w.flush().unwrap();
    }
    assert!(fi.wait().unwrap().success());
    git(&bare, &["repack", "-adq"]);
    bare
}

/// `<dir>/fleet.git`: a bare remote holding [`fleet`] with `policies`
/// policies (the content is built in `<dir>/content`).
pub fn fleet_remote(dir: &Path, policies: usize) -> PathBuf {
    fleet_remote_with(dir, policies, &[])
}

/// [`fleet_remote`] with `extra` files (path, content) written over the
/// fleet before the first commit.
pub fn fleet_remote_with(dir: &Path, policies: usize, extra: &[(&str, &str)]) -> PathBuf {
    let content = dir.join("content");
    fleet(&content, policies);
    for (rel, text) in extra {
        super::write(&content, rel, text);
    }
    bare_from(dir, "fleet", &content)
}

/// `hoist apply --url URL --state-dir STATE --registry-snapshot SNAP`.
pub fn apply_url_args(url: &str, state: &Path, snap: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["apply", "--url", url, "--state-dir"]
        .into_iter()
        .map(String::from)
        .collect();
    args.push(state.display().to_string());
    args.push("--registry-snapshot".into());
    args.push(snap.display().to_string());
    args
}

/// The isolated hoist command for [`apply_url_args`].
pub fn apply_url_cmd(url: &str, state: &Path, snap: &Path) -> Command {
    let mut c = super::hoist_command();
    c.args(apply_url_args(url, state, snap));
    c
}

/// The bare clone hoist keeps under `state` (the only one there).
pub fn cached_clone(state: &Path) -> PathBuf {
    std::fs::read_dir(state.join("repos"))
        .expect("a state dir with clones")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a cached clone")
}
