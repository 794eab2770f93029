//! `hoist run` against the fake forge (tests/common/forge.rs), real Git
//! remotes and, in one test, the real registry: dev is pushed, staging's
//! pull request is merged, prod's is opened and left for a human. Each
//! scenario runs on GitHub and on Azure DevOps.

use crate::common;
use common::forge::{FakeForge, State, TOKEN};
use common::git::{bare_from, count, file_url, git, show};
use common::world::{Kind, World, flux, ladder, source_repo};
use common::*;

const IMAGE: &str = "127.0.0.1:1/api";

fn climb_twice_then_a_newer_build(kind: Kind) {
    let w = World::new(kind);
    let [s1, s2, s3] = [&w.shas[0], &w.shas[1], &w.shas[2]];
    let snap2 = w.snapshot(2, &[]);

    // Run 1: dev pushed, staging merged, prod proposed.
    let r = w.run(&snap2, &[]);
    r.expect_on(
        kind,
        0,
        &[
            "hoist run: dev: pushed",
            "hoist run: staging: opened pull request #1 from hoist/staging",
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2 from hoist/prod",
            "hoist run: prod: pull request #2 awaits review",
        ],
    );
    assert!(w.main_has("dev", &format!("dev-{s2}-2")));
    assert!(w.main_has("staging", &format!("staging-{s2}")));
    assert!(
        w.main_has("prod", &format!("prod-{s1}")),
        "prod waits for a human"
    );
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    let fleet = w.forge.repo(kind.repo());
    assert_eq!(fleet.pulls.len(), 2);
    assert_eq!(fleet.pulls[0].state, State::Merged);
    assert_eq!(fleet.pulls[0].labels, vec!["promotion"]);
    let prod = &fleet.pulls[1];
    assert_eq!(prod.state, State::Open);
    assert_eq!(prod.head, "hoist/prod");
    assert_eq!(prod.labels, vec!["promotion", "prod"]);
    if kind != Kind::Azure {
        assert_eq!(prod.reviewers, vec!["alice"]);
    }
    assert_eq!(prod.title, format!("hoist(prod): api prod-{s2}"));
    for needle in [
        format!("`prod-{s1}`"),
        format!("`prod-{s2}`"),
        format!("sha256:{}", "b".repeat(64)),
        "feature number 2".to_string(),
        "an approving review; hoist never merges it".to_string(),
        "Rollback".to_string(),
        "<!-- hoist:record {".to_string(),
    ] {
        assert!(
            prod.body.contains(&needle),
            "no {needle:?} in:\n{}",
            prod.body
        );
    }
    assert!(
        !prod.body.contains("feature number 1"),
        "the changelog starts after the build prod ran"
    );
    // One hoist status per head hoist wrote.
    let head = git(&w.bare, &["rev-parse", "hoist/prod"])
        .trim()
        .to_string();
    let st = &fleet.statuses[&head];
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["context"], "hoist/prod");
    assert_eq!(
        st[0]["description"],
        format!("prod-{s2} ← staging-{s2}, same digest")
    );
    assert_eq!(fleet.statuses.values().map(Vec::len).sum::<usize>(), 3);
    let main_commits = count(&w.bare, "main");

    // `hoist ladder` on a checkout shows the open pull request.
    let work = w.t.path().join("checkout");
    git(w.t.path(), &["clone", "-q", s(&w.bare), s(&work)]);
    let r = hoist_env(
        &[
            "ladder",
            "--repo",
            s(&work),
            "--registry-snapshot",
            s(&snap2),
        ],
        &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())],
    );
    let open = match kind {
        Kind::GitLab => "Open merge requests:\n  prod: !2",
        _ => "Open pull requests:\n  prod: #2",
    };
    assert!(
        r.stdout
            .contains(&format!("{open} hoist(prod): api prod-{s2} ")),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let r = hoist(&[
        "ladder",
        "--repo",
        s(&work),
        "--registry-snapshot",
        s(&snap2),
        "--no-forge",
    ]);
    assert!(!r.stdout.contains("Open pull requests") && !r.stdout.contains("Open merge requests"));

    // Run 2: nothing new, nothing written anywhere; `--output json` says so.
    w.forge.reset_calls();
    let r = w.run(&snap2, &["--output", "json"]);
    r.expect_on(kind, 0, &["hoist run: prod: pull request #2 is up to date"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let envs = v["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 3);
    assert_eq!(envs[2]["forge"][0]["action"], "unchanged");
    assert_eq!(envs[2]["forge"][0]["number"], 2);
    assert!(
        envs.iter().all(|e| e["commit"].is_null()),
        "nothing pushed: {v}"
    );
    assert_eq!(w.forge.writes(), Vec::<(String, String)>::new());
    assert_eq!(count(&w.bare, "main"), main_commits);
    assert_eq!(git(&w.bare, &["rev-parse", "hoist/prod"]).trim(), head);

    // Run 3: build 3 moves dev and staging and updates the same prod PR.
    let r = w.run(&w.snapshot(3, &[]), &["--output", "json"]);
    r.expect_on(
        kind,
        0,
        &[
            "hoist run: staging: merged pull request #3",
            "hoist run: prod: updated pull request #2",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["environments"][2]["branch"], "hoist/prod");
    assert_eq!(
        v["environments"][2]["commit"],
        git(&w.bare, &["rev-parse", "hoist/prod"]).trim()
    );
    let fleet = w.forge.repo(kind.repo());
    assert_eq!(fleet.pulls.len(), 3, "no second prod pull request");
    assert_eq!(
        fleet
            .pulls
            .iter()
            .filter(|p| p.state == State::Open)
            .count(),
        1
    );
    let prod = fleet.pulls.iter().find(|p| p.number == 2).unwrap();
    assert_eq!(prod.title, format!("hoist(prod): api prod-{s3}"));
    assert!(prod.body.contains("feature number 3") && prod.body.contains("feature number 2"));
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s3}")));
    assert!(w.main_has("staging", &format!("staging-{s3}")));
    if matches!(kind, Kind::Azure) {
        assert_documented_azure_routes(&w.forge.calls());
    }
    if matches!(kind, Kind::GitLab) {
        assert_documented_gitlab_routes(&w.forge, 6);
    }
}

/// Every GitLab call hoist made matched a route of the fake forge, and
/// each of those is one docs.gitlab.com documents
/// (`fixtures/forge/gitlab-v4-routes.txt`).
pub fn assert_documented_gitlab_routes(forge: &FakeForge, min_calls: usize) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/forge/gitlab-v4-routes.txt"),
    )
    .unwrap();
    let documented: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let calls = forge
        .calls()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/v4/"))
        .count();
    let routes = forge.gitlab_routes();
    assert_eq!(
        routes.len(),
        calls,
        "a GitLab call matched no route: {:?}",
        forge.calls()
    );
    assert!(calls >= min_calls, "{calls} GitLab calls");
    for r in &routes {
        assert!(
            documented.contains(&r.as_str()),
            "{r} is in no documented route"
        );
    }
}

#[test]
fn github_ladder_push_merge_propose_and_converge() {
    climb_twice_then_a_newer_build(Kind::GitHub);
}

/// Every Azure DevOps call hoist made is a route Microsoft's Git REST 7.1
/// description documents (`fixtures/forge/azure-devops-git-7.1-routes.txt`,
/// made from it by `scripts/forge-routes.py`); route literals compare
/// without case, as Azure's do.
fn assert_documented_azure_routes(calls: &[(String, String)]) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/forge/azure-devops-git-7.1-routes.txt"),
    )
    .unwrap();
    let routes: Vec<(&str, Vec<&str>)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (m, p) = l.split_once(' ').unwrap();
            (m, p.split('/').filter(|x| !x.is_empty()).collect())
        })
        .collect();
    assert!(routes.len() > 50);
    let mut checked = 0;
    for (method, path) in calls.iter().filter(|(_, p)| p.contains("/_apis/")) {
        let segs: Vec<&str> = path.split('/').filter(|x| !x.is_empty()).collect();
        let documented = routes.iter().any(|(m, r)| {
            m == method
                && r.len() == segs.len()
                && r.iter().zip(&segs).all(|(t, s)| {
                    (t.starts_with('{') && t.ends_with('}')) || t.eq_ignore_ascii_case(s)
                })
        });
        assert!(documented, "{method} {path} is in no documented route");
        checked += 1;
    }
    assert!(checked > 5, "{calls:?}");
}

#[test]
fn azure_devops_ladder_push_merge_propose_and_converge() {
    climb_twice_then_a_newer_build(Kind::Azure);
}

#[test]
fn gitlab_ladder_push_merge_propose_and_converge() {
    climb_twice_then_a_newer_build(Kind::GitLab);
}

/// hoist's Azure DevOps requests are documented ones: no
/// `_apis/connectionData` (#17); auto-complete is set by the identity that
/// created the pull request.
#[test]
fn azure_devops_requests_are_documented_routes() {
    let w = World::new(Kind::Azure);
    let r = w.run(&w.snapshot(2, &[]), &[]);
    r.expect(0, &["hoist run: staging: merged pull request"]);
    let calls = w.forge.calls();
    assert!(
        !calls.iter().any(|(_, p)| p.contains("connectionData")),
        "{calls:?}"
    );
    assert_documented_azure_routes(&calls);
}

#[test]
fn dry_run_prints_branches_bodies_and_statuses_and_writes_nothing() {
    for kind in [Kind::GitHub, Kind::Azure, Kind::GitLab] {
        dry_run(kind);
    }
}

fn dry_run(kind: Kind) {
    let w = World::new(kind);
    let s2 = &w.shas[1];
    let before = git(&w.bare, &["for-each-ref"]);
    let r = w.run(&w.snapshot(2, &[]), &["--dry-run"]);
    r.expect_on(kind, 0, &["hoist run --dry-run: nothing was written"]);
    for needle in [
        format!("#   status hoist/dev: success: api dev-{s2}-2"),
        format!(
            "#   pull request from hoist/staging into the base branch and merge it: hoist(staging): api staging-{s2}"
        ),
        format!(
            "#   pull request from hoist/prod into the base branch for review: hoist(prod): api prod-{s2}"
        ),
        format!("#   status hoist/prod: success: prod-{s2} ← staging-{s2}, same digest"),
        "#   | Rollback".to_string(),
    ] {
        assert!(
            r.stdout.contains(&kind.says(&needle)),
            "{kind:?}: no {needle:?} in:\n{}",
            r.stdout
        );
    }
    assert_eq!(w.forge.calls(), Vec::<(String, String)>::new());
    assert_eq!(git(&w.bare, &["for-each-ref"]), before);
}

/// Two images; staging's rebuilt `web` tag is not dev's image: web stops
/// at staging with a clear report, api climbs on; prod opens one pull
/// request per image (`group = "image"`).
fn one_blocked_image_and_one_that_moves(kind: Kind) {
    let w = World::with(kind, &["api", "web"], "group = \"image\"\n");
    let s2 = w.shas[1].clone();
    let staging_web = format!("staging-{s2}");
    let r = w.run(&w.snapshot(2, &[("web", staging_web.as_str())]), &[]);
    r.expect_on(
        kind,
        1,
        &[
            "blocked on staging",
            &format!("staging-{s2} is not the same image as dev-{s2}-2"),
            "hoist run: staging: merged pull request #1",
            "hoist run: prod/127.0.0.1:1/api: opened pull request #2 from hoist/prod/api",
        ],
    );
    assert!(w.has("main", "staging", "api", &format!("staging-{s2}")));
    assert!(w.has("main", "staging", "web", &format!("staging-{}", w.shas[0])));
    assert!(w.has("main", "dev", "web", &format!("dev-{s2}-2")));
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 2);
    assert!(pulls[0].body.contains("Not in this change (blocked)"));
    assert_eq!(pulls[1].head, "hoist/prod/api");
    assert!(w.branches().contains(&"hoist/prod/api".to_string()));
    assert!(!w.branches().iter().any(|b| b.starts_with("hoist/prod/web")));
    // Again: still blocked, and nothing written.
    w.forge.reset_calls();
    let snap2 = w.snapshot(2, &[("web", staging_web.as_str())]);
    w.run(&snap2, &[])
        .expect_on(kind, 1, &["blocked on staging"]);
    assert_eq!(w.forge.writes(), Vec::<(String, String)>::new());
    // Build 3 is clean: web catches up, api's prod pull request moves on.
    let s3 = &w.shas[2];
    w.run(&w.snapshot(3, &[]), &[]).expect_on(
        kind,
        0,
        &[
            "hoist run: prod/127.0.0.1:1/api: updated pull request #2",
            "hoist run: prod/127.0.0.1:1/web: opened pull request",
        ],
    );
    assert!(w.has("hoist/prod/api", "prod", "api", &format!("prod-{s3}")));
    assert!(w.has("hoist/prod/web", "prod", "web", &format!("prod-{s3}")));
    assert!(
        w.has(
            "hoist/prod/web",
            "prod",
            "api",
            &format!("prod-{}", w.shas[0])
        ),
        "one image per pull request"
    );
    let open: Vec<_> = w
        .pulls()
        .into_iter()
        .filter(|p| p.state == State::Open)
        .collect();
    assert_eq!(open.len(), 2, "{open:#?}");
}

#[test]
fn github_a_digest_mismatch_blocks_one_image_while_another_proceeds() {
    one_blocked_image_and_one_that_moves(Kind::GitHub);
}

#[test]
fn azure_devops_a_digest_mismatch_blocks_one_image_while_another_proceeds() {
    one_blocked_image_and_one_that_moves(Kind::Azure);
}

#[test]
fn gitlab_a_digest_mismatch_blocks_one_image_while_another_proceeds() {
    one_blocked_image_and_one_that_moves(Kind::GitLab);
}

#[test]
fn two_runs_at_once_end_as_one_run_would() {
    for kind in [Kind::GitHub, Kind::Azure, Kind::GitLab] {
        let w = World::new(kind);
        let snap = w.snapshot(2, &[]);
        let url = file_url(&w.bare);
        let children: Vec<_> = (0..2)
            .map(|i| {
                let state = w.t.path().join(format!("state-{i}"));
                let mut cmd = hoist_command();
                cmd.args([
                    "run",
                    "--url",
                    &url,
                    "--state-dir",
                    s(&state),
                    "--registry-snapshot",
                    s(&snap),
                ])
                .env("HOIST_TEST_FORGE_TOKEN", TOKEN)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let pulls = w.pulls();
        for head in ["hoist/staging", "hoist/prod"] {
            assert_eq!(
                pulls.iter().filter(|p| p.head == head).count(),
                1,
                "one pull request from {head}: {pulls:#?}"
            );
        }
        assert!(w.main_has("staging", &format!("staging-{}", w.shas[1])));
        let prod = pulls.iter().find(|p| p.head == "hoist/prod").unwrap();
        assert_eq!(prod.state, State::Open);
        assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{}", w.shas[1])));
        // And a third run finds nothing to do.
        w.forge.reset_calls();
        w.run(&snap, &[]).expect(0, &[]);
        assert_eq!(w.forge.writes(), Vec::<(String, String)>::new());
    }
}

#[test]
fn github_faults_are_retried_or_worked_around_without_duplicates() {
    let w = World::new(Kind::GitHub);
    w.forge.fail(
        "POST",
        "/repos/acme/fleet/pulls",
        502,
        serde_json::json!({ "message": "Server Error" }),
        &[],
        1,
    );
    w.forge.fail(
        "GET",
        "/repos/acme/fleet/pulls",
        403,
        serde_json::json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." }),
        &[("retry-after", "1")],
        1,
    );
    w.forge.fail(
        "PUT",
        "/merge",
        409,
        serde_json::json!({ "message": "Head branch was modified. Review and try the merge again." }),
        &[],
        1,
    );
    w.forge
        .configure("acme/fleet", |r| r.allow_auto_merge = false);
    let r = w.run(&w.snapshot(2, &[]), &[]);
    r.expect(
        0,
        &[
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2",
        ],
    );
    let calls = w.forge.calls();
    let n = |m: &str, p: &str| calls.iter().filter(|(cm, cp)| cm == m && cp == p).count();
    assert_eq!(
        n("POST", "/repos/acme/fleet/pulls"),
        3,
        "502 retried once, then prod"
    );
    assert_eq!(
        n("PUT", "/repos/acme/fleet/pulls/1/merge"),
        2,
        "409 retried once"
    );
    assert_eq!(
        n("POST", "/graphql"),
        1,
        "auto-merge refused, merged over REST"
    );
    assert_eq!(w.pulls().len(), 2);
    assert!(w.main_has("staging", &format!("staging-{}", w.shas[1])));
}

#[test]
fn azure_devops_faults_are_retried_without_duplicates() {
    let w = World::new(Kind::Azure);
    w.forge.fail(
        "POST",
        "/git/repositories/fleet/pullrequests",
        503,
        serde_json::Value::Null,
        &[],
        1,
    );
    w.forge.fail(
        "GET",
        "/git/repositories/fleet/pullrequests",
        429,
        serde_json::json!({ "message": "TF400733: The request has been throttled" }),
        &[("retry-after", "1")],
        1,
    );
    let r = w.run(&w.snapshot(2, &[]), &[]);
    r.expect(0, &["hoist run: staging: merged pull request #1"]);
    assert_eq!(w.pulls().len(), 2);
}

/// GitLab: a 503 on listing, a 429 with Retry-After, and the reply to
/// opening staging's merge request lost after GitLab made it: hoist
/// retries, hears 409 "Another open merge request already exists", finds
/// that one and merges it: two merge requests in all, as without faults.
#[test]
fn gitlab_faults_are_retried_without_duplicates() {
    let w = World::new(Kind::GitLab);
    w.forge.fail(
        "GET",
        "/merge_requests",
        503,
        serde_json::json!({ "message": "503 Service Unavailable" }),
        &[],
        1,
    );
    w.forge.fail(
        "PUT",
        "/merge",
        429,
        serde_json::json!({ "message": "Retry later" }),
        &[("retry-after", "1")],
        1,
    );
    w.forge.lose_reply("POST", "/fleet/merge_requests", 1);
    let r = w.run(&w.snapshot(2, &[]), &[]);
    r.expect(
        0,
        &[
            "hoist run: staging: merged merge request !1",
            "hoist run: prod: opened merge request !2",
        ],
    );
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    let calls = w.forge.calls();
    let n = |m: &str, p: &str| {
        calls
            .iter()
            .filter(|(cm, cp)| cm == m && cp.ends_with(p))
            .count()
    };
    assert_eq!(
        n("POST", "/fleet/merge_requests"),
        3,
        "lost once, retried, then prod"
    );
    assert_eq!(
        n("PUT", "/merge_requests/1/merge"),
        2,
        "429 waited out once"
    );
    assert!(w.main_has("staging", &format!("staging-{}", w.shas[1])));
    // A rerun changes nothing.
    w.forge.reset_calls();
    w.run(&w.snapshot(2, &[]), &[]).expect(0, &[]);
    assert_eq!(w.pulls().len(), 2);
    assert!(w.forge.writes().is_empty(), "{:?}", w.forge.writes());
}

#[test]
fn a_required_check_holds_the_auto_merge_and_the_rungs_above() {
    for kind in [Kind::GitHub, Kind::GitLab] {
        required_check_holds(kind);
    }
}

/// On GitHub a pending check leaves auto-merge set; on GitLab the merge
/// request merges when its pipeline succeeds. Once the check passes the
/// forge merges and the next run carries the build to prod.
fn required_check_holds(kind: Kind) {
    let w = World::new(kind);
    let repo = kind.repo();
    w.forge
        .configure(repo, |r| r.required = vec!["ci/build".into()]);
    let snap = w.snapshot(2, &[]);
    let r = w.run(&snap, &[]);
    r.expect_on(
        kind,
        0,
        &[
            "hoist run: staging: pull request #1 merges itself once its checks pass",
            "hoist run: prod: main is up to date",
        ],
    );
    assert!(w.main_has("staging", &format!("staging-{}", w.shas[0])));
    assert_eq!(w.pulls().len(), 1);
    let head = git(&w.bare, &["rev-parse", "hoist/staging"])
        .trim()
        .to_string();
    w.forge.post_status(repo, &head, "ci/build", "success");
    assert_eq!(w.pulls()[0].state, State::Merged);
    w.run(&snap, &[])
        .expect_on(kind, 0, &["hoist run: prod: opened pull request #2"]);
}

/// A GitLab project whose merge requests cannot be merged now nor set to
/// merge later (GitLab's 405): reported as a refusal, the merge request
/// left open for a person, prod not promoted past it; a rerun adds nothing.
#[test]
fn gitlab_a_project_that_refuses_the_merge_is_reported() {
    let w = World::new(Kind::GitLab);
    let repo = Kind::GitLab.repo();
    w.forge.configure(repo, |r| {
        r.required = vec!["ci/build".into()];
        r.allow_auto_merge = false;
    });
    let snap = w.snapshot(2, &[]);
    let r = w.run(&snap, &[]);
    assert!(
        r.stderr
            .contains("environment \"staging\": merge request !1 was not merged: GitLab: 405"),
        "{}",
        r.stderr
    );
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(pulls[0].state, State::Open);
    assert!(!w.main_has("staging", &format!("staging-{}", w.shas[1])));
    w.forge.reset_calls();
    w.run(&snap, &[]);
    assert_eq!(w.pulls().len(), 1);
    let writes = w.forge.writes();
    assert!(
        writes
            .iter()
            .all(|(m, p)| m == "PUT" && p.ends_with("/merge")),
        "a rerun only asks to merge again: {writes:?}"
    );
}

#[test]
fn a_human_commit_on_a_bot_branch_is_left_alone_and_reported() {
    let w = World::new(Kind::GitHub);
    w.run(&w.snapshot(2, &[]), &[]).expect(0, &[]);
    // Someone adds a commit to the prod pull request's branch.
    let work = w.t.path().join("human");
    git(
        w.t.path(),
        &["clone", "-q", "-b", "hoist/prod", s(&w.bare), s(&work)],
    );
    write(&work, "clusters/prod/NOTES.md", "reviewed\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "notes"]);
    git(&work, &["push", "-q", "origin", "hoist/prod"]);
    let human = git(&work, &["rev-parse", "HEAD"]).trim().to_string();
    let r = w.run(&w.snapshot(3, &[]), &[]);
    r.expect(
        1,
        &["hoist/prod has commits that are not hoist's; hoist leaves the branch alone"],
    );
    assert_eq!(git(&w.bare, &["rev-parse", "hoist/prod"]).trim(), human);
    assert!(
        w.main_has("staging", &format!("staging-{}", w.shas[2])),
        "the rungs below still moved"
    );
}

#[test]
fn a_pull_request_no_longer_needed_is_closed_with_a_comment() {
    let w = World::new(Kind::GitHub);
    let snap = w.snapshot(2, &[]);
    w.run(&snap, &[]).expect(0, &[]);
    // Someone makes prod's change by hand on main.
    let work = w.t.path().join("human");
    git(w.t.path(), &["clone", "-q", s(&w.bare), s(&work)]);
    let s2 = &w.shas[1];
    write(
        &work,
        "clusters/prod/image-tags.yaml",
        &format!("api: prod-{s2} # {{\"$imagepolicy\": \"ns:api-prod:tag\"}}\n"),
    );
    git(&work, &["commit", "-qam", "prod by hand"]);
    git(&work, &["push", "-q", "origin", "main"]);
    w.run(&snap, &[])
        .expect(0, &["hoist run: prod: closed pull request #2"]);
    let prod = &w.pulls()[1];
    assert_eq!(prod.state, State::Closed);
    assert!(prod.comments[0].contains("main already has what this pull request proposed"));
    assert!(!w.branches().contains(&"hoist/prod".to_string()));
}

#[test]
fn without_url_or_checkout_the_forge_names_the_repository() {
    let w = World::new(Kind::GitHub);
    let cfg = w.t.path().join("hoist.toml");
    std::fs::write(&cfg, show(&w.bare, "main", "hoist.toml")).unwrap();
    let empty = w.t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let state = w.t.path().join("state");
    let snap = w.snapshot(2, &[]);
    let r = hoist_env(
        &[
            "run",
            "--repo",
            s(&empty),
            "--config",
            s(&cfg),
            "--state-dir",
            s(&state),
            "--registry-snapshot",
            s(&snap),
        ],
        &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())],
    );
    r.expect(
        0,
        &[
            "hoist run: dev: pushed",
            "hoist run: prod: opened pull request #2",
        ],
    );
    assert!(w.main_has("dev", &format!("dev-{}-2", w.shas[1])));
}

/// The whole ladder against the real registry (GHCR-style token auth with
/// push rights): prod's tag does not exist yet, and `create_tag` puts
/// staging's manifest under it, so the prod pull request promotes the very
/// same image.
fn on_the_real_registry(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let ts = std::sync::Arc::new(common::token::TokenService::start(
        dir.path(),
        &[("octocat", "ghp_secretPAT123")],
        &[],
    ));
    let reg = common::registry::Registry::start_token(ts.clone());
    let config = format!(
        "[[registry]]\nhost = \"{}\"\nusername_env = \"REG_USER\"\npassword_env = \"REG_PASS\"\n",
        reg.host()
    );
    let w = World::at(&reg.host(), kind, &["api"], "create_tag = true\n", &config);
    let [s1, s2] = [&w.shas[0], &w.shas[1]];
    let t = |v: &[String]| v.to_vec();
    reg.push_build(
        "api",
        &t(&[
            format!("dev-{s1}-1"),
            format!("staging-{s1}"),
            format!("prod-{s1}"),
        ]),
        "1",
    );
    let d2 = reg.push_build(
        "api",
        &t(&[format!("dev-{s2}-2"), format!("staging-{s2}")]),
        "2",
    );
    let creds = [
        ("REG_USER", "octocat".to_string()),
        ("REG_PASS", "ghp_secretPAT123".to_string()),
    ];
    let r = w.run_live(&[], &creds);
    r.expect_on(
        kind,
        0,
        &[
            "hoist run: dev: pushed",
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2",
        ],
    );
    assert!(!r.stderr.contains("ghp_secretPAT123"));
    let prod = &w.pulls()[1];
    assert!(
        prod.body.contains(&d2),
        "prod promotes build 2's digest:\n{}",
        prod.body
    );
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    // The registry now has prod's tag, on build 2's manifest.
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            "octocat:ghp_secretPAT123",
            "--format",
            "{{.Digest}}",
            &format!("docker://{}/api:prod-{s2}", reg.host()),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        d2,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A rerun writes nothing anywhere.
    w.forge.reset_calls();
    w.run_live(&[], &creds).expect_on(kind, 0, &[]);
    assert_eq!(w.forge.writes(), Vec::<(String, String)>::new());
}

#[test]
fn github_ladder_on_the_real_registry_with_create_tag() {
    on_the_real_registry(Kind::GitHub);
}

#[test]
fn azure_devops_ladder_on_the_real_registry_with_create_tag() {
    on_the_real_registry(Kind::Azure);
}

#[test]
fn gitlab_ladder_on_the_real_registry_with_create_tag() {
    on_the_real_registry(Kind::GitLab);
}

#[test]
fn a_github_app_signs_in_with_its_private_key() {
    let w = World::new(Kind::GitHub);
    let dir = w.t.path();
    let key = dir.join("app.pem");
    let ok = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out", s(&key), "2048"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let public = std::process::Command::new("openssl")
        .args([
            "rsa",
            "-in",
            s(&key),
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ])
        .output()
        .unwrap();
    assert!(public.status.success());
    w.forge.set_app("31337", public.stdout);
    // The same fleet, with app credentials instead of a token.
    let cfg = show(&w.bare, "main", "hoist.toml").replace(
        "token_env = \"HOIST_TEST_FORGE_TOKEN\"",
        "app_id_env = \"APP_ID\"\nprivate_key_env = \"APP_KEY\"",
    );
    let cfg_path = write(dir, "app.toml", &cfg);
    let pem = std::fs::read_to_string(&key).unwrap();
    let r = w.run(&w.snapshot(2, &[]), &["--config", s(&cfg_path)]);
    // Without the app's variables: a clear setup error, nothing written.
    r.expect(
        1,
        &["forge.app_id_env names APP_ID, but that environment variable is empty or unset"],
    );
    let state = dir.join("state-app");
    let url = file_url(&w.bare);
    let snap = w.snapshot(2, &[]);
    let r = hoist_env(
        &[
            "run",
            "--url",
            &url,
            "--state-dir",
            s(&state),
            "--registry-snapshot",
            s(&snap),
            "--config",
            s(&cfg_path),
        ],
        &[("APP_ID", "31337".to_string()), ("APP_KEY", pem.clone())],
    );
    r.expect(0, &["hoist run: prod: opened pull request"]);
    assert_eq!(
        w.forge.installation_tokens().len(),
        1,
        "one token per run and repository"
    );
    assert!(!r.stderr.contains("BEGIN RSA PRIVATE KEY") && !r.stderr.contains("ghs_installation"));
    // A wrong key is refused by the forge with its own words.
    let other = dir.join("other.pem");
    std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out", s(&other), "2048"])
        .output()
        .unwrap();
    let r = hoist_env(
        &[
            "run",
            "--url",
            &url,
            "--state-dir",
            s(&state),
            "--registry-snapshot",
            s(&snap),
            "--config",
            s(&cfg_path),
        ],
        &[
            ("APP_ID", "31337".to_string()),
            ("APP_KEY", std::fs::read_to_string(&other).unwrap()),
        ],
    );
    r.expect(1, &["finding the app's installation on acme/fleet: 401 A JSON web token could not be decoded"]);
}

fn rung_in_a_second_repository(kind: Kind) {
    let other = match kind {
        Kind::GitHub => "acme/cluster-staging",
        Kind::Azure => "acme/ops/cluster-staging",
        Kind::GitLab => "acme/platform/cluster-staging",
    };
    let t = tempfile::tempdir().unwrap();
    let forge = FakeForge::start();
    let (src, shas) = source_repo(t.path(), 2);
    let [s1, s2] = [&shas[0], &shas[1]];
    // The fleet holds dev and prod; staging's cluster has its own repository.
    let fleet = t.path().join("fleet-content");
    let cfg = ladder(kind, &forge.url(), IMAGE, "").replace(
        "name = \"staging\"\n",
        &format!("name = \"staging\"\nrepository = \"{other}\"\n"),
    );
    write(&fleet, "hoist.toml", &cfg);
    write(&fleet, "flux/apps.yaml", &flux("api", IMAGE));
    for (env, tag) in [
        ("dev", format!("dev-{s1}-1")),
        ("prod", format!("prod-{s1}")),
    ] {
        write(
            &fleet,
            &format!("clusters/{env}/image-tags.yaml"),
            &format!("api: {tag} # {{\"$imagepolicy\": \"ns:api-{env}:tag\"}}\n"),
        );
    }
    let staging = t.path().join("staging-content");
    write(&staging, "flux/apps.yaml", &flux("api", IMAGE));
    write(
        &staging,
        "clusters/staging/image-tags.yaml",
        &format!("api: staging-{s1} # {{\"$imagepolicy\": \"ns:api-staging:tag\"}}\n"),
    );
    let a = bare_from(t.path(), "fleet", &fleet);
    let b = bare_from(t.path(), "cluster-staging", &staging);
    forge.add_repo(kind.repo(), &a);
    forge.add_repo(other, &b);
    forge.add_repo(kind.source(), &src);
    let mut y = format!("images:\n  {IMAGE}:\n    tags:\n");
    for (i, sha) in shas.iter().enumerate() {
        let d = char::from(b'a' + i as u8).to_string().repeat(64);
        for tag in [
            format!("dev-{sha}-{}", i + 1),
            format!("staging-{sha}"),
            format!("prod-{sha}"),
        ] {
            y.push_str(&format!("      {tag}: \"sha256:{d}\"\n"));
        }
    }
    let snap = write(t.path(), "snap.yaml", &y);
    let state = t.path().join("state");
    let run = || {
        hoist_env(
            &[
                "run",
                "--url",
                &file_url(&a),
                "--state-dir",
                s(&state),
                "--registry-snapshot",
                s(&snap),
            ],
            &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())],
        )
    };
    run().expect_on(
        kind,
        0,
        &[
            "hoist run: dev: pushed",
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2",
        ],
    );
    let staging_pulls = forge.repo(other).pulls;
    assert_eq!(staging_pulls.len(), 1);
    assert_eq!(staging_pulls[0].state, State::Merged);
    assert!(
        show(&b, "main", "clusters/staging/image-tags.yaml")
            .starts_with(&format!("api: staging-{s2} #"))
    );
    let fleet_pulls = forge.repo(kind.repo()).pulls;
    assert_eq!(fleet_pulls.len(), 1);
    assert_eq!(fleet_pulls[0].head, "hoist/prod");
    assert!(
        show(&a, "hoist/prod", "clusters/prod/image-tags.yaml")
            .starts_with(&format!("api: prod-{s2} #"))
    );
    assert!(
        git(&a, &["for-each-ref", "refs/heads/hoist/staging"]).is_empty(),
        "staging's branch lives in its own repository"
    );
    // Nothing new: nothing written in either repository.
    forge.reset_calls();
    run().expect_on(kind, 0, &[]);
    assert_eq!(forge.writes(), Vec::<(String, String)>::new());
}

#[test]
fn github_a_rung_in_a_second_repository() {
    rung_in_a_second_repository(Kind::GitHub);
}

#[test]
fn azure_devops_a_rung_in_a_second_repository() {
    rung_in_a_second_repository(Kind::Azure);
}

#[test]
fn gitlab_a_rung_in_a_second_repository() {
    rung_in_a_second_repository(Kind::GitLab);
}

#[test]
fn bad_forge_replies_are_clear_errors_and_a_rerun_converges() {
    let w = World::new(Kind::GitHub);
    let snap = w.snapshot(2, &[]);
    // A proxy's HTML page where JSON belongs.
    w.forge.fail_raw(
        "GET",
        "/repos/acme/fleet/pulls",
        200,
        "<html><body>502 Bad Gateway</body></html>",
        1,
    );
    // The status write is refused after staging's branch was pushed: the
    // run stops there for staging, as a crash would.
    w.forge.fail(
        "POST",
        "/statuses/",
        422,
        serde_json::json!({ "message": "Validation Failed" }),
        &[],
        1,
    );
    let r = w.run(&snap, &[]);
    r.expect(
        1,
        &["GET /repos/acme/fleet/pulls: 200: the reply is not JSON"],
    );
    assert!(!r.stderr.contains("panicked"));
    assert!(!r.stderr.contains(TOKEN));
    // The rerun finishes the job: one pull request per environment.
    w.run(&snap, &[]).expect(0, &[]);
    w.run(&snap, &[])
        .expect(0, &["hoist run: prod: pull request #2 is up to date"]);
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 2, "{pulls:#?}");
    assert!(w.main_has("staging", &format!("staging-{}", w.shas[1])));
    let head = git(&w.bare, &["rev-parse", "hoist/prod"])
        .trim()
        .to_string();
    assert_eq!(w.forge.repo("acme/fleet").statuses[&head].len(), 1);
    // dev's status, refused in the first run, was posted by the second.
    let dev = git(
        &w.bare,
        &["rev-list", "-1", "--grep", "Hoist-Environment: dev", "main"],
    )
    .trim()
    .to_string();
    let st = &w.forge.repo("acme/fleet").statuses[&dev];
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0]["context"], "hoist/dev");
    assert_eq!(st[0]["description"], format!("api dev-{}-2", w.shas[1]));
}

#[test]
fn github_enterprise_server_paths() {
    let w = World::new(Kind::GitHub);
    let url = w.forge.url();
    let cfg = show(&w.bare, "main", "hoist.toml").replace(
        &format!("api_url = \"{url}\""),
        &format!("api_url = \"{url}/api/v3\""),
    );
    let cfg = write(w.t.path(), "ghes.toml", &cfg);
    w.run(&w.snapshot(2, &[]), &["--config", s(&cfg)]).expect(
        0,
        &[
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2",
        ],
    );
    let calls = w.forge.raw_paths();
    assert!(calls.iter().any(|p| p == "/api/graphql"), "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|p| p == "/api/graphql" || p.starts_with("/api/v3/")),
        "{calls:?}"
    );
}

#[test]
fn in_a_ci_checkout_the_working_tree_stays_on_its_branch() {
    let w = World::new(Kind::GitHub);
    let work = w.t.path().join("job");
    git(w.t.path(), &["clone", "-q", s(&w.bare), s(&work)]);
    let snap = w.snapshot(2, &[]);
    let r = hoist_env(
        &["run", "--repo", s(&work), "--registry-snapshot", s(&snap)],
        &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())],
    );
    r.expect(
        0,
        &[
            "hoist run: dev: pushed",
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2",
        ],
    );
    assert_eq!(
        git(&work, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "main"
    );
    assert!(git(&work, &["status", "--porcelain"]).trim().is_empty());
    assert!(w.main_has("staging", &format!("staging-{}", w.shas[1])));
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{}", w.shas[1])));
}

#[test]
fn promote_opens_the_pull_request_a_pull_request_rung_wants() {
    let w = World::new(Kind::GitHub);
    let s2 = &w.shas[1];
    // staging already runs build 2 (someone promoted it by hand).
    let work = w.t.path().join("human");
    git(w.t.path(), &["clone", "-q", s(&w.bare), s(&work)]);
    write(
        &work,
        "clusters/staging/image-tags.yaml",
        &format!("api: staging-{s2} # {{\"$imagepolicy\": \"ns:api-staging:tag\"}}\n"),
    );
    git(&work, &["commit", "-qam", "staging by hand"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let state = w.t.path().join("state");
    let snap = w.snapshot(2, &[]);
    let url = file_url(&w.bare);
    let promote = || {
        hoist_env(
            &[
                "promote",
                "--from",
                "staging",
                "--to",
                "prod",
                "--url",
                &url,
                "--state-dir",
                s(&state),
                "--registry-snapshot",
                s(&snap),
            ],
            &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())],
        )
    };
    promote().expect(
        0,
        &[
            "hoist promote: staging → prod: opened pull request #1 from hoist/prod",
            "awaits review",
        ],
    );
    assert!(
        w.main_has("prod", &format!("prod-{}", w.shas[0])),
        "prod's pull request waits"
    );
    assert!(w.has("hoist/prod", "prod", "api", &format!("prod-{s2}")));
    assert!(
        w.main_has("dev", &format!("dev-{}-1", w.shas[0])),
        "only prod was touched"
    );
    promote().expect(0, &["pull request #1 is up to date"]);
    assert_eq!(w.pulls().len(), 1);
}

/// GitHub's 422 "No commits between main and hoist/staging" is its word
/// for "another run merged this first": hoist plans again, as for the
/// other races, and prints no error.
#[test]
fn github_no_commits_between_is_a_race_not_an_error() {
    let w = World::new(Kind::GitHub);
    let snap = w.snapshot(2, &[]);
    w.forge.fail(
        "POST",
        "/repos/acme/fleet/pulls",
        422,
        serde_json::json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "PullRequest", "code": "custom",
                "message": "No commits between main and hoist/staging" }],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
        }),
        &[],
        1,
    );
    let r = w.run(&snap, &[]);
    r.expect(
        0,
        &[
            "hoist run: staging: merged pull request #1",
            "hoist run: prod: opened pull request #2",
        ],
    );
    assert!(!r.stderr.contains("No commits between"), "{}", r.stderr);
    assert!(!r.stderr.contains("error"), "{}", r.stderr);
}
