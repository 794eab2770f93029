//! `hoist lint`: problems that make image automation unsafe or silent.
//!
//! The main one: a marker inside the file a Flux Kustomization reconciler
//! reads as its entry (`kustomization.yaml`, `Kustomization`). Automation
//! and reconciler then race on the same file; keeping tags in a separate
//! `image-tags.yaml` that the kustomization patches in keeps them disjoint.

use clap::Args;

use super::{Fatal, exit, load_repo, plural, report};
use crate::diag::Diag;
use crate::plan::collect_objects;
use crate::setters;

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
}

/// Is this the file a kustomize/Flux reconciler reads as its entry point?
pub fn is_kustomization_entry(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

pub fn run(args: &LintArgs) -> Result<i32, Fatal> {
    let loaded = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let (objects, mut findings) = collect_objects(&loaded.files, &loaded.config);
    findings.extend(loaded.diags.iter().cloned());
    for p in &objects.policies {
        let ignored = p.spec.ignored_kinds();
        if !ignored.is_empty() {
            let used = ["semver", "alphabetical", "numerical"]
                .into_iter()
                .find(|k| !ignored.contains(k))
                .unwrap_or("semver");
            findings.push(
                Diag::warning(format!(
                    "ImagePolicy {}/{} sets several policy kinds; Flux uses {used} and ignores {}",
                    p.meta.namespace,
                    p.meta.name,
                    ignored.join(", ")
                ))
                .at(&p.meta.origin.file, Some(p.meta.origin.line))
                .field("spec.policy"),
            );
        }
    }
    for f in loaded.files.iter().filter(|f| f.has_markers) {
        let scan = match setters::scan(&f.text) {
            Ok(s) => s,
            Err(e) => {
                findings.push(
                    Diag::error(format!("invalid YAML: {}", e.message)).at(&f.rel, Some(e.line)),
                );
                continue;
            }
        };
        for p in &scan.problems {
            findings.push(Diag::error(p.message.clone()).at(&f.rel, Some(p.line)));
        }
        let dir = f.rel.rsplit_once('/').map_or("", |(d, _)| d);
        let sibling = if dir.is_empty() {
            "image-tags.yaml".to_string()
        } else {
            format!("{dir}/image-tags.yaml")
        };
        for s in &scan.setters {
            if is_kustomization_entry(&f.rel) {
                findings.push(
                    Diag::error(format!(
                        "marker {} sits in a kustomization entry file that the Flux reconciler reads while hoist writes it; \
                         move the value into {sibling} and add it to `patches:` (or `components:`) so automation and reconciler touch disjoint files",
                        s.marker
                    ))
                    .at(&f.rel, Some(s.marker_line)),
                );
            } else if !loaded.config.may_write(&f.rel) {
                findings.push(
                    Diag::error(format!(
                        "marker {} is outside write_paths ({}); hoist will never update it",
                        s.marker,
                        loaded.config.write_patterns.join(", ")
                    ))
                    .at(&f.rel, Some(s.marker_line)),
                );
            }
        }
    }
    findings.sort();
    report(&findings);
    anstream::eprintln!("hoist lint: {}", plural(findings.len(), "problem"));
    Ok(if findings.is_empty() {
        exit::OK
    } else {
        exit::FOUND
    })
}
