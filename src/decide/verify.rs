//! Is an image digest signed as an environment's `verify` asks? Pure: the
//! pieces the registry held for the digest (fetched by
//! [`crate::observe::registry`]) and the policy in, a verdict out.
//!
//! A signature counts when its cosign simple-signing payload names this
//! exact digest and it verifies with the configured key — or, keyless,
//! with the public key of a certificate that chains to the configured
//! root, carries the code-signing usage, names the identity as its
//! subject alternative name and the issuer in Fulcio's extension. An
//! attestation counts when its DSSE envelope verifies the same way over
//! the envelope's pre-authentication encoding and its in-toto statement
//! has the predicate type and this digest as a subject. The cryptography
//! is the `sigstore` crate's verification keys and webpki's chain checks.

use base64::Engine;

use crate::config::verify::{Signer, Verify};
use crate::core::tags::{Envelope, SignatureLayer, Signed};

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed (and attested) as asked; what verified.
    Verified(String),
    /// Nothing to check yet (no signature or attestation at all): the
    /// image waits, and why.
    Waits(String),
    /// There is something, and it does not verify: why.
    Refused(String),
}

/// The certificate Fulcio puts the OIDC issuer in (v2, DER UTF8String).
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// The older form of it (raw bytes).
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// id-kp-codeSigning.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Check `digest`'s `signed` pieces against `v`.
pub fn check(v: &Verify, digest: &str, signed: &Signed) -> Verdict {
    let who = v.signer_text();
    if signed.verified.contains(&v.fingerprint()) {
        return Verdict::Verified(format!("signed by {who} (verified in an earlier run)"));
    }
    if signed.signatures.is_empty() {
        // Nothing could be read, or something could not: the latter is a
        // refusal with its reason (a truncated or oversized manifest, a
        // blob that is not what its digest says).
        return if signed.problems.is_empty() {
            Verdict::Waits(format!(
                "waiting for a signature from {who} (none for {digest})"
            ))
        } else {
            Verdict::Refused(format!(
                "no readable signature for {digest}: {}",
                summary(&signed.problems)
            ))
        };
    }
    let mut refusals = Vec::new();
    let mut bad = false;
    let mut good = None;
    for s in &signed.signatures {
        match signature_ok(v, digest, s) {
            Ok(()) => {
                good = Some(s.source.clone());
                break;
            }
            Err((by_signer, why)) => {
                bad |= by_signer;
                refusals.push(format!("{}: {why}", s.source));
            }
        }
    }
    let Some(source) = good else {
        refusals.extend(signed.problems.iter().cloned());
        // Signatures by someone else are no reason to refuse: the one
        // asked for may still come. One by the right signer that names
        // another digest or says something else, or a piece that could
        // not be read, is.
        let text = format!(
            "no signature from {who} verifies for {digest}: {}",
            summary(&refusals)
        );
        return if bad || !signed.problems.is_empty() {
            Verdict::Refused(text)
        } else {
            Verdict::Waits(format!(
                "waiting for a signature from {who}: {}",
                summary(&refusals)
            ))
        };
    };
    let mut what = format!("signed by {who} ({source})");
    for kind in &v.attestations {
        let envelopes = signed.attestations.as_deref().unwrap_or_default();
        let mut reasons = Vec::new();
        let mut found = false;
        let mut ok = false;
        for e in envelopes {
            match attestation_ok(v, digest, kind, e) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err((of_kind, why)) => {
                    found |= of_kind;
                    if of_kind {
                        reasons.push(format!("{}: {why}", e.source));
                    }
                }
            }
        }
        if !ok && !found {
            return Verdict::Waits(format!(
                "waiting for an attestation of {kind} from {who} for {digest}"
            ));
        }
        if !ok {
            return Verdict::Refused(format!(
                "no attestation of {kind} from {who} verifies for {digest}: {}",
                summary(&reasons)
            ));
        }
        what.push_str(&format!(", attested {kind}"));
    }
    Verdict::Verified(what)
}

fn summary(reasons: &[String]) -> String {
    let mut out = reasons
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if reasons.len() > 3 {
        out.push_str(&format!("; and {} more", reasons.len() - 3));
    }
    out
}

/// The key a piece must verify with: the configured one, or the
/// certificate's once its chain, identity and issuer check out.
fn key_for(
    v: &Verify,
    certificate: Option<&str>,
    chain: Option<&str>,
) -> Result<sigstore::crypto::CosignVerificationKey, String> {
    match &v.signer {
        Signer::Key { pem } => {
            sigstore::crypto::CosignVerificationKey::try_from_pem(pem.as_bytes())
                .map_err(|e| format!("the configured key cannot be used: {e}"))
        }
        Signer::Keyless {
            identity,
            issuer,
            roots,
        } => {
            let cert = certificate.ok_or("no certificate (dev.sigstore.cosign/certificate)")?;
            let spki = keyless(cert, chain.unwrap_or_default(), roots, identity, issuer)?;
            sigstore::crypto::CosignVerificationKey::try_from_der(&spki)
                .map_err(|e| format!("the certificate's key cannot be used: {e}"))
        }
    }
}

/// Err((made by the configured signer, why not)).
fn signature_ok(v: &Verify, digest: &str, s: &SignatureLayer) -> Result<(), (bool, String)> {
    let key = key_for(v, s.certificate.as_deref(), s.chain.as_deref()).map_err(|w| (false, w))?;
    let signed = match &s.payload_type {
        Some(t) => pae(t, &s.payload),
        None => s.payload.clone(),
    };
    key.verify_signature(
        sigstore::crypto::Signature::Base64Encoded(s.signature.trim().as_bytes()),
        &signed,
    )
    .map_err(|_| {
        (
            false,
            "the signature does not verify with that key".to_string(),
        )
    })?;
    if let Some(t) = &s.payload_type {
        return bundle_statement_ok(digest, t, &s.payload).map_err(|w| (true, w));
    }
    let payload: serde_json::Value = serde_json::from_slice(&s.payload)
        .map_err(|e| (true, format!("the signed payload is not JSON: {e}")))?;
    let critical = &payload["critical"];
    if critical["type"] != "cosign container image signature" {
        return Err((
            true,
            format!(
                "the payload's critical.type is {}, not a cosign container image signature",
                critical["type"]
            ),
        ));
    }
    match critical["image"]["docker-manifest-digest"].as_str() {
        Some(d) if d == digest => Ok(()),
        Some(d) => Err((true, format!("a signature for another digest ({d})"))),
        None => Err((
            true,
            "the payload names no critical.image.docker-manifest-digest".into(),
        )),
    }
}

/// A cosign v3 signature's statement: in-toto, of the signing predicate
/// type, about `digest`.
fn bundle_statement_ok(digest: &str, payload_type: &str, payload: &[u8]) -> Result<(), String> {
    if payload_type != "application/vnd.in-toto+json" {
        return Err(format!("payloadType {payload_type:?} is not in-toto"));
    }
    let statement: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed statement is not JSON: {e}"))?;
    if statement["predicateType"] != crate::core::tags::SIGN_PREDICATE {
        return Err(format!(
            "the statement's predicateType is {}, not a cosign image signature",
            statement["predicateType"]
        ));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let subjects = statement["subject"].as_array();
    if subjects.is_some_and(|s| s.iter().any(|x| x["digest"]["sha256"] == hex)) {
        return Ok(());
    }
    let other = subjects
        .and_then(|s| s.first())
        .and_then(|x| x["digest"]["sha256"].as_str())
        .map_or("none".to_string(), |h| format!("sha256:{h}"));
    Err(format!("a signature for another digest ({other})"))
}

/// Err((whether it is an attestation of `kind` at all, why not)).
fn attestation_ok(
    v: &Verify,
    digest: &str,
    kind: &str,
    e: &Envelope,
) -> Result<(), (bool, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let env: serde_json::Value =
        serde_json::from_slice(&e.json).map_err(|x| (false, format!("not JSON: {x}")))?;
    let payload_type = env["payloadType"].as_str().unwrap_or_default();
    let body = env["payload"]
        .as_str()
        .and_then(|p| b64.decode(p).ok())
        .ok_or((false, "no base64 payload".to_string()))?;
    let statement: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|x| (false, format!("the statement is not JSON: {x}")))?;
    if statement["predicateType"] != kind {
        return Err((false, "another predicate type".into()));
    }
    if payload_type != "application/vnd.in-toto+json" {
        return Err((true, format!("payloadType {payload_type:?} is not in-toto")));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let about = statement["subject"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x["digest"]["sha256"] == hex));
    if !about {
        return Err((true, format!("its subject is not {digest}")));
    }
    let key = key_for(v, e.certificate.as_deref(), e.chain.as_deref()).map_err(|w| (true, w))?;
    let pae = pae(payload_type, &body);
    let sigs = env["signatures"].as_array().cloned().unwrap_or_default();
    for sig in sigs.iter().take(16) {
        if let Some(sig) = sig["sig"].as_str()
            && key
                .verify_signature(
                    sigstore::crypto::Signature::Base64Encoded(sig.as_bytes()),
                    &pae,
                )
                .is_ok()
        {
            return Ok(());
        }
    }
    Err((true, "no signature of the envelope verifies".into()))
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Keyless: `cert` (PEM) chains through `chain` to one of `roots` with the
/// code-signing usage, as of its own issue time (hoist reads no
/// transparency log, so it cannot know a later signing time), and names
/// `identity` and `issuer`. Its public key (SPKI, DER).
fn keyless(
    cert: &str,
    chain: &str,
    roots: &str,
    identity: &str,
    issuer: &str,
) -> Result<Vec<u8>, String> {
    let leaf = pem_certs(cert)?
        .into_iter()
        .next()
        .ok_or("the certificate annotation holds no certificate")?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let names: Vec<String> = parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::RFC822Name(s)
                    | x509_parser::extensions::GeneralName::URI(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !names.iter().any(|n| n == identity) {
        return Err(format!(
            "the certificate is for {}, not {identity}",
            if names.is_empty() {
                "no identity".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    let mut found_issuer = None;
    for ext in parsed.extensions() {
        let oid = ext.oid.to_id_string();
        if oid == ISSUER_V2 {
            // DER UTF8String: tag 0x0c, a short or long length, the text.
            found_issuer = der_utf8(ext.value);
        } else if oid == ISSUER_V1 && found_issuer.is_none() {
            found_issuer = std::str::from_utf8(ext.value).ok().map(str::to_string);
        }
    }
    match found_issuer {
        Some(i) if i == issuer => {}
        Some(i) => return Err(format!("the certificate's issuer is {i}, not {issuer}")),
        None => return Err("the certificate names no OIDC issuer (Fulcio's extension)".into()),
    }
    let at = parsed.validity().not_before.timestamp().max(0) as u64 + 1;
    let spki = parsed.public_key().raw.to_vec();
    let intermediates = pem_certs(chain)?;
    let anchors_der = pem_certs(roots)?;
    let leaf_der = rustls_pki_types::CertificateDer::from(leaf.as_slice());
    let anchors: Vec<_> = anchors_der
        .iter()
        .filter_map(|d| {
            webpki::anchor_from_trusted_cert(&rustls_pki_types::CertificateDer::from(d.as_slice()))
                .ok()
                .map(|a| a.to_owned())
        })
        .collect();
    let inter: Vec<rustls_pki_types::CertificateDer<'_>> = intermediates
        .iter()
        .filter(|d| !anchors_der.contains(d))
        .map(|d| rustls_pki_types::CertificateDer::from(d.as_slice()))
        .collect();
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the certificate cannot be used: {e:?}"))?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &inter,
        rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(at)),
        webpki::KeyUsage::required(CODE_SIGNING),
        None,
        None,
    )
    .map_err(|e| format!("the certificate does not chain to trust_root: {e:?}"))?;
    Ok(spki)
}

/// The certificates of a PEM text, DER (at most 8).
fn pem_certs(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for p in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()).take(8) {
        let p = p.map_err(|e| format!("bad PEM: {e}"))?;
        if p.label == "CERTIFICATE" {
            out.push(p.contents);
        }
    }
    Ok(out)
}

/// The text of a DER UTF8String.
fn der_utf8(v: &[u8]) -> Option<String> {
    let (&tag, rest) = v.split_first()?;
    if tag != 0x0c {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = if len < 0x80 {
        (len as usize, rest)
    } else {
        let n = (len & 0x7f) as usize;
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let l = rest[..n].iter().fold(0usize, |a, b| a << 8 | *b as usize);
        (l, &rest[n..])
    };
    std::str::from_utf8(rest.get(..len)?)
        .ok()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pae("application/vnd.in-toto+json", b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }

    #[test]
    fn der_strings() {
        assert_eq!(der_utf8(b"\x0c\x03abc").as_deref(), Some("abc"));
        assert_eq!(der_utf8(b"\x0c\x05abc"), None);
        assert_eq!(der_utf8(b"\x13\x03abc"), None);
        assert_eq!(der_utf8(b""), None);
    }

    #[test]
    fn nothing_signed_waits_and_garbage_is_refused() {
        let v = Verify {
            signer: Signer::Key {
                pem: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEzzcwXp2x1YiBuF4TfLmbNlOwjZf\n8cKr7W8hsWodfVj4eP4kpq/jwoEzFm9tNNPHMkTxvvSHIodRtVhnEWhDjg==\n-----END PUBLIC KEY-----".into(),
            },
            attestations: vec![],
            images: vec![],
        };
        let d = "sha256:00";
        assert!(
            matches!(check(&v, d, &Signed::default()), Verdict::Waits(w) if w.contains("waiting for a signature"))
        );
        let s = Signed {
            signatures: vec![SignatureLayer {
                source: "tag x".into(),
                payload: b"not json".to_vec(),
                signature: "!!".into(),
                payload_type: None,
                certificate: None,
                chain: None,
            }],
            ..Default::default()
        };
        // An undecodable signature is someone else's as far as hoist can
        // tell: the image waits for the right one.
        assert!(matches!(check(&v, d, &s), Verdict::Waits(w) if w.contains("does not verify")));
        let broken = Signed {
            problems: vec!["tag x: a manifest of 300000 bytes".into()],
            ..s.clone()
        };
        assert!(matches!(check(&v, d, &broken), Verdict::Refused(r) if r.contains("300000")));
    }
}
