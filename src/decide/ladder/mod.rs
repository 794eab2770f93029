//! The promotion ladder: environments from dev to prod, each taking a
//! policy's choice or what the rung below runs, landing it by push,
//! auto-merged pull request, or a pull request a human approves.
//!
//! Here: the checks `hoist config check` adds against the files, and the
//! promotion decisions ([`promote`], pure, feeding the same setter edits as
//! `plan`). The configuration is `crate::config::ladder`'s; running the
//! ladder is `crate::run::climb`'s.

pub mod body;
pub use crate::config::ladder as config;
pub mod promote;
pub mod record;
pub use crate::config::window;

pub use config::{CommandsNeed, Forge, ForgeKind, Group, Ladder, MergeMethod, Mode, Rung};
pub use promote::{
    Blocked, Decided, Promotion, RungPlan, SourceRuns, Tree, image_of, outside_policy, plan_ladder,
    plan_one, plan_promotion, plan_restore, rung_runs,
};
pub use record::{parse_record, runs_before};

use crate::config::Config;
use crate::core::diag::Diag;
use crate::observe::repo::SourceFile;

/// What `hoist config check` finds beyond the config's own errors, without
/// any network: files claimed by several rungs, marker files outside every
/// rung (`hoist run` would never update them) and rungs that own no marker
/// file (they would climb nothing): all errors.
pub fn check(config: &Config, files: &[SourceFile]) -> Vec<Diag> {
    let ladder = &config.ladder;
    if ladder.is_empty() {
        return Vec::new();
    }
    let display = config.path.as_deref().unwrap_or("hoist.toml");
    let marker_files: Vec<&str> = files
        .iter()
        .filter(|f| f.has_markers)
        .map(|f| f.rel.as_str())
        .collect();
    let mut out = ladder.overlaps(marker_files.iter().copied(), display);
    for f in &marker_files {
        if !ladder.rungs.iter().any(|r| r.owns(f)) {
            // An entry file is never written at all: `hoist lint` says why
            // and `init --split-image-tags` moves its markers out.
            let d = if crate::flux::layout::is_entry_name(f) {
                Diag::warning(
                    "has markers but is in no environment's paths; it is a kustomization entry file, which hoist never writes (see `hoist lint`)",
                )
            } else {
                Diag::error(
                    "has markers but is in no environment's paths; `hoist run` will not update it",
                )
            };
            out.push(d.at(*f, None));
        }
    }
    // Without any marker file here (a bot's config checked on its own)
    // there is nothing to hold the environments' paths against.
    if marker_files.is_empty() {
        return out;
    }
    for r in &ladder.rungs {
        if !marker_files.iter().any(|f| r.owns(f)) {
            out.push(
                Diag::error(format!(
                    "environment {:?} owns no file with markers, so it would climb nothing; its paths must name the files its cluster applies",
                    r.name
                ))
                .at(display, None)
                .field(format!("environment.{}.paths", r.name)),
            );
        }
    }
    out
}

/// One line per rung: `dev (push) → staging (auto-merge, from dev) → …`.
pub fn describe(ladder: &Ladder) -> String {
    ladder
        .rungs
        .iter()
        .map(|r| {
            let mode = match r.mode {
                Mode::Push => "push",
                Mode::AutoMerge => "auto-merge",
                Mode::PullRequest => "pull-request",
            };
            match &r.promote_from {
                Some(src) => format!("{} ({mode}, from {src})", r.name),
                None => format!("{} ({mode})", r.name),
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}
