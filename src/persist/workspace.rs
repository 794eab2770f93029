//! The persistence loop: fetch → plan → commit → compare-and-swap push,
//! and on a lost race, all of it again on the new tip.
//!
//! Planning is a pure function of the tree, so "rebasing" hoist's change is
//! just planning again on the branch's new tip: it cannot conflict, and if
//! someone else already made the same change the new plan is empty and
//! nothing is committed. That is also why a crash at any point is harmless:
//! a pushed commit is complete (the server updates the ref only after it has
//! every object), an unpushed one is garbage, and the next run plans from
//! what the remote really holds.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gix::ObjectId;

use super::cache::{self, fetch_branch};
use super::push::{self, Expect, Outcome};
use super::tree::{self, Identity, Snapshot};
use super::{Error, Git, Result};

/// Where the repository comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A cached bare clone of `url` under `state_dir` (the bot).
    Url { url: String, state_dir: PathBuf },
    /// An existing checkout pushing to `remote` (Actions, pipelines).
    Checkout { dir: PathBuf, remote: String },
}

/// The branches and push settings of one run.
#[derive(Debug, Clone)]
pub struct Target {
    pub checkout_branch: String,
    pub push_branch: String,
    /// Extra destination refs (`push.refspec`), pushed atomically.
    pub extra_refs: Vec<String>,
    pub push_options: Vec<String>,
    pub max_attempts: u32,
    /// `(user.signingKey, gpg.format)` to sign commits with the git binary.
    pub signing: Option<(String, String)>,
    /// hoist's committer email: how its own commits are recognised.
    pub email: String,
    /// A push branch with commits that are not hoist's is left alone (an
    /// error) instead of built upon: bot branches of pull requests, where
    /// a human's commit must never be force-replaced.
    pub refuse_foreign: bool,
    /// Checkout mode: bring the working tree to the pushed commit. Off for
    /// bot branches: a CI job's checkout stays on its branch.
    pub update_checkout: bool,
}

/// What the planner proposes for one tree.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub edits: Vec<(String, Arc<String>)>,
    pub message: String,
    pub author: Identity,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Nothing to change on `tip`.
    UpToDate { tip: ObjectId },
    /// The push branch (separate from the checkout branch) already holds
    /// exactly this change at `tip`.
    Holds { tip: ObjectId },
    /// `commit` is now the tip of `branch` on the remote.
    Pushed {
        commit: ObjectId,
        parent: ObjectId,
        branch: String,
        attempts: u32,
    },
}

/// An opened repository: the command runner, plus what it holds locally.
pub struct Workspace {
    pub git: Git,
    source: Source,
    /// Keeps the clone locked while the workspace lives.
    clone: Option<cache::Clone>,
    shallow: bool,
    blobs: std::cell::RefCell<tree::BlobCache>,
    /// Branch tips fetched ahead by [`Workspace::prefetch`], used by
    /// [`Workspace::fetch`] until this workspace pushes or is told the
    /// remote moved ([`Workspace::invalidate`]).
    prefetched: std::cell::RefCell<Option<Prefetched>>,
    /// The last commit read (a commit's files never change).
    last_read: std::cell::RefCell<Option<Snapshot>>,
    /// The repository, once opened.
    opened: std::cell::RefCell<Option<gix::Repository>>,
    /// The last base tip whose history was walked, and that history.
    history: std::cell::RefCell<Option<(ObjectId, std::rc::Rc<HashSet<ObjectId>>)>>,
}

/// Tips fetched in one go: exact branches, and every branch under some
/// prefixes (a branch under a prefix and not in `tips` does not exist).
#[derive(Default)]
struct Prefetched {
    tips: std::collections::HashMap<String, ObjectId>,
    exact: Vec<String>,
    prefixes: Vec<String>,
    /// Covered branches known to have moved since (a merge on the forge):
    /// asked of the remote again, once, and remembered from that fetch.
    moved: std::collections::HashSet<String>,
}

impl Prefetched {
    fn covers(&self, branch: &str) -> bool {
        self.exact.iter().any(|b| b == branch)
            || self.prefixes.iter().any(|p| branch.starts_with(p.as_str()))
    }

    fn answer(&self, branch: &str) -> Option<Option<ObjectId>> {
        (self.covers(branch) && !self.moved.contains(branch))
            .then(|| self.tips.get(branch).copied())
    }

    /// What the remote said of `branch` just now.
    fn learn(&mut self, branch: &str, tip: Option<ObjectId>) {
        if !self.covers(branch) {
            return;
        }
        self.moved.remove(branch);
        match tip {
            Some(t) => self.tips.insert(branch.to_string(), t),
            None => self.tips.remove(branch),
        };
    }
}

impl Workspace {
    /// Open (and for a URL, lock and if needed create) the repository.
    pub fn open(source: &Source, creds: Option<super::Credentials>) -> Result<Workspace> {
        match source {
            Source::Url { url, state_dir } => {
                let clone = cache::open(state_dir, url, creds)?;
                let mut name = clone.git.dir.file_name().unwrap_or_default().to_os_string();
                name.push(".blobs");
                let blobs = tree::BlobCache::load(clone.git.dir.with_file_name(name));
                Ok(Workspace {
                    git: clone.git.clone(),
                    source: source.clone(),
                    clone: Some(clone),
                    shallow: true,
                    blobs: blobs.into(),
                    prefetched: Default::default(),
                    history: Default::default(),
                    opened: Default::default(),
                    last_read: Default::default(),
                })
            }
            Source::Checkout { dir, remote } => {
                let git = Git::new(dir, false);
                let url = git
                    .run(&["remote", "get-url", "--push", remote])
                    .map_err(|e| {
                        Error::setup(format!("no remote {remote:?} in {}: {e}", dir.display()))
                    })?;
                let git = git.with_credentials(url.trim(), creds);
                let shallow = git.run(&["rev-parse", "--is-shallow-repository"])?.trim() == "true";
                Ok(Workspace {
                    git,
                    source: source.clone(),
                    clone: None,
                    shallow,
                    blobs: Default::default(),
                    prefetched: Default::default(),
                    history: Default::default(),
                    opened: Default::default(),
                    last_read: Default::default(),
                })
            }
        }
    }

    fn remote(&self) -> &str {
        match &self.source {
            Source::Url { url, .. } => url,
            Source::Checkout { remote, .. } => remote,
        }
    }

    fn tracking(&self) -> &str {
        match &self.source {
            Source::Url { .. } => "origin",
            Source::Checkout { remote, .. } => remote,
        }
    }

    /// The repository, opened once and reused (a rebuilt clone is opened
    /// again).
    pub fn repo(&self) -> Result<gix::Repository> {
        if let Some(r) = self.opened.borrow().as_ref() {
            return Ok(r.clone());
        }
        let r = cache::open_repo(&self.git.dir)?;
        *self.opened.borrow_mut() = Some(r.clone());
        Ok(r)
    }

    /// Rebuild the cached clone, forgetting everything read from it.
    fn rebuild(&self, clone: &cache::Clone) -> Result<()> {
        self.opened.borrow_mut().take();
        self.history.borrow_mut().take();
        self.last_read.borrow_mut().take();
        clone.rebuild()
    }

    /// Fetch a branch's tip (`depth` 1 in a shallow repository, else its
    /// whole new history); `None` if the remote has no such branch. A clone
    /// that cannot be fetched into for a non-network reason is rebuilt once.
    pub fn fetch(&self, branch: &str, depth: u32) -> Result<Option<ObjectId>> {
        if let Some(answer) = self
            .prefetched
            .borrow()
            .as_ref()
            .and_then(|p| p.answer(branch))
        {
            return Ok(answer);
        }
        // A shallow checkout is fetched 50 deep, so the pushed commit can
        // be fast-forwarded onto from HEAD afterwards.
        let depth = match (&self.source, self.shallow) {
            (_, false) => 0,
            (Source::Checkout { .. }, true) => depth.max(50),
            (Source::Url { .. }, true) => depth.max(1),
        };
        let first = fetch_branch(&self.git, self.remote(), self.tracking(), branch, depth);
        let tip = match (&first, &self.clone) {
            (Err(e), Some(c)) if !cache::is_remote_problem(&e.message) => {
                tracing::warn!(error = %e, "fetch into the cached clone failed; rebuilding it");
                self.rebuild(c)?;
                fetch_branch(&self.git, self.remote(), self.tracking(), branch, depth)
            }
            _ => first,
        }?;
        if let Some(p) = self.prefetched.borrow_mut().as_mut() {
            p.learn(branch, tip);
        }
        Ok(tip)
    }

    /// In a shallow repository, fetch `branch`'s history `depth` commits
    /// deep without moving any ref (for reading history back: the page's
    /// ages and charts). A failure is the caller's to ignore.
    pub fn deepen(&self, branch: &str, depth: u32) -> Result<()> {
        if !self.shallow {
            return Ok(());
        }
        let depth_arg = format!("--depth={}", depth.max(1));
        let refspec = format!("refs/heads/{branch}");
        let args = [
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            &depth_arg,
            "--",
            self.remote(),
            &refspec,
        ];
        let out = self.git.output(&args, None)?;
        if !out.status.success() {
            return Err(self.git.failure(&args, &out));
        }
        Ok(())
    }

    /// Fetch `branches` and every branch under `prefixes` in one `git
    /// fetch` (pruning gone ones), and answer [`Workspace::fetch`] for them
    /// from that until [`Workspace::invalidate`] or a push. For a rung with
    /// a pull request per image: one fetch instead of two per image. If
    /// the fetch fails, nothing is remembered and `fetch` asks the remote.
    pub fn prefetch(&self, branches: &[&str], prefixes: &[&str]) -> Result<()> {
        self.invalidate();
        let tracking = self.tracking().to_string();
        let mut refspecs: Vec<String> = branches
            .iter()
            .map(|b| format!("+refs/heads/{b}:refs/remotes/{tracking}/{b}"))
            .collect();
        refspecs.extend(
            prefixes
                .iter()
                .map(|p| format!("+refs/heads/{p}*:refs/remotes/{tracking}/{p}*")),
        );
        let depth = match (&self.source, self.shallow) {
            (_, false) => None,
            (_, true) => Some("--depth=50".to_string()),
        };
        let mut args = vec![
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--prune",
        ];
        if let Some(d) = &depth {
            args.push(d);
        }
        args.push("--");
        args.push(self.remote());
        args.extend(refspecs.iter().map(String::as_str));
        let out = self.git.output(&args, None)?;
        if !out.status.success() {
            tracing::debug!(stderr = %String::from_utf8_lossy(&out.stderr), "prefetch failed; fetching one by one");
            return Ok(());
        }
        let repo = self.repo()?;
        let mut p = Prefetched {
            exact: branches.iter().map(|b| b.to_string()).collect(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        let refs = repo
            .references()
            .map_err(|e| Error::new(format!("cannot list references: {e}")))?;
        let local = format!("refs/remotes/{tracking}/");
        for r in refs
            .prefixed(local.as_str())
            .map_err(|e| Error::new(format!("cannot list references: {e}")))?
            .flatten()
        {
            let name = r.name().as_bstr().to_string();
            let Some(branch) = name.strip_prefix(&local) else {
                continue;
            };
            if p.answer(branch).is_none() {
                continue;
            }
            let mut r = r;
            if let Ok(c) = r.peel_to_commit() {
                p.tips.insert(branch.to_string(), c.id);
            }
        }
        *self.prefetched.borrow_mut() = Some(p);
        Ok(())
    }

    /// Branches under `prefix` on the remote and their tips (`git
    /// ls-remote`: no objects are fetched).
    pub fn remote_branches(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
        let pattern = format!("refs/heads/{prefix}*");
        let out = self.git.output(
            &["ls-remote", "--heads", "--", self.remote(), &pattern],
            None,
        )?;
        if !out.status.success() {
            return Err(self.git.failure(&["ls-remote"], &out));
        }
        let mut found = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((sha, name)) = line.split_once('\t') else {
                continue;
            };
            let (Some(branch), Ok(id)) = (
                name.strip_prefix("refs/heads/"),
                ObjectId::from_hex(sha.trim().as_bytes()),
            ) else {
                continue;
            };
            found.push((branch.to_string(), id));
        }
        Ok(found)
    }

    /// Create `branch` at `at` unless it exists; false when it did.
    pub fn create_branch(&self, branch: &str, at: ObjectId) -> Result<bool> {
        let req = push::Request {
            remote: self.remote(),
            commit: at,
            branch,
            expect: push::Expect::Absent,
            extra_refs: Vec::new(),
            options: Vec::new(),
        };
        Ok(push::push(&self.git, &req)? == push::Outcome::Pushed)
    }

    /// Delete `branch` if it is still at `expect`; false when it moved or
    /// was gone.
    pub fn delete_branch(&self, branch: &str, expect: ObjectId) -> Result<bool> {
        Ok(push::delete(&self.git, self.remote(), branch, expect)? == push::Outcome::Pushed)
    }

    /// Forget prefetched tips: the remote may have moved anywhere.
    pub fn invalidate(&self) {
        self.prefetched.borrow_mut().take();
    }

    /// `branches` moved on the remote (a pull request merged, its branch
    /// deleted): ask the remote for them again, and only them.
    pub fn moved(&self, branches: &[&str]) {
        if let Some(p) = self.prefetched.borrow_mut().as_mut() {
            p.moved.extend(branches.iter().map(|b| b.to_string()));
        }
    }

    /// Read a commit's manifests. If the cached clone's objects cannot be
    /// read (a damaged pack), the clone is rebuilt, `branch` fetched again,
    /// and its new tip read: the snapshot's `commit` tells which was read.
    pub fn read(&self, commit: ObjectId, branch: &str) -> Result<Snapshot> {
        if let Some(s) = self.last_read.borrow().as_ref()
            && s.commit == commit
        {
            return Ok(s.clone());
        }
        let first = self
            .repo()
            .and_then(|repo| tree::read_cached(&repo, commit, &mut self.blobs.borrow_mut()));
        match (first, &self.clone) {
            (Ok(s), _) => {
                *self.last_read.borrow_mut() = Some(s.clone());
                Ok(s)
            }
            (Err(e), Some(c)) => {
                tracing::warn!(error = %e, "cannot read the cached clone; rebuilding it");
                self.rebuild(c)?;
                let tip = self
                    .fetch(branch, 1)?
                    .ok_or_else(|| Error::setup(format!("the remote has no branch {branch:?}")))?;
                tree::read(&self.repo()?, tip)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// The checked-out branch (checkout mode), or the remote's default.
    pub fn default_branch(&self) -> Result<String> {
        match &self.source {
            Source::Url { url, .. } => cache::remote_default_branch(&self.git, url),
            Source::Checkout { dir, .. } => {
                let out = self
                    .git
                    .output(&["symbolic-ref", "--quiet", "--short", "HEAD"], None)?;
                if out.status.success() {
                    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
                } else {
                    Err(Error::setup(format!(
                        "{} has a detached HEAD; pass --branch (or set git.branch in hoist.toml)",
                        dir.display()
                    )))
                }
            }
        }
    }

    /// The first commit to plan on: `HEAD` for a checkout of `branch`
    /// (what the pipeline checked out), else the fetched tip.
    pub fn initial_tip(&self, branch: &str) -> Result<ObjectId> {
        if let Source::Checkout { .. } = &self.source
            && self.default_branch().ok().as_deref() == Some(branch)
        {
            let head = self.git.run(&["rev-parse", "--verify", "HEAD^{commit}"])?;
            return ObjectId::from_hex(head.trim().as_bytes())
                .map_err(|e| Error::new(format!("bad HEAD {:?}: {e}", head.trim())));
        }
        self.fetch(branch, 1)?
            .ok_or_else(|| Error::setup(format!("the remote has no branch {branch:?}")))
    }

    /// Bring the checkout to the pushed commit (checkout mode only).
    fn update_checkout(&self, commit: ObjectId, branch: &str) -> Option<String> {
        let Source::Checkout { .. } = &self.source else {
            return None;
        };
        let current = self.default_branch().ok();
        let hex = commit.to_string();
        let result = if current.as_deref() == Some(branch) {
            self.git.run(&["merge", "--ff-only", "--quiet", &hex])
        } else {
            self.git.run(&["checkout", "--quiet", "-B", branch, &hex])
        };
        result
            .err()
            .map(|e| format!("pushed {hex}, but the working tree was not updated to it: {e}"))
    }
}

/// At most this many commits of a base branch's history are walked at
/// once (a shallow clone has far fewer).
const HISTORY_WALK: usize = 5000;

impl Workspace {
    /// The commits of `base`'s history ([`HISTORY_WALK`] at most per walk).
    /// When the last base walked is among `base`'s ancestors (the branch
    /// moved forward: a merge), only the new commits are walked; its
    /// history is the last one's plus those.
    fn history(&self, repo: &gix::Repository, base: ObjectId) -> std::rc::Rc<HashSet<ObjectId>> {
        let last = self.history.borrow_mut().take();
        if let Some((tip, known)) = &last
            && *tip == base
        {
            let known = known.clone();
            *self.history.borrow_mut() = last;
            return known;
        }
        // Walk from `base`, stopping at commits of `known` (whose tip is
        // given); says whether that tip was reached.
        let walk = |known: Option<(ObjectId, &HashSet<ObjectId>)>| {
            let mut new = HashSet::new();
            let mut reached_tip = false;
            let mut stack = vec![base];
            while let Some(c) = stack.pop() {
                if let Some((tip, k)) = known
                    && k.contains(&c)
                {
                    reached_tip |= tip == c;
                    continue;
                }
                if new.len() > HISTORY_WALK || !new.insert(c) {
                    continue;
                }
                if let Some((_, _, parents)) = tree::commit_info(repo, c) {
                    stack.extend(parents);
                }
            }
            (new, reached_tip)
        };
        let history = match last {
            Some((tip, known)) => match walk(Some((tip, &known))) {
                // Every commit the walk stopped at is in the last history,
                // and the last tip is one of them: that history is all
                // `base` has besides the new commits.
                (new, true) => {
                    let mut all = std::rc::Rc::unwrap_or_clone(known);
                    all.extend(new);
                    all
                }
                _ => walk(None).0,
            },
            None => walk(None).0,
        };
        let history = std::rc::Rc::new(history);
        *self.history.borrow_mut() = Some((base, history.clone()));
        history
    }

    /// Are all commits on `tip` that are not on the checkout branch
    /// (`base`) hoist's own? Walks from `tip` until commits of the
    /// checkout branch's known history; any commit that is not hoist's, or
    /// that cannot be read (history cut by the shallow fetch), answers no —
    /// the safe answer, as "no" only means hoist builds on top instead of
    /// replacing.
    fn only_hoist_commits(
        &self,
        repo: &gix::Repository,
        tip: ObjectId,
        base: ObjectId,
        email: &str,
    ) -> bool {
        let base_history = self.history(repo, base);
        let mut seen = HashSet::new();
        let mut stack = vec![tip];
        while let Some(c) = stack.pop() {
            if base_history.contains(&c) || !seen.insert(c) {
                continue;
            }
            if seen.len() > 1000 {
                return false;
            }
            match tree::commit_info(repo, c) {
                Some((msg, committer, parents))
                    if super::message::is_hoist_message(&msg) && committer == email =>
                {
                    stack.extend(parents)
                }
                _ => return false,
            }
        }
        true
    }
}

/// Does the push branch's tip `p` already hold the proposed change? Yes
/// when its tree is the planned tree, or when it is one commit that makes
/// exactly these edits on its parent: the base branch moving on since
/// (other files, other people's merges) does not make hoist rewrite its
/// branch — a pull request under review keeps its head.
fn holds(
    repo: &gix::Repository,
    p: ObjectId,
    planned: ObjectId,
    edits: &[(String, Arc<String>)],
) -> Result<bool> {
    let tip_tree = tree::tree_of(repo, p)?;
    if tip_tree == planned {
        return Ok(true);
    }
    let Some((_, _, parents)) = tree::commit_info(repo, p) else {
        return Ok(false);
    };
    let [parent] = parents.as_slice() else {
        return Ok(false);
    };
    let Ok(before) = tree::read(repo, *parent) else {
        return Ok(false);
    };
    Ok(tree::write_tree(repo, &before, edits).is_ok_and(|t| t == tip_tree))
}

/// Create the commit object, signed by the git binary when configured.
fn make_commit(
    ws: &Workspace,
    repo: &gix::Repository,
    tree_id: ObjectId,
    parent: ObjectId,
    proposal: &Proposal,
    signing: Option<&(String, String)>,
) -> Result<ObjectId> {
    let Some((key, format)) = signing else {
        return tree::write_commit(repo, tree_id, parent, &proposal.author, &proposal.message);
    };
    let git = ws
        .git
        .clone()
        .setting("user.signingKey", key)
        .setting("gpg.format", format);
    let mut cmd_env = vec![
        ("GIT_AUTHOR_NAME", proposal.author.name.as_str()),
        ("GIT_AUTHOR_EMAIL", proposal.author.email.as_str()),
        ("GIT_COMMITTER_NAME", proposal.author.name.as_str()),
        ("GIT_COMMITTER_EMAIL", proposal.author.email.as_str()),
    ];
    let tree_hex = tree_id.to_string();
    let parent_hex = parent.to_string();
    let args = ["commit-tree", "-S", &tree_hex, "-p", &parent_hex, "-F", "-"];
    let mut cmd = git.command();
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in cmd_env.drain(..) {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot run git commit-tree: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(proposal.message.as_bytes())
            .map_err(|e| Error::new(format!("cannot write to git commit-tree: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(format!("git commit-tree failed: {e}")))?;
    if !out.status.success() {
        return Err(git.failure(&args, &out));
    }
    let hex = String::from_utf8_lossy(&out.stdout);
    ObjectId::from_hex(hex.trim().as_bytes())
        .map_err(|e| Error::new(format!("git commit-tree printed {:?}: {e}", hex.trim())))
}

/// Sleep before retry `attempt` (1-based): exponential from 100 ms,
/// capped at 2 s, half of it random so racing writers spread out.
fn backoff(attempt: u32) {
    crate::core::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
        .sleep(attempt);
}

/// Run the loop. `plan` sees each candidate tree (the first one may be
/// `initial`, already read) and proposes edits, or `None` for no change,
/// along with whatever it wants to report about that tree (diagnostics,
/// counts). The report of the last tree planned comes back whatever the
/// outcome, so a caller can show it even when the push failed.
pub fn persist<R, F>(
    ws: &Workspace,
    target: &Target,
    initial: Option<Snapshot>,
    mut plan: F,
) -> (Result<(Done, Vec<String>)>, Option<R>)
where
    F: FnMut(&Snapshot) -> Result<(Option<Proposal>, R)>,
{
    let mut report = None;
    let result = run_loop(ws, target, initial, |snap| {
        let (proposal, r) = plan(snap)?;
        report = Some(r);
        Ok(proposal)
    });
    (result, report)
}

fn run_loop<F>(
    ws: &Workspace,
    target: &Target,
    initial: Option<Snapshot>,
    mut plan: F,
) -> Result<(Done, Vec<String>)>
where
    F: FnMut(&Snapshot) -> Result<Option<Proposal>>,
{
    let mut warnings = Vec::new();
    let mut initial = initial;
    let separate = target.push_branch != target.checkout_branch;
    let deep = if separate { 50 } else { 1 };
    let mut last_reason = String::new();
    for attempt in 1..=target.max_attempts.max(1) {
        if attempt > 1 {
            backoff(attempt - 1);
        }
        let reuse = initial.take();
        // The first attempt plans on the tree the caller already read;
        // with a separate push branch the checkout branch's recent history
        // is needed too (to recognise hoist's own commits), so it is fetched.
        let checkout_tip = match &reuse {
            Some(s) if !separate => s.commit,
            _ => ws.fetch(&target.checkout_branch, deep)?.ok_or_else(|| {
                Error::new(format!(
                    "the remote has no branch {:?}",
                    target.checkout_branch
                ))
            })?,
        };
        let repo = ws.repo()?;
        let (base, expect, existing) = if separate {
            match ws.fetch(&target.push_branch, deep)? {
                None => (checkout_tip, Expect::Absent, None),
                Some(p) if ws.only_hoist_commits(&repo, p, checkout_tip, &target.email) => {
                    (checkout_tip, Expect::At(p), Some(p))
                }
                Some(_) if target.refuse_foreign => {
                    return Err(Error::new(format!(
                        "{} has commits that are not hoist's; hoist leaves the branch alone (merge or delete it to let hoist continue)",
                        target.push_branch
                    )));
                }
                Some(p) => {
                    tracing::info!(branch = %target.push_branch, "the push branch has commits that are not hoist's; building on top of them");
                    (p, Expect::At(p), Some(p))
                }
            }
        } else {
            (checkout_tip, Expect::At(checkout_tip), None)
        };
        let snap = match reuse {
            Some(s) if s.commit == base => s,
            _ => {
                let branch = if base == checkout_tip {
                    &target.checkout_branch
                } else {
                    &target.push_branch
                };
                let s = ws.read(base, branch)?;
                if s.commit != base {
                    // The clone was rebuilt; start over from the fetch.
                    continue;
                }
                s
            }
        };
        let Some(proposal) = plan(&snap)? else {
            return Ok((Done::UpToDate { tip: base }, warnings));
        };
        // Trees are built in memory: a plan that changes nothing, or that
        // the bot branch already holds, writes nothing to disk.
        let mut built = repo.clone().with_object_memory();
        let tree_id = tree::write_tree(&built, &snap, &proposal.edits)?;
        if tree_id == snap.tree {
            return Ok((Done::UpToDate { tip: base }, warnings));
        }
        if let Some(p) = existing
            && holds(&built, p, tree_id, &proposal.edits)?
        {
            return Ok((Done::Holds { tip: p }, warnings));
        }
        // The commit goes out: its trees and blobs go to disk for git.
        for (kind, data) in built
            .objects
            .take_object_memory()
            .iter()
            .flat_map(|m| m.values())
        {
            gix::objs::Write::write_buf(&repo.objects, *kind, data)
                .map_err(|e| Error::new(format!("cannot write a git object: {e}")))?;
        }
        let commit = make_commit(ws, &repo, tree_id, base, &proposal, target.signing.as_ref())?;
        let req = push::Request {
            remote: ws.remote(),
            commit,
            branch: &target.push_branch,
            expect,
            extra_refs: target.extra_refs.clone(),
            options: target.push_options.clone(),
        };
        let pushed = push::push(&ws.git, &req);
        match &pushed {
            // The compare-and-swap held: the branch is where hoist put it,
            // and nothing else is known to have moved.
            Ok(Outcome::Pushed) if target.extra_refs.is_empty() => {
                if let Some(p) = ws.prefetched.borrow_mut().as_mut() {
                    p.learn(&target.push_branch, Some(commit));
                }
            }
            _ => ws.invalidate(),
        }
        match pushed? {
            Outcome::Pushed => {
                if target.update_checkout {
                    warnings.extend(ws.update_checkout(commit, &target.push_branch));
                }
                return Ok((
                    Done::Pushed {
                        commit,
                        parent: base,
                        branch: target.push_branch.clone(),
                        attempts: attempt,
                    },
                    warnings,
                ));
            }
            Outcome::Stale(reason) => {
                tracing::info!(attempt, %reason, branch = %target.push_branch, "the branch moved; fetching and planning again");
                last_reason = reason;
            }
        }
    }
    Err(Error::new(format!(
        "gave up after {} push attempts: {} kept moving ({last_reason}); run again later or raise --max-attempts",
        target.max_attempts.max(1),
        target.push_branch
    )))
}
