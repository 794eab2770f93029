//! `hoist promote --from ENV --to ENV [--image NAME]`: one explicit
//! promotion, whatever the target rung's settings say about timing or
//! source (for pipelines; `/hoist promote` is the same from a PR comment).

use clap::Args;

use super::commit::fatal;
use super::{Fatal, diff_style, exit, observe_repo, report};
use hoist::core::diag::Diag;
use hoist::decide::ladder::plan_promotion;
use hoist::run::session::Scope;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose running images are promoted.
    #[arg(long, value_name = "ENV")]
    pub from: String,
    /// The environment that takes them.
    #[arg(long, value_name = "ENV")]
    pub to: String,
    /// Only this image (as in spec.image, or its last path component).
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,
    #[command(flatten)]
    pub session: super::SessionArgs,
    /// Print the diff and the promotions; write nothing anywhere.
    #[arg(long)]
    pub dry_run: bool,
    /// Promote even while the target environment is in a freeze window
    /// (its pull request says so).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &PromoteArgs) -> Result<i32, Fatal> {
    if args.dry_run {
        return dry_run(args);
    }
    let Some(mut session) = args.session.open("promote", false)? else {
        return Ok(exit::OK);
    };
    let ladder = session.ladder().map_err(fatal)?;
    let Some(rung) = ladder.rung(&args.to) else {
        return Err(Fatal::usage(Diag::error(format!(
            "no environment {:?} in hoist.toml",
            args.to
        ))));
    };
    let forced = match hoist::propose::gate::frozen(rung, hoist::core::time::now()) {
        None => None,
        Some(w) if !args.force => {
            return Err(Fatal {
                code: exit::FOUND,
                diags: vec![Diag::error(format!(
                    "{} is frozen ({w}): nothing was promoted; --force promotes anyway",
                    args.to
                ))],
            });
        }
        Some(w) => Some(format!(
            "Promoted during the freeze `{w}` of `{}`: `hoist promote --force`.",
            args.to
        )),
    };
    let scope = Scope::Promotion {
        from: args.from.clone(),
        to: args.to.clone(),
        image: args.image.clone(),
        forced,
    };
    let mut forges = hoist::run::climb::Forges::new(&ladder);
    let climbed = hoist::run::climb::land(
        &mut session,
        &mut forges,
        &ladder,
        rung,
        &scope,
        args.image.as_deref(),
    );
    match &climbed {
        hoist::run::climb::Climbed::Done { report: r, actions }
            if actions.is_empty()
                && matches!(r.outcome, hoist::run::session::Outcome::UpToDate { .. }) =>
        {
            report(&r.diags);
            let branch = match &r.outcome {
                hoist::run::session::Outcome::UpToDate { branch, .. } => branch.as_str(),
                _ => "",
            };
            anstream::eprintln!(
                "hoist promote: {} already runs what {} runs ({branch} unchanged)",
                args.to,
                args.from
            );
        }
        c => {
            let what = format!("{} → {}", args.from, args.to);
            super::run::print_climbed("promote", &what, c, hoist::run::climb::forge_kind(&ladder));
        }
    }
    Ok(if climbed.is_problem() {
        exit::FOUND
    } else {
        exit::OK
    })
}

fn dry_run(args: &PromoteArgs) -> Result<i32, Fatal> {
    if args.session.git.url.is_some() {
        return Err(Fatal::usage(Diag::error(
            "--dry-run reads a checkout (--repo); with --url, clone it first",
        )));
    }
    let (fleet, objects, tags, mut diags) = observe_repo(&args.session.target, &args.session.tags)?;
    let tags_for = |i: &str| tags.get(i);
    let decided = hoist::decide::ladder::Decided::new(&objects, tags_for);
    let tree = hoist::decide::ladder::Tree {
        files: &fleet.files,
        objects: &objects,
        config: &fleet.config,
        tags_for: &tags_for,
        decided: &decided,
    };
    let p = plan_promotion(
        &fleet.config.ladder,
        &args.from,
        &args.to,
        args.image.as_deref(),
        &tree,
    )
    .map_err(|e| Fatal::usage(Diag::error(e)))?;
    diags.extend(p.diagnostics.iter().cloned());
    // What the target runs now, and whether its own policy would take the
    // promoted tag (a promotion may move it outside that on purpose).
    let runs =
        hoist::decide::ladder::rung_runs(&fleet.config.ladder, &args.to, &fleet.files, &objects);
    for pr in &p.promotions {
        if let Some(why) = hoist::decide::ladder::outside_policy(&objects, pr) {
            diags.push(Diag::warning(format!(
                "{}: {} is outside what {}'s own policy {}/{} accepts ({why}); the promotion sets it anyway",
                pr.image, pr.to_tag, args.to, pr.namespace, pr.policy
            )));
        }
    }
    report(&diags);
    for pr in &p.promotions {
        let now = runs
            .get(&pr.image)
            .map_or("(nothing recorded)", |(t, _)| t.as_str());
        anstream::println!(
            "# {}: {} ← {} (from {}); {} runs {now} now",
            pr.image,
            pr.to_tag,
            pr.from_tag,
            args.from,
            args.to
        );
    }
    for f in &p.files {
        anstream::print!(
            "{}",
            hoist::mutate::diff::unified(&f.file, &f.original, &f.updated, &diff_style)
        );
    }
    anstream::eprintln!("hoist promote --dry-run: nothing was written");
    Ok(if diags.iter().any(Diag::is_error) {
        exit::FOUND
    } else {
        exit::OK
    })
}
