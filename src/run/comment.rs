//! Pull request comment commands: `/hoist promote prod`, `/hoist plan`…
//!
//! One handler for the bot (`hoist serve`, from a webhook) and for CI
//! (`hoist comment --event $GITHUB_EVENT_PATH`): parse the `/hoist` lines,
//! ask the forge whether the commenter may run them, run them, answer.
//! Authorization comes first and costs no Git or registry work, so a
//! refused command writes nothing anywhere but its reply.

use crate::decide::ladder::{CommandsNeed, ForgeKind, Ladder, Rung};
use crate::propose::forge::{self, Forge, Permission};
use crate::run::climb::{self, Forges};
use crate::run::session::{Scope, Session};

pub use crate::run::climb::{summarize, summarize_on};

/// Every hoist reply starts with this, so hoist never answers itself
/// (a token shared with humans cannot be told apart otherwise).
pub use crate::propose::MARKER;

/// A comment on a pull request, as a webhook or CI event delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentEvent {
    pub forge: ForgeKind,
    /// `owner/repo` (GitHub), `org/project/repo` (Azure DevOps).
    pub repository: String,
    pub pull: u64,
    pub comment_id: u64,
    /// GitHub login; Azure DevOps uniqueName.
    pub author: String,
    pub author_is_bot: bool,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `force`: even while `env` is frozen.
    Promote {
        env: String,
        image: Option<String>,
        force: bool,
    },
    Rollback {
        env: Option<String>,
    },
    Hold {
        env: String,
    },
    Release {
        env: String,
    },
    Plan,
    Retry,
    Help,
}

use crate::config::ladder::ALL;

impl Command {
    /// `hold all` or `release all`.
    fn is_all(&self) -> bool {
        matches!(self, Command::Hold { env } | Command::Release { env } if env == ALL)
    }

    /// The rung a command acts on (`None`: the pull request's own).
    fn env(&self) -> Option<&str> {
        match self {
            Command::Promote { env, .. } | Command::Hold { env } | Command::Release { env } => {
                Some(env)
            }
            Command::Rollback { env } => env.as_deref(),
            _ => None,
        }
    }
}

/// At most this many commands per comment.
const MAX_COMMANDS: usize = 10;

/// The `/hoist` lines of a comment, each parsed or refused with a reason.
/// Lines inside fenced code blocks and quotes are not commands.
pub fn parse(body: &str) -> Vec<(String, Result<Command, String>)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in body.lines().take(1000) {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let Some(rest) = t.strip_prefix("/hoist") else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue;
        }
        let shown: String = t.chars().take(120).collect();
        out.push((shown, parse_one(rest)));
        if out.len() == MAX_COMMANDS {
            break;
        }
    }
    out
}

fn parse_one(rest: &str) -> Result<Command, String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let env_ok = |e: &str| {
        if !e.is_empty()
            && e.len() <= 63
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            Ok(e.to_string())
        } else {
            Err(format!("{:?} is not an environment name", cut(e)))
        }
    };
    match words.as_slice() {
        [] | ["help"] => Ok(Command::Help),
        ["promote", env, rest @ ..] if rest.len() <= 2 => {
            let (mut image, mut force) = (None, false);
            for word in rest {
                match (word.strip_prefix("image="), *word) {
                    (_, "force") if !force => force = true,
                    (Some(i), _) if image.is_none() && !i.is_empty() && i.len() <= 255 => {
                        image = Some(i.to_string())
                    }
                    _ => {
                        return Err(format!(
                            "expected image=<name> or `force` after the environment, not {:?}",
                            cut(word)
                        ));
                    }
                }
            }
            Ok(Command::Promote {
                env: env_ok(env)?,
                image,
                force,
            })
        }
        ["rollback"] => Ok(Command::Rollback { env: None }),
        ["rollback", env] => Ok(Command::Rollback {
            env: Some(env_ok(env)?),
        }),
        ["hold", env] => Ok(Command::Hold { env: env_ok(env)? }),
        ["release", env] => Ok(Command::Release { env: env_ok(env)? }),
        ["plan"] => Ok(Command::Plan),
        ["retry"] => Ok(Command::Retry),
        [verb, ..] => Err(format!(
            "`{}` is not a command, or its arguments are wrong (see `/hoist help`)",
            cut(verb)
        )),
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_string()
    } else {
        let head: String = s.chars().take(64).collect();
        format!("{head}… ({} bytes)", s.len())
    }
}

pub const HELP: &str = "\
| command | what it does |
|---|---|
| `/hoist promote <env> [image=<name>] [force]` | open (or update) the promotion into `<env>` from the rung it promotes from (`force`: even while `<env>` is frozen; the pull request says so) |
| `/hoist plan` | show what this pull request's rung would change now |
| `/hoist retry` | run the whole ladder again |
| `/hoist rollback [<env>]` | open a pull request restoring what `<env>` ran before its last promotion (this one's, without `<env>`), and hold `<env>` |
| `/hoist hold <env>` / `/hoist release <env>` | pause / resume automatic changes to `<env>` (`all`: to every environment) |
| `/hoist help` | this table |

Commands need write permission on the repository, and for environments with `approvers`, to be one of them.";

/// What handling a comment came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// The reply posted (empty when the comment was not for hoist).
    pub reply: String,
    /// Commands run / refused.
    pub accepted: usize,
    pub refused: usize,
    /// Why nothing was done, for logs (bots, no commands).
    pub ignored: Option<String>,
}

/// Handle one comment on `ladder`'s forge. `open` opens a session on the
/// fleet when a command needs one (promote, plan, retry); nothing is
/// opened for refused commands.
pub fn handle(
    ev: &CommentEvent,
    ladder: &Ladder,
    open: &mut dyn FnMut() -> Result<Option<Session>, String>,
) -> Result<Handled, forge::Error> {
    let ignored = |why: &str| {
        Ok(Handled {
            ignored: Some(why.to_string()),
            ..Handled::default()
        })
    };
    if ev.author_is_bot || ev.body.contains(MARKER) {
        return ignored("a comment by a bot");
    }
    let commands = parse(&ev.body);
    if commands.is_empty() {
        return ignored("no /hoist command");
    }
    let Some(fcfg) = &ladder.forge else {
        return ignored("no [forge] in hoist.toml");
    };
    let governed = std::iter::once(fcfg.repository.as_str())
        .chain(ladder.rungs.iter().filter_map(|r| r.repository.as_deref()))
        .any(|r| r.eq_ignore_ascii_case(&ev.repository));
    if !governed {
        return ignored("a repository this ladder does not govern");
    }
    let f = forge::open(fcfg, Some(&ev.repository))?;
    let pr = f.pull(ev.pull)?;
    let own_rung = rung_of_branch(ladder, &pr.head_branch);
    let permission = f.permission(&ev.author)?;

    let mut lines = Vec::new();
    let mut runnable = Vec::new();
    let mut refused = 0;
    for (shown, parsed) in commands {
        let cmd = match parsed {
            Ok(c) => c,
            Err(why) => {
                refused += 1;
                lines.push(format!("- `{shown}`: {why}"));
                continue;
            }
        };
        if cmd.is_all() {
            // Every rung's rules apply to a command on every rung.
            let why = ladder.rungs.iter().find_map(|r| {
                authorize(&*f, ev, (permission, fcfg.commands_need), &cmd, Some(r)).err()
            });
            match why {
                None => runnable.push((shown, cmd, None)),
                Some(why) => {
                    refused += 1;
                    lines.push(format!("- `{shown}`: @{} {why}", ev.author));
                }
            }
            continue;
        }
        let target = match cmd.env() {
            Some(env) => match ladder.rung(env) {
                Some(r) => Some(r),
                None => {
                    refused += 1;
                    let known: Vec<&str> = ladder.rungs.iter().map(|r| r.name.as_str()).collect();
                    lines.push(format!(
                        "- `{shown}`: there is no environment `{}` (known: {})",
                        cut(env),
                        known.join(", ")
                    ));
                    continue;
                }
            },
            None => own_rung,
        };
        match authorize(&*f, ev, (permission, fcfg.commands_need), &cmd, target) {
            Ok(()) => runnable.push((shown, cmd, target)),
            Err(why) => {
                refused += 1;
                lines.push(format!("- `{shown}`: @{} {why}", ev.author));
            }
        }
    }
    let accepted = runnable.len();
    if accepted > 0 && ev.comment_id != 0 {
        // Seen: a reaction where the forge has them.
        let _ = f.react(ev.pull, ev.comment_id, "eyes");
    }
    let mut session: Option<Session> = None;
    for (shown, cmd, target) in runnable {
        let text = run(&cmd, &ev.author, target, &pr, ladder, &mut session, open);
        lines.push(format!("- `{shown}`: {text}"));
    }
    if accepted > 0 && ev.comment_id != 0 {
        let _ = f.react(ev.pull, ev.comment_id, "rocket");
    }
    let reply = climb::in_words(ev.forge, &format!("{MARKER}\n{}\n", lines.join("\n")));
    f.comment(ev.pull, &reply)?;
    Ok(Handled {
        reply,
        accepted,
        refused,
        ignored: None,
    })
}

/// The rung whose bot branch `branch` is (`hoist/<env>[/<image>]`).
fn rung_of_branch<'a>(ladder: &'a Ladder, branch: &str) -> Option<&'a Rung> {
    let rest = branch.strip_prefix("hoist/")?;
    ladder
        .rungs
        .iter()
        .find(|r| rest == r.name || rest.starts_with(&format!("{}/", r.name)))
}

/// May `ev.author`, whose access is `permission`, run `cmd` (on `target`)?
/// Rungs without approvers need `need` of them. `Err` says why not, politely.
fn authorize(
    f: &dyn Forge,
    ev: &CommentEvent,
    (permission, need): (Permission, CommandsNeed),
    cmd: &Command,
    target: Option<&Rung>,
) -> Result<(), String> {
    if *cmd == Command::Help {
        return Ok(());
    }
    let approvers = target.map(|r| r.approvers.as_slice()).unwrap_or(&[]);
    let approved = || -> Result<bool, String> {
        for a in approvers {
            if let Some(team) = a.strip_prefix('@') {
                let Some((org, slug)) = team.split_once('/') else {
                    continue;
                };
                if f.in_team(org, slug, &ev.author)
                    .map_err(|e| format!("could not be checked against {a}: {e}"))?
                {
                    return Ok(true);
                }
            } else if a.eq_ignore_ascii_case(&ev.author) {
                return Ok(true);
            }
        }
        Ok(false)
    };
    match permission {
        Permission::Unknown if approvers.is_empty() => {
            return Err(format!(
                "{} cannot tell hoist who may write to this repository, so commands need `approvers` on the environment, and {} has none.",
                forge_name(ev.forge),
                target.map_or("this pull request".to_string(), |r| format!("`{}`", r.name))
            ));
        }
        Permission::Unknown => {}
        p if !p.can_write() => {
            return Err(
                "commands need write permission on this repository, which you do not have. Ask a maintainer to run it."
                    .to_string(),
            );
        }
        p if approvers.is_empty()
            && need == CommandsNeed::Maintain
            && !matches!(p, Permission::Maintain | Permission::Admin) =>
        {
            return Err(format!(
                "commands on {} need maintainer access on this repository (`commands_need = \"maintain\"`), which you do not have.",
                target.map_or("this pull request".to_string(), |r| format!("`{}`", r.name))
            ));
        }
        _ => {}
    }
    if !approvers.is_empty() && !approved()? {
        return Err(format!(
            "only the approvers of `{}` ({}) may run this.",
            target.map_or("", |r| r.name.as_str()),
            approvers.join(", ")
        ));
    }
    Ok(())
}

fn forge_name(k: ForgeKind) -> &'static str {
    match k {
        ForgeKind::Github => "GitHub",
        ForgeKind::AzureDevops => "Azure DevOps",
        ForgeKind::Gitlab => "GitLab",
    }
}

/// `/hoist hold all` / `release all`: the same hold on every rung.
fn hold_all(s: &Session, ladder: &Ladder, on: bool) -> String {
    let envs: Vec<&str> = ladder.rungs.iter().map(|r| r.name.as_str()).collect();
    let changed = match crate::run::climb::set_holds(s, &envs, on) {
        Ok(c) if c.is_empty() => "none".to_string(),
        Ok(c) => c.join(", "),
        Err(f) => return format!("failed: {}", f.text()),
    };
    let all = envs.join(", ");
    if on {
        format!(
            "every environment is on hold ({all}; newly: {changed}): automatic changes wait; `/hoist release all` resumes them."
        )
    } else {
        format!(
            "every environment is released ({all}; were held: {changed}): automatic changes resume with the next run."
        )
    }
}

/// Run one authorized command; the reply line.
fn run(
    cmd: &Command,
    author: &str,
    target: Option<&Rung>,
    this_pull: &forge::PullRequest,
    ladder: &Ladder,
    session: &mut Option<Session>,
    open: &mut dyn FnMut() -> Result<Option<Session>, String>,
) -> String {
    let needs_session = *cmd != Command::Help;
    if needs_session && session.is_none() {
        match open() {
            Ok(Some(s)) => *session = Some(s),
            Ok(None) => return "the ImageUpdateAutomation is suspended; nothing to do.".into(),
            Err(e) => return format!("failed: {e}"),
        }
    }
    match cmd {
        Command::Help => HELP.replace('\n', "\n  "),
        Command::Promote { env, image, force } => {
            let (Some(rung), Some(s)) = (target, session.as_mut()) else {
                return format!("there is no environment `{env}`");
            };
            let Some(from) = rung.promote_from.clone() else {
                return format!(
                    "`{env}` has no `promote_from`: its tags come from its policies, not from another rung."
                );
            };
            let forced = match crate::propose::gate::frozen(rung, crate::core::time::now()) {
                None => None,
                Some(w) if !force => {
                    let image = image
                        .as_deref()
                        .map(|i| format!(" image={i}"))
                        .unwrap_or_default();
                    return format!(
                        "`{env}` is frozen (`{w}`): nothing was promoted. `/hoist promote {env}{image} force` promotes anyway, and its pull request says so."
                    );
                }
                Some(w) => Some(format!(
                    "Promoted during the freeze `{w}` of `{env}`: @{} asked with `/hoist promote {env} force`.",
                    author
                )),
            };
            let scope = Scope::Promotion {
                from,
                to: env.clone(),
                image: image.clone(),
                forced,
            };
            let mut forges = Forges::new(ladder);
            let c = climb::land(s, &mut forges, ladder, rung, &scope, image.as_deref());
            summarize_on(&c, climb::forge_kind(ladder))
        }
        Command::Plan => {
            let Some(rung) = target else {
                return "this pull request is not one of hoist's (its branch is not hoist/<env>), so it has no rung to plan.".into();
            };
            let Some(s) = session.as_ref() else {
                return "no session".into();
            };
            match s.preview_ladder() {
                Ok((plans, _)) => match plans.iter().find(|p| p.rung == rung.name) {
                    Some(p) => plan_text(p),
                    None => format!("`{}` has nothing to plan.", rung.name),
                },
                Err(f) => format!("failed: {}", f.text()),
            }
        }
        Command::Retry => {
            let Some(s) = session.as_mut() else {
                return "no session".into();
            };
            let climbed = climb::climb(s, ladder);
            let mut out = String::from("ran the ladder again:");
            for (env, c) in &climbed {
                out.push_str(&format!(
                    "\n  - {env}: {}",
                    summarize_on(c, climb::forge_kind(ladder))
                ));
            }
            out
        }
        Command::Hold { env } | Command::Release { env } => {
            let on = matches!(cmd, Command::Hold { .. });
            let Some(s) = session.as_ref() else {
                return "no session".into();
            };
            if cmd.is_all() {
                return hold_all(s, ladder, on);
            }
            match (s.set_hold(env, on), on) {
                (Ok(true), true) => format!(
                    "`{env}` is on hold: automatic changes wait (branch `{}{env}`); `/hoist release {env}` resumes them.",
                    crate::run::session::HOLD_PREFIX
                ),
                (Ok(false), true) => format!("`{env}` was already on hold."),
                (Ok(true), false) => {
                    format!("`{env}` is released: automatic changes resume with the next run.")
                }
                (Ok(false), false) => format!("`{env}` was not on hold."),
                (Err(f), _) => format!("failed: {}", f.text()),
            }
        }
        Command::Rollback { env } => {
            let Some(rung) = target else {
                return "name the environment (`/hoist rollback <env>`), or comment on one of hoist's pull requests.".into();
            };
            let Some(s) = session.as_mut() else {
                return "no session".into();
            };
            rollback(s, ladder, rung, env.is_none(), this_pull)
        }
    }
}

/// Open a pull request restoring what `rung` ran before its last merged
/// promotion (this pull request's, when `here` and it is one), and hold
/// the rung so the next run does not promote the same build again.
fn rollback(
    s: &mut Session,
    ladder: &Ladder,
    rung: &Rung,
    here: bool,
    this_pull: &forge::PullRequest,
) -> String {
    let Some(fcfg) = &ladder.forge else {
        return "no [forge] in hoist.toml".into();
    };
    let mine = |p: &forge::PullRequest| {
        rung_of_branch(ladder, &p.head_branch).is_some_and(|r| r.name == rung.name)
    };
    let last = if mine(this_pull) && this_pull.state == forge::PullState::Merged {
        this_pull.clone()
    } else if here {
        return "this pull request is not a merged promotion of hoist's; name the environment: `/hoist rollback <env>`.".into();
    } else {
        let prefix = format!("hoist/{}", rung.name);
        let found = forge::open(fcfg, rung.repository.as_deref())
            .and_then(|f| f.list_merged(&prefix))
            .map(|list| list.into_iter().find(|p| mine(p)));
        match found {
            Ok(Some(p)) => p,
            Ok(None) => return format!("no merged promotion into `{}` to roll back.", rung.name),
            Err(e) => return format!("failed: {e}"),
        }
    };
    let c = match crate::run::rollback::roll_back(
        s,
        ladder,
        rung,
        &last,
        crate::run::rollback::Landing::Review,
        None,
    ) {
        Ok(c) => c,
        Err(why) => return why,
    };
    let held = match s.set_hold(&rung.name, true) {
        Ok(_) => format!(
            " `{}` is on hold so the next run does not promote it again; `/hoist release {}` resumes it.",
            rung.name, rung.name
        ),
        Err(f) => format!(" (holding `{}` failed: {})", rung.name, f.text()),
    };
    format!(
        "rolling back {}: {}.{held}",
        climb::request_ref(climb::forge_kind(ladder), last.number),
        summarize_on(&c, climb::forge_kind(ladder))
    )
}

fn plan_text(p: &crate::decide::ladder::RungPlan) -> String {
    if p.files.is_empty() && p.blocked.is_empty() {
        return format!("`{}` already runs what it should; no changes.", p.rung);
    }
    let mut out = String::new();
    for pr in &p.promotions {
        out.push_str(&format!(
            "\n  - {}: `{}` ← `{}`",
            pr.image, pr.to_tag, pr.from_tag
        ));
    }
    for b in &p.blocked {
        out.push_str(&format!(
            "\n  - blocked: {}/{}: {}",
            b.namespace, b.policy, b.reason
        ));
    }
    let mut diff = String::new();
    for f in &p.files {
        diff.push_str(&crate::mutate::diff::unified(
            &f.file,
            &f.original,
            &f.updated,
            &|_, l| l.to_string(),
        ));
    }
    let diff = forge::cut_body(&diff, 50_000);
    format!(
        "`{}` would change {} file(s):{out}\n\n  ```diff\n{diff}\n  ```",
        p.rung,
        p.files.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_from_their_own_lines() {
        let got: Vec<_> = parse(
            "LGTM\n/hoist promote prod\n /hoist promote prod image=api\n/hoisting\n```\n/hoist retry\n```\n/hoist\n/hoist frobnicate\n/hoist promote ../x\n/hoist promote prod img=api",
        )
        .into_iter()
        .map(|(_, c)| c)
        .collect();
        assert_eq!(
            got[0],
            Ok(Command::Promote {
                env: "prod".into(),
                image: None,
                force: false,
            })
        );
        assert_eq!(
            got[1],
            Ok(Command::Promote {
                env: "prod".into(),
                image: Some("api".into()),
                force: false,
            })
        );
        assert_eq!(got[2], Ok(Command::Help));
        assert!(got[3].as_ref().unwrap_err().contains("frobnicate"));
        assert!(got[4].as_ref().unwrap_err().contains("not an environment"));
        assert!(got[5].as_ref().unwrap_err().contains("image=<name>"));
        assert_eq!(got.len(), 6, "fenced and look-alike lines are not commands");
        let forced: Vec<_> = parse(
            "/hoist promote prod force\n/hoist promote prod image=api force\n/hoist promote prod force force\n/hoist hold all",
        )
        .into_iter()
        .map(|(_, c)| c)
        .collect();
        assert_eq!(
            forced[0],
            Ok(Command::Promote {
                env: "prod".into(),
                image: None,
                force: true,
            })
        );
        assert_eq!(
            forced[1],
            Ok(Command::Promote {
                env: "prod".into(),
                image: Some("api".into()),
                force: true,
            })
        );
        assert!(forced[2].as_ref().unwrap_err().contains("`force`"));
        assert_eq!(forced[3], Ok(Command::Hold { env: "all".into() }));
    }

    #[test]
    fn commands_per_comment_are_bounded() {
        let body = "/hoist plan\n".repeat(5000);
        assert_eq!(parse(&body).len(), MAX_COMMANDS);
        let long = format!("/hoist {}", "x".repeat(1 << 20));
        let (shown, r) = &parse(&long)[0];
        assert!(shown.chars().count() <= 120);
        assert!(r.as_ref().unwrap_err().len() < 300);
    }
}
