//! What a run remembers of signatures between runs: the digests whose
//! cosign signatures (and attestations) verified, and under which `verify`
//! policies (their fingerprints). A rerun then reads no signature of a
//! digest every policy that applies to its image has accepted before;
//! one still waiting is read again each run, so a signature pushed later
//! is found.
//!
//! It is a cache, kept in the session's state directory
//! (`verified-signatures.json`): a file that is missing, unreadable or
//! not hoist's is an empty memory; it is written whole through a
//! temporary file and a rename, and holds at most [`MAX_ENTRIES`]
//! digests (the oldest forgotten first). Deleting it makes the next run
//! check every digest afresh.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::config::ladder::Ladder;
use crate::core::tags::Signed;
use crate::decide::verify::{Verdict, check};
use crate::observe::scan::Tags;

/// At most this many digests are remembered.
pub const MAX_ENTRIES: usize = 10_000;
/// A memo file larger than this is not read.
const MAX_FILE: u64 = 8 << 20;

/// Verified digests: `image@digest` → the fingerprints it verified under.
#[derive(Debug, Default)]
pub struct Memo {
    path: PathBuf,
    entries: IndexMap<String, Vec<String>>,
    changed: bool,
}

impl Memo {
    /// The memo at `path`; empty when there is none or it cannot be used.
    pub fn load(path: &Path) -> Memo {
        let entries = std::fs::metadata(path)
            .ok()
            .filter(|m| m.len() <= MAX_FILE)
            .and_then(|_| std::fs::read(path).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                let map = v.get("verified")?.as_object()?.clone();
                Some(
                    map.into_iter()
                        .take(MAX_ENTRIES)
                        .filter_map(|(k, fps)| {
                            let fps: Vec<String> = fps
                                .as_array()?
                                .iter()
                                .take(16)
                                .filter_map(|f| f.as_str().map(str::to_string))
                                .collect();
                            Some((k, fps))
                        })
                        .collect(),
                )
            })
            .unwrap_or_default();
        Memo {
            path: path.to_path_buf(),
            entries,
            changed: false,
        }
    }

    /// The fingerprints `image@digest` verified under.
    pub fn get(&self, image: &str, digest: &str) -> Option<&[String]> {
        self.entries
            .get(&format!("{image}@{digest}"))
            .map(Vec::as_slice)
    }

    /// Remember that `image@digest` verified under `fingerprint`.
    pub fn insert(&mut self, image: &str, digest: &str, fingerprint: String) {
        let key = format!("{image}@{digest}");
        let fps = self.entries.entry(key).or_default();
        if !fps.contains(&fingerprint) {
            fps.push(fingerprint);
            fps.truncate(16);
            self.changed = true;
        }
        while self.entries.len() > MAX_ENTRIES {
            self.entries.shift_remove_index(0);
        }
    }

    /// Give `tags` what is remembered: every digest of an image whose
    /// every applicable policy it verified under is marked so, and its
    /// signatures are not fetched.
    pub fn recall(&self, ladder: &Ladder, tags: &mut Tags) {
        // The policies of each image, hashed once (not once per digest).
        let mut by_image: std::collections::HashMap<&str, Vec<String>> = Default::default();
        for (key, fps) in &self.entries {
            let Some((image, digest)) = key.rsplit_once('@') else {
                continue;
            };
            if !tags.snapshot.images.contains_key(image) {
                continue;
            }
            let wanted = by_image
                .entry(image)
                .or_insert_with(|| policies(ladder, image));
            if wanted.is_empty() || !wanted.iter().all(|w| fps.contains(w)) {
                continue;
            }
            if let Some(list) = tags.snapshot.images.get_mut(image)
                && !list.signed.contains_key(digest)
            {
                list.signed.insert(
                    digest.to_string(),
                    Signed {
                        verified: fps.clone(),
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// Remember the digests of `checked` whose freshly read signatures
    /// verify under a policy of the ladder.
    pub fn learn<'a>(
        &mut self,
        ladder: &Ladder,
        tags: &Tags,
        checked: impl Iterator<Item = &'a (String, String)>,
    ) {
        for (image, digest) in checked {
            let Some(signed) = tags.snapshot.get(image).and_then(|l| l.signed.get(digest)) else {
                continue;
            };
            if !signed.verified.is_empty() {
                continue;
            }
            for r in &ladder.rungs {
                if let Some(v) = r.verify.for_image(image)
                    && matches!(check(v, digest, signed), Verdict::Verified(_))
                {
                    self.insert(image, digest, v.fingerprint());
                }
            }
        }
    }

    /// Write the memo if it changed; a failure is logged, never an error
    /// (the next run reads the signatures again).
    pub fn save(&self) {
        if !self.changed {
            return;
        }
        // Fleets of one server share the file: keep what others wrote
        // since this memo was read, then this one's entries, newest last.
        let mut entries = Memo::load(&self.path).entries;
        for (k, fps) in &self.entries {
            let have = entries.entry(k.clone()).or_default();
            for f in fps {
                if !have.contains(f) {
                    have.push(f.clone());
                }
            }
            have.truncate(16);
        }
        while entries.len() > MAX_ENTRIES {
            entries.shift_remove_index(0);
        }
        let body = serde_json::json!({ "version": 1, "verified": entries });
        // One temporary file per writer: fleets of one server share the
        // directory, and the last rename wins whole.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .path
            .with_extension(format!("json.{}.{n}.tmp", std::process::id()));
        let written = std::fs::write(&tmp, body.to_string().as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remember verified signatures");
        }
    }
}

/// The fingerprints of the policies that apply to `image` on any rung.
fn policies(ladder: &Ladder, image: &str) -> Vec<String> {
    let mut out: Vec<String> = ladder
        .rungs
        .iter()
        .filter_map(|r| r.verify.for_image(image))
        .map(|v| v.fingerprint())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_survives_a_save_is_bounded_and_ignores_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut m = Memo::load(&path);
        assert!(m.get("r/a", "sha256:1").is_none());
        m.insert("r/a", "sha256:1", "f1".into());
        m.insert("r/a", "sha256:1", "f1".into());
        m.insert("r/a", "sha256:1", "f2".into());
        m.save();
        let again = Memo::load(&path);
        assert_eq!(again.get("r/a", "sha256:1").unwrap(), ["f1", "f2"]);
        // Unchanged: not written again.
        std::fs::write(&path, "not json").unwrap();
        again.save();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
        assert!(Memo::load(&path).get("r/a", "sha256:1").is_none());

        // Two memos read at once (two fleets): both writers' entries stay.
        let mut a = Memo::load(&path);
        let mut b = Memo::load(&path);
        a.insert("r/a", "sha256:a", "f".into());
        b.insert("r/b", "sha256:b", "f".into());
        a.save();
        b.save();
        let both = Memo::load(&path);
        assert!(both.get("r/a", "sha256:a").is_some() && both.get("r/b", "sha256:b").is_some());

        let mut big = Memo::load(&path);
        for i in 0..MAX_ENTRIES + 5 {
            big.insert("r/a", &format!("sha256:{i}"), "f".into());
        }
        assert_eq!(big.entries.len(), MAX_ENTRIES);
        assert!(
            big.get("r/a", "sha256:0").is_none(),
            "the oldest goes first"
        );
        assert!(
            big.get("r/a", &format!("sha256:{}", MAX_ENTRIES + 4))
                .is_some()
        );
    }
}
