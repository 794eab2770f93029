//! Reading a commit's files and writing an edited tree and commit, all in
//! the object database (gix); nothing is checked out.

use std::collections::HashMap;
use std::path::PathBuf;

use gix::ObjectId;
use gix::objs::tree::EntryKind;

use super::{Error, Result};
use crate::core::diag::Diag;
use crate::observe::repo::{SourceFile, is_manifest_name, source_file};

/// The files of one commit that matter to hoist.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub commit: ObjectId,
    pub tree: ObjectId,
    pub files: Vec<SourceFile>,
    /// Blob kind (plain or executable) of every manifest path.
    pub kinds: HashMap<String, EntryKind>,
    /// `hoist.toml` at the root, if the commit has one.
    pub config: Option<String>,
    pub diags: Vec<Diag>,
}

struct Candidate {
    path: String,
    id: ObjectId,
}

fn collect(
    repo: &gix::Repository,
    tree: ObjectId,
    prefix: &str,
    out: &mut Vec<Candidate>,
    kinds: &mut HashMap<String, EntryKind>,
) -> Result<()> {
    let t = repo
        .find_tree(tree)
        .map_err(|e| Error::new(format!("cannot read tree {tree}: {e}")))?;
    let decoded = t
        .decode()
        .map_err(|e| Error::new(format!("cannot decode tree {tree}: {e}")))?;
    for e in &decoded.entries {
        let Ok(name) = std::str::from_utf8(e.filename) else {
            continue;
        };
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        match e.mode.kind() {
            EntryKind::Tree => collect(repo, e.oid.to_owned(), &path, out, kinds)?,
            kind @ (EntryKind::Blob | EntryKind::BlobExecutable) => {
                if is_manifest_name(name) || path == "hoist.toml" {
                    kinds.insert(path.clone(), kind);
                    out.push(Candidate {
                        path,
                        id: e.oid.to_owned(),
                    });
                }
            }
            // Symlinks and submodules are never followed (as in the walk).
            EntryKind::Link | EntryKind::Commit => {}
        }
    }
    Ok(())
}

/// Blobs known to hold none of the needles hoist looks for (no marker, no
/// Flux object, no Secret). A blob id names its content forever, so the
/// answer never goes stale; warm runs on a 100,000-file tree then read only
/// the blobs that are new since the last run. The set is rewritten from the
/// current tree each time, so it never grows past one tree's files.
#[derive(Debug, Default)]
pub struct BlobCache {
    path: Option<PathBuf>,
    known: std::collections::HashSet<ObjectId>,
    dirty: bool,
}

/// First line of the cache file: bump when the needles change.
const BLOB_CACHE_HEADER: &[u8] =
    b"hoist blob-cache v2: \"$imagepolicy\" image.toolkit.fluxcd.io kustomize.toolkit.fluxcd.io dockerconfigjson ca.crt\n";

impl BlobCache {
    /// Load `path` (a missing or foreign file is an empty cache).
    pub fn load(path: PathBuf) -> BlobCache {
        let mut known = std::collections::HashSet::new();
        if let Ok(bytes) = std::fs::read(&path)
            && let Some(rest) = bytes.strip_prefix(BLOB_CACHE_HEADER)
            && rest.len() % 20 == 0
        {
            known.reserve(rest.len() / 20);
            for c in rest.chunks_exact(20) {
                if let Ok(id) = ObjectId::try_from(c) {
                    known.insert(id);
                }
            }
        }
        BlobCache {
            path: Some(path),
            known,
            dirty: false,
        }
    }

    /// Keep exactly `ids` and write them back atomically (best effort: a
    /// cache that cannot be written only costs speed).
    fn store(&mut self, ids: std::collections::HashSet<ObjectId>) {
        if ids != self.known {
            self.known = ids;
            self.dirty = true;
        }
        let (Some(path), true) = (&self.path, self.dirty) else {
            return;
        };
        let mut bytes = Vec::with_capacity(BLOB_CACHE_HEADER.len() + self.known.len() * 20);
        bytes.extend_from_slice(BLOB_CACHE_HEADER);
        for id in &self.known {
            bytes.extend_from_slice(id.as_bytes());
        }
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::rename(&tmp, path))
            .is_ok()
        {
            self.dirty = false;
        }
    }
}

/// Read the manifests of `commit`, in parallel.
pub fn read(repo: &gix::Repository, commit: ObjectId) -> Result<Snapshot> {
    read_cached(repo, commit, &mut BlobCache::default())
}

/// [`read`], skipping blobs `cache` knows to be uninteresting.
pub fn read_cached(
    repo: &gix::Repository,
    commit: ObjectId,
    cache: &mut BlobCache,
) -> Result<Snapshot> {
    let c = repo
        .find_commit(commit)
        .map_err(|e| Error::new(format!("cannot read commit {commit}: {e}")))?;
    let tree = c
        .tree_id()
        .map_err(|e| Error::new(format!("cannot read the tree of {commit}: {e}")))?
        .detach();
    let mut candidates = Vec::new();
    let mut kinds = HashMap::new();
    collect(repo, tree, "", &mut candidates, &mut kinds)?;
    let mut boring: std::collections::HashSet<ObjectId> = std::collections::HashSet::new();
    candidates.retain(|c| {
        // Entry files are kept by name, so a blob known as boring under
        // another name may still matter here.
        if cache.known.contains(&c.id) && !crate::flux::layout::is_entry_name(&c.path) {
            boring.insert(c.id);
            false
        } else {
            true
        }
    });

    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let chunk = candidates.len().div_ceil(threads).max(1);
    let shared = repo.clone().into_sync();
    type Part = (Vec<SourceFile>, Vec<Diag>, Option<String>, Vec<ObjectId>);
    let parts: Vec<Result<Part>> = std::thread::scope(|s| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| {
                let shared = &shared;
                s.spawn(move || -> Result<Part> {
                    let mut repo = shared.to_thread_local();
                    repo.object_cache_size_if_unset(4 * 1024 * 1024);
                    let mut files = Vec::new();
                    let mut diags = Vec::new();
                    let mut config = None;
                    let mut boring = Vec::new();
                    for c in part {
                        let blob = repo.find_blob(c.id).map_err(|e| {
                            Error::new(format!("cannot read {} ({}): {e}", c.path, c.id))
                        })?;
                        let data = blob.detach().data;
                        if c.path == "hoist.toml" {
                            config = Some(String::from_utf8_lossy(&data).into_owned());
                            continue;
                        }
                        match source_file(c.path.clone(), PathBuf::from(&c.path), data) {
                            Ok(Some(f)) => files.push(f),
                            Ok(None) => boring.push(c.id),
                            Err(d) => diags.push(d),
                        }
                    }
                    Ok((files, diags, config, boring))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::new("a reader thread panicked")))
            })
            .collect()
    });
    let mut snap = Snapshot {
        commit,
        tree,
        files: Vec::new(),
        kinds,
        config: None,
        diags: Vec::new(),
    };
    for p in parts {
        let (files, diags, config, more) = p?;
        boring.extend(more);
        snap.files.extend(files);
        snap.diags.extend(diags);
        if config.is_some() {
            snap.config = config;
        }
    }
    snap.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    snap.diags.sort();
    cache.store(boring);
    Ok(snap)
}

/// Who made a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    fn signature(&self, seconds: i64) -> gix::actor::Signature {
        gix::actor::Signature {
            name: self.name.as_str().into(),
            email: self.email.as_str().into(),
            time: gix::date::Time { seconds, offset: 0 },
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Write `edits` (path → new content) over `snap`'s tree and return the new
/// tree's id.
pub fn write_tree(
    repo: &gix::Repository,
    snap: &Snapshot,
    edits: &[(String, std::sync::Arc<String>)],
) -> Result<ObjectId> {
    let mut editor = repo
        .edit_tree(snap.tree)
        .map_err(|e| Error::new(format!("cannot edit tree {}: {e}", snap.tree)))?;
    for (path, content) in edits {
        let id = repo
            .write_blob(content.as_bytes())
            .map_err(|e| Error::new(format!("cannot write blob for {path}: {e}")))?;
        let kind = snap.kinds.get(path).copied().unwrap_or(EntryKind::Blob);
        editor
            .upsert(path.as_str(), kind, id)
            .map_err(|e| Error::new(format!("cannot update {path} in the tree: {e}")))?;
    }
    Ok(editor
        .write()
        .map_err(|e| Error::new(format!("cannot write tree: {e}")))?
        .detach())
}

/// Write an (unsigned) commit object; no ref is touched.
pub fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parent: ObjectId,
    author: &Identity,
    message: &str,
) -> Result<ObjectId> {
    let t = now();
    let commit = gix::objs::Commit {
        tree,
        parents: [parent].into_iter().collect(),
        author: author.signature(t),
        committer: author.signature(t),
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    Ok(repo
        .write_object(&commit)
        .map_err(|e| Error::new(format!("cannot write commit: {e}")))?
        .detach())
}

/// A commit's message and committer email, or `None` when the object is not
/// in the (shallow) clone.
pub fn commit_info(
    repo: &gix::Repository,
    id: ObjectId,
) -> Option<(String, String, Vec<ObjectId>)> {
    let c = repo.find_commit(id).ok()?;
    let msg = c.message_raw().ok()?.to_string();
    let email = c.committer().ok()?.email.to_string();
    let parents = c.parent_ids().map(|p| p.detach()).collect();
    Some((msg, email, parents))
}

/// The tree of a commit.
pub fn tree_of(repo: &gix::Repository, id: ObjectId) -> Result<ObjectId> {
    Ok(repo
        .find_commit(id)
        .map_err(|e| Error::new(format!("cannot read commit {id}: {e}")))?
        .tree_id()
        .map_err(|e| Error::new(format!("cannot read the tree of {id}: {e}")))?
        .detach())
}
