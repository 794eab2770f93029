//! Committing a plan: settle the branches, identity, message and signing
//! from the ImageUpdateAutomation, hoist.toml and the caller's overrides,
//! then hand a pure "tree → proposal" function to [`crate::persist::workspace`].
//!
//! Everything `hoist apply` does short of printing, so the ladder and the
//! bot commit the same way.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Config, GitAuth};
use crate::core::diag::Diag;
use crate::decide::plan::{self, Objects};
use crate::flux::ImageUpdateAutomation;
use crate::observe::objects::ObjectsMemo;
use crate::observe::scan::obtain_tags;
use crate::persist::tree::{Identity, Snapshot};
use crate::persist::workspace::{self as persist, Done, Proposal, Source, Target, Workspace};
use crate::persist::{self as git, Credentials, ErrorKind, message};
use crate::template::Template;

/// Used when neither the automation nor hoist.toml names an author.
pub const DEFAULT_AUTHOR: (&str, &str) = ("hoist", "hoist@users.noreply.github.com");

/// Branches that hold environments: `hoist-hold/<env>`.
pub const HOLD_PREFIX: &str = "hoist-hold/";

/// Where the fleet repository is.
#[derive(Debug, Clone)]
pub enum Repository {
    /// A remote, kept as a bare clone under `state_dir` (the bot).
    Url { url: String, state_dir: PathBuf },
    /// A Git checkout (a CI job).
    Checkout { dir: PathBuf },
}

/// What the caller decides over the repository's own settings.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// hoist.toml to use instead of the repository's.
    pub config: Option<PathBuf>,
    /// Tags from this snapshot file instead of the registries.
    pub snapshot: Option<PathBuf>,
    pub branch: Option<String>,
    pub push_branch: Option<String>,
    /// Checkout mode: the remote to push to.
    pub remote: Option<String>,
    /// Only this ImageUpdateAutomation (`namespace/name`).
    pub automation: Option<String>,
    pub max_attempts: Option<u32>,
    /// Environment variable holding the HTTPS token.
    pub token_env: Option<String>,
    pub auth: Option<GitAuth>,
    /// Write nothing anywhere (previews): no registry tags are created.
    pub read_only: bool,
    /// `hoist apply`: automations that push to different branches each
    /// commit to their own instead of asking for `--automation`.
    pub each_automation: bool,
}

/// How a commit run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The automation is suspended: nothing was read or written.
    Suspended,
    UpToDate {
        branch: String,
        tip: gix::ObjectId,
    },
    Pushed {
        branch: String,
        commit: gix::ObjectId,
        attempts: u32,
        files: usize,
        changes: usize,
    },
    /// A bot branch already holds the change at `head` (nothing pushed).
    Holds {
        branch: String,
        head: gix::ObjectId,
    },
}

impl std::fmt::Display for Outcome {
    /// One line: `pushed 0123456789ab to main (2 changes, 1 file)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |id: &gix::ObjectId| id.to_string()[..12].to_string();
        let n = |k: usize, word: &str| {
            if k == 1 {
                format!("1 {word}")
            } else {
                format!("{k} {word}s")
            }
        };
        match self {
            Outcome::Suspended => f.write_str("suspended"),
            Outcome::UpToDate { branch, tip } => {
                write!(f, "{branch} is up to date at {}", short(tip))
            }
            Outcome::Holds { branch, head } => {
                write!(f, "{branch} already holds this change at {}", short(head))
            }
            Outcome::Pushed {
                branch,
                commit,
                changes,
                files,
                ..
            } => write!(
                f,
                "pushed {} to {branch} ({}, {})",
                short(commit),
                n(*changes, "change"),
                n(*files, "file")
            ),
        }
    }
}

/// A finished run: its outcome and everything reported on the way.
#[derive(Debug)]
pub struct Report {
    pub outcome: Outcome,
    /// Tag and planning diagnostics of the tree that was committed (or
    /// found up to date).
    pub diags: Vec<Diag>,
    /// Notes from Git (e.g. a checkout that could not be fast-forwarded).
    pub warnings: Vec<String>,
    /// The rung's plan on the last tree planned (ladder scopes only): what
    /// a pull request body and a status describe.
    pub plan: Option<crate::decide::ladder::RungPlan>,
}

/// Why a run stopped.
#[derive(Debug)]
pub enum Failure {
    /// Settings the repository cannot satisfy (exit 2): no such branch or
    /// remote, a bad template, an invalid push branch.
    Setup(Vec<Diag>),
    /// Git, the remote or the network failed (exit 1); `diags` holds what
    /// planning reported before.
    Failed(Vec<Diag>),
}

impl Failure {
    /// What went wrong, located.
    pub fn diags(&self) -> &[Diag] {
        match self {
            Failure::Setup(d) | Failure::Failed(d) => d,
        }
    }

    /// The diagnostics on one line (`file:line: field: message; …`), for
    /// logs and pull request replies.
    pub fn text(&self) -> String {
        self.diags()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn setup(d: Diag) -> Failure {
        Failure::Setup(vec![d])
    }

    fn git(e: git::Error, mut before: Vec<Diag>) -> Failure {
        before.push(Diag::error(e.message));
        match e.kind {
            ErrorKind::Setup => Failure::Setup(before),
            ErrorKind::Failed => Failure::Failed(before),
        }
    }
}

/// The config that applies to a snapshot: `--config FILE` when given, else
/// the snapshot's own `hoist.toml` (URL mode) or the checkout's.
enum ConfigSource {
    Fixed(Arc<Config>),
    /// The last text parsed, with its result: a run plans many trees and
    /// hoist.toml rarely changes between them.
    FromTree(RefCell<Option<(String, Arc<Config>)>>),
}

impl ConfigSource {
    fn for_snapshot(&self, snap: &Snapshot) -> Result<Arc<Config>, Vec<Diag>> {
        match self {
            ConfigSource::Fixed(c) => Ok(c.clone()),
            ConfigSource::FromTree(memo) => match &snap.config {
                Some(text) => {
                    if let Some((t, c)) = memo.borrow().as_ref()
                        && t == text
                    {
                        return Ok(c.clone());
                    }
                    let c = Arc::new(config::parse(text, "hoist.toml")?);
                    *memo.borrow_mut() = Some((text.clone(), c.clone()));
                    Ok(c)
                }
                None => Ok(Arc::new(Config::default())),
            },
        }
    }
}

/// The automation that governs this run: `--automation` (`NS/NAME`, or
/// `CLUSTER/NS/NAME` when clusters declare the same one), else the first
/// active one; several active ones must agree on their branches.
fn pick_automation<'a>(
    objects: &'a Objects,
    wanted: Option<&str>,
    each: bool,
) -> Result<Option<&'a ImageUpdateAutomation>, Diag> {
    if let Some(w) = wanted {
        let parts: Vec<&str> = w.split('/').collect();
        let (cluster, ns, name) = match parts.as_slice() {
            [ns, name] => (None, *ns, *name),
            [c, ns, name] => (Some(*c), *ns, *name),
            _ => {
                return Err(Diag::error(format!(
                    "--automation {w:?}: expected namespace/name (or cluster/namespace/name)"
                )));
            }
        };
        let found: Vec<&ImageUpdateAutomation> = objects
            .automations
            .iter()
            .filter(|a| {
                a.meta.namespace == ns
                    && a.meta.name == name
                    && cluster.is_none_or(|c| a.meta.cluster == c)
            })
            .collect();
        return match found.as_slice() {
            [one] => Ok(Some(*one)),
            [] => Err(Diag::error(format!(
                "no ImageUpdateAutomation {w} in the repository"
            ))),
            many => Err(Diag::error(format!(
                "--automation {w}: clusters {} each declare it; name one as CLUSTER/{ns}/{name}",
                many.iter()
                    .map(|a| a.meta.cluster.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        };
    }
    let active = active_automations(objects);
    if let Some(first) = active.first()
        && !each
        && active.iter().any(|a| {
            a.checkout_branch != first.checkout_branch || a.push_branch != first.push_branch
        })
    {
        let names: Vec<String> = active.iter().map(|a| plan::automation_name(a)).collect();
        return Err(Diag::error(format!(
            "ImageUpdateAutomations {} use different branches; run once per automation with --automation NS/NAME",
            names.join(", ")
        )));
    }
    Ok(active.first().copied())
}

/// The automations that are not suspended, by (cluster, namespace, name).
fn active_automations(objects: &Objects) -> Vec<&ImageUpdateAutomation> {
    let mut active: Vec<&ImageUpdateAutomation> =
        objects.automations.iter().filter(|a| !a.suspend).collect();
    active.sort_by(|a, b| {
        (&a.meta.cluster, &a.meta.namespace, &a.meta.name).cmp(&(
            &b.meta.cluster,
            &b.meta.namespace,
            &b.meta.name,
        ))
    });
    active
}

/// When several active automations would write one commit with different
/// messages or authors: which one this run follows.
fn automation_note(objects: &Objects, chosen: Option<&ImageUpdateAutomation>) -> Option<Diag> {
    let chosen = chosen?;
    let others: Vec<&ImageUpdateAutomation> = objects
        .automations
        .iter()
        .filter(|a| !a.suspend && !same_automation(a, chosen))
        .filter(|a| {
            a.message_template != chosen.message_template
                || a.author != chosen.author
                || a.checkout_branch != chosen.checkout_branch
                || a.push_branch != chosen.push_branch
                || a.message_template_values != chosen.message_template_values
        })
        .collect();
    if others.is_empty() {
        return None;
    }
    Some(
        Diag::warning(format!(
            "{} ImageUpdateAutomations apply with different commit messages or authors ({}); this run commits everything with {}'s; run with --automation to commit as one of the others, scoped to its own update.path and policySelector",
            others.len() + 1,
            others
                .iter()
                .map(|a| plan::automation_name(a))
                .collect::<Vec<_>>()
                .join(", "),
            plan::automation_name(chosen)
        ))
        .at(&chosen.meta.origin.file, Some(chosen.meta.origin.line)),
    )
}

fn same_automation(a: &ImageUpdateAutomation, b: &ImageUpdateAutomation) -> bool {
    (&a.meta.cluster, &a.meta.namespace, &a.meta.name)
        == (&b.meta.cluster, &b.meta.namespace, &b.meta.name)
}

/// One [`Settings`] per active automation (sorted by cluster, namespace,
/// name), each scoped to the policies it takes; the first also takes the
/// policies none takes, so their markers are still reported.
fn split_settings(
    o: &Overrides,
    cfg: &Config,
    objects: &Objects,
    branch: &str,
) -> Result<Vec<Settings>, Failure> {
    let active = active_automations(objects);
    let key = |p: &crate::flux::ImagePolicy| (p.meta.namespace.clone(), p.meta.name.clone());
    let untaken: std::collections::BTreeSet<(String, String)> = objects
        .policies
        .iter()
        .filter(|p| !active.iter().any(|a| plan::takes(a, p)))
        .map(key)
        .collect();
    let mut out = Vec::new();
    let explicit = o.branch.is_some() || cfg.git.branch.is_some();
    for (i, a) in active.iter().enumerate() {
        let own = match &a.checkout_branch {
            Some(b) if !explicit => b.as_str(),
            _ => branch,
        };
        let mut s = settle(o, cfg, Some(a), own)?;
        let mut scope: std::collections::BTreeSet<(String, String)> = objects
            .policies
            .iter()
            .filter(|p| plan::takes(a, p))
            .map(key)
            .collect();
        if i == 0 {
            scope.extend(untaken.iter().cloned());
        }
        s.policy_scope = Some(scope);
        s.label = Some(plan::automation_name(a));
        out.push(s);
    }
    Ok(out)
}

/// Keep only the chosen automation, so only its scope is written.
fn restrict(objects: &mut Objects, chosen: Option<&ImageUpdateAutomation>, explicit: bool) {
    if explicit && let Some(a) = chosen {
        objects.automations.retain(|x| same_automation(x, a));
    }
}

fn credentials(
    o: &Overrides,
    cfg: &Config,
    url: Option<&str>,
) -> Result<Option<Credentials>, Failure> {
    let var = o.token_env.as_deref().or(cfg.git.token_env.as_deref());
    let Some(var) = var else { return Ok(None) };
    let kind = o.auth.or(cfg.git.auth).unwrap_or_else(|| match url {
        Some(u) if u.contains("dev.azure.com") || u.contains(".visualstudio.com") => {
            GitAuth::AzureDevops
        }
        Some(u) if u.contains("gitlab") => GitAuth::Gitlab,
        _ => GitAuth::Github,
    });
    Credentials::from_env(kind, var, cfg.git.username.as_deref())
        .map(Some)
        .map_err(|e| Failure::setup(Diag::error(e.message).field("git.token_env")))
}

/// What planning one tree reported.
struct Planned {
    diags: Vec<Diag>,
    files: usize,
    changes: usize,
    rung: Option<crate::decide::ladder::RungPlan>,
}

/// What one commit covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every marker, by its policy (`hoist apply`).
    Policies,
    /// Only the markers of these images' policies, found through the
    /// bot's marker index (an event named the images).
    Images {
        images: std::collections::BTreeSet<String>,
        index: crate::decide::index::SharedIndex,
    },
    /// The markers of one ladder rung (only `image`'s, when given),
    /// decided as the ladder decides: policies, or promotion from the rung
    /// below as the base branch has it now.
    Rung {
        name: String,
        image: Option<String>,
        /// What the source rung runs, when it lives in another repository.
        source: Option<crate::decide::ladder::SourceRuns>,
    },
    /// One explicit promotion: `to` takes what `from` runs (only `image`,
    /// when given).
    Promotion {
        from: String,
        to: String,
        image: Option<String>,
        /// Why it lands although `to` is frozen (a person asked with
        /// `force`); said at the top of its pull request.
        forced: Option<String>,
    },
    /// A rollback: `to` takes back what it ran before its last promotion
    /// (`previous`, read from that promotion's record).
    Restore {
        to: String,
        previous: crate::decide::ladder::SourceRuns,
        /// Why it lands, said at the top of its pull request (an
        /// automatic rollback: the failure, and its marker).
        note: Option<String>,
    },
}

/// `hoist apply`'s run: open, then one commit, or one per automation
/// where they write differently (see [`Session::commit_each`]): (the
/// automation, its report) each.
pub fn commit_all(
    repository: &Repository,
    o: &Overrides,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Vec<(Option<String>, Report)>, Failure> {
    let o = &Overrides {
        each_automation: true,
        ..o.clone()
    };
    match Session::open(repository, o, progress)? {
        None => Ok(vec![(
            None,
            Report {
                outcome: Outcome::Suspended,
                diags: Vec::new(),
                warnings: Vec::new(),
                plan: None,
            },
        )]),
        Some(mut s) => s.commit_each(),
    }
}

/// An opened repository with its settings and tag lists: several commits
/// (one per rung) share one clone, one registry scan.
pub struct Session {
    ws: Workspace,
    config_source: ConfigSource,
    settings: Settings,
    tags: crate::observe::scan::Tags,
    tag_diags: Vec<Diag>,
    explicit_automation: bool,
    /// The tree read while opening, planned on by the first commit.
    first: Option<Snapshot>,
    /// Where cached clones live (URL mode), for sibling sessions.
    state_dir: Option<PathBuf>,
    /// The base tip and tag lists read while opening, hashed.
    fingerprint: u64,
    /// `spec.interval` of every ImageRepository read while opening.
    intervals: Vec<String>,
    /// The Flux objects (and hoist.toml's) read while opening.
    objects: Objects,
    /// With several active automations that commit differently: each
    /// one's settings, for [`Session::commit_each`].
    per_automation: Vec<Settings>,
    /// The warning that one automation's message would be used for all.
    automation_note: Option<Diag>,
    /// The last tree's Flux objects as this session plans on them.
    trees: ObjectsMemo<TreeObjects>,
}

impl Session {
    /// Open the repository, settle branches and identity, read the tags.
    /// `None` when the automation is suspended.
    pub fn open(
        repository: &Repository,
        o: &Overrides,
        progress: &(dyn Fn(usize, usize, &str) + Sync),
    ) -> Result<Option<Session>, Failure> {
        // Settings needed before anything is fetched come from the
        // overriding config, or in checkout mode from the checkout's
        // hoist.toml.
        let (source, config_source) = match repository {
            Repository::Url { url, state_dir } => {
                let cs = match &o.config {
                    Some(p) => ConfigSource::Fixed(Arc::new(
                        config::load(Path::new("."), Some(p)).map_err(Failure::Setup)?,
                    )),
                    None => ConfigSource::FromTree(RefCell::new(None)),
                };
                (
                    Source::Url {
                        url: url.clone(),
                        state_dir: state_dir.clone(),
                    },
                    cs,
                )
            }
            Repository::Checkout { dir } => {
                if !dir.join(".git").exists() {
                    return Err(Failure::setup(
                        Diag::error("not a Git checkout (no .git); use --url, or name the repository in hoist.toml ([forge] repository or [git] url); to only write the files here, `hoist apply --no-commit`")
                            .at(dir.display().to_string(), None),
                    ));
                }
                let cfg = config::load(dir, o.config.as_deref()).map_err(Failure::Setup)?;
                let remote = o
                    .remote
                    .clone()
                    .or_else(|| cfg.git.remote.clone())
                    .unwrap_or_else(|| "origin".into());
                (
                    Source::Checkout {
                        dir: dir.clone(),
                        remote,
                    },
                    ConfigSource::Fixed(Arc::new(cfg)),
                )
            }
        };
        let url = match repository {
            Repository::Url { url, .. } => Some(url.as_str()),
            Repository::Checkout { .. } => None,
        };
        let pre_config = match &config_source {
            ConfigSource::Fixed(c) => Cow::Borrowed(&**c),
            ConfigSource::FromTree(_) => Cow::Owned(Config::default()),
        };
        let creds = credentials(o, &pre_config, url)?;
        let git_err = |e: git::Error| Failure::git(e, Vec::new());
        let ws = Workspace::open(&source, creds).map_err(git_err)?;

        // Which branch to read: override, hoist.toml, else the automation's
        // checkout branch (known only once a tree is read), else the default.
        let explicit_branch = o.branch.clone().or_else(|| pre_config.git.branch.clone());
        let mut branch = match &explicit_branch {
            Some(b) => b.clone(),
            None => ws.default_branch().map_err(git_err)?,
        };
        let mut snap = read_tip(&ws, &branch)?;
        let mut cfg = config_source.for_snapshot(&snap).map_err(Failure::Setup)?;
        let (mut objects, _) = plan::collect_objects(&snap.files, &cfg);
        let mut automation = pick_automation(&objects, o.automation.as_deref(), o.each_automation)
            .map_err(Failure::setup)?
            .cloned();
        if explicit_branch.is_none()
            && let Some(b) = automation.as_ref().and_then(|a| a.checkout_branch.clone())
            && b != branch
        {
            branch = b;
            snap = read_tip(&ws, &branch)?;
            cfg = config_source.for_snapshot(&snap).map_err(Failure::Setup)?;
            objects = plan::collect_objects(&snap.files, &cfg).0;
            automation = pick_automation(&objects, o.automation.as_deref(), o.each_automation)
                .map_err(Failure::setup)?
                .cloned();
        }
        if automation.as_ref().is_some_and(|a| a.suspend) {
            return Ok(None);
        }
        let settings = settle(o, &cfg, automation.as_ref(), &branch)?;
        // Tags are fetched once; every attempt re-plans against the same lists.
        let (mut tags, mut tag_diags) =
            obtain_tags(&cfg, &objects, o.snapshot.as_deref(), progress).map_err(Failure::setup)?;
        if let Repository::Url { state_dir, .. } = repository {
            tags.set_signature_memo(state_dir.join("verified-signatures.json"));
        }
        let note = if o.automation.is_none() {
            automation_note(&objects, automation.as_ref())
        } else {
            None
        };
        let per_automation = if note.is_some() {
            split_settings(o, &cfg, &objects, &branch)?
        } else {
            Vec::new()
        };
        if tags.is_live() && !cfg.ladder.is_empty() {
            // Resolve, once, the digests the ladder's promotions will need,
            // and create the tags `create_tag` asks for.
            let creation = if o.read_only {
                crate::observe::scan::TagCreation::Preview
            } else {
                crate::observe::scan::TagCreation::Create
            };
            let (_, more) =
                crate::run::prepare_ladder(&cfg, &objects, &snap.files, &mut tags, creation);
            tag_diags.extend(more);
        }
        drop(cfg);
        let fingerprint = fingerprint(&snap, &tags);
        let intervals = objects
            .repositories
            .iter()
            .filter(|r| !r.suspend)
            .filter_map(|r| r.interval.clone())
            .collect();
        Ok(Some(Session {
            fingerprint,
            intervals,
            objects: objects.clone(),
            ws,
            config_source,
            settings,
            tags,
            tag_diags,
            explicit_automation: o.automation.is_some(),
            first: Some(snap),
            state_dir: match repository {
                Repository::Url { state_dir, .. } => Some(state_dir.clone()),
                Repository::Checkout { .. } => None,
            },
            per_automation,
            automation_note: note,
            trees: Default::default(),
        }))
    }

    /// `hoist apply`: one commit, or — when several active automations
    /// would write with different messages or authors — one commit per
    /// automation, as Flux makes them: each with its own template, author
    /// and values, over the markers its `update.path` and `policySelector`
    /// take (the first also reports the markers no automation takes).
    /// Each is its own compare-and-swap push; a crash between them leaves
    /// the rest for the next run.
    pub fn commit_each(&mut self) -> Result<Vec<(Option<String>, Report)>, Failure> {
        if self.per_automation.is_empty() {
            return Ok(vec![(None, self.commit(&Scope::Policies)?)]);
        }
        self.automation_note = None;
        let mut out = Vec::new();
        let read = self.settings.target.checkout_branch.clone();
        for settings in std::mem::take(&mut self.per_automation) {
            if settings.target.checkout_branch != read {
                // The tree read while opening is another branch's.
                self.first = None;
            }
            let label = settings.label.clone();
            self.settings = settings;
            self.explicit_automation = true;
            out.push((label, self.commit(&Scope::Policies)?));
        }
        Ok(out)
    }

    /// A hash of what this session read while opening: the base branch's
    /// tip and every tag list (tags, digests, scan errors). Equal
    /// fingerprints mean a run would decide exactly what the last one did.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Read the base branch's tip again (after this session pushed or
    /// merged), so the previews plan on it; the tag lists stay as read.
    pub fn reread(&mut self) -> Result<(), Failure> {
        self.ws.invalidate();
        let branch = self.settings.target.checkout_branch.clone();
        self.first = Some(read_tip(&self.ws, &branch)?);
        Ok(())
    }

    /// The local repository and the base tip this session plans on (for
    /// reading history back: the page's ages and delivery figures).
    /// A shallow clone is first fetched `depth` commits deep (no ref
    /// moves).
    pub fn history_at(&self, depth: u32) -> Option<(gix::Repository, gix::ObjectId)> {
        if let Err(e) = self.ws.deepen(&self.settings.target.push_branch, depth) {
            tracing::debug!(error = %e, "cannot deepen the clone for its history");
        }
        Some((self.ws.repo().ok()?, self.first.as_ref()?.commit))
    }

    /// The first parent of commit `sha` (hoist's proposal: the base tip it
    /// was made on), from the local clone.
    pub fn parent_of(&self, sha: &str) -> Option<String> {
        let repo = self.ws.repo().ok()?;
        let id = gix::ObjectId::from_hex(sha.as_bytes()).ok()?;
        let c = repo.find_commit(id).ok()?;
        c.parent_ids().next().map(|p| p.detach().to_string())
    }

    /// The image automation objects read while opening.
    pub fn objects(&self) -> Result<Objects, Failure> {
        Ok(self.objects.clone())
    }

    /// `spec.interval` of the fleet's ImageRepositories (Go durations).
    pub fn intervals(&self) -> &[String] {
        &self.intervals
    }

    /// The digest of `image:tag` as the scan (or snapshot) knows it.
    pub fn tag_digest(&self, image: &str, tag: &str) -> Option<String> {
        self.tags.snapshot.get(image)?.digests.get(tag).cloned()
    }

    /// Tags listed, all images together.
    pub fn tag_count(&self) -> usize {
        self.tags
            .snapshot
            .images
            .values()
            .map(|l| l.tags.len())
            .sum()
    }

    /// Images whose scan failed.
    pub fn scan_errors(&self) -> usize {
        self.tags.errors.len()
    }

    /// The images whose tags were read.
    pub fn images(&self) -> Vec<String> {
        let t = &self.tags;
        let mut out: Vec<String> = t.snapshot.images.keys().cloned().collect();
        out.extend(t.errors.keys().cloned());
        out.sort();
        out.dedup();
        out
    }

    /// The ladder of the repository as first read.
    pub fn ladder(&self) -> Result<crate::decide::ladder::Ladder, Failure> {
        let snap = self.first.as_ref();
        match (&self.config_source, snap) {
            (ConfigSource::Fixed(c), _) => Ok(c.ladder.clone()),
            (ConfigSource::FromTree(_), Some(s)) => Ok(self
                .config_source
                .for_snapshot(s)
                .map_err(Failure::Setup)?
                .ladder
                .clone()),
            (ConfigSource::FromTree(_), None) => Ok(crate::decide::ladder::Ladder::default()),
        }
    }

    /// Every rung's plan on the tree as first read, without committing
    /// or pushing anything (`hoist run --dry-run --url`).
    pub fn preview_ladder(
        &self,
    ) -> Result<(Vec<crate::decide::ladder::RungPlan>, Vec<Diag>), Failure> {
        let Some(snap) = self.first.as_ref() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let cfg = self
            .config_source
            .for_snapshot(snap)
            .map_err(Failure::Setup)?;
        let (objects, mut diags) = plan::collect_objects(&snap.files, &cfg);
        diags.splice(0..0, self.tag_diags.iter().cloned());
        let plans =
            crate::decide::ladder::plan_ladder(&cfg.ladder, &snap.files, &objects, &cfg, |img| {
                self.tags.get(img)
            });
        Ok((plans, diags))
    }

    /// The configuration that governs this session (as first read).
    pub fn config(&self) -> Result<Config, Failure> {
        match (&self.config_source, self.first.as_ref()) {
            (ConfigSource::Fixed(c), _) => Ok((**c).clone()),
            (ConfigSource::FromTree(_), Some(s)) => {
                Ok((*self.config_source.for_snapshot(s).map_err(Failure::Setup)?).clone())
            }
            (ConfigSource::FromTree(_), None) => Ok(Config::default()),
        }
    }

    /// A session on another repository of the same ladder (a rung with
    /// its own `repository`): `config` governs it, the tag lists are this
    /// session's, the Git credentials and identity too; its base branch is
    /// `branch`, else the remote's default.
    pub fn open_sibling(
        &self,
        url: &str,
        branch: Option<&str>,
        config: &Config,
    ) -> Result<Session, Failure> {
        let git_err = |e: git::Error| Failure::git(e, Vec::new());
        let source = Source::Url {
            url: url.to_string(),
            state_dir: self
                .state_dir
                .clone()
                .unwrap_or_else(git::cache::default_state_dir),
        };
        let ws = Workspace::open(&source, self.ws.git.credentials().cloned()).map_err(git_err)?;
        let branch = match branch {
            Some(b) => b.to_string(),
            None => ws.default_branch().map_err(git_err)?,
        };
        let snap = read_tip(&ws, &branch)?;
        let fingerprint = fingerprint(&snap, &self.tags);
        let objects = plan::collect_objects(&snap.files, config).0;
        let mut target = self.settings.target.clone();
        target.checkout_branch = branch.clone();
        target.push_branch = branch;
        target.extra_refs.clear();
        Ok(Session {
            ws,
            config_source: ConfigSource::Fixed(Arc::new(config.clone())),
            settings: Settings {
                target,
                author: self.settings.author.clone(),
                template: self.settings.template.clone(),
                template_origin: self.settings.template_origin.clone(),
                values: self.settings.values.clone(),
                automation_key: None,
                policy_scope: None,
                label: None,
            },
            tags: self.tags.clone(),
            tag_diags: Vec::new(),
            explicit_automation: false,
            first: Some(snap),
            state_dir: self.state_dir.clone(),
            fingerprint,
            intervals: Vec::new(),
            objects,
            per_automation: Vec::new(),
            automation_note: None,
            trees: Default::default(),
        })
    }

    /// What rung `name` runs on the base branch's tip now.
    pub fn rung_runs(&self, name: &str) -> Result<crate::decide::ladder::SourceRuns, Failure> {
        let git_err = |e: git::Error| Failure::git(e, Vec::new());
        let branch = &self.settings.target.push_branch;
        let tip = self.ws.fetch(branch, 1).map_err(git_err)?.ok_or_else(|| {
            Failure::Failed(vec![Diag::error(format!(
                "the remote has no branch {branch:?}"
            ))])
        })?;
        let snap = self.ws.read(tip, branch).map_err(git_err)?;
        let cfg = self
            .config_source
            .for_snapshot(&snap)
            .map_err(Failure::Setup)?;
        let (objects, _) = plan::collect_objects(&snap.files, &cfg);
        Ok(crate::decide::ladder::rung_runs(
            &cfg.ladder,
            name,
            &snap.files,
            &objects,
        ))
    }

    /// Would landing `scope` change anything now? Planned on the base
    /// branch's tip and, when that has changes and `branch` exists, on the
    /// bot branch's tip: a pull request that already proposes the change
    /// has nothing pending.
    pub fn pending(&self, scope: &Scope, branch: Option<&str>) -> Result<bool, Failure> {
        let git_err = |e: git::Error| Failure::git(e, Vec::new());
        let changes_on = |b: &str| -> Result<Option<bool>, Failure> {
            let Some(tip) = self.ws.fetch(b, 1).map_err(git_err)? else {
                return Ok(None);
            };
            let snap = self.ws.read(tip, b).map_err(git_err)?;
            let (_, planned) = self.planner().plan(scope, &snap).map_err(git_err)?;
            Ok(Some(planned.files > 0))
        };
        let base = self.settings.target.push_branch.clone();
        if changes_on(&base)? != Some(true) {
            return Ok(false);
        }
        Ok(match branch {
            Some(b) => changes_on(b)?.unwrap_or(true),
            None => true,
        })
    }

    /// Fetch the base branch and every bot branch under `prefix` at once,
    /// and plan on those tips until something moves (see
    /// [`Workspace::prefetch`]). A failed prefetch only costs the speed-up.
    pub fn prefetch(&self, prefix: &str) {
        let base = self.settings.target.push_branch.clone();
        if let Err(e) = self.ws.prefetch(&[base.as_str()], &[prefix]) {
            tracing::debug!(error = %e, "prefetch failed");
        }
    }

    /// The remote moved under hoist (a merge on the forge, a deleted
    /// branch): fetch again before planning.
    pub fn invalidate(&self) {
        self.ws.invalidate();
    }

    /// Only `branches` moved on the remote (hoist merged a pull request
    /// from one into the other): fetch just those before planning.
    pub fn moved(&self, branches: &[&str]) {
        self.ws.moved(branches);
    }

    /// The branch push rungs commit to and pull requests merge into.
    pub fn base_branch(&self) -> &str {
        &self.settings.target.push_branch
    }

    /// Environments on hold (`/hoist hold <env>`): each is a branch
    /// `hoist-hold/<env>` on the remote, so a hold survives restarts and
    /// every replica sees it, and is set or lifted with compare-and-swap.
    pub fn holds(&self) -> Result<BTreeMap<String, gix::ObjectId>, Failure> {
        let found = self
            .ws
            .remote_branches(HOLD_PREFIX)
            .map_err(|e| Failure::git(e, Vec::new()))?;
        Ok(found
            .into_iter()
            .filter_map(|(b, id)| b.strip_prefix(HOLD_PREFIX).map(|e| (e.to_string(), id)))
            .collect())
    }

    /// Put `env` on hold (`on`) or lift its hold. False when it already
    /// was (or was not) held.
    pub fn set_hold(&self, env: &str, on: bool) -> Result<bool, Failure> {
        let git_err = |e: git::Error| Failure::git(e, Vec::new());
        let branch = format!("{HOLD_PREFIX}{env}");
        if on {
            // Held already (at any commit: a push of the same commit to an
            // existing branch would look like a new hold).
            if self.holds()?.contains_key(env) {
                return Ok(false);
            }
            let base = self.base_branch().to_string();
            let tip = self.ws.fetch(&base, 1).map_err(git_err)?.ok_or_else(|| {
                Failure::setup(Diag::error(format!("the remote has no branch {base:?}")))
            })?;
            self.ws.create_branch(&branch, tip).map_err(git_err)
        } else {
            match self.holds()?.get(env) {
                None => Ok(false),
                Some(id) => self.ws.delete_branch(&branch, *id).map_err(git_err),
            }
        }
    }

    /// Commit and push the edits `scope` covers, planning again on the new
    /// tip whenever the branch moved.
    pub fn commit(&mut self, scope: &Scope) -> Result<Report, Failure> {
        let target = self.settings.target.clone();
        self.commit_to(scope, &target)
    }

    /// Propose the edits `scope` covers on the bot branch `branch`: one
    /// hoist commit on top of the base branch, pushed with compare-and-swap
    /// (replacing hoist's own earlier proposal, never anyone else's
    /// commit). `UpToDate` means the base branch needs no change; `Holds`
    /// that `branch` already proposes exactly this change.
    pub fn propose(&mut self, scope: &Scope, branch: &str) -> Result<Report, Failure> {
        if !git::valid_branch(branch) || branch.len() > 250 {
            return Err(Failure::setup(Diag::error(format!(
                "{branch:?} is not a usable branch name (valid ref, at most 250 bytes)"
            ))));
        }
        let mut target = self.settings.target.clone();
        target.checkout_branch = target.push_branch.clone();
        target.push_branch = branch.to_string();
        target.extra_refs.clear();
        target.refuse_foreign = true;
        target.update_checkout = false;
        let mut report = self.commit_to(scope, &target)?;
        if let Outcome::UpToDate { branch: b, .. } = &mut report.outcome {
            *b = target.checkout_branch.clone();
        }
        Ok(report)
    }

    /// What hoist's own commit `commit` did for `scope`, planned again on
    /// its parent: `None` unless `commit` is hoist's (its committer, and a
    /// `Hoist-Environment: <env>` trailer). Lets a run describe a commit a
    /// crashed run pushed but did not report (its status).
    pub fn replan_own(
        &self,
        scope: &Scope,
        commit: gix::ObjectId,
        env: &str,
    ) -> Option<crate::decide::ladder::RungPlan> {
        let repo = self.ws.repo().ok()?;
        let (message, committer, parents) = git::tree::commit_info(&repo, commit)?;
        let trailer = format!("Hoist-Environment: {env}");
        if committer != self.settings.author.email
            || !message.lines().any(|l| l.trim_end() == trailer)
        {
            return None;
        }
        let first = *parents.first()?;
        let parent = match git::tree::read(&repo, first) {
            Ok(p) => p,
            Err(_) => {
                // A shallow clone may lack the parent: deepen by one.
                self.ws.fetch(&self.settings.target.push_branch, 2).ok()?;
                git::tree::read(&self.ws.repo().ok()?, first).ok()?
            }
        };
        let (_, planned) = self.planner().plan(scope, &parent).ok()?;
        planned.rung.filter(|r| !r.files.is_empty())
    }

    /// What planning a scope reads of this session.
    fn planner(&self) -> Planner<'_> {
        Planner {
            settings: &self.settings,
            choices: &self.per_automation,
            tags: &self.tags,
            config_source: &self.config_source,
            explicit_automation: self.explicit_automation,
            trees: &self.trees,
        }
    }

    fn commit_to(&mut self, scope: &Scope, target: &Target) -> Result<Report, Failure> {
        let first = self.first.take();
        let planner = self.planner();
        let (result, planned) =
            persist::persist(&self.ws, target, first, |snap| planner.plan(scope, snap));
        let mut diags = std::mem::take(&mut self.tag_diags);
        if !is_rung(scope) {
            // A rung is made as the automation that takes its changes
            // (`plan_scope`); anything else as the first, said once.
            diags.extend(self.automation_note.take());
        }
        let (files, changes, rung_plan) = match planned {
            Some(p) => {
                diags.extend(p.diags);
                (p.files, p.changes, p.rung)
            }
            None => (0, 0, None),
        };
        let (done, warnings) = result.map_err(|e| Failure::git(e, diags.clone()))?;
        let outcome = match done {
            Done::UpToDate { tip } => Outcome::UpToDate {
                branch: target.push_branch.clone(),
                tip,
            },
            Done::Holds { tip } => Outcome::Holds {
                branch: target.push_branch.clone(),
                head: tip,
            },
            Done::Pushed {
                commit,
                branch,
                attempts,
                ..
            } => Outcome::Pushed {
                branch,
                commit,
                attempts,
                files,
                changes,
            },
        };
        Ok(Report {
            outcome,
            diags,
            warnings,
            plan: rung_plan,
        })
    }
}

/// Everything a commit needs besides the tree: branches, refs, push
/// options, identity, message template, signing.
#[derive(Clone)]
struct Settings {
    target: Target,
    author: Identity,
    template: Option<Template>,
    /// Where the template came from, for its errors.
    template_origin: String,
    values: BTreeMap<String, String>,
    /// (cluster, namespace, name).
    automation_key: Option<(String, String, String)>,
    /// Only these policies' markers ((namespace, name)): one automation's
    /// share when each active automation commits on its own.
    policy_scope: Option<std::collections::BTreeSet<(String, String)>>,
    /// The automation this commit is made as, for output (split runs).
    label: Option<String>,
}

fn settle(
    o: &Overrides,
    cfg: &Config,
    automation: Option<&ImageUpdateAutomation>,
    branch: &str,
) -> Result<Settings, Failure> {
    for b in [&o.push_branch, &cfg.git.push_branch].into_iter().flatten() {
        if !git::valid_branch(b) {
            return Err(Failure::setup(Diag::error(format!(
                "{b:?} is not a valid branch name"
            ))));
        }
    }
    let push_branch = o
        .push_branch
        .clone()
        .or_else(|| automation.and_then(|a| a.push_branch.clone()))
        .or_else(|| cfg.git.push_branch.clone())
        .unwrap_or_else(|| branch.to_string());
    let mut extra_refs = Vec::new();
    if let Some(spec) = automation.and_then(|a| a.push_refspec.clone()) {
        extra_refs.push(refspec_destination(&spec).map_err(Failure::setup)?);
    }
    let mut push_options: Vec<String> = cfg.git.push_options.clone();
    if let Some(a) = automation {
        push_options.extend(a.push_options.iter().map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        }));
    }
    let author = automation
        .and_then(|a| a.author.clone())
        .map(|a| Identity {
            name: a.name,
            email: a.email,
        })
        .or_else(|| {
            cfg.git.author_email.clone().map(|email| Identity {
                name: cfg
                    .git
                    .author_name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_AUTHOR.0.into()),
                email,
            })
        })
        .unwrap_or(Identity {
            name: DEFAULT_AUTHOR.0.into(),
            email: DEFAULT_AUTHOR.1.into(),
        });
    // A template error names the automation (file:line) and the field.
    let (template_text, template_origin) =
        match automation.and_then(|a| a.message_template.clone().map(|t| (t, a))) {
            Some((t, a)) => (
                Some(t),
                format!(
                    "{}:{}: spec.git.commit.messageTemplate of ImageUpdateAutomation {}/{}",
                    a.meta.origin.file, a.meta.origin.line, a.meta.namespace, a.meta.name
                ),
            ),
            None => (
                cfg.git.message_template.clone(),
                "hoist.toml: git.message_template".to_string(),
            ),
        };
    let template = match &template_text {
        Some(t) => Some(Template::parse(t).map_err(|e| {
            let d = Diag::error(format!("messageTemplate: {e}"));
            Failure::setup(match automation {
                Some(a) => d
                    .at(&a.meta.origin.file, Some(a.meta.origin.line))
                    .field("spec.git.commit.messageTemplate"),
                None => d.field("git.message_template"),
            })
        })?),
        None => None,
    };
    let signing = cfg.git.signing_key.clone().map(|k| {
        (
            k,
            cfg.git
                .signing_format
                .clone()
                .unwrap_or_else(|| "openpgp".into()),
        )
    });
    let target = Target {
        checkout_branch: branch.to_string(),
        push_branch,
        extra_refs,
        push_options,
        max_attempts: o.max_attempts.or(cfg.git.max_attempts).unwrap_or(10),
        signing,
        email: author.email.clone(),
        refuse_foreign: false,
        update_checkout: true,
    };
    Ok(Settings {
        target,
        author,
        template,
        template_origin,
        values: automation
            .map(|a| a.message_template_values.clone())
            .unwrap_or_default(),
        automation_key: automation.map(|a| {
            (
                a.meta.cluster.clone(),
                a.meta.namespace.clone(),
                a.meta.name.clone(),
            )
        }),
        policy_scope: None,
        label: None,
    })
}

/// Plan `scope` on one tree: the proposal to commit (if anything changes)
/// and what to report.
/// Is `scope` one ladder rung's commit (its `Hoist-Environment`)?
fn is_rung(scope: &Scope) -> bool {
    matches!(
        scope,
        Scope::Rung { .. } | Scope::Promotion { .. } | Scope::Restore { .. }
    )
}

/// The settings a rung's commit is made with, when active automations
/// commit differently (`choices`, one each): those of the first automation
/// that takes every change of the rung (its `update.path` holds the file,
/// it takes the marker's policy), as Flux would commit them. When none
/// takes them all: `fallback`'s, and a warning naming the automations.
fn rung_settings<'a>(
    fallback: &'a Settings,
    choices: &'a [Settings],
    objects: &Objects,
    files: &[plan::FileChange],
    env: &str,
) -> (&'a Settings, Option<Diag>) {
    let automation = |s: &Settings| {
        let (c, ns, n) = s.automation_key.as_ref()?;
        objects
            .automations
            .iter()
            .find(|a| &a.meta.cluster == c && &a.meta.namespace == ns && &a.meta.name == n)
    };
    let takes_change = |a: &ImageUpdateAutomation, file: &str, setter: &str| {
        let mut parts = setter.split(':');
        let (Some(ns), Some(name)) = (parts.next(), parts.next()) else {
            return false;
        };
        crate::observe::objects::takes_marker(objects, a, file, ns, name)
    };
    let changes = || {
        files.iter().flat_map(|f| {
            f.objects.iter().flat_map(|o| {
                o.changes
                    .iter()
                    .map(|c| (f.file.as_str(), c.setter.as_str()))
            })
        })
    };
    let mut some: Vec<(&Settings, &ImageUpdateAutomation)> = Vec::new();
    for s in choices {
        let Some(a) = automation(s) else { continue };
        let mut taken = changes().filter(|(f, c)| takes_change(a, f, c));
        match taken.next() {
            None => {}
            Some(_) if changes().all(|(f, c)| takes_change(a, f, c)) => return (s, None),
            Some(_) => some.push((s, a)),
        }
    }
    match some.as_slice() {
        [] => (fallback, None),
        [(one, _)] => (one, None),
        [(first, a), ..] => {
            let names: Vec<String> = some.iter().map(|(_, a)| plan::automation_name(a)).collect();
            let note = Diag::warning(format!(
                "{env}: its changes are taken by ImageUpdateAutomations that commit with different messages or authors ({}); this commit is made with {}'s; give the environment's files to one automation (update.path, policySelector), or split the environment",
                names.join(", "),
                plan::automation_name(a)
            ));
            (first, Some(note))
        }
    }
}

/// A tree's Flux objects as a session plans on them (restricted to its
/// automation), and what their policies decide by themselves, worked out
/// when a rung first needs it.
struct TreeObjects {
    objects: Objects,
    diags: Vec<Diag>,
    decided: std::cell::OnceCell<crate::decide::ladder::Decided>,
}

/// What planning a scope reads of the session.
struct Planner<'s> {
    settings: &'s Settings,
    choices: &'s [Settings],
    tags: &'s crate::observe::scan::Tags,
    config_source: &'s ConfigSource,
    explicit_automation: bool,
    trees: &'s ObjectsMemo<TreeObjects>,
}

impl Planner<'_> {
    /// Plan `scope` on `snap`: the commit to make, if any, and what it
    /// does.
    fn plan(&self, scope: &Scope, snap: &Snapshot) -> git::Result<(Option<Proposal>, Planned)> {
        let Planner {
            settings,
            choices,
            tags,
            config_source,
            explicit_automation,
            trees,
        } = *self;
        let cfg = config_source.for_snapshot(snap).map_err(|d| {
            git::Error::setup(
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let tree = trees.get(&snap.files, &cfg, |mut objects, diags| {
            let chosen = settings.automation_key.as_ref().and_then(|(c, ns, n)| {
                objects
                    .automations
                    .iter()
                    .find(|a| &a.meta.cluster == c && &a.meta.namespace == ns && &a.meta.name == n)
                    .cloned()
            });
            restrict(&mut objects, chosen.as_ref(), explicit_automation);
            TreeObjects {
                objects,
                diags,
                decided: Default::default(),
            }
        });
        let objects = &tree.objects;
        let object_diags = tree.diags.clone();
        let tags_for = |img: &str| tags.get(img);
        let rung_tree = || crate::decide::ladder::Tree {
            files: &snap.files,
            objects,
            config: &cfg,
            tags_for: &tags_for,
            decided: tree
                .decided
                .get_or_init(|| crate::decide::ladder::Decided::new(objects, tags_for)),
        };
        let ladder_plan = match scope {
            Scope::Policies | Scope::Images { .. } => None,
            Scope::Rung {
                name,
                image,
                source,
            } => Some((
                crate::decide::ladder::plan_one(
                    &cfg.ladder,
                    name,
                    image.as_deref(),
                    source.as_ref(),
                    &rung_tree(),
                ),
                name,
            )),
            Scope::Promotion {
                from, to, image, ..
            } => Some((
                crate::decide::ladder::plan_promotion(
                    &cfg.ladder,
                    from,
                    to,
                    image.as_deref(),
                    &rung_tree(),
                ),
                to,
            )),
            Scope::Restore { to, previous, .. } => Some((
                crate::decide::ladder::plan_restore(&cfg.ladder, to, previous, &rung_tree()),
                to,
            )),
        };
        let (files, policies, mut diags, environment, rung) = match ladder_plan {
            None => {
                let p = match scope {
                    Scope::Images { images, index } => {
                        let mut idx = index.0.lock().unwrap_or_else(|e| e.into_inner());
                        let mut p = crate::decide::index::plan_images(
                            &mut idx,
                            images,
                            &snap.files,
                            objects,
                            &cfg.write,
                            tags_for,
                        );
                        p.diagnostics.splice(0..0, object_diags);
                        p
                    }
                    _ => plan::plan_objects_scoped(
                        &snap.files,
                        objects,
                        object_diags,
                        &cfg.write,
                        tags_for,
                        settings.policy_scope.as_ref(),
                    ),
                };
                (p.files, p.policies, p.diagnostics, None, None)
            }
            Some((p, env)) => {
                let p = p.map_err(git::Error::setup)?;
                let mut d = object_diags;
                d.extend(p.diagnostics.iter().cloned());
                // Trailers then carry each marker's new value.
                (p.files.clone(), Vec::new(), d, Some(env.clone()), Some(p))
            }
        };
        let mut all = snap.diags.clone();
        all.append(&mut diags);
        let planned = Planned {
            diags: all,
            files: files.len(),
            changes: plan::change_count(&files),
            rung,
        };
        if files.is_empty() {
            return Ok((None, planned));
        }
        let mut planned = planned;
        let settings = match &environment {
            Some(env) if !choices.is_empty() => {
                let (s, note) = rung_settings(settings, choices, objects, &files, env);
                planned.diags.extend(note);
                s
            }
            _ => settings,
        };
        let data = message::template_data(
            settings
                .automation_key
                .as_ref()
                .map(|(_, a, b)| (a.as_str(), b.as_str())),
            &files,
            &settings.values,
        );
        let trailers = message::trailers(&files, &policies);
        let mut msg = message::compose(settings.template.as_ref(), &data, &trailers)
            .map_err(|e| git::Error::setup(format!("{}: {e}", settings.template_origin)))?;
        if let Some(env) = &environment {
            msg.push_str(&format!("Hoist-Environment: {env}\n"));
            // `hoist report` tells a rollback from a deployment by it.
            if matches!(scope, Scope::Restore { .. }) {
                msg.push_str("Hoist-Rollback: yes\n");
            }
        }
        let proposal = Proposal {
            edits: files
                .iter()
                .map(|f| (f.file.clone(), f.updated.clone()))
                .collect(),
            message: msg,
            author: settings.author.clone(),
        };
        Ok((Some(proposal), planned))
    }
}

fn read_tip(ws: &Workspace, branch: &str) -> Result<Snapshot, Failure> {
    let tip = ws
        .initial_tip(branch)
        .map_err(|e| Failure::git(e, Vec::new()))?;
    ws.read(tip, branch)
        .map_err(|e| Failure::git(e, Vec::new()))
}

/// `push.refspec` → the destination ref hoist pushes its commit to as well.
/// The source side must name what hoist pushes (`HEAD` or a branch).
fn refspec_destination(spec: &str) -> Result<String, Diag> {
    let force = spec.starts_with('+');
    let spec = spec.trim_start_matches('+');
    let (_, dst) = spec.split_once(':').ok_or_else(|| {
        Diag::error(format!("push.refspec {spec:?}: expected SRC:DST"))
            .field("spec.git.push.refspec")
    })?;
    if !dst.starts_with("refs/") || dst.contains('*') {
        return Err(Diag::error(format!(
            "push.refspec {spec:?}: the destination must be a full ref name (refs/…) without wildcards"
        ))
        .field("spec.git.push.refspec"));
    }
    Ok(if force {
        format!("+{dst}")
    } else {
        dst.to_string()
    })
}

/// See [`Session::fingerprint`].
fn fingerprint(snap: &Snapshot, tags: &crate::observe::scan::Tags) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    snap.commit.hash(&mut h);
    for (image, list) in &tags.snapshot.images {
        image.hash(&mut h);
        list.tags.hash(&mut h);
        for (t, d) in &list.digests {
            t.hash(&mut h);
            d.hash(&mut h);
        }
    }
    tags.errors.hash(&mut h);
    h.finish()
}
