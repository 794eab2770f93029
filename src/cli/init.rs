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
    let scan = crate::repo::walk(&args.repo).map_err(Fatal::usage)?;
    let mut clusters: Vec<String> = std::fs::read_dir(args.repo.join("clusters"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    clusters.sort();
    let origin = std::process::Command::new("git")
        .args(["remote", "get-url", "origin"])
        .current_dir(&args.repo)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let text = crate::init::scaffold(&scan.files, &clusters, origin.as_deref());
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
        "hoist init: wrote {} ({} environment(s)); next: hoist config check --repo {} and hoist ladder --repo {}",
        path.display(),
        clusters.len(),
        args.repo.display(),
        args.repo.display()
    );
    Ok(exit::OK)
}
