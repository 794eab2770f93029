//! The promotion record: every marker's old and new value, hidden in a
//! pull request's body, and what a rung ran before a promotion as read
//! back from it (for `/hoist rollback` and automatic rollback). Below
//! [`super::body`], which renders it, and beside [`super::promote`],
//! whose plans it records.

use serde::{Deserialize, Serialize};

use super::promote::{RungPlan, SourceRuns};
use crate::decide::plan::Objects;

/// One marker's change, as recorded in the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEntry {
    pub file: String,
    pub line: usize,
    pub setter: String,
    pub old: String,
    pub new: String,
}

/// The machine-readable part of a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub environment: String,
    pub changes: Vec<RecordEntry>,
    /// False when the forge's limit left room for only some changes (the
    /// commit on the PR branch always holds them all).
    pub complete: bool,
}

pub(super) const RECORD_START: &str = "<!-- hoist:record ";
pub(super) const RECORD_END: &str = " -->";

/// The marker changes of a rung plan, in file order.
pub fn record(plan: &RungPlan) -> Vec<RecordEntry> {
    plan.files
        .iter()
        .flat_map(|f| {
            f.objects.iter().flat_map(move |o| {
                o.changes.iter().map(move |c| RecordEntry {
                    file: f.file.clone(),
                    line: c.line,
                    setter: c.setter.clone(),
                    old: c.old.clone(),
                    new: c.new.clone(),
                })
            })
        })
        .collect()
}

/// The record a body carries, if any (for rollback commands).
pub fn parse_record(body: &str) -> Option<Record> {
    let start = body.find(RECORD_START)? + RECORD_START.len();
    let end = start + body[start..].find(RECORD_END)?;
    serde_json::from_str(&body[start..end]).ok()
}

/// What a promotion's record says its rung ran before: image → (tag,
/// digest), read from the `old` values of its markers (`ns:name:tag`,
/// `ns:name` as `image:tag[@digest]`, `ns:name:digest`).
pub fn runs_before(entries: &[RecordEntry], objects: &Objects) -> SourceRuns {
    let mut out = SourceRuns::new();
    for e in entries {
        let parts: Vec<&str> = e.setter.split(':').collect();
        let (ns, name, field) = match parts.as_slice() {
            [ns, name] => (*ns, *name, "image"),
            [ns, name, field] => (*ns, *name, *field),
            _ => continue,
        };
        let Some((_, image)) = super::promote::image_of(objects, ns, name) else {
            continue;
        };
        let slot = out
            .entry(image.to_string())
            .or_insert_with(|| (String::new(), None));
        match field {
            "tag" => slot.0 = e.old.clone(),
            "digest" => slot.1 = Some(e.old.clone()).filter(|d| !d.is_empty()),
            "image" => {
                let (reference, digest) = match e.old.split_once('@') {
                    Some((r, d)) => (r, Some(d.to_string())),
                    None => (e.old.as_str(), None),
                };
                let slash = reference.rfind('/').unwrap_or(0);
                if let Some(colon) = reference[slash..].rfind(':') {
                    slot.0 = reference[slash + colon + 1..].to_string();
                }
                if digest.is_some() {
                    slot.1 = digest;
                }
            }
            _ => {}
        }
    }
    out.retain(|_, (tag, _)| !tag.is_empty());
    out
}
