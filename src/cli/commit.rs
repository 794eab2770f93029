//! `hoist apply` (committing): the work is [`crate::commit`]; this file
//! turns flags into its overrides and its report into output.

use super::apply::ApplyArgs;
use super::{Fatal, exit, plural, report, scan_progress};
use crate::commit::{self, Failure, Outcome, Overrides, Repository};
use crate::diag::Diag;

pub fn run(args: &ApplyArgs) -> Result<i32, Fatal> {
    let repository = match &args.url {
        Some(url) => Repository::Url {
            url: url.clone(),
            state_dir: args
                .state_dir
                .clone()
                .unwrap_or_else(crate::git::cache::default_state_dir),
        },
        None => Repository::Checkout {
            dir: args.target.repo.clone(),
        },
    };
    let overrides = Overrides {
        config: args.target.config.clone(),
        snapshot: args.tags.registry_snapshot.clone(),
        branch: args.branch.clone(),
        push_branch: args.push_branch.clone(),
        remote: args.remote.clone(),
        automation: args.automation.clone(),
        max_attempts: args.max_attempts,
        token_env: args.token_env.clone(),
        auth: args.auth,
    };
    let r = match commit::commit(&repository, &overrides, &scan_progress()) {
        Ok(r) => r,
        Err(Failure::Setup(diags)) => return Err(diags.into()),
        Err(Failure::Failed(diags)) => {
            return Err(Fatal {
                code: exit::FOUND,
                diags,
            });
        }
    };
    report(&r.diags);
    for w in &r.warnings {
        report(&[Diag::warning(w.clone())]);
    }
    match r.outcome {
        Outcome::Suspended => {
            anstream::eprintln!(
                "hoist apply: the ImageUpdateAutomation is suspended; nothing to do"
            );
        }
        Outcome::UpToDate { branch, tip } => {
            anstream::eprintln!("hoist apply: {branch} is up to date at {}", short(&tip));
        }
        Outcome::Pushed {
            branch,
            commit,
            attempts,
            files,
            changes,
        } => anstream::eprintln!(
            "hoist apply: pushed {} to {branch} ({}, {}{})",
            short(&commit),
            plural(changes, "change"),
            plural(files, "file"),
            if attempts > 1 {
                format!(", after {attempts} attempts")
            } else {
                String::new()
            }
        ),
    }
    Ok(if r.diags.iter().any(Diag::is_error) {
        exit::FOUND
    } else {
        exit::OK
    })
}

fn short(id: &gix::ObjectId) -> String {
    id.to_string()[..12].to_string()
}
