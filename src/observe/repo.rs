//! Finding the files that matter in a fleet repository.
//!
//! Only two kinds of file are parsed for objects: YAML that mentions
//! `image.toolkit.fluxcd.io` (Flux objects) and YAML that contains the bytes
//! `"$imagepolicy"` (setter markers). Two more are kept because they say
//! where Flux applies those: kustomize entry files and files that mention
//! `kustomize.toolkit.fluxcd.io` (Flux `Kustomization`s, read by
//! [`crate::flux::layout`]). Everything else is read once, searched with
//! memchr, and dropped — the same work ripgrep does to find them. The
//! walk runs in parallel, honours `.gitignore`, never enters `.git/`, and
//! does not follow symlinks out of the repository (or into loops).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use memchr::memmem;

use crate::core::diag::Diag;

/// A file worth parsing.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Repo-relative path with `/` separators.
    pub rel: String,
    pub abs: PathBuf,
    pub text: std::sync::Arc<String>,
    pub has_markers: bool,
    pub has_flux_objects: bool,
    /// Mentions `dockerconfigjson` or `ca.crt`: may hold a pull or CA Secret.
    pub has_pull_secrets: bool,
}

/// Is this a file name Flux's setters consider?
pub fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name == "Kustomization"
}

/// The result of a walk: interesting files, plus problems met on the way.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<SourceFile>,
    pub diags: Vec<Diag>,
}

/// Bytes that must occur in a file holding an image pull Secret.
pub const SECRET_NEEDLE: &[u8] = b"dockerconfigjson";
/// Bytes that must occur in a file holding a CA Secret (`certSecretRef`).
pub const CA_NEEDLE: &[u8] = b"ca.crt";

/// Classify file content: (markers, Flux objects, pull secrets), or `None`
/// when no needle occurs.
pub fn classify(bytes: &[u8]) -> Option<(bool, bool, bool)> {
    let markers = memmem::find(bytes, crate::setters::NEEDLE).is_some();
    let flux = memmem::find(bytes, crate::flux::NEEDLE).is_some();
    let secrets =
        memmem::find(bytes, SECRET_NEEDLE).is_some() || memmem::find(bytes, CA_NEEDLE).is_some();
    (markers || flux || secrets).then_some((markers, flux, secrets))
}

/// Build a [`SourceFile`] from bytes already read.
pub fn source_file(rel: String, abs: PathBuf, bytes: Vec<u8>) -> Result<Option<SourceFile>, Diag> {
    let Some((has_markers, has_flux_objects, has_pull_secrets)) = classify(&bytes).or_else(|| {
        (crate::flux::layout::is_entry_name(&rel)
            || memmem::find(&bytes, crate::flux::layout::KUSTOMIZE_NEEDLE).is_some())
        .then_some((false, false, false))
    }) else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        Diag::error(format!(
            "not valid UTF-8 (byte {}); file skipped",
            e.utf8_error().valid_up_to()
        ))
        .at(&rel, None)
    })?;
    Ok(Some(SourceFile {
        rel,
        abs,
        text: text.into(),
        has_markers,
        has_flux_objects,
        has_pull_secrets,
    }))
}

fn rel_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Walk `root` and return the interesting files, sorted by path.
pub fn walk(root: &Path) -> Result<Scan, Diag> {
    let root_canon = root.canonicalize().map_err(|e| {
        Diag::error(format!("cannot open repository: {e}")).at(root.display().to_string(), None)
    })?;
    let out = Mutex::new(Scan::default());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let walker = ignore::WalkBuilder::new(&root_canon)
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .ignore(false)
        .parents(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .threads(threads)
        .build_parallel();
    walker.run(|| {
        let out = &out;
        let root = &root_canon;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    out.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .diags
                        .push(Diag::warning(format!("skipped: {err}")));
                    return ignore::WalkState::Continue;
                }
            };
            let name = entry.file_name().to_string_lossy();
            let Some(ft) = entry.file_type() else {
                return ignore::WalkState::Continue;
            };
            if ft.is_dir() || !is_manifest_name(&name) {
                return ignore::WalkState::Continue;
            }
            let rel = rel_path(root, entry.path());
            if ft.is_symlink() {
                // A link inside the repo is reached through its target anyway;
                // a link that leaves the repo must never be read.
                if let Ok(target) = entry.path().canonicalize()
                    && !target.starts_with(root)
                {
                    out.lock().unwrap_or_else(|p| p.into_inner()).diags.push(
                        Diag::warning("symlink points outside the repository; skipped")
                            .at(&rel, None),
                    );
                }
                return ignore::WalkState::Continue;
            }
            let result = std::fs::read(entry.path())
                .map_err(|e| Diag::error(format!("cannot read: {e}")).at(&rel, None))
                .and_then(|bytes| source_file(rel, entry.path().to_path_buf(), bytes));
            let mut guard = out.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(Some(f)) => guard.files.push(f),
                Ok(None) => {}
                Err(d) => guard.diags.push(d),
            }
            ignore::WalkState::Continue
        })
    });
    let mut scan = out.into_inner().unwrap_or_else(|p| p.into_inner());
    scan.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    scan.diags.sort();
    Ok(scan)
}
