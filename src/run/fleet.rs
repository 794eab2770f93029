//! A fleet repository on disk: its config and files, and the plan for it.
//!
//! What every repository-level command starts from, so a new command is a
//! thin file in `cli/`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::core::diag::Diag;
use crate::decide::plan::{Objects, Plan, collect_objects, plan_objects};
use crate::observe::repo::{self, SourceFile};
use crate::observe::scan::{Tags, obtain_tags};

/// A walked repository.
pub struct Fleet {
    pub root: PathBuf,
    pub config: Config,
    pub files: Vec<SourceFile>,
    /// Problems met while walking (unreadable files, symlinks).
    pub diags: Vec<Diag>,
}

/// Read `root`'s config (`config_path`, else `root/hoist.toml` when
/// present) and every file that may hold markers or Flux objects.
pub fn load(root: &Path, config_path: Option<&Path>) -> Result<Fleet, Vec<Diag>> {
    if !root.is_dir() {
        return Err(vec![
            Diag::error("not a directory").at(root.display().to_string(), None),
        ]);
    }
    let config = config::load(root, config_path)?;
    let scan = repo::walk(root).map_err(|d| vec![d])?;
    Ok(Fleet {
        root: root.to_path_buf(),
        config,
        files: scan.files,
        diags: scan.diags,
    })
}

/// A plan and everything reported on the way to it.
pub struct Planned {
    pub plan: Plan,
    /// Walk, registry and planning diagnostics, in that order.
    pub diags: Vec<Diag>,
}

/// The fleet's Flux objects and the tag lists of their images (from a
/// snapshot file, or the registries), with everything reported on the way.
pub fn observe(
    fleet: &Fleet,
    snapshot: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(Objects, Tags, Vec<Diag>), Diag> {
    let (objects, mut diags) = collect_objects(&fleet.files, &fleet.config);
    diags.extend(fleet.diags.iter().cloned());
    let (tags, tag_diags) = obtain_tags(&fleet.config, &objects, snapshot, progress)?;
    diags.extend(tag_diags);
    Ok((objects, tags, diags))
}

/// Objects → tags (a snapshot file, or the registries) → plan.
pub fn plan(
    fleet: &Fleet,
    snapshot: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Planned, Diag> {
    let (objects, object_diags) = collect_objects(&fleet.files, &fleet.config);
    let (tags, tag_diags) = obtain_tags(&fleet.config, &objects, snapshot, progress)?;
    let plan = plan_objects(
        &fleet.files,
        &objects,
        object_diags,
        &fleet.config.write,
        |img| tags.get(img),
    );
    let mut diags = fleet.diags.clone();
    diags.extend(tag_diags);
    diags.extend(plan.diagnostics.iter().cloned());
    Ok(Planned { plan, diags })
}

/// Write a plan's files into the working tree, each atomically; a file
/// that changed since it was read is refused. Returns how many were
/// written and an error per refused file.
pub fn write(fleet: &Fleet, plan: &Plan) -> (usize, Vec<Diag>) {
    let mut written = 0;
    let mut diags = Vec::new();
    for f in &plan.files {
        match write_atomic(&fleet.root.join(&f.file), &f.original, &f.updated) {
            Ok(()) => written += 1,
            Err(e) => diags.push(Diag::error(e).at(&f.file, None)),
        }
    }
    (written, diags)
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
