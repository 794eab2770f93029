//! `verify` end to end: the real registry holding signatures and
//! attestations in cosign's formats, made by the harness (ECDSA P-256
//! keys, simple-signing payloads, DSSE envelopes, a test CA for keyless),
//! the fake forge, and `hoist run`.

use crate::common;
use common::cosign::{self, Authority, Key};
use common::git::git;
use common::registry::Registry;
use common::world::{Kind, World};
use common::*;

const PROVENANCE: &str = "https://slsa.dev/provenance/v1";

/// Push build `n` of `api` (from source commit `sha`) under every rung's
/// tag; its digest.
fn build(reg: &Registry, sha: &str, n: usize) -> String {
    reg.push_build(
        "api",
        &[
            format!("dev-{sha}-{n}"),
            format!("staging-{sha}"),
            format!("prod-{sha}"),
        ],
        &n.to_string(),
    )
}

/// Does prod's bot branch propose `tag`?
fn proposes(w: &World, tag: String) -> bool {
    w.branches().contains(&"hoist/prod".to_string()) && w.has("hoist/prod", "prod", "api", &tag)
}

/// The run read `blobs` blobs and asked the referrers API `referrers` times.
fn assert_reads(r: &Run, blobs: u64, referrers: u64) {
    let got = (
        registry_requests(r, "GET /v2/{name}/blobs/{digest}"),
        registry_requests(r, "GET /v2/{name}/referrers/{digest}"),
    );
    assert_eq!(got, (blobs, referrers), "(blobs, referrers): {}", r.stdout);
}

/// A registry, a cosign key, and a fleet whose prod needs that key's
/// signature and a provenance attestation; build 1 pushed.
fn keyed_world() -> (Registry, Key, World) {
    let reg = Registry::start(None);
    let key = Key::new();
    let w = World::at(
        &reg.host(),
        Kind::GitHub,
        &["api"],
        &format!(
            "verify = {{ cosign_key = \"env:HOIST_TEST_COSIGN_KEY\", attestations = [\"{PROVENANCE}\"] }}\n"
        ),
        "",
    );
    build(&reg, &w.shas[0], 1);
    (reg, key, w)
}

/// `(route, count)` of the registry requests of a `--output json` run.
fn registry_requests(r: &Run, route: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "registry" && c["route"] == route)
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

/// A cosign key: an unsigned build waits on prod with the reason, a
/// signature without the required attestation waits, signed and attested
/// it moves (costing one manifest and one blob each for the signature and
/// the attestation); a signature by another key waits; a huge signature
/// manifest and a signature for another digest are refused.
#[test]
fn prod_takes_only_builds_signed_and_attested_with_its_key() {
    let (reg, key, w) = keyed_world();
    let [s2, s3] = [&w.shas[1], &w.shas[2]];
    let env = [("HOIST_TEST_COSIGN_KEY", key.pem.clone())];
    let run = || w.run_live(&["--output", "json"], &env);
    let image = format!("{}/api", reg.host());

    // Unsigned: dev and staging move, prod waits (a warning, exit 0).
    let d2 = build(&reg, s2, 2);
    run().expect(
        0,
        &[
            "staging: merged pull request #1",
            "waiting for a signature from the configured cosign key",
        ],
    );
    assert_eq!(w.pulls().len(), 1, "no prod pull request");
    // The commit prod would build on says why it did not move.
    let main = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    let prod_status = |sha: &str| -> Vec<(String, String)> {
        w.forge
            .repo("acme/fleet")
            .statuses
            .get(sha)
            .into_iter()
            .flatten()
            .filter(|s| s["context"] == "hoist/prod")
            .map(|s| {
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["description"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let st = prod_status(&main);
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].0, "pending");
    assert!(
        st[0].1.starts_with(&format!(
            "api:prod-{s2}: waiting for a signature from the configured cosign key"
        )),
        "{st:?}"
    );
    run().expect(0, &[]);
    assert_eq!(prod_status(&main).len(), 1, "a rerun posts it once");
    // `hoist ladder` says prod waits, and why; waiting is not a failure.
    w.ladder(&env).expect(
        0,
        &[
            "waits on prod: ",
            "waiting for a signature from the configured cosign key",
        ],
    );

    // Signed, not attested: still waits, saying for what.
    cosign::push_tagged(
        &reg,
        "api",
        &d2,
        "sig",
        &[cosign::signature_layer(&image, &d2, &key, None)],
    );
    run().expect(0, &[&format!("waiting for an attestation of {PROVENANCE}")]);
    assert_eq!(w.pulls().len(), 1);

    // Attested: prod's pull request opens. The checks of the new digest
    // cost one manifest and one blob each (plus the scans' own reads).
    cosign::push_tagged(
        &reg,
        "api",
        &d2,
        "att",
        &[cosign::attestation_layer(
            &image, &d2, PROVENANCE, &key, None,
        )],
    );
    let r = run();
    r.expect(0, &["prod: opened pull request #2"]);
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    assert_reads(&r, 2, 0);
    // The wait is over on the base tip too.
    let st = prod_status(&main);
    assert_eq!(st.last().unwrap().0, "success", "{st:?}");
    assert!(
        st.last()
            .unwrap()
            .1
            .contains("no longer waiting: pull request #2"),
        "{st:?}"
    );
    // A rerun reads no signature again: the digest verified, and the run
    // remembers it. Forgetting (the memo deleted) reads them once more.
    let r = run();
    r.expect(0, &[]);
    assert_eq!(
        registry_requests(&r, "GET /v2/{name}/blobs/{digest}"),
        0,
        "{}",
        r.stdout
    );
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    let memo = w.t.path().join("state/verified-signatures.json");
    assert!(memo.exists(), "no memo at {}", memo.display());
    std::fs::remove_file(&memo).unwrap();
    let r = run();
    assert_eq!(
        registry_requests(&r, "GET /v2/{name}/blobs/{digest}"),
        2,
        "{}",
        r.stdout
    );

    // Build 3, signed (and attested) by someone else's key: waits.
    let other = Key::new();
    let d3 = build(&reg, s3, 3);
    cosign::push_tagged(
        &reg,
        "api",
        &d3,
        "sig",
        &[cosign::signature_layer(&image, &d3, &other, None)],
    );
    cosign::push_tagged(
        &reg,
        "api",
        &d3,
        "att",
        &[cosign::attestation_layer(
            &image, &d3, PROVENANCE, &other, None,
        )],
    );
    run().expect(0, &["does not verify with that key"]);
    assert!(!proposes(&w, format!("prod-{s3}")));

    // The right key's signature, but over build 2's digest: refused.
    cosign::push_tagged(
        &reg,
        "api",
        &d3,
        "sig",
        &[cosign::signature_layer(&image, &d2, &key, None)],
    );
    run().expect(1, &[&format!("a signature for another digest ({d2})")]);
    assert!(!proposes(&w, format!("prod-{s3}")));

    // A signature manifest of 300 kB: refused unread.
    let mut big = cosign::signature_layer(&image, &d3, &key, None);
    big.annotations.push(("padding", "x".repeat(300_000)));
    cosign::push_tagged(&reg, "api", &d3, "sig", &[big]);
    run().expect(1, &["more than 262144"]);
    assert!(!proposes(&w, format!("prod-{s3}")));

    // Signed and attested properly at last: prod's pull request takes it.
    cosign::push_tagged(
        &reg,
        "api",
        &d3,
        "sig",
        &[cosign::signature_layer(&image, &d3, &key, None)],
    );
    cosign::push_tagged(
        &reg,
        "api",
        &d3,
        "att",
        &[cosign::attestation_layer(
            &image, &d3, PROVENANCE, &key, None,
        )],
    );
    run().expect(0, &[]);
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s3}")));
}

/// cosign v3's default: Sigstore bundles as OCI referrers. With a key:
/// a bundle signature alone waits for the attestation, a bundle
/// attestation beside it moves the build (its reads counted); a bundle
/// signature by the right key over another digest is refused; one by
/// another key next to one by the right key does not hide it. Keyless (on
/// GitLab): the bundle's certificate must be for the identity, and a
/// classic signature by someone else under cosign's tag does not hide it.
#[test]
fn cosign_v3_bundles_as_referrers() {
    let (reg, key, w) = keyed_world();
    let [s2, s3] = [&w.shas[1], &w.shas[2]];
    let env = [("HOIST_TEST_COSIGN_KEY", key.pem.clone())];
    let run = || w.run_live(&["--output", "json"], &env);

    let d2 = build(&reg, s2, 2);
    cosign::push_bundles(
        &reg,
        "api",
        &d2,
        &[cosign::bundle_signature(&d2, &key, None)],
    );
    run().expect(0, &[&format!("waiting for an attestation of {PROVENANCE}")]);
    assert_eq!(w.pulls().len(), 1, "no prod pull request");
    cosign::push_bundles(
        &reg,
        "api",
        &d2,
        &[
            cosign::bundle_signature(&d2, &key, None),
            cosign::bundle(&d2, PROVENANCE, &key, None),
        ],
    );
    let r = run();
    r.expect(0, &["prod: opened pull request #2"]);
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    // The tag scheme's two misses, the referrers API (absent: 404), its
    // fallback tag, then a manifest and a blob per bundle.
    assert_reads(&r, 2, 1);

    // Build 3: the right key, but the statement is about build 2.
    let d3 = build(&reg, s3, 3);
    cosign::push_bundles(
        &reg,
        "api",
        &d3,
        &[
            cosign::bundle_signature(&d2, &key, None),
            cosign::bundle(&d3, PROVENANCE, &key, None),
        ],
    );
    run().expect(1, &[&format!("a signature for another digest ({d2})")]);
    assert!(!proposes(&w, format!("prod-{s3}")));
    // Another key's signature first, the right one second: it moves.
    let other = Key::new();
    cosign::push_bundles(
        &reg,
        "api",
        &d3,
        &[
            cosign::bundle_signature(&d3, &other, None),
            cosign::bundle_signature(&d3, &key, None),
            cosign::bundle(&d3, PROVENANCE, &key, None),
        ],
    );
    run().expect(0, &[]);
    assert!(proposes(&w, format!("prod-{s3}")));

    // Keyless, on GitLab.
    let fulcio = Authority::new("test fulcio");
    let identity = "https://gitlab.com/acme/platform/api//.gitlab-ci.yml@refs/heads/main";
    let issuer = "https://gitlab.com";
    let w = World::at(
        &reg.host(),
        Kind::GitLab,
        &["api"],
        &format!(
            "verify = {{ identity = \"{identity}\", issuer = \"{issuer}\", trust_root = \"env:HOIST_TEST_FULCIO_ROOT\" }}\n"
        ),
        "",
    );
    let env = [("HOIST_TEST_FULCIO_ROOT", fulcio.root.clone())];
    let [s1, s2] = [&w.shas[0], &w.shas[1]];
    build(&reg, s1, 11);
    let d = build(&reg, s2, 12);
    let (k, c) = fulcio.issue(
        "https://gitlab.com/mallory/api//.gitlab-ci.yml@refs/heads/main",
        issuer,
    );
    // Mallory signed under cosign's tag (classic) and as a bundle: waits.
    let image = format!("{}/api", reg.host());
    cosign::push_tagged(
        &reg,
        "api",
        &d,
        "sig",
        &[cosign::signature_layer(&image, &d, &k, Some(&c))],
    );
    cosign::push_bundles(
        &reg,
        "api",
        &d,
        &[cosign::bundle_signature(&d, &k, Some(&c))],
    );
    w.run_live(&[], &env).expect(
        0,
        &[
            "waiting for a signature from",
            "the certificate is for https://gitlab.com/mallory/api",
        ],
    );
    assert_eq!(w.pulls().len(), 1, "no prod merge request");
    // The right identity as a bundle, Mallory's classic signature still
    // under the tag: the referrers are read too, and it moves.
    let (k, c) = fulcio.issue(identity, issuer);
    cosign::push_bundles(
        &reg,
        "api",
        &d,
        &[cosign::bundle_signature(&d, &k, Some(&c))],
    );
    w.run_live(&[], &env)
        .expect(0, &["prod: opened merge request !"]);
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
}

/// `verify` on a push rung: an unsigned build does not reach dev, and dev's
/// tip carries a pending `hoist/dev` saying why (once); signed, it is
/// pushed with a success status.
#[test]
fn a_push_rung_that_verifies_says_why_it_waits() {
    let reg = Registry::start(None);
    let key = Key::new();
    let w = World::at(&reg.host(), Kind::GitHub, &["api"], "", "");
    let [s1, s2] = [&w.shas[0], &w.shas[1]];
    build(&reg, s1, 1);
    let toml = common::git::show(&w.bare, "main", "hoist.toml").replace(
        "paths = [\"clusters/dev/**\"]\n",
        "paths = [\"clusters/dev/**\"]\nverify = { cosign_key = \"env:HOIST_TEST_COSIGN_KEY\" }\n",
    );
    let cfg = write(w.t.path(), "verify-dev.toml", &toml);
    let env = [("HOIST_TEST_COSIGN_KEY", key.pem.clone())];
    let run = || w.run_live(&["--config", s(&cfg)], &env);
    let image = format!("{}/api", reg.host());
    let d2 = build(&reg, s2, 2);
    run().expect(
        0,
        &["waiting for a signature from the configured cosign key"],
    );
    let main = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    let dev: Vec<serde_json::Value> = w
        .forge
        .repo("acme/fleet")
        .statuses
        .get(&main)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s["context"] == "hoist/dev")
        .collect();
    assert_eq!(dev.len(), 1, "{dev:?}");
    assert_eq!(dev[0]["state"], "pending");
    assert!(
        dev[0]["description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("api:dev-{s2}-2: waiting for a signature")),
        "{dev:?}"
    );
    run().expect(0, &[]);
    assert_eq!(
        w.forge.repo("acme/fleet").statuses[&main]
            .iter()
            .filter(|s| s["context"] == "hoist/dev")
            .count(),
        1,
        "posted once"
    );
    assert!(!w.main_has("dev", &format!("dev-{s2}-2")));
    cosign::push_tagged(
        &reg,
        "api",
        &d2,
        "sig",
        &[cosign::signature_layer(&image, &d2, &key, None)],
    );
    run().expect(0, &["hoist run: dev: pushed"]);
    assert!(w.main_has("dev", &format!("dev-{s2}-2")));
    // dev's commit (staging may have merged on top of it since).
    let pushed = git(
        &w.bare,
        &["log", "-1", "--format=%H", "main", "--", "clusters/dev"],
    )
    .trim()
    .to_string();
    assert_eq!(
        w.forge.repo("acme/fleet").statuses[&pushed][0]["state"],
        "success"
    );
}

/// Keyless, through the OCI referrers (the registry has no referrers API:
/// the fallback tag): a certificate for the wrong identity waits, one
/// from an authority prod does not trust waits, the right identity moves.
#[test]
fn keyless_signatures_found_as_referrers_need_the_right_identity() {
    keyless_on(Kind::GitHub);
}

/// The same on Azure DevOps: the check is the forge's no business, the
/// rung's pull requests are.
#[test]
fn keyless_signatures_need_the_right_identity_on_azure_devops_too() {
    keyless_on(Kind::Azure);
}

fn keyless_on(kind: Kind) {
    let reg = Registry::start(None);
    let fulcio = Authority::new("test fulcio");
    let identity = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main";
    let issuer = "https://token.actions.githubusercontent.com";
    let w = World::at(
        &reg.host(),
        kind,
        &["api"],
        &format!(
            "verify = {{ identity = \"{identity}\", issuer = \"{issuer}\", trust_root = \"env:HOIST_TEST_FULCIO_ROOT\" }}\n"
        ),
        "",
    );
    let [s1, s2, s3] = [&w.shas[0], &w.shas[1], &w.shas[2]];
    build(&reg, s1, 1);
    let env = [("HOIST_TEST_FULCIO_ROOT", fulcio.root.clone())];
    let image = format!("{}/api", reg.host());
    let sig = "application/vnd.dev.cosign.artifact.sig.v1+json";

    // Build 2: signed keyless, but by another workflow.
    let d2 = build(&reg, s2, 2);
    let (k, c) = fulcio.issue(
        "https://github.com/mallory/api/.github/workflows/x.yml@refs/heads/main",
        issuer,
    );
    cosign::push_referrer(
        &reg,
        "api",
        &d2,
        sig,
        &[cosign::signature_layer(&image, &d2, &k, Some(&c))],
    );
    w.run_live(&[], &env).expect(
        0,
        &[
            "waiting for a signature from",
            "the certificate is for https://github.com/mallory/api",
        ],
    );
    assert_eq!(w.pulls().len(), 1, "no prod pull request");

    // Build 3: the right identity from an authority prod does not trust,
    // then from its own: it moves.
    let d3 = build(&reg, s3, 3);
    let rogue = Authority::new("rogue");
    let (k, c) = rogue.issue(identity, issuer);
    cosign::push_referrer(
        &reg,
        "api",
        &d3,
        sig,
        &[cosign::signature_layer(&image, &d3, &k, Some(&c))],
    );
    w.run_live(&[], &env)
        .expect(0, &["does not chain to trust_root"]);
    assert_eq!(w.pulls().len(), 2, "staging's second pull request only");
    let (k, c) = fulcio.issue(identity, issuer);
    cosign::push_referrer(
        &reg,
        "api",
        &d3,
        sig,
        &[cosign::signature_layer(&image, &d3, &k, Some(&c))],
    );
    w.run_live(&[], &env)
        .expect(0, &["prod: opened pull request"]);
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s3}")));
}

/// `verify` per image: prod asks `api` for a signature by its key and
/// nothing of `web`; an unsigned build of both moves `web` to prod's pull
/// request and keeps `api` waiting, until `api` is signed.
#[test]
fn verify_applies_to_the_images_it_names() {
    let reg = Registry::start(None);
    let key = Key::new();
    let w = World::at(
        &reg.host(),
        Kind::GitHub,
        &["api", "web"],
        "verify = [{ images = [\"api\"], cosign_key = \"env:HOIST_TEST_COSIGN_KEY\" }]\n",
        "",
    );
    let s2 = &w.shas[1];
    let push = |img: &str, n: usize| {
        reg.push_build(
            img,
            &[
                format!("dev-{s2}-{n}"),
                format!("staging-{s2}"),
                format!("prod-{s2}"),
            ],
            &format!("{img}{n}"),
        )
    };
    for img in ["api", "web"] {
        reg.push_build(
            img,
            &[
                format!("dev-{}-1", w.shas[0]),
                format!("staging-{}", w.shas[0]),
                format!("prod-{}", w.shas[0]),
            ],
            &format!("{img}1"),
        );
    }
    let env = [("HOIST_TEST_COSIGN_KEY", key.pem.clone())];
    let run = || w.run_live(&[], &env);
    let d_api = push("api", 2);
    push("web", 2);
    run().expect(
        0,
        &[
            "prod: opened pull request",
            "api:prod-",
            "waiting for a signature from the configured cosign key",
        ],
    );
    assert!(w.has("hoist/prod", "prod", "web", &format!("prod-{s2}")));
    assert!(!w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));

    let image = format!("{}/api", reg.host());
    cosign::push_tagged(
        &reg,
        "api",
        &d_api,
        "sig",
        &[cosign::signature_layer(&image, &d_api, &key, None)],
    );
    run().expect(0, &[]);
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    assert!(w.has("hoist/prod", "prod", "web", &format!("prod-{s2}")));
}
