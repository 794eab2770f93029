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

/// The reconcile outcomes recorded in `comment` for `env`: (ok, when).
fn recorded(comment: &str, env: &str) -> Option<(bool, i64)> {
    let start = comment.find(&format!("{MARK}{env}:"))? + MARK.len() + env.len() + 1;
    let rest = &comment[start..];
    let end = rest.find(" -->")?;
    let (outcome, when) = rest[..end].split_once(':')?;
    Some((outcome == "success", crate::core::time::parse(when)?))
}

/// After Flux reported `env` reconciled (`ok`) at revision `sha` at time
/// `at`: comment once on each recent hoist promotion into `env` whose
/// merge commit `sha` contains. Returns the pull requests commented on.
pub fn note_reconciled(
    f: &dyn Forge,
    env: &str,
    sha: &str,
    ok: bool,
    at: i64,
    what: &str,
) -> forge::Result<Vec<u64>> {
    let mut done = Vec::new();
    let own = |p: &PullRequest| {
        p.head_branch == format!("hoist/{env}")
            || p.head_branch.starts_with(&format!("hoist/{env}/"))
    };
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
        if comments
            .iter()
            .any(|c| recorded(c, env).is_some_and(|(o, _)| o == ok))
        {
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
        done.push(pr.number);
    }
    Ok(done)
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
                human(soaked),
                human(soak.as_secs())
            )));
        }
    }
    Ok(None)
}

fn human(s: u64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
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
    }
}
