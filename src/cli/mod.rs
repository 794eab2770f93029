//! Command-line front end. Each subcommand lives in its own file; this
//! module holds what they share: loading a repository, printing
//! diagnostics, and the exit-code contract.

pub mod apply;
pub mod lint;
pub mod plan;
pub mod policy;

use std::path::{Path, PathBuf};

use anstyle::{AnsiColor, Style};

use crate::config::{self, Config};
use crate::diag::{Diag, Severity};
use crate::repo::{self, SourceFile};
use crate::snapshot::Snapshot;

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const OK: i32 = 0;
    /// Problems found (`lint`), no tag selected (`policy eval`), or some
    /// edits could not be made (`apply`).
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

/// Everything a repository-level command starts from.
pub struct Loaded {
    pub root: PathBuf,
    pub config: Config,
    pub files: Vec<SourceFile>,
    pub diags: Vec<Diag>,
}

pub fn load_repo(root: &Path, config_path: Option<&Path>) -> Result<Loaded, Fatal> {
    if !root.is_dir() {
        return Err(Fatal::usage(
            Diag::error("not a directory").at(root.display().to_string(), None),
        ));
    }
    let config = config::load(root, config_path)?;
    let scan = repo::walk(root).map_err(Fatal::usage)?;
    Ok(Loaded {
        root: root.to_path_buf(),
        config,
        files: scan.files,
        diags: scan.diags,
    })
}

pub fn load_snapshot(path: Option<&Path>) -> Result<(Snapshot, Vec<Diag>), Fatal> {
    match path {
        Some(p) => Snapshot::load(p).map_err(Fatal::usage),
        None => Err(Fatal::usage(Diag::error(
            "no tag source: pass --registry-snapshot FILE (live registry scanning is not built yet)",
        ))),
    }
}

/// Compute the plan for a loaded repository and snapshot.
pub fn compute_plan(loaded: &Loaded, snapshot: &Snapshot) -> crate::plan::Plan {
    crate::plan::plan(&loaded.files, &loaded.config, |image| {
        snapshot
            .get(image)
            .ok_or_else(|| format!("image {image} is not in the registry snapshot"))
    })
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

/// `1 change`, `2 changes`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
