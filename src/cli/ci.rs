//! `hoist ci-report`: after a CI step ran hoist, turn its output into the
//! CI system's summary, outputs and annotations (`hoist::report::ci`). The GitHub
//! Action, the Azure DevOps template and the GitLab CI/CD component call it.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Fatal, exit};
use hoist::core::diag::Diag;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Append to $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT; annotations as
    /// workflow commands.
    Github,
    /// `##vso[…]` logging commands; the summary written to --summary-file
    /// and uploaded.
    AzureDevops,
    /// GitLab CI: the summary written to --summary-file (an artifact) and
    /// printed, the outputs as a dotenv report (hoist.env), the warnings
    /// and errors as a Code Quality report (gl-code-quality-report.json).
    Gitlab,
}

#[derive(Debug, Args)]
pub struct CiReportArgs {
    /// The hoist command that ran: run, plan, promote, comment.
    #[arg(long)]
    pub command: String,
    /// Its standard output (JSON for run and plan).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Its exit code.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub exit_code: i32,
    #[arg(long, value_enum)]
    pub format: Format,
    /// Azure DevOps and GitLab: where to write the Markdown summary
    /// (default $AGENT_TEMPDIRECTORY/hoist-summary.md on Azure DevOps,
    /// hoist-summary.md on GitLab).
    #[arg(long, value_name = "FILE")]
    pub summary_file: Option<PathBuf>,
}

fn append(var: &str, text: &str) -> Result<(), Fatal> {
    let Ok(path) = std::env::var(var) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Fatal::usage(Diag::error(format!("cannot write ${var} ({path}): {e}"))))
}

pub fn run(args: &CiReportArgs) -> Result<i32, Fatal> {
    // Bounded: hoist's JSON for a large fleet is megabytes, not more.
    let text = std::fs::read(&args.input).map_err(|e| {
        Fatal::usage(Diag::error(format!(
            "cannot read {}: {e}",
            args.input.display()
        )))
    })?;
    let text = String::from_utf8_lossy(&text[..text.len().min(256 << 20)]).into_owned();
    let r = hoist::report::ci::report(&args.command, &text, args.exit_code);
    match args.format {
        Format::Github => {
            append("GITHUB_STEP_SUMMARY", &r.markdown)?;
            append("GITHUB_OUTPUT", &r.github_outputs())?;
            print!("{}", r.github_annotations());
        }
        Format::AzureDevops => {
            let file = args.summary_file.clone().unwrap_or_else(|| {
                PathBuf::from(std::env::var("AGENT_TEMPDIRECTORY").unwrap_or_else(|_| ".".into()))
                    .join("hoist-summary.md")
            });
            std::fs::write(&file, &r.markdown).map_err(|e| {
                Fatal::usage(Diag::error(format!("cannot write {}: {e}", file.display())))
            })?;
            print!("{}", r.azure_commands(&file.display().to_string()));
        }
        Format::Gitlab => {
            let summary = args
                .summary_file
                .clone()
                .unwrap_or_else(|| PathBuf::from("hoist-summary.md"));
            for (file, text) in [
                (summary, r.markdown.clone()),
                (PathBuf::from("hoist.env"), r.gitlab_dotenv()),
                (
                    PathBuf::from("gl-code-quality-report.json"),
                    r.gitlab_code_quality(),
                ),
            ] {
                std::fs::write(&file, text).map_err(|e| {
                    Fatal::usage(Diag::error(format!("cannot write {}: {e}", file.display())))
                })?;
            }
            print!("{}", r.markdown);
        }
    }
    Ok(exit::OK)
}
