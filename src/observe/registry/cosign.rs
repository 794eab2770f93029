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
//!    envelope (the same manifests, found another way), or a Sigstore
//!    bundle: what cosign v3 writes by default, one bundle per referrer,
//!    its DSSE envelope an in-toto statement of predicate type
//!    `https://sigstore.dev/cosign/sign/v1` (a signature) or of the
//!    attestation's type, its certificate in `verificationMaterial`.
//!
//! Referrers are read when the tag scheme holds no signature (or, asked
//! for, no attestation), and — `referrers_only` — when what the tags
//! held did not verify; then every signature referrer is read, up to
//! [`MAX_LAYERS`], so one by another signer does not hide one by the
//! signer asked for.
//!
//! A digest signed the usual way costs one manifest and one blob. Every
//! manifest and blob is size-bounded and checked against its digest; a
//! bad one is a problem noted, never a panic or an unbounded read.

use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::client::{Client, RegistryError};
use super::reference::ImageRef;
use crate::core::tags::{Envelope, SIGN_PREDICATE, SignatureLayer, Signed};

const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
/// `artifactType` of a cosign signature stored as a referrer.
const SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SIGNATURE_ANN: &str = "dev.cosignproject.cosign/signature";
const CERT_ANN: &str = "dev.sigstore.cosign/certificate";
const CHAIN_ANN: &str = "dev.sigstore.cosign/chain";
/// The media types of a Sigstore bundle (`…bundle.v0.3+json`, and the
/// older `…bundle+json;version=0.2`) start with this.
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle";
/// The empty descriptor's type: what some cosign releases left as a
/// bundle referrer's `artifactType` (the index entry then carries the
/// bundle annotations).
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const BUNDLE_CONTENT_ANN: &str = "dev.sigstore.bundle.content";
const BUNDLE_PREDICATE_ANN: &str = "dev.sigstore.bundle.predicateType";

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
    /// attestations when `attestations` (otherwise `None` there). With
    /// `referrers_only`, only what the OCI referrers hold, all of it (for
    /// a digest whose tag-scheme pieces did not verify).
    pub async fn cosign_artifacts(
        &self,
        img: &ImageRef,
        insecure: bool,
        digest: &str,
        attestations: bool,
        referrers_only: bool,
    ) -> Result<Signed, RegistryError> {
        let Some(hex) = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            return Ok(Signed {
                problems: vec![format!("{digest} is not a sha256 digest")],
                referrers_read: true,
                ..Default::default()
            });
        };
        let base = format!("{}/v2/{}", self.base_url(img, insecure), img.repository);
        let mut out = Signed::default();
        if attestations {
            out.attestations = Some(Vec::new());
        }
        if referrers_only {
            self.read_referrers(img, &base, digest, hex, (true, attestations), &mut out)
                .await?;
            return Ok(out);
        }
        let sig_tag = format!("sha256-{hex}.sig");
        if let Some(m) = self.small_manifest(img, &base, &sig_tag, &mut out).await? {
            self.read_layers(img, &base, &m, &format!("tag {sig_tag}"), &mut out)
                .await?;
        }
        if attestations {
            let att_tag = format!("sha256-{hex}.att");
            if let Some(m) = self.small_manifest(img, &base, &att_tag, &mut out).await? {
                self.read_layers(img, &base, &m, &format!("tag {att_tag}"), &mut out)
                    .await?;
            }
        }
        let need_sig = out.signatures.is_empty();
        let need_att = out.attestations.as_ref().is_some_and(Vec::is_empty);
        if need_sig || need_att {
            self.read_referrers(img, &base, digest, hex, (need_sig, need_att), &mut out)
                .await?;
        }
        Ok(out)
    }

    /// The signatures (when `need.0`) and attestations (`need.1`) among
    /// `digest`'s referrers, into `out`.
    async fn read_referrers(
        &self,
        img: &ImageRef,
        base: &str,
        digest: &str,
        hex: &str,
        (need_sig, need_att): (bool, bool),
        out: &mut Signed,
    ) -> Result<(), RegistryError> {
        out.referrers_read = true;
        for r in self.referrers(img, base, digest, hex, out).await? {
            let bundle = r.artifact.starts_with(BUNDLE) || (r.artifact == EMPTY && r.bundle);
            let want = if bundle {
                match r.predicate.as_deref() {
                    Some(SIGN_PREDICATE) => need_sig,
                    Some(_) => need_att,
                    None => true,
                }
            } else {
                (r.artifact == SIG_ARTIFACT && need_sig) || (r.artifact == DSSE && need_att)
            };
            if !want {
                continue;
            }
            let source = format!("referrer {}", r.digest);
            if let Some(m) = self.small_manifest(img, base, &r.digest, out).await? {
                if bundle {
                    self.read_bundle(img, base, &m, &source, out).await?;
                } else {
                    self.read_layers(img, base, &m, &source, out).await?;
                }
            }
        }
        Ok(())
    }

    /// The Sigstore bundle manifest `m` holds (its first layer): a
    /// signature or an attestation, by its statement's predicate type.
    async fn read_bundle(
        &self,
        img: &ImageRef,
        base: &str,
        m: &Value,
        source: &str,
        out: &mut Signed,
    ) -> Result<(), RegistryError> {
        let layer = &m["layers"][0];
        let (Some(d), true) = (
            layer["digest"].as_str(),
            layer["mediaType"]
                .as_str()
                .is_some_and(|t| t.starts_with(BUNDLE)),
        ) else {
            out.problems.push(format!(
                "{source}: a bundle manifest whose first layer is no bundle"
            ));
            return Ok(());
        };
        let Some(blob) = self
            .small_blob(img, base, d, MAX_ENVELOPE, source, out)
            .await?
        else {
            return Ok(());
        };
        match bundle_pieces(&blob, source, out.attestations.is_some()) {
            Ok(Pieces::Signatures(s)) => out.signatures.extend(s),
            Ok(Pieces::Attestation(e)) => {
                if let Some(list) = out.attestations.as_mut() {
                    list.push(e);
                }
            }
            Ok(Pieces::Nothing) => {}
            Err(why) => out.problems.push(format!("{source}: {why}")),
        }
        Ok(())
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
                    payload_type: None,
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

    /// `digest`'s referrers: the referrers API, or the referrers tag where
    /// it has none.
    async fn referrers(
        &self,
        img: &ImageRef,
        base: &str,
        digest: &str,
        hex: &str,
        out: &mut Signed,
    ) -> Result<Vec<Referrer>, RegistryError> {
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
                        let ann = &e["annotations"];
                        Some(Referrer {
                            digest: e["digest"].as_str()?.to_string(),
                            artifact: e["artifactType"].as_str().unwrap_or_default().to_string(),
                            bundle: ann[BUNDLE_CONTENT_ANN].is_string(),
                            predicate: ann[BUNDLE_PREDICATE_ANN].as_str().map(str::to_string),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// One entry of a referrers index.
struct Referrer {
    digest: String,
    artifact: String,
    /// It carries `dev.sigstore.bundle.content`.
    bundle: bool,
    /// `dev.sigstore.bundle.predicateType`, when given.
    predicate: Option<String>,
}

/// What one Sigstore bundle holds for hoist.
#[derive(Debug)]
pub enum Pieces {
    /// An image signature (a statement of [`SIGN_PREDICATE`]), one per
    /// envelope signature.
    Signatures(Vec<SignatureLayer>),
    /// An attestation of another predicate type.
    Attestation(Envelope),
    /// An attestation that was not asked for.
    Nothing,
}

/// Read a Sigstore bundle (v0.1 to v0.3): its DSSE envelope and its
/// certificate (`verificationMaterial.certificate`, or the leaf and chain
/// of `x509CertificateChain`); a public-key bundle has none. A
/// `messageSignature` bundle (`cosign sign-blob`) signs no image.
pub fn bundle_pieces(blob: &[u8], source: &str, attestations: bool) -> Result<Pieces, String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let v: Value = serde_json::from_slice(blob)
        .map_err(|e| format!("the bundle is not JSON: {}", super::json_error_kind(&e)))?;
    if !v["mediaType"]
        .as_str()
        .is_some_and(|t| t.starts_with(BUNDLE))
    {
        return Err(format!("the bundle's mediaType is {}", v["mediaType"]));
    }
    let material = &v["verificationMaterial"];
    let der = |c: &Value| c["rawBytes"].as_str().and_then(|r| b64.decode(r).ok());
    let (certificate, chain) = if let Some(c) = der(&material["certificate"]) {
        (Some(pem_of(&c)), None)
    } else if let Some(list) = material["x509CertificateChain"]["certificates"].as_array() {
        let mut pems = list.iter().take(8).filter_map(der).map(|c| pem_of(&c));
        let leaf = pems.next();
        let rest: String = pems.collect();
        (leaf, (!rest.is_empty()).then_some(rest))
    } else {
        (None, None)
    };
    let env = &v["dsseEnvelope"];
    if !env.is_object() {
        return Err(if v["messageSignature"].is_object() {
            "a message-signature bundle (cosign sign-blob), which signs no image".into()
        } else {
            "the bundle holds no dsseEnvelope".into()
        });
    }
    let payload_type = env["payloadType"].as_str().unwrap_or_default().to_string();
    let payload = env["payload"]
        .as_str()
        .and_then(|p| b64.decode(p).ok())
        .ok_or("the bundle's envelope has no base64 payload")?;
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|_| "the bundle's statement is not JSON".to_string())?;
    if statement["predicateType"] == SIGN_PREDICATE {
        let sigs: Vec<SignatureLayer> = env["signatures"]
            .as_array()
            .into_iter()
            .flatten()
            .take(MAX_LAYERS)
            .filter_map(|s| s["sig"].as_str())
            .map(|sig| SignatureLayer {
                source: format!("{source} (Sigstore bundle)"),
                payload: payload.clone(),
                signature: sig.to_string(),
                payload_type: Some(payload_type.clone()),
                certificate: certificate.clone(),
                chain: chain.clone(),
            })
            .collect();
        if sigs.is_empty() {
            return Err("the bundle's envelope has no signature".into());
        }
        return Ok(Pieces::Signatures(sigs));
    }
    if !attestations {
        return Ok(Pieces::Nothing);
    }
    let json = serde_json::to_vec(env).map_err(|e| e.to_string())?;
    Ok(Pieces::Attestation(Envelope {
        source: format!("{source} (Sigstore bundle)"),
        json,
        certificate,
        chain,
    }))
}

/// A DER certificate as PEM.
fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn hex_sha256(bytes: &[u8]) -> String {
    crate::core::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn bundle(predicate: &str, material: Value) -> Vec<u8> {
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "digest": { "sha256": "ab" } }],
            "predicateType": predicate,
        });
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": material,
            "dsseEnvelope": {
                "payload": b64(statement.to_string().as_bytes()),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{ "sig": "c2ln" }, { "sig": "c2lnMg==" }],
            },
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn bundles_give_signatures_attestations_or_a_reason() {
        let cert = serde_json::json!({ "certificate": { "rawBytes": b64(b"leaf") } });
        let Ok(Pieces::Signatures(s)) = bundle_pieces(&bundle(SIGN_PREDICATE, cert), "r", false)
        else {
            panic!("a signature bundle")
        };
        assert_eq!(s.len(), 2, "one per envelope signature");
        assert_eq!(
            s[0].payload_type.as_deref(),
            Some("application/vnd.in-toto+json")
        );
        assert_eq!(s[0].signature, "c2ln");
        assert!(s[0].certificate.as_deref().unwrap().contains(&b64(b"leaf")));
        assert_eq!(s[0].chain, None);

        // v0.1/v0.2: a chain, leaf first.
        let chain = serde_json::json!({ "x509CertificateChain": { "certificates": [
            { "rawBytes": b64(b"leaf") }, { "rawBytes": b64(b"intermediate") }
        ] } });
        let Ok(Pieces::Attestation(e)) =
            bundle_pieces(&bundle("https://slsa.dev/provenance/v1", chain), "r", true)
        else {
            panic!("an attestation bundle")
        };
        assert!(e.certificate.unwrap().contains(&b64(b"leaf")));
        assert!(e.chain.unwrap().contains(&b64(b"intermediate")));
        let key = serde_json::json!({ "publicKey": { "hint": "" } });
        assert!(matches!(
            bundle_pieces(
                &bundle("https://slsa.dev/provenance/v1", key.clone()),
                "r",
                false
            ),
            Ok(Pieces::Nothing)
        ));

        let blob = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": key,
            "messageSignature": { "messageDigest": { "algorithm": "SHA2_256", "digest": "" }, "signature": "" },
        });
        let why = bundle_pieces(blob.to_string().as_bytes(), "r", false).unwrap_err();
        assert!(why.contains("sign-blob"), "{why}");
        assert!(
            bundle_pieces(b"{", "r", false)
                .unwrap_err()
                .contains("not JSON")
        );
        let other = serde_json::json!({ "mediaType": "text/plain" }).to_string();
        assert!(
            bundle_pieces(other.as_bytes(), "r", false)
                .unwrap_err()
                .contains("mediaType")
        );
        let unsigned = String::from_utf8(bundle(SIGN_PREDICATE, serde_json::json!({})))
            .unwrap()
            .replace(r#"[{"sig":"c2ln"},{"sig":"c2lnMg=="}]"#, "[]");
        assert!(
            bundle_pieces(unsigned.as_bytes(), "r", false)
                .unwrap_err()
                .contains("no signature")
        );
    }
}
