//! `hoist run`: carry builds up the ladder, rung by rung in ladder order.
//!
//! The loop itself is `hoist::run::climb`; this file parses flags and prints.

use clap::{Args, ValueEnum};

use super::commit::fatal;
use super::{Fatal, diff_style, exit, observe_repo, plural, report};
use hoist::core::diag::Diag;
use hoist::decide::ladder::{ForgeKind, Mode, RungPlan};
use hoist::report::output::{DryRunOutput, EnvironmentOutput, RunOutput};
use hoist::run::climb::{Climbed, in_words};
use hoist::run::session::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub session: super::SessionArgs,
    /// Print every rung's diff, promotions, statuses and pull request
    /// branch, title and body; write nothing anywhere.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: &RunArgs) -> Result<i32, Fatal> {
    if args.dry_run {
        return dry_run(args);
    }
    let before = hoist::core::requests::snapshot();
    let Some(mut session) = args.session.open("run", false)? else {
        return Ok(exit::OK);
    };
    let ladder = session.ladder().map_err(fatal)?;
    if ladder.is_empty() {
        return Err(Fatal::usage(Diag::error(
            "no [[environment]] in hoist.toml: nothing for `hoist run` to climb (use `hoist apply`, or see docs/configuration.md)",
        )));
    }
    let climbed = hoist::run::climb::climb(&mut session, &ladder);
    let mut results = RunOutput::default();
    for (env, c) in &climbed {
        let mut entry = EnvironmentOutput {
            environment: env.clone(),
            outcome: print_climbed("run", env, c, hoist::run::climb::forge_kind(&ladder)),
            ..Default::default()
        };
        if let Climbed::Done { report: r, actions } = c {
            entry.forge = actions.clone();
            // The commit a rung pushed (base or bot branch), in full.
            if let Outcome::Pushed { branch, commit, .. } = &r.outcome {
                entry.branch = Some(branch.clone());
                entry.commit = Some(commit.to_string());
            }
        }
        results.environments.push(entry);
    }
    results.requests = hoist::core::requests::since(&before);
    let left = hoist::propose::forge::http::RATE_LIMIT_REMAINING
        .load(std::sync::atomic::Ordering::Relaxed);
    results.forge_rate_limit_remaining = (left >= 0).then_some(left);
    if let Some((total, left)) = results.cost() {
        anstream::eprintln!(
            "hoist run: {total} request(s): {}{left}",
            results.requests_by_host()
        );
    }
    if args.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).unwrap_or_default()
        );
    }
    let problems = climbed.iter().any(|(_, c)| c.is_problem());
    Ok(if problems { exit::FOUND } else { exit::OK })
}

/// What a rung would write besides its diff: the status, and for a
/// pull-request rung its branch, title and body.
fn print_landing(
    ladder: &hoist::decide::ladder::Ladder,
    rung: &hoist::decide::ladder::Rung,
    p: &RungPlan,
) {
    use hoist::decide::ladder::body;
    if ladder.forge.is_some() {
        anstream::println!(
            "#   status hoist/{}: success: {}",
            rung.name,
            body::status_line(rung, p)
        );
    }
    if rung.mode == Mode::Push {
        return;
    }
    let limits = body::Limits::of(ladder);
    let (title, text) = body::render(rung, p, limits);
    let what = match rung.mode {
        Mode::AutoMerge => "and merge it",
        _ => "for review",
    };
    let noun = in_words(hoist::run::climb::forge_kind(ladder), "pull request");
    anstream::println!(
        "#   {noun} from {} into the base branch {what}: {title}",
        hoist::run::climb::bot_branch(rung, None)
    );
    for line in text.lines() {
        anstream::println!("#   | {line}");
    }
}

/// Report what one rung did (`hoist <cmd>: <env>: …` on stderr); returns
/// the outcome's one-line summary.
pub fn print_climbed(cmd: &str, env: &str, c: &Climbed, kind: ForgeKind) -> String {
    match c {
        Climbed::Deferred(why) => {
            anstream::eprintln!("hoist {cmd}: {env}: {}", in_words(kind, why));
            "deferred".to_string()
        }
        Climbed::Batched { .. } => {
            anstream::eprintln!(
                "hoist {cmd}: {env}: {}",
                hoist::run::comment::summarize_on(c, kind)
            );
            "batched".to_string()
        }
        Climbed::Gated(why) => {
            anstream::eprintln!("hoist {cmd}: {env}: waits: {}", in_words(kind, why));
            "gated".to_string()
        }
        Climbed::Held => {
            anstream::eprintln!(
                "hoist {cmd}: {env}: on hold (branch hoist-hold/{env}); `/hoist release {env}` resumes it"
            );
            "held".to_string()
        }
        Climbed::NotRun(why) => {
            report(&[Diag::warning(format!(
                "environment {env:?}: {}; not run",
                in_words(kind, why)
            ))]);
            "not-run".to_string()
        }
        Climbed::Failed(f) => {
            report(f.diags());
            "failed".to_string()
        }
        Climbed::Done { report: r, actions } => {
            report(&r.diags);
            for w in &r.warnings {
                report(&[Diag::warning(w.clone())]);
            }
            let line = r.outcome.to_string();
            anstream::eprintln!("hoist {cmd}: {env}: {line}");
            for a in actions {
                anstream::eprintln!("hoist {cmd}: {env}: {}", a.describe(kind));
            }
            line
        }
    }
}

/// Plan every rung and print what would happen: on the working tree
/// (`--repo`), or on the remote's tip (`--url`, read into the clone cache;
/// nothing is pushed).
fn dry_run(args: &RunArgs) -> Result<i32, Fatal> {
    // The same rule as the real run: outside a checkout, the repository is
    // the one hoist.toml names (the forge's, or `[git] url`), not the
    // directory.
    let remote = args.session.git.url.is_some()
        || (!args.session.target.repo.join(".git").exists() && {
            let cfg = hoist::config::load(
                &args.session.target.repo,
                args.session.target.config.as_deref(),
            )
            .map_err(Fatal::from)?;
            cfg.git.url.is_some() || cfg.ladder.forge.is_some()
        });
    let (ladder, plans, mut diags) = if remote {
        let Some(session) = args.session.open("run", true)? else {
            return Ok(exit::OK);
        };
        let ladder = session.ladder().map_err(fatal)?;
        let (plans, diags) = session.preview_ladder().map_err(fatal)?;
        (ladder, plans, diags)
    } else {
        let (fleet, objects, mut tags, mut diags) =
            observe_repo(&args.session.target, &args.session.tags)?;
        let (plans, more) = hoist::run::prepare_ladder(
            &fleet.config,
            &objects,
            &fleet.files,
            &mut tags,
            hoist::observe::scan::TagCreation::Preview,
        );
        diags.extend(more);
        (fleet.config.ladder, plans, diags)
    };
    if ladder.is_empty() {
        return Err(Fatal::usage(Diag::error(
            "no [[environment]] in hoist.toml: nothing for `hoist run` to climb",
        )));
    }
    for p in &plans {
        diags.extend(p.diagnostics.iter().cloned());
    }
    let blocked = plans
        .iter()
        .flat_map(|p| &p.blocked)
        .filter(|b| !b.waits)
        .count();
    if args.output == Output::Json {
        let v = DryRunOutput {
            diagnostics: diags.clone(),
            dry_run: true,
            rungs: plans,
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        report(&diags);
        for p in &plans {
            let rung = ladder.rung(&p.rung);
            let mode = rung.map_or(Mode::Push, |r| r.mode);
            anstream::println!(
                "# {} ({mode:?}): {}",
                p.rung,
                if p.files.is_empty() {
                    "no changes".to_string()
                } else {
                    format!(
                        "{} in {}",
                        plural(p.change_count(), "change"),
                        plural(p.files.len(), "file")
                    )
                }
            );
            for pr in &p.promotions {
                anstream::println!(
                    "#   {}: {} ← {} ({})",
                    pr.image,
                    pr.to_tag,
                    pr.from_tag,
                    pr.digest.as_deref().unwrap_or("digest unknown")
                );
            }
            for b in &p.blocked {
                anstream::println!(
                    "#   {}: {}/{}: {}",
                    b.state(),
                    b.namespace,
                    b.policy,
                    b.reason
                );
            }
            if let Some(rung) = rung
                && !p.files.is_empty()
            {
                print_landing(&ladder, rung, p);
            }
            for f in &p.files {
                anstream::print!(
                    "{}",
                    hoist::mutate::diff::unified(&f.file, &f.original, &f.updated, &diff_style)
                );
            }
        }
        anstream::eprintln!("hoist run --dry-run: nothing was written");
    }
    let errors = diags.iter().any(Diag::is_error);
    Ok(if errors || blocked > 0 {
        exit::FOUND
    } else {
        exit::OK
    })
}
