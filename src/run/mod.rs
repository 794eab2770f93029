//! Run: one pass of the pipeline. A session over one repository
//! (`session`: open, plan, commit with compare-and-swap), the ladder's climb
//! (`climb`), PR comment commands (`comment`), and a repository on disk
//! (`fleet`).

pub mod climb;
pub mod comment;
pub mod fleet;
pub mod rollback;
pub mod session;
pub mod signatures;

use crate::config::Config;
use crate::core::diag::Diag;
use crate::observe::objects::Objects;
use crate::observe::scan::{TagCreation, Tags};

/// Plan the ladder; against live registries, resolve the digests the
/// promotions need (`require_same_digest`, digest reflection) and plan
/// again with them. Tags `create_tag` asks for are created (or, for a
/// preview, assumed) and the ladder planned once more.
pub fn prepare_ladder(
    config: &Config,
    objects: &Objects,
    files: &[crate::observe::repo::SourceFile],
    tags: &mut Tags,
    creation: TagCreation,
) -> (Vec<crate::decide::ladder::RungPlan>, Vec<Diag>) {
    let plan = |tags: &Tags| {
        crate::decide::ladder::plan_ladder(&config.ladder, files, objects, config, |img| {
            tags.get(img)
        })
    };
    let mut plans = plan(tags);
    let mut diags = Vec::new();
    // A rung's promotion is known only once the rung below it moved in the
    // replay, which may need digests of its own: resolve, plan again, until
    // no new digest is wanted (at most once per rung).
    let mut asked = std::collections::BTreeSet::new();
    let mut checked: std::collections::BTreeMap<(String, String), u8> = Default::default();
    // Digests verified in earlier runs are not read again.
    let mut memo = tags
        .signature_memo()
        .filter(|_| tags.is_live())
        .map(signatures::Memo::load);
    if let Some(m) = &memo {
        m.recall(&config.ladder, tags);
    }
    let attestations = config
        .ladder
        .rungs
        .iter()
        .any(|r| r.verify.wants_attestations());
    // Each round may want digests, then their signatures: two per rung.
    for _ in 0..=2 * config.ladder.rungs.len() + 1 {
        let wants: Vec<(String, String)> = plans
            .iter()
            .flat_map(|p| p.digests_wanted.iter().cloned())
            .filter(|w| !asked.contains(w))
            .collect();
        // `verify`: the signatures of the digests rungs would land (asked
        // twice at most: cosign's tags, then, if they do not do, the
        // referrers).
        let signatures: Vec<(String, String)> = plans
            .iter()
            .flat_map(|p| p.signatures_wanted.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|w| checked.get(w).is_none_or(|n: &u8| *n < 2))
            .collect();
        if !tags.is_live() || (wants.is_empty() && signatures.is_empty()) {
            break;
        }
        asked.extend(wants.iter().cloned());
        for w in &signatures {
            *checked.entry(w.clone()).or_default() += 1;
        }
        diags.extend(crate::observe::scan::resolve_digests(objects, tags, &wants));
        diags.extend(crate::observe::scan::resolve_signatures(
            objects,
            tags,
            &signatures,
            attestations,
        ));
        plans = plan(tags);
    }
    if let Some(m) = &mut memo {
        m.learn(&config.ladder, tags, checked.keys());
        m.save();
    }
    let creates: std::collections::BTreeSet<(String, String, String)> = plans
        .iter()
        .flat_map(|p| p.tags_to_create.iter().cloned())
        .collect();
    if creates.is_empty() || (creation == TagCreation::Create && !tags.is_live()) {
        return (plans, diags);
    }
    diags.extend(crate::observe::scan::create_tags(
        objects, tags, creates, creation,
    ));
    (plan(tags), diags)
}
