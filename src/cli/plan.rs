//! `hoist plan`: show what would change, as a diff or as JSON.

use clap::{Args, ValueEnum};

use super::{Fatal, diff_style, exit, load_repo, plan_repo, plural, report};
use hoist::mutate::diff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Diff,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    #[command(flatten)]
    pub tags: super::TagArgs,
    /// `diff` (patch on stdout, summary on stderr) or `json`.
    #[arg(long, value_enum, default_value_t = Output::Diff)]
    pub output: Output,
    /// Exit with status 3 when changes are pending (errors still exit 1).
    #[arg(long)]
    pub exit_code: bool,
}

pub fn run(args: &PlanArgs) -> Result<i32, Fatal> {
    let loaded = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let super::Planned { plan, diags } =
        plan_repo(&loaded, args.tags.registry_snapshot.as_deref())?;
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    match args.output {
        Output::Json => {
            let mut value = serde_json::to_value(&plan)
                .map_err(|e| Fatal::usage(hoist::core::diag::Diag::error(e.to_string())))?;
            value["diagnostics"] = serde_json::to_value(&diags).unwrap_or_default();
            value["summary"] = serde_json::to_value(hoist::report::output::PlanSummary {
                changes: plan.change_count(),
                errors,
                files: plan.files.len(),
                warnings,
            })
            .unwrap_or_default();
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        Output::Diff => {
            report(&diags);
            for f in &plan.files {
                anstream::print!(
                    "{}",
                    diff::unified(&f.file, &f.original, &f.updated, &diff_style)
                );
            }
            let selected = plan
                .policies
                .iter()
                .filter(|p| p.selected.is_some())
                .count();
            let failed = plan.policies.len() - selected;
            let mut summary = if plan.files.is_empty() {
                "no changes".to_string()
            } else {
                format!(
                    "{} in {}",
                    plural(plan.change_count(), "change"),
                    plural(plan.files.len(), "file")
                )
            };
            summary.push_str(&format!(
                "; {} ({selected} selected, {failed} without a result); {}, {}",
                plural(plan.policies.len(), "policy"),
                plural(errors, "error"),
                plural(warnings, "warning")
            ));
            anstream::eprintln!("hoist plan: {summary}");
        }
    }
    // Errors win over pending changes: a pipeline gated on `plan` must see
    // a broken file or an unreachable registry, not a clean "no changes".
    if errors > 0 {
        return Ok(exit::FOUND);
    }
    if args.exit_code && !plan.files.is_empty() {
        return Ok(exit::CHANGES);
    }
    Ok(exit::OK)
}
