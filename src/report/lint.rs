//! Lint: problems that make image automation unsafe, silent or wrong,
//! found without any network.
//!
//! The main one: a marker inside the file a Flux Kustomization reconciler
//! reads as its entry (`kustomization.yaml`, `Kustomization`). Automation
//! and reconciler then race on the same file; keeping tags in a separate
//! `image-tags.yaml` that the kustomization patches in keeps them disjoint.

use crate::config::Config;
use crate::core::diag::Diag;
use crate::decide::plan::Objects;
use crate::observe::repo::SourceFile;
use crate::setters;

/// One line per object: its effective namespace, its cluster, and where
/// the namespace came from (`hoist lint -v`).
pub fn namespaces(objects: &Objects) -> Vec<String> {
    let line = |kind: &str, m: &crate::flux::Meta| {
        let cluster = if m.cluster.is_empty() {
            String::new()
        } else {
            format!(" in cluster {}", m.cluster)
        };
        format!(
            "note: {}:{}: {kind} {}/{}{cluster}: namespace from {}",
            m.origin.file, m.origin.line, m.namespace, m.name, m.namespace_from
        )
    };
    let mut out: Vec<String> = objects
        .policies
        .iter()
        .map(|p| line("ImagePolicy", &p.meta))
        .chain(
            objects
                .repositories
                .iter()
                .map(|r| line("ImageRepository", &r.meta)),
        )
        .chain(
            objects
                .automations
                .iter()
                .map(|a| line("ImageUpdateAutomation", &a.meta)),
        )
        .collect();
    out.sort();
    out
}

/// Every finding for the repository: the objects' own errors are the
/// caller's (`collect_objects` reports them); these are the rest.
pub fn lint(files: &[SourceFile], config: &Config, objects: &Objects) -> Vec<Diag> {
    let mut findings = Vec::new();
    for m in objects
        .policies
        .iter()
        .map(|p| (&p.meta, "ImagePolicy"))
        .chain(
            objects
                .repositories
                .iter()
                .map(|r| (&r.meta, "ImageRepository")),
        )
        .filter(|(m, _)| m.namespace_from == crate::flux::layout::NamespaceFrom::Unset)
    {
        let (m, kind) = m;
        findings.push(
            Diag::warning(format!(
                "{kind} {} has no namespace: no metadata.namespace, no kustomization namespace: and no Flux Kustomization's targetNamespace reaches it, and no marker names it in exactly one namespace; Flux refuses such an object, hoist reads it as default; give it one (or name it in hoist.toml [namespaces])",
                m.name
            ))
            .at(&m.origin.file, Some(m.origin.line))
            .field("metadata.namespace"),
        );
    }
    for p in &objects.policies {
        let ignored = p.spec.ignored_kinds();
        if let Some(used) = ["semver", "alphabetical", "numerical"]
            .into_iter()
            .find(|k| !ignored.is_empty() && !ignored.contains(k))
        {
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
    // Per environment: the active automations that take its markers.
    let mut takers: Vec<std::collections::BTreeSet<usize>> =
        vec![Default::default(); config.ladder.rungs.len()];
    for f in files.iter().filter(|f| f.has_markers) {
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
            let m = &s.marker;
            let owners: Vec<usize> = (0..config.ladder.rungs.len())
                .filter(|&i| config.ladder.rungs[i].owns(&f.rel))
                .collect();
            if !owners.is_empty() {
                let taking: Vec<usize> = (0..objects.automations.len())
                    .filter(|&i| {
                        crate::observe::objects::takes_marker(
                            objects,
                            &objects.automations[i],
                            &f.rel,
                            &m.namespace,
                            &m.name,
                        )
                    })
                    .collect();
                for i in owners {
                    takers[i].extend(taking.iter().copied());
                }
            }
            let at = |d: Diag| d.at(&f.rel, Some(s.marker_line));
            let known = objects
                .policies
                .iter()
                .any(|p| p.meta.namespace == m.namespace && p.meta.name == m.name);
            if !known {
                let key = (
                    "ImagePolicy".to_string(),
                    m.namespace.clone(),
                    m.name.clone(),
                );
                findings.push(at(Diag::error(if objects.invalid.contains(&key) {
                    format!(
                        "marker {m} names ImagePolicy {}/{}, which is invalid",
                        m.namespace, m.name
                    )
                } else {
                    let hint = crate::decide::plan::same_named_hint(objects, &m.name);
                    format!(
                        "marker {m} names ImagePolicy {}/{}, which does not exist; it will never be updated{hint}",
                        m.namespace, m.name
                    )
                })));
            }
            if crate::flux::layout::is_entry_name(&f.rel) {
                findings.push(at(Diag::error(format!(
                    "marker {m} sits in a kustomization entry file that the Flux reconciler reads while hoist writes it; \
                     move the value into {sibling} and add it to `patches:` (or `transformers:`) so automation and reconciler touch disjoint files; \
                     `hoist init --split-image-tags` does this for `images:` entries"
                ))));
            } else if !config.may_write(&f.rel) {
                findings.push(at(Diag::error(format!(
                    "marker {m} is outside write_paths ({}); hoist will never update it",
                    config.write.patterns().join(", ")
                ))));
            }
        }
    }
    for (rung, taken) in config.ladder.rungs.iter().zip(&takers) {
        let mut taken: Vec<&crate::flux::ImageUpdateAutomation> =
            taken.iter().map(|&i| &objects.automations[i]).collect();
        taken.sort_by_key(|a| (&a.meta.cluster, &a.meta.namespace, &a.meta.name));
        let Some(first) = taken.first() else { continue };
        if taken.iter().all(|a| {
            a.message_template == first.message_template
                && a.author == first.author
                && a.message_template_values == first.message_template_values
        }) {
            continue;
        }
        let names: Vec<String> = taken
            .iter()
            .map(|a| crate::decide::plan::automation_name(a))
            .collect();
        findings.push(
            Diag::warning(format!(
                "environment {}: its markers are taken by ImageUpdateAutomations that commit with different messages or authors ({}); Flux would make a commit per automation, a hoist rung makes one, with {}'s (docs/flux-compatibility.md); give the environment's files to one automation, or split the environment",
                rung.name,
                names.join(", "),
                crate::decide::plan::automation_name(first)
            ))
            .at(config.path.as_deref().unwrap_or("hoist.toml"), Some(rung.line)),
        );
    }
    findings
}
