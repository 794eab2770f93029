//! `verify = { … }` on an environment: which cosign signatures (and
//! attestations) an image needs before the environment takes it.
//!
//! ```toml
//! verify = { cosign_key = "env:COSIGN_PUBLIC_KEY", attestations = ["https://slsa.dev/provenance/v1"] }
//! verify = { identity = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main",
//!            issuer = "https://token.actions.githubusercontent.com", trust_root = "/etc/hoist/fulcio.pem" }
//! # per image: the first entry whose `images` names the image applies
//! verify = [
//!   { images = ["ghcr.io/acme/api"], identity = "https://github.com/acme/api/…", issuer = "…", trust_root = "…" },
//!   { images = ["ghcr.io/acme/web"], cosign_key = "env:WEB_COSIGN_KEY" },
//! ]
//! ```
//!
//! Keys and roots are public: given inline (PEM), as `env:NAME`, or as an
//! absolute path (a mounted file), read once here so that a missing one
//! is a configuration error naming the field.

use serde::Deserialize;

/// As written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerify {
    #[serde(default)]
    pub cosign_key: Option<String>,
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub trust_root: Option<String>,
    #[serde(default)]
    pub attestations: Vec<String>,
    /// The images this entry is for (a repository, or its last path
    /// segment); none: every image.
    #[serde(default)]
    pub images: Vec<String>,
}

/// Who must have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A cosign key pair: the public key, PEM.
    Key { pem: String },
    /// Keyless: a certificate chaining to `roots` (PEM), whose subject
    /// alternative name is `identity` and whose Fulcio issuer extension
    /// is `issuer`.
    Keyless {
        identity: String,
        issuer: String,
        roots: String,
    },
}

/// A validated `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    pub signer: Signer,
    /// In-toto predicate types each image needs an attestation of.
    pub attestations: Vec<String>,
    /// The images it is for; empty: every image.
    pub images: Vec<String>,
}

/// An environment's `verify`: one entry for every image, or several,
/// each for the images it names (the first that names an image wins).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verifications(pub Vec<Verify>);

impl Verifications {
    /// What `image` (`ghcr.io/acme/api`) needs, if anything.
    pub fn for_image(&self, image: &str) -> Option<&Verify> {
        self.0.iter().find(|v| v.applies_to(image))
    }

    /// Whether any entry asks for attestations.
    pub fn wants_attestations(&self) -> bool {
        self.0.iter().any(|v| !v.attestations.is_empty())
    }
}

impl Verify {
    /// What a digest verified under: the signer and the attestation types
    /// (not the images), hashed. Two policies with one fingerprint accept
    /// the same signatures.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        match &self.signer {
            Signer::Key { pem } => {
                h.update(b"key\0");
                h.update(pem.trim().as_bytes());
            }
            Signer::Keyless {
                identity,
                issuer,
                roots,
            } => {
                for part in ["keyless", identity, issuer, roots.trim()] {
                    h.update(part.as_bytes());
                    h.update(b"\0");
                }
            }
        }
        let mut kinds = self.attestations.clone();
        kinds.sort();
        for k in kinds {
            h.update(b"\0att\0");
            h.update(k.as_bytes());
        }
        crate::core::hex(&h.finalize()[..16])
    }

    /// Whether this entry is for `image`.
    pub fn applies_to(&self, image: &str) -> bool {
        self.images.is_empty()
            || self
                .images
                .iter()
                .any(|w| image == w || image.rsplit('/').next() == Some(w.as_str()))
    }

    /// Who must have signed, for people: "the cosign key in hoist.toml",
    /// "https://github.com/… (issuer https://token…)".
    pub fn signer_text(&self) -> String {
        match &self.signer {
            Signer::Key { .. } => "the configured cosign key".into(),
            Signer::Keyless {
                identity, issuer, ..
            } => format!("{identity} (issuer {issuer})"),
        }
    }
}

/// Read a key or root: inline PEM, `env:NAME`, or an absolute path.
fn read_pem(field: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.starts_with("-----BEGIN") {
        return Ok(v.to_string());
    }
    if let Some(var) = v.strip_prefix("env:") {
        return match std::env::var(var) {
            Ok(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(format!(
                "{field} names {var}, but that environment variable is empty or unset"
            )),
        };
    }
    if std::path::Path::new(v).is_absolute() {
        let meta = std::fs::metadata(v).map_err(|e| format!("{field}: cannot read {v}: {e}"))?;
        if meta.len() > 1 << 20 {
            return Err(format!("{field}: {v} is larger than 1 MiB"));
        }
        return std::fs::read_to_string(v).map_err(|e| format!("{field}: cannot read {v}: {e}"));
    }
    Err(format!(
        "{field} must be a PEM block, env:NAME or an absolute path (a mounted file), not {v:?}"
    ))
}

/// Validate `raw`; the reason when it cannot be used.
pub fn validate(raw: &RawVerify) -> Result<Verify, String> {
    let signer = match (&raw.cosign_key, &raw.identity, &raw.issuer) {
        (Some(key), None, None) => {
            let pem = read_pem("cosign_key", key)?;
            sigstore::crypto::CosignVerificationKey::try_from_pem(pem.as_bytes())
                .map_err(|e| format!("cosign_key is not a public key cosign can use: {e}"))?;
            Signer::Key { pem }
        }
        (None, Some(identity), Some(issuer)) => {
            let Some(root) = &raw.trust_root else {
                return Err(
                    "keyless verification needs trust_root (the certificate authority's root, PEM)"
                        .into(),
                );
            };
            let roots = read_pem("trust_root", root)?;
            if !roots.contains("-----BEGIN CERTIFICATE-----") {
                return Err("trust_root holds no PEM certificate".into());
            }
            if identity.is_empty() || issuer.is_empty() {
                return Err("identity and issuer must not be empty".into());
            }
            Signer::Keyless {
                identity: identity.clone(),
                issuer: issuer.clone(),
                roots,
            }
        }
        (None, None, None) => {
            return Err("give cosign_key, or identity and issuer (keyless)".into());
        }
        (Some(_), _, _) => {
            return Err(
                "cosign_key and identity/issuer are two ways to verify: give one of them".into(),
            );
        }
        _ => return Err("keyless verification needs both identity and issuer".into()),
    };
    if raw.attestations.iter().any(|a| a.trim().is_empty()) {
        return Err("attestations lists an empty predicate type".into());
    }
    if raw.images.iter().any(|i| i.trim().is_empty()) {
        return Err("images lists an empty image".into());
    }
    Ok(Verify {
        signer,
        attestations: raw.attestations.clone(),
        images: raw.images.clone(),
    })
}

/// Validate `verify` as written: a table, or an array of tables each
/// naming its `images`.
pub fn validate_all(raw: &toml::Value) -> Result<Verifications, String> {
    let one = |v: &toml::Value, at: &str| -> Result<Verify, String> {
        let r: RawVerify = v
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| format!("{at}{}", e.message()))?;
        validate(&r).map_err(|why| format!("{at}{why}"))
    };
    match raw {
        toml::Value::Table(_) => Ok(Verifications(vec![one(raw, "")?])),
        toml::Value::Array(items) => {
            let mut all = Vec::new();
            for (i, v) in items.iter().enumerate() {
                let at = format!("entry {}: ", i + 1);
                let ver = one(v, &at)?;
                if items.len() > 1 && ver.images.is_empty() && i + 1 < items.len() {
                    return Err(format!(
                        "{at}names no images, so it takes every image and the entries after it never apply: give it images, or put it last"
                    ));
                }
                all.push(ver);
            }
            if all.is_empty() {
                return Err(
                    "an empty list verifies nothing: remove verify, or give an entry".into(),
                );
            }
            Ok(Verifications(all))
        }
        _ => Err("must be a table ({ cosign_key = … }) or a list of them".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEzzcwXp2x1YiBuF4TfLmbNlOwjZf\n8cKr7W8hsWodfVj4eP4kpq/jwoEzFm9tNNPHMkTxvvSHIodRtVhnEWhDjg==\n-----END PUBLIC KEY-----";

    fn raw(
        key: Option<&str>,
        id: Option<&str>,
        issuer: Option<&str>,
        root: Option<&str>,
    ) -> RawVerify {
        RawVerify {
            cosign_key: key.map(str::to_string),
            identity: id.map(str::to_string),
            issuer: issuer.map(str::to_string),
            trust_root: root.map(str::to_string),
            attestations: vec![],
            images: vec![],
        }
    }

    #[test]
    fn one_signer_and_readable_keys() {
        let v = validate(&raw(Some(KEY), None, None, None)).unwrap();
        assert_eq!(v.signer_text(), "the configured cosign key");
        for (r, why) in [
            (raw(None, None, None, None), "give cosign_key, or identity"),
            (
                raw(Some(KEY), Some("a"), Some("b"), None),
                "give one of them",
            ),
            (
                raw(None, Some("a"), None, None),
                "needs both identity and issuer",
            ),
            (raw(None, Some("a"), Some("b"), None), "needs trust_root"),
            (
                raw(None, Some("a"), Some("b"), Some(KEY)),
                "holds no PEM certificate",
            ),
            (raw(Some("cosign.pub"), None, None, None), "absolute path"),
            (
                raw(Some("env:HOIST_NO_SUCH_VARIABLE_SET"), None, None, None),
                "empty or unset",
            ),
            (
                raw(Some("/no/such/key.pem"), None, None, None),
                "cannot read /no/such/key.pem",
            ),
            (
                raw(
                    Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
                    None,
                    None,
                    None,
                ),
                "not a public key cosign can use",
            ),
        ] {
            let e = validate(&r).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        let mut r = raw(Some(KEY), None, None, None);
        r.attestations = vec![" ".into()];
        assert!(validate(&r).unwrap_err().contains("empty predicate type"));
    }

    #[test]
    fn a_list_applies_per_image_in_order() {
        let key = KEY.replace('\n', "\\n");
        let parse = |t: &str| -> Result<Verifications, String> {
            let v: toml::Table = toml::from_str(&t.replace("KEY", &key)).unwrap();
            validate_all(&v["verify"])
        };
        let all = parse(
            r#"verify = [{ images = ["ghcr.io/acme/api"], cosign_key = "KEY", attestations = ["p"] }, { cosign_key = "KEY" }]"#,
        )
        .unwrap();
        assert_eq!(all.0.len(), 2);
        assert_eq!(
            all.for_image("ghcr.io/acme/api").unwrap().attestations,
            ["p"]
        );
        assert!(
            all.for_image("ghcr.io/acme/web")
                .unwrap()
                .attestations
                .is_empty()
        );
        assert!(all.wants_attestations());
        let api = parse(r#"verify = [{ images = ["api"], cosign_key = "KEY" }]"#).unwrap();
        assert!(api.for_image("ghcr.io/acme/api").is_some());
        assert!(api.for_image("ghcr.io/acme/web").is_none());
        assert!(api.for_image("ghcr.io/acme/api-worker").is_none());
        for (t, why) in [
            (
                r#"verify = [{ cosign_key = "KEY" }, { images = ["api"], cosign_key = "KEY" }]"#,
                "entry 1: names no images",
            ),
            (r#"verify = []"#, "an empty list verifies nothing"),
            (r#"verify = "KEY""#, "must be a table"),
            (
                r#"verify = [{ images = ["api"], cosign_ky = "KEY" }]"#,
                "entry 1: unknown field `cosign_ky`",
            ),
            (
                r#"verify = [{ images = [""], cosign_key = "KEY" }]"#,
                "empty image",
            ),
        ] {
            let e = parse(t).unwrap_err();
            assert!(e.contains(why), "{t}: {e}");
        }
    }
}
