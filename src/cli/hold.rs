//! `hoist hold ENV|--all` and `hoist release ENV|--all`: the same
//! persisted hold as `/hoist hold` (a `hoist-hold/<env>` branch on the
//! remote), set or lifted from a terminal or a pipeline, for one
//! environment or every one (an incident, a holiday).

use clap::Args;

use super::commit::fatal;
use super::{Fatal, exit};
use hoist::core::diag::Diag;

#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The environment.
    #[arg(
        value_name = "ENV",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub env: Option<String>,
    /// Every environment of the ladder.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub session: super::SessionArgs,
}

/// Hold (`on`) or release what `args` names.
pub fn run(args: &HoldArgs, on: bool) -> Result<i32, Fatal> {
    let verb = if on { "hold" } else { "release" };
    let Some(session) = args.session.open(verb, false)? else {
        return Ok(exit::OK);
    };
    let ladder = session.ladder().map_err(fatal)?;
    let envs: Vec<&str> = match &args.env {
        Some(env) => match ladder.rung(env) {
            Some(r) => vec![r.name.as_str()],
            None => {
                let known: Vec<&str> = ladder.rungs.iter().map(|r| r.name.as_str()).collect();
                return Err(Fatal::usage(Diag::error(format!(
                    "no environment {env:?} in hoist.toml (known: {})",
                    known.join(", ")
                ))));
            }
        },
        None => ladder.rungs.iter().map(|r| r.name.as_str()).collect(),
    };
    if envs.is_empty() {
        return Err(Fatal::usage(Diag::error(
            "hoist.toml declares no environments to hold",
        )));
    }
    let changed = hoist::run::climb::set_holds(&session, &envs, on).map_err(fatal)?;
    for env in &envs {
        let state = match (changed.contains(env), on) {
            (true, true) => "is on hold: automatic changes wait",
            (false, true) => "was already on hold",
            (true, false) => "is released: automatic changes resume with the next run",
            (false, false) => "was not on hold",
        };
        anstream::eprintln!("hoist {verb}: {env} {state}");
    }
    Ok(exit::OK)
}
