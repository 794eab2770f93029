//! Pull request titles and bodies for a rung's change: what a reviewer
//! needs (image, old → new, digest, source commit, what the rung
//! requires, how to roll back) and, hidden in an HTML comment, a
//! machine-readable record of every marker's old and new value for later
//! rollback commands. Pure text; the forge only posts it.

use super::config::{Mode, Rung};
use super::promote::RungPlan;
use super::record::{RECORD_END, RECORD_START};
pub use super::record::{Record, RecordEntry, parse_record, record};

/// GitHub: title 256, body 65,536 characters.
pub const GITHUB_LIMITS: Limits = Limits {
    title: 256,
    body: 65_536,
};
/// Azure DevOps: title 256 (sic: 400 in places; 256 is safe everywhere),
/// description 4,000 characters.
pub const AZURE_DEVOPS_LIMITS: Limits = Limits {
    title: 256,
    body: 4_000,
};

/// GitLab: title 255, description 1,048,576 characters.
pub const GITLAB_LIMITS: Limits = Limits {
    title: 255,
    body: 1_048_576,
};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub title: usize,
    pub body: usize,
}

impl Limits {
    /// The limits of the ladder's forge (GitHub's when none is named).
    pub fn of(ladder: &super::Ladder) -> Limits {
        match ladder.forge.as_ref().map(|f| f.kind) {
            Some(super::ForgeKind::AzureDevops) => AZURE_DEVOPS_LIMITS,
            Some(super::ForgeKind::Gitlab) => GITLAB_LIMITS,
            _ => GITHUB_LIMITS,
        }
    }
}

/// Title and body for `plan` on `rung`, within `limits`. The human part is
/// cut first (with a note); the record is never cut.
pub fn render(rung: &Rung, plan: &RungPlan, limits: Limits) -> (String, String) {
    render_with(rung, plan, limits, "")
}

/// [`render`] with `extra` (Markdown: source commits, changelogs) placed
/// before the rollback section.
pub fn render_with(rung: &Rung, plan: &RungPlan, limits: Limits, extra: &str) -> (String, String) {
    let entries = record(plan);
    let title = title(rung, plan, limits.title);
    let mut human = String::new();
    human.push_str(&format!("hoist updates **{}**", rung.name));
    match &rung.promote_from {
        Some(src) => human.push_str(&format!(" with what **{src}** runs.\n\n")),
        None => human.push_str(" to what its image policies select.\n\n"),
    }
    if !plan.promotions.is_empty() {
        human.push_str("| image | from | to | digest | source commit |\n|---|---|---|---|---|\n");
        for p in &plan.promotions {
            human.push_str(&format!(
                "| `{}` | `{}` | `{}` | `{}` | {} |\n",
                p.image,
                plan.runs.get(&p.image).map_or("-", |(was, _)| was.as_str()),
                p.to_tag,
                p.digest.as_deref().unwrap_or("unknown"),
                p.source_commit
                    .as_deref()
                    .map_or("-".to_string(), |c| format!("`{c}`")),
            ));
        }
        human.push('\n');
    }
    human.push_str("Changes:\n\n");
    for e in &entries {
        human.push_str(&format!(
            "- `{}:{}` ({}): `{}` → `{}`\n",
            e.file, e.line, e.setter, e.old, e.new
        ));
    }
    for (waits, heading) in [
        (false, "Not in this change (blocked)"),
        (true, "Not in this change yet (waiting)"),
    ] {
        let these: Vec<_> = plan.blocked.iter().filter(|b| b.waits == waits).collect();
        if !these.is_empty() {
            human.push_str(&format!("\n{heading}:\n\n"));
            for b in these {
                human.push_str(&format!("- {}/{}: {}\n", b.namespace, b.policy, b.reason));
            }
        }
    }
    if !extra.is_empty() {
        human.push('\n');
        human.push_str(extra);
    }
    human.push_str("\nWhat this rung requires: ");
    human.push_str(match rung.mode {
        Mode::Push => "nothing; hoist commits it directly.\n",
        Mode::AutoMerge => "its checks; hoist merges it as soon as they pass.\n",
        Mode::PullRequest => "an approving review; hoist never merges it.\n",
    });
    human.push_str("\nRollback: revert the merge commit, or set these values back:\n\n");
    for e in &entries {
        human.push_str(&format!("- `{}:{}`: `{}`\n", e.file, e.line, e.old));
    }
    // The record gets at most half the room; past that it keeps the
    // first changes and says it is incomplete.
    let mut kept = entries.clone();
    let record = loop {
        let r = Record {
            environment: rung.name.clone(),
            complete: kept.len() == entries.len(),
            changes: kept.clone(),
        };
        let text = format!(
            "\n{RECORD_START}{}{RECORD_END}\n",
            serde_json::to_string(&r).unwrap_or_default()
        );
        if text.chars().count() <= limits.body / 2 || kept.is_empty() {
            break text;
        }
        kept.truncate(kept.len() / 2);
    };
    let room = limits.body.saturating_sub(record.chars().count());
    let human = cut(
        &human,
        room,
        "\n\n*(cut to fit the forge's limit; the full list is in the commit)*\n",
    );
    (title, format!("{human}{record}"))
}

/// The one-line description of a commit status for `plan`:
/// `staging-1a2b3c4 ← dev-1a2b3c4, same digest` for one promotion.
pub fn status_line(rung: &Rung, plan: &RungPlan) -> String {
    let same = if rung.require_same_digest {
        ", same digest"
    } else {
        ""
    };
    match plan.promotions.as_slice() {
        [one] => format!("{} ← {}{same}", one.to_tag, one.from_tag),
        [] => {
            let moves = moves(plan);
            match moves.as_slice() {
                [] => format!("{} is up to date", rung.name),
                [one] => one.clone(),
                more => format!("{} images by policy", more.len()),
            }
        }
        more => format!(
            "{} images ← {}{}",
            more.len(),
            rung.promote_from.as_deref().unwrap_or("source"),
            if rung.require_same_digest {
                ", same digests"
            } else {
                ""
            }
        ),
    }
}

/// `api 1.2.3` for every image that moves (last path part, tag only).
fn moves(plan: &RungPlan) -> Vec<String> {
    plan.runs
        .iter()
        .filter(|(_, (was, now))| was != now)
        .map(|(image, (_, now))| {
            let short = image.rsplit('/').next().unwrap_or(image);
            format!("{short} {}", now.split('@').next().unwrap_or(now))
        })
        .collect()
}

fn title(rung: &Rung, plan: &RungPlan, max: usize) -> String {
    let moves = moves(plan);
    let what = match moves.as_slice() {
        [] => "no image changes".to_string(),
        [one] => one.clone(),
        more => format!("{} images ({})", more.len(), more.join(", ")),
    };
    cut(&format!("hoist({}): {what}", rung.name), max, "…")
}

/// Cut `text` to at most `max` characters, ending with `note` when cut.
fn cut(text: &str, max: usize, note: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(note.chars().count());
    let at = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    format!("{}{note}", &text[..at])
}
