//! Persisting a plan: Git objects built in memory, pushed with
//! compare-and-swap.
//!
//! The split of work follows what each tool does well. gix reads trees,
//! writes blobs, trees and commits straight into the object database — no
//! worktree, no index, no checkout of 100,000 files. The `git` binary does
//! the network: gix cannot push (gitoxide#306) and has an open bug fetching
//! large Azure DevOps repositories (gitoxide#1025), so fetch and push both
//! go through `git`, and the credentials have exactly one path to guard:
//! an `http.<url>.extraHeader` handed over in the environment
//! (`GIT_CONFIG_COUNT`), never in argv, `.git/config` or a log line.
//!
//! Layout:
//! - [`cache`]: the bare clones kept under the state dir, locked per URL.
//! - [`tree`]: reading a commit's files and writing an edited tree + commit.
//! - [`push`]: `git push --porcelain` with a lease, and its result.
//! - [`message`]: the commit message (Flux's v1 template data + trailers).
//! - [`persist`]: the loop — fetch, plan, commit, push, and on a race
//!   fetch again and re-plan on the new tip.

pub mod cache;
pub mod message;
pub mod push;
pub mod tree;
pub mod workspace;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use crate::config::GitAuth as Auth;

/// A failure talking to Git. Messages are already redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

/// What a caller can do about an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The run asks for something the repository does not have (no such
    /// remote or branch, a remote HEAD that names no branch, a bad ref
    /// name): fix the settings, retrying will not help.
    Setup,
    /// Git, the remote or the network failed; a later run may succeed.
    Failed,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    pub fn setup(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Setup,
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// HTTPS credentials for one remote: an `Authorization` header value.
#[derive(Clone)]
pub struct Credentials {
    header: String,
    /// Strings that must never be printed: the token and its encodings.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

impl Credentials {
    /// Build the header GitHub / Azure DevOps expect for `token`.
    pub fn new(kind: Auth, token: &str, username: Option<&str>) -> Credentials {
        use base64::Engine;
        let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        let value = match kind {
            Auth::Github => format!("Basic {}", b64(format!("x-access-token:{token}"))),
            Auth::AzureDevops => format!("Basic {}", b64(format!(":{token}"))),
            Auth::Bearer => format!("Bearer {token}"),
            Auth::Gitlab => format!("Basic {}", b64(format!("oauth2:{token}"))),
            Auth::Basic => format!(
                "Basic {}",
                b64(format!("{}:{token}", username.unwrap_or("")))
            ),
        };
        let mut secrets = vec![token.to_string(), value.clone()];
        if let Some(enc) = value.split(' ').nth(1) {
            secrets.push(enc.to_string());
        }
        Credentials {
            header: format!("Authorization: {value}"),
            secrets,
        }
    }

    /// Read the token from the environment variable `var`.
    pub fn from_env(kind: Auth, var: &str, username: Option<&str>) -> Result<Credentials> {
        match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => Ok(Credentials::new(kind, t.trim(), username)),
            _ => Err(Error::setup(format!(
                "git.token_env names {var}, but that environment variable is empty or unset"
            ))),
        }
    }
}

/// Hide the password of any `scheme://user:password@host` in `text` (a
/// token pasted into a URL must not reach a log either).
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":[redacted]");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Replace every secret in `text`.
pub fn redact(text: &str, creds: Option<&Credentials>) -> String {
    let mut out = redact_userinfo(text);
    if let Some(c) = creds {
        for s in c.secrets.iter().filter(|s| s.len() >= 4) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

/// The `scheme://host/` prefix a credential header is scoped to, so a
/// redirect to another host never receives it.
fn header_scope(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split('/').next()?;
    // userinfo is not part of git's URL matching.
    let host = host.rsplit('@').next()?;
    Some(format!("{scheme}://{host}/"))
}

/// Runs `git` against one repository with a controlled environment:
/// no prompts, C locale (messages are parsed), the credentials in
/// `GIT_CONFIG_*`, and the caller's other Git settings (ssh keys, agent)
/// left alone.
#[derive(Debug, Clone)]
pub struct Git {
    /// The repository (`GIT_DIR` for a bare clone, the worktree otherwise).
    pub dir: PathBuf,
    pub bare: bool,
    credentials: Option<(String, Credentials)>,
    /// Extra `-c` style settings, passed through the environment.
    settings: Vec<(String, String)>,
}

impl Git {
    pub fn new(dir: &Path, bare: bool) -> Git {
        Git {
            dir: dir.to_path_buf(),
            bare,
            credentials: None,
            settings: Vec::new(),
        }
    }

    /// Send `creds` to the host of `url` (HTTP(S) only; ignored otherwise).
    pub fn with_credentials(mut self, url: &str, creds: Option<Credentials>) -> Git {
        if let (Some(scope), Some(c)) = (header_scope(url), creds) {
            self.credentials = Some((scope, c));
        }
        self
    }

    /// Add a configuration setting for every command (`git -c key=value`).
    pub fn setting(mut self, key: &str, value: &str) -> Git {
        self.settings.push((key.into(), value.into()));
        self
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref().map(|(_, c)| c)
    }

    /// A `git` command ready to run in this repository.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        if self.bare {
            cmd.env("GIT_DIR", &self.dir);
        } else {
            cmd.current_dir(&self.dir);
            cmd.env_remove("GIT_DIR");
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE");
        // Keep what the caller already passes via GIT_CONFIG_COUNT.
        let mut n: usize = std::env::var("GIT_CONFIG_COUNT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut add = |k: &str, v: &str| {
            cmd.env(format!("GIT_CONFIG_KEY_{n}"), k);
            cmd.env(format!("GIT_CONFIG_VALUE_{n}"), v);
            n += 1;
        };
        // Background maintenance would outlive hoist and hold the cache.
        add("gc.autoDetach", "false");
        add("maintenance.autoDetach", "false");
        add("advice.detachedHead", "false");
        for (k, v) in &self.settings {
            add(k, v);
        }
        if let Some((scope, c)) = &self.credentials {
            add(&format!("http.{scope}.extraHeader"), &c.header);
        }
        cmd.env("GIT_CONFIG_COUNT", n.to_string());
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Run `git args…`; on failure, an error with the (redacted) stderr.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args, None)?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run and return the raw output, success or not; `input` goes to stdin.
    pub fn output(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output> {
        let mut cmd = self.command();
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        tracing::debug!(args = %redact(&args.join(" "), None), dir = %self.dir.display(), "git");
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::new(format!("cannot run git: {e} (is git installed?)")))?;
        if let Some(bytes) = input
            && let Some(mut stdin) = child.stdin.take()
        {
            use std::io::Write;
            stdin
                .write_all(bytes)
                .map_err(|e| Error::new(format!("cannot write to git: {e}")))?;
        }
        child
            .wait_with_output()
            .map_err(|e| Error::new(format!("git failed: {e}")))
    }

    /// An error for a failed command: its subcommand and last stderr lines.
    pub fn failure(&self, args: &[&str], out: &Output) -> Error {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let sub = args
            .iter()
            .find(|a| !a.starts_with('-'))
            .copied()
            .unwrap_or("git");
        Error::new(redact(
            &format!("git {sub} failed ({}): {}", out.status, tail.join(" / ")),
            self.credentials(),
        ))
    }
}

pub use crate::core::refname::valid_branch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_scoped() {
        let c = Credentials::new(Auth::Github, "ghs_secret123", None);
        assert!(c.header.starts_with("Authorization: Basic "));
        let enc = c.header.rsplit(' ').next().unwrap().to_string();
        let text = format!("failed with ghs_secret123 and {enc}");
        assert_eq!(
            redact(&text, Some(&c)),
            "failed with [redacted] and [redacted]"
        );
        assert_eq!(format!("{c:?}"), "Credentials([redacted])");
        let az = Credentials::new(Auth::AzureDevops, "pat", None);
        use base64::Engine;
        assert_eq!(
            az.header,
            format!(
                "Authorization: Basic {}",
                base64::engine::general_purpose::STANDARD.encode(":pat")
            )
        );
        assert_eq!(
            Credentials::new(Auth::Bearer, "tok", None).header,
            "Authorization: Bearer tok"
        );
        assert_eq!(
            header_scope("https://user@dev.azure.com/org/p/_git/r").as_deref(),
            Some("https://dev.azure.com/")
        );
        assert_eq!(header_scope("git@github.com:o/r.git"), None);
        assert_eq!(
            redact(
                "fatal: https://bot:s3cr3t@host.example/r.git and ssh://git@h:22/x",
                None
            ),
            "fatal: https://bot:[redacted]@host.example/r.git and ssh://git@h:22/x"
        );
    }

    #[test]
    fn branch_names() {
        for bad in [
            "a..b", "-x", "", "a b", "x.lock", "a/", "/a", "a//b", "@", "a@{b", "HEAD", "a~1",
            "a:b", ".a", "a/.b", "a\\b",
        ] {
            assert!(!valid_branch(bad), "{bad:?}");
        }
        for good in ["release/v1", "hoist/prod/flux-system-api", "a.b", "main"] {
            assert!(valid_branch(good), "{good:?}");
        }
    }
}
