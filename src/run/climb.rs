//! `hoist run`'s loop: every rung of the ladder in order, each landing its
//! change the way its mode says.
//!
//! - `push`: a compare-and-swap commit on the base branch.
//! - `auto-merge`: a commit on the bot branch `hoist/<env>`, a pull request
//!   from it, and a merge (the forge's auto-merge, or a merge at once when
//!   the pull request is already mergeable).
//! - `pull-request`: the same pull request, left for a human.
//!
//! Every step is idempotent, so a rerun (or a run racing another) converges:
//! the bot branch is only pushed when its change differs
//! ([`Session::propose`]), a pull request is found before one is opened
//! and the forge's "already exists" answer is taken as "use that one", a
//! title or body is only written when it differs, and a status only when
//! the head lacks it. A pull request whose change the base branch no longer
//! needs is closed with a comment.
//!
//! A promotion reads its source rung from the base branch as the rungs
//! before it left it: a push or a merge lands before the next rung plans.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::ladder::ForgeKind;
use crate::core::diag::Diag;
use crate::decide::ladder::body;
use crate::decide::ladder::{Ladder, Mode, Rung, RungPlan};
use crate::propose::forge::{self, Forge, Merge, NewPull, Status, StatusState};
use crate::run::session::{Failure, Outcome, Report, Scope, Session};

/// What one rung of `hoist run` did.
#[derive(Debug)]
pub enum Climbed {
    Done {
        report: Box<Report>,
        actions: Vec<Action>,
    },
    Failed(Failure),
    /// Not attempted, and why.
    NotRun(String),
    /// On hold (`/hoist hold <env>`): automatic changes wait.
    Held,
    /// A gate (freeze, reconcile, soak) keeps it where it is, and why.
    Gated(String),
    /// Left for the next run: the run's request budget is spent.
    Deferred(String),
    /// Changes are pending, and its batching window (`batch = "2m"`) is
    /// open until `until` (seconds since the epoch): what else arrives by
    /// then lands with them, as one commit or pull request update.
    Batched {
        until: i64,
        window: std::time::Duration,
    },
}

/// The batching clock `batch = "2m"` reads (`hoist serve` keeps one per
/// fleet; a one-shot `hoist run` has none and lands what it finds).
pub trait Batching {
    /// `key` (a rung, or `rung/image`) has changes pending at `now`: when
    /// its window, opened by the first run that saw them, closes —
    /// `Some(until)` while that is still ahead.
    fn wait(&self, key: &str, window: std::time::Duration, now: i64) -> Option<i64>;
    /// `key` has nothing pending, or just landed it: its window ends.
    fn close(&self, key: &str);
}

impl Climbed {
    /// Did the rung fail, block an image, or not run?
    pub fn is_problem(&self) -> bool {
        match self {
            Climbed::Done { report, .. } => report.diags.iter().any(Diag::is_error),
            Climbed::Failed(_) | Climbed::NotRun(_) => true,
            Climbed::Held | Climbed::Gated(_) | Climbed::Deferred(_) | Climbed::Batched { .. } => {
                false
            }
        }
    }
}

/// What hoist did on the forge for a rung.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    Opened {
        number: u64,
        url: String,
        branch: String,
    },
    Updated {
        number: u64,
        url: String,
    },
    Unchanged {
        number: u64,
        url: String,
    },
    Merged {
        number: u64,
    },
    AutoMerge {
        number: u64,
    },
    AwaitingReview {
        number: u64,
        url: String,
    },
    Closed {
        number: u64,
        reason: String,
    },
    Status {
        sha: String,
        context: String,
        description: String,
    },
}

impl Action {
    /// The action in `kind`'s words: a merge request is `!N` on GitLab,
    /// a pull request `#N` elsewhere.
    pub fn describe(&self, kind: ForgeKind) -> String {
        let pr = |n: &u64| request_ref(kind, *n);
        match self {
            Action::Opened {
                number,
                url,
                branch,
            } => format!("opened {} from {branch} ({url})", pr(number)),
            Action::Updated { number, url } => format!("updated {} ({url})", pr(number)),
            Action::Unchanged { number, url } => format!("{} is up to date ({url})", pr(number)),
            Action::Merged { number } => format!("merged {}", pr(number)),
            Action::AutoMerge { number } => {
                format!("{} merges itself once its checks pass", pr(number))
            }
            Action::AwaitingReview { number, url } => {
                format!("{} awaits review ({url})", pr(number))
            }
            Action::Closed { number, reason } => format!("closed {}: {reason}", pr(number)),
            Action::Status {
                sha,
                context,
                description,
            } => format!(
                "status {context} on {}: {description}",
                &sha[..sha.len().min(7)]
            ),
        }
    }
}

/// The ladder's forge (GitHub's words when it has none).
pub fn forge_kind(ladder: &Ladder) -> ForgeKind {
    ladder.forge.as_ref().map_or(ForgeKind::Github, |f| f.kind)
}

/// `text` in `kind`'s words: on GitLab, pull requests are merge requests
/// and `#3` is `!3`.
pub fn in_words(kind: ForgeKind, text: &str) -> String {
    match kind {
        ForgeKind::Gitlab => text
            .replace("pull request", "merge request")
            .replace("Pull request", "Merge request")
            .replace("merge request #", "merge request !"),
        _ => text.to_string(),
    }
}

/// `pull request #3`, or GitLab's `merge request !3`.
pub fn request_ref(kind: ForgeKind, number: u64) -> String {
    in_words(
        kind,
        &format!("pull request {}", request_number(kind, number)),
    )
}

/// `#3`, or GitLab's `!3`.
pub fn request_number(kind: ForgeKind, number: u64) -> String {
    match kind {
        ForgeKind::Gitlab => format!("!{number}"),
        _ => format!("#{number}"),
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(ForgeKind::Github))
    }
}

/// The branch a rung's pull request comes from: `hoist/<env>`, or with
/// one pull request per image `hoist/<env>/<image path>` (the image name
/// without its registry host).
pub fn bot_branch(rung: &Rung, image: Option<&str>) -> String {
    match image {
        None => format!("hoist/{}", rung.name),
        Some(image) => {
            let path = match image.split_once('/') {
                Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
                _ => image,
            };
            format!("hoist/{}/{path}", rung.name)
        }
    }
}

/// Forge clients, opened on first use, one per repository.
pub struct Forges<'a> {
    ladder: &'a Ladder,
    open: HashMap<String, Box<dyn Forge>>,
}

impl<'a> Forges<'a> {
    pub fn new(ladder: &'a Ladder) -> Forges<'a> {
        Forges {
            ladder,
            open: HashMap::new(),
        }
    }

    pub fn get(&mut self, repository: Option<&str>) -> forge::Result<Option<&dyn Forge>> {
        let Some(cfg) = &self.ladder.forge else {
            return Ok(None);
        };
        let key = repository.unwrap_or(&cfg.repository).to_string();
        if !self.open.contains_key(&key) {
            let client = forge::open(cfg, repository)?;
            self.open.insert(key.clone(), client);
        }
        Ok(self.open.get(&key).map(|b| &**b))
    }
}

/// Where the fleet is, as the forge reports it.
#[derive(Debug, Clone)]
struct Located {
    pub url: String,
    /// The forge's default branch (none for `[git] url`).
    pub branch: Option<String>,
    /// The forge's token variable, for Git over HTTPS too.
    pub token_env: Option<String>,
    pub auth: Option<crate::config::GitAuth>,
}

/// The repository `hoist run` works on when given neither a checkout nor
/// a URL: the clone URL and default branch the forge reports for
/// `[forge] repository` (GitHub `clone_url`, Azure DevOps `remoteUrl`),
/// else `[git] url`. `None` with neither.
fn locate(cfg: &crate::config::Config) -> forge::Result<Option<Located>> {
    let Some(f) = &cfg.ladder.forge else {
        return Ok(cfg.git.url.clone().map(|url| Located {
            url,
            branch: None,
            token_env: None,
            auth: None,
        }));
    };
    let info = forge::open(f, None)?.repository()?;
    if info.clone_url.is_empty() {
        return Err(forge::Error::new(format!(
            "the forge reports no clone URL for {}",
            f.repository
        )));
    }
    let (token_env, auth) = match &f.auth {
        Some(crate::config::ladder::ForgeAuth::Token { env }) => (
            Some(env.clone()),
            Some(match f.kind {
                ForgeKind::Github => crate::config::GitAuth::Github,
                ForgeKind::AzureDevops => crate::config::GitAuth::AzureDevops,
                ForgeKind::Gitlab => crate::config::GitAuth::Gitlab,
            }),
        ),
        _ => (None, None),
    };
    Ok(Some(Located {
        url: info.clone_url,
        branch: Some(info.default_branch).filter(|b| !b.is_empty()),
        token_env,
        auth,
    }))
}

/// Where a run works when it has no `--url`: a checkout at `dir` stays
/// as it is; otherwise the forge (or `[git] url`) from the hoist.toml at
/// `dir` or `config` names the repository, its default branch, and the
/// token Git uses (unless `[git]` or the caller chose). With none of them,
/// nothing changes (opening the checkout then says what is missing).
pub fn settle_repository(
    dir: &std::path::Path,
    config: Option<&std::path::Path>,
    state_dir: Option<std::path::PathBuf>,
    repository: &mut crate::run::session::Repository,
    overrides: &mut crate::run::session::Overrides,
) -> Result<(), Vec<Diag>> {
    if dir.join(".git").exists() {
        return Ok(());
    }
    let cfg = crate::config::load(dir, config)?;
    settle_from_config(
        &cfg,
        &dir.display().to_string(),
        state_dir,
        repository,
        overrides,
    )
}

/// [`settle_repository`] for a loaded configuration (`hoist serve`):
/// `where_` names what was not a checkout, for messages.
pub fn settle_from_config(
    cfg: &crate::config::Config,
    where_: &str,
    state_dir: Option<std::path::PathBuf>,
    repository: &mut crate::run::session::Repository,
    overrides: &mut crate::run::session::Overrides,
) -> Result<(), Vec<Diag>> {
    let found = locate(cfg).map_err(|e| {
        vec![Diag::error(format!(
            "no --url and {where_} is not a Git checkout; asking the forge for the repository failed: {e}"
        ))]
    })?;
    let Some(found) = found else {
        return Ok(());
    };
    tracing::info!(url = %found.url, "the configuration names the repository");
    *repository = crate::run::session::Repository::Url {
        url: found.url,
        state_dir: state_dir.unwrap_or_else(crate::persist::cache::default_state_dir),
    };
    if overrides.branch.is_none() && cfg.git.branch.is_none() {
        overrides.branch = found.branch;
    }
    if overrides.token_env.is_none() && cfg.git.token_env.is_none() {
        overrides.token_env = found.token_env;
        overrides.auth = overrides.auth.or(found.auth);
    }
    Ok(())
}

/// hoist's open pull requests on the ladder's forge, with the environment
/// each belongs to (from its branch, `hoist/<env>[/<image>]`).
pub fn open_pulls(ladder: &Ladder) -> forge::Result<Vec<(String, forge::PullRequest)>> {
    let mut forges = Forges::new(ladder);
    let Some(f) = forges.get(None)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pr in f.list_open("hoist/")? {
        let rest = pr.head_branch.trim_start_matches("hoist/");
        if let Some(rung) = ladder
            .rungs
            .iter()
            .find(|r| rest == r.name || rest.starts_with(&format!("{}/", r.name)))
        {
            out.push((rung.name.clone(), pr));
        }
    }
    Ok(out)
}

/// Climb `ladder` on `session`'s repository (and the repositories rungs
/// name). One entry per rung, or per rung and image for `group = "image"`
/// (named `env/image`).
pub fn climb(session: &mut Session, ladder: &Ladder) -> Vec<(String, Climbed)> {
    climb_until(session, ladder, &|| false, None)
}

/// [`climb`], stopping before the next rung once `stop` says so (the bot
/// shutting down): a rung is never cut short, and the rungs left out are
/// `NotRun`, done by the next run since every rung converges. With a
/// `clock`, rungs with a `batch` window wait for it (see [`Batching`]).
pub fn climb_until(
    session: &mut Session,
    ladder: &Ladder,
    stop: &dyn Fn() -> bool,
    clock: Option<&dyn Batching>,
) -> Vec<(String, Climbed)> {
    let mut forges = Forges::new(ladder);
    // Which images each rung has markers for (group = "image"); the
    // markers do not move during a run.
    let mut images = rung_images(session);
    let config = session.config();
    let mut siblings: HashMap<String, Session> = HashMap::new();
    let mut out = Vec::new();
    // `[forge] max_requests_per_run`: counted on this thread, where the
    // run's forge calls are made; checked between rungs and images, so a
    // run ends at most one pull request's calls past it.
    let budget = ladder.forge.as_ref().and_then(|f| f.max_requests_per_run);
    let started = crate::core::requests::forge_on_this_thread();
    let spent = || {
        let max = budget?;
        let used = crate::core::requests::forge_on_this_thread() - started;
        (used >= max).then(|| {
            format!(
                "deferred to the next run: {used} forge requests made, max_requests_per_run = {max}"
            )
        })
    };
    // Held rungs keep what they run; an unreadable hold list holds nothing
    // back but is reported.
    let held = match session.holds() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = ?e, "cannot read the holds; climbing all rungs");
            Default::default()
        }
    };
    for rung in &ladder.rungs {
        if held.contains_key(&rung.name) {
            out.push((rung.name.clone(), Climbed::Held));
            continue;
        }
        if stop() {
            out.push((
                rung.name.clone(),
                Climbed::NotRun("hoist is shutting down".into()),
            ));
            continue;
        }
        if let Some(why) = spent() {
            out.push((rung.name.clone(), Climbed::Deferred(why)));
            continue;
        }
        match gate_for(&mut forges, ladder, rung) {
            Ok(None) => {}
            Ok(Some(why)) => {
                out.push((rung.name.clone(), Climbed::Gated(why)));
                continue;
            }
            Err(e) => {
                out.push((rung.name.clone(), Climbed::Failed(forge_failure(e))));
                continue;
            }
        }
        // A rung in another repository works on a session of its own.
        if let Some(repo) = &rung.repository
            && !siblings.contains_key(repo)
        {
            match open_sibling(session, &mut forges, repo, config.as_ref()) {
                Ok(s) => {
                    images.extend(rung_images(&s));
                    siblings.insert(repo.clone(), s);
                }
                Err(c) => {
                    out.push((rung.name.clone(), c));
                    continue;
                }
            }
        }
        // A source rung in another repository: read what it runs there.
        let source_rung = rung.promote_from.as_deref().and_then(|s| ladder.rung(s));
        let source = match source_rung {
            Some(src) if src.repository != rung.repository => {
                let holder = match &src.repository {
                    None => Some(&*session),
                    Some(r) => siblings.get(r),
                };
                match holder.map(|h| h.rung_runs(&src.name)) {
                    Some(Ok(runs)) => Some(runs),
                    Some(Err(f)) => {
                        out.push((rung.name.clone(), Climbed::Failed(f)));
                        continue;
                    }
                    None => {
                        out.push((
                            rung.name.clone(),
                            Climbed::NotRun(format!(
                                "its source {:?} lives in a repository hoist could not open",
                                src.name
                            )),
                        ));
                        continue;
                    }
                }
            }
            _ => None,
        };
        let here: &mut Session = match &rung.repository {
            None => &mut *session,
            Some(r) => match siblings.get_mut(r) {
                Some(s) => s,
                None => continue,
            },
        };
        let per_image =
            rung.mode != Mode::Push && rung.group == crate::decide::ladder::Group::Image;
        if per_image {
            here.prefetch(&format!("{}/", bot_branch(rung, None)));
            for image in images.get(&rung.name).cloned().unwrap_or_default() {
                if let Some(why) = spent() {
                    out.push((format!("{}/{image}", rung.name), Climbed::Deferred(why)));
                    continue;
                }
                let scope = Scope::Rung {
                    name: rung.name.clone(),
                    image: Some(image.clone()),
                    source: source.clone(),
                };
                let key = format!("{}/{image}", rung.name);
                let c = match batched(here, rung, &scope, Some(&image), &key, clock) {
                    Ok(Some(waits)) => waits,
                    Ok(None) => land(here, &mut forges, ladder, rung, &scope, Some(&image)),
                    Err(f) => Climbed::Failed(f),
                };
                out.push((key, c));
            }
        } else {
            let scope = Scope::Rung {
                name: rung.name.clone(),
                image: None,
                source,
            };
            let c = match batched(here, rung, &scope, None, &rung.name, clock) {
                Ok(Some(waits)) => waits,
                Ok(None) => land(here, &mut forges, ladder, rung, &scope, None),
                Err(f) => Climbed::Failed(f),
            };
            out.push((rung.name.clone(), c));
        }
    }
    out
}

/// `batch`: `Some(Batched)` while `rung` (or its `image`) has changes
/// pending inside its open window; `None`: land now (nothing pending, no
/// window, or it closed). Landing closes the window, so the next change
/// opens a new one.
fn batched(
    session: &Session,
    rung: &Rung,
    scope: &Scope,
    image: Option<&str>,
    key: &str,
    clock: Option<&dyn Batching>,
) -> Result<Option<Climbed>, Failure> {
    let (Some(window), Some(clock)) = (rung.batch, clock) else {
        return Ok(None);
    };
    let branch = (rung.mode != Mode::Push).then(|| bot_branch(rung, image));
    if !session.pending(scope, branch.as_deref())? {
        clock.close(key);
        return Ok(None);
    }
    match clock.wait(key, window, crate::core::time::now()) {
        Some(until) => Ok(Some(Climbed::Batched { until, window })),
        None => {
            clock.close(key);
            Ok(None)
        }
    }
}

/// The images each rung of `session`'s repository has markers for.
fn rung_images(session: &Session) -> HashMap<String, Vec<String>> {
    session
        .preview_ladder()
        .map(|(plans, _)| {
            plans
                .into_iter()
                .filter(|p| !p.runs.is_empty())
                .map(|p| (p.rung, p.runs.into_keys().collect()))
                .collect()
        })
        .unwrap_or_default()
}

/// Open the repository `repo` names on the forge, governed by the main
/// repository's configuration.
fn open_sibling(
    main: &Session,
    forges: &mut Forges<'_>,
    repo: &str,
    config: Result<&crate::config::Config, &Failure>,
) -> Result<Session, Climbed> {
    let config = config.map_err(|_| {
        Climbed::NotRun("the main repository's hoist.toml could not be read".into())
    })?;
    let f = match forges.get(Some(repo)) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(Climbed::NotRun(format!(
                "repository {repo:?} needs [forge] in hoist.toml"
            )));
        }
        Err(e) => return Err(Climbed::Failed(forge_failure(e))),
    };
    let info = f
        .repository()
        .map_err(|e| Climbed::Failed(forge_failure(e)))?;
    main.open_sibling(&info.clone_url, Some(&info.default_branch), config)
        .map_err(Climbed::Failed)
}

/// One line for what a rung did.
pub fn summarize(c: &Climbed) -> String {
    summarize_on(c, ForgeKind::Github)
}

/// [`summarize`] in `kind`'s words (GitLab's merge requests).
pub fn summarize_on(c: &Climbed, kind: ForgeKind) -> String {
    in_words(kind, &summary(c, kind))
}

fn summary(c: &Climbed, kind: ForgeKind) -> String {
    match c {
        Climbed::NotRun(why) => format!("not run: {why}"),
        Climbed::Held => "on hold; `/hoist release` resumes it".to_string(),
        Climbed::Gated(why) => format!("waits: {why}"),
        Climbed::Deferred(why) => why.clone(),
        Climbed::Batched { until, window } => format!(
            "batching: lands at {} with whatever else arrives by then (batch = {})",
            crate::core::time::clock(*until),
            crate::core::time::human(window.as_secs())
        ),
        Climbed::Failed(f) => format!("failed: {}", f.text()),
        Climbed::Done { report, actions } => {
            let mut parts = vec![report.outcome.to_string()];
            parts.extend(
                actions
                    .iter()
                    .filter(|a| !matches!(a, Action::Status { .. }))
                    .map(|a| a.describe(kind)),
            );
            let errors: Vec<String> = report
                .diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.message.clone())
                .collect();
            if !errors.is_empty() {
                parts.push(format!("blocked: {}", errors.join("; ")));
            }
            parts.join("; ")
        }
    }
}

/// Land `scope` on `rung` the way its mode says: a push, or a pull request
/// (merged at once for `auto-merge`). `image` names the pull request's
/// image for `group = "image"`.
pub fn land(
    session: &mut Session,
    forges: &mut Forges<'_>,
    ladder: &Ladder,
    rung: &Rung,
    scope: &Scope,
    image: Option<&str>,
) -> Climbed {
    match rung.mode {
        Mode::Push => push_rung(session, forges, rung, scope),
        Mode::AutoMerge | Mode::PullRequest => propose_rung(
            session,
            forges,
            ladder,
            rung,
            scope,
            &bot_branch(rung, image),
        ),
    }
}

/// Hold (`on`) or release each of `envs`; the ones that changed. Stops at
/// the first failure (those before it stay as set: rerunning converges).
pub fn set_holds<'e>(
    session: &Session,
    envs: &[&'e str],
    on: bool,
) -> Result<Vec<&'e str>, Failure> {
    let mut changed = Vec::new();
    for env in envs {
        if session.set_hold(env, on)? {
            changed.push(*env);
        }
    }
    Ok(changed)
}

/// What gate keeps `rung` from moving now, if any.
pub fn gate_for(
    forges: &mut Forges<'_>,
    ladder: &Ladder,
    rung: &Rung,
) -> forge::Result<Option<String>> {
    let source_repo = rung
        .promote_from
        .as_deref()
        .and_then(|s| ladder.rung(s))
        .and_then(|s| s.repository.clone());
    let needs_forge = rung.require_reconciled || rung.soak.is_some();
    let f = if needs_forge {
        forges.get(source_repo.as_deref())?
    } else {
        None
    };
    crate::propose::gate::blocked(f, ladder, rung, crate::core::time::now())
}

/// Land `scope` from `branch` the way `rung`'s mode says (a push lands
/// on the base branch itself).
pub fn land_on(
    session: &mut Session,
    forges: &mut Forges<'_>,
    ladder: &Ladder,
    rung: &Rung,
    scope: &Scope,
    branch: &str,
) -> Climbed {
    match rung.mode {
        Mode::Push => push_rung(session, forges, rung, scope),
        Mode::AutoMerge | Mode::PullRequest => {
            propose_rung(session, forges, ladder, rung, scope, branch)
        }
    }
}

/// Land `scope` as a pull request for review from `branch`, whatever
/// `rung`'s mode (rollbacks a person asked for: a person merges them).
pub fn land_for_review(
    session: &mut Session,
    forges: &mut Forges<'_>,
    ladder: &Ladder,
    rung: &Rung,
    scope: &Scope,
    branch: &str,
) -> Climbed {
    let mut rung = rung.clone();
    rung.mode = Mode::PullRequest;
    propose_rung(session, forges, ladder, &rung, scope, branch)
}

fn forge_failure(e: forge::Error) -> Failure {
    let d = vec![Diag::error(e.message())];
    if e.is_setup() {
        Failure::Setup(d)
    } else {
        Failure::Failed(d)
    }
}

fn push_rung(
    session: &mut Session,
    forges: &mut Forges<'_>,
    rung: &Rung,
    scope: &Scope,
) -> Climbed {
    let mut report = match session.commit(scope) {
        Ok(r) => r,
        Err(f) => return Climbed::Failed(f),
    };
    let mut actions = Vec::new();
    // A tip that is hoist's own commit for this rung may lack its status
    // (a run that crashed after pushing): describe it again from its parent.
    let repaired = match &report.outcome {
        Outcome::UpToDate { tip, .. } if ladder_has_forge(forges) => session
            .replan_own(scope, *tip, &rung.name)
            .map(|p| (*tip, p)),
        _ => None,
    };
    let target = match (&report.outcome, &report.plan) {
        (Outcome::Pushed { commit, .. }, Some(plan)) => Some((*commit, plan)),
        _ => repaired.as_ref().map(|(tip, plan)| (*tip, plan)),
    };
    // Nothing to push because images wait for their signatures: the tip
    // says so (once), as a pull-request rung's base does.
    if let (Outcome::UpToDate { tip, .. }, Some(plan)) = (&report.outcome, &report.plan)
        && let Some(st) = base_waiting_status(&format!("hoist/{}", rung.name), plan)
        && let Ok(Some(f)) = forges.get(None)
        && let Err(e) = ensure_status(f, &tip.to_string(), &st, &mut actions)
    {
        report.diags.push(Diag::warning(format!(
            "environment {:?}: the waiting status was not posted: {e}",
            rung.name
        )));
    }
    if let Some((commit, plan)) = target {
        let status = rung_status(rung, plan, None);
        let posted = forges.get(None).and_then(|f| match f {
            Some(f) => ensure_status(f, &commit.to_string(), &status, &mut actions),
            None => Ok(()),
        });
        if let Err(e) = posted {
            report.diags.push(Diag::error(format!(
                "environment {:?}: pushed, but the status was not posted: {e}",
                rung.name
            )));
        }
    }
    Climbed::Done {
        report: Box::new(report),
        actions,
    }
}

fn ladder_has_forge(forges: &Forges<'_>) -> bool {
    forges.ladder.forge.is_some()
}

/// The status of a rung's pull request head: success, or pending while
/// an image the rung would take waits for its signature.
fn rung_status(rung: &Rung, plan: &RungPlan, url: Option<&str>) -> Status {
    let line = body::status_line(rung, plan);
    let (state, description) = match waiting_line(plan) {
        Some(w) => (StatusState::Pending, format!("{line}; {w}")),
        None => (StatusState::Success, line),
    };
    Status {
        context: format!("hoist/{}", rung.name),
        state,
        description,
        target_url: url.map(str::to_string),
    }
}

/// `api:prod-1a2b3c4: waiting for a signature from …` for the first image
/// that waits (`(and 2 more)` for the rest); `None` when none does.
fn waiting_line(plan: &RungPlan) -> Option<String> {
    let waiting: Vec<_> = plan.blocked.iter().filter(|b| b.waits).collect();
    let first = waiting.first()?;
    let image = first.image.as_deref().unwrap_or(first.policy.as_str());
    let short = image.rsplit('/').next().unwrap_or(image);
    let more = match waiting.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    let reason = first
        .reason
        .strip_prefix(image)
        .map_or(first.reason.clone(), |rest| format!("{short}{rest}"));
    Some(format!("{reason}{more}"))
}

/// A rung with nothing to propose because its images wait (for their
/// signatures): `hoist/<env>` pending on the base tip, where a person
/// looking at the commit sees why the rung did not move. Named by the bot
/// branch (`hoist/prod`, or `hoist/prod/api` per image).
fn base_waiting_status(branch: &str, plan: &RungPlan) -> Option<Status> {
    let w = waiting_line(plan)?;
    Some(Status {
        context: branch.to_string(),
        state: StatusState::Pending,
        description: w,
        target_url: None,
    })
}

/// Post `status` on `sha` unless hoist's latest status there says the same.
pub fn ensure_status(
    f: &dyn Forge,
    sha: &str,
    status: &Status,
    actions: &mut Vec<Action>,
) -> forge::Result<()> {
    let description = forge::short_description(&status.description);
    let have = f.statuses(sha)?;
    let latest = have.iter().find(|s| s.context == status.context);
    if latest.is_some_and(|s| s.state == status.state && s.description == description) {
        return Ok(());
    }
    f.post_status(sha, status)?;
    actions.push(Action::Status {
        sha: sha.to_string(),
        context: status.context.clone(),
        description,
    });
    Ok(())
}

/// [`propose_once`], again (at most twice more) when another writer
/// changed the pull request meanwhile: the new plan sees what it did.
fn propose_rung(
    session: &mut Session,
    forges: &mut Forges<'_>,
    ladder: &Ladder,
    rung: &Rung,
    scope: &Scope,
    branch: &str,
) -> Climbed {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match propose_once(session, forges, ladder, rung, scope, branch) {
            Err(_) if attempt < 3 => {
                tracing::info!(env = %rung.name, "the pull request changed meanwhile; planning again");
                session.invalidate();
            }
            Err(c) | Ok(c) => return c,
        }
    }
}

/// One try at a pull-request rung; `Err` when a concurrent writer raced it.
fn propose_once(
    session: &mut Session,
    forges: &mut Forges<'_>,
    ladder: &Ladder,
    rung: &Rung,
    scope: &Scope,
    branch: &str,
) -> Result<Climbed, Climbed> {
    let f = match forges.get(rung.repository.as_deref()) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Ok(Climbed::NotRun(format!(
                "mode {:?} needs [forge] in hoist.toml",
                rung.mode
            )));
        }
        Err(e) => return Ok(Climbed::Failed(forge_failure(e))),
    };
    let branch = branch.to_string();
    let base = session.base_branch().to_string();
    let mut report = match session.propose(scope, &branch) {
        Ok(r) => r,
        Err(fail) => return Ok(Climbed::Failed(fail)),
    };
    let mut actions = Vec::new();
    // The base's report when it turned out to have the change already.
    let mut superseded: Option<Report> = None;
    let limits = body::Limits::of(ladder);
    let result = (|| -> forge::Result<()> {
        let head = match &report.outcome {
            Outcome::Pushed { commit, .. } => commit.to_string(),
            Outcome::Holds { head, .. } => head.to_string(),
            Outcome::UpToDate { tip, .. } => {
                let tip = tip.to_string();
                if let Some(plan) = report.plan.as_ref()
                    && let Some(st) = base_waiting_status(&branch, plan)
                {
                    ensure_status(f, &tip, &st, &mut actions)?;
                }
                if let Some(pr) = f.find_open(&branch, &base)?
                    && still_not_needed(session, scope, &branch)
                {
                    let reason = format!(
                        "{base} already has what this pull request proposed (merged by hand, or superseded)"
                    );
                    f.close(&pr, &format!("hoist: {reason}; closing it."))?;
                    session.invalidate();
                    actions.push(Action::Closed {
                        number: pr.number,
                        reason,
                    });
                }
                return Ok(());
            }
            Outcome::Suspended => return Ok(()),
        };
        let Some(plan) = report.plan.as_ref() else {
            return Ok(());
        };
        let fresh = matches!(report.outcome, Outcome::Pushed { .. });
        let existing = f.find_open(&branch, &base)?;
        // An open pull request whose record already says exactly this
        // change needs no new text: no changelog calls, no update.
        let same_change = existing.as_ref().is_some_and(|pr| {
            body::parse_record(&pr.body).is_some_and(|r| {
                r.complete && r.environment == rung.name && r.changes == body::record(plan)
            })
        });
        let text = match &existing {
            Some(_) if same_change => None,
            _ => {
                let mut extra = changelog(f, ladder, rung, plan);
                match scope {
                    Scope::Promotion {
                        forced: Some(why), ..
                    } => extra = format!("> [!WARNING]\n> {why}\n\n{extra}"),
                    Scope::Restore { note: Some(n), .. } => {
                        extra = format!("> [!CAUTION]\n> {n}\n\n{extra}")
                    }
                    _ => {}
                }
                let (title, text) = body::render_with(rung, plan, limits, &extra);
                match &existing {
                    Some(pr) if pr.title == title && pr.body == text => None,
                    _ => Some((title, text)),
                }
            }
        };
        // The status goes first: a pull request that exists unchanged on
        // an unmoved head therefore already has it (a crash in between
        // leaves the pull request unwritten, and the next run posts both).
        let status = rung_status(rung, plan, existing.as_ref().map(|p| p.url.as_str()));
        if fresh {
            f.post_status(&head, &status)?;
            actions.push(Action::Status {
                sha: head.clone(),
                context: status.context.clone(),
                description: forge::short_description(&status.description),
            });
        } else if existing.is_none() || text.is_some() {
            ensure_status(f, &head, &status, &mut actions)?;
        }
        let mut pr = match (existing, text) {
            (Some(pr), None) => {
                actions.push(Action::Unchanged {
                    number: pr.number,
                    url: pr.url.clone(),
                });
                pr
            }
            (Some(pr), Some((title, text))) => {
                let pr = f.update(&pr, &title, &text)?;
                actions.push(Action::Updated {
                    number: pr.number,
                    url: pr.url.clone(),
                });
                pr
            }
            (None, text) => {
                // The bot branch holds this change but no pull request is
                // open: a crash after the push, or a concurrent run that
                // merged it a moment ago. Plan once more on the base's
                // newest tip before opening one again.
                if !fresh {
                    session.invalidate();
                    if let Ok(r) = session.propose(scope, &branch)
                        && matches!(r.outcome, Outcome::UpToDate { .. })
                    {
                        superseded = Some(r);
                        return Ok(());
                    }
                }
                // A replica of an auto-merging rung may have merged this
                // very change after this run planned (and deleted the
                // branch this run then pushed again): its merge is not
                // under this run's commit. Plan again instead of opening a
                // second pull request.
                let merged_elsewhere = |f: &dyn Forge| -> forge::Result<Option<u64>> {
                    let Some(plan) = report.plan.as_ref() else {
                        return Ok(None);
                    };
                    let mine = body::record(plan);
                    let merged = f.find_merged(&branch, &base)?.into_iter().find(|p| {
                        !p.merge_commit.is_empty()
                            && body::parse_record(&p.body)
                                .is_some_and(|r| r.environment == rung.name && r.changes == mine)
                    });
                    Ok(match merged {
                        Some(p) if !f.is_ancestor(&p.merge_commit, &head)? => Some(p.number),
                        _ => None,
                    })
                };
                if rung.mode == Mode::AutoMerge && merged_elsewhere(f)?.is_some() {
                    session.invalidate();
                    superseded = session.propose(scope, &branch).ok();
                    return Ok(());
                }
                let (title, text) = text.unwrap_or_default();
                let pr = f.create(&NewPull {
                    head: &branch,
                    base: &base,
                    title: &title,
                    body: &text,
                    labels: &rung.labels,
                    reviewers: &rung.reviewers,
                })?;
                let opened = pr.title == title && pr.body == text;
                // Not this run's push: a replica may have merged the same
                // change between the look above and `create` (its pull
                // request was gone by then, so `create` opened a second).
                // Look once more now that any such merge is visible, and
                // close the duplicate instead of merging the change twice.
                if opened
                    && !fresh
                    && rung.mode == Mode::AutoMerge
                    && let Some(n) = merged_elsewhere(f)?
                {
                    f.close(
                        &pr,
                        &format!("A concurrent run of hoist merged this same change in #{n}; closing this duplicate."),
                    )?;
                    session.invalidate();
                    superseded = session.propose(scope, &branch).ok();
                    return Ok(());
                }
                // `create` hands back a concurrent run's pull request when
                // one beat it: "opened" only if it carries this text.
                if opened {
                    actions.push(Action::Opened {
                        number: pr.number,
                        url: pr.url.clone(),
                        branch: branch.clone(),
                    });
                    pr
                } else {
                    let pr = f.update(&pr, &title, &text)?;
                    actions.push(Action::Updated {
                        number: pr.number,
                        url: pr.url.clone(),
                    });
                    pr
                }
            }
        };
        // The wait is over: a `hoist/<env>` pending on the base tip (no
        // pull request then) says so now. Only rungs that verify can have
        // posted one; asked only when the pull request was written.
        let wrote = matches!(
            actions.last(),
            Some(Action::Opened { .. } | Action::Updated { .. })
        );
        if wrote
            && !rung.verify.0.is_empty()
            && waiting_line(plan).is_none()
            && let Some(tip) = session.parent_of(&head)
            && f.statuses(&tip)?
                .iter()
                .find(|s| s.context == branch)
                .is_some_and(|s| s.state == StatusState::Pending)
        {
            let done = Status {
                context: branch.clone(),
                state: StatusState::Success,
                description: format!(
                    "no longer waiting: {}",
                    request_ref(forge_kind(ladder), pr.number)
                ),
                target_url: Some(pr.url.clone()),
            };
            f.post_status(&tip, &done)?;
            actions.push(Action::Status {
                sha: tip,
                context: done.context.clone(),
                description: done.description,
            });
        }
        // The forge may not have caught up with the push yet: merge what
        // hoist pushed.
        pr.head_sha = head.clone();
        match rung.mode {
            Mode::AutoMerge => match f.merge(&pr, rung.merge_method)? {
                Merge::Merged { .. } => {
                    session.moved(&[&base, &branch]);
                    actions.push(Action::Merged { number: pr.number })
                }
                Merge::Scheduled => actions.push(Action::AutoMerge { number: pr.number }),
                Merge::Refused(why) => report.diags.push(Diag::error(format!(
                    "environment {:?}: {} was not merged: {why}",
                    rung.name,
                    request_ref(forge_kind(ladder), pr.number)
                ))),
            },
            Mode::PullRequest => actions.push(Action::AwaitingReview {
                number: pr.number,
                url: pr.url.clone(),
            }),
            Mode::Push => {}
        }
        Ok(())
    })();
    if let Some(r) = superseded {
        report = r;
    }
    let raced = matches!(&result, Err(e) if e.is_raced());
    if let Err(e) = result {
        report.diags.push(Diag::error(format!(
            "environment {:?}: {}",
            rung.name,
            e.message()
        )));
    }
    let done = Climbed::Done {
        report: Box::new(report),
        actions,
    };
    if raced { Err(done) } else { Ok(done) }
}

/// Before closing a pull request as no longer needed, plan once more on
/// the base branch's newest tip: a run racing this one may have just moved
/// the rung below, making the pull request needed after all.
fn still_not_needed(session: &mut Session, scope: &Scope, branch: &str) -> bool {
    session.invalidate();
    matches!(
        session.propose(scope, branch).map(|r| r.outcome),
        Ok(Outcome::UpToDate { .. })
    )
}

/// The source-commit section of a body: per promoted image with a
/// `[source_repository]`, a link to the commit it was built from and the
/// commits since the build this rung ran before (the forge's compare API;
/// a compare link when it cannot list them).
fn changelog(f: &dyn Forge, ladder: &Ladder, rung: &Rung, plan: &RungPlan) -> String {
    const MAX_LINES: usize = 20;
    let mut out = String::new();
    for p in &plan.promotions {
        let Some(new) = &p.source_commit else {
            continue;
        };
        let Some(src) = ladder.sources.get(&p.image) else {
            out.push_str(&format!(
                "`{}` is built from commit `{new}` (set `[source_repository]` for a link and changelog).\n",
                p.image
            ));
            continue;
        };
        // From a tag in the repository: cut by characters, never by bytes.
        let short: String = new.chars().take(12).collect();
        out.push_str(&format!(
            "`{}` is built from [`{short}`]({}) of {src}.\n",
            p.image,
            f.commit_url(src, new)
        ));
        let old = plan
            .runs
            .get(&p.image)
            .and_then(|(was, _)| old_commit(rung, was));
        let Some(old) = old.filter(|o| o != new) else {
            continue;
        };
        let link = f.compare_url(src, &old, new);
        match f.compare(src, &old, new) {
            Ok(Some(commits)) if !commits.is_empty() => {
                out.push_str(&format!("\nChanges since `{old}` ([compare]({link})):\n\n"));
                for c in commits.iter().rev().take(MAX_LINES) {
                    // The forge's text: cut by characters, never by bytes.
                    let short: String = c.sha.chars().take(7).collect();
                    out.push_str(&format!("- `{short}` {} ({})\n", c.title, c.author));
                }
                if commits.len() > MAX_LINES {
                    out.push_str(&format!("- … and {} more\n", commits.len() - MAX_LINES));
                }
            }
            Ok(_) => out.push_str(&format!("Changes: [{old}…{new}]({link})\n")),
            Err(e) => {
                tracing::warn!(error = %e, "no changelog; linking the comparison instead");
                out.push_str(&format!("Changes: [{old}…{new}]({link})\n"));
            }
        }
    }
    out
}

/// The commit a tag this rung ran was built from: the `sha` group of the
/// rung's `tag_rewrite.from` when the tag matches it; else, read back
/// through `tag_rewrite.to` (a tag this rung got from a promotion, such as
/// `prod-$sha`), what stands where `$sha` was; else the first
/// `-`/`_`/`.`-separated part of 7–40 hex digits with a letter in it.
fn old_commit(rung: &Rung, tag: &str) -> Option<String> {
    let tag = tag.split('@').next().unwrap_or(tag);
    let rewrite = rung.tag_rewrite.as_ref();
    if let Some(sha) = rewrite.and_then(|r| r.group(tag, "sha")) {
        return Some(sha);
    }
    if let Some(sha) = rewrite.and_then(|r| through_template(&r.to_text, tag)) {
        return Some(sha);
    }
    tag.split(['-', '_', '.'])
        .find(|p| {
            (7..=40).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                && p.bytes().any(|b| b.is_ascii_alphabetic())
        })
        .map(str::to_string)
}

/// What `$sha` (or `${sha}`) stood for in `tag`, made from `template`.
/// Other groups match anything; the template is hoist.toml's, so small.
fn through_template(template: &str, tag: &str) -> Option<String> {
    let escaped = regex::escape(template);
    let mut pattern = String::from("^");
    let mut rest = escaped.as_str();
    let mut seen = false;
    while let Some(i) = rest.find("\\$") {
        pattern.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let (name, len) = if let Some(braced) = after.strip_prefix("\\{") {
            let end = braced.find("\\}")?;
            (&braced[..end], 2 + end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name == "sha" && !seen {
            pattern.push_str("(?P<sha>[0-9A-Za-z]+)");
            seen = true;
        } else {
            pattern.push_str(".*?");
        }
        rest = &after[len..];
    }
    pattern.push_str(rest);
    pattern.push('$');
    if !seen {
        return None;
    }
    let re = regex::Regex::new(&pattern).ok()?;
    re.captures(tag)?
        .name("sha")
        .map(|m| m.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_commits_from_tags() {
        let ladder = crate::config::parse(
            "[[environment]]\nname = \"dev\"\npaths = [\"d/**\"]\n[[environment]]\nname = \"staging\"\npaths = [\"s/**\"]\npromote_from = \"dev\"\ntag_rewrite = { from = '^dev-(?P<sha>[0-9a-f]{7})-\\d+$', to = 'staging-$sha' }\n",
            "hoist.toml",
        )
        .unwrap()
        .ladder;
        let staging = ladder.rung("staging").unwrap();
        assert_eq!(
            old_commit(staging, "dev-abc1234-7").as_deref(),
            Some("abc1234")
        );
        assert_eq!(
            old_commit(staging, "staging-abc1234").as_deref(),
            Some("abc1234")
        );
        assert_eq!(old_commit(staging, "v1.2.3"), None);
        // All digits: found through `to`, not by the fallback.
        assert_eq!(
            old_commit(staging, "staging-1234567").as_deref(),
            Some("1234567")
        );
        assert_eq!(
            through_template("${sha}.x-$sha", "ab.x-cd").as_deref(),
            Some("ab")
        );
        assert_eq!(through_template("v$1", "v2"), None);
        assert_eq!(old_commit(staging, "20240101-1234567"), None);
        assert_eq!(bot_branch(staging, None), "hoist/staging");
        assert_eq!(
            bot_branch(staging, Some("ghcr.io/acme/api")),
            "hoist/staging/acme/api"
        );
        assert_eq!(
            bot_branch(staging, Some("127.0.0.1:5000/api")),
            "hoist/staging/api"
        );
        assert_eq!(
            bot_branch(staging, Some("acme/api")),
            "hoist/staging/acme/api"
        );
    }
}
