//! Fleet layouts as Flux's guides and reference architectures lay them out
//! (`fixtures/fleets/*`): a new user's first hour, `init` → `config check`
//! → `lint` → `plan` → `run --dry-run`, against what `expect.toml` says by
//! hand.

use crate::common;
use common::git::git;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, serde::Deserialize)]
struct Expect {
    environments: Vec<String>,
    write_paths: Vec<String>,
    warnings: Vec<String>,
    paths: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    policy: Vec<ExpectPolicy>,
    #[serde(default)]
    edit: Vec<ExpectEdit>,
}

#[derive(Debug, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct ExpectPolicy {
    cluster: String,
    namespace: String,
    name: String,
    tag: String,
    namespace_from: Option<String>,
}

#[derive(Debug, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct ExpectEdit {
    file: String,
    line: u64,
    old: String,
    new: String,
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != "expect.toml" {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn check_fleet(name: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fleets")
        .join(name);
    let expect: Expect = toml::from_str(&read(&src, "expect.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    copy_tree(&src, r);
    git(r, &["init", "-q", "-b", "main"]);
    let snap = r.join("registry-snapshot.yaml");

    // init: environments in ladder order, each owning exactly its files.
    let init = hoist(&["init", "--repo", s(r)]);
    assert_eq!(init.code, 0, "{name}: {}", init.stderr);
    let proposed: toml::Value = toml::from_str(&read(r, "hoist.toml")).unwrap();
    let envs: Vec<(String, Vec<String>)> = proposed
        .get("environment")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().to_string(),
                        e["paths"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p.as_str().unwrap().to_string())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let names: Vec<&str> = envs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expect.environments, "{name}: environments");
    for (env, paths) in &envs {
        assert_eq!(Some(paths), expect.paths.get(env), "{name}: paths of {env}");
    }
    let write_paths: Vec<&str> = proposed["write_paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(write_paths, expect.write_paths, "{name}: write_paths");
    git(r, &["add", "-A"]);
    git(r, &["commit", "-qm", "fleet"]);

    // config check: every marker file in an environment, none empty.
    let check = hoist(&["config", "check", "--repo", s(r)]);
    assert_eq!(check.code, 0, "{name}: {}", check.stderr);

    // lint -v: clean, and says where each policy's namespace comes from.
    let lint = hoist(&["lint", "-v", "--repo", s(r)]);
    assert_eq!(lint.code, 0, "{name}: {}", lint.stderr);
    for p in &expect.policy {
        let from = p.namespace_from.as_deref().unwrap_or("metadata.namespace");
        let cluster = if p.cluster.is_empty() {
            String::new()
        } else {
            format!(" in cluster {}", p.cluster)
        };
        let want = format!(
            "ImagePolicy {}/{}{cluster}: namespace from {from}",
            p.namespace, p.name
        );
        assert!(
            lint.stderr.contains(&want),
            "{name}: missing {want:?} in\n{}",
            lint.stderr
        );
    }

    // plan: exactly the policies and the edits written down.
    let plan = hoist(&[
        "plan",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&snap),
        "--output",
        "json",
    ]);
    assert_eq!(plan.code, 0, "{name}: {}", plan.stderr);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let mut policies: Vec<ExpectPolicy> = json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ExpectPolicy {
            cluster: p["cluster"].as_str().unwrap_or("").to_string(),
            namespace: p["namespace"].as_str().unwrap().to_string(),
            name: p["name"].as_str().unwrap().to_string(),
            tag: p["tag"].as_str().unwrap_or("(none)").to_string(),
            namespace_from: p["namespace_from"].as_str().map(str::to_string),
        })
        .collect();
    policies.sort();
    let mut want_policies = expect.policy;
    want_policies.sort();
    assert_eq!(policies, want_policies, "{name}: policies");
    let mut edits = Vec::new();
    for f in json["files"].as_array().unwrap() {
        for o in f["objects"].as_array().unwrap() {
            for c in o["changes"].as_array().unwrap() {
                edits.push(ExpectEdit {
                    file: f["file"].as_str().unwrap().to_string(),
                    line: c["line"].as_u64().unwrap(),
                    old: c["old"].as_str().unwrap().to_string(),
                    new: c["new"].as_str().unwrap().to_string(),
                });
            }
        }
    }
    edits.sort();
    let mut want_edits = expect.edit;
    want_edits.sort();
    assert_eq!(edits, want_edits, "{name}: edits");
    let diags: BTreeSet<String> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{}: {}",
                d["file"].as_str().unwrap_or(""),
                d["line"].as_u64().unwrap_or(0),
                d["message"].as_str().unwrap()
            )
        })
        .collect();
    let want_diags: BTreeSet<String> = expect.warnings.iter().cloned().collect();
    assert_eq!(diags, want_diags, "{name}: diagnostics");

    // run --dry-run: every rung shows its edits and nothing is written.
    let head = git(r, &["rev-parse", "HEAD"]);
    let run = hoist(&[
        "run",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&snap),
        "--dry-run",
    ]);
    assert_eq!(
        git(r, &["rev-parse", "HEAD"]),
        head,
        "{name}: dry run committed"
    );
    assert_eq!(
        git(r, &["status", "--porcelain"]),
        "",
        "{name}: dry run wrote"
    );
    if envs.is_empty() {
        // No clusters/, no ladder: run says so; apply writes the plan.
        run.expect(2, &["no [[environment]] in hoist.toml"]);
        let apply = hoist(&[
            "apply",
            "--repo",
            s(r),
            "--registry-snapshot",
            s(&snap),
            "--no-commit",
        ]);
        assert_eq!(apply.code, 0, "{name}: {}", apply.stderr);
    } else {
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        for e in &want_edits {
            assert!(
                run.stdout
                    .lines()
                    .any(|l| l.starts_with('+') && l.contains(&e.new)),
                "{name}: run --dry-run does not show {:?}:\n{}",
                e.new,
                run.stdout
            );
        }
        return;
    }
    for e in &want_edits {
        let text = read(r, &e.file);
        let line = text.lines().nth(e.line as usize - 1).unwrap();
        assert!(
            line.contains(&e.new),
            "{name}: {}:{}: {line}",
            e.file,
            e.line
        );
    }
}

/// The first hour on GitLab: a Flux fleet whose `origin` is a
/// self-managed GitLab. `hoist init` proposes the forge from it (kind,
/// the project's full path, the instance's API, `GITLAB_TOKEN`), `config
/// check` passes, and `hoist run` against the remote pushes staging and
/// opens production's merge request — only documented GitLab routes
/// asked; a rerun writes nothing.
#[test]
fn a_gitlab_origin_from_init_to_a_merge_request() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleets/overlays");
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("fleet");
    std::fs::create_dir_all(&r).unwrap();
    copy_tree(&src, &r);
    git(&r, &["init", "-q", "-b", "main"]);
    git(
        &r,
        &[
            "remote",
            "add",
            "origin",
            "git@gitlab.example.com:acme/platform/fleet.git",
        ],
    );
    hoist(&["init", "--repo", s(&r)]).expect(0, &["hoist init: wrote"]);
    let toml = read(&r, "hoist.toml");
    for want in [
        "kind = \"gitlab\"",
        "repository = \"acme/platform/fleet\"",
        "api_url = \"https://gitlab.example.com/api/v4\"",
        "token_env = \"GITLAB_TOKEN\"",
    ] {
        assert!(toml.contains(want), "no {want} in:\n{toml}");
    }
    hoist(&["config", "check", "--repo", s(&r)]).expect(0, &[]);

    // The same repository on a GitLab (the fake one, on loopback).
    let forge = common::forge::FakeForge::start();
    write(
        &r,
        "hoist.toml",
        &toml.replace(
            "https://gitlab.example.com/api/v4",
            &format!("{}/api/v4", forge.url()),
        ),
    );
    let snap = r.join("registry-snapshot.yaml");
    std::fs::rename(&snap, dir.path().join("snap.yaml")).unwrap();
    let snap = dir.path().join("snap.yaml");
    let bare = common::git::bare_from(dir.path(), "remote", &r);
    forge.add_repo("acme/platform/fleet", &bare);
    let url = common::git::file_url(&bare);
    let state = dir.path().join("state");
    let run = || {
        hoist_env(
            &[
                "run",
                "--url",
                &url,
                "--state-dir",
                s(&state),
                "--registry-snapshot",
                s(&snap),
            ],
            &[("GITLAB_TOKEN", common::forge::TOKEN.to_string())],
        )
    };
    run().expect(
        0,
        &[
            "hoist run: staging: pushed",
            "hoist run: production: opened merge request !1 from hoist/production",
        ],
    );
    let pulls = forge.repo("acme/platform/fleet").pulls;
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].head, "hoist/production");
    crate::forge::assert_documented_gitlab_routes(&forge, 3);
    forge.reset_calls();
    run().expect(0, &[]);
    assert_eq!(forge.writes(), Vec::<(String, String)>::new());
    assert_eq!(forge.repo("acme/platform/fleet").pulls.len(), 1);
}

#[test]
fn overlays_over_a_base_with_target_namespace() {
    check_fleet("overlays");
}

#[test]
fn a_directory_per_cluster_each_with_its_own_automation() {
    check_fleet("per-cluster");
}

#[test]
fn a_homelab_with_many_automations_over_one_path() {
    check_fleet("homelab");
}

#[test]
fn d1_policies_placed_by_kustomize_namespace() {
    check_fleet("d1-apps");
}

#[test]
fn d2_policies_bound_by_their_markers() {
    check_fleet("d2-apps");
}

#[test]
fn one_repository_one_cluster() {
    check_fleet("one-cluster");
}

/// Several automations over one path with their own templates: `hoist
/// apply` commits as each, as Flux would, each over the markers its
/// policySelector takes.
#[test]
fn each_automation_commits_with_its_own_message() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleets/homelab");
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    copy_tree(&src, &content);
    let bare = common::git::bare_from(t.path(), "fleet", &content);
    let url = common::git::file_url(&bare);
    let snap = src.join("registry-snapshot.yaml");
    let run = || {
        hoist(&[
            "apply",
            "--url",
            &url,
            "--state-dir",
            s(&t.path().join("state")),
            "--registry-snapshot",
            s(&snap),
        ])
    };
    let r = run();
    r.expect(
        0,
        &[
            "hoist apply: as flux-system/gitea (cluster home): pushed",
            "hoist apply: as flux-system/jellyfin (cluster home): pushed",
            "hoist apply: as flux-system/sonarr (cluster home): pushed",
        ],
    );
    assert!(
        !r.stderr.contains("different commit messages"),
        "{}",
        r.stderr
    );
    let log = git(&bare, &["log", "--format=%s|%an", "main"]);
    let subjects: Vec<&str> = log.lines().take(3).collect();
    assert_eq!(
        subjects,
        [
            "chore(sonarr): ghcr.io/home-operations/sonarr:4.0.11|homelab-bot",
            "chore(jellyfin): docker.io/jellyfin/jellyfin:10.10.3|homelab-bot",
            "chore(gitea): docker.io/gitea/gitea:1.22.6|homelab-bot",
        ]
    );
    // Again: every automation finds its markers current.
    let again = run();
    again.expect(
        0,
        &["as flux-system/sonarr (cluster home): main is up to date"],
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]).trim(), "4");
}

/// `init` then `hoist run` on a bare copy of fixture `name`: the run's
/// result, and the bare repository.
fn run_ladder(name: &str, t: &Path) -> (common::Run, std::path::PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fleets")
        .join(name);
    let content = t.join("content");
    std::fs::create_dir_all(&content).unwrap();
    copy_tree(&src, &content);
    git(&content, &["init", "-q", "-b", "main"]);
    let init = hoist(&["init", "--repo", s(&content)]);
    assert_eq!(init.code, 0, "{name}: {}", init.stderr);
    std::fs::remove_dir_all(content.join(".git")).unwrap();
    let bare = common::git::bare_from(t, "fleet", &content);
    let r = hoist(&[
        "run",
        "--url",
        &common::git::file_url(&bare),
        "--state-dir",
        s(&t.join("state")),
        "--registry-snapshot",
        s(&src.join("registry-snapshot.yaml")),
    ]);
    (r, bare)
}

/// A rung is committed as the automation whose update.path and
/// policySelector take its changes: staging's commit carries staging's
/// message, prod's prod's, with no warning that one message is used.
#[test]
fn each_rung_commits_as_its_own_automation() {
    let t = tempfile::tempdir().unwrap();
    let (r, bare) = run_ladder("per-cluster", t.path());
    r.expect(
        0,
        &["hoist run: staging: pushed", "hoist run: prod: pushed"],
    );
    assert!(
        !r.stderr.contains("different commit messages"),
        "{}",
        r.stderr
    );
    let log = git(&bare, &["log", "--format=%s", "main"]);
    let subjects: Vec<&str> = log.lines().take(2).collect();
    assert_eq!(
        subjects,
        [
            "[ci skip] prod: registry.example.test/acme/web:1.0.0 -> registry.example.test/acme/web:1.2.0",
            "[ci skip] staging: registry.example.test/acme/web:main-1a2b3c4-1700000000 -> registry.example.test/acme/web:main-9d8e7f6-1700000500",
        ]
    );
}

/// One environment over the markers of three automations that commit
/// differently: one commit (a rung is one change), and a warning that
/// names them and whose message was used.
#[test]
fn a_rung_over_several_automations_says_whose_message() {
    let t = tempfile::tempdir().unwrap();
    let (r, bare) = run_ladder("homelab", t.path());
    r.expect(
        0,
        &[
            "warning: home: its changes are taken by ImageUpdateAutomations that commit with different messages or authors (flux-system/gitea (cluster home), flux-system/jellyfin (cluster home), flux-system/sonarr (cluster home)); this commit is made with flux-system/gitea (cluster home)'s",
            "hoist run: home: pushed",
        ],
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]).trim(), "2");
    // lint says it before any run does.
    let lint = hoist(&["lint", "--repo", s(&t.path().join("content"))]);
    lint.expect(
        0,
        &["hoist.toml:14: environment home: its markers are taken by ImageUpdateAutomations that commit with different messages or authors (flux-system/gitea (cluster home), flux-system/jellyfin (cluster home), flux-system/sonarr (cluster home)); Flux would make a commit per automation, a hoist rung makes one, with flux-system/gitea (cluster home)'s"],
    );
}

/// An automation that pushes to a branch of its own: `hoist apply` commits
/// its markers there (from its checkout branch), the others' on main, as
/// each automation would; no `--automation` needed.
#[test]
fn each_automation_pushes_to_its_own_branch() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleets/homelab");
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    copy_tree(&src, &content);
    let file = content.join("clusters/home/automation/automations.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    // gitea's automation (the last one) pushes to gitea-updates.
    let at = text.rfind("      branch: main").unwrap();
    let text = format!(
        "{}      branch: gitea-updates{}",
        &text[..at],
        &text[at + "      branch: main".len()..]
    );
    std::fs::write(&file, text).unwrap();
    let bare = common::git::bare_from(t.path(), "fleet", &content);
    let r = hoist(&[
        "apply",
        "--url",
        &common::git::file_url(&bare),
        "--state-dir",
        s(&t.path().join("state")),
        "--registry-snapshot",
        s(&src.join("registry-snapshot.yaml")),
    ]);
    r.expect(
        0,
        &[
            "hoist apply: as flux-system/gitea (cluster home): pushed",
            "to gitea-updates",
            "hoist apply: as flux-system/jellyfin (cluster home): pushed",
        ],
    );
    assert!(!r.stderr.contains("use different branches"), "{}", r.stderr);
    let main = git(&bare, &["log", "--format=%s", "main"]);
    assert!(!main.contains("chore(gitea)"), "{main}");
    assert!(main.contains("chore(jellyfin)"), "{main}");
    let side = git(&bare, &["log", "-1", "--format=%s", "gitea-updates"]);
    assert_eq!(side.trim(), "chore(gitea): docker.io/gitea/gitea:1.22.6");
}
