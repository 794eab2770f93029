//! What the deciding stages read of a registry: an image's tags, and why
//! an image has none.
//!
//! Both a snapshot file ([`crate::observe::snapshot`]) and a live scan
//! ([`crate::observe::scan`]) end here, so the planner cannot tell which
//! one it was given, except by the [`Unobserved`] kind when there is
//! nothing to read.

use std::fmt;

use indexmap::IndexMap;

/// The tags of one image, in registry order, with digests where known.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TagList {
    /// Every valid tag, in the order the registry (or the file) gave them.
    pub tags: Vec<String>,
    /// Tag → manifest digest, for the tags whose digest is known.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub digests: IndexMap<String, String>,
}

/// Why an image has no tag list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unobserved {
    /// The registry snapshot given to hoist does not list the image: a
    /// gap in the file, to fill with `hoist scan --save-snapshot`.
    NotInSnapshot {
        /// The image, as its ImageRepository spells it.
        image: String,
    },
    /// The registry was asked and the scan failed: the reason, naming the
    /// registry's answer (never a credential).
    ScanFailed {
        /// The image, as its ImageRepository spells it.
        image: String,
        /// What went wrong, for a person.
        reason: String,
    },
}

impl Unobserved {
    /// The image that has no tag list.
    pub fn image(&self) -> &str {
        match self {
            Unobserved::NotInSnapshot { image } | Unobserved::ScanFailed { image, .. } => image,
        }
    }
}

impl fmt::Display for Unobserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unobserved::NotInSnapshot { image } => {
                write!(f, "image {image} is not in the registry snapshot")
            }
            Unobserved::ScanFailed { reason, .. } => f.write_str(reason),
        }
    }
}

impl std::error::Error for Unobserved {}
