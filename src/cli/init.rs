//! `hoist init`: propose a hoist.toml for an existing Flux fleet
//! repository (`crate::init`), print it or write it.

use std::path::PathBuf;

use clap::Args;

use super::{Fatal, exit};
use crate::diag::Diag;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Print the proposal instead of writing <repo>/hoist.toml.
    #[arg(long)]
    pub print: bool,
    /// Replace an existing hoist.toml.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &InitArgs) -> Result<i32, Fatal> {
    let text = crate::init::propose(&args.repo).map_err(Fatal::usage)?;
    // The proposal must be a configuration hoist accepts.
    crate::config::parse(&text, "hoist.toml (proposed)")?;
    if args.print {
        print!("{text}");
        return Ok(exit::OK);
    }
    let path = args.repo.join("hoist.toml");
    if path.exists() && !args.force {
        return Err(Fatal::usage(
            Diag::error("hoist.toml exists; --print shows the proposal, --force replaces it")
                .at(path.display().to_string(), None),
        ));
    }
    std::fs::write(&path, &text).map_err(|e| {
        Fatal::usage(Diag::error(format!("cannot write: {e}")).at(path.display().to_string(), None))
    })?;
    anstream::eprintln!(
        "hoist init: wrote {}; next: hoist config check --repo {} and hoist ladder --repo {}",
        path.display(),
        args.repo.display(),
        args.repo.display()
    );
    Ok(exit::OK)
}
