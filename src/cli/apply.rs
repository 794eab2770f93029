//! `hoist apply --no-commit`: write the planned edits into the working tree.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::{Fatal, exit, load_repo, plan_repo, plural, report};
use crate::diag::Diag;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
    #[command(flatten)]
    pub tags: super::TagArgs,
    /// Only write the files; do not commit or push.
    #[arg(long)]
    pub no_commit: bool,
}

/// Replace `path` with `content` atomically: write a temporary file in the
/// same directory, copy the permissions, fsync, rename. The file is first
/// re-read: if it no longer holds `expected` (someone edited it while we
/// planned) nothing is written.
pub fn write_atomic(path: &Path, expected: &str, content: &str) -> Result<(), String> {
    let current = std::fs::read(path).map_err(|e| format!("cannot re-read before writing: {e}"))?;
    if current != expected.as_bytes() {
        return Err(
            "the file changed on disk while hoist was planning; not written (run again)".into(),
        );
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let perms = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".hoist-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    tmp.write_all(content.as_bytes())
        .map_err(|e| format!("cannot write: {e}"))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| format!("cannot sync: {e}"))?;
    std::fs::set_permissions(tmp.path(), perms)
        .map_err(|e| format!("cannot set permissions: {e}"))?;
    tmp.persist(path)
        .map_err(|e| format!("cannot replace the file: {}", e.error))?;
    Ok(())
}

pub fn run(args: &ApplyArgs) -> Result<i32, Fatal> {
    if !args.no_commit {
        return Err(Fatal::usage(Diag::error(
            "committing and pushing are not built yet: run `hoist apply --no-commit` to write the working tree only",
        )));
    }
    let loaded = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let super::Planned { plan, mut diags } =
        plan_repo(&loaded, args.tags.registry_snapshot.as_deref())?;
    let mut written = 0;
    for f in &plan.files {
        let path = loaded.root.join(&f.file);
        match write_atomic(&path, &f.original, &f.updated) {
            Ok(()) => written += 1,
            Err(e) => diags.push(Diag::error(e).at(&f.file, None)),
        }
    }
    report(&diags);
    anstream::eprintln!(
        "hoist apply: wrote {} ({})",
        plural(written, "file"),
        plural(plan.change_count(), "change")
    );
    Ok(if diags.iter().any(Diag::is_error) {
        exit::FOUND
    } else {
        exit::OK
    })
}
