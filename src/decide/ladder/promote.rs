//! Promotion decisions, rung by rung. Pure: files + objects + tag lists in,
//! one plan per rung out.
//!
//! A policy rung's markers take their policies' choices, exactly as
//! `hoist apply` does. A promotion rung's markers take what the source rung
//! runs: for each marker, its policy's ImageRepository names the image; the
//! source rung's markers of the same image hold the value to promote. That
//! value goes through `tag_rewrite`, must exist in the registry and, with
//! `require_same_digest`, be the very same image; a check that fails blocks
//! that image on that rung (reported, never written) while the others
//! proceed. Promotion is one more way to *decide*: the result feeds the same
//! setter edits as `plan`.
//!
//! Rungs run in ladder order over an in-memory copy of the files, so a
//! promotion reads its source as the earlier rungs left it: with no gates,
//! a new dev build reaches the prod plan in one pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::config::{Ladder, Rung};
use crate::config::Config;
use crate::core::diag::Diag;
use crate::core::tags::{TagList, Unobserved};
use crate::decide::plan::{
    FileChange, Objects, PolicyOutcome, PolicyScope, Recorded, Selected, decide,
};
use crate::flux::{DigestReflection, ImagePolicy};
use crate::observe::repo::SourceFile;
use crate::setters;

/// One image promoted on a rung.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub namespace: String,
    pub policy: String,
    pub image: String,
    /// The tag the source rung runs.
    pub from_tag: String,
    /// The tag this rung gets (after `tag_rewrite`).
    pub to_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The `sha` group of `tag_rewrite.from`, when it has one: the source
    /// commit the build came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_commit: Option<String>,
}

/// An image a rung cannot take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub namespace: String,
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub reason: String,
    /// It waits for something still to come (a signature), rather than
    /// being refused: a warning, not an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waits: bool,
}

impl Blocked {
    /// "waits" or "blocked", for people.
    pub fn state(&self) -> &'static str {
        if self.waits { "waits" } else { "blocked" }
    }
}

/// What one rung would do.
#[derive(Debug, Serialize, Deserialize)]
pub struct RungPlan {
    pub rung: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    pub files: Vec<FileChange>,
    pub promotions: Vec<Promotion>,
    pub blocked: Vec<Blocked>,
    /// What each marked image runs on this rung before and after (image →
    /// (before, after)); `after` equals `before` when nothing moves.
    pub runs: BTreeMap<String, (String, String)>,
    pub diagnostics: Vec<Diag>,
    /// `(image, tag)` digests the decision needed but the tag lists lacked
    /// (a live scan can resolve them, then plan again).
    #[serde(skip)]
    pub digests_wanted: Vec<(String, String)>,
    /// `(image, from, to)`: rewritten tags missing from the registry that
    /// `create_tag` asks hoist to create from the source tag (a live run
    /// creates them, then plans again).
    #[serde(skip)]
    pub tags_to_create: Vec<(String, String, String)>,
    /// `(image, digest)`: digests whose cosign signatures `verify` needs
    /// and the tag lists lack (a live run fetches them, then plans again).
    #[serde(skip)]
    pub signatures_wanted: Vec<(String, String)>,
}

impl RungPlan {
    pub fn change_count(&self) -> usize {
        crate::decide::plan::change_count(&self.files)
    }
}

/// One tree as rung plans read it: its files, Flux objects and
/// configuration, the tag lists, and what its policies decide by
/// themselves ([`Decided`], worked out once however many rungs and images
/// are planned on the tree).
/// `'l` is the tag lists' lifetime.
#[derive(Clone, Copy)]
pub struct Tree<'a, 'l> {
    pub files: &'a [SourceFile],
    pub objects: &'a Objects,
    pub config: &'a Config,
    pub tags_for: &'a dyn Fn(&str) -> Result<&'l TagList, Unobserved>,
    pub decided: &'a Decided,
}

/// Each policy's own choice on a tree, and the image each policy's
/// ImageRepository declares, indexed by (namespace, name): what every
/// rung and image plan on that tree shares.
#[derive(Debug, Clone)]
pub struct Decided {
    chosen: Vec<PolicyOutcome>,
    /// namespace → name → (index into `objects.policies`, image); the
    /// first policy of a name and the first repository of a name win.
    /// Nested so a marker's `(&str, &str)` is looked up without copying.
    images: HashMap<String, HashMap<String, (usize, String)>>,
}

impl Decided {
    /// Decide every policy in `objects` against the tag lists.
    pub fn new<'a>(
        objects: &Objects,
        tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
    ) -> Decided {
        let mut repos: HashMap<(&str, &str), &str> = HashMap::new();
        for r in &objects.repositories {
            repos
                .entry((r.meta.namespace.as_str(), r.meta.name.as_str()))
                .or_insert(r.image.as_str());
        }
        let mut images: HashMap<String, HashMap<String, (usize, String)>> = HashMap::new();
        let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
        for (i, p) in objects.policies.iter().enumerate() {
            if !seen.insert((p.meta.namespace.as_str(), p.meta.name.as_str())) {
                continue;
            }
            let repo = (p.repository_namespace.as_str(), p.repository_name.as_str());
            if let Some(image) = repos.get(&repo) {
                images
                    .entry(p.meta.namespace.clone())
                    .or_default()
                    .insert(p.meta.name.clone(), (i, image.to_string()));
            }
        }
        Decided {
            chosen: decide(objects, tags_for),
            images,
        }
    }

    /// Every policy's outcome, in the objects' order.
    pub fn chosen(&self) -> &[PolicyOutcome] {
        &self.chosen
    }
}

impl<'a> Tree<'a, '_> {
    /// The policy a marker names, and the image its repository declares.
    fn image_of(&self, ns: &str, name: &str) -> Option<(&'a ImagePolicy, &'a str)> {
        let (i, image) = self.decided.images.get(ns)?.get(name)?;
        Some((&self.objects.policies[*i], image.as_str()))
    }

    /// The (namespace, name) of every policy whose image is `wanted`
    /// (as [`image_matches`] reads it).
    fn policies_of(&self, wanted: &str) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (ns, names) in &self.decided.images {
            for (name, (_, image)) in names {
                if image_matches(image, wanted) {
                    out.insert((ns.clone(), name.clone()));
                }
            }
        }
        out
    }
}

/// Plan every rung in ladder order.
pub fn plan_ladder<'a>(
    ladder: &Ladder,
    files: &[SourceFile],
    objects: &Objects,
    config: &Config,
    tags_for: impl Fn(&str) -> Result<&'a TagList, Unobserved>,
) -> Vec<RungPlan> {
    let mut current: Vec<SourceFile> = files.to_vec();
    let decided = Decided::new(objects, &tags_for);
    let tree = Tree {
        files,
        objects,
        config,
        tags_for: &tags_for,
        decided: &decided,
    };
    ladder
        .rungs
        .iter()
        .map(|rung| {
            let source = rung.promote_from.as_deref().and_then(|s| ladder.rung(s));
            plan_rung(rung, source.map(|s| (s, None)), None, &mut current, &tree)
        })
        .collect()
}

/// What a rung runs: image → (tag, digest when recorded), first marker of
/// each image first.
pub type SourceRuns = BTreeMap<String, (String, Option<String>)>;

/// What rung `name` runs in `files`: the source of a promotion whose
/// source rung lives in another repository.
pub fn rung_runs(
    ladder: &Ladder,
    name: &str,
    files: &[SourceFile],
    objects: &Objects,
) -> SourceRuns {
    let Some(rung) = ladder.rung(name) else {
        return SourceRuns::new();
    };
    let mine: Vec<SourceFile> = files
        .iter()
        .filter(|f| f.has_markers && rung.owns(&f.rel))
        .cloned()
        .collect();
    collect_runs(&mine, None, |ns, name| {
        image_of(objects, ns, name).map(|(_, i)| i)
    })
}

fn collect_runs<'o>(
    files: &[SourceFile],
    scope: PolicyScope<'_>,
    image_of: impl Fn(&str, &str) -> Option<&'o str>,
) -> SourceRuns {
    let mut out = SourceRuns::new();
    for (image, r) in recorded(files, scope, image_of) {
        if let Some(tag) = r.tag {
            out.entry(image)
                .or_insert((tag, r.digest.filter(|d| !d.is_empty())));
        }
    }
    out
}

/// One rung on the files as they are, for a run that lands rung after rung:
/// unlike [`plan_ladder`], the rungs before it are not replayed in memory —
/// a rung whose pull request has not merged yet has not changed what the
/// next rung promotes. With `image`, only that image moves. `source`
/// gives what the source rung runs when it lives in another repository.
pub fn plan_one(
    ladder: &Ladder,
    name: &str,
    image: Option<&str>,
    source_runs: Option<&SourceRuns>,
    tree: &Tree<'_, '_>,
) -> Result<RungPlan, String> {
    let rung = ladder
        .rung(name)
        .ok_or_else(|| format!("no environment {name:?} in hoist.toml"))?;
    let source = rung.promote_from.as_deref().and_then(|s| ladder.rung(s));
    Ok(plan_alone(
        rung,
        source.map(|s| (s, source_runs)),
        image,
        tree,
    ))
}

/// Plan `rung` by itself on a copy of the tree's files.
fn plan_alone(
    rung: &Rung,
    source: Option<(&Rung, Option<&SourceRuns>)>,
    image: Option<&str>,
    tree: &Tree<'_, '_>,
) -> RungPlan {
    let mut current = tree.files.to_vec();
    plan_rung(rung, source, image, &mut current, tree)
}

/// One explicit promotion (`hoist promote --from A --to B [--image X]`):
/// rung `to` takes what `from` runs now, whatever `to`'s own settings say
/// about its source; with `image`, only that image moves.
pub fn plan_promotion(
    ladder: &Ladder,
    from: &str,
    to: &str,
    image: Option<&str>,
    tree: &Tree<'_, '_>,
) -> Result<RungPlan, String> {
    let known = || {
        ladder
            .rungs
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let source = ladder
        .rung(from)
        .ok_or_else(|| format!("no environment {from:?} (environments: {})", known()))?;
    let mut target = ladder
        .rung(to)
        .ok_or_else(|| format!("no environment {to:?} (environments: {})", known()))?
        .clone();
    if from == to {
        return Err(format!("--from and --to both name {from:?}"));
    }
    target.promote_from = Some(from.to_string());
    Ok(plan_alone(&target, Some((source, None)), image, tree))
}

/// A rollback of `to`: the rung takes back the values a promotion
/// replaced (`previous`, from its pull request's record), as an explicit
/// promotion from "what ran before" would. Images the record does not
/// name keep what they run; no tag is rewritten, created or
/// digest-checked, since these values ran on this rung already.
pub fn plan_restore(
    ladder: &Ladder,
    to: &str,
    previous: &SourceRuns,
    tree: &Tree<'_, '_>,
) -> Result<RungPlan, String> {
    let rung = ladder
        .rung(to)
        .ok_or_else(|| format!("no environment {to:?} in hoist.toml"))?;
    let mut runs = rung_runs(ladder, to, tree.files, tree.objects);
    runs.extend(previous.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut target = rung.clone();
    target.tag_rewrite = None;
    target.require_same_digest = false;
    target.create_tag = false;
    let mut source = target.clone();
    source.name = format!("{to} before its last promotion");
    target.promote_from = Some(source.name.clone());
    Ok(plan_alone(
        &target,
        Some((&source, Some(&runs))),
        None,
        tree,
    ))
}

/// Why the target's own ImagePolicy would not select `pr.to_tag`, if it
/// would not: filtered out, outside its range, or not a version. An
/// explicit `hoist promote` says so; it does not stop it.
pub fn outside_policy(objects: &Objects, pr: &Promotion) -> Option<String> {
    let p = objects
        .policies
        .iter()
        .find(|p| p.meta.namespace == pr.namespace && p.meta.name == pr.policy)?;
    let mut spec = p.spec.clone();
    spec.exclusion_list = objects
        .repository_of(p)
        .and_then(|r| r.exclusion_list.clone());
    let policy = crate::policy::Policy::from_spec(&spec).ok()?;
    policy
        .select(std::slice::from_ref(&pr.to_tag))
        .err()
        .map(|e| e.to_string())
}

/// Does `image` (as written in `spec.image`) answer to `wanted` (the whole
/// name, or its last path component)?
fn image_matches(image: &str, wanted: &str) -> bool {
    image == wanted || image.rsplit('/').next() == Some(wanted)
}

/// Plan one rung over `current`, then leave `current` as the rung leaves
/// it, for the rungs above.
fn plan_rung(
    rung: &Rung,
    source: Option<(&Rung, Option<&SourceRuns>)>,
    only_image: Option<&str>,
    current: &mut [SourceFile],
    tree: &Tree<'_, '_>,
) -> RungPlan {
    let mine: Vec<SourceFile> = current
        .iter()
        .filter(|f| f.has_markers && rung.owns(&f.rel))
        .cloned()
        .collect();
    // With `only_image`, the plan reads and touches only that image's
    // markers: every other image keeps what it runs, byte for byte, and
    // its markers are another plan's to report on. A marker file naming
    // every image of a large fleet then costs this image's markers, not
    // the fleet's, in everything but the file's one scan.
    let scope = only_image.map(|w| tree.policies_of(w));
    let lookup = |ns: &str, name: &str| {
        tree.image_of(ns, name)
            .map(|(_, i)| i)
            .filter(|i| only_image.is_none_or(|w| image_matches(i, w)))
    };
    let before = runs(&mine, scope.as_ref(), lookup);
    let base: Vec<PolicyOutcome> = match &scope {
        None => tree.decided.chosen.clone(),
        Some(sc) => {
            let sc: std::collections::HashSet<(&str, &str)> =
                sc.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            tree.decided
                .chosen
                .iter()
                .filter(|o| sc.contains(&(o.namespace.as_str(), o.name.as_str())))
                .cloned()
                .collect()
        }
    };
    let mut found = Found::default();
    let outcomes = match source {
        None if rung.verify.0.is_empty() => base,
        None => gate_policies(
            rung,
            &rung.verify,
            base,
            &mine,
            tree,
            only_image,
            scope.as_ref(),
            &mut found,
        ),
        Some((source, given)) => {
            let from: Vec<SourceFile> = current
                .iter()
                .filter(|f| f.has_markers && source.owns(&f.rel))
                .cloned()
                .collect();
            let source_runs = match given {
                Some(runs) => runs.clone(),
                None => collect_runs(&from, scope.as_ref(), lookup),
            };
            promote(
                rung,
                &source.name,
                &source_runs,
                &mine,
                tree,
                (base, only_image, scope.as_ref()),
                &mut found,
            )
        }
    };
    let Found {
        promotions,
        blocked,
        wanted,
        to_create,
        signatures,
    } = found;
    let (changes, mut diagnostics) = crate::decide::plan::mutate_scoped(
        &mine,
        tree.objects,
        &outcomes,
        &tree.config.write,
        scope.as_ref(),
    );
    // A blocked image is a failure of the run (the others still move);
    // one waiting for its signature is a warning.
    for b in &blocked {
        let text = format!(
            "environment {:?}: {}/{}: {}",
            rung.name, b.namespace, b.policy, b.reason
        );
        diagnostics.push(if b.waits {
            Diag::warning(text)
        } else {
            Diag::error(text)
        });
    }
    // Later rungs read this rung as it is after its edits.
    for c in &changes {
        if let Some(f) = current.iter_mut().find(|f| f.rel == c.file) {
            f.text = c.updated.clone();
        }
    }
    // What the rung runs after its edits: its markers as they were, with
    // the values the edits wrote (no second scan of the edited text).
    let written: HashMap<(&str, usize), &str> = changes
        .iter()
        .flat_map(|f| {
            f.objects
                .iter()
                .flat_map(|o| &o.changes)
                .map(move |c| ((f.file.as_str(), c.line), c.new.as_str()))
        })
        .collect();
    let after = runs_as(&mine, scope.as_ref(), lookup, &written);
    let runs = before
        .into_iter()
        .map(|(image, was)| {
            let now = after.get(&image).cloned().unwrap_or_else(|| was.clone());
            (image, (was, now))
        })
        .collect();
    RungPlan {
        rung: rung.name.clone(),
        promote_from: rung.promote_from.clone(),
        files: changes,
        promotions,
        blocked,
        runs,
        diagnostics,
        digests_wanted: wanted,
        tags_to_create: to_create,
        signatures_wanted: signatures,
    }
}

/// The policy a marker names, and the image its repository declares.
pub fn image_of<'o>(
    objects: &'o Objects,
    ns: &str,
    name: &str,
) -> Option<(&'o ImagePolicy, &'o str)> {
    let p = objects
        .policies
        .iter()
        .find(|p| p.meta.namespace == ns && p.meta.name == name)?;
    let r = objects
        .repositories
        .iter()
        .find(|r| r.meta.name == p.repository_name && r.meta.namespace == p.repository_namespace)?;
    Some((p, r.image.as_str()))
}

/// What each image runs in `files`: the tag (with `@digest` when one is
/// recorded) read from its markers, per image, first document first.
fn runs<'o>(
    files: &[SourceFile],
    scope: PolicyScope<'_>,
    image_of: impl Fn(&str, &str) -> Option<&'o str>,
) -> BTreeMap<String, String> {
    runs_as(files, scope, image_of, &HashMap::new())
}

/// [`runs`] as if the scalars at `written` ((file, line) → value) held
/// those values.
fn runs_as<'o>(
    files: &[SourceFile],
    scope: PolicyScope<'_>,
    image_of: impl Fn(&str, &str) -> Option<&'o str>,
    written: &HashMap<(&str, usize), &str>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (image, r) in recorded_as(files, scope, image_of, written) {
        if let Some(tag) = r.tag {
            let v = match r.digest.filter(|d| !d.is_empty()) {
                Some(d) => format!("{tag}@{d}"),
                None => tag,
            };
            out.entry(image).or_insert(v);
        }
    }
    out
}

/// Recorded state per (image, document), in file order.
fn recorded<'o>(
    files: &[SourceFile],
    scope: PolicyScope<'_>,
    image_of: impl Fn(&str, &str) -> Option<&'o str>,
) -> Vec<(String, Recorded)> {
    recorded_as(files, scope, image_of, &HashMap::new())
}

/// [`recorded`] with the scalars at `written` ((file, line) → value)
/// read as those values.
fn recorded_as<'o>(
    files: &[SourceFile],
    scope: PolicyScope<'_>,
    image_of: impl Fn(&str, &str) -> Option<&'o str>,
    written: &HashMap<(&str, usize), &str>,
) -> Vec<(String, Recorded)> {
    let mut out: Vec<(String, Recorded)> = Vec::new();
    for f in files {
        let Ok(scan) = crate::decide::plan::scan(&f.text) else {
            continue;
        };
        // Only the scope's markers, found through the scan's index: a
        // marker file naming every image costs one image's markers here.
        let picked: Vec<usize> = match scope {
            Some(sc) => scan.setters_naming(sc),
            None => (0..scan.setters.len()).collect(),
        };
        // Where each (document, image) of this file is in `out`: hashed on
        // borrowed keys.
        let mut at: HashMap<(&setters::ObjectId, &str), usize> = HashMap::new();
        for s in picked.into_iter().map(|i| &scan.setters[i]) {
            let m = &s.marker;
            let Some(image) = image_of(&m.namespace, &m.name) else {
                continue;
            };
            let i = *at.entry((&s.object, image)).or_insert_with(|| {
                out.push((image.to_string(), Recorded::default()));
                out.len() - 1
            });
            let value = written
                .get(&(f.rel.as_str(), s.line))
                .copied()
                .unwrap_or(&s.value);
            out[i].1.add(m.field, value);
        }
    }
    out
}

/// What promoting found besides the outcomes.
#[derive(Default)]
struct Found {
    promotions: Vec<Promotion>,
    blocked: Vec<Blocked>,
    wanted: Vec<(String, String)>,
    to_create: Vec<(String, String, String)>,
    signatures: Vec<(String, String)>,
}

/// `verify` on a rung that takes its policies' choices: each marked
/// policy's selection must be signed, or it is blocked like a promotion.
#[allow(clippy::too_many_arguments)]
fn gate_policies(
    rung: &Rung,
    verify: &crate::config::verify::Verifications,
    mut outcomes: Vec<PolicyOutcome>,
    mine: &[SourceFile],
    tree: &Tree<'_, '_>,
    only_image: Option<&str>,
    scope: PolicyScope<'_>,
    out: &mut Found,
) -> Vec<PolicyOutcome> {
    let mut marked: BTreeSet<(String, String)> = BTreeSet::new();
    for f in mine {
        if let Ok(scan) = crate::decide::plan::scan(&f.text) {
            let picked: Vec<usize> = match scope {
                Some(sc) => scan.setters_naming(sc),
                None => (0..scan.setters.len()).collect(),
            };
            for s in picked.into_iter().map(|i| &scan.setters[i]) {
                marked.insert((s.marker.namespace.clone(), s.marker.name.clone()));
            }
        }
    }
    for o in &mut outcomes {
        if !marked.contains(&(o.namespace.clone(), o.name.clone())) {
            continue;
        }
        let Some(sel) = o.selected.clone() else {
            continue;
        };
        if only_image.is_some_and(|w| !image_matches(&sel.image, w)) {
            continue;
        }
        let Some(v) = verify.for_image(&sel.image) else {
            continue;
        };
        let Ok(list) = (tree.tags_for)(&sel.image) else {
            continue;
        };
        let (reason, waits) =
            match signature_gate(v, &sel.image, &sel.tag, sel.digest.as_deref(), list) {
                Gate::Pass => continue,
                Gate::WantDigest => {
                    out.wanted.push((sel.image.clone(), sel.tag.clone()));
                    (
                        format!(
                            "waiting for the digest of {}:{} to check its signature",
                            sel.image, sel.tag
                        ),
                        true,
                    )
                }
                Gate::WantSignatures(d) => {
                    out.signatures.push((sel.image.clone(), d));
                    (
                        format!(
                            "waiting for {}:{}'s signature to be checked",
                            sel.image, sel.tag
                        ),
                        true,
                    )
                }
                Gate::Block { reason, waits } => {
                    (format!("{}:{}: {reason}", sel.image, sel.tag), waits)
                }
            };
        o.selected = None;
        o.reference = None;
        let state = if waits { "waits" } else { "blocked" };
        o.error = Some(format!("{state} on {}: {reason}", rung.name));
        o.unobserved = false;
        out.blocked.push(Blocked {
            namespace: o.namespace.clone(),
            policy: o.name.clone(),
            image: Some(sel.image.clone()),
            reason,
            waits,
        });
    }
    outcomes
}

/// What `verify` says of one image a rung would take.
enum Gate {
    Pass,
    /// Its digest is needed first.
    WantDigest,
    /// The signatures of this digest are to be fetched first.
    WantSignatures(String),
    Block {
        reason: String,
        waits: bool,
    },
}

/// Check `image:tag` (digest `digest`, when known) against `v`.
fn signature_gate(
    v: &crate::config::verify::Verify,
    image: &str,
    tag: &str,
    digest: Option<&str>,
    list: &TagList,
) -> Gate {
    let Some(digest) = digest.or_else(|| list.digests.get(tag).map(String::as_str)) else {
        return Gate::WantDigest;
    };
    let _ = image;
    match list.signed.get(digest) {
        None => Gate::WantSignatures(digest.to_string()),
        Some(signed) => match crate::decide::verify::check(v, digest, signed) {
            crate::decide::verify::Verdict::Verified(_) => Gate::Pass,
            // Only cosign's tags were read, and they do not do: the
            // referrers may hold what this signer made.
            _ if !signed.referrers_read && signed.verified.is_empty() => {
                Gate::WantSignatures(digest.to_string())
            }
            crate::decide::verify::Verdict::Waits(reason) => Gate::Block {
                reason,
                waits: true,
            },
            crate::decide::verify::Verdict::Refused(reason) => Gate::Block {
                reason,
                waits: false,
            },
        },
    }
}

/// Outcomes for a promotion rung: each policy marked in `mine` gets the
/// source rung's value for its image, or is blocked with the reason.
fn promote(
    rung: &Rung,
    source: &str,
    source_runs: &SourceRuns,
    mine: &[SourceFile],
    tree: &Tree<'_, '_>,
    (mut outcomes, only_image, scope): (Vec<PolicyOutcome>, Option<&str>, PolicyScope<'_>),
    out: &mut Found,
) -> Vec<PolicyOutcome> {
    let Found {
        promotions,
        blocked,
        wanted,
        to_create,
        signatures,
    } = out;
    let mut marked: BTreeSet<(String, String)> = BTreeSet::new();
    for f in mine {
        if let Ok(scan) = crate::decide::plan::scan(&f.text) {
            let picked: Vec<usize> = match scope {
                Some(sc) => scan.setters_naming(sc),
                None => (0..scan.setters.len()).collect(),
            };
            for s in picked.into_iter().map(|i| &scan.setters[i]) {
                let m = &s.marker;
                if only_image.is_some_and(|w| {
                    tree.image_of(&m.namespace, &m.name)
                        .is_some_and(|(_, image)| !image_matches(image, w))
                }) {
                    continue;
                }
                marked.insert((m.namespace.clone(), m.name.clone()));
            }
        }
    }
    // Where each marked policy's outcome is (the first of a name wins).
    let mut slots: HashMap<(String, String), usize> = HashMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        let key = (o.namespace.clone(), o.name.clone());
        if marked.contains(&key) {
            slots.entry(key).or_insert(i);
        }
    }
    for (ns, name) in marked {
        let Some((policy, image)) = tree.image_of(&ns, &name) else {
            continue;
        };
        if only_image.is_some_and(|w| !image_matches(image, w)) {
            continue;
        }
        let Some(&i) = slots.get(&(ns.clone(), name.clone())) else {
            continue;
        };
        let slot = &mut outcomes[i];
        let mut block = |reason: String, waits: bool, slot: &mut PolicyOutcome| {
            slot.selected = None;
            slot.reference = None;
            let state = if waits { "waits" } else { "blocked" };
            slot.error = Some(format!("{state} on {}: {reason}", rung.name));
            slot.unobserved = false;
            blocked.push(Blocked {
                namespace: ns.clone(),
                policy: name.clone(),
                image: Some(image.to_string()),
                reason,
                waits,
            });
        };
        let Some((from_tag, from_digest)) = source_runs.get(image).cloned() else {
            block(
                format!("{source} has no marker of image {image} to promote"),
                false,
                slot,
            );
            continue;
        };
        let to_tag = match &rung.tag_rewrite {
            None => from_tag.clone(),
            Some(rw) => match rw.apply(&from_tag) {
                Some(t) => t,
                None => {
                    block(
                        format!(
                            "{source} runs {image}:{from_tag}, which tag_rewrite.from {:?} does not match",
                            rw.from.as_str()
                        ),
                        false,
                        slot,
                    );
                    continue;
                }
            },
        };
        let list = match (tree.tags_for)(image) {
            Ok(l) => l,
            Err(e) => {
                block(format!("no tag list for {image}: {e}"), false, slot);
                continue;
            }
        };
        if !list.tags.contains(&to_tag) && rung.create_tag {
            to_create.push((image.to_string(), from_tag.clone(), to_tag.clone()));
            if from_digest.is_none() && !list.digests.contains_key(&from_tag) {
                wanted.push((image.to_string(), from_tag.clone()));
            }
            block(
                format!(
                    "{image}:{to_tag} is not in the registry (promoted from {from_tag}); create_tag creates it only against a live registry"
                ),
                false,
                slot,
            );
            continue;
        }
        if !list.tags.contains(&to_tag) {
            block(
                format!("{image}:{to_tag} is not in the registry (promoted from {from_tag})"),
                false,
                slot,
            );
            continue;
        }
        let to_digest = list.digests.get(&to_tag).cloned();
        let reflects = policy.digest_reflection != DigestReflection::Never;
        if (rung.require_same_digest || reflects) && to_digest.is_none() {
            wanted.push((image.to_string(), to_tag.clone()));
        }
        if rung.require_same_digest
            && from_digest.is_none()
            && !list.digests.contains_key(&from_tag)
        {
            wanted.push((image.to_string(), from_tag.clone()));
        }
        if rung.require_same_digest {
            let src = from_digest
                .clone()
                .or_else(|| list.digests.get(&from_tag).cloned());
            match (&src, &to_digest) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => {
                    block(
                        format!(
                            "{image}:{to_tag} is not the same image as {from_tag} on {source} (digest {b}, not {a})"
                        ),
                        false,
                        slot,
                    );
                    continue;
                }
                _ => {
                    block(
                        format!(
                            "require_same_digest: the digest of {image}:{from_tag} or :{to_tag} is unknown"
                        ),
                        false,
                        slot,
                    );
                    continue;
                }
            }
        }
        if let Some(v) = rung.verify.for_image(image) {
            match signature_gate(v, image, &to_tag, to_digest.as_deref(), list) {
                Gate::Pass => {}
                Gate::WantDigest => {
                    if !wanted.contains(&(image.to_string(), to_tag.clone())) {
                        wanted.push((image.to_string(), to_tag.clone()));
                    }
                    block(
                        format!(
                            "waiting for the digest of {image}:{to_tag} to check its signature"
                        ),
                        true,
                        slot,
                    );
                    continue;
                }
                Gate::WantSignatures(d) => {
                    signatures.push((image.to_string(), d));
                    block(
                        format!("waiting for {image}:{to_tag}'s signature to be checked"),
                        true,
                        slot,
                    );
                    continue;
                }
                Gate::Block { reason, waits } => {
                    block(format!("{image}:{to_tag}: {reason}"), waits, slot);
                    continue;
                }
            }
        }
        let digest = (policy.digest_reflection != DigestReflection::Never)
            .then(|| to_digest.clone())
            .flatten();
        let selected = Selected {
            image: image.to_string(),
            tag: to_tag.clone(),
            digest: digest.clone(),
        };
        slot.reference = Some(selected.reference());
        slot.selected = Some(selected);
        slot.error = None;
        slot.image = Some(image.to_string());
        promotions.push(Promotion {
            namespace: ns.clone(),
            policy: name.clone(),
            image: image.to_string(),
            source_commit: rung
                .tag_rewrite
                .as_ref()
                .and_then(|rw| rw.group(&from_tag, "sha")),
            from_tag,
            to_tag,
            digest: to_digest,
        });
    }
    outcomes
}
