//! `policy eval`, `lint`, automation scoping and write_paths, end to end.

use crate::common;
use common::*;

fn policy_file(dir: &std::path::Path, spec: &str) -> std::path::PathBuf {
    write(
        dir,
        "policy.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: p\n  namespace: ns\nspec:\n  imageRepositoryRef:\n    name: r\n{spec}"
        ),
    )
}

#[test]
fn policy_eval_contract() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy_file(
        dir.path(),
        "  policy:\n    semver:\n      range: '>=1.0.0-0'\n",
    );
    let tags = write(
        dir.path(),
        "tags.txt",
        "1.0.0-rc9\n\n1.0.0-rc10\n1.0.0-rc.9\r\n1.0.0-rc.10\nlatest\n",
    );
    let run = hoist(&["policy", "eval", "--policy", s(&p), "--tags", s(&tags)]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "1.0.0-rc9\n"),
        "{}",
        run.stderr
    );

    // --explain says why rc9 beats rc10 (and what happened to every tag).
    let run = hoist(&[
        "policy",
        "eval",
        "--policy",
        s(&p),
        "--tags",
        s(&tags),
        "--explain",
    ]);
    assert_eq!(run.stdout, "1.0.0-rc9\n");
    assert!(
        run.stderr.contains("1.0.0-rc9    selected"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1.0.0-rc10   candidate"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("latest       not a version (a version tag needs at least two dots"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: prerelease identifiers such as \"rc9\" compare as text"),
        "{}",
        run.stderr
    );

    // Standard input, JSON.
    let run = hoist_stdin(
        &[
            "policy",
            "eval",
            "--policy",
            s(&p),
            "--tags",
            "-",
            "--output",
            "json",
            "--explain",
        ],
        Some("1.0.0\n2.0.0\n"),
    );
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["selected"], "2.0.0");
    assert_eq!(v["tags"][0]["fate"], "candidate");

    // No tag selected: exit 1, message on stderr, nothing on stdout.
    let run = hoist_stdin(
        &["policy", "eval", "--policy", s(&p), "--tags", "-"],
        Some("latest\nmain\n"),
    );
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr.contains("no tag is a version in range"),
        "{}",
        run.stderr
    );

    // Empty lines are skipped; an over-long tag is dropped with its line number.
    let long = "a".repeat(129);
    let run = hoist_stdin(
        &["policy", "eval", "--policy", s(&p), "--tags", "-"],
        Some(&format!("\n{long}\n1.0.0\n")),
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, "1.0.0\n"));
    assert!(
        run.stderr.contains("<stdin>:2: dropped tag") && run.stderr.contains("longer than 128"),
        "{}",
        run.stderr
    );

    // Several ImagePolicies in one file: refused until --name picks one,
    // and each gets its own repository's exclusion list.
    let dir = tempfile::tempdir().unwrap();
    let two = write(
        dir.path(),
        "two.yaml",
        &format!(
            "{}---\n{}",
            repo_and_policy("ns", "low", "ghcr.io/a/low", "<2.0.0"),
            repo_and_policy("ns", "high", "ghcr.io/a/high", ">=2.0.0")
        ),
    );
    let eval = |name: Option<&str>, tags: &str| {
        let mut args = vec!["policy", "eval", "--policy", s(&two), "--tags", "-"];
        if let Some(n) = name {
            args.extend(["--name", n]);
        }
        hoist_stdin(&args, Some(tags))
    };
    eval(None, "1.0.0\n2.0.0\n").expect(
        2,
        &["2 ImagePolicies in this file (ns/low, ns/high); choose one with --name"],
    );
    for (name, want) in [("low", "1.0.0\n"), ("ns/high", "2.0.0\n")] {
        let run = eval(Some(name), "1.0.0\n2.0.0\n");
        assert_eq!((run.code, run.stdout.as_str()), (0, want), "{}", run.stderr);
    }
    eval(Some("mid"), "1.0.0\n").expect(2, &["no ImagePolicy named \"mid\""]);
}

#[test]
fn policy_eval_invalid_policies_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "  policy:\n    semver:\n      range: '>=1.0.0 <'\n",
            "spec.policy.semver.range",
        ),
        (
            "  policy:\n    semver:\n      range: '~>'\n",
            "spec.policy.semver.range",
        ),
        (
            "  policy:\n    alphabetical:\n      order: sideways\n",
            "spec.policy.alphabetical.order",
        ),
        (
            "  filterTags:\n    pattern: '(?P<x'\n  policy:\n    numerical: {}\n",
            "spec.filterTags.pattern",
        ),
        (
            "  filterTags:\n    pattern: '.*'\n",
            "spec.policy: no policy kind set",
        ),
    ];
    for (spec, field) in cases {
        let p = policy_file(dir.path(), spec);
        let run = hoist_stdin(
            &["policy", "eval", "--policy", s(&p), "--tags", "-"],
            Some("1.0.0\n"),
        );
        assert_eq!(run.code, 2, "{spec}: {}", run.stderr);
        assert!(
            run.stderr.contains(field) && run.stderr.contains("policy.yaml:"),
            "{spec}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn policy_eval_filter_extract_numerical_and_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy_file(
        dir.path(),
        "  filterTags:\n    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'\n    extract: '$ts'\n  policy:\n    numerical:\n      order: asc\n",
    );
    let tags = "main-abc123-1700000000\nmain-def456-1700000500\nmain-aaa000-1699999999\npr-5-1800000000\nmain-fff999-1700000500.sig\n";
    let run = hoist_stdin(
        &[
            "policy",
            "eval",
            "--policy",
            s(&p),
            "--tags",
            "-",
            "--explain",
        ],
        Some(tags),
    );
    // The .sig tag shares the newest timestamp but is excluded by default.
    assert_eq!(run.stdout, "main-def456-1700000500\n", "{}", run.stderr);
    assert!(run.stderr.contains("excluded"), "{}", run.stderr);
    assert!(run.stderr.contains("pr-5-1800000000") && run.stderr.contains("filtered out"));

    // An extract that is empty for some tag fails the whole numerical policy.
    let p = policy_file(
        dir.path(),
        "  filterTags:\n    pattern: '^main-(?P<ts>[0-9]*)'\n    extract: '$ts'\n  policy:\n    numerical: {}\n",
    );
    let run = hoist_stdin(
        &["policy", "eval", "--policy", s(&p), "--tags", "-"],
        Some("main-5\nmain-x\n"),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("failed to parse invalid numeric value \"\" (from tag \"main-x\")"),
        "{}",
        run.stderr
    );
    let run = hoist_stdin(
        &[
            "policy",
            "eval",
            "--policy",
            s(&p),
            "--tags",
            "-",
            "--explain",
        ],
        Some("main-5\nmain-x\n"),
    );
    assert!(
        run.stderr
            .contains("hint: filterTags.extract produced an empty key for 1 tag(s)"),
        "{}",
        run.stderr
    );
}

#[test]
fn lint_flags_markers_in_kustomization_entry_files() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        r,
        "apps/api/kustomization.yaml",
        "resources: [deploy.yaml]\nimages:\n  - name: api\n    newTag: 1.0.0 # {\"$imagepolicy\": \"ns:api:tag\"}\n",
    );
    let run = hoist(&["lint", "--repo", s(r)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "apps/api/kustomization.yaml:4: marker ns:api:tag sits in a kustomization entry file"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("apps/api/image-tags.yaml"),
        "{}",
        run.stderr
    );

    // The split layout is clean.
    std::fs::remove_file(r.join("apps/api/kustomization.yaml")).unwrap();
    write(
        r,
        "apps/api/kustomization.yaml",
        "resources: [deploy.yaml]\npatches:\n  - path: image-tags.yaml\n",
    );
    write(
        r,
        "apps/api/image-tags.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/a/api:1.0.0 # {\"$imagepolicy\": \"ns:api\"}\n",
    );
    // A marker naming a policy that does not exist is a problem: it would
    // never be updated.
    hoist(&["lint", "--repo", s(r)]).expect(
        1,
        &["apps/api/image-tags.yaml:10: marker ns:api names ImagePolicy ns/api, which does not exist"],
    );
    write(
        r,
        "flux/api.yaml",
        &repo_and_policy("ns", "api", "ghcr.io/a/api", ">=1.0.0"),
    );
    let run = hoist(&["lint", "--repo", s(r)]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A policy with several kinds: Flux uses semver; a warning, not a failure.
    write(
        r,
        "flux/api.yaml",
        &repo_and_policy("ns", "api", "ghcr.io/a/api", ">=1.0.0")
            .replace("    semver:", "    alphabetical: {}\n    semver:"),
    );
    hoist(&["lint", "--repo", s(r)]).expect(
        0,
        &["ImagePolicy ns/api sets several policy kinds; Flux uses semver and ignores alphabetical"],
    );

    // Markers hoist may never write are problems too.
    write(
        r,
        "hoist.toml",
        "write_paths = [\"clusters/**/image-tags.yaml\"]\n",
    );
    let run = hoist(&["lint", "--repo", s(r)]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("outside write_paths"), "{}", run.stderr);
}

#[test]
fn automations_scope_markers_by_path_namespace_and_selector() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let mut flux = repo_and_policy("team-a", "app", "ghcr.io/a/app", ">=1.0.0");
    flux.push_str("---\n");
    flux.push_str(&repo_and_policy("team-b", "app", "ghcr.io/a/app", "<2.0.0"));
    flux.push_str("---\n");
    flux.push_str(
        &repo_and_policy("team-b", "other", "ghcr.io/a/app", "*").replace(
            "name: other\n  namespace: team-b\nspec:\n  imageRepositoryRef",
            "name: other\n  namespace: team-b\n  labels: {rung: x}\nspec:\n  imageRepositoryRef",
        ),
    );
    flux.push_str("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {name: a, namespace: team-a}\nspec:\n  update: {path: ./clusters/a}\n");
    flux.push_str("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {name: b, namespace: team-b}\nspec:\n  update: {path: ./clusters/b}\n  policySelector:\n    matchExpressions:\n      - {key: rung, operator: DoesNotExist}\n");
    write(r, "flux/objects.yaml", &flux);
    let m = |ns: &str, p: &str| format!("tag: 1.0.0 # {{\"$imagepolicy\": \"{ns}:{p}:tag\"}}\n");
    write(r, "clusters/a/tags.yaml", &m("team-a", "app"));
    write(r, "clusters/b/tags.yaml", &m("team-b", "app"));
    write(r, "clusters/b/wrong-ns.yaml", &m("team-a", "app"));
    write(r, "clusters/b/unselected.yaml", &m("team-b", "other"));
    write(r, "elsewhere/tags.yaml", &m("team-a", "app"));
    let run = apply_with_snapshot(
        r,
        "images:\n  ghcr.io/a/app:\n    tags: [1.0.0, 1.5.0, 2.1.0]\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(r, "clusters/a/tags.yaml"),
        m("team-a", "app").replace("1.0.0", "2.1.0")
    );
    assert_eq!(
        read(r, "clusters/b/tags.yaml"),
        m("team-b", "app").replace("1.0.0", "1.5.0")
    );
    for (f, why) in [
        ("clusters/b/wrong-ns.yaml", "another namespace"),
        ("clusters/b/unselected.yaml", "policySelector"),
        ("elsewhere/tags.yaml", "not under the update.path"),
    ] {
        assert!(read(r, f).contains("1.0.0"), "{f} must not change");
        assert!(
            run.stderr.contains(&format!("{f}:1: ")) && run.stderr.contains(why),
            "{f}: {}",
            run.stderr
        );
    }
}

#[test]
fn hoist_toml_declares_policies_and_restricts_writes() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        r,
        "hoist.toml",
        "write_paths = [\"**/image-tags.yaml\"]\n\n[[image_repository]]\nname = \"web\"\nimage = \"ghcr.io/acme/web\"\n\n[[image_policy]]\nname = \"web\"\nrepository = \"web\"\nalphabetical = { order = \"asc\" }\nfilter_tags = { pattern = '^rel-(?P<d>\\d{8})$', extract = \"$d\" }\n",
    );
    let marker = "image: ghcr.io/acme/web:rel-20240101 # {\"$imagepolicy\": \"flux-system:web\"}\n";
    write(r, "apps/web/image-tags.yaml", marker);
    write(r, "apps/web/deployment.yaml", marker);
    let run = apply_with_snapshot(
        r,
        "images:\n  ghcr.io/acme/web:\n    tags: [rel-20240101, rel-20250301, rel-2025, latest]\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(r, "apps/web/image-tags.yaml"),
        marker.replace("20240101", "20250301")
    );
    assert_eq!(read(r, "apps/web/deployment.yaml"), marker);
    assert!(
        run.stderr.contains("apps/web/deployment.yaml:1: ")
            && run.stderr.contains("outside write_paths"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_snapshot_of_nothing_round_trips_through_scan_and_plan() {
    // A fleet without any ImageRepository: scan writes an empty snapshot,
    // and plan reads it back (no "not a registry snapshot").
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "apps/x.yaml", "kind: ConfigMap\nmetadata: {name: x}\n");
    let snap = r.join("snap.yaml");
    hoist(&["scan", "--repo", s(r), "--save-snapshot", s(&snap)])
        .expect(0, &["snapshot of 0 images written"]);
    assert!(common::read(r, "snap.yaml").ends_with("images: {}\n"));
    hoist(&[
        "plan",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&snap),
        "--exit-code",
    ])
    .expect(0, &["no changes"]);
}

#[test]
fn config_check_validates_the_ladder_offline() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let marker = "tag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
    for env in ["dev", "staging", "prod"] {
        write(r, &format!("clusters/{env}/image-tags.yaml"), marker);
    }
    write(r, "legacy/image-tags.yaml", marker);
    let ladder = "[forge]\nkind = \"github\"\nrepository = \"acme/fleet\"\ntoken_env = \"GITHUB_TOKEN\"\n\n\
        [[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n\
        [[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\nmode = \"auto-merge\"\npromote_from = \"dev\"\n\n\
        [[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\nmode = \"pull-request\"\npromote_from = \"staging\"\n";
    write(r, "hoist.toml", ladder);
    // A marker file in no environment is an error (#17): "ok" beside it
    // would hide that `hoist run` never updates it.
    hoist(&["config", "check", "--repo", s(r)]).expect(
        1,
        &[
            "hoist config check: problems found (3 environments: dev (push) → staging (auto-merge, from dev) → prod (pull-request, from staging))",
            "error: legacy/image-tags.yaml: has markers but is in no environment's paths",
        ],
    );
    std::fs::remove_file(r.join("legacy/image-tags.yaml")).unwrap();
    hoist(&["config", "check", "--repo", s(r)])
        .expect(0, &["hoist config check: ok (3 environments"]);
    // An environment that owns no marker file climbs nothing: an error.
    std::fs::remove_file(r.join("clusters/staging/image-tags.yaml")).unwrap();
    hoist(&["config", "check", "--repo", s(r)]).expect(
        1,
        &["hoist.toml: environment.staging.paths: environment \"staging\" owns no file with markers"],
    );
    write(r, "clusters/staging/image-tags.yaml", marker);
    // Globs that differ but claim the same file.
    write(
        r,
        "hoist.toml",
        &ladder.replace(
            "paths = [\"clusters/prod/**\"]",
            "paths = [\"clusters/*/image-tags.yaml\"]",
        ),
    );
    hoist(&["config", "check", "--repo", s(r)]).expect(
        1,
        &["clusters/dev/image-tags.yaml is in the paths of several environments (dev, prod)"],
    );
    // A config error names the line and the field, exit 2.
    write(
        r,
        "hoist.toml",
        &ladder.replace("promote_from = \"staging\"", "promote_from = \"stg\""),
    );
    hoist(&["config", "check", "--repo", s(r)]).expect(
        2,
        &["hoist.toml:20: environment[2].promote_from: environment \"prod\": promote_from names unknown environment \"stg\""],
    );
}

#[test]
fn ladder_shows_what_each_rung_runs_and_what_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    // One image; prod's policy points at the same ImageRepository.
    let flux = format!(
        "{}---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: api-prod, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: api}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n",
        repo_and_policy("ns", "api", "ghcr.io/a/api", ">=1.0.0")
    );
    write(r, "flux/api.yaml", &flux);
    write(
        r,
        "clusters/dev/tags.yaml",
        "api: 1.0.0 # {\"$imagepolicy\": \"ns:api:tag\"}\n",
    );
    write(
        r,
        "clusters/prod/tags.yaml",
        "api: 1.0.0 # {\"$imagepolicy\": \"ns:api-prod:tag\"}\n",
    );
    write(
        r,
        "hoist.toml",
        "[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n[[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\npromote_from = \"dev\"\nrequire_same_digest = true\n",
    );
    let snap = write(
        r,
        "snap.yaml",
        "images:\n  ghcr.io/a/api:\n    tags:\n      1.0.0: \"sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be\"\n      1.1.0: \"sha256:8745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be\"\n",
    );
    let run = hoist(&["ladder", "--repo", s(r), "--registry-snapshot", s(&snap)]);
    run.expect(0, &[]);
    assert_eq!(
        run.stdout,
        "IMAGE          DEV            PROD\nghcr.io/a/api  1.0.0 → 1.1.0  1.0.0 → 1.1.0\n"
    );
    // A tag the registry does not have blocks prod only; exit 1.
    write(
        r,
        "snap.yaml",
        "images:\n  ghcr.io/a/api:\n    tags:\n      1.0.0: \"sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be\"\n      1.1.0: \"sha256:8745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be\"\n",
    );
    write(
        r,
        "clusters/dev/tags.yaml",
        "api: 0.9.0 # {\"$imagepolicy\": \"ns:api:tag\"}\n",
    );
    write(
        r,
        "flux/api.yaml",
        &flux.replace(">=1.0.0\"\n---", "<0.0.1\"\n---"),
    );
    let run = hoist(&["ladder", "--repo", s(r), "--registry-snapshot", s(&snap)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("blocked on prod: ns/api-prod: ghcr.io/a/api:0.9.0 is not in the registry"),
        "{}",
        run.stdout
    );
    let json = hoist(&[
        "ladder",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&snap),
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["rungs"][1]["blocked"][0]["policy"], "api-prod");
}

/// Completions for every shell clap knows, from the same definition as
/// the parser; the bash script is valid bash and names every subcommand.
#[test]
fn shell_completions_and_man_pages() {
    let bash = hoist(&["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    for sub in [
        "plan", "apply", "run", "promote", "ladder", "serve", "comment",
    ] {
        assert!(bash.stdout.contains(sub), "bash completion lacks {sub}");
    }
    let t = tempfile::tempdir().unwrap();
    let script = write(t.path(), "hoist.bash", &bash.stdout);
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let r = hoist(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("serve"), "{shell}");
    }
    assert_eq!(
        hoist(&["completions", "tcsh"]).code,
        2,
        "an unknown shell is a usage error"
    );

    let man = hoist(&["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.starts_with(".ie") && man.stdout.contains(".TH hoist 1"));
    let dir = t.path().join("man");
    hoist(&["man", "--dir", dir.to_str().unwrap()]).expect(0, &[]);
    let serve = std::fs::read_to_string(dir.join("hoist-serve.1")).unwrap();
    assert!(
        serve.contains(".TH hoist-serve 1") && serve.contains("listen"),
        "{serve}"
    );
}

/// `hoist init` on a fleet without hoist.toml: a proposal hoist accepts,
/// the forge from `origin`, entry files with markers named, no
/// overwriting without --force.
#[test]
fn init_proposes_a_configuration_from_the_repository() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("fleet");
    copy_tree(&fixture("../examples/fleet"), &dir);
    std::fs::remove_file(dir.join("hoist.toml")).unwrap();
    // A marker in a Flux entry file, which hoist must not write.
    write(
        &dir,
        "clusters/dev/infra/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: x\n    newTag: 1.0.0 # {\"$imagepolicy\": \"flux-system:api-dev:tag\"}\n",
    );
    common::git::git(&dir, &["init", "-q"]);
    common::git::git(
        &dir,
        &[
            "remote",
            "add",
            "origin",
            "https://acme@dev.azure.com/acme/ops/_git/fleet",
        ],
    );
    let d = dir.to_str().unwrap();
    let shown = hoist(&["init", "--repo", d, "--print"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let text = &shown.stdout;
    assert!(
        text.contains("kind = \"azure-devops\"\nrepository = \"acme/ops/fleet\""),
        "{text}"
    );
    assert!(
        text.contains("#   clusters/dev/infra/kustomization.yaml"),
        "{text}"
    );
    assert!(
        !text.contains("\"clusters/dev/infra/kustomization.yaml\""),
        "never a write path: {text}"
    );
    assert!(!dir.join("hoist.toml").exists(), "--print writes nothing");
    hoist(&["init", "--repo", d]).expect(0, &["hoist init: wrote"]);
    hoist(&["config", "check", "--repo", d]).expect(
        0,
        &["dev (push) → staging (auto-merge) → prod (pull-request)"],
    );
    hoist(&["init", "--repo", d]).expect(
        2,
        &["hoist.toml exists; --print shows the proposal, --force replaces it"],
    );
    hoist(&["init", "--repo", d, "--force"]).expect(0, &["hoist init: wrote"]);
}

/// The example fleet the way Flux's guides write it: markers on the
/// `images:` entries of each cluster's kustomization.yaml.
fn flux_style_fleet(dir: &std::path::Path) -> Vec<&'static str> {
    copy_tree(&fixture("../examples/fleet"), dir);
    std::fs::remove_file(dir.join("hoist.toml")).unwrap();
    let envs = vec!["dev", "staging", "prod"];
    for env in &envs {
        let apps = dir.join(format!("clusters/{env}/apps"));
        let tags = std::fs::read_to_string(apps.join("image-tags.yaml")).unwrap();
        std::fs::remove_file(apps.join("image-tags.yaml")).unwrap();
        let k = std::fs::read_to_string(apps.join("kustomization.yaml")).unwrap();
        let mut k = k.replace("patches:\n  - path: image-tags.yaml\n", "");
        k.push_str("images:\n  # pinned mirror, not automated\n  - name: docker.io/library/busybox\n    newTag: \"1.36\"\n");
        for line in tags
            .lines()
            // A digest-pinned image is no `images:` entry of name:tag.
            .filter(|l| l.contains("image: ") && l.contains("$imagepolicy") && !l.contains('@'))
        {
            let (image, marker) = line
                .trim()
                .trim_start_matches("image: ")
                .split_once(" # ")
                .unwrap();
            let (name, tag) = image.rsplit_once(':').unwrap();
            let marker = marker.replace("\"}", ":tag\"}");
            k.push_str(&format!("  - name: {name}\n    newTag: {tag} # {marker}\n"));
        }
        write(&apps, "kustomization.yaml", &k);
    }
    envs
}

/// `hoist init --split-image-tags`: the diff first and nothing written
/// without --yes; then the marked `images:` entries move into
/// image-tags.yaml transformers, kustomize renders exactly the same
/// objects, lint is clean, hoist plans the new files, and a second run
/// has nothing to do.
#[test]
fn init_splits_image_tags_out_of_kustomization_entry_files() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("fleet");
    let envs = flux_style_fleet(&dir);
    // A marker kustomize's `images:` cannot hold stays, with a warning.
    let prod = "clusters/prod/apps/kustomization.yaml";
    let mut k = read(&dir, prod);
    k.push_str("commonAnnotations:\n  acme.io/api-version: 1.3.0 # {\"$imagepolicy\": \"flux-system:api-prod:tag\"}\n");
    write(&dir, prod, &k);
    let before: Vec<String> = envs
        .iter()
        .map(|e| common::kustomize(&dir.join(format!("clusters/{e}/apps"))))
        .collect();
    let d = s(&dir);
    hoist(&["lint", "--repo", d]).expect(1, &["sits in a kustomization entry file"]);

    let shown = hoist(&["init", "--repo", d, "--split-image-tags"]);
    shown.expect(
        0,
        &[
            "nothing written (7 `images:` entries to move",
            "run again with --yes to write 7 files",
        ],
    );
    let out = &shown.stdout;
    assert!(
        out.contains("--- /dev/null\n+++ b/clusters/dev/apps/image-tags.yaml\n@@ -0,0 +1,"),
        "{out}"
    );
    assert!(
        out.contains("-    newTag: 1.3.0 # {\"$imagepolicy\": \"flux-system:api-prod:tag\"}\n"),
        "{out}"
    );
    assert!(
        out.contains("+  newTag: 1.3.0 # {\"$imagepolicy\": \"flux-system:api-prod:tag\"}\n"),
        "{out}"
    );
    assert!(out.contains("+++ b/hoist.toml\n"), "{out}");
    assert!(
        shown.stderr.contains(&format!("warning: {prod}:")),
        "{}",
        shown.stderr
    );
    assert!(
        !dir.join("clusters/dev/apps/image-tags.yaml").exists() && !dir.join("hoist.toml").exists()
    );
    hoist(&["init", "--repo", d, "--split-image-tags", "--print"]).expect(0, &[]);
    assert!(!dir.join("hoist.toml").exists(), "--print writes nothing");

    hoist(&["init", "--repo", d, "--split-image-tags", "--yes"])
        .expect(0, &["hoist init: wrote 7 files (7 `images:` entries moved"]);
    for (e, was) in envs.iter().zip(&before) {
        let apps = dir.join(format!("clusters/{e}/apps"));
        assert_eq!(
            &common::kustomize(&apps),
            was,
            "{e} renders the same objects"
        );
        let k = std::fs::read_to_string(apps.join("kustomization.yaml")).unwrap();
        assert!(
            k.contains(
                "images:\n  # pinned mirror, not automated\n  - name: docker.io/library/busybox\n"
            ),
            "{k}"
        );
        assert!(k.contains("transformers:\n  - image-tags.yaml\n"), "{k}");
    }
    assert!(
        read(&dir, prod).contains(
            "acme.io/api-version: 1.3.0 # {\"$imagepolicy\": \"flux-system:api-prod:tag\"}\n"
        ),
        "the annotation's marker stays"
    );
    // write_paths names exactly the files with markers (#17), never a
    // glob that also takes unmarked files.
    let toml = read(&dir, "hoist.toml");
    let wp = toml
        .lines()
        .find(|l| l.starts_with("write_paths = "))
        .unwrap();
    for e in &envs {
        assert!(
            wp.contains(&format!("\"clusters/{e}/apps/image-tags.yaml\"")),
            "{wp}"
        );
    }
    assert!(!wp.contains('*'), "{wp}");
    hoist(&["lint", "--repo", d]).expect(1, &["sits in a kustomization entry file"]);
    let plan = hoist(&[
        "plan",
        "--repo",
        d,
        "--registry-snapshot",
        s(&dir.join("registry-snapshot.yaml")),
    ]);
    assert!(
        plan.stdout
            .contains("+++ b/clusters/dev/apps/image-tags.yaml")
            && plan.stdout.contains(
                "+  newTag: 2025.07.03 # {\"$imagepolicy\": \"flux-system:worker-dev:tag\"}"
            ),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    hoist(&["init", "--repo", d, "--split-image-tags", "--yes"]).expect(
        0,
        &[
            "nothing to change (0 `images:` entries moved",
            "hoist.toml kept",
        ],
    );
}

/// `hoist completions bash | head -1`: a reader that goes away ends hoist
/// quietly with status 0 (as ripgrep does), never a panic.
#[test]
fn a_closed_pipe_ends_quietly_with_status_zero() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let snap = example.join("registry-snapshot.yaml");
    for args in [
        vec!["completions", "bash"],
        vec!["man"],
        vec![
            "plan",
            "--repo",
            s(&example),
            "--registry-snapshot",
            s(&snap),
        ],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before hoist writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A marker that can never apply fails `plan` (so a CI gate on `plan
/// --exit-code` does not pass it), and the message names the policy of
/// that name that does exist and where its namespace came from.
#[test]
fn plan_fails_on_a_marker_whose_policy_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        r,
        "flux/app.yaml",
        &repo_and_policy("other", "app", "ghcr.io/a/app", ">=1.0.0"),
    );
    write(
        r,
        "apps/app.yaml",
        "image: ghcr.io/a/app:1.0.0 # {\"$imagepolicy\": \"apps:app\"}\n",
    );
    write(
        r,
        "snap.yaml",
        "images:\n  ghcr.io/a/app:\n    tags: [\"1.0.0\", \"1.1.0\"]\n",
    );
    hoist(&[
        "plan",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&r.join("snap.yaml")),
        "--exit-code",
    ])
    .expect(
        1,
        &["error: apps/app.yaml:1: marker apps:app names ImagePolicy apps/app, which does not exist; there is other/app (flux/app.yaml:10, namespace from metadata.namespace)"],
    );
    // Naming the policy that exists, the same gate sees pending changes.
    write(
        r,
        "apps/app.yaml",
        "image: ghcr.io/a/app:1.0.0 # {\"$imagepolicy\": \"other:app\"}\n",
    );
    hoist(&[
        "plan",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&r.join("snap.yaml")),
        "--exit-code",
    ])
    .expect(3, &["1 change in 1 file"]);
}

/// `run` and `promote` outside a checkout, with nothing naming the
/// repository: the hint is one they can follow (they have no --no-commit).
#[test]
fn outside_a_checkout_the_hint_names_what_works() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        r,
        "hoist.toml",
        "[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n[[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\n",
    );
    for args in [
        vec!["run", "--repo", s(r)],
        vec!["promote", "--repo", s(r), "--from", "dev", "--to", "prod"],
    ] {
        let run = hoist(&args);
        run.expect(
            2,
            &["not a Git checkout (no .git); use --url, or name the repository in hoist.toml ([forge] repository or [git] url); to only write the files here, `hoist apply --no-commit`"],
        );
        assert!(!run.stderr.contains(", or --no-commit"), "{}", run.stderr);
    }
}

/// A scan in which a registry failed writes no snapshot: one without the
/// failed image would later plan as "no changes" for it.
#[test]
fn a_failed_scan_writes_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        r,
        "hoist.toml",
        "[scan]\nretries = 0\ntimeout_seconds = 2\n",
    );
    write(
        r,
        "flux/app.yaml",
        &repo_and_policy("flux-system", "app", "127.0.0.1:1/acme/app", ">=1.0.0"),
    );
    write(
        r,
        "apps/app.yaml",
        "image: 127.0.0.1:1/acme/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    );
    let snap = r.join("snap.yaml");
    hoist(&["scan", "--repo", s(r), "--save-snapshot", s(&snap)])
        .expect(1, &["1 image could not be scanned; no snapshot written"]);
    assert!(!snap.exists(), "nothing written");
}
