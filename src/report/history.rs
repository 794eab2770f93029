//! What [`super::delivery`] computes from, read back: hoist's landings on
//! the base branch of a checkout (its first-parent history, each commit
//! with hoist's trailers or a merge of one), and, with a forge, the
//! pull requests that merged them and the reconcile notes on those.

use std::collections::BTreeMap;
use std::path::Path;

use super::delivery::Landing;
use crate::core::diag::Diag;
use crate::decide::ladder::{Ladder, Mode};

/// At most this many first-parent commits are read.
const MAX_COMMITS: usize = 50_000;

/// The image of policy `ns`, `name` (from the fleet's Flux objects).
pub type ImageOf<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// hoist's trailers in a commit message: (environment, images, rollback).
/// An image is its policy's (`Hoist-Policy`), else the repository of
/// `Hoist-Image` when that names one.
fn trailers(
    message: &str,
    ladder: &Ladder,
    image_of: ImageOf<'_>,
) -> Option<(String, Vec<String>, bool)> {
    let mut env = None;
    let mut images = Vec::new();
    let mut rollback = false;
    let mut policy = None;
    for l in message.lines() {
        let l = l.trim_end();
        if let Some(e) = l.strip_prefix("Hoist-Environment: ") {
            env = Some(e.trim().to_string());
        } else if let Some(p) = l.strip_prefix("Hoist-Policy: ") {
            policy = p.trim().split_once('/').and_then(|(ns, n)| image_of(ns, n));
        } else if let Some(i) = l.strip_prefix("Hoist-Image: ") {
            match policy.take() {
                Some(image) => images.push(image),
                None if i.contains('/') => images.push(repository_of(i.trim())),
                None => {}
            }
        } else if l.strip_prefix("Hoist-Rollback: ").is_some() {
            rollback = true;
        }
    }
    let env = env.filter(|e| ladder.rung(e).is_some())?;
    images.sort();
    images.dedup();
    Some((env, images, rollback))
}

/// `host/path` of `host/path:tag@digest`.
fn repository_of(reference: &str) -> String {
    let r = reference.split('@').next().unwrap_or(reference);
    match r.rfind(':') {
        Some(i) if !r[i..].contains('/') => r[..i].to_string(),
        _ => r.to_string(),
    }
}

/// The base branch's history as [`landings`] read it.
#[derive(Debug, Default)]
pub struct History {
    /// hoist's landings that Git alone identifies, newest first.
    pub landings: Vec<Landing>,
    /// The other first-parent commits (sha, when): a squash or a rebase
    /// whose message lost the trailers may be a hoist pull request's
    /// merge, which [`with_pulls`] tells by the forge's record.
    pub others: Vec<(String, i64, u64)>,
}

/// hoist's landings on `branch` (default: HEAD) of the checkout at
/// `root` since `from` (seconds), newest first.
pub fn landings(
    root: &Path,
    branch: Option<&str>,
    ladder: &Ladder,
    from: i64,
    image_of: ImageOf<'_>,
) -> Result<History, String> {
    let repo =
        gix::open(root).map_err(|e| format!("{}: not a Git checkout: {e}", root.display()))?;
    let tip = match branch {
        Some(b) => [
            format!("refs/remotes/origin/{b}"),
            format!("refs/heads/{b}"),
        ]
        .iter()
        .find_map(|r| repo.find_reference(r.as_str()).ok())
        .and_then(|mut r| r.peel_to_id().ok())
        .map(|id| id.detach())
        .ok_or_else(|| {
            format!(
                "{}: no branch {b:?} (neither origin/{b} nor {b})",
                root.display()
            )
        })?,
        None => repo
            .head_id()
            .map_err(|e| format!("{}: HEAD: {e}", root.display()))?
            .detach(),
    };
    Ok(landings_from(&repo, tip, ladder, from, image_of))
}

/// [`landings`] from commit `tip` of `repo`; a shallow history ends where
/// the clone does.
pub fn landings_from(
    repo: &gix::Repository,
    tip: gix::ObjectId,
    ladder: &Ladder,
    from: i64,
    image_of: ImageOf<'_>,
) -> History {
    let info = |id: gix::ObjectId| -> Option<(String, i64, Vec<gix::ObjectId>)> {
        let c = repo.find_commit(id).ok()?;
        let msg = c.message_raw().ok()?.to_string();
        let at = c.time().ok()?.seconds;
        let parents = c.parent_ids().map(|p| p.detach()).collect();
        Some((msg, at, parents))
    };
    let mut out = History::default();
    let mut at_commit = Some(tip);
    for n in 0..MAX_COMMITS {
        let Some(id) = at_commit else { break };
        let seq = (MAX_COMMITS - n) as u64;
        let Some((msg, at, parents)) = info(id) else {
            // A shallow clone's edge: the history ends here.
            break;
        };
        if at < from {
            break;
        }
        // A push carries the trailers itself (so do squashed and rebased
        // merges); a merge commit's second parent is the bot branch.
        let found = trailers(&msg, ladder, image_of).or_else(|| {
            parents
                .get(1)
                .and_then(|p| info(*p))
                .and_then(|(m, _, _)| trailers(&m, ladder, image_of))
        });
        if let Some((environment, images, rollback)) = found {
            out.landings.push(Landing {
                environment,
                commit: id.to_string(),
                at,
                seq,
                images,
                rollback,
                pull: None,
                reconciled: Vec::new(),
            });
        } else {
            out.others.push((id.to_string(), at, seq));
        }
        at_commit = parents.first().copied();
    }
    out
}

/// Attach to each landing the pull request that merged it (by its merge
/// commit) and the reconcile notes on it, and turn the other commits that
/// merged a hoist pull request into landings (environment from its
/// branch, images from its record through `image_of(ns, name)`): one
/// listing per environment that lands by pull request (and one for
/// rollbacks), one comment read per landing found. A forge error is a
/// warning: the figures then end at the landings.
pub fn with_pulls(
    ladder: &Ladder,
    history: &mut History,
    image_of: ImageOf<'_>,
    notes: bool,
    since: i64,
) -> Vec<Diag> {
    let mut diags = Vec::new();
    let mut forges = crate::run::climb::Forges::new(ladder);
    let f = match forges.get(None) {
        Ok(Some(f)) => f,
        Ok(None) => return diags,
        Err(e) => {
            diags.push(Diag::warning(format!("reconcile records unknown: {e}")));
            return diags;
        }
    };
    // merge commit → (pull request, its environment, rollback).
    let mut merged: BTreeMap<String, (crate::propose::forge::PullRequest, String, bool)> =
        BTreeMap::new();
    let mut prefixes: Vec<String> = ladder
        .rungs
        .iter()
        .filter(|r| r.mode != Mode::Push && r.repository.is_none())
        .map(|r| format!("hoist/{}", r.name))
        .collect();
    prefixes.push("hoist/rollback/".into());
    for prefix in prefixes {
        let list = match f.list_merged_since(&prefix, since) {
            Ok(list) => list,
            Err(e) => {
                diags.push(Diag::warning(format!(
                    "pull requests from {prefix} unknown: {e}"
                )));
                continue;
            }
        };
        for p in list {
            let rest = p.head_branch.trim_start_matches("hoist/");
            let (rest, rollback) = match rest.strip_prefix("rollback/") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let Some(rung) = ladder
                .rungs
                .iter()
                .find(|r| rest == r.name || rest.starts_with(&format!("{}/", r.name)))
            else {
                continue;
            };
            if !p.merge_commit.is_empty() {
                let env = rung.name.clone();
                merged.insert(p.merge_commit.clone(), (p, env, rollback));
            }
        }
    }
    for (sha, at, seq) in std::mem::take(&mut history.others) {
        let Some((p, env, rollback)) = merged.get(&sha) else {
            continue;
        };
        let mut images: Vec<String> = crate::decide::ladder::parse_record(&p.body)
            .map(|r| {
                r.changes
                    .iter()
                    .filter_map(|c| {
                        let mut parts = c.setter.split(':');
                        image_of(parts.next()?, parts.next()?)
                    })
                    .collect()
            })
            .unwrap_or_default();
        images.sort();
        images.dedup();
        history.landings.push(Landing {
            environment: env.clone(),
            commit: sha,
            at,
            seq,
            images,
            rollback: *rollback,
            pull: None,
            reconciled: Vec::new(),
        });
    }
    for l in history.landings.iter_mut() {
        let Some((p, _, _)) = merged.get(&l.commit) else {
            continue;
        };
        let n = p.number;
        l.pull = Some(n);
        if !notes {
            continue;
        }
        match f.comments(n) {
            Ok(comments) => {
                l.reconciled = comments
                    .iter()
                    .filter_map(|c| crate::propose::gate::recorded(c, &l.environment))
                    .collect();
            }
            Err(e) => diags.push(Diag::warning(format!(
                "reconcile notes of pull request #{n} unknown: {e}"
            ))),
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories() {
        assert_eq!(repository_of("ghcr.io/a/api:1.2"), "ghcr.io/a/api");
        assert_eq!(
            repository_of("localhost:5000/api:1@sha256:ab"),
            "localhost:5000/api"
        );
        assert_eq!(repository_of("localhost:5000/api"), "localhost:5000/api");
    }
}
