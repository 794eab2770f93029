//! Command-line front end. Each subcommand lives in its own file; this
//! module holds what they share: loading a repository, printing
//! diagnostics, and the exit-code contract.

pub mod apply;
pub mod ci;
pub mod comment;
pub mod commit;
pub mod config;
pub mod hold;
pub mod init;
pub mod ladder;
pub mod lint;
pub mod plan;
pub mod policy;
pub mod promote;
pub mod report;
pub mod run;
pub mod scan;
pub mod serve;

use std::path::{Path, PathBuf};

pub use hoist::observe::scan::Tags;

use anstyle::{AnsiColor, Style};

use hoist::core::diag::{Diag, Severity};
use hoist::run::fleet::{self, Fleet, Planned};

static VERBOSITY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Record `-v`'s count (main does, once).
pub fn set_verbosity(v: u8) {
    VERBOSITY.store(v, std::sync::atomic::Ordering::Relaxed);
}

/// How many `-v` were given.
pub fn verbosity() -> u8 {
    VERBOSITY.load(std::sync::atomic::Ordering::Relaxed)
}

/// Where the fleet repository and its config are (every repo command).
#[derive(Debug, clap::Args)]
pub struct RepoArgs {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// hoist.toml to use (default: <repo>/hoist.toml when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Where tags come from (plan, apply).
#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// Read tags from this snapshot file instead of scanning the registries.
    #[arg(long, value_name = "FILE")]
    pub registry_snapshot: Option<PathBuf>,
}

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const OK: i32 = 0;
    /// Problems found (`lint`), errors reported (`plan`), no tag selected
    /// (`policy eval`), or some edits could not be made (`apply`).
    pub const FOUND: i32 = 1;
    /// Usage or configuration error.
    pub const USAGE: i32 = 2;
    /// `plan --exit-code`: changes are pending.
    pub const CHANGES: i32 = 3;
}

/// A failure that ends the command with an exit code.
#[derive(Debug)]
pub struct Fatal {
    pub code: i32,
    pub diags: Vec<Diag>,
}

impl Fatal {
    pub fn usage(d: Diag) -> Fatal {
        Fatal {
            code: exit::USAGE,
            diags: vec![d],
        }
    }
}

impl From<Vec<Diag>> for Fatal {
    fn from(diags: Vec<Diag>) -> Fatal {
        Fatal {
            code: exit::USAGE,
            diags,
        }
    }
}

/// Print diagnostics to stderr, cargo style.
pub fn report(diags: &[Diag]) {
    let err = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    let warn = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
    for d in diags {
        let (style, word) = match d.severity {
            Severity::Error => (err, "error"),
            Severity::Warning => (warn, "warning"),
        };
        anstream::eprintln!("{style}{word}{style:#}: {d}");
    }
}

/// Load the repository, as a usage error when it cannot be read.
pub fn load_repo(root: &Path, config_path: Option<&Path>) -> Result<Fleet, Fatal> {
    Ok(fleet::load(root, config_path)?)
}

/// A progress bar on a terminal only; scripts and CI logs get none.
pub fn scan_progress() -> impl Fn(usize, usize, &str) + Sync {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning {pos}/{len} images {wide_bar} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    move |done: usize, total: usize, image: &str| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(image.to_string());
        if done >= total {
            bar.finish_and_clear();
        }
    }
}

/// Load the repository and observe it (objects, tags), as usage errors.
pub fn observe_repo(
    target: &RepoArgs,
    tags: &TagArgs,
) -> Result<(Fleet, hoist::decide::plan::Objects, Tags, Vec<Diag>), Fatal> {
    let fleet = load_repo(&target.repo, target.config.as_deref())?;
    let (objects, t, diags) =
        fleet::observe(&fleet, tags.registry_snapshot.as_deref(), &scan_progress())
            .map_err(Fatal::usage)?;
    Ok((fleet, objects, t, diags))
}

/// The fleet, its tags and its remote: what every command that opens a
/// session (`run`, `promote`, `comment`) takes.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub target: RepoArgs,
    #[command(flatten)]
    pub tags: TagArgs,
    #[command(flatten)]
    pub git: apply::GitArgs,
}

impl SessionArgs {
    /// Open a commit session for `what` (run, promote); `None` when the
    /// automation is suspended (already said).
    pub fn open(
        &self,
        what: &str,
        read_only: bool,
    ) -> Result<Option<hoist::run::session::Session>, Fatal> {
        open_session(&self.git, &self.target, &self.tags, what, read_only)
    }
}

fn open_session(
    git: &apply::GitArgs,
    target: &RepoArgs,
    tags: &TagArgs,
    what: &str,
    read_only: bool,
) -> Result<Option<hoist::run::session::Session>, Fatal> {
    let (mut repository, mut overrides) = git.request(target, tags, None);
    overrides.read_only = read_only;
    if git.url.is_none() {
        hoist::run::climb::settle_repository(
            &target.repo,
            target.config.as_deref(),
            git.state_dir.clone(),
            &mut repository,
            &mut overrides,
        )
        .map_err(Fatal::from)?;
    }
    let session = hoist::run::session::Session::open(&repository, &overrides, &scan_progress())
        .map_err(commit::fatal)?;
    if session.is_none() {
        anstream::eprintln!("hoist {what}: the ImageUpdateAutomation is suspended; nothing to do");
    }
    Ok(session)
}

/// Walked repo + tags → plan.
pub fn plan_repo(loaded: &Fleet, snapshot: Option<&Path>) -> Result<Planned, Fatal> {
    fleet::plan(loaded, snapshot, &scan_progress()).map_err(Fatal::usage)
}

/// Colour helper for diff lines.
pub fn diff_style(kind: char, line: &str) -> String {
    let style = match kind {
        '-' => Style::new().fg_color(Some(AnsiColor::Red.into())),
        '+' => Style::new().fg_color(Some(AnsiColor::Green.into())),
        '@' => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
        'h' => Style::new().bold(),
        _ => return line.to_string(),
    };
    format!("{style}{line}{style:#}")
}

/// `1 change`, `2 changes`, `2 entries`.
pub fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("{n} {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}
