//! Cosign's signatures and attestations of one image digest, as the
//! registry holds them: read, never checked (that is
//! [`crate::decide::verify`]'s).
//!
//! Two places are looked at, in this order:
//!
//! 1. cosign's tag scheme: the manifest tagged `sha256-<hex>.sig` (and
//!    `sha256-<hex>.att` for attestations), each layer a payload blob
//!    with the signature (and certificate) in its annotations;
//! 2. the OCI 1.1 referrers of the digest — `GET /v2/<name>/referrers/<digest>`,
//!    or the referrers tag `sha256-<hex>` where the registry has no such
//!    API — whose `artifactType` is cosign's signature or a DSSE
//!    envelope: the same manifests, found another way.
//!
//! A digest signed the usual way costs one manifest and one blob. Every
//! manifest and blob is size-bounded and checked against its digest; a
//! bad one is a problem noted, never a panic or an unbounded read.

use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::client::{Client, RegistryError};
use super::reference::ImageRef;
use crate::core::tags::{Envelope, SignatureLayer, Signed};

const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
/// `artifactType` of a cosign signature stored as a referrer.
const SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SIGNATURE_ANN: &str = "dev.cosignproject.cosign/signature";
const CERT_ANN: &str = "dev.sigstore.cosign/certificate";
const CHAIN_ANN: &str = "dev.sigstore.cosign/chain";
/// A signature manifest or referrers index larger than this is refused.
const MAX_MANIFEST: usize = 256 * 1024;
/// A simple-signing payload larger than this is refused.
const MAX_PAYLOAD: usize = 64 * 1024;
/// An attestation envelope larger than this is refused.
const MAX_ENVELOPE: usize = 4 * 1024 * 1024;
/// At most this many layers of one manifest, and referrers of one digest.
const MAX_LAYERS: usize = 16;

impl Client {
    /// What the registry holds for `digest` of `img`: signatures, and
    /// attestations when `attestations` (otherwise `None` there).
    pub async fn cosign_artifacts(
        &self,
        img: &ImageRef,
        insecure: bool,
        digest: &str,
        attestations: bool,
    ) -> Result<Signed, RegistryError> {
        let Some(hex) = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            return Ok(Signed {
                problems: vec![format!("{digest} is not a sha256 digest")],
                ..Default::default()
            });
        };
        let base = format!("{}/v2/{}", self.base_url(img, insecure), img.repository);
        let mut out = Signed::default();
        let sig_tag = format!("sha256-{hex}.sig");
        if let Some(m) = self.small_manifest(img, &base, &sig_tag, &mut out).await? {
            self.read_layers(img, &base, &m, &format!("tag {sig_tag}"), &mut out)
                .await?;
        }
        if attestations {
            let att_tag = format!("sha256-{hex}.att");
            out.attestations = Some(Vec::new());
            if let Some(m) = self.small_manifest(img, &base, &att_tag, &mut out).await? {
                self.read_layers(img, &base, &m, &format!("tag {att_tag}"), &mut out)
                    .await?;
            }
        }
        let missing_att = out.attestations.as_ref().is_some_and(Vec::is_empty);
        if out.signatures.is_empty() || missing_att {
            for (d, artifact) in self.referrers(img, &base, digest, hex, &mut out).await? {
                let want = (artifact == SIG_ARTIFACT && out.signatures.is_empty())
                    || (artifact == DSSE && attestations);
                if !want {
                    continue;
                }
                if let Some(m) = self.small_manifest(img, &base, &d, &mut out).await? {
                    self.read_layers(img, &base, &m, &format!("referrer {d}"), &mut out)
                        .await?;
                }
            }
        }
        Ok(out)
    }

    /// A manifest by tag or digest, bounded; `None` when there is none (or
    /// it is unusable: then a problem is noted).
    async fn small_manifest(
        &self,
        img: &ImageRef,
        base: &str,
        reference: &str,
        out: &mut Signed,
    ) -> Result<Option<Value>, RegistryError> {
        let url = format!("{base}/manifests/{reference}");
        let r = self
            .fetch(
                img,
                Method::GET,
                &url,
                &format!("{OCI_MANIFEST}, {OCI_INDEX}"),
            )
            .await?;
        if r.status == 404 {
            return Ok(None);
        }
        if r.status != 200 {
            out.problems
                .push(format!("{reference}: the registry answered {}", r.status));
            return Ok(None);
        }
        if r.body.len() > MAX_MANIFEST {
            out.problems.push(format!(
                "{reference}: a manifest of {} bytes (more than {MAX_MANIFEST})",
                r.body.len()
            ));
            return Ok(None);
        }
        if let Some(d) = reference.strip_prefix("sha256:")
            && hex_sha256(&r.body) != d
        {
            out.problems.push(format!(
                "{reference}: the manifest does not match its digest"
            ));
            return Ok(None);
        }
        match serde_json::from_slice(&r.body) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                out.problems
                    .push(format!("{reference}: {}", super::json_error_kind(&e)));
                Ok(None)
            }
        }
    }

    /// The signature and envelope layers of manifest `m`.
    async fn read_layers(
        &self,
        img: &ImageRef,
        base: &str,
        m: &Value,
        source: &str,
        out: &mut Signed,
    ) -> Result<(), RegistryError> {
        let layers = m["layers"].as_array().cloned().unwrap_or_default();
        if layers.len() > MAX_LAYERS {
            out.problems.push(format!(
                "{source}: {} layers (at most {MAX_LAYERS} are read)",
                layers.len()
            ));
        }
        for l in layers.iter().take(MAX_LAYERS) {
            let media = l["mediaType"].as_str().unwrap_or_default();
            let (Some(d), limit) = (
                l["digest"].as_str(),
                if media == DSSE {
                    MAX_ENVELOPE
                } else {
                    MAX_PAYLOAD
                },
            ) else {
                continue;
            };
            if media != SIMPLE_SIGNING && media != DSSE {
                continue;
            }
            let ann = |k: &str| l["annotations"][k].as_str().map(str::to_string);
            let Some(blob) = self.small_blob(img, base, d, limit, source, out).await? else {
                continue;
            };
            if media == SIMPLE_SIGNING {
                let Some(signature) = ann(SIGNATURE_ANN) else {
                    out.problems
                        .push(format!("{source}: a layer without {SIGNATURE_ANN}"));
                    continue;
                };
                out.signatures.push(SignatureLayer {
                    source: source.to_string(),
                    payload: blob,
                    signature,
                    certificate: ann(CERT_ANN),
                    chain: ann(CHAIN_ANN),
                });
            } else if let Some(list) = out.attestations.as_mut() {
                list.push(Envelope {
                    source: source.to_string(),
                    json: blob,
                    certificate: ann(CERT_ANN),
                    chain: ann(CHAIN_ANN),
                });
            }
        }
        Ok(())
    }

    /// A blob, at most `limit` bytes and matching its digest.
    async fn small_blob(
        &self,
        img: &ImageRef,
        base: &str,
        digest: &str,
        limit: usize,
        source: &str,
        out: &mut Signed,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let Some(hex) = digest.strip_prefix("sha256:") else {
            out.problems
                .push(format!("{source}: layer digest {digest:?} is not sha256"));
            return Ok(None);
        };
        let url = format!("{base}/blobs/{digest}");
        let r = self.fetch(img, Method::GET, &url, "*/*").await?;
        if r.status != 200 {
            out.problems.push(format!(
                "{source}: blob {digest}: the registry answered {}",
                r.status
            ));
            return Ok(None);
        }
        if r.body.len() > limit {
            out.problems.push(format!(
                "{source}: blob {digest} has {} bytes (more than {limit})",
                r.body.len()
            ));
            return Ok(None);
        }
        if hex_sha256(&r.body) != hex {
            out.problems
                .push(format!("{source}: blob {digest} does not match its digest"));
            return Ok(None);
        }
        Ok(Some(r.body.to_vec()))
    }

    /// `(manifest digest, artifactType)` of `digest`'s referrers: the
    /// referrers API, or the referrers tag where it has none.
    async fn referrers(
        &self,
        img: &ImageRef,
        base: &str,
        digest: &str,
        hex: &str,
        out: &mut Signed,
    ) -> Result<Vec<(String, String)>, RegistryError> {
        let url = format!("{base}/referrers/{digest}");
        let r = self.fetch(img, Method::GET, &url, OCI_INDEX).await?;
        let index: Option<Value> = if r.status == 200 && r.body.len() <= MAX_MANIFEST {
            serde_json::from_slice(&r.body).ok()
        } else if r.status == 404 || r.status == 400 || r.status == 405 {
            // No referrers API: the fallback tag holds the index.
            self.small_manifest(img, base, &format!("sha256-{hex}"), out)
                .await?
        } else {
            out.problems.push(format!(
                "referrers of {digest}: the registry answered {}",
                r.status
            ));
            None
        };
        let Some(index) = index else {
            return Ok(Vec::new());
        };
        Ok(index["manifests"]
            .as_array()
            .map(|m| {
                m.iter()
                    .take(MAX_LAYERS)
                    .filter_map(|e| {
                        let d = e["digest"].as_str()?;
                        let t = e["artifactType"].as_str().unwrap_or_default();
                        Some((d.to_string(), t.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
