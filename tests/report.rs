//! `hoist report`: the delivery measures from a fleet's history — hoist's
//! own runs on the fake forge, and a history built with known timestamps.

use crate::common;
use common::forge::{Pull, State};
use common::git::{git, git_cmd};
use common::world::{Kind, World};
use common::*;

const DAY: i64 = 86_400;
const IMAGE: &str = "127.0.0.1:1/api";

/// Commit times of `rev`'s first-parent history in `bare`: sha → time.
fn times(bare: &std::path::Path) -> Vec<(String, i64, String)> {
    git(
        bare,
        &["log", "--first-parent", "--format=%H %ct %s", "main"],
    )
    .lines()
    .map(|l| {
        let mut p = l.splitn(3, ' ');
        (
            p.next().unwrap().to_string(),
            p.next().unwrap().parse().unwrap(),
            p.next().unwrap_or_default().to_string(),
        )
    })
    .collect()
}

/// The JSON figures of `image` in `env`.
fn figures<'a>(v: &'a serde_json::Value, image: &str, env: &str) -> &'a serde_json::Value {
    v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["image"] == image && f["environment"] == env)
        .unwrap_or_else(|| panic!("no figures for {image} in {env}: {v:#}"))
}

fn numbers(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// Two builds climbed by `hoist run` itself (dev pushed, staging squash
/// merged: the commit names no trailer, the pull request's record does;
/// prod merged by hand: a merge commit), and reconcile notes put on the
/// prod pull requests: the figures follow from the commits' own times.
#[test]
fn hoists_own_history_gives_its_figures() {
    own_history(Kind::GitHub);
}

/// The same on GitLab: its squash merges are found by paging through the
/// merged merge requests since the window's start (`updated_after`).
#[test]
fn hoists_own_history_gives_its_figures_on_gitlab() {
    own_history(Kind::GitLab);
}

fn own_history(kind: Kind) {
    let w = World::new(kind);
    let repo = kind.repo();
    w.run(&w.snapshot(2, &[]), &[]).expect(0, &[]);
    w.forge.merge_by_hand(repo, 2);
    w.run(&w.snapshot(3, &[]), &[])
        .expect_on(kind, 0, &["prod: opened pull request #4"]);
    w.forge.merge_by_hand(repo, 4);
    // Newest first: merge #4, squash #3, dev push, merge #2, squash #1, dev push, initial.
    let t = times(&w.bare);
    assert_eq!(t.len(), 7, "{t:?}");
    let at = |i: usize| t[i].1;
    let (p4, s3, d3, p2, s1, d2) = (at(0), at(1), at(2), at(3), at(4), at(5));
    // prod #2 reconciled when it merged; #4 failed then, and nothing since.
    w.forge.configure(repo, |r| {
        let note = |ok: bool, at: i64| {
            format!(
                "<!-- hoist -->\n{}\n",
                hoist::propose::gate::marker("prod", ok, at)
            )
        };
        r.pulls[1].comments.push(note(true, p2));
        r.pulls[3].comments.push(note(false, p4));
    });
    let r = w.report(&["--output", "json"]);
    r.expect(0, &[]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let prod = figures(&v, IMAGE, "prod");
    assert_eq!(prod["deployments"], 2, "{prod:#}");
    assert_eq!(numbers(&prod["lead_times"]), vec![p2 - d2, p4 - d3]);
    assert_eq!(prod["reconciled"], 1);
    assert_eq!(prod["failed"], 1);
    assert_eq!(prod["change_failure_rate"], 0.5);
    assert_eq!(prod["still_failing"], 1);
    let staging = figures(&v, IMAGE, "staging");
    assert_eq!(staging["deployments"], 2, "{staging:#}");
    assert_eq!(numbers(&staging["lead_times"]), vec![s1 - d2, s3 - d3]);
    assert_eq!(figures(&v, IMAGE, "dev")["deployments"], 2);

    // Offline, Git alone: the squash merges are not hoist's as far as it
    // can tell, the merge commits are.
    let r = w.report(&["--no-forge"]);
    r.expect(0, &[]);
    assert!(r.stdout.contains("Delivery from "), "{}", r.stdout);
    let prod_row = r
        .stdout
        .lines()
        .find(|l| l.starts_with(IMAGE) && l.contains(" prod "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(prod_row.contains(" 2 "), "{prod_row}");
    assert!(
        !r.stdout.lines().any(|l| l.contains(" staging ")),
        "{}",
        r.stdout
    );
}

/// A commit of `files` on `branch` (created from `from`) at `when`, with
/// `message`; its sha.
fn commit_at(work: &std::path::Path, when: i64, message: &str, file: &str, text: &str) -> String {
    write(work, file, text);
    git(work, &["add", "-A"]);
    let date = format!("@{when} +0000");
    let out = git_cmd(work)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .args(["commit", "-q", "-m", message])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(work, &["rev-parse", "HEAD"]).trim().to_string()
}

/// `branch` merged into main with a merge commit at `when`; its sha.
fn merge_at(work: &std::path::Path, when: i64, branch: &str) -> String {
    git(work, &["checkout", "-q", "main"]);
    let date = format!("@{when} +0000");
    let out = git_cmd(work)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .args([
            "merge",
            "-q",
            "--no-ff",
            "-m",
            &format!("Merge {branch}"),
            branch,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(work, &["rev-parse", "HEAD"]).trim().to_string()
}

fn merged_pull(number: u64, head: &str, sha: &str, at: i64, comments: Vec<String>) -> Pull {
    Pull {
        number,
        head: head.into(),
        base: "main".into(),
        title: format!("hoist: {head}"),
        body: String::new(),
        state: State::Merged,
        labels: vec![],
        reviewers: vec![],
        auto_merge: None,
        merge_sha: Some(sha.into()),
        final_head: None,
        comments,
        merged_at: Some(at),
    }
}

/// A month of history with known times: two builds up the ladder, the
/// second failing in prod, rolled back, restored; an old landing outside
/// the window. The figures are the ones those times imply.
#[test]
fn a_built_history_gives_known_figures() {
    let w = World::new(Kind::GitHub);
    let repo = Kind::GitHub.repo();
    let work = w.t.path().join("history");
    git(w.t.path(), &["clone", "-q", s(&w.bare), s(&work)]);
    let now = hoist::core::time::now();
    let t0 = now - 20 * DAY;
    let hoist_msg = |env: &str, tag: &str, extra: &str| {
        format!(
            "Update from image update automation\n\nHoist-Policy: ns/api-{env}\nHoist-Image: {IMAGE}:{tag}\nHoist-Environment: {env}\n{extra}"
        )
    };
    let tags =
        |env: &str, tag: &str| format!("api: {tag} # {{\"$imagepolicy\": \"ns:api-{env}:tag\"}}\n");
    let file = |env: &str| format!("clusters/{env}/image-tags.yaml");
    // Outside the 30-day window: a dev landing 40 days ago.
    commit_at(
        &work,
        now - 40 * DAY,
        &hoist_msg("dev", "dev-0000000-0", ""),
        &file("dev"),
        &tags("dev", "dev-0000000-0"),
    );
    // Build 1: dev at t0, staging merged 2 h later, prod merged 1 day
    // later and reconciled 10 minutes after that.
    commit_at(
        &work,
        t0,
        &hoist_msg("dev", "dev-aaaaaaa-1", ""),
        &file("dev"),
        &tags("dev", "dev-aaaaaaa-1"),
    );
    git(&work, &["checkout", "-q", "-b", "hoist/staging"]);
    commit_at(
        &work,
        t0 + 60,
        &hoist_msg("staging", "staging-aaaaaaa", ""),
        &file("staging"),
        &tags("staging", "staging-aaaaaaa"),
    );
    let m1 = merge_at(&work, t0 + 2 * 3600, "hoist/staging");
    git(&work, &["checkout", "-q", "-b", "hoist/prod"]);
    commit_at(
        &work,
        t0 + 3 * 3600,
        &hoist_msg("prod", "prod-aaaaaaa", ""),
        &file("prod"),
        &tags("prod", "prod-aaaaaaa"),
    );
    let m2 = merge_at(&work, t0 + DAY, "hoist/prod");
    // A person's commit between: not hoist's.
    commit_at(
        &work,
        t0 + 2 * DAY,
        "docs: a readme",
        "README.md",
        "hello\n",
    );
    // Build 2, ten days later: dev, staging (1 h), prod (3 h after dev),
    // which fails 5 minutes after its merge; the rollback merges 30
    // minutes after the failure and reconciles 15 minutes later.
    let t1 = t0 + 10 * DAY;
    git(&work, &["checkout", "-q", "main"]);
    commit_at(
        &work,
        t1,
        &hoist_msg("dev", "dev-bbbbbbb-2", ""),
        &file("dev"),
        &tags("dev", "dev-bbbbbbb-2"),
    );
    git(&work, &["branch", "-q", "-D", "hoist/staging"]);
    git(&work, &["checkout", "-q", "-b", "hoist/staging"]);
    commit_at(
        &work,
        t1 + 60,
        &hoist_msg("staging", "staging-bbbbbbb", ""),
        &file("staging"),
        &tags("staging", "staging-bbbbbbb"),
    );
    let m3 = merge_at(&work, t1 + 3600, "hoist/staging");
    git(&work, &["branch", "-q", "-D", "hoist/prod"]);
    git(&work, &["checkout", "-q", "-b", "hoist/prod"]);
    commit_at(
        &work,
        t1 + 2 * 3600,
        &hoist_msg("prod", "prod-bbbbbbb", ""),
        &file("prod"),
        &tags("prod", "prod-bbbbbbb"),
    );
    let m4 = merge_at(&work, t1 + 3 * 3600, "hoist/prod");
    let failed = t1 + 3 * 3600 + 300;
    git(&work, &["checkout", "-q", "-b", "hoist/rollback/prod"]);
    commit_at(
        &work,
        failed + 60,
        &hoist_msg("prod", "prod-aaaaaaa", "Hoist-Rollback: yes\n"),
        &file("prod"),
        &tags("prod", "prod-aaaaaaa"),
    );
    let m5 = merge_at(&work, failed + 1800, "hoist/rollback/prod");
    git(&work, &["push", "-q", "origin", "main"]);
    let note = |ok: bool, at: i64| {
        format!(
            "<!-- hoist -->\n{}\n",
            hoist::propose::gate::marker("prod", ok, at)
        )
    };
    w.forge.configure(repo, |r| {
        r.pulls = vec![
            merged_pull(1, "hoist/staging", &m1, t0 + 2 * 3600, vec![]),
            merged_pull(
                2,
                "hoist/prod",
                &m2,
                t0 + DAY,
                vec![note(true, t0 + DAY + 600)],
            ),
            merged_pull(3, "hoist/staging", &m3, t1 + 3600, vec![]),
            merged_pull(
                4,
                "hoist/prod",
                &m4,
                t1 + 3 * 3600,
                vec![note(false, failed)],
            ),
            merged_pull(
                5,
                "hoist/rollback/prod",
                &m5,
                failed + 1800,
                vec![note(true, failed + 2700)],
            ),
        ];
    });

    let r = w.report(&["--since", "30d", "--output", "json"]);
    r.expect(0, &[]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let prod = figures(&v, IMAGE, "prod");
    assert_eq!(
        prod["deployments"], 2,
        "the rollback is not a deployment: {prod:#}"
    );
    assert_eq!(numbers(&prod["lead_times"]), vec![DAY + 600, 3 * 3600]);
    // The lower middle of an even count: a lead time that happened.
    assert_eq!(prod["lead_time_median"], 3 * 3600);
    assert_eq!(prod["failed"], 1);
    assert_eq!(numbers(&prod["restore_times"]), vec![2700]);
    assert_eq!(prod["still_failing"], 0);
    let staging = figures(&v, IMAGE, "staging");
    assert_eq!(numbers(&staging["lead_times"]), vec![2 * 3600, 3600]);
    assert_eq!(staging["failed"], 0);
    let dev = figures(&v, IMAGE, "dev");
    assert_eq!(
        dev["deployments"], 2,
        "the 40-day-old landing is outside: {dev:#}"
    );
    assert_eq!(v["days"], 30.0);

    // The text: per week = 2 / (30 / 7); medians in words.
    let r = w.report(&["--since", "30d"]);
    r.expect(0, &[]);
    let row = |env: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(IMAGE) && l.contains(&format!(" {env} ")))
            .unwrap_or_else(|| panic!("no {env} row:\n{}", r.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("prod"),
        [IMAGE, "prod", "2", "0.5", "3h", "00m", "1", "(50%)", "45m"],
        "{}",
        r.stdout
    );
    assert_eq!(
        row("staging"),
        [IMAGE, "staging", "2", "0.5", "1h", "00m", "0", "(0%)", "-"]
    );

    // A shorter window: only build 2 (its lead time still reaches back
    // to dev, ten days ago).
    let r = w.report(&[
        "--since",
        &format!("{}h", (now - t1) / 3600),
        "--output",
        "json",
    ]);
    r.expect(0, &[]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        numbers(&figures(&v, IMAGE, "prod")["lead_times"]),
        vec![3 * 3600]
    );

    // Bad windows are usage errors naming the flag.
    w.report(&["--since", "last tuesday"])
        .expect(2, &["--since \"last tuesday\""]);
}
