//! The JSON hoist prints with `--output json`, as types: `cli` writes
//! them and [`crate::report::ci`] reads them back, so the CI summary
//! cannot drift from what the commands print.
//!
//! Field order is alphabetical, as the printed objects have always been.

use serde::{Deserialize, Serialize};

use crate::core::diag::Diag;
use crate::decide::ladder::RungPlan;
use crate::decide::plan::FileChange;
use crate::run::climb::Action;

/// The counts `hoist plan --output json` ends with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Markers changed.
    pub changes: usize,
    /// Errors among the diagnostics.
    pub errors: usize,
    /// Files rewritten.
    pub files: usize,
    /// Warnings among the diagnostics.
    pub warnings: usize,
}

/// What a reader takes of `hoist plan --output json` (which also lists
/// every policy's outcome, for people and `jq`).
#[derive(Debug, Deserialize)]
pub struct PlanOutput {
    /// Every diagnostic of the plan.
    #[serde(default)]
    pub diagnostics: Vec<Diag>,
    /// The files the plan rewrites.
    #[serde(default)]
    pub files: Vec<FileChange>,
    /// The counts.
    pub summary: PlanSummary,
}

/// `hoist run --output json`: one entry per environment climbed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RunOutput {
    /// In ladder order.
    pub environments: Vec<EnvironmentOutput>,
    /// The HTTP requests the run made, by service, host and route class.
    #[serde(default)]
    pub requests: Vec<crate::core::requests::Count>,
    /// What the forge's last reply said is left of its rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_rate_limit_remaining: Option<i64>,
}

impl RunOutput {
    /// What the run asked for: the number of requests and `; forge rate
    /// limit left: 4990` (or nothing), or `None` when it asked nothing.
    pub fn cost(&self) -> Option<(u64, String)> {
        if self.requests.is_empty() {
            return None;
        }
        let total: u64 = self.requests.iter().map(|c| c.count).sum();
        let left = self
            .forge_rate_limit_remaining
            .map(|n| format!("; forge rate limit left: {n}"))
            .unwrap_or_default();
        Some((total, left))
    }

    /// `registry ghcr.io 12, forge api.github.com 7`: requests per service
    /// and host, for a one-line summary.
    pub fn requests_by_host(&self) -> String {
        let mut by: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        for c in &self.requests {
            *by.entry((c.service.word(), c.host.as_str())).or_default() += c.count;
        }
        by.iter()
            .map(|((s, h), n)| format!("{s} {h} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One environment of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentOutput {
    /// The branch a push went to (base or bot branch), when the rung
    /// pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The commit the rung pushed, in full, when it pushed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The environment's name.
    pub environment: String,
    /// What hoist did on the forge, in order.
    #[serde(default)]
    pub forge: Vec<Action>,
    /// The one-line outcome, as the log says it.
    pub outcome: String,
}

impl EnvironmentOutput {
    /// Did the rung push a commit?
    pub fn pushed(&self) -> bool {
        self.commit.is_some()
    }
}

/// `hoist run --dry-run --output json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DryRunOutput {
    /// Every diagnostic, of the repository and of each rung.
    pub diagnostics: Vec<Diag>,
    /// Always true: nothing was written.
    pub dry_run: bool,
    /// What each rung would do.
    pub rungs: Vec<RungPlan>,
}
