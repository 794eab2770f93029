//! `hoist apply` (committing): the work is [`hoist::run::session`]; this file
//! turns flags into its overrides and its report into output.

use super::apply::ApplyArgs;
use super::{Fatal, exit, plural, report, scan_progress};
use hoist::core::diag::Diag;
use hoist::run::session::{self as commit, Failure, Outcome};

pub fn run(args: &ApplyArgs) -> Result<i32, Fatal> {
    let (repository, overrides) =
        args.git
            .request(&args.target, &args.tags, args.push_branch.clone());
    let reports = match commit::commit_all(&repository, &overrides, &scan_progress()) {
        Ok(r) => r,
        Err(f) => return Err(fatal(f)),
    };
    // One commit per automation plans the same policies each time: say
    // each finding once.
    let mut said: Vec<Diag> = Vec::new();
    let mut errors = false;
    for (label, r) in &reports {
        let fresh: Vec<Diag> = r
            .diags
            .iter()
            .filter(|d| !said.contains(d))
            .cloned()
            .collect();
        report(&fresh);
        errors |= r.diags.iter().any(Diag::is_error);
        said.extend(fresh);
        for w in &r.warnings {
            report(&[Diag::warning(w.clone())]);
        }
        let who = label
            .as_ref()
            .map_or(String::new(), |l| format!("as {l}: "));
        match &r.outcome {
            Outcome::Suspended => {
                anstream::eprintln!(
                    "hoist apply: the ImageUpdateAutomation is suspended; nothing to do"
                );
            }
            Outcome::UpToDate { branch, tip }
            | Outcome::Holds {
                branch, head: tip, ..
            } => {
                anstream::eprintln!("hoist apply: {who}{branch} is up to date at {}", short(tip));
            }
            Outcome::Pushed {
                branch,
                commit,
                attempts,
                files,
                changes,
            } => anstream::eprintln!(
                "hoist apply: {who}pushed {} to {branch} ({}, {}{})",
                short(commit),
                plural(*changes, "change"),
                plural(*files, "file"),
                if *attempts > 1 {
                    format!(", after {attempts} attempts")
                } else {
                    String::new()
                }
            ),
        }
    }
    Ok(if errors { exit::FOUND } else { exit::OK })
}

/// A failed commit run: setup problems exit 2, the rest 1.
pub fn fatal(f: Failure) -> Fatal {
    match f {
        Failure::Setup(diags) => diags.into(),
        Failure::Failed(diags) => Fatal {
            code: exit::FOUND,
            diags,
        },
    }
}

pub fn short(id: &gix::ObjectId) -> String {
    id.to_string()[..12].to_string()
}
