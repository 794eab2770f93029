//! Registry scanning against a real registry (Debian's docker-registry).

use crate::common;
use common::registry::{Registry, fleet};
use common::*;

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn anonymous_scan_plan_and_snapshot_round_trip() {
    let reg = Registry::start(None);
    let digest = reg.push(
        "acme/api",
        &tags(&["1.0.0", "1.1.0", "2.0.0-rc.1", "latest", "1.1.0.sig"]),
    );
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/acme/api", reg.host());
    fleet(dir.path(), &image, ">=1.0.0", true);

    let (v, _) = scan_json(dir.path(), &[]);
    assert_eq!(v["images"][0]["tags"], 5);
    assert_eq!(v["images"][0]["policies"][0]["tag"], "1.1.0");
    assert_eq!(v["images"][0]["policies"][0]["digest"], digest.as_str());

    // Live plan, then the same plan from a saved snapshot.
    let live = hoist(&["plan", "--repo", s(dir.path())]);
    assert_eq!(live.code, 0, "{}", live.stderr);
    assert!(
        live.stdout
            .contains(&format!("+image: {image}:1.1.0@{digest} #")),
        "{}",
        live.stdout
    );
    let snap = dir.path().join("snap.yaml");
    let save = hoist(&["scan", "--repo", s(dir.path()), "--save-snapshot", s(&snap)]);
    assert_eq!(save.code, 0, "{}", save.stderr);
    assert!(
        save.stdout.contains("flux-system/app") && save.stdout.contains("1.1.0"),
        "{}",
        save.stdout
    );
    let offline = hoist(&[
        "plan",
        "--repo",
        s(dir.path()),
        "--registry-snapshot",
        s(&snap),
    ]);
    assert_eq!(offline.stdout, live.stdout);
}

#[test]
fn digest_matches_skopeo() {
    let reg = Registry::start(None);
    let digest = reg.push("acme/web", &tags(&["3.1.4"]));
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/acme/web:3.1.4", reg.host()),
        ])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], digest.as_str());
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &format!("{}/acme/web", reg.host()), "*", true);
    let scan = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    assert_eq!(
        v["images"][0]["policies"][0]["digest"],
        digest.as_str(),
        "{}",
        scan.stderr
    );
}

#[test]
fn htpasswd_basic_auth_from_env_and_docker_config() {
    let reg = Registry::start(Some(("robot", "correct horse battery")));
    reg.push("team/svc", &tags(&["1.0.0", "1.2.0"]));
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &format!("{}/team/svc", reg.host()), "^1", false);
    write(
        dir.path(),
        "hoist.toml",
        &format!(
            "[[registry]]\nhost = \"{}\"\nusername_env = \"REG_USER\"\npassword_env = \"REG_PASS\"\n",
            reg.host()
        ),
    );
    let env = |pass: &str| {
        vec![
            ("REG_USER", "robot".to_string()),
            ("REG_PASS", pass.to_string()),
        ]
    };

    let ok = hoist_env(
        &["scan", "--repo", s(dir.path()), "--output", "json"],
        &env("correct horse battery"),
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("\"tag\": \"1.2.0\""), "{}", ok.stdout);

    let bad = hoist_env(
        &["scan", "--repo", s(dir.path())],
        &env("wrong password 123"),
    );
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("401"), "{}", bad.stderr);
    assert!(
        !bad.stderr.contains("wrong password 123") && !bad.stdout.contains("wrong password 123")
    );

    let unset = hoist_env(&["scan", "--repo", s(dir.path())], &[]);
    assert_eq!(unset.code, 1);
    assert!(
        unset.stderr.contains("environment variable REG_PASS"),
        "{}",
        unset.stderr
    );

    // Docker's config.json, when hoist.toml says nothing about the registry.
    std::fs::remove_file(dir.path().join("hoist.toml")).unwrap();
    let docker = tempfile::tempdir().unwrap();
    let auth = base64_encode("robot:correct horse battery");
    write(
        docker.path(),
        "config.json",
        &format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            reg.host()
        ),
    );
    let cfg = hoist_env(
        &["scan", "--repo", s(dir.path()), "--output", "json"],
        &[("DOCKER_CONFIG", docker.path().display().to_string())],
    );
    assert_eq!(cfg.code, 0, "{}", cfg.stderr);
    assert!(!cfg.stderr.contains("correct horse"));
}

#[test]
fn twenty_five_thousand_tags_through_link_pages() {
    use common::proxy::{Links, Proxy};
    let reg = Registry::start(None);
    let many: Vec<String> = (0..25_000)
        .map(|i| format!("1.{}.{}", i / 1000, i % 1000))
        .collect();
    reg.push("big/repo", &many);
    // Debian's registry 2.8 returns every tag in one reply; the proxy pages
    // them like GHCR does, 1000 at a time, the newest tag on the last page.
    for links in [Links::Relative, Links::Absolute] {
        let proxy = Proxy::start(reg.host(), Some(1000), links);
        let dir = tempfile::tempdir().unwrap();
        fleet(
            dir.path(),
            &format!("{}/big/repo", proxy.host()),
            ">=1.0.0",
            false,
        );
        let (v, _) = scan_json(dir.path(), &[]);
        assert_eq!(v["images"][0]["tags"], 25_000);
        assert_eq!(v["images"][0]["policies"][0]["tag"], "1.24.999");
        assert_eq!(
            proxy.tag_requests.load(std::sync::atomic::Ordering::SeqCst),
            25,
            "{links:?}"
        );
        // A page cap below what is needed is a clear per-image error.
        write(dir.path(), "hoist.toml", "[scan]\nmax_pages = 10\n");
        let capped = hoist(&["scan", "--repo", s(dir.path())]);
        assert_eq!(capped.code, 1);
        assert!(
            capped.stderr.contains("more than 10 pages of 1000 tags"),
            "{}",
            capped.stderr
        );
    }
}

/// `[[registry]] max_requests_per_run`: a run asks a registry no more than
/// that; the images it could not afford are deferred to the next run (a
/// warning, not an error), and the run reports what it asked.
#[test]
fn a_registry_request_budget_defers_the_images_it_cannot_afford() {
    let reg = Registry::start(None);
    reg.push("team/a", &tags(&["1.0.0"]));
    reg.push("team/b", &tags(&["2.0.0"]));
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &format!("{}/team/a", reg.host()), "*", false);
    write(
        dir.path(),
        "flux/b.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: b\n  namespace: flux-system\nspec:\n  image: {}/team/b\n  interval: 1m\n  insecure: true\n",
            reg.host()
        ),
    );
    let toml = |max: u64| {
        format!(
            "[[registry]]\nhost = \"{}\"\ninsecure = true\nmax_requests_per_run = {max}\n",
            reg.host()
        )
    };
    write(dir.path(), "hoist.toml", &toml(1));
    let scan = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
    assert_eq!(scan.code, 0, "deferred is not a failure: {}", scan.stderr);
    let v: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    let imgs = v["images"].as_array().unwrap();
    let listed = imgs.iter().filter(|i| i["tags"] == 1).count();
    let deferred: Vec<&serde_json::Value> = imgs
        .iter()
        .filter(|i| {
            i["error"]
                .as_str()
                .is_some_and(|e| e.contains("deferred to the next run"))
        })
        .collect();
    assert_eq!((listed, deferred.len()), (1, 1), "{imgs:?}");
    assert!(
        deferred[0]["error"].as_str().unwrap().contains(&format!(
            "1 requests made to {} in this run, max_requests_per_run = 1",
            reg.host()
        )),
        "{deferred:?}"
    );
    let warned =
        v["diagnostics"].as_array().unwrap().iter().any(|d| {
            d["severity"] == "warning" && d["message"].as_str().unwrap().contains("deferred")
        });
    assert!(warned, "{v}");
    // With room for both, both are listed.
    write(dir.path(), "hoist.toml", &toml(10));
    let scan = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let v: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    assert!(
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["tags"] == 1),
        "{v}"
    );
}

#[test]
fn one_failing_image_does_not_stop_the_others() {
    let reg = Registry::start(None);
    reg.push("ok/app", &tags(&["1.0.0"]));
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &format!("{}/ok/app", reg.host()), "*", false);
    // A second repository pointing at a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    write(
        dir.path(),
        "flux/dead.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: dead\n  namespace: flux-system\nspec:\n  image: 127.0.0.1:{closed}/gone/app\n  interval: 1m\n  insecure: true\n"
        ),
    );
    write(dir.path(), "hoist.toml", "[scan]\nretries = 1\n");
    let scan = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
    assert_eq!(scan.code, 1);
    let v: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    let imgs = v["images"].as_array().unwrap();
    let ok = imgs
        .iter()
        .find(|i| i["image"].as_str().unwrap().ends_with("ok/app"))
        .unwrap();
    let dead = imgs
        .iter()
        .find(|i| i["image"].as_str().unwrap().ends_with("gone/app"))
        .unwrap();
    assert_eq!(ok["tags"], 1);
    assert!(
        dead["error"]
            .as_str()
            .unwrap()
            .contains("connection failed"),
        "{dead}"
    );
}

#[test]
fn bearer_tokens_like_ghcr_anonymous_and_with_a_pat() {
    use common::token::TokenService;
    let dir = tempfile::tempdir().unwrap();
    let ts = std::sync::Arc::new(TokenService::start(
        dir.path(),
        &[("octocat", "ghp_secretPAT123")],
        &["public/app"],
    ));
    let reg = Registry::start_token(ts.clone());
    reg.push("public/app", &tags(&["1.0.0", "1.3.0"]));
    reg.push("private/app", &tags(&["2.0.0", "2.1.0"]));

    // Anonymous pull of a public repository: challenge → token → tags.
    let fleet_dir = tempfile::tempdir().unwrap();
    fleet(
        fleet_dir.path(),
        &format!("{}/public/app", reg.host()),
        "*",
        true,
    );
    let before = ts.requests.load(std::sync::atomic::Ordering::SeqCst);
    let trace = || ("HOIST_LOG", "trace".to_string());
    let run = hoist_env(
        &["scan", "--repo", s(fleet_dir.path()), "--output", "json"],
        &[trace()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"tag\": \"1.3.0\""), "{}", run.stdout);
    assert!(
        run.stderr.contains("token issued") && run.stderr.contains("authentication required"),
        "trace logs are on: {}",
        run.stderr
    );
    // One token served the tag list and the digest HEAD: the cache works.
    assert_eq!(
        ts.requests.load(std::sync::atomic::Ordering::SeqCst) - before,
        1
    );

    // A private repository needs the PAT; without it the error is clear.
    let priv_dir = tempfile::tempdir().unwrap();
    fleet(
        priv_dir.path(),
        &format!("{}/private/app", reg.host()),
        "*",
        false,
    );
    let anon = hoist_env(&["scan", "--repo", s(priv_dir.path())], &[trace()]);
    assert_eq!(anon.code, 1);
    assert!(anon.stderr.contains("401"), "{}", anon.stderr);
    write(
        priv_dir.path(),
        "hoist.toml",
        &format!(
            "[[registry]]\nhost = \"{}\"\nusername_env = \"U\"\npassword_env = \"PAT\"\n",
            reg.host()
        ),
    );
    let ok = hoist_env(
        &["scan", "--repo", s(priv_dir.path()), "--output", "json"],
        &[
            ("U", "octocat".into()),
            ("PAT", "ghp_secretPAT123".into()),
            trace(),
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("\"tag\": \"2.1.0\""), "{}", ok.stdout);
    let bad = hoist_env(
        &["scan", "--repo", s(priv_dir.path())],
        &[
            ("U", "octocat".into()),
            ("PAT", "ghp_wrongPAT999".into()),
            trace(),
        ],
    );
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("token service") && bad.stderr.contains("401"),
        "{}",
        bad.stderr
    );

    // No secret and no issued token ever reaches the output.
    for out in [&run, &anon, &ok, &bad] {
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(!all.contains("ghp_secretPAT123") && !all.contains("ghp_wrongPAT999"));
        for t in ts.issued.lock().unwrap().iter() {
            assert!(
                !all.contains(t.as_str()),
                "an issued token leaked into the output"
            );
        }
    }
}

/// registry.gitlab.com and self-managed GitLab registries: the challenge
/// names `/jwt/auth` on the GitLab instance, images sit under the
/// project's full path, and CI authenticates as `gitlab-ci-token` with the
/// job token (a deploy token works the same way). The reply carries no
/// `expires_in`, so the token is used for the registry's default lifetime.
#[test]
fn bearer_tokens_like_gitlab_jwt_auth_with_a_job_token() {
    use common::token::TokenService;
    let dir = tempfile::tempdir().unwrap();
    let ts = std::sync::Arc::new(TokenService::start(
        dir.path(),
        &[("gitlab-ci-token", "glcbt-64_jobtoken123")],
        &[],
    ));
    let reg = Registry::start_token_realm(ts.clone(), &ts.gitlab_realm());
    reg.push("acme/platform/fleet/api", &tags(&["1.0.0", "1.4.0"]));
    let fleet_dir = tempfile::tempdir().unwrap();
    fleet(
        fleet_dir.path(),
        &format!("{}/acme/platform/fleet/api", reg.host()),
        "*",
        false,
    );
    let anon = hoist(&["scan", "--repo", s(fleet_dir.path())]);
    assert_eq!(anon.code, 1);
    assert!(anon.stderr.contains("401"), "{}", anon.stderr);
    write(
        fleet_dir.path(),
        "hoist.toml",
        &format!(
            "[[registry]]\nhost = \"{}\"\nusername_env = \"CI_REGISTRY_USER\"\npassword_env = \"CI_JOB_TOKEN\"\n",
            reg.host()
        ),
    );
    let before = ts.requests.load(std::sync::atomic::Ordering::SeqCst);
    let ok = hoist_env(
        &["scan", "--repo", s(fleet_dir.path()), "--output", "json"],
        &[
            ("CI_REGISTRY_USER", "gitlab-ci-token".into()),
            ("CI_JOB_TOKEN", "glcbt-64_jobtoken123".into()),
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("\"tag\": \"1.4.0\""), "{}", ok.stdout);
    // One token for the tag list and the digest: no expires_in still caches.
    assert_eq!(
        ts.requests.load(std::sync::atomic::Ordering::SeqCst) - before,
        1
    );
    for out in [&anon, &ok] {
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(!all.contains("glcbt-64_jobtoken123"));
        for t in ts.issued.lock().unwrap().iter() {
            assert!(!all.contains(t.as_str()), "an issued token leaked");
        }
    }
}

#[test]
fn pull_secret_in_the_repo_and_credential_helpers() {
    let reg = Registry::start(Some(("robot", "s3cr3t-helper-pass")));
    reg.push("team/api", &tags(&["1.0.0", "1.5.0"]));
    let image = format!("{}/team/api", reg.host());

    // 1. A kubernetes.io/dockerconfigjson Secret named by spec.secretRef.
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &image, "*", false);
    let flux = std::fs::read_to_string(dir.path().join("flux/image.yaml")).unwrap();
    write(
        dir.path(),
        "flux/image.yaml",
        &flux.replace(
            "  insecure: true\n",
            "  insecure: true\n  secretRef:\n    name: pull\n",
        ),
    );
    let cfg = format!(
        "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
        reg.host(),
        base64_encode("robot:s3cr3t-helper-pass")
    );
    write(
        dir.path(),
        "secrets/pull.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\n  namespace: flux-system\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
            base64_encode(&cfg)
        ),
    );
    let run = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"tag\": \"1.5.0\""), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cr3t") && !run.stderr.contains("s3cr3t"));

    // 2. credHelpers: docker-credential-<name> get, server URL on stdin.
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &image, "*", false);
    let seen_dir = tempfile::tempdir().unwrap();
    let seen = seen_dir.path().join("stdin.txt");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\ncat > {}\necho '{{\"ServerURL\":\"x\",\"Username\":\"robot\",\"Secret\":\"s3cr3t-helper-pass\"}}'\n",
        seen.display()
    );
    let config = format!("{{\"credHelpers\": {{\"{}\": \"hoisttest\"}}}}", reg.host());
    let (env, _bin, _docker) = fake_credential_helper("hoisttest", &script, &config);
    let run = hoist_env(&["scan", "--repo", s(dir.path()), "--output", "json"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"tag\": \"1.5.0\""), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        reg.host(),
        "the helper got the server on stdin"
    );
    assert!(!run.stdout.contains("s3cr3t") && !run.stderr.contains("s3cr3t"));
}

#[test]
fn acr_with_microsoft_entra_id_three_ways() {
    use common::token::*;
    let dir = tempfile::tempdir().unwrap();
    let ts = std::sync::Arc::new(TokenService::start(dir.path(), &[], &[]));
    let reg = Registry::start_token_realm(ts.clone(), &ts.acr_realm());
    reg.push("fleet/worker", &tags(&["2025.06.30", "2025.07.03"]));
    let fleet_dir = tempfile::tempdir().unwrap();
    fleet(
        fleet_dir.path(),
        &format!("{}/fleet/worker", reg.host()),
        ">=2025.1.1",
        false,
    );
    let flux = std::fs::read_to_string(fleet_dir.path().join("flux/image.yaml")).unwrap();
    write(
        fleet_dir.path(),
        "flux/image.yaml",
        &flux.replace(
            "  insecure: true\n",
            "  insecure: true\n  provider: azure\n",
        ),
    );
    let token_file = dir.path().join("federated-token");
    std::fs::write(&token_file, FEDERATED_ASSERTION).unwrap();
    fn with<'a>(authority: &str, extra: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
        let mut v = vec![("AZURE_AUTHORITY_HOST", authority.to_string())];
        v.extend(extra.iter().cloned());
        v
    }
    let authority = ts.authority();
    let base = |extra: &[(&'static str, String)]| with(&authority, extra);
    let flows = [
        (
            "client secret",
            base(&[
                ("AZURE_TENANT_ID", "tenant-1".into()),
                ("AZURE_CLIENT_ID", ENTRA_CLIENT.into()),
                ("AZURE_CLIENT_SECRET", ENTRA_SECRET.into()),
            ]),
        ),
        (
            "federated token",
            base(&[
                ("AZURE_TENANT_ID", "tenant-1".into()),
                ("AZURE_CLIENT_ID", ENTRA_CLIENT.into()),
                (
                    "AZURE_FEDERATED_TOKEN_FILE",
                    token_file.display().to_string(),
                ),
            ]),
        ),
        (
            "managed identity",
            base(&[
                (
                    "IDENTITY_ENDPOINT",
                    format!("http://127.0.0.1:{}/msi", ts.port),
                ),
                ("IDENTITY_HEADER", MI_HEADER.into()),
            ]),
        ),
    ];
    for (what, env) in &flows {
        let run = hoist_env(
            &["scan", "--repo", s(fleet_dir.path()), "--output", "json"],
            env,
        );
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
        assert!(
            run.stdout.contains("\"tag\": \"2025.07.03\""),
            "{what}: {}",
            run.stdout
        );
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains(ENTRA_SECRET)
                && !all.contains(FEDERATED_ASSERTION)
                && !all.contains(MI_HEADER),
            "{what}"
        );
        for t in ts.issued.lock().unwrap().iter() {
            assert!(!all.contains(t.as_str()), "{what}: a token leaked");
        }
    }
    // A wrong client secret, and no Entra settings at all: clear errors.
    let wrong = base(&[
        ("AZURE_TENANT_ID", "t".into()),
        ("AZURE_CLIENT_ID", ENTRA_CLIENT.into()),
        ("AZURE_CLIENT_SECRET", "nope-secret".into()),
    ]);
    let run = hoist_env(&["scan", "--repo", s(fleet_dir.path())], &wrong);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("Microsoft Entra token endpoint answered 401"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("nope-secret"));
    let run = hoist_env(&["scan", "--repo", s(fleet_dir.path())], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("provider azure needs Microsoft Entra credentials"),
        "{}",
        run.stderr
    );
}

#[test]
fn https_registry_signed_by_a_private_ca() {
    let (reg, ca) = Registry::start_tls();
    reg.push("secure/app", &tags(&["1.0.0", "1.1.0"]));
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &format!("{}/secure/app", reg.host()), "*", true);
    let flux = std::fs::read_to_string(dir.path().join("flux/image.yaml")).unwrap();
    write(
        dir.path(),
        "flux/image.yaml",
        &flux.replace("  insecure: true\n", ""),
    );
    // Not trusted: a clear per-image error, no fallback to plain HTTP.
    let run = hoist(&["scan", "--repo", s(dir.path())]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("connection failed (https://"),
        "{}",
        run.stderr
    );
    // Trusted through ca_file.
    write(
        dir.path(),
        "hoist.toml",
        &format!(
            "[[registry]]\nhost = \"{}\"\nca_file = \"{}\"\n",
            reg.host(),
            ca.display()
        ),
    );
    let run = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\"tag\": \"1.1.0\"") && run.stdout.contains("sha256:"),
        "{}",
        run.stdout
    );
}

#[test]
fn acr_tag_listing_newest_first_with_fallback_to_the_standard_api() {
    use common::proxy::{Links, Proxy};
    use std::sync::atomic::Ordering;
    let reg = Registry::start(None);
    let many: Vec<String> = (0..250).map(|i| format!("1.0.{i}")).collect();
    reg.push("acr/app", &many);
    let proxy = Proxy::start(reg.host(), None, Links::Relative);
    proxy.acr.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &format!("{}/acr/app", proxy.host()), "*", false);
    let flux = std::fs::read_to_string(dir.path().join("flux/image.yaml")).unwrap();
    write(
        dir.path(),
        "flux/image.yaml",
        &flux.replace(
            "  insecure: true\n",
            "  insecure: true\n  provider: azure\n",
        ),
    );
    let scan = |what: &str| {
        let run = hoist(&["scan", "--repo", s(dir.path()), "--output", "json"]);
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
        let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(v["images"][0]["tags"], 250, "{what}");
        assert_eq!(v["images"][0]["policies"][0]["tag"], "1.0.249", "{what}");
    };
    scan("ACR listing");
    assert_eq!(
        proxy.acr_requests.load(Ordering::SeqCst),
        3,
        "250 tags in ACR pages of 100"
    );
    assert_eq!(
        proxy.tag_requests.load(Ordering::SeqCst),
        0,
        "the standard API was not needed"
    );
    // A registry without ACR's API: 404, then the standard API.
    proxy.acr.store(false, Ordering::SeqCst);
    scan("fallback");
    assert_eq!(proxy.tag_requests.load(Ordering::SeqCst), 1);
}

#[test]
fn cert_secret_ref_trusts_a_ca_from_the_repo() {
    let (reg, ca) = Registry::start_tls();
    reg.push("secure/web", &tags(&["3.0.0"]));
    let dir = tempfile::tempdir().unwrap();
    fleet(
        dir.path(),
        &format!("{}/secure/web", reg.host()),
        "*",
        false,
    );
    let flux = std::fs::read_to_string(dir.path().join("flux/image.yaml")).unwrap();
    write(
        dir.path(),
        "flux/image.yaml",
        &flux.replace(
            "  insecure: true\n",
            "  certSecretRef:\n    name: registry-ca\n",
        ),
    );
    let pem = std::fs::read_to_string(&ca).unwrap();
    write(
        dir.path(),
        "secrets/ca.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: registry-ca\n  namespace: flux-system\ndata:\n  ca.crt: {}\n",
            base64_encode(&pem)
        ),
    );
    let run = hoist_env(
        &["scan", "--repo", s(dir.path()), "--output", "json"],
        &[("HOIST_LOG", "debug".into())],
    );
    assert_eq!(
        run.code,
        0,
        "{}\n{}",
        run.stderr,
        std::fs::read_to_string(dir.path().join("flux/image.yaml")).unwrap()
    );
    assert!(run.stdout.contains("\"tag\": \"3.0.0\""), "{}", run.stdout);
    // A Secret whose ca.crt is not a certificate: a located warning, and the
    // registry stays untrusted.
    write(
        dir.path(),
        "secrets/ca.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: registry-ca\n  namespace: flux-system\nstringData:\n  ca.crt: not a certificate\n",
    );
    let run = hoist(&["scan", "--repo", s(dir.path())]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "flux/image.yaml:1: Secret flux-system/registry-ca: ca.crt is not a PEM certificate"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn digest_falls_back_to_hashing_the_manifest() {
    use common::proxy::{Fault, Links, Proxy};
    let reg = Registry::start(None);
    let digest = reg.push("plain/app", &tags(&["4.2.0"]));
    let proxy = Proxy::start(reg.host(), None, Links::Relative);
    proxy.set(Fault::NoDigestHeader);
    let dir = tempfile::tempdir().unwrap();
    fleet(
        dir.path(),
        &format!("{}/plain/app", proxy.host()),
        "*",
        true,
    );
    let (v, _) = scan_json(dir.path(), &[]);
    assert_eq!(v["images"][0]["policies"][0]["digest"], digest.as_str());
}

#[test]
fn static_bearer_token_and_creds_store() {
    use common::token::TokenService;
    let dir = tempfile::tempdir().unwrap();
    let ts = std::sync::Arc::new(TokenService::start(dir.path(), &[], &[]));
    let reg = Registry::start_token(ts.clone());
    reg.push("tok/app", &tags(&["0.1.0", "0.2.0"]));
    let fleet_dir = tempfile::tempdir().unwrap();
    fleet(
        fleet_dir.path(),
        &format!("{}/tok/app", reg.host()),
        "*",
        false,
    );
    write(
        fleet_dir.path(),
        "hoist.toml",
        &format!(
            "[[registry]]\nhost = \"{}\"\ntoken_env = \"REG_TOKEN\"\n",
            reg.host()
        ),
    );
    let token = ts.admin_token("tok/app");
    let before = ts.requests.load(std::sync::atomic::Ordering::SeqCst);
    let run = hoist_env(
        &["scan", "--repo", s(fleet_dir.path()), "--output", "json"],
        &[("REG_TOKEN", token.clone()), ("HOIST_LOG", "trace".into())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"tag\": \"0.2.0\""), "{}", run.stdout);
    assert_eq!(
        ts.requests.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "a static token needs no token service"
    );
    assert!(!run.stderr.contains(&token) && !run.stdout.contains(&token));

    // credsStore: the helper for every host without a credHelpers entry.
    let reg = Registry::start(Some(("robot", "store-pass-42")));
    reg.push("store/app", &tags(&["1.0.0"]));
    let fleet_dir = tempfile::tempdir().unwrap();
    fleet(
        fleet_dir.path(),
        &format!("{}/store/app", reg.host()),
        "*",
        false,
    );
    let (env, _bin, _docker) = fake_credential_helper(
        "hoiststore",
        "#!/bin/sh\ncat >/dev/null\necho '{\"Username\":\"robot\",\"Secret\":\"store-pass-42\"}'\n",
        "{\"credsStore\": \"hoiststore\"}",
    );
    let run = hoist_env(
        &["scan", "--repo", s(fleet_dir.path()), "--output", "json"],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("store-pass-42") && !run.stderr.contains("store-pass-42"));
}

/// The ladder against a live registry: a promotion with
/// `require_same_digest` asks the registry for the digests it compares
/// (a scan alone resolves only what policies reflect).
#[test]
fn ladder_promotions_resolve_their_digests_live() {
    let reg = Registry::start(None);
    // One image under both names: the same digest.
    let digest = reg.push("acme/api", &tags(&["dev-aaaaaaa-1", "staging-aaaaaaa"]));
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let image = format!("{}/acme/api", reg.host());
    write(
        r,
        "flux/api.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: api, namespace: ns}}\nspec: {{image: {image}, interval: 1m, insecure: true}}\n---\n\
             apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: api-dev, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: api}}\n  filterTags: {{pattern: '^dev-[0-9a-f]+-(?P<ts>\\d+)$', extract: '$ts'}}\n  policy: {{numerical: {{order: asc}}}}\n---\n\
             apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: api-staging, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: api}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n"
        ),
    );
    write(
        r,
        "clusters/dev/tags.yaml",
        "api: dev-aaaaaaa-1 # {\"$imagepolicy\": \"ns:api-dev:tag\"}\n",
    );
    write(
        r,
        "clusters/staging/tags.yaml",
        "api: staging-0000000 # {\"$imagepolicy\": \"ns:api-staging:tag\"}\n",
    );
    write(
        r,
        "hoist.toml",
        "[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n[[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\npromote_from = \"dev\"\ntag_rewrite = { from = '^dev-(?P<sha>[0-9a-f]{7})-\\d+$', to = 'staging-$sha' }\nrequire_same_digest = true\n",
    );
    let run = hoist(&["ladder", "--repo", s(r), "--output", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stderr, run.stdout);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let staging = &v["rungs"][1];
    assert_eq!(
        staging["promotions"][0]["to_tag"], "staging-aaaaaaa",
        "{staging}"
    );
    assert_eq!(staging["promotions"][0]["digest"], digest.as_str());
    assert_eq!(
        staging["blocked"].as_array().map(Vec::len),
        Some(0),
        "{staging}"
    );
}
