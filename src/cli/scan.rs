//! `hoist scan`: list every image's tags from its registry and show what
//! each policy would select. `--save-snapshot` records what was seen.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Fatal, exit, live_scan, load_repo, report};
use crate::diag::Diag;
use crate::plan::{collect_objects, decide};

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
    let (tags, scan_diags) = live_scan(&loaded.config, &objects)?;
    diags.extend(scan_diags);
    let outcomes = decide(&objects, |img| tags.get(img));
    let mut images: Vec<&str> = Vec::new();
    for r in objects.repositories.iter().filter(|r| !r.suspend) {
        if !images.contains(&r.image.as_str()) {
            images.push(&r.image);
        }
    }
    let mut rows = Vec::new();
    for image in &images {
        let list = tags.snapshot.get(image);
        let policies: Vec<_> = outcomes
            .iter()
            .filter(|o| o.image.as_deref() == Some(*image))
            .collect();
        rows.push(serde_json::json!({
            "image": image,
            "tags": list.map(|l| l.tags.len()),
            "error": tags.errors.get(*image),
            "dropped": tags.dropped.get(*image).cloned().unwrap_or_default(),
            "policies": policies.iter().map(|o| serde_json::json!({
                "namespace": o.namespace,
                "name": o.name,
                "tag": o.selected.as_ref().map(|s| &s.tag),
                "digest": o.selected.as_ref().and_then(|s| s.digest.as_ref()),
                "error": o.error,
            })).collect::<Vec<_>>(),
        }));
    }
    match args.output {
        Output::Json => {
            let v = serde_json::json!({ "images": rows, "diagnostics": diags });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Output::Table => {
            report(&diags);
            print_table(&rows);
        }
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
    Ok(if tags.errors.is_empty() {
        exit::OK
    } else {
        exit::FOUND
    })
}

fn print_table(rows: &[serde_json::Value]) {
    let mut lines =
        vec![["IMAGE", "TAGS", "POLICY", "SELECTED", "DIGEST", "ERROR"].map(String::from)];
    let s = |v: &serde_json::Value| v.as_str().map_or_else(|| "-".to_string(), str::to_string);
    for r in rows {
        let count = r["tags"]
            .as_u64()
            .map_or("-".to_string(), |n| n.to_string());
        let policies = r["policies"].as_array().cloned().unwrap_or_default();
        if policies.is_empty() {
            lines.push([
                s(&r["image"]),
                count,
                "-".into(),
                "-".into(),
                "-".into(),
                s(&r["error"]),
            ]);
            continue;
        }
        for p in policies {
            let digest = s(&p["digest"]);
            let short = if digest.len() > 19 {
                format!("{}…", &digest[..19])
            } else {
                digest
            };
            let err = if r["error"].is_null() {
                s(&p["error"])
            } else {
                s(&r["error"])
            };
            lines.push([
                s(&r["image"]),
                count.clone(),
                format!("{}/{}", s(&p["namespace"]), s(&p["name"])),
                s(&p["tag"]),
                short,
                err,
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
    for l in &lines {
        let mut out = String::new();
        for (c, cell) in l.iter().enumerate().take(5) {
            out.push_str(&format!("{cell:<w$}  ", w = widths[c]));
        }
        out.push_str(&l[5]);
        println!("{}", out.trim_end());
    }
}
