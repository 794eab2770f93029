//! Gates on a rung: what must be true before builds move into it.
//!
//! - `freeze = ["Fri 16:00 - Mon 08:00 Europe/Berlin"]`: weekly (or
//!   daily, without weekdays) windows in a time zone, or a range of dates
//!   (`"2026-12-20 - 2027-01-04 Europe/Berlin"`), when nothing moves by
//!   itself (a person's explicit promotion needs `force`).
//! - `require_reconciled = true`: the rung promoted from must have
//!   reported (by Flux, through `hoist serve`) a successful reconcile of a
//!   revision containing its last promotion.
//! - `soak = "30m"`: and that success must be this old.
//!
//! The record of a reconcile is a comment hoist leaves on the promotion's
//! pull request (`reconciled in staging at 12:03:07, 94 s after merge`)
//! with a hidden marker carrying the outcome and time. It lives on the
//! forge, so it survives restarts and every replica reads the same; and
//! it is why these two gates need a source rung that lands by pull
//! request.

use crate::decide::ladder::{Ladder, Rung};
use crate::propose::forge::{self, Forge, PullRequest};

const MARK: &str = "<!-- hoist:reconciled:";

/// The marker a reconcile comment carries.
pub fn marker(env: &str, ok: bool, at: i64) -> String {
    format!(
        "{MARK}{env}:{}:{} -->",
        if ok { "success" } else { "failure" },
        crate::core::time::format(at)
    )
}

/// The reconcile outcome recorded in `comment` for `env`: (ok, when).
pub fn recorded(comment: &str, env: &str) -> Option<(bool, i64)> {
    let start = comment.find(&format!("{MARK}{env}:"))? + MARK.len() + env.len() + 1;
    let rest = &comment[start..];
    let end = rest.find(" -->")?;
    let (outcome, when) = rest[..end].split_once(':')?;
    Some((outcome == "success", crate::core::time::parse(when)?))
}

/// What [`note_reconciled`] found.
#[derive(Debug, Default)]
pub struct Noted {
    /// The pull requests commented on.
    pub pulls: Vec<u64>,
    /// The newest promotion the revision contains, when this is a
    /// failure, it never reconciled, and it was not rolled back yet (no
    /// [`rolled_back_marker`] comment): what an automatic rollback takes
    /// back. Read from the forge each time, so a repeated event after a
    /// crash finishes the rollback, and one after it does nothing.
    pub to_roll_back: Option<PullRequest>,
}

/// The promotions into `env` the revision `sha` contains, the newest
/// first (among its last five), each with its comments.
fn contained(
    f: &dyn Forge,
    env: &str,
    sha: &str,
) -> forge::Result<Vec<(PullRequest, Vec<String>)>> {
    let own = |p: &PullRequest| {
        p.head_branch == format!("hoist/{env}")
            || p.head_branch.starts_with(&format!("hoist/{env}/"))
    };
    let mut out = Vec::new();
    for pr in f
        .list_merged(&format!("hoist/{env}"))?
        .into_iter()
        .filter(own)
        .take(5)
    {
        if pr.merge_commit.is_empty() || !f.is_ancestor(&pr.merge_commit, sha)? {
            continue;
        }
        let comments = f.comments(pr.number)?;
        out.push((pr, comments));
    }
    Ok(out)
}

/// After Flux reported `env` reconciled (`ok`) at revision `sha` at time
/// `at`: comment once on each recent hoist promotion into `env` whose
/// merge commit `sha` contains.
pub fn note_reconciled(
    f: &dyn Forge,
    env: &str,
    sha: &str,
    ok: bool,
    at: i64,
    what: &str,
) -> forge::Result<Noted> {
    let mut noted = Noted::default();
    for (i, (pr, comments)) in contained(f, env, sha)?.into_iter().enumerate() {
        let outcomes: Vec<bool> = comments
            .iter()
            .filter_map(|c| recorded(c, env))
            .map(|(o, _)| o)
            .collect();
        let rolled = comments
            .iter()
            .any(|c| c.contains(&rolled_back_marker(env)));
        if i == 0 && !ok && !outcomes.contains(&true) && !rolled {
            noted.to_roll_back = Some(pr.clone());
        }
        if outcomes.contains(&ok) {
            continue;
        }
        // A success at a revision that also holds this promotion's
        // automatic rollback is the rollback's, not the promotion's.
        if ok && rolled && rollback_merged_into(f, env, pr.number, sha)? {
            continue;
        }
        let after = pr
            .merged_at
            .map(|m| format!(", {} s after merge", (at - m).max(0)))
            .unwrap_or_default();
        let text = if ok {
            format!(
                "reconciled in {env} at {}{after} ({what})",
                crate::core::time::clock(at)
            )
        } else {
            format!(
                "**failed** to reconcile in {env} at {}{after} ({what})",
                crate::core::time::clock(at)
            )
        };
        f.comment(
            pr.number,
            &format!(
                "{}\n{}\n{text}\n",
                crate::propose::MARKER,
                marker(env, ok, at)
            ),
        )?;
        noted.pulls.push(pr.number);
    }
    Ok(noted)
}

/// The marker of the comment hoist leaves on a promotion it rolled back
/// into `env` by itself.
pub fn rolled_back_marker(env: &str) -> String {
    format!("<!-- hoist:rolled-back:{env} -->")
}

const ROLLBACK_MARK: &str = "<!-- hoist:auto-rollback:";

/// The marker an automatic rollback's pull request body carries: which
/// promotion it takes back.
pub fn rollback_marker(pull: u64) -> String {
    format!("{ROLLBACK_MARK}{pull} -->")
}

/// Does `sha` contain a merged automatic rollback of promotion `pull`
/// into `env`?
fn rollback_merged_into(f: &dyn Forge, env: &str, pull: u64, sha: &str) -> forge::Result<bool> {
    let branch = format!("hoist/rollback/{env}");
    for rb in f.list_merged(&branch)? {
        if rb.head_branch == branch
            && rolled_back(&rb.body) == Some(pull)
            && !rb.merge_commit.is_empty()
            && f.is_ancestor(&rb.merge_commit, sha)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The promotion an automatic rollback's body says it takes back.
pub fn rolled_back(body: &str) -> Option<u64> {
    let start = body.find(ROLLBACK_MARK)? + ROLLBACK_MARK.len();
    body[start..].split(" -->").next()?.parse().ok()
}

/// After Flux reported `env` reconciled at `sha`: the open automatic
/// rollback (on `branch`) that this success makes needless, with the
/// promotion it would take back — the revision contains that promotion,
/// so the failure did not last.
pub fn needless_rollback(
    f: &dyn Forge,
    branch: &str,
    sha: &str,
) -> forge::Result<Option<(PullRequest, u64)>> {
    let open = f
        .list_open(branch)?
        .into_iter()
        .find(|p| p.head_branch == branch);
    let Some(open) = open else {
        return Ok(None);
    };
    let Some(pull) = rolled_back(&open.body) else {
        return Ok(None);
    };
    let promotion = f.pull(pull)?;
    if promotion.merge_commit.is_empty() || !f.is_ancestor(&promotion.merge_commit, sha)? {
        return Ok(None);
    }
    Ok(Some((open, pull)))
}

/// The freeze window `rung` is in at `now`, if any (its text).
pub fn frozen(rung: &Rung, now: i64) -> Option<&str> {
    rung.freeze
        .iter()
        .find(|w| w.contains(now))
        .map(|w| w.text.as_str())
}

/// Why `rung` may not move now, or `None`. `now` in seconds since the
/// epoch; `f` is the forge of the rung it promotes from (the gates that
/// need it are refused by the configuration without one).
pub fn blocked(
    f: Option<&dyn Forge>,
    ladder: &Ladder,
    rung: &Rung,
    now: i64,
) -> forge::Result<Option<String>> {
    if let Some(w) = frozen(rung, now) {
        return Ok(Some(format!("frozen ({w})")));
    }
    if !rung.require_reconciled && rung.soak.is_none() {
        return Ok(None);
    }
    let (Some(source), Some(f)) = (rung.promote_from.as_deref().and_then(|s| ladder.rung(s)), f)
    else {
        return Ok(None);
    };
    let prefix = format!("hoist/{}", source.name);
    let last = f
        .list_merged(&prefix)?
        .into_iter()
        .find(|p| p.head_branch == prefix || p.head_branch.starts_with(&format!("{prefix}/")));
    let Some(last) = last else {
        // Nothing was ever promoted into the source by hoist: nothing to wait for.
        return Ok(None);
    };
    let outcomes: Vec<(bool, i64)> = f
        .comments(last.number)?
        .iter()
        .filter_map(|c| recorded(c, &source.name))
        .collect();
    let success = outcomes.iter().filter(|(ok, _)| *ok).map(|(_, t)| *t).min();
    let Some(since) = success else {
        let failed = outcomes.iter().any(|(ok, _)| !ok);
        return Ok(Some(if failed {
            format!(
                "{} failed to reconcile pull request #{} (waiting for a success)",
                source.name, last.number
            )
        } else {
            format!(
                "waiting for {} to reconcile pull request #{}",
                source.name, last.number
            )
        }));
    };
    if let Some(soak) = rung.soak {
        let soaked = (now - since).max(0) as u64;
        if soaked < soak.as_secs() {
            return Ok(Some(format!(
                "soaking: {} has run pull request #{} for {} of {}",
                source.name,
                last.number,
                crate::core::time::human(soaked),
                crate::core::time::human(soak.as_secs())
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let t = crate::core::time::parse("2026-11-27T12:03:07Z").unwrap();
        let c = format!("text\n{}\nmore", marker("staging", true, t));
        assert_eq!(recorded(&c, "staging"), Some((true, t)));
        assert_eq!(recorded(&c, "stag"), None);
        assert_eq!(
            recorded(&marker("prod", false, t), "prod"),
            Some((false, t))
        );
        let body = format!("Rollback\n{}\nmore", rollback_marker(42));
        assert_eq!(rolled_back(&body), Some(42));
        assert_eq!(rolled_back("<!-- hoist:auto-rollback:x -->"), None);
        assert_eq!(rolled_back("no marker"), None);
    }
}
