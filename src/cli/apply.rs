//! `hoist apply`: plan, commit and push with compare-and-swap (see
//! [`hoist::persist`]), or with `--no-commit` only write the working tree.

use clap::Args;

use super::{Fatal, exit, load_repo, plan_repo, plural, report};
use hoist::core::diag::Diag;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    #[command(flatten)]
    pub tags: super::TagArgs,
    /// Only write the files into the working tree; do not commit or push.
    #[arg(long, conflicts_with = "url")]
    pub no_commit: bool,
    #[command(flatten)]
    pub git: GitArgs,
    /// Branch to push to (default: the automation's push.branch, else the
    /// checkout branch).
    #[arg(long)]
    pub push_branch: Option<String>,
}

/// Where and how to commit (apply, run).
#[derive(Debug, Args)]
pub struct GitArgs {
    /// Work on this remote instead of a local checkout: hoist keeps a bare
    /// clone under --state-dir and never checks files out.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Branch to read (default: the automation's checkout branch, else the
    /// checked-out branch or the remote's default branch).
    #[arg(long)]
    pub branch: Option<String>,
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
    /// How the token is sent: github, azure-devops, gitlab, bearer, basic
    /// (default: git.auth, else by host).
    #[arg(long, value_name = "KIND", value_parser = parse_auth)]
    pub auth: Option<hoist::config::GitAuth>,
}

impl GitArgs {
    /// The repository and the overrides these flags give.
    pub fn request(
        &self,
        target: &super::RepoArgs,
        tags: &super::TagArgs,
        push_branch: Option<String>,
    ) -> (
        hoist::run::session::Repository,
        hoist::run::session::Overrides,
    ) {
        use hoist::run::session::{Overrides, Repository};
        let repository = match &self.url {
            Some(url) => Repository::Url {
                url: url.clone(),
                state_dir: self
                    .state_dir
                    .clone()
                    .unwrap_or_else(hoist::persist::cache::default_state_dir),
            },
            None => Repository::Checkout {
                dir: target.repo.clone(),
            },
        };
        let overrides = Overrides {
            config: target.config.clone(),
            snapshot: tags.registry_snapshot.clone(),
            branch: self.branch.clone(),
            push_branch,
            remote: self.remote.clone(),
            automation: self.automation.clone(),
            max_attempts: self.max_attempts,
            token_env: self.token_env.clone(),
            auth: self.auth,
            read_only: false,
            each_automation: false,
        };
        (repository, overrides)
    }
}

fn parse_auth(s: &str) -> Result<hoist::config::GitAuth, String> {
    use hoist::config::GitAuth;
    Ok(match s {
        "github" => GitAuth::Github,
        "azure-devops" => GitAuth::AzureDevops,
        "bearer" => GitAuth::Bearer,
        "gitlab" => GitAuth::Gitlab,
        "basic" => GitAuth::Basic,
        other => {
            return Err(format!(
                "unknown auth kind {other:?} (expected github, azure-devops, gitlab, bearer or basic)"
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
    let (written, write_diags) = hoist::run::fleet::write(&loaded, &plan);
    diags.extend(write_diags);
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
