//! `hoist report`: the delivery measures of the ladder over a window, from
//! hoist's commits and pull requests. Reads only.

use clap::{Args, ValueEnum};

use super::{Fatal, exit, load_repo, report};
use hoist::core::diag::Diag;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    /// The window: days (30d), weeks (2w), a duration (12h) or a date
    /// (2026-11-01, UTC).
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// The branch whose history to read (default: [git] branch, else HEAD).
    #[arg(long)]
    pub branch: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Do not ask the forge for the reconcile notes (offline: lead times
    /// end at the landings).
    #[arg(long)]
    pub no_forge: bool,
}

pub fn run(args: &ReportArgs) -> Result<i32, Fatal> {
    let fleet = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let ladder = &fleet.config.ladder;
    if ladder.is_empty() {
        return Err(Fatal::usage(Diag::error(
            "no [[environment]] in hoist.toml: there is no ladder to report on (see docs/configuration.md)",
        )));
    }
    let now = hoist::core::time::now();
    let since = hoist::report::delivery::parse_since(&args.since, now)
        .map_err(|e| Fatal::usage(Diag::error(e)))?;
    // Lead times reach back to a build's first landing: read a window's
    // length (at most 30 days) before the start too.
    let from = since - (now - since).min(30 * 86_400);
    let branch = args
        .branch
        .as_deref()
        .or(fleet.config.git.branch.as_deref());
    let (objects, _) = hoist::decide::plan::collect_objects(&fleet.files, &fleet.config);
    let image_of = |ns: &str, name: &str| {
        hoist::decide::ladder::image_of(&objects, ns, name).map(|(_, i)| i.to_string())
    };
    let mut history =
        hoist::report::history::landings(&fleet.root, branch, ladder, from, &image_of)
            .map_err(|e| Fatal::usage(Diag::error(e)))?;
    let mut diags = Vec::new();
    if !args.no_forge {
        diags.extend(hoist::report::history::with_pulls(
            ladder,
            &mut history,
            &image_of,
            true,
            from,
        ));
    }
    let landings = history.landings;
    report(&diags);
    let sources = ladder
        .rungs
        .iter()
        .filter_map(|r| Some((r.name.clone(), r.promote_from.clone()?)))
        .collect();
    let order: Vec<String> = ladder.rungs.iter().map(|r| r.name.clone()).collect();
    let d = hoist::report::delivery::figures(&landings, &sources, &order, since, now);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default()),
        Output::Text => print!("{}", hoist::report::delivery::text(&d)),
    }
    Ok(exit::OK)
}
