//! `hoist config check`: validate hoist.toml and the ladder, offline.

use clap::{Args, Subcommand};

use super::{Fatal, exit, load_repo, plural, report};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate hoist.toml (images, policies, git, forge, environments)
    /// against the repository, without any network.
    ///
    /// Exit 0: valid (warnings may be printed); 1: problems in the
    /// repository (a file claimed by two environments); 2: config errors.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
}

pub fn run(cmd: &ConfigCommand) -> Result<i32, Fatal> {
    let ConfigCommand::Check(args) = cmd;
    let fleet = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let mut diags = fleet.diags.clone();
    diags.extend(hoist::decide::ladder::check(&fleet.config, &fleet.files));
    report(&diags);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let ladder = &fleet.config.ladder;
    let summary = if ladder.is_empty() {
        "no environments".to_string()
    } else {
        format!(
            "{}: {}",
            plural(ladder.rungs.len(), "environment"),
            hoist::decide::ladder::describe(ladder)
        )
    };
    anstream::eprintln!(
        "hoist config check: {} ({summary})",
        if errors == 0 { "ok" } else { "problems found" }
    );
    Ok(if errors == 0 { exit::OK } else { exit::FOUND })
}
