//! `hoist ladder`: the whole ladder at a glance — per image, what each
//! rung runs, what would move next, and what blocks it. Reads only.

use clap::{Args, ValueEnum};

use super::{Fatal, exit, observe_repo, report};
use hoist::decide::ladder::RungPlan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct LadderArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    #[command(flatten)]
    pub tags: super::TagArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Do not ask the forge for open pull requests (offline).
    #[arg(long)]
    pub no_forge: bool,
}

pub fn run(args: &LadderArgs) -> Result<i32, Fatal> {
    let (fleet, objects, mut tags, mut diags) = observe_repo(&args.target, &args.tags)?;
    if fleet.config.ladder.is_empty() {
        return Err(Fatal::usage(hoist::core::diag::Diag::error(
            "no [[environment]] in hoist.toml: there is no ladder to show (see docs/configuration.md)",
        )));
    }
    diags.extend(hoist::decide::ladder::check(&fleet.config, &fleet.files));
    let (plans, digest_diags) = hoist::run::prepare_ladder(
        &fleet.config,
        &objects,
        &fleet.files,
        &mut tags,
        hoist::observe::scan::TagCreation::Preview,
    );
    diags.extend(digest_diags);
    for p in &plans {
        diags.extend(p.diagnostics.iter().cloned());
    }
    // Waiting (for a signature) is not a problem of the fleet's.
    let blocked = plans
        .iter()
        .flat_map(|p| &p.blocked)
        .filter(|b| !b.waits)
        .count();
    let view = hoist::report::view::gather(
        &fleet.config.ladder,
        plans,
        diags,
        &[],
        !args.no_forge,
        &|i, t| tags.snapshot.get(i).and_then(|l| l.digests.get(t).cloned()),
    );
    match args.output {
        Output::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&view).unwrap_or_default()
            );
        }
        Output::Text => {
            report(&view.diagnostics);
            print!("{}", table(&view.rungs));
            for g in &view.gates {
                if let Some(w) = &g.waits {
                    println!(
                        "{} waits: {}",
                        g.environment,
                        hoist::run::climb::in_words(
                            hoist::run::climb::forge_kind(&fleet.config.ladder),
                            w
                        )
                    );
                }
            }
            if !view.pull_requests.is_empty() {
                let kind = hoist::run::climb::forge_kind(&fleet.config.ladder);
                let heading = hoist::run::climb::in_words(kind, "Open pull requests");
                println!("\n{heading}:");
                for p in &view.pull_requests {
                    println!(
                        "  {}: {} {}{} {}",
                        p.environment,
                        hoist::run::climb::request_number(kind, p.number),
                        p.title,
                        if p.auto_merge { " (auto-merge)" } else { "" },
                        p.url
                    );
                }
            }
        }
    }
    let diags = view.diagnostics;
    let errors = diags.iter().any(|d| d.is_error());
    Ok(if errors || blocked > 0 {
        exit::FOUND
    } else {
        exit::OK
    })
}

/// One row per image: what each rung runs, `→` where it would move; then
/// one line per blocked image.
fn table(plans: &[RungPlan]) -> String {
    let mut images: Vec<&String> = plans.iter().flat_map(|p| p.runs.keys()).collect();
    images.sort();
    images.dedup();
    let mut rows = vec![
        std::iter::once("IMAGE".to_string())
            .chain(plans.iter().map(|p| p.rung.to_uppercase()))
            .collect::<Vec<_>>(),
    ];
    for image in images {
        let mut row = vec![image.clone()];
        for p in plans {
            row.push(match p.runs.get(image) {
                None => "-".into(),
                Some((was, now)) if was == now => was.clone(),
                Some((was, now)) => format!("{was} → {now}"),
            });
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}", w = *w))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for p in plans {
        for b in &p.blocked {
            out.push_str(&format!(
                "{} on {}: {}/{}: {}\n",
                b.state(),
                p.rung,
                b.namespace,
                b.policy,
                b.reason
            ));
        }
    }
    out
}
