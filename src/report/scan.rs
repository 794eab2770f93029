//! `hoist scan`'s report: what the registries gave for each image, and
//! what each of its policies selects.

use crate::observe::objects::Objects;
use crate::observe::scan::Tags;

/// What a scan saw for one image, and what each of its policies selects.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageReport {
    pub image: String,
    /// How many tags were listed (`None` when the scan failed).
    pub tags: Option<usize>,
    pub error: Option<String>,
    /// Tags dropped for breaking the OCI grammar.
    pub dropped: Vec<String>,
    pub policies: Vec<PolicyReport>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyReport {
    /// The cluster that declares it (`""`: none in particular).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub namespace: String,
    /// Where the namespace came from, when not `metadata.namespace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_from: Option<String>,
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub error: Option<String>,
}

/// One report per scanned (non-suspended) image, in declaration order.
pub fn report(objects: &Objects, tags: &Tags) -> Vec<ImageReport> {
    let outcomes = crate::decide::plan::decide(objects, |img| tags.get(img));
    let mut images: Vec<&str> = Vec::new();
    for r in objects.repositories.iter().filter(|r| !r.suspend) {
        if !images.contains(&r.image.as_str()) {
            images.push(&r.image);
        }
    }
    images
        .into_iter()
        .map(|image| ImageReport {
            image: image.to_string(),
            tags: tags.snapshot.get(image).map(|l| l.tags.len()),
            error: tags.errors.get(image).cloned(),
            dropped: tags.dropped.get(image).cloned().unwrap_or_default(),
            policies: outcomes
                .iter()
                .filter(|o| o.image.as_deref() == Some(image))
                .map(|o| PolicyReport {
                    cluster: o.cluster.clone(),
                    namespace: o.namespace.clone(),
                    namespace_from: o.namespace_from.clone(),
                    name: o.name.clone(),
                    tag: o.selected.as_ref().map(|s| s.tag.clone()),
                    digest: o.selected.as_ref().and_then(|s| s.digest.clone()),
                    error: o.error.clone(),
                })
                .collect(),
        })
        .collect()
}
