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
    /// Manifest digest → the cosign signatures and attestations the
    /// registry holds for it, as fetched (checked by the deciding stage;
    /// never in a snapshot file).
    #[serde(skip)]
    pub signed: IndexMap<String, Signed>,
}

/// What a registry holds for one image digest in cosign's formats: the
/// raw pieces, for [`crate::decide::verify`] to check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signed {
    /// Image signatures: simple-signing ones (`sha256-<hex>.sig` or a
    /// referrer) and cosign v3's (a Sigstore bundle referrer).
    pub signatures: Vec<SignatureLayer>,
    /// DSSE envelopes (`sha256-<hex>.att` or a referrer); `None` when
    /// they were not asked for.
    pub attestations: Option<Vec<Envelope>>,
    /// Why some of it could not be read (a malformed or oversized
    /// manifest, a blob whose digest does not match): said when nothing
    /// else verifies.
    pub problems: Vec<String>,
    /// The fingerprints of the `verify` policies this digest verified
    /// under in an earlier run (`Verify::fingerprint`), remembered by the
    /// run so its pieces are not read again; empty for pieces just read.
    pub verified: Vec<String>,
    /// The OCI referrers were read too (not only cosign's tags).
    pub referrers_read: bool,
}

/// The predicate type of a cosign v3 image signature (an in-toto
/// statement in a Sigstore bundle).
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// One image signature: what was signed, the signature and who signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// Where it was found (`tag sha256-….sig`, `referrer sha256:…`).
    pub source: String,
    /// The simple-signing payload, as stored; for a bundle, the DSSE
    /// envelope's payload (an in-toto statement), decoded.
    pub payload: Vec<u8>,
    /// `dev.cosignproject.cosign/signature` (or the envelope's `sig`):
    /// base64 of the signature.
    pub signature: String,
    /// A cosign v3 signature (Sigstore bundle): the envelope's
    /// `payloadType`; the signature is then over DSSE's pre-authentication
    /// encoding of it and `payload`. `None`: over `payload` itself.
    pub payload_type: Option<String>,
    /// `dev.sigstore.cosign/certificate` (keyless), or the bundle's
    /// certificate: the signing certificate, PEM.
    pub certificate: Option<String>,
    /// `dev.sigstore.cosign/chain`: the certificates up to the root, PEM.
    pub chain: Option<String>,
}

/// One attestation: a DSSE envelope as stored, and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub source: String,
    /// The envelope's JSON.
    pub json: Vec<u8>,
    /// The layer's `dev.sigstore.cosign/certificate`, for keyless.
    pub certificate: Option<String>,
    pub chain: Option<String>,
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
