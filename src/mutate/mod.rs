//! Mutate: rewrite manifests. Moving `images:` entries out of
//! kustomization entry files (`split`) and showing edits as diffs (`diff`);
//! the marker rewriting itself is the `setters` library's.

pub mod diff;
pub mod split;
