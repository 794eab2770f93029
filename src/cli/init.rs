//! `hoist init`: propose a hoist.toml for an existing Flux fleet
//! repository (`hoist::setup::init`), and with `--split-image-tags` move markers
//! out of kustomization entry files (`hoist::mutate::split`); show, then write.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::{Fatal, diff_style, exit, plural, report};
use hoist::core::diag::Diag;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Print the proposal (with --split-image-tags: the diff) instead of
    /// writing anything.
    #[arg(long)]
    pub print: bool,
    /// Replace an existing hoist.toml.
    #[arg(long)]
    pub force: bool,
    /// Move marked `images:` entries out of kustomization entry files into
    /// image-tags.yaml transformers beside them. Shows the diff first; asks
    /// before writing on a terminal, else writes only with --yes.
    #[arg(long)]
    pub split_image_tags: bool,
    /// With --split-image-tags: write without asking.
    #[arg(long, short = 'y', requires = "split_image_tags")]
    pub yes: bool,
}

pub fn run(args: &InitArgs) -> Result<i32, Fatal> {
    let proposal =
        hoist::setup::init::propose(&args.repo, args.split_image_tags).map_err(Fatal::usage)?;
    // The proposal must be a configuration hoist accepts.
    hoist::config::parse(&proposal.toml, "hoist.toml (proposed)")?;
    if !args.split_image_tags {
        if args.print {
            print!("{}", proposal.toml);
            return Ok(exit::OK);
        }
        let (changes, kept) = proposal.changes(&args.repo, args.force);
        let path = args.repo.join("hoist.toml");
        if kept {
            return Err(Fatal::usage(
                Diag::error("hoist.toml exists; --print shows the proposal, --force replaces it")
                    .at(path.display().to_string(), None),
            ));
        }
        hoist::setup::init::write_changes(&args.repo, &changes).map_err(Fatal::usage)?;
        anstream::eprintln!(
            "hoist init: wrote {}; next: hoist config check --repo {} and hoist ladder --repo {}",
            path.display(),
            args.repo.display(),
            args.repo.display()
        );
        return Ok(exit::OK);
    }

    report(&proposal.split.diags);
    let failed = proposal.split.diags.iter().any(Diag::is_error);
    let moved = proposal.split.moved;
    let (changes, keep_toml) = proposal.changes(&args.repo, args.force);
    for c in &changes {
        let d = match &c.old {
            Some(old) => hoist::mutate::diff::unified(&c.path, old, &c.new, &diff_style),
            None => hoist::mutate::diff::created(&c.path, &c.new, &diff_style),
        };
        anstream::print!("{d}");
    }
    let summary = |verb: &str| {
        format!(
            "{} {verb} out of kustomization entry files{}",
            plural(moved, "`images:` entry"),
            if keep_toml {
                "; hoist.toml kept (--force replaces it)"
            } else {
                ""
            }
        )
    };
    let code = if failed { exit::FOUND } else { exit::OK };
    if changes.is_empty() {
        anstream::eprintln!("hoist init: nothing to change ({})", summary("moved"));
        return Ok(code);
    }
    if args.print {
        return Ok(code);
    }
    let confirmed = args.yes
        || (std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal()
            && ask(changes.len()));
    if !confirmed {
        anstream::eprintln!(
            "hoist init: nothing written ({}); run again with --yes to write {}",
            summary("to move"),
            plural(changes.len(), "file")
        );
        return Ok(code);
    }
    hoist::setup::init::write_changes(&args.repo, &changes).map_err(Fatal::usage)?;
    anstream::eprintln!(
        "hoist init: wrote {} ({}); next: hoist lint --repo {}",
        plural(changes.len(), "file"),
        summary("moved"),
        args.repo.display()
    );
    Ok(code)
}

/// Ask on the terminal; anything but y/yes is no.
fn ask(files: usize) -> bool {
    anstream::eprint!("Write {}? [y/N] ", plural(files, "file"));
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
