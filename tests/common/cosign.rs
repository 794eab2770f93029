//! Cosign's formats, made by the test harness: key pairs (ECDSA P-256),
//! simple-signing payloads signed and stored under cosign's tag scheme
//! (`sha256-<hex>.sig`) or as OCI referrers, DSSE attestations
//! (`sha256-<hex>.att`), and a test certificate authority issuing
//! Fulcio-style certificates (code signing, the identity as a SAN URI, the
//! issuer in Fulcio's extension) for keyless signatures; and cosign v3's
//! default: Sigstore bundles (v0.3) stored as OCI referrers, a DSSE
//! envelope of an in-toto statement inside.
#![allow(dead_code)]

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use super::registry::{Registry, sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// DER of the SubjectPublicKeyInfo header of a P-256 key.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A cosign key pair.
pub struct Key {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    /// The public key, PEM (what `cosign.pub` holds).
    pub pem: String,
}

impl Key {
    pub fn new() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut spki = P256_SPKI.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        Key {
            pair,
            pkcs8: pkcs8.as_ref().to_vec(),
            pem: pem("PUBLIC KEY", &spki),
        }
    }

    /// ASN.1 DER ECDSA signature of SHA-256(`msg`), base64, as cosign
    /// writes it.
    pub fn sign(&self, msg: &[u8]) -> String {
        let sig = self.pair.sign(&SystemRandom::new(), msg).unwrap();
        B64.encode(sig.as_ref())
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Cosign's simple-signing payload for `reference` at `digest`.
pub fn payload(reference: &str, digest: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

/// A keyless signer: a certificate (and its chain) for the key.
pub struct Cert {
    pub pem: String,
    pub chain: String,
}

/// One signature layer to store.
pub struct Layer {
    pub media_type: &'static str,
    pub blob: Vec<u8>,
    pub annotations: Vec<(&'static str, String)>,
}

/// The simple-signing layer of `key`'s signature over `digest` (with
/// `cert`, keyless).
pub fn signature_layer(reference: &str, digest: &str, key: &Key, cert: Option<&Cert>) -> Layer {
    let blob = payload(reference, digest);
    signed_payload(blob, key, cert)
}

/// A simple-signing layer of `key`'s signature over `blob` as given.
pub fn signed_payload(blob: Vec<u8>, key: &Key, cert: Option<&Cert>) -> Layer {
    let mut annotations = vec![("dev.cosignproject.cosign/signature", key.sign(&blob))];
    if let Some(c) = cert {
        annotations.push(("dev.sigstore.cosign/certificate", c.pem.clone()));
        annotations.push(("dev.sigstore.cosign/chain", c.chain.clone()));
    }
    Layer {
        media_type: "application/vnd.dev.cosign.simplesigning.v1+json",
        blob,
        annotations,
    }
}

/// A DSSE attestation layer: an in-toto statement of `predicate_type`
/// about `digest`, signed by `key`.
pub fn attestation_layer(
    reference: &str,
    digest: &str,
    predicate_type: &str,
    key: &Key,
    cert: Option<&Cert>,
) -> Layer {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": reference, "digest": { "sha256": hex } }],
        "predicateType": predicate_type,
        "predicate": { "buildDefinition": { "buildType": "https://example.com/test" } },
    })
    .to_string();
    let envelope = dsse(&statement, key).to_string();
    let mut annotations = vec![("predicateType", predicate_type.to_string())];
    if let Some(c) = cert {
        annotations.push(("dev.sigstore.cosign/certificate", c.pem.clone()));
        annotations.push(("dev.sigstore.cosign/chain", c.chain.clone()));
    }
    Layer {
        media_type: "application/vnd.dsse.envelope.v1+json",
        blob: envelope.into_bytes(),
        annotations,
    }
}

/// A DSSE envelope of the in-toto `statement`, signed by `key` over
/// DSSE's pre-authentication encoding.
fn dsse(statement: &str, key: &Key) -> serde_json::Value {
    let ptype = "application/vnd.in-toto+json";
    let pae = format!(
        "DSSEv1 {} {ptype} {} {statement}",
        ptype.len(),
        statement.len()
    );
    serde_json::json!({
        "payloadType": ptype,
        "payload": B64.encode(statement.as_bytes()),
        "signatures": [{ "keyid": "", "sig": key.sign(pae.as_bytes()) }],
    })
}

/// The manifest cosign stores `layers` in, optionally naming `subject`
/// (a referrer) with `artifact_type`.
fn manifest(layers: &[Layer], subject: Option<(&str, &str)>) -> (String, Vec<Vec<u8>>) {
    let config =
        br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#
            .to_vec();
    let mut blobs = vec![config.clone()];
    let ls: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            blobs.push(l.blob.clone());
            serde_json::json!({
                "mediaType": l.media_type,
                "size": l.blob.len(),
                "digest": sha256(&l.blob),
                "annotations": l.annotations.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            })
        })
        .collect();
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": config.len(),
            "digest": sha256(&config),
        },
        "layers": ls,
    });
    if let Some((digest, artifact)) = subject {
        m["artifactType"] = artifact.into();
        m["subject"] = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": 0,
        });
    }
    (m.to_string(), blobs)
}

/// Store `layers` under cosign's tag for `digest` (`suffix` "sig" or "att").
pub fn push_tagged(reg: &Registry, repo: &str, digest: &str, suffix: &str, layers: &[Layer]) {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let (m, blobs) = manifest(layers, None);
    reg.push_manifest(
        repo,
        &format!("sha256-{hex}.{suffix}"),
        &blobs,
        &m,
        "application/vnd.oci.image.manifest.v1+json",
    );
}

/// Store `layers` as a referrer of `digest` with `artifact_type`, and
/// list it under the OCI referrers tag `sha256-<hex>` (the registry here
/// has no referrers API, so clients fall back to that tag).
pub fn push_referrer(
    reg: &Registry,
    repo: &str,
    digest: &str,
    artifact_type: &str,
    layers: &[Layer],
) {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let (m, blobs) = manifest(layers, Some((digest, artifact_type)));
    let md = sha256(m.as_bytes());
    reg.push_manifest(
        repo,
        &md,
        &blobs,
        &m,
        "application/vnd.oci.image.manifest.v1+json",
    );
    let entry = serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md,
        "size": m.len(),
        "artifactType": artifact_type,
    });
    push_referrers_index(reg, repo, hex, vec![entry]);
}

/// The OCI referrers tag `sha256-<hex>`: an index of `entries`.
fn push_referrers_index(reg: &Registry, repo: &str, hex: &str, entries: Vec<serde_json::Value>) {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    })
    .to_string();
    reg.push_manifest(
        repo,
        &format!("sha256-{hex}"),
        &[],
        &index,
        "application/vnd.oci.image.index.v1+json",
    );
}

const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

/// A Sigstore bundle (v0.3) as cosign v3 writes one: `key`'s DSSE
/// envelope over an in-toto statement of `predicate_type` about `digest`,
/// with `cert`'s DER as `verificationMaterial.certificate` (keyless) or a
/// public-key hint.
pub fn bundle(digest: &str, predicate_type: &str, key: &Key, cert: Option<&Cert>) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let predicate = if predicate_type == SIGN_V1 {
        serde_json::json!({})
    } else {
        serde_json::json!({ "buildDefinition": { "buildType": "https://example.com/test" } })
    };
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "digest": { "sha256": hex } }],
        "predicateType": predicate_type,
        "predicate": predicate,
    })
    .to_string();
    let material = match cert {
        Some(c) => serde_json::json!({
            "certificate": { "rawBytes": B64.encode(der_of(&c.pem)) },
            "tlogEntries": [],
            "timestampVerificationData": {},
        }),
        None => serde_json::json!({
            "publicKey": { "hint": "" },
            "tlogEntries": [],
            "timestampVerificationData": {},
        }),
    };
    serde_json::json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": material,
        "dsseEnvelope": dsse(&statement, key),
    })
    .to_string()
    .into_bytes()
}

/// A cosign v3 image signature: [`bundle`] of cosign's signing predicate.
pub fn bundle_signature(digest: &str, key: &Key, cert: Option<&Cert>) -> Vec<u8> {
    bundle(digest, SIGN_V1, key, cert)
}

fn der_of(pem: &str) -> Vec<u8> {
    let b: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(b).unwrap()
}

/// The predicate type a bundle's statement names.
fn predicate_of(bundle: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    let st = B64
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&st).unwrap();
    st["predicateType"].as_str().unwrap().to_string()
}

/// Store `bundles` as referrers of `digest` the way cosign v3 does (one
/// manifest each: `artifactType` the bundle's type, the empty config, the
/// bundle as its one layer, the bundle annotations), and list them all,
/// annotations included, under the referrers tag `sha256-<hex>` (this
/// registry has no referrers API).
pub fn push_bundles(reg: &Registry, repo: &str, digest: &str, bundles: &[Vec<u8>]) {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let empty = b"{}".to_vec();
    let mut entries = Vec::new();
    for b in bundles {
        let annotations = serde_json::json!({
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": predicate_of(b),
            "org.opencontainers.image.created": "2026-12-04T10:00:00Z",
        });
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": BUNDLE_V03,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": sha256(&empty),
                "size": 2,
            },
            "layers": [{
                "mediaType": BUNDLE_V03,
                "digest": sha256(b),
                "size": b.len(),
                "annotations": { "org.opencontainers.image.title": format!("sha256-{}.sigstore.json", &sha256(b)[7..]) },
            }],
            "annotations": annotations.clone(),
            "subject": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": 0,
            },
        })
        .to_string();
        let md = reg.push_manifest(
            repo,
            &sha256(m.as_bytes()),
            &[empty.clone(), b.clone()],
            &m,
            "application/vnd.oci.image.manifest.v1+json",
        );
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md,
            "size": m.len(),
            "artifactType": BUNDLE_V03,
            "annotations": annotations,
        }));
    }
    push_referrers_index(reg, repo, hex, entries);
}

/// A test certificate authority standing in for Fulcio.
pub struct Authority {
    key: rcgen::KeyPair,
    params: rcgen::CertificateParams,
    /// The root, PEM (what `trust_root` holds).
    pub root: String,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let root = params.self_signed(&key).unwrap().pem();
        Authority { key, params, root }
    }

    /// A code-signing certificate for a new key, naming
    /// `identity` (SAN URI) and `issuer` (Fulcio's 1.3.6.1.4.1.57264.1.8).
    pub fn issue(&self, identity: &str, issuer: &str) -> (Key, Cert) {
        let key = Key::new();
        let kp = rcgen::KeyPair::try_from(key.pkcs8.as_slice()).unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = vec![rcgen::SanType::URI(identity.try_into().unwrap())];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        // DER UTF8String of the issuer.
        let mut v = vec![0x0c, issuer.len() as u8];
        v.extend_from_slice(issuer.as_bytes());
        p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            v,
        )];
        let ca = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = p.signed_by(&kp, &ca).unwrap();
        (
            key,
            Cert {
                pem: cert.pem(),
                chain: self.root.clone(),
            },
        )
    }
}
