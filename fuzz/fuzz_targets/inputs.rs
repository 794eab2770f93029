//! Every other file a repository or a registry snapshot feeds hoist:
//! hoist.toml, registry snapshots, and YAML documents holding Flux objects
//! (read through the full plan); and what the network hands it: webhook
//! deliveries (GitHub, Azure DevOps, GitLab, registries, Flux), `/hoist`
//! comments, and cosign signatures and Sigstore bundles checked against a
//! key. The first byte picks the parser.
#![no_main]
use hoist::config::verify::{Signer, Verify};
use hoist::config::{self, Config};
use hoist::core::tags::TagList;
use hoist::core::tags::{Envelope, SignatureLayer, Signed};
use hoist::decide::verify;
use hoist::observe::registry::cosign::{Pieces, bundle_pieces};
use hoist::observe::repo::source_file;
use hoist::observe::snapshot::Snapshot;
use hoist::serve::hooks;
use libfuzzer_sys::fuzz_target;

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A P-256 public key (any will do: the inputs are not signed by it).
fn key() -> Verify {
    Verify {
        signer: Signer::Key {
            pem: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEzzcwXp2x1YiBuF4TfLmbNlOwjZf\n8cKr7W8hsWodfVj4eP4kpq/jwoEzFm9tNNPHMkTxvvSHIodRtVhnEWhDjg==\n-----END PUBLIC KEY-----".into(),
        },
        attestations: vec!["https://slsa.dev/provenance/v1".into()],
        images: vec![],
    }
}

/// Keyless, with `roots` as the trust root.
fn keyless(roots: &str) -> Verify {
    Verify {
        signer: Signer::Keyless {
            identity: "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main"
                .into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            roots: roots.into(),
        },
        attestations: vec![],
        images: vec![],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 9 {
        3 => {
            // A GitHub delivery, either content type, for each event kind.
            for ct in ["application/json", "application/x-www-form-urlencoded"] {
                if let Ok(v) = hooks::github_payload(Some(ct), rest) {
                    for ev in [
                        "package",
                        "registry_package",
                        "push",
                        "pull_request",
                        "issue_comment",
                    ] {
                        let _ = hooks::github(ev, &v);
                    }
                }
            }
        }
        4 => {
            if let Ok(v) = hooks::json(rest) {
                let _ = hooks::azure(&v);
                let _ = hooks::registry(&v);
                let _ = hoist::serve::flux::parse(&v, Some("c"));
                for ev in [
                    "Note Hook",
                    "Merge Request Hook",
                    "Push Hook",
                    "Pipeline Hook",
                ] {
                    let _ = hooks::gitlab(ev, &v);
                }
            }
        }
        5 => {
            let _ = hoist::run::comment::parse(text);
        }
        6 => {
            // A Sigstore bundle as the registry would hand it.
            if let Ok(Pieces::Signatures(sigs)) = bundle_pieces(rest, "fuzz", true) {
                let signed = Signed {
                    signatures: sigs,
                    ..Default::default()
                };
                let _ = verify::check(&key(), DIGEST, &signed);
            }
        }
        7 => {
            // A simple-signing payload (first line: the signature) checked
            // against a key and, keyless, a certificate and chain.
            let (sig, payload) = text.split_once('\n').unwrap_or((text, ""));
            let signed = Signed {
                signatures: vec![SignatureLayer {
                    source: "fuzz".into(),
                    payload: payload.as_bytes().to_vec(),
                    signature: sig.into(),
                    payload_type: None,
                    certificate: Some(payload.into()),
                    chain: Some(payload.into()),
                }],
                attestations: Some(vec![Envelope {
                    source: "fuzz".into(),
                    json: payload.as_bytes().to_vec(),
                    certificate: None,
                    chain: None,
                }]),
                ..Default::default()
            };
            let _ = verify::check(&key(), DIGEST, &signed);
            let _ = verify::check(&keyless(payload), DIGEST, &signed);
        }
        0 => {
            let _ = config::parse(text, "hoist.toml");
        }
        1 => {
            let _ = Snapshot::parse(text, "snapshot.yaml");
        }
        _ => {
            let Ok(Some(file)) = source_file("f.yaml".into(), "f.yaml".into(), rest.to_vec())
            else {
                return;
            };
            let list = TagList {
                tags: vec![
                    "1.0.0".into(),
                    "1.1.0".into(),
                    "main-abc1234-1700000000".into(),
                ],
                ..Default::default()
            };
            let _ = hoist::decide::plan::plan(&[file], &Config::default(), |_| Ok(&list));
        }
    }
});
