//! `hoist apply`: plan, commit and push with compare-and-swap (see
//! [`crate::git`]), or with `--no-commit` only write the working tree.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::{Fatal, exit, load_repo, plan_repo, plural, report};
use crate::diag::Diag;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    #[command(flatten)]
    pub tags: super::TagArgs,
    /// Only write the files into the working tree; do not commit or push.
    #[arg(long, conflicts_with = "url")]
    pub no_commit: bool,
    /// Work on this remote instead of a local checkout: hoist keeps a bare
    /// clone under --state-dir and never checks files out.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Branch to read (default: the automation's checkout branch, else the
    /// checked-out branch or the remote's default branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// Branch to push to (default: the automation's push.branch, else the
    /// checkout branch).
    #[arg(long)]
    pub push_branch: Option<String>,
    /// Checkout mode: the remote to push to (default: git.remote, else origin).
    #[arg(long)]
    pub remote: Option<String>,
    /// Where cached clones live (URL mode).
    #[arg(long, value_name = "DIR", env = "HOIST_STATE_DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// Only this ImageUpdateAutomation (namespace/name): its scope, branches,
    /// author and message.
    #[arg(long, value_name = "NS/NAME")]
    pub automation: Option<String>,
    /// Push attempts when the branch keeps moving (default: git.max_attempts, else 10).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Environment variable holding the HTTPS token (default: git.token_env).
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// How the token is sent: github, azure-devops, bearer, basic
    /// (default: git.auth, else by host).
    #[arg(long, value_name = "KIND", value_parser = parse_auth)]
    pub auth: Option<crate::config::GitAuth>,
}

/// Replace `path` with `content` atomically: write a temporary file in the
/// same directory, copy the permissions, fsync, rename. The file is first
/// re-read: if it no longer holds `expected` (someone edited it while we
/// planned) nothing is written.
pub fn write_atomic(path: &Path, expected: &str, content: &str) -> Result<(), String> {
    let current = std::fs::read(path).map_err(|e| format!("cannot re-read before writing: {e}"))?;
    if current != expected.as_bytes() {
        return Err(
            "the file changed on disk while hoist was planning; not written (run again)".into(),
        );
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let perms = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".hoist-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    tmp.write_all(content.as_bytes())
        .map_err(|e| format!("cannot write: {e}"))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| format!("cannot sync: {e}"))?;
    std::fs::set_permissions(tmp.path(), perms)
        .map_err(|e| format!("cannot set permissions: {e}"))?;
    tmp.persist(path)
        .map_err(|e| format!("cannot replace the file: {}", e.error))?;
    Ok(())
}

fn parse_auth(s: &str) -> Result<crate::config::GitAuth, String> {
    use crate::config::GitAuth;
    Ok(match s {
        "github" => GitAuth::Github,
        "azure-devops" => GitAuth::AzureDevops,
        "bearer" => GitAuth::Bearer,
        "basic" => GitAuth::Basic,
        other => {
            return Err(format!(
                "unknown auth kind {other:?} (expected github, azure-devops, bearer or basic)"
            ));
        }
    })
}

pub fn run(args: &ApplyArgs) -> Result<i32, Fatal> {
    if args.no_commit {
        return write_worktree(args);
    }
    super::commit::run(args)
}

fn write_worktree(args: &ApplyArgs) -> Result<i32, Fatal> {
    let loaded = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let super::Planned { plan, mut diags } =
        plan_repo(&loaded, args.tags.registry_snapshot.as_deref())?;
    let mut written = 0;
    for f in &plan.files {
        let path = loaded.root.join(&f.file);
        match write_atomic(&path, &f.original, &f.updated) {
            Ok(()) => written += 1,
            Err(e) => diags.push(Diag::error(e).at(&f.file, None)),
        }
    }
    report(&diags);
    anstream::eprintln!(
        "hoist apply: wrote {} ({})",
        plural(written, "file"),
        plural(plan.change_count(), "change")
    );
    Ok(if diags.iter().any(Diag::is_error) {
        exit::FOUND
    } else {
        exit::OK
    })
}
