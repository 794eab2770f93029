//! `hoist init --split-image-tags`: move image setters out of kustomization
//! entry files.
//!
//! Flux's own guides put markers on the `images:` entries of a
//! `kustomization.yaml`. That is the file the kustomize-controller reads,
//! so automation and reconciler would share one file, which hoist refuses
//! to write (see `lint`). This moves each marked `images:` entry, line for
//! line, into an `ImageTagTransformer` document of an `image-tags.yaml`
//! beside it, and lists that file under `transformers:`. kustomize runs the
//! builtin transformer as it runs the `images:` field (every `containers`
//! and `initContainers` image), so `kustomize build` prints the same
//! objects; the tests check that with `kubectl kustomize`.
//!
//! Text in, text out: only the moved lines and the one `transformers:`
//! entry change; comments, order and quoting stay as the user wrote them.
//! Every split is checked before it is offered: both files parse, and they
//! hold exactly the markers, with the same values, that the entry file
//! held. Markers elsewhere in an entry file (inline patches, replacements)
//! are reported, not moved.

use std::collections::BTreeSet;

use crate::core::diag::Diag;
use crate::flux::layout::is_entry_name;
use crate::observe::repo::SourceFile;
use crate::setters;
use crate::setters::yaml::{self, Node, Value};

/// The file image tags move to, beside the kustomization.
pub const TAGS_FILE: &str = "image-tags.yaml";

const HEADER: &str = "\
# Image tags for the kustomization beside this file, which lists it under
# `transformers:` (moved here by `hoist init --split-image-tags`). hoist
# writes this file; Flux's reconciler reads the kustomization: the two
# never touch the same file.
";

/// One file to create (`old` is `None`) or rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: String,
    pub old: Option<String>,
    pub new: String,
}

/// Everything a split would do, and what it could not.
#[derive(Debug, Default)]
pub struct Split {
    pub changes: Vec<Change>,
    /// `images:` entries moved.
    pub moved: usize,
    /// Markers left in place (warnings) and files that could not be split
    /// (errors; such a file has no change at all).
    pub diags: Vec<Diag>,
}

/// Plan the split for every kustomization entry file in `files` that
/// carries markers. `read` returns the text of a repository-relative path
/// if that file exists (an `image-tags.yaml` already there is extended).
pub fn split(files: &[SourceFile], read: &dyn Fn(&str) -> Option<String>) -> Split {
    let mut out = Split::default();
    for f in files
        .iter()
        .filter(|f| f.has_markers && is_entry_name(&f.rel))
    {
        match split_file(&f.rel, &f.text, read) {
            Ok(s) => {
                out.diags.extend(s.left);
                let Some((kustomization, tags)) = s.changes else {
                    continue;
                };
                if out.changes.iter().any(|c| c.path == tags.path) {
                    out.diags.push(
                        Diag::error(format!(
                            "another kustomization in this directory already moves its tags to {}; split by hand",
                            tags.path
                        ))
                        .at(&f.rel, None),
                    );
                    continue;
                }
                out.moved += s.moved;
                out.changes.push(kustomization);
                out.changes.push(tags);
            }
            Err(d) => out.diags.push(d),
        }
    }
    out
}

/// The split of one entry file: its new text and the tags file's.
#[derive(Debug, Default)]
struct FileSplit {
    changes: Option<(Change, Change)>,
    moved: usize,
    left: Vec<Diag>,
}

/// Where one block-sequence item sits, as 0-based line indexes.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// First line of the comments directly above the item.
    first: usize,
    /// The line with the item's `-`.
    dash: usize,
    /// The item's last line with content.
    last: usize,
    /// Column of the `-`.
    indent: usize,
    /// Column where the item's content starts.
    content: usize,
}

struct Lines<'a>(Vec<&'a str>);

impl Lines<'_> {
    fn indent(&self, i: usize) -> usize {
        self.0[i].len() - self.0[i].trim_start_matches(' ').len()
    }

    fn is_comment(&self, i: usize) -> bool {
        self.0[i].trim_start().starts_with('#')
    }

    fn is_blank(&self, i: usize) -> bool {
        self.0[i].trim().is_empty()
    }

    /// The items of the block sequence whose nodes are `items`; the first
    /// item's leading comments start after line `floor`.
    fn items(
        &self,
        items: &[Node],
        floor: usize,
        what: &str,
        rel: &str,
    ) -> Result<Vec<Item>, Diag> {
        let mut out: Vec<Item> = Vec::new();
        for (n, node) in items.iter().enumerate() {
            let dash = node
                .line
                .saturating_sub(1)
                .min(self.0.len().saturating_sub(1));
            let text = self.0[dash].trim_start_matches(' ');
            let after = text.strip_prefix('-').unwrap_or("");
            if dash <= floor {
                return Err(Diag::error(format!(
                    "`{what}:` is written in flow style; write it as a block list (one `- ` per entry) to split it"
                ))
                .at(rel, Some(node.line)));
            }
            let indent = self.indent(dash);
            let content = indent + 1 + (after.len() - after.trim_start_matches(' ').len());
            if !text.starts_with('-')
                || !after.starts_with(' ')
                || after.trim_start().starts_with(['{', '['])
            {
                return Err(Diag::error(format!(
                    "this `{what}:` entry is not a block mapping starting on its `-` line; rewrite it as `- name: …` to split it"
                ))
                .at(rel, Some(node.line)));
            }
            let bound = items
                .get(n + 1)
                .map_or(self.0.len(), |next| next.line.saturating_sub(1));
            let mut last = dash;
            for j in dash + 1..bound {
                if self.is_blank(j) || self.is_comment(j) {
                    continue;
                }
                if self.indent(j) <= indent {
                    break;
                }
                last = j;
            }
            let low = out.last().map_or(floor + 1, |p: &Item| p.last + 1);
            let mut first = dash;
            while first > low && self.is_comment(first - 1) {
                first -= 1;
            }
            out.push(Item {
                first,
                dash,
                last,
                indent,
                content,
            });
        }
        Ok(out)
    }
}

/// The 0-based index of a parser's 1-based line.
fn at(line: usize) -> usize {
    line.saturating_sub(1)
}

/// The key node and value of `key` in a mapping.
fn entry<'a>(doc: &'a Node, key: &str) -> Option<(&'a Node, &'a Node)> {
    match &doc.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
            .map(|(k, v)| (k, v)),
        _ => None,
    }
}

/// A Kubernetes-style object name for the transformer of `image`.
fn transformer_name(image: &str, taken: &mut BTreeSet<String>) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split(['@', ':']).next().unwrap_or(base);
    let mut n: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    n = n.trim_matches(['-', '.']).to_string();
    if n.is_empty() {
        n = "image".into();
    }
    let mut candidate = n.clone();
    let mut i = 2;
    while taken.contains(&candidate) {
        candidate = format!("{n}-{i}");
        i += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// Markers and their values, sorted: what a split must keep.
fn markers(text: &str) -> Result<Vec<(String, String)>, yaml::YamlError> {
    let mut v: Vec<(String, String)> = setters::scan(text)?
        .setters
        .into_iter()
        .map(|s| (s.marker.to_string(), s.value))
        .collect();
    v.sort();
    Ok(v)
}

fn split_file(
    rel: &str,
    text: &str,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<FileSplit, Diag> {
    let invalid = |e: yaml::YamlError| {
        Diag::error(format!("invalid YAML: {}", e.message)).at(rel, Some(e.line))
    };
    let scan = setters::scan(text).map_err(invalid)?;
    let mut out = FileSplit::default();
    // A marker Flux ignores (after a flow collection, above a key) is not
    // moved: it never worked; say where it is.
    out.left.extend(
        scan.problems
            .iter()
            .map(|p| Diag::warning(format!("{}; not moved", p.message)).at(rel, Some(p.line))),
    );
    if scan.setters.is_empty() {
        return Ok(out);
    }
    let docs = yaml::load_all(text).map_err(invalid)?;
    let [doc] = docs.as_slice() else {
        return Err(Diag::error(format!(
            "holds {} YAML documents; a kustomization has one",
            docs.len()
        ))
        .at(rel, None));
    };
    let lines = Lines(text.split_inclusive('\n').collect());
    let marker_lines: Vec<(usize, String)> = scan
        .setters
        .iter()
        .map(|s| (at(s.marker_line), s.marker.to_string()))
        .collect();

    let images = match entry(doc, "images") {
        Some((
            key,
            Node {
                value: Value::Seq(items),
                ..
            },
        )) if !items.is_empty() => {
            let key_line = at(key.line);
            Some((
                key_line,
                lines.items(items, key_line, "images", rel)?,
                items,
            ))
        }
        _ => None,
    };
    let in_item = |i: usize| {
        images
            .as_ref()
            .is_some_and(|(_, items, _)| items.iter().any(|it| (it.dash..=it.last).contains(&i)))
    };
    for (line, m) in &marker_lines {
        if !in_item(*line) {
            out.left.push(
                Diag::warning(format!(
                    "marker {m} is not on an `images:` entry, so it stays here; move it to {TAGS_FILE} by hand"
                ))
                .at(rel, Some(line + 1)),
            );
        }
    }
    let Some((key_line, items, nodes)) = images else {
        return Ok(out);
    };
    let marked: Vec<usize> = (0..items.len())
        .filter(|&n| {
            marker_lines
                .iter()
                .any(|(l, _)| (items[n].dash..=items[n].last).contains(l))
        })
        .collect();
    if marked.is_empty() {
        return Ok(out);
    }

    // The tags file: new, or an existing list of transformers to extend.
    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
    let tags_path = if dir.is_empty() {
        TAGS_FILE.to_string()
    } else {
        format!("{dir}/{TAGS_FILE}")
    };
    let tags_old = read(&tags_path);
    let mut taken = BTreeSet::new();
    if let Some(old) = &tags_old {
        let docs = yaml::load_all(old).map_err(|e| {
            Diag::error(format!("invalid YAML: {}", e.message)).at(&tags_path, Some(e.line))
        })?;
        for d in &docs {
            let kind = d.get("kind").and_then(Node::as_str).unwrap_or("");
            if kind != "ImageTagTransformer" {
                return Err(Diag::error(format!(
                    "{tags_path} exists and holds {}, not ImageTagTransformer; move this kustomization's `images:` markers by hand",
                    if kind.is_empty() { "other YAML".to_string() } else { format!("a {kind}") }
                ))
                .at(rel, Some(key_line + 1)));
            }
            if let Some(n) = d
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Node::as_str)
            {
                taken.insert(n.to_string());
            }
        }
    }

    let mut tags_new = match &tags_old {
        Some(old) if old.ends_with('\n') || old.is_empty() => old.clone(),
        Some(old) => format!("{old}\n"),
        None => HEADER.to_string(),
    };
    let mut removed = vec![false; lines.0.len()];
    for &n in &marked {
        let it = items[n];
        let name = nodes[n].get("name").and_then(Node::as_str).ok_or_else(|| {
            Diag::error("this `images:` entry has no `name`; kustomize needs one")
                .at(rel, Some(it.dash + 1))
        })?;
        let object = transformer_name(name, &mut taken);
        tags_new.push_str("---\n");
        for i in it.first..it.dash {
            tags_new.push_str(lines.0[i].trim_start());
        }
        tags_new.push_str(&format!(
            "apiVersion: builtin\nkind: ImageTagTransformer\nmetadata:\n  name: {object}\nimageTag:\n"
        ));
        for i in it.dash..=it.last {
            let l = lines.0[i];
            let body = if lines.is_blank(i) {
                "\n"
            } else if i == it.dash || lines.indent(i) >= it.content {
                &l[it.content..]
            } else {
                l.trim_start()
            };
            if body != "\n" {
                tags_new.push_str("  ");
            }
            tags_new.push_str(body);
        }
        if !tags_new.ends_with('\n') {
            tags_new.push('\n');
        }
        removed[it.first..=it.last]
            .iter_mut()
            .for_each(|r| *r = true);
    }

    // The entry file: the moved items out, `- image-tags.yaml` in.
    let all = marked.len() == items.len();
    let item_indent = " ".repeat(items[0].indent);
    let reference = format!("{item_indent}- {TAGS_FILE}\n");
    let mut insert_after: Option<usize> = None;
    let mut replace_images = false;
    let mut append = false;
    match entry(doc, "transformers") {
        Some((
            _,
            Node {
                value: Value::Seq(list),
                ..
            },
        )) if !list.is_empty() => {
            let have = list.iter().any(|n| {
                n.as_str()
                    .is_some_and(|s| s.trim_start_matches("./") == TAGS_FILE)
            });
            if !have {
                let key = entry(doc, "transformers").map_or(0, |(k, _)| at(k.line));
                let t = lines.items(list, key, "transformers", rel)?;
                insert_after = t.last().map(|i| i.last);
            }
        }
        Some((key, v))
            if v.is_null()
                && lines
                    .0
                    .get(at(key.line))
                    .and_then(|l| l.split_once(':'))
                    .is_some_and(|(_, rest)| {
                        rest.trim().is_empty() || rest.trim().starts_with('#')
                    }) =>
        {
            insert_after = Some(at(key.line))
        }
        Some((key, _)) => {
            return Err(Diag::error(
                "`transformers:` is not a block list; add `- image-tags.yaml` to it by hand",
            )
            .at(rel, Some(key.line)));
        }
        None if all => replace_images = true,
        None => append = true,
    }
    if all {
        // The `images:` key goes too, with the comment lines under it.
        let first = items[0].first;
        removed[key_line.min(first)..first]
            .iter_mut()
            .for_each(|r| *r = true);
    }
    let mut k_new = String::with_capacity(text.len());
    for (i, l) in lines.0.iter().enumerate() {
        if replace_images && i == key_line {
            k_new.push_str("transformers:\n");
            k_new.push_str(&reference);
        }
        if !removed[i] {
            k_new.push_str(l);
        }
        if insert_after == Some(i) {
            if !k_new.ends_with('\n') {
                k_new.push('\n');
            }
            let indent = if let Some((
                _,
                Node {
                    value: Value::Seq(list),
                    ..
                },
            )) = entry(doc, "transformers")
                && let Some(first) = list.first()
            {
                lines.indent(at(first.line).min(lines.0.len().saturating_sub(1)))
            } else {
                2
            };
            k_new.push_str(&format!("{}- {TAGS_FILE}\n", " ".repeat(indent)));
        }
    }
    if append {
        if !k_new.ends_with('\n') && !k_new.is_empty() {
            k_new.push('\n');
        }
        k_new.push_str("transformers:\n");
        k_new.push_str(&reference);
    }

    // Lines hoist adds follow each file's line ends (CRLF files stay CRLF;
    // a new tags file follows its kustomization).
    let crlf = |t: &str| {
        t.split_inclusive('\n')
            .next()
            .is_some_and(|l| l.ends_with("\r\n"))
    };
    let to_crlf = |t: &str| t.replace("\r\n", "\n").replace('\n', "\r\n");
    if crlf(text) {
        k_new = to_crlf(&k_new);
    }
    if tags_old.as_deref().map_or(crlf(text), crlf) {
        tags_new = to_crlf(&tags_new);
    }

    // Check before offering: both parse, and the markers are the same.
    let broken = |what: &str| {
        Diag::error(format!(
            "splitting this file would {what}; nothing changed (please report this)"
        ))
        .at(rel, None)
    };
    let before = markers(text).map_err(invalid)?;
    let mut after = markers(&k_new).map_err(|_| broken("leave it invalid"))?;
    after.extend(markers(&tags_new).map_err(|_| broken("write an invalid image-tags.yaml"))?);
    after.sort();
    if before != after {
        return Err(broken("change its markers"));
    }
    if yaml::load_all(&k_new).is_err() {
        return Err(broken("leave it invalid"));
    }
    out.moved = marked.len();
    out.changes = Some((
        Change {
            path: rel.to_string(),
            old: Some(text.to_string()),
            new: k_new,
        },
        Change {
            path: tags_path,
            old: tags_old,
            new: tags_new,
        },
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, text: &str) -> SourceFile {
        SourceFile {
            rel: rel.into(),
            abs: rel.into(),
            text: std::sync::Arc::new(text.into()),
            has_markers: text.contains("$imagepolicy"),
            has_flux_objects: false,
            has_pull_secrets: false,
        }
    }

    const FLUX_STYLE: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  # the API server
  - name: ghcr.io/acme/api
    newTag: 1.4.0 # {\"$imagepolicy\": \"flux-system:api:tag\"}
  - name: docker.io/library/nginx
    newTag: \"1.27\"
  - name: ghcr.io/acme/web
    newName: ghcr.io/acme/web # {\"$imagepolicy\": \"flux-system:web:name\"}
    newTag: 2.0.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}
patches:
  - path: replicas.yaml
";

    #[test]
    fn marked_entries_move_verbatim_and_the_rest_stays() {
        let s = split(
            &[file("clusters/dev/kustomization.yaml", FLUX_STYLE)],
            &|_| None,
        );
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        assert_eq!(s.moved, 2);
        let k = &s.changes[0];
        assert_eq!(k.path, "clusters/dev/kustomization.yaml");
        assert_eq!(
            k.new,
            "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: docker.io/library/nginx
    newTag: \"1.27\"
patches:
  - path: replicas.yaml
transformers:
  - image-tags.yaml
"
        );
        let t = &s.changes[1];
        assert_eq!(t.path, "clusters/dev/image-tags.yaml");
        assert_eq!(t.old, None);
        let body = t.new.strip_prefix(HEADER).unwrap();
        assert_eq!(
            body,
            "\
---
# the API server
apiVersion: builtin
kind: ImageTagTransformer
metadata:
  name: api
imageTag:
  name: ghcr.io/acme/api
  newTag: 1.4.0 # {\"$imagepolicy\": \"flux-system:api:tag\"}
---
apiVersion: builtin
kind: ImageTagTransformer
metadata:
  name: web
imageTag:
  name: ghcr.io/acme/web
  newName: ghcr.io/acme/web # {\"$imagepolicy\": \"flux-system:web:name\"}
  newTag: 2.0.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}
"
        );
    }

    #[test]
    fn a_fully_moved_images_list_becomes_the_transformers_list() {
        let text = "resources: [app.yaml]\nimages:\n- name: ghcr.io/acme/app\n  newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\nnamePrefix: dev-\n";
        let s = split(&[file("kustomization.yaml", text)], &|_| None);
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        assert_eq!(
            s.changes[0].new,
            "resources: [app.yaml]\ntransformers:\n- image-tags.yaml\nnamePrefix: dev-\n"
        );
        assert_eq!(s.changes[1].path, "image-tags.yaml");
        assert!(s.changes[1].new.ends_with("imageTag:\n  name: ghcr.io/acme/app\n  newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n"));
    }

    #[test]
    fn existing_transformers_and_tag_files_are_extended_once() {
        let text = "transformers:\n  - labels.yaml\nimages:\n  - name: app\n    newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let old = "apiVersion: builtin\nkind: ImageTagTransformer\nmetadata:\n  name: app\nimageTag:\n  name: other\n  newTag: v0\n";
        let s = split(&[file("k/kustomization.yaml", text)], &|p| {
            (p == "k/image-tags.yaml").then(|| old.to_string())
        });
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        assert_eq!(
            s.changes[0].new,
            "transformers:\n  - labels.yaml\n  - image-tags.yaml\n"
        );
        let t = &s.changes[1];
        assert_eq!(t.old.as_deref(), Some(old));
        assert!(t.new.starts_with(old));
        assert!(t.new.contains("metadata:\n  name: app-2\n"), "{}", t.new);

        // Already listed: the list is left alone.
        let listed = "transformers:\n  - ./image-tags.yaml\nimages:\n  - name: app\n    newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let s = split(&[file("kustomization.yaml", listed)], &|_| None);
        assert_eq!(s.changes[0].new, "transformers:\n  - ./image-tags.yaml\n");
    }

    #[test]
    fn what_cannot_be_split_is_said_and_left_alone() {
        // A tags file with other objects (strategic-merge patches).
        let text = "images:\n  - name: app\n    newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let s = split(&[file("kustomization.yaml", text)], &|_| {
            Some("apiVersion: apps/v1\nkind: Deployment\n".into())
        });
        assert!(s.changes.is_empty());
        assert!(
            s.diags[0].message.contains("holds a Deployment"),
            "{:?}",
            s.diags
        );

        // Flow style: after the collection, the marker is not one for Flux
        // (go-yaml gives the comment to the sequence), so nothing moves.
        let flow = "images: [{name: app, newTag: v1}] # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let s = split(&[file("kustomization.yaml", flow)], &|_| None);
        assert!(s.changes.is_empty());
        assert!(
            s.diags
                .iter()
                .any(|d| d.message.starts_with("Flux ignores marker")),
            "{:?}",
            s.diags
        );
        // A marker inside the flow mapping, on a line of its own value.
        let flow = "images: [{name: app,\n  newTag: v1, # {\"$imagepolicy\": \"ns:app:tag\"}\n}]\n";
        let s = split(&[file("kustomization.yaml", flow)], &|_| None);
        assert!(s.changes.is_empty());
        assert!(!s.diags.is_empty(), "{:?}", s.diags);

        // An entry whose mapping starts on the line after its dash.
        let dangling =
            "images:\n  -\n    name: app\n    newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let s = split(&[file("kustomization.yaml", dangling)], &|_| None);
        assert!(s.changes.is_empty());
        assert!(
            s.diags[0]
                .message
                .contains("not a block mapping starting on its `-` line"),
            "{:?}",
            s.diags
        );

        // `transformers: ~` cannot take an item under it; an empty key can.
        let tilde = "transformers: ~\nimages:\n  - name: app\n    newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let s = split(&[file("kustomization.yaml", tilde)], &|_| None);
        assert!(s.changes.is_empty());
        assert!(
            s.diags[0]
                .message
                .contains("add `- image-tags.yaml` to it by hand"),
            "{:?}",
            s.diags
        );
        let empty = tilde.replace("transformers: ~", "transformers:");
        let s = split(&[file("kustomization.yaml", &empty)], &|_| None);
        assert_eq!(s.changes[0].new, "transformers:\n  - image-tags.yaml\n");

        // A marker in an inline patch stays, with a warning; the images
        // entry still moves.
        let mixed = "images:\n  - name: app\n    newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\npatches:\n  - target: {kind: Deployment}\n    patch: |\n      - op: replace\n        path: /spec/x\n        value: v1\nreplacements:\n  - source:\n      kind: ConfigMap\n      fieldPath: data.tag # {\"$imagepolicy\": \"ns:other:tag\"}\n";
        let s = split(&[file("kustomization.yaml", mixed)], &|_| None);
        assert_eq!(s.moved, 1);
        assert_eq!(s.diags.len(), 1, "{:?}", s.diags);
        assert!(!s.diags[0].is_error());
        assert_eq!(s.diags[0].line, Some(13));
        assert!(s.changes[0].new.contains("ns:other:tag"));

        // Not an entry file, or no markers: nothing to do.
        let s = split(&[file("apps/image-tags.yaml", text)], &|_| None);
        assert!(s.changes.is_empty() && s.diags.is_empty());
    }

    #[test]
    fn splitting_twice_changes_nothing_more() {
        let first = split(&[file("c/kustomization.yaml", FLUX_STYLE)], &|_| None);
        let k = &first.changes[0].new;
        let t = first.changes[1].new.clone();
        let again = split(&[file("c/kustomization.yaml", k)], &|_| Some(t.clone()));
        assert!(again.changes.is_empty() && again.diags.is_empty());
    }

    #[test]
    fn damaged_files_never_panic_and_every_offer_keeps_the_markers() {
        // Every prefix, and every file with one line dropped: either an
        // offer whose markers are checked, or a diagnostic.
        let lines: Vec<&str> = FLUX_STYLE.split_inclusive('\n').collect();
        let mut inputs: Vec<String> = (0..=FLUX_STYLE.len())
            .filter(|&i| FLUX_STYLE.is_char_boundary(i))
            .map(|i| FLUX_STYLE[..i].to_string())
            .collect();
        inputs.extend((0..lines.len()).map(|skip| {
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| *l)
                .collect::<String>()
        }));
        for text in &inputs {
            let s = split(&[file("kustomization.yaml", text)], &|_| None);
            if let [k, t] = s.changes.as_slice() {
                let mut after = markers(&k.new).unwrap();
                after.extend(markers(&t.new).unwrap());
                after.sort();
                assert_eq!(markers(text).unwrap(), after, "{text}");
            } else {
                assert!(s.changes.is_empty());
            }
        }
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let text = FLUX_STYLE.replace('\n', "\r\n");
        let s = split(&[file("kustomization.yaml", &text)], &|_| None);
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        for c in &s.changes {
            assert!(!c.new.replace("\r\n", "").contains('\n'), "{:?}", c.new);
        }
        assert!(
            s.changes[0]
                .new
                .ends_with("transformers:\r\n  - image-tags.yaml\r\n")
        );
    }
}
