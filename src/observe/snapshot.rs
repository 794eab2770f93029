//! Registry snapshots: the tags (and optionally digests) of each image,
//! recorded in a file so `hoist plan` can run offline, in air-gapped CI, or
//! as a "what if" preview.
//!
//! ```yaml
//! images:
//!   ghcr.io/acme/api:              # exactly the ImageRepository spec.image
//!     tags: ["1.0.0", "1.1.0"]     # list form, in registry order
//!   ghcr.io/acme/web:
//!     tags:                        # map form: tag -> manifest digest
//!       v1.0.1: "sha256:…"
//! ```
//!
//! Every tag is checked against the OCI tag grammar and every digest against
//! the OCI digest grammar; anything else is dropped with a warning, so a tag
//! containing a newline or `#` can never reach a manifest.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::core::diag::Diag;
use crate::core::tags::TagList;

pub use crate::core::reference::{is_valid_digest, is_valid_tag};

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTags {
    List(Vec<String>),
    Map(IndexMap<String, Option<String>>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    tags: RawTags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnapshot {
    /// `images:` with nothing under it is an empty snapshot (what
    /// `hoist scan --save-snapshot` writes when nothing was scanned).
    #[serde(default)]
    images: Option<IndexMap<String, RawImage>>,
}

/// A validated snapshot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub images: IndexMap<String, TagList>,
}

impl Snapshot {
    pub fn get(&self, image: &str) -> Option<&TagList> {
        self.images.get(image)
    }

    /// Parse snapshot text. Invalid tags/digests become warnings; a file
    /// that is not a snapshot at all is an error.
    pub fn parse(text: &str, display: &str) -> Result<(Snapshot, Vec<Diag>), Diag> {
        let raw: RawSnapshot = serde_saphyr::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line() as usize).filter(|&l| l > 0);
            let msg = e.without_snippet().to_string();
            let mut msg = first_line(&msg).trim_start_matches("error: ");
            // The location is already in `file:line`; drop it from the text.
            if let Some((head, rest)) = msg.split_once(": ")
                && head.starts_with("line ")
            {
                msg = rest;
            }
            let msg = if msg.contains("untagged enum RawTags") {
                "`tags` must be a list of tags, or a map of tag to digest"
            } else {
                msg
            };
            Diag::error(format!("not a registry snapshot: {msg}")).at(display, line)
        })?;
        let mut warnings = Vec::new();
        let mut snap = Snapshot::default();
        for (image, entry) in raw.images.unwrap_or_default() {
            let line = find_line(text, &image);
            let mut list = TagList::default();
            let pairs: Vec<(String, Option<String>)> = match entry.tags {
                RawTags::List(v) => v.into_iter().map(|t| (t, None)).collect(),
                RawTags::Map(m) => m.into_iter().collect(),
            };
            for (tag, digest) in pairs {
                if !is_valid_tag(&tag) {
                    warnings.push(
                        Diag::warning(format!(
                            "dropped tag {} of {image}: not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})",
                            crate::core::diag::quoted(&tag)
                        ))
                        .at(display, line),
                    );
                    continue;
                }
                if let Some(d) = digest.filter(|d| !d.is_empty()) {
                    if is_valid_digest(&d) {
                        list.digests.insert(tag.clone(), d);
                    } else {
                        warnings.push(
                            Diag::warning(format!(
                                "ignored digest {} for {image}:{tag}: not a valid OCI digest",
                                crate::core::diag::quoted(&d)
                            ))
                            .at(display, find_line(text, &tag)),
                        );
                    }
                }
                list.tags.push(tag);
            }
            snap.images.insert(image, list);
        }
        Ok((snap, warnings))
    }

    pub fn load(path: &Path) -> Result<(Snapshot, Vec<Diag>), Diag> {
        let display = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            Diag::error(format!("cannot read registry snapshot: {e}")).at(&display, None)
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Diag::error("registry snapshot is not valid UTF-8").at(&display, None))?;
        Snapshot::parse(&text, &display)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.find(needle)
        .map(|o| text.as_bytes()[..o].iter().filter(|&&b| b == b'\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_hostile_tags() {
        let y = "images:\n  a/b:\n    tags: [\"1.0.0\", \"bad tag\", \"x#y\", \"\"]\n  c/d:\n    tags:\n      v1: \"sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be\"\n      \"v2\\nx\": \"sha256:00\"\n";
        let (s, w) = Snapshot::parse(y, "snap.yaml").unwrap();
        assert_eq!(s.get("a/b").unwrap().tags, ["1.0.0"]);
        assert_eq!(s.get("c/d").unwrap().tags, ["v1"]);
        assert_eq!(s.get("c/d").unwrap().digests.len(), 1);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().all(|d| d.file.as_deref() == Some("snap.yaml")));
        assert!(Snapshot::parse("images: [1]\n", "s").is_err());
    }

    #[test]
    fn tag_grammar() {
        assert!(is_valid_tag("_a.b-c"));
        assert!(!is_valid_tag(".a"));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(is_valid_tag(&"a".repeat(128)));
    }
}

impl Snapshot {
    /// Render as snapshot YAML (map form where digests are known), so a
    /// later `hoist plan --registry-snapshot` sees exactly these tags.
    pub fn to_yaml(&self) -> String {
        use crate::setters::yaml::double_quote as q;
        let mut out = String::from(
            "# Registry snapshot written by `hoist scan --save-snapshot`.\n# Use with: hoist plan --registry-snapshot FILE\nimages:\n",
        );
        if self.images.is_empty() {
            out.truncate(out.len() - 1);
            out.push_str(" {}\n");
        }
        for (image, list) in &self.images {
            out.push_str(&format!("  {}:\n", q(image)));
            if list.digests.is_empty() {
                let tags: Vec<String> = list.tags.iter().map(|t| q(t)).collect();
                out.push_str(&format!("    tags: [{}]\n", tags.join(", ")));
            } else {
                out.push_str("    tags:\n");
                for t in &list.tags {
                    match list.digests.get(t) {
                        Some(d) => out.push_str(&format!("      {}: {}\n", q(t), q(d))),
                        None => out.push_str(&format!("      {}: null\n", q(t))),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut s = Snapshot::default();
        s.images.insert(
            "a/b".into(),
            TagList {
                tags: vec!["1.0.0".into(), "x".into()],
                ..Default::default()
            },
        );
        let mut l = TagList {
            tags: vec!["v1".into(), "v2".into()],
            ..Default::default()
        };
        l.digests.insert(
            "v1".into(),
            "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be".into(),
        );
        s.images.insert("c/d".into(), l);
        let (back, warnings) = Snapshot::parse(&s.to_yaml(), "s").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(back.images, s.images);
    }

    #[test]
    fn empty_snapshots_round_trip() {
        let empty = Snapshot::default();
        assert!(empty.to_yaml().ends_with("images: {}\n"));
        let (back, _) = Snapshot::parse(&empty.to_yaml(), "s").unwrap();
        assert!(back.images.is_empty());
        let (back, _) = Snapshot::parse("images:\n", "s").unwrap();
        assert!(back.images.is_empty());
    }
}

/// Read a tag list, one tag per line, from a file or `-` (standard input).
/// Blank lines are skipped; tags that break the OCI grammar are dropped
/// with a warning naming their line.
pub fn read_tag_list(source: &str) -> Result<(Vec<String>, Vec<Diag>), Diag> {
    use std::io::Read;
    let mut diags = Vec::new();
    let (display, bytes) = if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Diag::error(format!("cannot read standard input: {e}")))?;
        ("<stdin>".to_string(), buf)
    } else {
        let bytes = std::fs::read(source)
            .map_err(|e| Diag::error(format!("cannot read tags: {e}")).at(source, None))?;
        (source.to_string(), bytes)
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Diag::error("tag list is not valid UTF-8").at(&display, None))?;
    let mut tags = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let tag = line.strip_suffix('\r').unwrap_or(line);
        if tag.trim().is_empty() {
            continue;
        }
        if is_valid_tag(tag) {
            tags.push(tag.to_string());
        } else {
            let why = if tag.len() > 128 {
                "longer than 128 characters"
            } else {
                "not a valid OCI tag"
            };
            diags.push(
                Diag::warning(format!(
                    "dropped tag {}: {why}",
                    crate::core::diag::quoted(tag)
                ))
                .at(&display, Some(i + 1)),
            );
        }
    }
    Ok((tags, diags))
}
