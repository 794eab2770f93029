//! The ladder as people look at it: per image, what each rung runs and
//! what would move next; hoist's open pull requests; what holds or gates
//! each rung; the last reconcile Flux reported. `hoist ladder` prints it,
//! `hoist serve` renders it (`GET /`) and serves it (`GET /api/ladder`),
//! with one JSON shape for both.

use serde::Serialize;

use crate::core::diag::Diag;
use crate::decide::ladder::{Ladder, RungPlan};
use crate::run::climb::Forges;

#[cfg(test)]
mod tests {
    #[test]
    fn commits_in_tags() {
        assert_eq!(super::commit_in_tag("dev-1a2b3c4-17"), Some("1a2b3c4"));
        assert_eq!(super::commit_in_tag("prod-1a2b3c4"), Some("1a2b3c4"));
        assert_eq!(super::commit_in_tag("1.2.3"), None);
        assert_eq!(super::commit_in_tag("build-20261204"), None);
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PullView {
    pub environment: String,
    pub number: u64,
    pub title: String,
    pub branch: String,
    pub url: String,
    pub auto_merge: bool,
}

/// What keeps a rung where it is, beyond blocked images.
#[derive(Debug, Clone, Serialize)]
pub struct GateView {
    pub environment: String,
    /// On hold (`/hoist hold`).
    pub held: bool,
    /// The gate that makes it wait (freeze, reconcile, soak), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits: Option<String>,
    /// When hoist's last promotion into it merged (RFC 3339; pull
    /// request rungs, with a forge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// The last reconcile result Flux reported for an environment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reconciled {
    pub environment: String,
    pub context: String,
    pub state: String,
    pub description: String,
    pub commit: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Serialize)]
pub struct View {
    pub rungs: Vec<RungPlan>,
    /// image → tag → digest, for the tags the rungs run (when known).
    pub digests: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub pull_requests: Vec<PullView>,
    pub gates: Vec<GateView>,
    pub reconciled: Vec<Reconciled>,
    pub diagnostics: Vec<Diag>,
    /// The fleet's repository (the forge's name for it), for headings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// image → tag → the source commit's web page (from
    /// `source_repository` and a commit id in the tag).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tag_links: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// hoist's landings on the base branch, newest first (the page's ages
    /// and charts).
    #[serde(skip)]
    pub landings: Vec<crate::report::delivery::Landing>,
    /// The delivery figures of the last 30 days, from Git alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::report::delivery::Delivery>,
}

/// The source commit a tag names: a token of 7 to 40 hex digits with at
/// least one letter, between `-`, `_`, `.` or the ends (`dev-1a2b3c4-17`,
/// `prod-1a2b3c4`).
pub fn commit_in_tag(tag: &str) -> Option<&str> {
    tag.split(['-', '_', '.']).find(|t| {
        (7..=40).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && t.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

/// Put the view together from a ladder's plans. With `forge`, the open
/// pull requests and the gates that need the forge are asked for (a
/// forge error becomes a warning: the view still shows the rest).
pub fn gather(
    ladder: &Ladder,
    rungs: Vec<RungPlan>,
    mut diagnostics: Vec<Diag>,
    holds: &[String],
    forge: bool,
    digest_of: &dyn Fn(&str, &str) -> Option<String>,
) -> View {
    let mut digests: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, String>,
    > = Default::default();
    for p in &rungs {
        for (image, (was, now)) in &p.runs {
            for tag in [was, now] {
                let tag = tag.split('@').next().unwrap_or(tag);
                if let Some(d) = digest_of(image, tag) {
                    digests
                        .entry(image.clone())
                        .or_default()
                        .insert(tag.to_string(), d);
                }
            }
        }
    }
    let mut pull_requests = Vec::new();
    if forge {
        match crate::run::climb::open_pulls(ladder) {
            Ok(list) => {
                pull_requests = list
                    .into_iter()
                    .map(|(environment, p)| PullView {
                        environment,
                        number: p.number,
                        title: p.title,
                        branch: p.head_branch,
                        url: p.url,
                        auto_merge: p.auto_merge,
                    })
                    .collect()
            }
            Err(e) => diagnostics.push(Diag::warning(format!("open pull requests unknown: {e}"))),
        }
    }
    let mut forges = Forges::new(ladder);
    let mut gates = Vec::new();
    for rung in &ladder.rungs {
        let waits = if forge {
            crate::run::climb::gate_for(&mut forges, ladder, rung)
        } else {
            // Offline: only what needs no forge (freeze windows).
            let mut r = rung.clone();
            r.require_reconciled = false;
            r.soak = None;
            crate::propose::gate::blocked(None, ladder, &r, crate::core::time::now())
        };
        let waits = match waits {
            Ok(w) => w,
            Err(e) => {
                diagnostics.push(Diag::warning(format!(
                    "environment {:?}: gates unknown: {e}",
                    rung.name
                )));
                None
            }
        };
        let since = if forge && rung.mode != crate::decide::ladder::Mode::Push {
            let prefix = crate::run::climb::bot_branch(rung, None);
            forges
                .get(rung.repository.as_deref())
                .ok()
                .flatten()
                .and_then(|f| f.list_merged(&prefix).ok())
                .and_then(|l| l.into_iter().find_map(|p| p.merged_at))
                .map(crate::core::time::format)
        } else {
            None
        };
        gates.push(GateView {
            environment: rung.name.clone(),
            held: holds.contains(&rung.name),
            waits,
            since,
        });
    }
    View {
        rungs,
        digests,
        pull_requests,
        gates,
        reconciled: Vec::new(),
        diagnostics,
        repository: ladder.forge.as_ref().map(|f| f.repository.clone()),
        tag_links: Default::default(),
        landings: Vec::new(),
        delivery: None,
    }
}
