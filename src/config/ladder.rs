//! `[forge]` and `[[environment]]` in hoist.toml: the promotion ladder.
//!
//! ```toml
//! [forge]
//! kind = "github"                      # or "azure-devops"
//! repository = "acme/fleet"            # azure-devops: "org/project/repo"
//! api_url = "https://api.github.com"   # GHES: https://HOST/api/v3; ADO Server: its collection URL
//! token_env = "GITHUB_TOKEN"           # or app_id_env + private_key_env (GitHub App)
//!
//! [[environment]]
//! name = "dev"
//! paths = ["clusters/dev/**"]
//! mode = "push"                        # push | auto-merge | pull-request
//!
//! [[environment]]
//! name = "staging"
//! paths = ["clusters/staging/**"]
//! mode = "auto-merge"
//! promote_from = "dev"
//! tag_rewrite = { from = '^dev-(?P<sha>[0-9a-f]{7,40})-\d+$', to = 'staging-$sha' }
//! require_same_digest = true
//! ```
//!
//! Raw values keep their spans so every error names its line.

use std::ops::Range;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::core::diag::Diag;
use crate::policy::goregex::GoRegex;
use crate::policy::{ExpandTemplate, GroupRef};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForge {
    pub kind: Spanned<String>,
    pub repository: Spanned<String>,
    #[serde(default)]
    pub api_url: Option<Spanned<String>>,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub app_id_env: Option<String>,
    #[serde(default)]
    pub private_key_env: Option<String>,
    #[serde(default)]
    pub max_requests_per_run: Option<Spanned<i64>>,
    #[serde(default)]
    pub commands_need: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRewrite {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    pub name: Spanned<String>,
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    #[serde(default)]
    pub promote_from: Option<Spanned<String>>,
    #[serde(default)]
    pub tag_rewrite: Option<Spanned<RawRewrite>>,
    #[serde(default)]
    pub require_same_digest: bool,
    #[serde(default)]
    pub create_tag: bool,
    #[serde(default)]
    pub repository: Option<Spanned<String>>,
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Who may drive this rung by PR comment (`alice`, `@acme/sre`).
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Gates: the source rung reconciled its last promotion…
    #[serde(default)]
    pub require_reconciled: bool,
    /// …at least this long ago (a Go duration)…
    #[serde(default)]
    pub soak: Option<Spanned<String>>,
    /// …and no freeze window is open.
    #[serde(default)]
    pub freeze: Vec<Spanned<String>>,
    /// How Flux's reconcile results are shown: `statuses` (default), or
    /// `deployments` (also GitHub deployments / an Azure DevOps genre).
    #[serde(default)]
    pub report: Option<Spanned<String>>,
    /// What a failed Flux reconcile of this rung's promotion does:
    /// `report` (default: recorded, nothing more) or `rollback`.
    #[serde(default)]
    pub on_failure: Option<Spanned<String>>,
    /// Builds that arrive within this window (a Go duration) land as one
    /// commit or pull request update (`hoist serve`).
    #[serde(default)]
    pub batch: Option<Spanned<String>>,
    /// The cosign signatures and attestations an image needs first.
    #[serde(default)]
    pub verify: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub merge_method: Option<Spanned<String>>,
    #[serde(default)]
    pub group: Option<Spanned<String>>,
}

/// Which forge hosts the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForgeKind {
    Github,
    AzureDevops,
    Gitlab,
}

/// How a forge is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgeAuth {
    Token {
        env: String,
    },
    GithubApp {
        app_id_env: String,
        private_key_env: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forge {
    pub kind: ForgeKind,
    /// `owner/repo` (GitHub) or `org/project/repo` (Azure DevOps).
    pub repository: String,
    pub api_url: String,
    pub auth: Option<ForgeAuth>,
    /// At most this many forge requests per run; the work left when they
    /// are spent waits for the next run (`Climbed::Deferred`).
    pub max_requests_per_run: Option<u64>,
    /// What `/hoist` commands on an environment without `approvers` need
    /// of their author: write access (the default) or maintainer.
    pub commands_need: CommandsNeed,
}

/// `[forge] commands_need`: the least access a `/hoist` command's author
/// has on rungs that name no `approvers`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommandsNeed {
    /// GitHub write, GitLab Developer (30).
    #[default]
    Write,
    /// GitHub maintain, GitLab Maintainer (40).
    Maintain,
}

impl Forge {
    /// GitHub's GraphQL endpoint for this API URL: Enterprise Server serves
    /// it at `/api/graphql` beside `/api/v3`.
    pub fn graphql_url(&self) -> String {
        let base = self.api_url.trim_end_matches('/');
        match base.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{base}/graphql"),
        }
    }
}

/// What a failed reconcile of a rung's promotion does (`on_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Record it on the promotion's pull request (the gates read it).
    #[default]
    Report,
    /// Also land the promotion's rollback the way the rung lands changes
    /// and hold the rung.
    Rollback,
}

/// How a rung lands its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Commit to the base branch (compare-and-swap push).
    Push,
    /// A pull request that hoist merges (or has the forge merge) at once.
    AutoMerge,
    /// A pull request a human must approve; hoist never merges it.
    PullRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

/// One PR per rung, or one per image on the rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Environment,
    Image,
}

/// `tag_rewrite`: the source tag matched by `from` (Go syntax) and
/// expanded into `to` (Go's `$name` / `${name}` rules).
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub from: GoRegex,
    pub to: ExpandTemplate,
    /// `to` as written.
    pub to_text: String,
}

impl Rewrite {
    /// The target tag for `source`, or `None` when `from` does not match.
    pub fn apply(&self, source: &str) -> Option<String> {
        let caps = self.from.regex().captures(source)?;
        Some(self.to.expand(|r| {
            let i = self.from.group_index(r, |i| caps.get(i).is_some())?;
            caps.get(i).map(|m| m.as_str())
        }))
    }

    /// The named group `name` of `source`'s match (e.g. the `sha`).
    pub fn group(&self, source: &str, name: &str) -> Option<String> {
        let caps = self.from.regex().captures(source)?;
        let i = self.from.named_group(name, |i| caps.get(i).is_some())?;
        caps.get(i).map(|m| m.as_str().to_string())
    }
}

/// One environment of the ladder.
#[derive(Debug, Clone)]
pub struct Rung {
    pub name: String,
    pub paths: Vec<String>,
    pub matcher: GlobSet,
    pub mode: Mode,
    /// Take what this environment runs instead of a policy's choice.
    pub promote_from: Option<String>,
    pub tag_rewrite: Option<Rewrite>,
    pub require_same_digest: bool,
    pub create_tag: bool,
    /// The repository this rung lives in, when not the main one.
    pub repository: Option<String>,
    pub reviewers: Vec<String>,
    /// Who may drive this rung by PR comment; empty: anyone with write.
    pub approvers: Vec<String>,
    /// Gates (see `crate::propose::gate`).
    pub require_reconciled: bool,
    pub soak: Option<std::time::Duration>,
    pub freeze: Vec<super::window::Window>,
    /// Also report reconcile results as deployments.
    pub report_deployments: bool,
    pub on_failure: OnFailure,
    /// `batch`: the window pending changes wait for more (`hoist serve`).
    pub batch: Option<std::time::Duration>,
    /// `verify`: the signatures an image needs before this rung takes it.
    pub verify: super::verify::Verifications,
    pub labels: Vec<String>,
    pub merge_method: MergeMethod,
    pub group: Group,
    /// Where it is declared (`file:line`).
    pub line: usize,
}

impl Rung {
    /// Does this rung own the repository-relative `path`?
    pub fn owns(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

/// The validated ladder: rungs ordered so a promotion follows its source.
#[derive(Debug, Clone, Default)]
pub struct Ladder {
    pub forge: Option<Forge>,
    pub rungs: Vec<Rung>,
    /// `[source_repository]`: image → the repository its builds come
    /// from, for changelogs and commit links in pull request bodies.
    pub sources: std::collections::BTreeMap<String, String>,
}

impl Ladder {
    pub fn is_empty(&self) -> bool {
        self.rungs.is_empty()
    }

    pub fn rung(&self, name: &str) -> Option<&Rung> {
        self.rungs.iter().find(|r| r.name == name)
    }

    /// Files owned by more than one rung: a marker there would be written
    /// twice in one run. `files` are repository-relative paths.
    pub fn overlaps<'a>(
        &self,
        files: impl IntoIterator<Item = &'a str>,
        display: &str,
    ) -> Vec<Diag> {
        let mut out = Vec::new();
        for f in files {
            let owners: Vec<&str> = self
                .rungs
                .iter()
                .filter(|r| r.owns(f))
                .map(|r| r.name.as_str())
                .collect();
            if owners.len() > 1 {
                out.push(
                    Diag::error(format!(
                        "{f} is in the paths of several environments ({}); each file belongs to one rung",
                        owners.join(", ")
                    ))
                    .at(display, None)
                    .field("environment.paths"),
                );
            }
        }
        out
    }
}

/// The word that makes `hold` and `release` act on every environment; no
/// environment may be named so.
pub const ALL: &str = "all";

/// Validate the raw tables. `line` turns a byte span into a line of the
/// file; every problem is collected, located, and returned together.
pub fn validate(
    forge: Option<RawForge>,
    environments: Vec<RawEnvironment>,
    display: &str,
    line: &dyn Fn(Range<usize>) -> usize,
) -> Result<Ladder, Vec<Diag>> {
    let mut errors = Vec::new();
    let err = |span: Range<usize>, field: String, msg: String| {
        Diag::error(msg).at(display, Some(line(span))).field(field)
    };
    let forge = forge.and_then(|f| match validate_forge(f, &err) {
        Ok(f) => Some(f),
        Err(d) => {
            errors.extend(d);
            None
        }
    });
    let names: Vec<String> = environments
        .iter()
        .map(|e| e.name.get_ref().clone())
        .collect();
    let mut rungs = Vec::new();
    for (i, e) in environments.into_iter().enumerate() {
        let field = |f: &str| format!("environment[{i}].{f}");
        let name = e.name.get_ref().clone();
        let here = e.name.span();
        let who = format!("environment {name:?}");
        if name.is_empty() || !crate::core::refname::valid_branch(&format!("hoist/{name}")) {
            errors.push(err(
                here.clone(),
                field("name"),
                format!("{who}: the name must be usable in a branch name (hoist/{name})"),
            ));
        }
        if name == ALL {
            errors.push(err(
                here.clone(),
                field("name"),
                format!("{who}: `{ALL}` is reserved (`/hoist hold {ALL}`, `hoist hold --{ALL}` act on every environment)"),
            ));
        }
        if names.iter().filter(|n| **n == name).count() > 1
            && names.iter().position(|n| *n == name) != Some(i)
        {
            errors.push(err(
                here.clone(),
                field("name"),
                format!("{who} is declared twice"),
            ));
        }
        if e.paths.is_empty() {
            errors.push(err(
                here.clone(),
                field("paths"),
                format!("{who}: paths is required (the files whose markers belong to this rung)"),
            ));
        }
        let mut b = GlobSetBuilder::new();
        for (j, p) in e.paths.iter().enumerate() {
            match Glob::new(p.get_ref()) {
                Ok(g) => {
                    b.add(g);
                }
                Err(x) => errors.push(err(
                    p.span(),
                    field(&format!("paths[{j}]")),
                    format!("{who}: invalid glob {:?}: {x}", p.get_ref()),
                )),
            }
        }
        let matcher = b.build().unwrap_or_else(|_| GlobSet::empty());
        let mode = match e.mode.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
            None | Some(("push", _)) => Mode::Push,
            Some(("auto-merge", _)) => Mode::AutoMerge,
            Some(("pull-request", _)) => Mode::PullRequest,
            Some((other, span)) => {
                errors.push(err(
                    span,
                    field("mode"),
                    format!("{who}: mode {other:?} is not one of push, auto-merge, pull-request"),
                ));
                Mode::Push
            }
        };
        if let Some(src) = &e.promote_from {
            let s = src.get_ref();
            if *s == name {
                errors.push(err(
                    src.span(),
                    field("promote_from"),
                    format!("{who}: promote_from names the environment itself"),
                ));
            } else if !names.contains(s) {
                errors.push(err(
                    src.span(),
                    field("promote_from"),
                    format!("{who}: promote_from names unknown environment {s:?}"),
                ));
            }
        }
        let tag_rewrite = match &e.tag_rewrite {
            None => None,
            Some(r) if e.promote_from.is_none() => {
                errors.push(err(
                    r.span(),
                    field("tag_rewrite"),
                    format!("{who}: tag_rewrite needs promote_from (it rewrites the promoted tag)"),
                ));
                None
            }
            Some(r) => match rewrite(r.get_ref()) {
                Ok(rw) => Some(rw),
                Err(m) => {
                    errors.push(err(
                        r.span(),
                        field("tag_rewrite"),
                        format!("{who}: tag_rewrite: {m}"),
                    ));
                    None
                }
            },
        };
        for (flag, on) in [
            ("require_same_digest", e.require_same_digest),
            ("create_tag", e.create_tag),
        ] {
            if on && e.promote_from.is_none() {
                errors.push(err(
                    here.clone(),
                    field(flag),
                    format!("{who}: {flag} only applies to a promotion (set promote_from)"),
                ));
            }
        }
        let merge_method = match e
            .merge_method
            .as_ref()
            .map(|m| (m.get_ref().as_str(), m.span()))
        {
            None | Some(("merge", _)) => MergeMethod::Merge,
            Some(("squash", _)) => MergeMethod::Squash,
            Some(("rebase", _)) => MergeMethod::Rebase,
            Some((other, span)) => {
                errors.push(err(
                    span,
                    field("merge_method"),
                    format!("{who}: merge_method {other:?} is not one of merge, squash, rebase"),
                ));
                MergeMethod::Merge
            }
        };
        let group = match e.group.as_ref().map(|g| (g.get_ref().as_str(), g.span())) {
            None | Some(("environment", _)) => Group::Environment,
            Some(("image", _)) => Group::Image,
            Some((other, span)) => {
                errors.push(err(
                    span,
                    field("group"),
                    format!("{who}: group {other:?} is not one of environment, image"),
                ));
                Group::Environment
            }
        };
        let soak =
            e.soak.as_ref().and_then(
                |s| match crate::core::time::parse_go_duration(s.get_ref()) {
                    Ok(d) => Some(d),
                    Err(why) => {
                        errors.push(err(s.span(), field("soak"), format!("{who}: {why}")));
                        None
                    }
                },
            );
        let batch = e.batch.as_ref().and_then(|b| {
            match crate::core::time::parse_go_duration(b.get_ref()) {
                Ok(d) if (1..=86_400).contains(&d.as_secs()) => Some(d),
                Ok(_) => {
                    errors.push(err(
                        b.span(),
                        field("batch"),
                        format!("{who}: batch {:?} must be between 1s and 24h", b.get_ref()),
                    ));
                    None
                }
                Err(why) => {
                    errors.push(err(b.span(), field("batch"), format!("{who}: {why}")));
                    None
                }
            }
        });
        let verify = e
            .verify
            .as_ref()
            .and_then(|v| match super::verify::validate_all(v.get_ref()) {
                Ok(v) => Some(v),
                Err(why) => {
                    errors.push(err(
                        v.span(),
                        field("verify"),
                        format!("{who}: verify: {why}"),
                    ));
                    None
                }
            })
            .unwrap_or_default();
        let mut freeze = Vec::new();
        for w in &e.freeze {
            match super::window::Window::parse(w.get_ref()) {
                Ok(win) => freeze.push(win),
                Err(why) => errors.push(err(w.span(), field("freeze"), format!("{who}: {why}"))),
            }
        }
        let report_deployments = match e.report.as_ref().map(|r| (r.get_ref().as_str(), r.span())) {
            None | Some(("statuses", _)) => false,
            Some(("deployments", _)) => true,
            Some((other, span)) => {
                errors.push(err(
                    span,
                    field("report"),
                    format!("{who}: report {other:?} is not one of statuses, deployments"),
                ));
                false
            }
        };
        let on_failure = match e
            .on_failure
            .as_ref()
            .map(|r| (r.get_ref().as_str(), r.span()))
        {
            None | Some(("report", _)) => OnFailure::Report,
            Some(("rollback", span)) => {
                if mode == Mode::Push {
                    errors.push(err(
                        span,
                        field("on_failure"),
                        format!("{who}: on_failure = \"rollback\" restores what a promotion's pull request recorded it replaced, and this rung lands by push (use mode = \"auto-merge\")"),
                    ));
                }
                OnFailure::Rollback
            }
            Some((other, span)) => {
                errors.push(err(
                    span,
                    field("on_failure"),
                    format!("{who}: on_failure {other:?} is not one of report, rollback"),
                ));
                OnFailure::Report
            }
        };
        if (e.require_reconciled || soak.is_some()) && e.promote_from.is_none() {
            errors.push(err(
                here.clone(),
                field("require_reconciled"),
                format!("{who}: require_reconciled and soak wait on the rung promoted from, and this one has no promote_from"),
            ));
        }
        let needs_forge =
            mode != Mode::Push || e.repository.is_some() || e.require_reconciled || soak.is_some();
        if needs_forge && forge.is_none() {
            errors.push(err(
                here.clone(),
                field("mode"),
                format!(
                    "{who}: mode {mode:?} needs a [forge] section (where pull requests are opened)"
                ),
            ));
        }
        rungs.push(Rung {
            name,
            paths: e.paths.iter().map(|p| p.get_ref().clone()).collect(),
            matcher,
            mode,
            promote_from: e.promote_from.as_ref().map(|s| s.get_ref().clone()),
            tag_rewrite,
            require_same_digest: e.require_same_digest,
            create_tag: e.create_tag,
            repository: e.repository.as_ref().map(|r| r.get_ref().clone()),
            reviewers: e.reviewers,
            approvers: e.approvers,
            require_reconciled: e.require_reconciled,
            soak,
            freeze,
            report_deployments,
            on_failure,
            batch,
            verify,
            labels: e.labels,
            merge_method,
            group,
            line: line(here),
        });
    }
    for (a, r) in rungs.iter().enumerate() {
        for other in &rungs[a + 1..] {
            if let Some(p) = r.paths.iter().find(|p| other.paths.contains(p)) {
                errors.push(
                    Diag::error(format!(
                        "environments {:?} and {:?} both claim paths {p:?}",
                        r.name, other.name
                    ))
                    .at(display, Some(other.line))
                    .field("environment.paths"),
                );
            }
        }
    }
    for r in rungs
        .iter()
        .filter(|r| r.require_reconciled || r.soak.is_some())
    {
        let source = r
            .promote_from
            .as_deref()
            .and_then(|s| rungs.iter().find(|o| o.name == s));
        if let Some(src) = source
            && src.mode == Mode::Push
        {
            errors.push(
                Diag::error(format!(
                    "environment {:?}: require_reconciled and soak read the reconcile record on {:?}'s promotion pull requests, but {:?} lands by push (use mode = \"auto-merge\" there)",
                    r.name, src.name, src.name
                ))
                .at(display, Some(r.line))
                .field("environment.require_reconciled"),
            );
        }
    }
    let rungs = match order(rungs) {
        Ok(r) => r,
        Err((cycle, line)) => {
            errors.push(
                Diag::error(format!("promote_from forms a cycle: {}", cycle.join(" → ")))
                    .at(display, Some(line))
                    .field("environment.promote_from"),
            );
            Vec::new()
        }
    };
    if errors.is_empty() {
        Ok(Ladder {
            forge,
            rungs,
            sources: Default::default(),
        })
    } else {
        Err(errors)
    }
}

fn validate_forge(
    f: RawForge,
    err: &dyn Fn(Range<usize>, String, String) -> Diag,
) -> Result<Forge, Vec<Diag>> {
    let mut errors = Vec::new();
    let kind = match f.kind.get_ref().as_str() {
        "github" => ForgeKind::Github,
        "azure-devops" => ForgeKind::AzureDevops,
        "gitlab" => ForgeKind::Gitlab,
        other => {
            errors.push(err(
                f.kind.span(),
                "forge.kind".into(),
                format!("{other:?} is not one of github, azure-devops, gitlab"),
            ));
            ForgeKind::Github
        }
    };
    let repo = f.repository.get_ref();
    let parts = repo.split('/').collect::<Vec<_>>();
    let (want, example) = match kind {
        ForgeKind::Github => (2..=2, "owner/repo"),
        ForgeKind::AzureDevops => (3..=3, "org/project/repo"),
        // GitLab nests groups up to 20 deep.
        ForgeKind::Gitlab => (2..=21, "group/project or group/subgroup/project"),
    };
    if !want.contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        errors.push(err(
            f.repository.span(),
            "forge.repository".into(),
            format!("{repo:?} should be {example}"),
        ));
    }
    let api_url = match &f.api_url {
        Some(u) => {
            let url = u.get_ref();
            if reqwest::Url::parse(url).is_err() || !url.starts_with("http") {
                errors.push(err(
                    u.span(),
                    "forge.api_url".into(),
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
            url.trim_end_matches('/').to_string()
        }
        None => match kind {
            ForgeKind::Github => "https://api.github.com".into(),
            ForgeKind::AzureDevops => "https://dev.azure.com".into(),
            ForgeKind::Gitlab => "https://gitlab.com/api/v4".into(),
        },
    };
    let auth = match (&f.token_env, &f.app_id_env, &f.private_key_env) {
        (Some(t), None, None) => Some(ForgeAuth::Token { env: t.clone() }),
        (None, Some(a), Some(k)) if kind == ForgeKind::Github => Some(ForgeAuth::GithubApp {
            app_id_env: a.clone(),
            private_key_env: k.clone(),
        }),
        (None, None, None) => None,
        _ => {
            errors.push(err(
                f.kind.span(),
                "forge.token_env".into(),
                "give token_env, or (GitHub only) both app_id_env and private_key_env".into(),
            ));
            None
        }
    };
    let max_requests_per_run = match &f.max_requests_per_run {
        None => None,
        Some(n) if *n.get_ref() >= 1 => Some(*n.get_ref() as u64),
        Some(n) => {
            errors.push(err(
                n.span(),
                "forge.max_requests_per_run".into(),
                format!("must be 1 or more, not {}", n.get_ref()),
            ));
            None
        }
    };
    let commands_need = match f.commands_need.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("write") => CommandsNeed::Write,
        Some("maintain") => CommandsNeed::Maintain,
        Some(other) => {
            errors.push(err(
                f.commands_need.as_ref().map_or(0..0, |s| s.span()),
                "forge.commands_need".into(),
                format!("{other:?} is not \"write\" or \"maintain\""),
            ));
            CommandsNeed::Write
        }
    };
    if errors.is_empty() {
        Ok(Forge {
            kind,
            repository: repo.clone(),
            api_url,
            auth,
            max_requests_per_run,
            commands_need,
        })
    } else {
        Err(errors)
    }
}

/// `tag_rewrite`: `from` must compile (Go syntax) and `to` may only name
/// groups that `from` has.
fn rewrite(r: &RawRewrite) -> Result<Rewrite, String> {
    let from = GoRegex::new(&r.from).map_err(|e| format!("from {:?}: {e}", r.from))?;
    let to = ExpandTemplate::parse(&r.to);
    for g in to.references() {
        let (known, shown) = match g {
            GroupRef::Number(n) => (*n < from.subexp_names().len(), n.to_string()),
            GroupRef::Name(name) => (from.subexp_names().iter().any(|x| x == name), name.clone()),
        };
        if !known {
            return Err(format!(
                "to {:?} names group {shown:?}, which from {:?} does not have",
                r.to, r.from
            ));
        }
    }
    Ok(Rewrite {
        from,
        to,
        to_text: r.to.clone(),
    })
}

/// Order rungs so each promotion comes after its source, keeping the
/// declared order otherwise. A cycle is returned with the line of its
/// first member.
fn order(rungs: Vec<Rung>) -> Result<Vec<Rung>, (Vec<String>, usize)> {
    let mut placed: Vec<Rung> = Vec::with_capacity(rungs.len());
    let mut pending = rungs;
    while !pending.is_empty() {
        let ready = pending.iter().position(|r| match &r.promote_from {
            None => true,
            Some(src) => {
                placed.iter().any(|p| &p.name == src) || !pending.iter().any(|p| &p.name == src)
            }
        });
        match ready {
            Some(i) => placed.push(pending.remove(i)),
            None => {
                // Walk promote_from from the first pending rung until a repeat.
                let mut cycle = vec![pending[0].name.clone()];
                let mut cur = &pending[0];
                while let Some(next) = cur
                    .promote_from
                    .as_ref()
                    .and_then(|s| pending.iter().find(|p| &p.name == s))
                {
                    if let Some(k) = cycle.iter().position(|n| *n == next.name) {
                        cycle.push(next.name.clone());
                        let cycle = cycle.split_off(k);
                        return Err((cycle, pending[0].line));
                    }
                    cycle.push(next.name.clone());
                    cur = next;
                }
                return Err((cycle, pending[0].line));
            }
        }
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const FORGE: &str =
        "[forge]\nkind = \"github\"\nrepository = \"acme/fleet\"\ntoken_env = \"GITHUB_TOKEN\"\n";

    fn env(name: &str, extra: &str) -> String {
        format!("\n[[environment]]\nname = \"{name}\"\npaths = [\"clusters/{name}/**\"]\n{extra}")
    }

    fn errors(toml: &str) -> Vec<String> {
        parse(toml, "hoist.toml")
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn commands_need_is_write_or_maintain() {
        let with =
            |v: &str| FORGE.replacen("[forge]\n", &format!("[forge]\ncommands_need = {v}\n"), 1);
        let ok = parse(
            &format!("{}{}", with("\"maintain\""), env("dev", "")),
            "hoist.toml",
        )
        .unwrap();
        assert_eq!(
            ok.ladder.forge.unwrap().commands_need,
            super::CommandsNeed::Maintain
        );
        let errs = errors(&format!("{}{}", with("\"owner\""), env("dev", "")));
        assert!(
            errs.iter()
                .any(|e| e.contains("forge.commands_need") && e.contains("\"owner\"")),
            "{errs:?}"
        );
    }

    #[test]
    fn all_is_not_an_environment_name() {
        let errs = errors(&format!(
            "{FORGE}{}{}",
            env("dev", ""),
            env("all", "mode = \"pull-request\"\npromote_from = \"dev\"\n")
        ));
        assert!(
            errs.iter().any(|e| e.contains("`all` is reserved")),
            "{errs:?}"
        );
    }

    #[test]
    fn a_three_rung_ladder() {
        let toml = format!(
            "{FORGE}{}{}{}",
            env(
                "prod",
                "mode = \"pull-request\"\npromote_from = \"staging\"\nreviewers = [\"alice\"]\n"
            ),
            env("dev", ""),
            env(
                "staging",
                "mode = \"auto-merge\"\npromote_from = \"dev\"\ntag_rewrite = { from = '^dev-(?P<sha>[0-9a-f]{7,40})-\\d+$', to = 'staging-$sha' }\nrequire_same_digest = true\nmerge_method = \"squash\"\n"
            ),
        );
        let c = parse(&toml, "hoist.toml").unwrap_or_else(|e| panic!("{e:?}"));
        let names: Vec<&str> = c.ladder.rungs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dev", "staging", "prod"], "sources come first");
        let staging = c.ladder.rung("staging").unwrap();
        assert_eq!(staging.mode, super::Mode::AutoMerge);
        assert_eq!(staging.merge_method, super::MergeMethod::Squash);
        let rw = staging.tag_rewrite.as_ref().unwrap();
        assert_eq!(
            rw.apply("dev-1a2b3c4-1700000000").as_deref(),
            Some("staging-1a2b3c4")
        );
        assert_eq!(rw.apply("main-1a2b3c4"), None);
        assert_eq!(
            rw.group("dev-1a2b3c4-17", "sha").as_deref(),
            Some("1a2b3c4")
        );
        assert!(staging.owns("clusters/staging/apps/image-tags.yaml"));
        assert!(!staging.owns("clusters/prod/apps/image-tags.yaml"));
        assert_eq!(c.ladder.rung("prod").unwrap().reviewers, ["alice"]);
        assert_eq!(
            c.ladder.forge.as_ref().unwrap().graphql_url(),
            "https://api.github.com/graphql"
        );
    }

    #[test]
    fn enterprise_server_graphql() {
        let c = parse(
            "[forge]\nkind = \"github\"\nrepository = \"a/b\"\napi_url = \"https://ghe.example/api/v3/\"\n",
            "h",
        )
        .unwrap();
        assert_eq!(
            c.ladder.forge.unwrap().graphql_url(),
            "https://ghe.example/api/graphql"
        );
    }

    #[test]
    fn gates_are_checked() {
        let e = errors(&format!(
            "{FORGE}{}{}{}",
            env("dev", ""),
            env("stg", "promote_from = \"dev\"\nrequire_reconciled = true\n"),
            env(
                "prod",
                "mode = \"pull-request\"\npromote_from = \"stg\"\nsoak = \"30 minutes\"\nfreeze = [\"Fri 16:00 - Mon 08:00 Mars/Base\"]\nreport = \"email\"\n"
            ),
        ));
        let all = e.join("\n");
        for needle in [
            "environment.require_reconciled: environment \"stg\": require_reconciled and soak read the reconcile record on \"dev\"'s promotion pull requests, but \"dev\" lands by push",
            "environment[2].soak: environment \"prod\": \"30 minutes\" is not a duration",
            "environment[2].freeze: environment \"prod\": \"Fri 16:00 - Mon 08:00 Mars/Base\": unknown time zone \"Mars/Base\"",
            "environment[2].report: environment \"prod\": report \"email\" is not one of statuses, deployments",
        ] {
            assert!(all.contains(needle), "{needle}\n in:\n{all}");
        }
        let e = errors(&format!("{FORGE}{}", env("dev", "soak = \"5m\"\n")));
        assert!(e[0].contains("has no promote_from"), "{e:?}");
        let ok = parse(
            &format!(
                "{FORGE}{}{}",
                env("stg", "mode = \"auto-merge\"\napprovers = [\"@acme/sre\"]\n"),
                env("prod", "mode = \"pull-request\"\npromote_from = \"stg\"\nrequire_reconciled = true\nsoak = \"1h30m\"\nfreeze = [\"22:00 - 06:00\"]\nreport = \"deployments\"\n"),
            ),
            "hoist.toml",
        )
        .unwrap();
        let prod = ok.ladder.rung("prod").unwrap();
        assert_eq!(prod.soak, Some(std::time::Duration::from_secs(5400)));
        assert!(prod.require_reconciled && prod.report_deployments && prod.freeze.len() == 1);
        assert_eq!(ok.ladder.rung("stg").unwrap().approvers, ["@acme/sre"]);
    }

    #[test]
    fn on_failure_is_checked() {
        let e = errors(&format!(
            "{FORGE}{}{}",
            env("dev", "on_failure = \"rollback\"\n"),
            env(
                "stg",
                "mode = \"auto-merge\"\npromote_from = \"dev\"\non_failure = \"revert\"\nbatch = \"0s\"\n"
            ),
        ));
        let all = e.join("\n");
        for needle in [
            "environment[0].on_failure: environment \"dev\": on_failure = \"rollback\" restores what a promotion's pull request recorded it replaced, and this rung lands by push",
            "environment[1].on_failure: environment \"stg\": on_failure \"revert\" is not one of report, rollback",
            "environment[1].batch: environment \"stg\": batch \"0s\" must be between 1s and 24h",
        ] {
            assert!(all.contains(needle), "{needle}\n in:\n{all}");
        }
        let ok = parse(
            &format!(
                "{FORGE}{}{}",
                env("dev", "on_failure = \"report\"\n"),
                env(
                    "stg",
                    "mode = \"auto-merge\"\npromote_from = \"dev\"\non_failure = \"rollback\"\nbatch = \"2m\"\n"
                ),
            ),
            "hoist.toml",
        )
        .unwrap();
        assert_eq!(
            ok.ladder.rung("dev").unwrap().on_failure,
            super::OnFailure::Report
        );
        assert_eq!(
            ok.ladder.rung("stg").unwrap().on_failure,
            super::OnFailure::Rollback
        );
        assert_eq!(
            ok.ladder.rung("stg").unwrap().batch,
            Some(std::time::Duration::from_secs(120))
        );
    }

    #[test]
    fn bad_ladders_name_line_and_field() {
        let e = errors(&format!(
            "{FORGE}{}{}",
            env("dev", ""),
            env("prod", "promote_from = \"stg\"\n")
        ));
        assert_eq!(
            e,
            [
                "hoist.toml:13: environment[1].promote_from: environment \"prod\": promote_from names unknown environment \"stg\""
            ]
        );
        let e = errors(&format!(
            "{FORGE}{}{}",
            env("a", "promote_from = \"b\"\n"),
            env("b", "promote_from = \"a\"\n")
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("promote_from forms a cycle: a → b → a"),
            "{e:?}"
        );
        let e = errors(&format!(
            "{FORGE}{}{}",
            env("dev", ""),
            env(
                "stg",
                "promote_from = \"dev\"\ntag_rewrite = { from = '^dev-(?P<sha>\\w+)$', to = 'stg-$commit' }\n"
            )
        ));
        assert!(
            e[0].contains("tag_rewrite: to \"stg-$commit\" names group \"commit\", which from \"^dev-(?P<sha>\\\\w+)$\" does not have"),
            "{e:?}"
        );
        let e = errors(&format!(
            "{FORGE}{}{}",
            env("dev", ""),
            "\n[[environment]]\nname = \"other\"\npaths = [\"clusters/dev/**\"]\n"
        ));
        assert!(
            e[0].contains(
                "environments \"dev\" and \"other\" both claim paths \"clusters/dev/**\""
            ),
            "{e:?}"
        );
        let e = errors(&env("dev", "mode = \"auto-merge\"\n"));
        assert!(e[0].contains("needs a [forge] section"), "{e:?}");
        let e = errors(&format!(
            "{FORGE}{}",
            env("dev", "mode = \"yolo\"\nrequire_same_digest = true\n")
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("hoist.toml:9: environment[0].mode: environment \"dev\": mode \"yolo\" is not one of push, auto-merge, pull-request"), "{e:?}");
        assert!(
            e[1].contains("require_same_digest only applies to a promotion"),
            "{e:?}"
        );
        let e = errors("[forge]\nkind = \"gitea\"\nrepository = \"a\"\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains(
            "hoist.toml:2: forge.kind: \"gitea\" is not one of github, azure-devops, gitlab"
        ));
        assert!(e[1].contains("forge.repository: \"a\" should be owner/repo"));
        let e = errors("[forge]\nkind = \"azure-devops\"\nrepository = \"org/repo\"\n");
        assert!(e[0].contains("should be org/project/repo"), "{e:?}");
        let e = errors(&format!("{FORGE}{}", env("a b", "")));
        assert!(e[0].contains("usable in a branch name"), "{e:?}");
    }
}
