//! `git push` as a compare-and-swap.
//!
//! Every push names the value hoist expects the branch to have
//! (`--force-with-lease=refs/heads/B:<expected>`, empty = must not exist).
//! The server compares and updates the ref atomically, so a push never
//! replaces a commit hoist has not seen. `--porcelain` gives one parseable
//! line per ref, which is how a lost race ("stale info", "fetch first") is
//! told apart from a refusal (hook, protected branch) or a transport error.

use gix::ObjectId;

use super::{Error, Git, Result};

/// What the pushed branch must hold before the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Absent,
    At(ObjectId),
}

/// A push request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Remote name or URL.
    pub remote: &'a str,
    pub commit: ObjectId,
    pub branch: &'a str,
    pub expect: Expect,
    /// Extra destinations (from `push.refspec`), pushed atomically with the
    /// branch; a leading `+` forces one.
    pub extra_refs: Vec<String>,
    /// `git push -o` values.
    pub options: Vec<String>,
}

/// How a push ended (transport errors are `Err`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pushed,
    /// The branch moved (lost race): fetch, re-plan, try again.
    Stale(String),
}

/// One `--porcelain` ref line: flag, destination, summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefStatus {
    pub flag: char,
    pub dst: String,
    pub summary: String,
}

/// Parse `git push --porcelain` stdout.
pub fn parse_porcelain(stdout: &str) -> Vec<RefStatus> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let flag = parts.next()?;
            let refs = parts.next()?;
            let summary = parts.next().unwrap_or("").to_string();
            let mut chars = flag.chars();
            let f = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            let dst = refs.split_once(':').map_or(refs, |(_, d)| d).to_string();
            Some(RefStatus {
                flag: f,
                dst,
                summary,
            })
        })
        .collect()
}

/// Does a rejected ref's summary mean another writer got there first?
/// Besides the client-side `[rejected]` (stale info, fetch first,
/// non-fast-forward), the server refuses with `failed to update ref` /
/// `cannot lock ref` when two pushes reach the ref at the same moment and
/// its compare-and-swap fails — a lost race as well.
fn lost_race(summary: &str) -> bool {
    if summary.contains("atomic push failed") {
        return false;
    }
    summary.starts_with("[rejected]")
        || (summary.starts_with("[remote rejected]")
            && [
                "failed to update ref",
                "failed to lock",
                "cannot lock ref",
                "incorrect old value",
            ]
            .iter()
            .any(|m| summary.contains(m)))
}

pub fn push(git: &Git, req: &Request<'_>) -> Result<Outcome> {
    let dst = format!("refs/heads/{}", req.branch);
    let lease = match req.expect {
        Expect::Absent => format!("--force-with-lease={dst}:"),
        Expect::At(id) => format!("--force-with-lease={dst}:{id}"),
    };
    let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), lease];
    if !req.extra_refs.is_empty() {
        args.push("--atomic".into());
    }
    for o in &req.options {
        args.push(format!("--push-option={o}"));
    }
    args.push("--".into());
    args.push(req.remote.into());
    args.push(format!("{}:{dst}", req.commit));
    for r in &req.extra_refs {
        // A leading `+` (from push.refspec) forces that destination.
        match r.strip_prefix('+') {
            Some(d) => args.push(format!("+{}:{d}", req.commit)),
            None => args.push(format!("{}:{r}", req.commit)),
        }
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = git.output(&argv, None)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let statuses = parse_porcelain(&stdout);
    let ours = statuses.iter().find(|s| s.dst == dst);
    match ours {
        Some(s) if matches!(s.flag, ' ' | '+' | '*' | '=') && out.status.success() => {
            Ok(Outcome::Pushed)
        }
        Some(s) if s.flag == '!' && lost_race(&s.summary) => Ok(Outcome::Stale(s.summary.clone())),
        Some(s) if s.flag == '!' => {
            // [remote rejected] (a hook, branch protection), or an atomic
            // push failing because a push.refspec destination was refused.
            let other = statuses.iter().find(|o| {
                o.dst != dst && o.flag == '!' && !o.summary.contains("atomic push failed")
            });
            let why = other.map_or(s.summary.clone(), |o| format!("{}: {}", o.dst, o.summary));
            Err(Error::new(super::redact(
                &format!("the remote refused the push to {}: {why}", req.branch),
                git.credentials(),
            )))
        }
        _ => Err(git.failure(&argv, &out)),
    }
}

/// Delete `branch` on `remote` if it still points at `expect`. `Stale`
/// when it moved (or is already gone).
pub fn delete(git: &Git, remote: &str, branch: &str, expect: ObjectId) -> Result<Outcome> {
    let dst = format!("refs/heads/{branch}");
    let lease = format!("--force-with-lease={dst}:{expect}");
    let refspec = format!(":{dst}");
    let argv = ["push", "--porcelain", &lease, "--", remote, &refspec];
    let out = git.output(&argv, None)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match parse_porcelain(&stdout).iter().find(|s| s.dst == dst) {
        Some(s) if s.flag == '-' && out.status.success() => Ok(Outcome::Pushed),
        Some(s) if s.flag == '!' && lost_race(&s.summary) => Ok(Outcome::Stale(s.summary.clone())),
        _ => Err(git.failure(&argv, &out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines() {
        let out = "To /tmp/r.git\n!\tabc:refs/heads/main\t[rejected] (stale info)\n \tabc:refs/heads/x\tdeadbee..abc\nDone\n";
        let s = parse_porcelain(out);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].flag, '!');
        assert_eq!(s[0].dst, "refs/heads/main");
        assert_eq!(s[0].summary, "[rejected] (stale info)");
        assert_eq!(s[1].flag, ' ');
        assert!(lost_race("[rejected] (fetch first)"));
        assert!(lost_race("[remote rejected] (failed to update ref)"));
        assert!(!lost_race("[remote rejected] (pre-receive hook declined)"));
        assert!(!lost_race("[rejected] (atomic push failed)"));
    }
}
