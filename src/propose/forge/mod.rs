//! Forges: pull requests, merges and commit statuses on GitHub, Azure
//! DevOps and GitLab, behind one small trait.
//!
//! A client speaks for one repository. Every method is a few HTTP calls
//! with bounded retries (see [`http`]); none of them decides anything:
//! what to open, update, merge or close is the run loop's business
//! (`crate::run::climb`). Errors name the repository and the pull request and
//! never carry a token.

pub mod azure;
pub mod github;
pub mod gitlab;
pub mod http;

use std::fmt;

use crate::config::ladder::{Forge as ForgeConfig, ForgeAuth, ForgeKind, MergeMethod};
use crate::core::secret::Secret;

/// A forge call that failed, by what its caller does about it. The text
/// names the repository, the call and the forge's own words, never a
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The forge refused or failed the call, or could not be reached
    /// within the retries: this run fails (exit 1); a later one may not.
    Failed(String),
    /// The configuration cannot work (missing token, unknown repository,
    /// a 401 or 404): exit 2 rather than 1.
    Setup(String),
    /// Another writer changed the pull request under hoist's feet (it said
    /// "already exists" and then was gone): plan again and retry.
    Raced(String),
}

impl Error {
    /// A call that failed ([`Error::Failed`]).
    pub fn new(message: impl Into<String>) -> Error {
        Error::Failed(message.into())
    }

    /// A configuration that cannot work ([`Error::Setup`]).
    pub fn setup(message: impl Into<String>) -> Error {
        Error::Setup(message.into())
    }

    /// A race with another writer ([`Error::Raced`]).
    pub fn raced(message: impl Into<String>) -> Error {
        Error::Raced(message.into())
    }

    /// What went wrong, for a person.
    pub fn message(&self) -> &str {
        match self {
            Error::Failed(m) | Error::Setup(m) | Error::Raced(m) => m,
        }
    }

    /// Fix the configuration rather than run again.
    pub fn is_setup(&self) -> bool {
        matches!(self, Error::Setup(_))
    }

    /// Plan again: someone else wrote first.
    pub fn is_raced(&self) -> bool {
        matches!(self, Error::Raced(_))
    }

    /// The same kind, as a setup error (the forge said 401 or 404).
    fn into_setup(self) -> Error {
        match self {
            Error::Failed(m) | Error::Setup(m) | Error::Raced(m) => Error::Setup(m),
        }
    }

    fn context(self, what: impl fmt::Display) -> Error {
        let add = |m: String| format!("{what}: {m}");
        match self {
            Error::Failed(m) => Error::Failed(add(m)),
            Error::Setup(m) => Error::Setup(add(m)),
            Error::Raced(m) => Error::Raced(add(m)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// What the forge says about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub clone_url: String,
    pub default_branch: String,
    pub web_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullState {
    Open,
    Closed,
    Merged,
}

/// How many pages of a hundred [`Forge::list_merged_since`] reads at most.
pub const MAX_MERGED_PAGES: usize = 10;

/// Merged pull requests from `prefix` among pages of a listing (newest
/// first): `page(n)` is the n-th page (from 1) of `(pull request, when it
/// was last updated or closed)`; stops at a short page or one wholly
/// before `since`. Sorted newest first.
pub fn merged_pages(
    prefix: &str,
    since: i64,
    mut page: impl FnMut(usize) -> Result<Vec<(PullRequest, Option<i64>)>>,
) -> Result<Vec<PullRequest>> {
    let mut out = Vec::new();
    for n in 1..=MAX_MERGED_PAGES {
        let items = page(n)?;
        let full = items.len() >= 100;
        // A listing need not be in the order of these times (Azure DevOps
        // lists by creation): stop at a page wholly before `since`.
        let older = items.iter().all(|(_, t)| t.is_some_and(|t| t < since));
        for (p, _) in items {
            if p.state == PullState::Merged && p.head_branch.starts_with(prefix) {
                out.push(p);
            }
        }
        if !full || older {
            break;
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.number));
    Ok(out)
}

/// A pull request as hoist needs it.
/// A page of a JSON listing as [`merged_pages`] takes it: each item read
/// by `read`, with its `updated_at`.
pub(crate) fn with_updated(
    v: &serde_json::Value,
    read: impl Fn(&serde_json::Value) -> Result<PullRequest>,
) -> Result<Vec<(PullRequest, Option<i64>)>> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let updated = item["updated_at"]
                .as_str()
                .and_then(crate::core::time::parse);
            Ok((read(item)?, updated))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// GitHub's number, Azure DevOps' pullRequestId.
    pub number: u64,
    /// GitHub's GraphQL node id (auto-merge); empty on Azure DevOps.
    pub node_id: String,
    pub head_branch: String,
    pub head_sha: String,
    pub base_branch: String,
    pub title: String,
    pub body: String,
    pub url: String,
    pub state: PullState,
    /// Auto-merge (GitHub) or auto-complete (Azure DevOps) is set.
    pub auto_merge: bool,
    /// The commit a merge made on the base branch (empty until merged).
    pub merge_commit: String,
    /// When it merged (seconds since the epoch).
    pub merged_at: Option<i64>,
}

/// A pull request to open.
#[derive(Debug, Clone)]
pub struct NewPull<'a> {
    pub head: &'a str,
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub labels: &'a [String],
    pub reviewers: &'a [String],
}

/// How a merge request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// Merged now; the base branch's new tip.
    Merged { sha: String },
    /// The forge merges it once its checks pass.
    Scheduled,
    /// The forge will not merge it, and why (conflict, protection).
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    Pending,
    Success,
    Failure,
    Error,
}

/// A forge's words for the four states (GitHub's are hoist's own).
type StateWords = [(StatusState, &'static str); 4];

impl StatusState {
    /// The GitHub word, which is also how hoist names the state.
    pub fn as_str(self) -> &'static str {
        self.word(&github::STATES)
    }

    /// This state in a forge's `words`.
    fn word(self, words: &StateWords) -> &'static str {
        words
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("pending", |(_, w)| w)
    }

    /// The state a forge's `word` names; pending for anything else.
    fn from_word(words: &StateWords, word: Option<&str>) -> StatusState {
        words
            .iter()
            .find(|(_, w)| Some(*w) == word)
            .map_or(StatusState::Pending, |(s, _)| *s)
    }
}

/// A commit status: `context` is hoist's name for what it reports
/// (`hoist/<env>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub context: String,
    pub state: StatusState,
    pub description: String,
    pub target_url: Option<String>,
}

/// A commit of a source repository, for changelogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    pub sha: String,
    pub title: String,
    pub author: String,
}

/// What a user may do in a repository (GitHub's permission levels; Azure
/// DevOps has no per-user equivalent hoist can ask for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
    /// The forge cannot tell (Azure DevOps): only an explicit approvers
    /// list can allow a command.
    Unknown,
}

impl Permission {
    /// GitHub's `permission`/`role_name` words.
    pub fn from_github(s: &str) -> Permission {
        match s {
            "admin" => Permission::Admin,
            "maintain" => Permission::Maintain,
            "write" | "push" => Permission::Write,
            "triage" => Permission::Triage,
            "read" | "pull" => Permission::Read,
            _ => Permission::None,
        }
    }

    /// Write or higher.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Permission::Write | Permission::Maintain | Permission::Admin
        )
    }
}

/// One repository on one forge.
pub trait Forge: Send + Sync {
    fn repository(&self) -> Result<RepoInfo>;
    /// The open pull request from `head` into `base`, if any.
    fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>>;
    /// Open pull requests whose head branch starts with `prefix`.
    fn list_open(&self, prefix: &str) -> Result<Vec<PullRequest>>;
    /// Merged pull requests whose head branch starts with `prefix`, the
    /// newest first (among the last hundred closed).
    fn list_merged(&self, prefix: &str) -> Result<Vec<PullRequest>>;
    /// [`Forge::list_merged`] reaching back to `since` (seconds since the
    /// epoch): the forge's listing paged through, at most
    /// [`MAX_MERGED_PAGES`] pages of a hundred.
    fn list_merged_since(&self, prefix: &str, since: i64) -> Result<Vec<PullRequest>>;
    /// Merged pull requests from `head` into `base`, the newest first
    /// (among the last hundred closed from it).
    fn find_merged(&self, head: &str, base: &str) -> Result<Vec<PullRequest>>;
    /// Open a pull request; when the forge says one already exists for
    /// `head` (a concurrent run), that one is returned instead.
    fn create(&self, new: &NewPull<'_>) -> Result<PullRequest>;
    fn update(&self, pr: &PullRequest, title: &str, body: &str) -> Result<PullRequest>;
    /// Comment, close, and delete the head branch.
    fn close(&self, pr: &PullRequest, comment: &str) -> Result<()>;
    /// Merge `pr` at exactly `pr.head_sha`, or have the forge do it when
    /// its checks pass.
    fn merge(&self, pr: &PullRequest, method: MergeMethod) -> Result<Merge>;
    fn statuses(&self, sha: &str) -> Result<Vec<Status>>;
    fn post_status(&self, sha: &str, status: &Status) -> Result<()>;
    /// Commits in `head` and not in `base` of `repository` (same forge),
    /// oldest first; `None` when the forge cannot compare them.
    fn compare(
        &self,
        repository: &str,
        base: &str,
        head: &str,
    ) -> Result<Option<Vec<CommitSummary>>>;
    /// A link to the same comparison, for bodies without a changelog.
    fn compare_url(&self, repository: &str, base: &str, head: &str) -> String;
    /// A link to one commit of `repository`.
    fn commit_url(&self, repository: &str, sha: &str) -> String;
    /// Is `ancestor` an ancestor of (or the same commit as) `descendant`?
    /// False when the forge does not know one of them.
    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool>;
    /// Record that `environment` runs `sha` (`report = "deployments"`):
    /// a GitHub deployment of that commit with a deployment status, or on
    /// Azure DevOps a commit status whose genre is the environment. Posts
    /// only when the latest state or description differs. True if posted.
    fn deployment(&self, sha: &str, environment: &str, status: &Status) -> Result<bool>;
    /// One pull request by number, whatever its state.
    fn pull(&self, number: u64) -> Result<PullRequest>;
    /// Comment on a pull request.
    fn comment(&self, number: u64, body: &str) -> Result<()>;
    /// The bodies of a pull request's comments, oldest first (at most the
    /// first 1000).
    fn comments(&self, number: u64) -> Result<Vec<String>>;
    /// What `user` may do in this repository.
    fn permission(&self, user: &str) -> Result<Permission>;
    /// Is `user` an active member of `org`'s team `team` (its slug)?
    fn in_team(&self, org: &str, team: &str, user: &str) -> Result<bool>;
    /// React to comment `comment_id` of pull request `number` (GitHub's
    /// `eyes`, `rocket`…, GitLab's award emoji of the same names); a
    /// no-op where the forge has no reactions.
    fn react(&self, number: u64, comment_id: u64, content: &str) -> Result<()>;
}

/// A client for `repository` on the forge `cfg` describes (`repository`
/// overrides `cfg.repository` for a rung that lives elsewhere).
pub fn open(cfg: &ForgeConfig, repository: Option<&str>) -> Result<Box<dyn Forge>> {
    let repository = repository.unwrap_or(&cfg.repository).to_string();
    let token = match &cfg.auth {
        None => None,
        Some(ForgeAuth::Token { env }) => Some(read_env(env, "forge.token_env")?),
        Some(ForgeAuth::GithubApp {
            app_id_env,
            private_key_env,
        }) => {
            let app_id = read_env(app_id_env, "forge.app_id_env")?;
            let key = read_env(private_key_env, "forge.private_key_env")?;
            let token = github::installation_token(
                &cfg.api_url,
                &repository,
                app_id.expose().trim(),
                key.expose(),
            )?;
            Some(token)
        }
    };
    Ok(match cfg.kind {
        ForgeKind::Github => Box::new(github::GitHub::new(&cfg.api_url, &repository, token)?),
        ForgeKind::AzureDevops => {
            Box::new(azure::AzureDevOps::new(&cfg.api_url, &repository, token)?)
        }
        ForgeKind::Gitlab => {
            let job = matches!(&cfg.auth, Some(ForgeAuth::Token { env }) if env == "CI_JOB_TOKEN");
            Box::new(gitlab::GitLab::new(&cfg.api_url, &repository, token, job)?)
        }
    })
}

fn read_env(var: &str, field: &str) -> Result<Secret> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim_end().to_string())),
        _ => Err(Error::setup(format!(
            "{field} names {var}, but that environment variable is empty or unset"
        ))),
    }
}

/// Cut a comment or body to `max` characters, saying so.
pub fn cut_body(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let note = "\n\n*(cut to fit the forge's limit)*";
    let keep = max.saturating_sub(note.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(note);
    out
}

/// Cut a status description to the forge's limit (GitHub: 140 chars).
pub fn short_description(text: &str) -> String {
    const MAX: usize = 140;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(number: u64, branch: &str, state: PullState) -> PullRequest {
        PullRequest {
            number,
            node_id: String::new(),
            head_branch: branch.into(),
            head_sha: String::new(),
            base_branch: "main".into(),
            title: String::new(),
            body: String::new(),
            url: String::new(),
            state,
            auto_merge: false,
            merge_commit: String::new(),
            merged_at: None,
        }
    }

    #[test]
    fn merged_pages_reach_back_to_since_and_no_further() {
        // 250 closed pull requests, newest first, one a minute back from
        // t = 100_000; every other one hoist's and merged.
        let all: Vec<(PullRequest, Option<i64>)> = (0..250u64)
            .map(|i| {
                let (branch, state) = if i % 2 == 0 {
                    ("hoist/prod", PullState::Merged)
                } else {
                    ("feature/x", PullState::Closed)
                };
                (pr(1000 - i, branch, state), Some(100_000 - 60 * i as i64))
            })
            .collect();
        let mut asked = Vec::new();
        let mut page = |n: usize| {
            asked.push(n);
            Ok(all.iter().skip((n - 1) * 100).take(100).cloned().collect())
        };
        // Since the 150th: pages 1 and 2 (page 2 reaches before since,
        // but not wholly), then 3, which is short.
        let got = merged_pages("hoist/", 100_000 - 60 * 150, &mut page).unwrap();
        assert_eq!(asked, [1, 2, 3]);
        assert_eq!(got.len(), 125);
        assert!(got.windows(2).all(|w| w[0].number > w[1].number));
        // Since the 50th: page 1 is partly newer; page 2 is wholly older.
        asked.clear();
        let mut page = |n: usize| {
            asked.push(n);
            Ok(all.iter().skip((n - 1) * 100).take(100).cloned().collect())
        };
        merged_pages("hoist/", 100_000 - 60 * 50, &mut page).unwrap();
        assert_eq!(asked, [1, 2]);
        // A forge that keeps answering full pages is read MAX_MERGED_PAGES deep.
        let mut n_asked = 0;
        merged_pages("hoist/", 0, |_| {
            n_asked += 1;
            Ok(all.iter().take(100).cloned().collect())
        })
        .unwrap();
        assert_eq!(n_asked, MAX_MERGED_PAGES);
    }
}
