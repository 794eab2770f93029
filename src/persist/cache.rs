//! Where hoist keeps its clones, and how it fetches into them.
//!
//! One bare repository per remote URL under `<state-dir>/repos/`. Each has
//! a lock file next to it, held (`flock`) for the whole run. The lock's file
//! descriptor is deliberately inherited by the `git` children: if hoist is
//! killed mid-fetch, the orphaned `git fetch` still holds the lock, and the
//! next run waits for it instead of racing it. Whoever holds the lock is
//! therefore alone with the clone, so any `*.lock` file found inside is a
//! leftover of a killed process and is removed. A clone is only used once
//! the `hoist-ready` marker written after `git init` exists; a clone that
//! fails to read or fetch for a reason other than the network is deleted
//! and made again.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{Credentials, Error, Git, Result};

/// The default state directory: `$XDG_CACHE_HOME/hoist`, else
/// `~/.cache/hoist`, else a directory under the system temp dir.
pub fn default_state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("hoist");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("hoist");
    }
    std::env::temp_dir().join("hoist-state")
}

/// A short, filesystem-safe, stable name for a URL.
fn slug(url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(url.as_bytes());
    let hex = crate::core::hex(&digest[..8]);
    let tail: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    format!("{}-{hex}", if tail.is_empty() { "repo" } else { &tail })
}

/// A locked bare clone.
pub struct Clone {
    pub git: Git,
    _lock: File,
}

const READY: &str = "hoist-ready";

/// Lock (waiting for other hoist processes) and open the clone for `url`,
/// creating it when missing or half-made.
pub fn open(state_dir: &Path, url: &str, creds: Option<Credentials>) -> Result<Clone> {
    let repos = state_dir.join("repos");
    std::fs::create_dir_all(&repos)
        .map_err(|e| Error::new(format!("cannot create state dir {}: {e}", repos.display())))?;
    let name = slug(url);
    let dir = repos.join(&name);
    let lock_path = repos.join(format!("{name}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::new(format!("cannot open {}: {e}", lock_path.display())))?;
    if lock.try_lock().is_err() {
        tracing::info!(cache = %dir.display(), "waiting for another hoist using this clone");
        lock.lock()
            .map_err(|e| Error::new(format!("cannot lock {}: {e}", lock_path.display())))?;
    }
    inherit(&lock);
    let git = Git::new(&dir, true).with_credentials(url, creds);
    let clone = Clone { git, _lock: lock };
    if dir.join(READY).is_file() {
        remove_stale_locks(&dir);
    } else {
        clone.init()?;
    }
    Ok(clone)
}

/// Let children inherit the lock (clear close-on-exec), so an orphaned git
/// keeps the clone locked until it exits.
fn inherit(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own; only the FD_CLOEXEC bit changes.
    unsafe {
        let fd = f.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        }
    }
}

/// Remove `*.lock` files a killed git left behind (we hold the clone lock,
/// and any git still running from an earlier hoist would hold it too).
fn remove_stale_locks(dir: &Path) {
    fn visit(dir: &Path, depth: usize) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                // Objects never carry .lock files; skip the big directory.
                if depth < 6 && e.file_name() != "objects" {
                    visit(&p, depth + 1);
                }
            } else if p.extension().is_some_and(|x| x == "lock") {
                tracing::warn!(file = %p.display(), "removing a stale lock left by a killed git");
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    visit(dir, 0);
}

impl Clone {
    fn init(&self) -> Result<()> {
        let dir = &self.git.dir;
        if dir.exists() {
            tracing::warn!(cache = %dir.display(), "discarding an incomplete or damaged clone");
            std::fs::remove_dir_all(dir)
                .map_err(|e| Error::new(format!("cannot remove {}: {e}", dir.display())))?;
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".init-")
            .tempdir_in(parent)
            .map_err(|e| Error::new(format!("cannot create a temporary dir: {e}")))?;
        let g = Git::new(tmp.path(), true);
        g.run(&["init", "--bare", "--quiet"])?;
        // No reflogs or hooks in a cache; shallow fetches land often.
        g.run(&["config", "core.logAllRefUpdates", "false"])?;
        let hooks = tmp.path().join("hooks");
        let _ = std::fs::remove_dir_all(hooks);
        std::fs::write(tmp.path().join(READY), b"")
            .map_err(|e| Error::new(format!("cannot write the ready marker: {e}")))?;
        let tmp = tmp.keep();
        std::fs::rename(&tmp, dir)
            .map_err(|e| Error::new(format!("cannot move the new clone into place: {e}")))?;
        Ok(())
    }

    /// Throw the clone away and start empty (after corruption).
    pub fn rebuild(&self) -> Result<()> {
        let _ = std::fs::remove_file(self.git.dir.join(READY));
        self.init()
    }
}

/// Open a repository with gix, ignoring the user's global configuration
/// (none of it matters for reading and writing objects).
pub fn open_repo(dir: &Path) -> Result<gix::Repository> {
    let mut repo = gix::open_opts(dir, gix::open::Options::isolated())
        .map_err(|e| Error::new(format!("cannot open repository {}: {e}", dir.display())))?;
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    Ok(repo)
}

/// Does a failed fetch's message point at the network, the remote or the
/// credentials (rebuilding the clone would not help)?
pub fn is_remote_problem(message: &str) -> bool {
    const REMOTE: &[&str] = &[
        "Could not resolve host",
        "Connection refused",
        "Connection timed out",
        "Failed to connect",
        "Authentication failed",
        "could not read Username",
        "The requested URL returned error",
        "unable to access",
        "Repository not found",
        "does not appear to be a git repository",
        "Could not read from remote repository",
        "couldn't find remote ref",
        "Permission denied",
        "Host key verification failed",
        "SSL",
        "timed out",
    ];
    REMOTE.iter().any(|m| message.contains(m))
}

/// Fetch `refs/heads/<branch>` from `source` (URL or remote name) into
/// `refs/remotes/<tracking>/<branch>` (`depth` commits deep, 0 = as deep as
/// the repository already is) and return its tip, or `None` when the remote
/// has no such branch.
pub fn fetch_branch(
    git: &Git,
    source: &str,
    tracking: &str,
    branch: &str,
    depth: u32,
) -> Result<Option<gix::ObjectId>> {
    let local = format!("refs/remotes/{tracking}/{branch}");
    let refspec = format!("+refs/heads/{branch}:{local}");
    let depth_arg = format!("--depth={depth}");
    let mut args = vec!["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"];
    if depth > 0 {
        args.push(&depth_arg);
    }
    args.extend(["--", source, &refspec]);
    let out = git.output(&args, None)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("couldn't find remote ref") {
            return Ok(None);
        }
        return Err(git.failure(&args, &out));
    }
    // Read the fetched ref in process (a `git rev-parse` would be one more
    // process per fetch, and the ladder fetches per rung and image).
    let repo = open_repo(&git.dir)?;
    let mut r = repo
        .find_reference(local.as_str())
        .map_err(|e| Error::new(format!("cannot read {local} after fetching it: {e}")))?;
    let tip = r
        .peel_to_commit()
        .map_err(|e| Error::new(format!("{local} is not a commit: {e}")))?
        .id;
    Ok(Some(tip))
}

/// The remote's default branch (`HEAD` symref), via `git ls-remote`.
pub fn remote_default_branch(git: &Git, url: &str) -> Result<String> {
    let out = git.run(&["ls-remote", "--symref", "--", url, "HEAD"])?;
    out.lines()
        .find_map(|l| {
            l.strip_prefix("ref: refs/heads/")
                .and_then(|r| r.split('\t').next())
                .map(str::to_string)
        })
        .ok_or_else(|| {
            Error::setup(super::redact(
                &format!(
                    "the remote's HEAD names no branch, so the default branch of {url} is unknown; pass --branch"
                ),
                None,
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_stable_and_safe() {
        let a = slug("https://github.com/acme/fleet.git");
        assert!(a.starts_with("fleet-"), "{a}");
        assert_eq!(a, slug("https://github.com/acme/fleet.git"));
        assert_ne!(a, slug("https://github.com/other/fleet.git"));
        assert!(
            slug("file:///tmp/x y/../..")
                .chars()
                .all(|c| c != '/' && c != ' ')
        );
    }

    #[test]
    fn remote_problems_are_told_apart() {
        assert!(is_remote_problem(
            "fatal: unable to access 'https://x/': Could not resolve host: x"
        ));
        assert!(!is_remote_problem(
            "fatal: bad object refs/remotes/origin/main"
        ));
    }
}
