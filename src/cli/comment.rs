//! `hoist comment --event FILE`: run the `/hoist` commands of one pull
//! request comment from CI (a GitHub Actions `issue_comment` workflow's
//! `$GITHUB_EVENT_PATH`, or an Azure DevOps service hook payload). The
//! handler is `hoist::run::comment`, the same the bot runs.

use std::path::PathBuf;

use clap::Args;

use super::{Fatal, exit};
use hoist::core::diag::Diag;

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// The event JSON (GitHub `issue_comment` payload, or an Azure DevOps
    /// `ms.vss-code.git-pullrequest-comment-event` service hook body).
    #[arg(long, value_name = "FILE", env = "GITHUB_EVENT_PATH")]
    pub event: PathBuf,
    #[command(flatten)]
    pub session: super::SessionArgs,
}

/// Event files larger than this are refused (GitHub's payloads are
/// capped at 25 MB; a comment event is a few KiB).
const MAX_EVENT: u64 = 25 << 20;

pub fn run(args: &CommentArgs) -> Result<i32, Fatal> {
    let shown = args.event.display().to_string();
    let size = std::fs::metadata(&args.event)
        .map_err(|e| {
            Fatal::usage(Diag::error(format!("cannot read the event: {e}")).at(&shown, None))
        })?
        .len();
    if size > MAX_EVENT {
        return Err(Fatal::usage(
            Diag::error(format!(
                "the event is {size} bytes; more than 25 MiB is not a comment event"
            ))
            .at(&shown, None),
        ));
    }
    let body = std::fs::read(&args.event).map_err(|e| {
        Fatal::usage(Diag::error(format!("cannot read the event: {e}")).at(&shown, None))
    })?;
    let v = hoist::serve::hooks::json(&body)
        .map_err(|e| Fatal::usage(Diag::error(e.to_string()).at(&shown, None)))?;
    let parsed = if v.get("eventType").is_some() {
        hoist::serve::hooks::azure(&v)
    } else if v.get("object_kind").and_then(|k| k.as_str()) == Some("note") {
        // A GitLab Note Hook (a webhook-triggered pipeline's TRIGGER_PAYLOAD).
        hoist::serve::hooks::gitlab("Note Hook", &v)
    } else {
        hoist::serve::hooks::github("issue_comment", &v)
    };
    let ev = match parsed.map_err(|e| Fatal::usage(Diag::error(e.to_string()).at(&shown, None)))? {
        hoist::serve::hooks::Event::Comment(c) => c,
        hoist::serve::hooks::Event::Ignored(why) => {
            anstream::eprintln!("hoist comment: nothing to do: {why}");
            return Ok(exit::OK);
        }
        _ => {
            anstream::eprintln!("hoist comment: nothing to do: not a pull request comment");
            return Ok(exit::OK);
        }
    };
    // The ladder (forge, approvers) from the checkout's hoist.toml or
    // --config; the session (for promote, plan, retry) only when needed.
    let ladder = hoist::config::load(
        &args.session.target.repo,
        args.session.target.config.as_deref(),
    )?
    .ladder;
    let mut open = || {
        args.session.open("comment", false).map_err(|f| {
            f.diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    match hoist::run::comment::handle(&ev, &ladder, &mut open) {
        Ok(h) => {
            match h.ignored {
                Some(why) => anstream::eprintln!("hoist comment: nothing to do: {why}"),
                None => {
                    anstream::eprintln!(
                        "hoist comment: {} command(s) run, {} refused; replied on {}",
                        h.accepted,
                        h.refused,
                        hoist::run::climb::request_ref(ev.forge, ev.pull)
                    );
                    anstream::print!(
                        "{}",
                        h.reply
                            .trim_start_matches(hoist::run::comment::MARKER)
                            .trim_start()
                    );
                }
            }
            Ok(exit::OK)
        }
        Err(e) => Err(Fatal {
            code: if e.is_setup() {
                exit::USAGE
            } else {
                exit::FOUND
            },
            diags: vec![Diag::error(e.message())],
        }),
    }
}
