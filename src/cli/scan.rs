//! `hoist scan`: list every image's tags from its registry and show what
//! each policy would select. `--save-snapshot` records what was seen.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::report as report_diags;
use super::{Fatal, exit, load_repo, plural};
use hoist::core::diag::Diag;
use hoist::decide::plan::collect_objects;
use hoist::observe::scan::live_scan;
use hoist::report::scan::{ImageReport, report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Write the tags seen to FILE, for `hoist plan --registry-snapshot FILE`.
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,
}

pub fn run(args: &ScanArgs) -> Result<i32, Fatal> {
    let loaded = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let (objects, mut diags) = collect_objects(&loaded.files, &loaded.config);
    diags.extend(loaded.diags.iter().cloned());
    let (tags, scan_diags) =
        live_scan(&loaded.config, &objects, &super::scan_progress()).map_err(Fatal::usage)?;
    diags.extend(scan_diags);
    let rows = report(&objects, &tags);
    match args.output {
        Output::Json => {
            let v = serde_json::json!({ "images": rows, "diagnostics": diags });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Output::Table => {
            report_diags(&diags);
            print_table(&rows);
        }
    }
    if let Some(path) = &args.save_snapshot
        && !tags.errors.is_empty()
    {
        // A snapshot without the failed images would later read as "no
        // changes" for them: a failed scan records nothing.
        report_diags(&[Diag::error(format!(
            "{} could not be scanned; no snapshot written (one without them would plan as if they had nothing new)",
            plural(tags.errors.len(), "image")
        ))
        .at(path.display().to_string(), None)]);
        return Ok(exit::FOUND);
    }
    if let Some(path) = &args.save_snapshot {
        let text = tags.snapshot.to_yaml();
        std::fs::write(path, text).map_err(|e| {
            Fatal::usage(
                Diag::error(format!("cannot write snapshot: {e}"))
                    .at(path.display().to_string(), None),
            )
        })?;
        anstream::eprintln!(
            "hoist scan: snapshot of {} images written to {}",
            tags.snapshot.images.len(),
            path.display()
        );
    }
    // A failed image is an error diagnostic; one deferred by the run's
    // request budget is a warning, for the next run.
    Ok(if diags.iter().any(Diag::is_error) {
        exit::FOUND
    } else {
        exit::OK
    })
}

fn print_table(rows: &[ImageReport]) {
    let mut lines =
        vec![["IMAGE", "TAGS", "POLICY", "SELECTED", "DIGEST", "ERROR"].map(String::from)];
    let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    for r in rows {
        let count = r.tags.map_or("-".to_string(), |n| n.to_string());
        if r.policies.is_empty() {
            lines.push([
                r.image.clone(),
                count,
                "-".into(),
                "-".into(),
                "-".into(),
                s(&r.error),
            ]);
            continue;
        }
        for p in &r.policies {
            let digest = s(&p.digest);
            let short = match digest.char_indices().nth(19) {
                Some((cut, _)) => format!("{}…", &digest[..cut]),
                None => digest,
            };
            let err = if r.error.is_some() {
                &r.error
            } else {
                &p.error
            };
            let policy = if p.cluster.is_empty() {
                format!("{}/{}", p.namespace, p.name)
            } else {
                format!("{}/{}/{}", p.cluster, p.namespace, p.name)
            };
            lines.push([
                r.image.clone(),
                count.clone(),
                policy,
                s(&p.tag),
                short,
                s(err),
            ]);
        }
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let mut line = String::new();
        for (c, cell) in l.iter().enumerate().take(5) {
            line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
        }
        line.push_str(&l[5]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    // Where a namespace did not come from the object itself, say whence.
    for r in rows {
        for p in r.policies.iter().filter(|p| p.namespace_from.is_some()) {
            out.push_str(&format!(
                "note: {}/{}: namespace from {}\n",
                p.namespace,
                p.name,
                p.namespace_from.as_deref().unwrap_or_default()
            ));
        }
    }
    print!("{out}");
}
