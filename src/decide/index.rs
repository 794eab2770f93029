//! Which files mention which policies: the bot's index for planning one
//! image without reading every marker of a large fleet.
//!
//! An event names one image; of a fleet of 20,000 manifests a handful
//! carry its markers. The index maps each file to the policies its
//! markers name, keyed by the file's content hash, so a new commit costs a
//! hash per file and a re-scan only of the files that changed. The scan
//! here is a cheap over-approximation (every `#` on a line holding
//! `"$imagepolicy"` is tried as a marker); the plan of the selected files
//! is then made by the exact planner, so the index can only cost extra
//! work, never a missed or wrong edit — provided it never misses a file,
//! which trying every `#` guarantees.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use crate::core::tags::{TagList, Unobserved};
use crate::decide::plan::{Objects, Plan};
use crate::observe::repo::SourceFile;

/// (namespace, name) of an ImagePolicy.
type PolicyKey = (String, String);

#[derive(Debug, Default)]
pub struct MarkerIndex {
    files: HashMap<String, (u64, BTreeSet<PolicyKey>)>,
}

fn content_hash(text: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    text.hash(&mut h);
    h.finish()
}

/// The policies the markers of `text` may name.
fn policies_named(text: &str) -> BTreeSet<PolicyKey> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if !line.contains("$imagepolicy") {
            continue;
        }
        for (i, _) in line.match_indices('#') {
            if let Ok(Some(m)) = crate::setters::parse_comment(&line[i + 1..]) {
                out.insert((m.namespace, m.name));
            }
        }
    }
    out
}

impl MarkerIndex {
    /// Bring the index in line with `files` (a commit's files): files
    /// whose content is unchanged are not looked at again, files gone are
    /// dropped. Returns how many were (re)scanned.
    pub fn update(&mut self, files: &[SourceFile]) -> usize {
        let mut seen = std::collections::HashSet::with_capacity(files.len());
        let mut scanned = 0;
        for f in files.iter().filter(|f| f.has_markers) {
            seen.insert(f.rel.as_str());
            let h = content_hash(&f.text);
            match self.files.get(&f.rel) {
                Some((old, _)) if *old == h => {}
                _ => {
                    scanned += 1;
                    self.files
                        .insert(f.rel.clone(), (h, policies_named(&f.text)));
                }
            }
        }
        self.files.retain(|k, _| seen.contains(k.as_str()));
        scanned
    }

    /// Files whose markers name any of `policies`.
    pub fn files_naming(&self, policies: &BTreeSet<PolicyKey>) -> BTreeSet<&str> {
        self.files
            .iter()
            .filter(|(_, (_, named))| !named.is_disjoint(policies))
            .map(|(path, _)| path.as_str())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// One index shared by a fleet's runs (the bot keeps it between them).
/// Two handles are equal when they are the same index.
#[derive(Debug, Clone, Default)]
pub struct SharedIndex(pub std::sync::Arc<std::sync::Mutex<MarkerIndex>>);

impl PartialEq for SharedIndex {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedIndex {}

/// Plan only `images`: their policies, on the files whose markers name
/// them. The edits are exactly those a full [`crate::decide::plan::plan_objects`]
/// makes to these images' markers.
pub fn plan_images<'a>(
    index: &mut MarkerIndex,
    images: &BTreeSet<String>,
    files: &[SourceFile],
    objects: &Objects,
    write: &crate::config::WriteScope,
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
) -> Plan {
    index.update(files);
    let mut objects = objects.clone();
    let wanted_repos: BTreeSet<(String, String)> = objects
        .repositories
        .iter()
        .filter(|r| images.contains(&r.image))
        .map(|r| (r.meta.namespace.clone(), r.meta.name.clone()))
        .collect();
    objects.policies.retain(|p| {
        wanted_repos.contains(&(p.repository_namespace.clone(), p.repository_name.clone()))
    });
    let keys: BTreeSet<PolicyKey> = objects
        .policies
        .iter()
        .map(|p| (p.meta.namespace.clone(), p.meta.name.clone()))
        .collect();
    let paths = index.files_naming(&keys);
    let subset: Vec<SourceFile> = files
        .iter()
        .filter(|f| paths.contains(f.rel.as_str()))
        .cloned()
        .collect();
    // Markers of other policies in these files stay as they are, and
    // unreported: they belong to their own images' plans.
    crate::decide::plan::plan_objects_scoped(
        &subset,
        &objects,
        Vec::new(),
        write,
        tags_for,
        Some(&keys),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hash_is_tried_and_changes_are_rescanned() {
        let named = policies_named(
            "a: \"x#y\" # {\"$imagepolicy\": \"ns:one:tag\"}\nb: 1 # {\"$imagepolicy\": \"ns:two\"}\nc: 2 # not a marker\n",
        );
        let want: BTreeSet<PolicyKey> = [("ns", "one"), ("ns", "two")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(named, want);
        let file = |rel: &str, text: &str| SourceFile {
            rel: rel.into(),
            abs: rel.into(),
            text: std::sync::Arc::new(text.into()),
            has_markers: true,
            has_flux_objects: false,
            has_pull_secrets: false,
        };
        let mut idx = MarkerIndex::default();
        let v1 = vec![
            file("a.yaml", "x: 1 # {\"$imagepolicy\": \"ns:one:tag\"}\n"),
            file("b.yaml", "x: 1 # {\"$imagepolicy\": \"ns:two:tag\"}\n"),
        ];
        assert_eq!(idx.update(&v1), 2);
        assert_eq!(idx.update(&v1), 0, "unchanged files are not scanned again");
        let v2 = vec![file(
            "a.yaml",
            "x: 2 # {\"$imagepolicy\": \"ns:two:tag\"}\n",
        )];
        assert_eq!(idx.update(&v2), 1);
        assert_eq!(idx.len(), 1, "b.yaml is gone");
        let two: BTreeSet<PolicyKey> = [("ns".to_string(), "two".to_string())].into();
        assert_eq!(idx.files_naming(&two), BTreeSet::from(["a.yaml"]));
    }

    #[test]
    fn one_image_plans_what_the_full_plan_does_for_it() {
        let file = |rel: &str, text: String, markers: bool| SourceFile {
            rel: rel.into(),
            abs: rel.into(),
            text: std::sync::Arc::new(text),
            has_markers: markers,
            has_flux_objects: !markers,
            has_pull_secrets: false,
        };
        let mut files = Vec::new();
        for i in ["a", "b"] {
            files.push(file(
                &format!("flux/{i}.yaml"),
                format!("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: {i}, namespace: ns}}\nspec: {{image: r.example/{i}, interval: 5m}}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {i}, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {i}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n"),
                false,
            ));
        }
        files.push(file("both.yaml", "a: r.example/a:1.0.0 # {\"$imagepolicy\": \"ns:a\"}\nb: r.example/b:1.0.0 # {\"$imagepolicy\": \"ns:b\"}\n".into(), true));
        files.push(file(
            "b.yaml",
            "b: 1.0.0 # {\"$imagepolicy\": \"ns:b:tag\"}\n".into(),
            true,
        ));
        let config = crate::config::Config::default();
        let (objects, _) = crate::decide::plan::collect_objects(&files, &config);
        let list = TagList {
            tags: vec!["1.0.0".into(), "1.1.0".into()],
            ..Default::default()
        };
        let tags_for = |_: &str| -> Result<&TagList, Unobserved> { Ok(&list) };
        let mut idx = MarkerIndex::default();
        let images: BTreeSet<String> = ["r.example/a".to_string()].into();
        let one = plan_images(&mut idx, &images, &files, &objects, &config.write, tags_for);
        assert_eq!(one.files.len(), 1, "b.yaml is not looked at");
        assert_eq!(
            one.files[0].updated.as_str(),
            "a: r.example/a:1.1.0 # {\"$imagepolicy\": \"ns:a\"}\nb: r.example/b:1.0.0 # {\"$imagepolicy\": \"ns:b\"}\n",
            "b's marker in the same file is left for b's own event"
        );
        assert!(one.diagnostics.is_empty(), "{:?}", one.diagnostics);
    }
}
