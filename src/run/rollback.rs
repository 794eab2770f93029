//! Rollbacks: a rung takes back what its last promotion changed, read
//! from that promotion's record, and is held so the next run does not
//! promote the same build again.
//!
//! Two callers: a person (`/hoist rollback`: always a pull request for
//! review) and Flux (`on_failure = "rollback"`: a failed reconcile of a
//! promotion lands its rollback the way the rung lands changes). Each
//! step is idempotent — the hold is a branch, the rollback's branch is
//! fixed (`hoist/rollback/<env>`) and plans nothing once the values are
//! back, and the comment on the promotion is written last and read first
//! — so an event repeated after a crash finishes the work, and one after
//! it does nothing.

use crate::decide::ladder::{Ladder, Rung};
use crate::propose::forge::{self, PullRequest};
use crate::run::climb::{self, Climbed, Forges};
use crate::run::session::{Scope, Session};

/// How a rollback lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// A pull request a person merges, whatever the rung's mode.
    Review,
    /// The way the rung lands its promotions.
    AsTheRung,
}

/// The branch a rollback of `rung` is proposed from.
pub fn branch(rung: &Rung) -> String {
    format!("hoist/rollback/{}", rung.name)
}

/// Land the rollback of `promotion` (a merged promotion into `rung`),
/// with `note` at the top of its pull request. Err: why there is nothing
/// to roll back.
pub fn roll_back(
    s: &mut Session,
    ladder: &Ladder,
    rung: &Rung,
    promotion: &PullRequest,
    landing: Landing,
    note: Option<String>,
) -> Result<Climbed, String> {
    let Some(record) = crate::decide::ladder::body::parse_record(&promotion.body) else {
        return Err(format!(
            "pull request #{} carries no record of the values it replaced, so there is nothing to restore.",
            promotion.number
        ));
    };
    let objects = s.objects().map_err(|f| format!("failed: {}", f.text()))?;
    let previous = crate::decide::ladder::runs_before(&record.changes, &objects);
    if previous.is_empty() {
        return Err(format!(
            "pull request #{}'s record names no image hoist can restore.",
            promotion.number
        ));
    }
    let scope = Scope::Restore {
        to: rung.name.clone(),
        previous,
        note,
    };
    let branch = branch(rung);
    let mut forges = Forges::new(ladder);
    Ok(match landing {
        Landing::Review => climb::land_for_review(s, &mut forges, ladder, rung, &scope, &branch),
        Landing::AsTheRung => climb::land_on(s, &mut forges, ladder, rung, &scope, &branch),
    })
}

/// What an automatic rollback did, for the log.
#[derive(Debug)]
pub struct Automatic {
    /// The rollback's outcome (see [`climb::summarize`]).
    pub landed: String,
    /// Whether it failed (the next failure event tries again).
    pub failed: bool,
}

/// Flux reported `promotion` failing in `rung` (`why`): hold the rung,
/// land the rollback as the rung lands changes, and say so on the
/// promotion's pull request.
pub fn automatic(
    s: &mut Session,
    ladder: &Ladder,
    rung: &Rung,
    promotion: &PullRequest,
    why: &str,
) -> Automatic {
    let env = &rung.name;
    // Held first: no run promotes the failed build again meanwhile.
    if let Err(f) = s.set_hold(env, true) {
        return Automatic {
            landed: format!("holding `{env}` failed: {}", f.text()),
            failed: true,
        };
    }
    let note = format!(
        "Automatic rollback of #{}: Flux reported it failing in `{env}` ({why}). `{env}` is on hold until `/hoist release {env}`. {}",
        promotion.number,
        crate::propose::gate::rollback_marker(promotion.number)
    );
    let climbed = match roll_back(s, ladder, rung, promotion, Landing::AsTheRung, Some(note)) {
        Ok(c) => c,
        Err(why) => {
            return Automatic {
                landed: why,
                failed: true,
            };
        }
    };
    let landed = climb::summarize(&climbed);
    if matches!(climbed, Climbed::Failed(_)) {
        return Automatic {
            landed,
            failed: true,
        };
    }
    let said = format!(
        "{}\n{}\nFlux reported this promotion failing in `{env}` ({why}), and `on_failure = \"rollback\"`: hoist rolled it back ({landed}). `{env}` is on hold so the next run does not promote the same build again; `/hoist release {env}` resumes it.\n",
        crate::propose::MARKER,
        crate::propose::gate::rolled_back_marker(env),
    );
    let commented = match &ladder.forge {
        Some(fcfg) => forge::open(fcfg, rung.repository.as_deref())
            .and_then(|f| f.comment(promotion.number, &said)),
        None => Err(forge::Error::setup("no [forge] in hoist.toml")),
    };
    match commented {
        Ok(()) => Automatic {
            landed,
            failed: false,
        },
        Err(e) => Automatic {
            landed: format!("{landed}; commenting on #{} failed: {e}", promotion.number),
            failed: true,
        },
    }
}

/// Flux reported `rung` healthy at a revision containing `promotion`,
/// which the open automatic rollback `open` would take back (see
/// [`crate::propose::gate::needless_rollback`]): the failure did not
/// last. Close the rollback, lift the hold, and say so on the promotion.
pub fn lift(
    s: &Session,
    f: &dyn forge::Forge,
    rung: &Rung,
    open: &PullRequest,
    promotion: u64,
) -> Result<(), String> {
    let env = &rung.name;
    f.close(
        open,
        &format!(
            "hoist: Flux reported `{env}` reconciled with #{promotion} after all; this rollback is not needed, closing it."
        ),
    )
    .map_err(|e| e.to_string())?;
    s.set_hold(env, false).map_err(|f| f.text())?;
    f.comment(
        promotion,
        &format!(
            "{}\nFlux reported `{env}` reconciled with this promotion after the failure: hoist closed its rollback #{} and released `{env}`.\n",
            crate::propose::MARKER,
            open.number
        ),
    )
    .map_err(|e| e.to_string())
}
