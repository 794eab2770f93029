//! `hoist serve` end to end: the real registry, real Git remotes and the
//! fake forge; webhooks posted over loopback as GitHub, the registry and
//! Flux send them.

use crate::common;
use common::forge::State;
use common::git::{count, git, show};
use common::registry::Registry;
use common::serve::{Server, eventually, server_toml};
use common::world::{Kind, World};
use common::*;

/// Push build `n` of `api` (from source commit `sha`) under every
/// rung's tag.
fn build(reg: &Registry, sha: &str, n: usize) {
    reg.push_build(
        "api",
        &[
            format!("dev-{sha}-{n}"),
            format!("staging-{sha}"),
            format!("prod-{sha}"),
        ],
        &n.to_string(),
    );
}

/// Wait until `srv` has finished `n` runs (the first is at start).
#[track_caller]
fn runs_finished(srv: &Server, n: usize) {
    assert!(
        eventually(90, || srv.log().matches("run finished").count() >= n),
        "{} run(s) expected:\n{}",
        n,
        srv.log()
    );
}

/// A fleet whose images live in `reg`, every rung at build 1 (pushed),
/// and a serve config for it with `server_extra` in `[server]`.
fn fleet(reg: &Registry, kind: Kind, server_extra: &str) -> (World, std::path::PathBuf) {
    let w = World::at(&reg.host(), kind, &["api"], "", "");
    let s1 = &w.shas[0];
    build(reg, s1, 1);
    let toml = show(&w.bare, "main", "hoist.toml");
    let cfg = write(
        w.t.path(),
        "serve.toml",
        &format!("{toml}{}", server_toml(server_extra)),
    );
    (w, cfg)
}

/// `hoist comment --event` on `event` (a payload's JSON, written to `name`)
/// against `w`'s remote with `config`.
fn comment_cli(
    w: &World,
    name: &str,
    event: &str,
    config: &std::path::Path,
    state: &std::path::Path,
) -> Run {
    let ev = write(w.t.path(), name, event);
    let url = common::git::file_url(&w.bare);
    hoist_env(
        &[
            "comment",
            "--event",
            s(&ev),
            "--url",
            &url,
            "--config",
            s(config),
            "--state-dir",
            s(state),
        ],
        &[("HOIST_TEST_FORGE_TOKEN", common::forge::TOKEN.to_string())],
    )
}

fn comment(pull: u64, id: u64, user: &str, body: &str) -> String {
    serde_json::json!({
        "action": "created",
        "issue": { "number": pull, "pull_request": { "url": "x" } },
        "comment": { "id": id, "body": body, "user": { "login": user, "type": "User" } },
        "repository": { "full_name": "acme/fleet" },
    })
    .to_string()
}

fn flux_event(sha: &str, severity: &str, reason: &str) -> String {
    serde_json::json!({
        "involvedObject": { "kind": "Kustomization", "namespace": "flux-system", "name": "apps" },
        "severity": severity,
        "timestamp": hoist::core::time::format(hoist::core::time::now()),
        "message": format!("Applied revision: main@sha1:{sha}"),
        "reason": reason,
        "reportingController": "kustomize-controller",
        "metadata": { "revision": format!("main@sha1:{sha}"), "cluster": "staging" },
    })
    .to_string()
}

/// Two fleets whose images live in one token-authenticated registry share
/// the process's registry client: one token for the registry and scope,
/// not one per fleet (nor per run).
#[test]
fn fleets_that_name_one_registry_share_one_client_and_its_tokens() {
    use common::token::TokenService;
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let ts = std::sync::Arc::new(TokenService::start(dir.path(), &[], &["api"]));
    let reg = Registry::start_token(ts.clone());
    let (a, cfg_a) = fleet(&reg, Kind::GitHub, "");
    let (_b, cfg_b) = fleet(&reg, Kind::GitHub, "");
    let state = a.t.path().join("state");
    let before = ts.requests.load(SeqCst);
    let srv = Server::start_fleets(&[&cfg_a, &cfg_b], &state, &[]);
    // Each fleet's first run (at start) scans api and checks its digests.
    runs_finished(&srv, 2);
    assert_eq!(
        ts.requests.load(SeqCst) - before,
        1,
        "one token for {}/api's pull scope, shared by both fleets:\n{}",
        reg.host(),
        srv.log()
    );
}

#[test]
fn a_registry_event_climbs_the_ladder_and_comments_and_flux_report_back() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(
        &reg,
        Kind::GitHub,
        "[[server.flux]]\nenvironment = \"staging\"\ncluster = \"staging\"\n",
    );
    // Staging also reports as GitHub deployments.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "mode = \"auto-merge\"",
        "mode = \"auto-merge\"\nreport = \"deployments\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let [s1, s2] = [&w.shas[0], &w.shas[1]];
    let state = w.t.path().join("state");
    let srv = Server::start(&cfg, &state, &[]);
    assert_eq!(srv.get("/healthz").status, 200);
    assert_eq!(srv.get("/readyz").status, 200);
    // The first run (at start) finds every rung where it should be.
    runs_finished(&srv, 1);
    let start = count(&w.bare, "main");

    // Build 2 lands in the registry; its push notification drives the
    // ladder: dev pushed, staging merged, prod proposed.
    build(&reg, s2, 2);
    let r = srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"));
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(r.body.contains("accepted"), "{}", r.body);
    runs_finished(&srv, 2);
    assert_eq!(w.pulls().len(), 2, "{}", srv.log());
    assert!(w.main_has("dev", &format!("dev-{s2}-2")));
    assert!(w.main_has("staging", &format!("staging-{s2}")));
    assert!(
        w.main_has("prod", &format!("prod-{s1}")),
        "prod waits for a human"
    );
    let pulls = w.pulls();
    assert_eq!(pulls[0].state, State::Merged);
    assert_eq!(pulls[1].state, State::Open);
    assert_eq!(pulls[1].head, "hoist/prod");
    assert!(count(&w.bare, "main") > start);

    // Bad deliveries do no work.
    let forged = srv.request(
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "issue_comment".into()),
            ("X-GitHub-Delivery", "forged".into()),
            ("X-Hub-Signature-256", format!("sha256={}", "0".repeat(64))),
        ],
        comment(2, 1, "alice", "/hoist promote prod").as_bytes(),
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    let wrong_token = srv.request(
        "POST",
        "/hooks/registry",
        &[("Authorization", "Bearer nope".into())],
        b"{}",
    );
    assert_eq!(wrong_token.status, 401);
    assert_eq!(srv.github("push", "d-malformed", "{not json").status, 400);
    let unknown = srv.github("star", "d-star", "{}");
    assert_eq!(
        (unknown.status, unknown.body.contains("ignored")),
        (202, true)
    );
    // GitHub's default content type: `payload=<json>`, form-encoded; the
    // signature is over the raw body.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "payload",
            r#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#,
        )
        .finish();
    let sig = hoist::serve::hooks::sign(common::serve::GITHUB_SECRET.as_bytes(), form.as_bytes());
    let formed = srv.request(
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "ping".into()),
            ("X-GitHub-Delivery", "d-form".into()),
            ("X-Hub-Signature-256", sig),
            ("Content-Type", "application/x-www-form-urlencoded".into()),
        ],
        form.as_bytes(),
    );
    assert_eq!(formed.status, 202, "{}", formed.body);
    assert!(formed.body.contains("ignored: ping"), "{}", formed.body);
    let big = "x".repeat(2 << 20);
    assert_eq!(srv.github("push", "d-big", &big).status, 413);

    // A read-only user is refused, politely; nothing is written but the reply.
    w.forge.reset_calls();
    let r = srv.github(
        "issue_comment",
        "d-carol",
        &comment(2, 501, "carol", "/hoist promote prod"),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        eventually(30, || w.pulls()[1].comments.len() == 1),
        "{}",
        srv.log()
    );
    let reply = w.pulls()[1].comments[0].clone();
    assert!(
        reply.contains("@carol") && reply.contains("write permission"),
        "{reply}"
    );
    let writes = w.forge.writes();
    assert_eq!(
        writes,
        vec![(
            "POST".to_string(),
            "/repos/acme/fleet/issues/2/comments".to_string()
        )],
        "only the reply"
    );
    // The same delivery again is recognised and ignored.
    let again = srv.github(
        "issue_comment",
        "d-carol",
        &comment(2, 501, "carol", "/hoist promote prod"),
    );
    assert_eq!(again.status, 200);
    assert!(again.body.contains("already received"), "{}", again.body);

    // A human closes prod's pull request; bob (write) promotes by comment
    // on staging's: a new pull request, reactions, and a reply.
    w.forge
        .configure("acme/fleet", |r| r.pulls[1].state = State::Closed);
    let r = srv.github(
        "issue_comment",
        "d-bob",
        &comment(1, 502, "bob", "Ship it.\n/hoist promote prod"),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(eventually(60, || w.pulls().len() == 3), "{}", srv.log());
    let p3 = &w.pulls()[2];
    assert_eq!(p3.head, "hoist/prod");
    assert_eq!(p3.state, State::Open);
    assert!(eventually(30, || !w.pulls()[0].comments.is_empty()));
    let reply = &w.pulls()[0].comments[0];
    assert!(reply.contains("opened pull request #3"), "{reply}");
    let reactions = w.forge.repo("acme/fleet").reactions;
    assert_eq!(
        reactions,
        vec![(502, "eyes".to_string()), (502, "rocket".to_string())]
    );

    // Flux reports staging reconciled at the merge commit: one status,
    // not re-posted when Flux repeats itself; a new state is posted.
    let merged = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    let ctx = "hoist/staging/kustomization/apps";
    let statuses = |w: &World| {
        w.forge
            .repo("acme/fleet")
            .statuses
            .get(&merged)
            .map(|v| {
                v.iter()
                    .filter(|s| s["context"] == ctx)
                    .map(|s| s["state"].as_str().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let ev = flux_event(&merged, "info", "ReconciliationSucceeded");
    assert_eq!(srv.flux(&ev).status, 202);
    assert!(
        eventually(30, || statuses(&w) == ["success"]),
        "{:?}\n{}",
        statuses(&w),
        srv.log()
    );
    assert_eq!(srv.flux(&ev).status, 202);
    assert_eq!(
        srv.flux(&flux_event(&merged, "info", "Progressing")).status,
        202
    );
    assert!(
        eventually(30, || statuses(&w) == ["success", "pending"]),
        "{:?}",
        statuses(&w)
    );
    // …and as one GitHub deployment of that commit to staging, whose
    // statuses follow (newest first).
    let deployment_states = || {
        let d = w.forge.repo("acme/fleet").deployments;
        assert!(
            d.len() <= 1,
            "one deployment per commit and environment: {d:?}"
        );
        d.first()
            .filter(|d| d["environment"] == "staging" && d["sha"] == merged.as_str())
            .map(|d| {
                d["statuses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["state"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert!(
        eventually(30, || deployment_states() == ["in_progress", "success"]),
        "{:?}",
        deployment_states()
    );
    let bad_sig = srv.request(
        "POST",
        "/hooks/flux",
        &[("X-Signature", "sha256=00".into())],
        ev.as_bytes(),
    );
    assert_eq!(bad_sig.status, 401);
    let other =
        flux_event(&merged, "info", "ReconciliationSucceeded").replace("\"staging\"", "\"eu-9\"");
    let r = srv.flux(&other);
    assert!(r.body.contains("no [[server.flux]] route"), "{}", r.body);

    let metrics = || srv.get("/metrics").body;
    for needle in [
        "hoist_webhook_deliveries_total{hook=\"github\",outcome=\"unauthorized\"} 1",
        "hoist_webhook_deliveries_total{hook=\"github\",outcome=\"duplicate\"} 1",
        "hoist_webhook_deliveries_total{hook=\"registry\",outcome=\"accepted\"} 1",
        "hoist_pull_requests_total{action=\"merged\"} 1",
        "hoist_event_to_commit_seconds_count 1",
        "hoist_reconcile_statuses_total 2",
        "hoist_tags_seen 6",
    ] {
        assert!(
            eventually(10, || metrics().contains(needle)),
            "{needle} missing:\n{}",
            metrics()
        );
    }
    // What the bot asked of whom, by route class.
    let m = metrics();
    let forge_host = m
        .lines()
        .find(|l| l.contains("route=\"POST /repos/{repo}/pulls\""))
        .unwrap_or_else(|| panic!("no pull request creations counted:\n{m}"));
    assert!(
        forge_host.starts_with("hoist_http_requests_total{service=\"forge\",host=\"127.0.0.1:"),
        "{forge_host}"
    );
    assert!(
        m.contains(&format!(
            "hoist_http_requests_total{{service=\"registry\",host=\"{}\",route=\"GET /v2/{{name}}/tags/list\"}}",
            reg.host()
        )),
        "{m}"
    );
    let (code, log) = srv.terminate();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("hoist serve: stopped"), "{log}");
    assert!(!log.contains(common::forge::TOKEN), "no token in logs");
}

#[test]
fn two_replicas_given_the_same_event_make_one_commit_and_one_pull_request_each() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let s2 = &w.shas[1];
    let a = Server::start(&cfg, &w.t.path().join("state-a"), &[]);
    let b = Server::start(&cfg, &w.t.path().join("state-b"), &[]);
    for s in [&a, &b] {
        runs_finished(s, 1);
    }
    let start = count(&w.bare, "main");
    build(&reg, s2, 2);
    // Both replicas get the delivery at the same moment.
    let host = reg.host();
    std::thread::scope(|sc| {
        for s in [&a, &b] {
            let host = host.clone();
            sc.spawn(move || {
                let r = s.registry_push(&host, "api", &format!("dev-{s2}-2"));
                assert_eq!(r.status, 202, "{}", r.body);
            });
        }
    });
    for s in [&a, &b] {
        runs_finished(s, 2);
    }
    // One dev commit and one staging merge, whoever won each race.
    assert_eq!(
        count(&w.bare, "main"),
        start + 2,
        "{}\n{}",
        a.log(),
        b.log()
    );
    assert!(w.main_has("dev", &format!("dev-{s2}-2")));
    assert!(w.main_has("staging", &format!("staging-{s2}")));
    let pulls = w.pulls();
    // When one replica merges between the other's last look and its
    // `create` (GitHub then opens a second pull request: a squash merge
    // leaves the head outside the base), the second closes its duplicate
    // at once, unmerged and saying why; it never merges the change twice.
    let (closed, kept): (Vec<_>, Vec<_>) = pulls.iter().partition(|p| p.state == State::Closed);
    let heads: Vec<&str> = kept.iter().map(|p| p.head.as_str()).collect();
    assert_eq!(
        heads,
        ["hoist/staging", "hoist/prod"],
        "one open or merged pull request per branch"
    );
    assert!(closed.len() <= 1, "{closed:?}");
    for p in closed {
        assert!(p.merge_sha.is_none(), "{p:?}");
        assert!(
            p.comments
                .iter()
                .any(|c| c.contains("merged this same change")),
            "{p:?}"
        );
    }
    for s in [a, b] {
        let (code, log) = s.terminate();
        assert_eq!(code, 0, "{log}");
    }
}

#[test]
fn sigterm_during_a_run_leaves_no_partial_state_and_a_restart_converges() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let s2 = &w.shas[1];
    let state = w.t.path().join("state");
    let srv = Server::start(&cfg, &state, &[]);
    runs_finished(&srv, 1);
    build(&reg, s2, 2);
    assert_eq!(
        srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"))
            .status,
        202
    );
    // Stop while the event's run is under way.
    assert!(eventually(60, || srv.log().contains("pushed\n")
        || srv.log().contains("why=127.0.0.1")));
    let (code, log) = srv.terminate();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("hoist serve: shutting down") && log.contains("hoist serve: stopped"),
        "{log}"
    );
    eprintln!(
        "stopped {} the run finished",
        if log.contains("hoist is shutting down") {
            "before"
        } else {
            "after"
        }
    );
    // Whatever was done is whole: the repository is sound, and each PR
    // that exists has its branch.
    git(&w.bare, &["fsck", "--no-progress"]);
    for p in w.pulls() {
        if p.state == State::Open {
            assert!(
                w.branches().contains(&p.head),
                "{} without its branch",
                p.head
            );
        }
    }
    // A restart finishes the climb…
    let srv = Server::start(&cfg, &state, &[]);
    runs_finished(&srv, 1);
    assert!(w.main_has("dev", &format!("dev-{s2}-2")), "{}", srv.log());
    assert!(w.main_has("staging", &format!("staging-{s2}")));
    let heads: Vec<String> = w.pulls().into_iter().map(|p| p.head).collect();
    assert_eq!(heads, ["hoist/staging", "hoist/prod"]);
    srv.terminate();
    // …and the next start has nothing left to write.
    w.forge.reset_calls();
    let srv = Server::start(&cfg, &state, &[]);
    runs_finished(&srv, 1);
    assert_eq!(w.forge.writes(), Vec::<(String, String)>::new());
    srv.terminate();
}

/// SIGTERM with a comment command queued behind a run: the run stops at
/// the end of its rung, and the command that was accepted (202) is still
/// answered before the process exits; the rest of the climb waits for the
/// next start.
#[test]
fn sigterm_still_answers_the_comments_it_accepted() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let [s2, s3] = [&w.shas[1], &w.shas[2]];
    let state = w.t.path().join("state");
    let srv = Server::start(&cfg, &state, &[]);
    runs_finished(&srv, 1);
    // Build 2 climbs: staging merged, prod's promotion open.
    build(&reg, s2, 2);
    let push = |sha: &str, n: usize| {
        srv.registry_push(&reg.host(), "api", &format!("dev-{sha}-{n}"))
            .status
    };
    assert_eq!(push(s2, 2), 202);
    runs_finished(&srv, 2);
    let open = w
        .pulls()
        .into_iter()
        .find(|p| p.state == State::Open)
        .expect("an open promotion");
    // A slow forge: build 3's run takes seconds, so the comment queues.
    w.forge.set_latency(std::time::Duration::from_millis(150));
    build(&reg, s3, 3);
    assert_eq!(push(s3, 3), 202);
    assert!(eventually(60, || srv.log().matches("run started").count() >= 3));
    let reply = srv.github(
        "issue_comment",
        "drain-1",
        &comment(open.number, 77, "bob", "/hoist help"),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let (code, log) = srv.terminate();
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("left unanswered"), "{log}");
    let answered = w
        .pulls()
        .into_iter()
        .find(|p| p.number == open.number)
        .unwrap()
        .comments;
    assert!(
        answered.iter().any(|c| c.contains("/hoist promote")),
        "no reply to /hoist help before exit: {answered:?}\n{log}"
    );
    // The run was cut at a rung's end; the next start finishes it.
    w.forge.set_latency(std::time::Duration::ZERO);
    let srv = Server::start(&cfg, &state, &[]);
    runs_finished(&srv, 1);
    assert!(
        w.main_has("staging", &format!("staging-{s3}")),
        "{}",
        srv.log()
    );
    srv.terminate();
}

/// A fleet without a ladder (policies only): `n` registry events, each a
/// new dev build, each awaited as a commit on main. Prints the latency
/// from the POST to the commit; asserts only that every event landed.
#[test]
fn event_to_commit_latency_over_fifty_registry_events() {
    let reg = Registry::start(None);
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    let image = format!("{}/app", reg.host());
    write(
        &content,
        "flux/app.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app, namespace: ns}}\nspec: {{image: {image}, interval: 1h, insecure: true}}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: app, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: app}}\n  filterTags: {{pattern: '^dev-(?P<n>\\d+)$', extract: '$n'}}\n  policy: {{numerical: {{order: asc}}}}\n"
        ),
    );
    write(
        &content,
        "clusters/dev/image-tags.yaml",
        "app: dev-1 # {\"$imagepolicy\": \"ns:app:tag\"}\n",
    );
    let bare = common::git::bare_from(t.path(), "fleet", &content);
    reg.push_build("app", &["dev-1".to_string()], "1");
    let cfg = write(
        t.path(),
        "serve.toml",
        &format!(
            "write_paths = [\"clusters/**/image-tags.yaml\"]\n[git]\nurl = \"{}\"\n{}",
            common::git::file_url(&bare),
            server_toml("")
        ),
    );
    let srv = Server::start(&cfg, &t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    let mut ms = Vec::new();
    for n in 2..=51 {
        let tag = format!("dev-{n}");
        reg.push_build("app", std::slice::from_ref(&tag), &n.to_string());
        let t0 = std::time::Instant::now();
        assert_eq!(srv.registry_push(&reg.host(), "app", &tag).status, 202);
        assert!(
            eventually(60, || show(&bare, "main", "clusters/dev/image-tags.yaml")
                .contains(&format!("app: {tag} #"))),
            "{tag} never landed:\n{}",
            srv.log()
        );
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    assert_eq!(count(&bare, "main"), 51, "one commit per event");
    assert!(
        srv.log()
            .contains("planning only the files that name these images"),
        "image events plan through the marker index"
    );
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "event-to-commit over {} events (POST → commit visible, polled every 25 ms): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms.len(),
        pct(0.5),
        pct(0.99),
        ms[ms.len() - 1]
    );
    srv.terminate();
}

/// A fleet-wide stop (`hoist hold --all`, `/hoist hold all`: the same
/// persisted hold on every rung) and a freeze over the holidays (a date
/// range): nothing moves by itself, and a person's explicit promotion
/// needs `force`, which its pull request then says.
#[test]
fn a_fleet_wide_hold_and_a_holiday_freeze() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let [s2, s3] = [&w.shas[1], &w.shas[2]];
    build(&reg, s2, 2);
    let state = w.t.path().join("state");
    let url = common::git::file_url(&w.bare);
    let env = [("HOIST_TEST_FORGE_TOKEN", common::forge::TOKEN.to_string())];
    let cli = |args: &[&str], config: &std::path::Path| {
        let mut all = args.to_vec();
        all.extend([
            "--url",
            &url,
            "--config",
            s(config),
            "--state-dir",
            s(&state),
        ]);
        hoist_env(&all, &env)
    };
    cli(&["run"], &cfg).expect(0, &["prod: opened pull request #2"]);
    let holds = |w: &World| -> Vec<String> {
        let mut h: Vec<String> = w
            .branches()
            .into_iter()
            .filter(|b| b.starts_with("hoist-hold/"))
            .collect();
        h.sort();
        h
    };

    // An incident: everything stops, from a terminal.
    cli(&["hold", "--all"], &cfg).expect(
        0,
        &[
            "hoist hold: dev is on hold",
            "hoist hold: staging is on hold",
            "hoist hold: prod is on hold",
        ],
    );
    assert_eq!(
        holds(&w),
        ["hoist-hold/dev", "hoist-hold/prod", "hoist-hold/staging"]
    );
    build(&reg, s3, 3);
    cli(&["run"], &cfg).expect(0, &["dev: on hold", "staging: on hold", "prod: on hold"]);
    assert!(
        w.main_has("dev", &format!("dev-{s2}-2")),
        "dev did not move"
    );
    cli(&["hold", "prod"], &cfg).expect(0, &["hoist hold: prod was already on hold"]);
    cli(&["hold", "qa"], &cfg).expect(2, &["no environment \"qa\""]);
    cli(&["release", "--all"], &cfg).expect(0, &["hoist release: dev is released"]);
    assert!(holds(&w).is_empty());

    // The same from a pull request comment; a reader may not.
    let say = |id: u64, user: &str, text: &str, config: &std::path::Path| {
        let ev = write(
            w.t.path(),
            &format!("ev-{id}.json"),
            &comment(2, id, user, text),
        );
        cli(&["comment", "--event", s(&ev)], config)
    };
    let reply = || w.pulls()[1].comments.last().cloned().unwrap_or_default();
    say(30, "carol", "/hoist hold all", &cfg).expect(0, &["0 command(s) run, 1 refused"]);
    assert!(holds(&w).is_empty());
    say(31, "bob", "/hoist hold all", &cfg).expect(0, &["1 command(s) run"]);
    assert!(
        reply().contains("every environment is on hold"),
        "{}",
        reply()
    );
    assert_eq!(holds(&w).len(), 3);
    say(32, "bob", "/hoist release all", &cfg).expect(0, &["1 command(s) run"]);
    assert!(holds(&w).is_empty());

    // Prod is frozen from yesterday to tomorrow: the run carries build 3
    // to staging and waits at prod.
    let day =
        |d: i64| hoist::core::time::format(hoist::core::time::now() + d * 86_400)[..10].to_string();
    let frozen = write(
        w.t.path(),
        "frozen.toml",
        &std::fs::read_to_string(&cfg).unwrap().replace(
            "labels = [\"promotion\", \"prod\"]\n",
            &format!(
                "labels = [\"promotion\", \"prod\"]\nfreeze = [\"{} - {} Europe/Berlin\"]\n",
                day(-1),
                day(1)
            ),
        ),
    );
    cli(&["run"], &frozen).expect(
        0,
        &["staging: merged pull request #3", "prod: waits: frozen ("],
    );
    let prod_body = || w.pulls()[1].body.clone();
    assert!(!prod_body().contains(&format!("prod-{s3}")), "prod waits");

    // An explicit promotion is refused without force, from a comment and
    // from a terminal, and writes nothing.
    say(33, "bob", "/hoist promote prod", &frozen).expect(0, &["1 command(s) run"]);
    assert!(
        reply().contains("`prod` is frozen") && reply().contains("/hoist promote prod force"),
        "{}",
        reply()
    );
    cli(&["promote", "--from", "staging", "--to", "prod"], &frozen)
        .expect(1, &["prod is frozen", "--force promotes anyway"]);
    assert!(!prod_body().contains(&format!("prod-{s3}")));
    assert_eq!(w.pulls().len(), 3, "no pull request opened");

    // With force it lands, and the pull request says who and why.
    say(34, "bob", "/hoist promote prod force", &frozen).expect(0, &["1 command(s) run"]);
    let body = prod_body();
    assert!(body.contains(&format!("prod-{s3}")), "{body}");
    assert!(
        body.contains("Promoted during the freeze") && body.contains("@bob"),
        "{body}"
    );
    assert_eq!(w.pulls().len(), 3, "the open prod pull request was updated");
}

/// `HOIST_LOG_FORMAT=json` (as the deploy base and the chart set it): one
/// JSON object per line, each rung's event carrying the fleet, the
/// environment, the run id and the outcome as fields.
#[test]
fn the_bot_logs_json_lines_a_log_pipeline_can_filter() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let state = w.t.path().join("state");
    let srv = Server::start(&cfg, &state, &[("HOIST_LOG_FORMAT", "json".into())]);
    runs_finished(&srv, 1);
    let log = srv.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!events.is_empty(), "{log}");
    let rungs: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["environment"].is_string())
        .collect();
    let envs: Vec<&str> = rungs
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["dev", "staging", "prod"], "{log}");
    for e in &rungs {
        assert_eq!(e["outcome"], "done", "{e}");
        assert_eq!(e["level"], "INFO", "{e}");
        assert!(e["fleet"].is_string(), "{e}");
        assert_eq!(e["span"]["run_id"], 1, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    srv.terminate();
}

/// `[forge] max_requests_per_run`: once a run has made that many forge
/// requests the rest waits for the next run, said as deferred (not an
/// error), and every run reports its requests by host and route class.
#[test]
fn a_forge_request_budget_defers_the_rest_to_the_next_run() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let s2 = &w.shas[1];
    build(&reg, s2, 2);
    let state = w.t.path().join("state");
    let url = common::git::file_url(&w.bare);
    let env = [("HOIST_TEST_FORGE_TOKEN", common::forge::TOKEN.to_string())];
    let text = std::fs::read_to_string(&cfg).unwrap();
    let tight = write(
        w.t.path(),
        "tight.toml",
        &text.replacen(
            "token_env = \"HOIST_TEST_FORGE_TOKEN\"\n",
            "token_env = \"HOIST_TEST_FORGE_TOKEN\"\nmax_requests_per_run = 1\n",
            1,
        ),
    );
    let run = |config: &std::path::Path| {
        hoist_env(
            &[
                "run",
                "--url",
                &url,
                "--config",
                s(config),
                "--state-dir",
                s(&state),
                "--output",
                "json",
            ],
            &env,
        )
    };
    // dev's push costs its status and a look at the statuses already on
    // the commit (two requests): staging and prod wait.
    let r = run(&tight);
    r.expect(
        0,
        &[
            "dev: pushed",
            "staging: deferred to the next run: 2 forge requests made, max_requests_per_run = 1",
            "prod: deferred to the next run",
            "request(s): ",
        ],
    );
    assert!(w.pulls().is_empty(), "no pull request opened");
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let outcomes: Vec<&str> = out["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes[0].starts_with("pushed "), "{outcomes:?}");
    assert_eq!(outcomes[1..], ["deferred", "deferred"]);
    let forge_calls: Vec<(&str, u64)> = out["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "forge")
        .map(|c| (c["route"].as_str().unwrap(), c["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        forge_calls.iter().map(|c| c.1).sum::<u64>(),
        2,
        "{forge_calls:?}"
    );
    assert!(
        forge_calls.contains(&("POST /repos/{repo}/statuses/{id}", 1)),
        "{forge_calls:?}"
    );
    assert!(
        out["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["service"] == "registry" && c["route"] == "GET /v2/{name}/tags/list"),
        "{out}"
    );
    // The next run without the cap takes it up.
    run(&cfg).expect(
        0,
        &[
            "staging: merged pull request #1",
            "prod: opened pull request #2",
        ],
    );
    let bad = write(
        w.t.path(),
        "zero.toml",
        &text.replacen(
            "token_env = \"HOIST_TEST_FORGE_TOKEN\"\n",
            "token_env = \"HOIST_TEST_FORGE_TOKEN\"\nmax_requests_per_run = 0\n",
            1,
        ),
    );
    run(&bad).expect(
        2,
        &["forge.max_requests_per_run", "must be 1 or more, not 0"],
    );
}

/// `hoist comment --event FILE` (a CI job's `issue_comment`): hold,
/// release and rollback, each persisted where a restart or a second
/// replica sees it.
#[test]
fn comment_commands_hold_release_and_rollback() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitHub, "");
    let [s2, s3] = [&w.shas[1], &w.shas[2]];
    build(&reg, s2, 2);
    let state = w.t.path().join("state");
    let url = common::git::file_url(&w.bare);
    let env = [("HOIST_TEST_FORGE_TOKEN", common::forge::TOKEN.to_string())];
    let run = || hoist_env(&["run", "--url", &url, "--state-dir", s(&state)], &env);
    run().expect(
        0,
        &[
            "staging: merged pull request #1",
            "prod: opened pull request #2",
        ],
    );
    let say = |pull: u64, id: u64, user: &str, text: &str| {
        let ev = format!("ev-{id}.json");
        comment_cli(&w, &ev, &comment(pull, id, user, text), &cfg, &state)
    };
    let last_reply = |pull: usize| {
        w.pulls()[pull - 1]
            .comments
            .last()
            .cloned()
            .unwrap_or_default()
    };

    // A read-only user cannot hold.
    say(1, 10, "carol", "/hoist hold staging").expect(0, &["0 command(s) run, 1 refused"]);
    assert!(!w.branches().iter().any(|b| b.starts_with("hoist-hold/")));

    // bob holds staging: build 3 reaches dev only.
    say(1, 11, "bob", "/hoist hold staging").expect(0, &["1 command(s) run"]);
    assert!(
        last_reply(1).contains("`staging` is on hold"),
        "{}",
        last_reply(1)
    );
    assert!(w.branches().contains(&"hoist-hold/staging".to_string()));
    build(&reg, s3, 3);
    run().expect(0, &["dev: pushed", "staging: on hold"]);
    assert!(w.main_has("dev", &format!("dev-{s3}-3")));
    assert!(w.main_has("staging", &format!("staging-{s2}")));
    say(1, 12, "bob", "/hoist hold staging").expect(0, &[]);
    assert!(
        last_reply(1).contains("already on hold"),
        "{}",
        last_reply(1)
    );

    // Released, the next run carries build 3 on.
    say(1, 13, "bob", "/hoist release staging").expect(0, &["1 command(s) run"]);
    assert!(!w.branches().contains(&"hoist-hold/staging".to_string()));
    run().expect(0, &["staging: merged pull request #3"]);
    assert!(w.main_has("staging", &format!("staging-{s3}")));

    // Anyone may ask for help; plan and retry need write permission.
    say(2, 20, "carol", "/hoist help").expect(0, &["1 command(s) run"]);
    assert!(
        last_reply(2).contains("/hoist promote <env>"),
        "{}",
        last_reply(2)
    );
    say(2, 21, "bob", "/hoist plan").expect(0, &["1 command(s) run"]);
    let reply = last_reply(2);
    assert!(
        reply.contains("`prod` would change 1 file(s)")
            && reply.contains(&format!("+api: prod-{s3}")),
        "{reply}"
    );
    say(2, 22, "bob", "/hoist retry").expect(0, &["1 command(s) run"]);
    assert!(
        last_reply(2).contains("ran the ladder again"),
        "{}",
        last_reply(2)
    );
    assert!(last_reply(2).contains("prod: "), "{}", last_reply(2));

    // Rolling back staging's last promotion (#3: s2 → s3), commented on
    // that pull request: a pull request for review, and staging held.
    say(3, 14, "alice", "/hoist rollback").expect(0, &["1 command(s) run"]);
    let reply = last_reply(3);
    assert!(
        reply.contains("rolling back pull request #3") && reply.contains("on hold"),
        "{reply}"
    );
    let pulls = w.pulls();
    let rb = pulls
        .iter()
        .find(|p| p.head == "hoist/rollback/staging")
        .expect("a rollback pull request");
    assert_eq!(rb.state, State::Open, "a human merges rollbacks");
    assert!(w.has(
        "hoist/rollback/staging",
        "staging",
        "api",
        &format!("staging-{s2}")
    ));
    assert!(
        w.main_has("staging", &format!("staging-{s3}")),
        "nothing merged yet"
    );
    assert!(w.branches().contains(&"hoist-hold/staging".to_string()));
    // The next run leaves held staging (and its rollback) alone.
    let head = git(&w.bare, &["rev-parse", "hoist/rollback/staging"]);
    run().expect(0, &["staging: on hold"]);
    assert_eq!(git(&w.bare, &["rev-parse", "hoist/rollback/staging"]), head);
    assert!(w.main_has("staging", &format!("staging-{s3}")));
    assert!(
        w.pulls()
            .iter()
            .any(|p| p.head == "hoist/rollback/staging" && p.state == State::Open)
    );
}

/// Azure DevOps service hooks: Basic auth (or X-Hoist-Secret); Azure
/// cannot vouch for a commenter's permission, so only `approvers` can.
/// A GitLab Note Hook for note `id` by `user` on merge request `iid`.
fn note(iid: u64, id: u64, user: &str, body: &str) -> String {
    serde_json::json!({
        "object_kind": "note",
        "event_type": "note",
        "user": { "id": 7, "username": user, "name": user },
        "project": { "id": 42, "path_with_namespace": "acme/platform/fleet" },
        "object_attributes": { "id": id, "note": body, "noteable_type": "MergeRequest",
                               "system": false, "action": "create" },
        "merge_request": { "iid": iid, "state": "opened" },
    })
    .to_string()
}

/// The bot on GitLab: a wrong X-Gitlab-Token is 401, and so is a delivery
/// whose signing-token signature is missing, wrong or stale; a replayed
/// Event-UUID is ignored, an oversize body is 413; a Reporter's `/hoist promote prod`
/// is refused with a reply and nothing else written; a Developer's opens
/// prod's merge request, with 👀 and 🚀 awarded on the note; a merged
/// merge request's hook plans again.
#[test]
fn gitlab_notes_drive_the_ladder_by_access_level() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::GitLab, "");
    w.forge.configure(Kind::GitLab.repo(), |r| {
        r.permissions.insert("dave".into(), "reporter".into());
        r.permissions.insert("bob".into(), "developer".into());
    });
    let srv = Server::start(&cfg, &w.t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    let s2 = &w.shas[1];
    build(&reg, s2, 2);
    assert_eq!(
        srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"))
            .status,
        202
    );
    runs_finished(&srv, 2);
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 2, "{}", srv.log());
    assert_eq!(pulls[0].state, State::Merged);
    assert_eq!(
        (pulls[1].head.as_str(), &pulls[1].state),
        ("hoist/prod", &State::Open)
    );

    let wrong = srv.gitlab(
        "Note Hook",
        "u-0",
        &note(2, 500, "bob", "/hoist plan"),
        Some("nope"),
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let plan = note(2, 500, "bob", "/hoist plan");
    let headers = Server::gitlab_headers("Note Hook", "u-s", None);
    let r = srv.request("POST", "/hooks/gitlab", &headers, plan.as_bytes());
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("webhook-signature"), "{}", r.body);
    let now = jiff::Timestamp::now().as_second();
    for (ts, signed, why) in [
        (now - 600, plan.clone(), "5 minutes"),
        (
            now,
            note(2, 500, "bob", "/hoist promote prod"),
            "does not match",
        ),
    ] {
        let mut h = headers.clone();
        h.extend(Server::gitlab_signature("u-s", &ts.to_string(), &signed));
        let r = srv.request("POST", "/hooks/gitlab", &h, plan.as_bytes());
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    let big = "x".repeat(2 << 20);
    assert_eq!(srv.gitlab("Push Hook", "u-big", &big, None).status, 413);

    // A Reporter is refused; the reply is the only write.
    w.forge.reset_calls();
    let r = srv.gitlab(
        "Note Hook",
        "u-dave",
        &note(2, 501, "dave", "/hoist promote prod"),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        eventually(30, || w.pulls()[1].comments.len() == 1),
        "{}",
        srv.log()
    );
    let reply = w.pulls()[1].comments[0].clone();
    assert!(
        reply.contains("@dave") && reply.contains("write permission"),
        "{reply}"
    );
    assert_eq!(
        w.forge.writes(),
        vec![(
            "POST".to_string(),
            "/api/v4/projects/acme/platform/fleet/merge_requests/2/notes".to_string()
        )],
        "only the reply"
    );
    let again = srv.gitlab(
        "Note Hook",
        "u-dave",
        &note(2, 501, "dave", "/hoist promote prod"),
        None,
    );
    assert_eq!(again.status, 200);
    assert!(again.body.contains("already received"), "{}", again.body);

    // Prod's merge request is closed by a person; a Developer promotes by
    // a note on staging's: a new merge request.
    w.forge
        .configure(Kind::GitLab.repo(), |r| r.pulls[1].state = State::Closed);
    let r = srv.gitlab(
        "Note Hook",
        "u-bob",
        &note(1, 502, "bob", "Ship it.\n/hoist promote prod"),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(eventually(60, || w.pulls().len() == 3), "{}", srv.log());
    let p3 = &w.pulls()[2];
    assert_eq!((p3.head.as_str(), &p3.state), ("hoist/prod", &State::Open));
    assert!(eventually(30, || !w.pulls()[0].comments.is_empty()));
    assert!(
        w.pulls()[0].comments[0].contains("opened merge request !3")
            && !w.pulls()[0].comments[0].contains("pull request"),
        "{:?}",
        w.pulls()[0].comments
    );
    assert_eq!(
        w.forge.repo(Kind::GitLab.repo()).reactions,
        vec![(502, "eyes".to_string()), (502, "rocket".to_string())]
    );
    // hoist's own notes and bots' are not commands.
    let own = srv.gitlab(
        "Note Hook",
        "u-bot",
        &note(3, 503, "project_42_bot_9f", "/hoist hold prod"),
        None,
    );
    assert_eq!(own.status, 202, "{}", own.body);
    let merged = serde_json::json!({
        "object_kind": "merge_request",
        "project": { "path_with_namespace": "acme/platform/fleet" },
        "object_attributes": { "iid": 3, "action": "merge", "state": "merged" },
    });
    let r = srv.gitlab("Merge Request Hook", "u-merged", &merged.to_string(), None);
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(!w.branches().iter().any(|b| b.starts_with("hoist-hold/")));
    let (code, log) = srv.terminate();
    assert_eq!(code, 0, "{log}");
    // A signing token not in GitLab's form stops the server at start.
    let out = common::hoist_command()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(w.t.path().join("state2"))
        .env("HOIST_TEST_GH_SECRET", "x")
        .env("HOIST_TEST_REG_TOKEN", "x")
        .env("HOIST_TEST_FLUX_KEY", "x")
        .env("HOIST_TEST_ADO_SECRET", "x")
        .env("HOIST_TEST_GL_TOKEN", "x")
        .env("HOIST_TEST_GL_SIGNING", "not-a-signing-token")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("gitlab_signing_token_env") && err.contains("whsec_"),
        "{err}"
    );
    assert!(
        !err.contains("not-a-signing-token"),
        "the value is not echoed: {err}"
    );

    // commands_need = "maintain": on a rung without approvers a Developer
    // is refused and a Maintainer is not.
    w.forge.configure(Kind::GitLab.repo(), |r| {
        r.permissions.insert("erin".into(), "maintainer".into());
    });
    let strict = write(
        w.t.path(),
        "strict.toml",
        &std::fs::read_to_string(&cfg).unwrap().replace(
            "kind = \"gitlab\"\n",
            "kind = \"gitlab\"\ncommands_need = \"maintain\"\n",
        ),
    );
    let say = |id: u64, user: &str| {
        let ev = format!("note-{id}.json");
        let note = note(3, id, user, "/hoist hold staging");
        comment_cli(&w, &ev, &note, &strict, &w.t.path().join("state3"))
    };
    say(601, "bob").expect(0, &["0 command(s) run, 1 refused"]);
    let last = || w.pulls()[2].comments.last().cloned().unwrap_or_default();
    assert!(
        last().contains("@bob") && last().contains("maintainer access"),
        "{}",
        last()
    );
    assert!(!w.branches().contains(&"hoist-hold/staging".to_string()));
    say(602, "erin").expect(0, &["1 command(s) run"]);
    assert!(w.branches().contains(&"hoist-hold/staging".to_string()));
}

#[test]
fn azure_devops_comments_need_approvers() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(&reg, Kind::Azure, "");
    // Prod names an approver; staging names none.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "reviewers = [\"alice\"]",
        "reviewers = [\"alice\"]\napprovers = [\"alice@acme.example\"]",
    );
    std::fs::write(&cfg, text).unwrap();
    let srv = Server::start(&cfg, &w.t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    let s2 = &w.shas[1];
    build(&reg, s2, 2);
    assert_eq!(
        srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"))
            .status,
        202
    );
    runs_finished(&srv, 2);
    assert_eq!(w.pulls().len(), 2);
    let hook = |id: &str, user: &str, text: &str, auth: (&str, String)| {
        let body = serde_json::json!({
            "id": id,
            "eventType": "ms.vss-code.git-pullrequest-comment-event",
            "resource": {
                "comment": { "id": 5, "content": text, "commentType": "text",
                             "author": { "uniqueName": user, "displayName": user } },
                "pullRequest": { "pullRequestId": 2, "repository": {
                    "name": "fleet", "project": { "name": "ops" } } },
            },
            "resourceContainers": { "account": { "baseUrl": "https://dev.azure.com/acme/" } },
        });
        srv.request(
            "POST",
            "/hooks/azure-devops",
            &[auth],
            body.to_string().as_bytes(),
        )
    };
    let basic = |p: &str| {
        (
            "Authorization",
            format!("Basic {}", base64_encode(&format!("hook:{p}"))),
        )
    };
    assert_eq!(
        hook("e0", "alice@acme.example", "/hoist plan", basic("wrong")).status,
        401
    );
    // Staging names no approvers: refused with the reason.
    let r = hook(
        "e1",
        "bob@acme.example",
        "/hoist hold staging",
        basic(common::serve::AZURE_SECRET),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        eventually(30, || w.pulls()[1]
            .comments
            .iter()
            .any(|c| c.contains("approvers"))),
        "{}",
        srv.log()
    );
    assert!(!w.branches().iter().any(|b| b.starts_with("hoist-hold/")));
    // Prod's approver may hold prod (the secret header works as well).
    let r = hook(
        "e2",
        "alice@acme.example",
        "/hoist hold prod",
        ("X-Hoist-Secret", common::serve::AZURE_SECRET.into()),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        eventually(30, || w.branches().contains(&"hoist-hold/prod".to_string())),
        "{}",
        srv.log()
    );
    // Someone else may not.
    hook(
        "e3",
        "mallory@acme.example",
        "/hoist release prod",
        basic(common::serve::AZURE_SECRET),
    );
    assert!(
        eventually(30, || w.pulls()[1]
            .comments
            .iter()
            .any(|c| c.contains("only the approvers of `prod`"))),
        "{:?}",
        w.pulls()[1].comments
    );
    assert!(w.branches().contains(&"hoist-hold/prod".to_string()));
    let (code, log) = srv.terminate();
    assert_eq!(code, 0, "{log}");
}

/// `require_reconciled`: prod waits until Flux reports staging reconciled
/// with its last promotion, then moves on its own.
#[test]
fn a_gate_holds_prod_until_flux_reports_staging_reconciled() {
    let reg = Registry::start(None);
    let w = World::at(
        &reg.host(),
        Kind::GitHub,
        &["api"],
        "require_reconciled = true\n",
        "",
    );
    let [s1, s2] = [&w.shas[0], &w.shas[1]];
    build(&reg, s1, 1);
    let toml = show(&w.bare, "main", "hoist.toml");
    let cfg = write(
        w.t.path(),
        "serve.toml",
        &format!(
            "{toml}{}",
            server_toml("[[server.flux]]\nenvironment = \"staging\"\n")
        ),
    );
    let srv = Server::start(&cfg, &w.t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    build(&reg, s2, 2);
    srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"));
    assert!(
        eventually(60, || srv.log().contains(
            "waits: waiting for staging to reconcile pull request #1"
        )),
        "{}",
        srv.log()
    );
    assert_eq!(w.pulls().len(), 1, "no prod pull request yet");
    // A failure keeps the gate shut.
    let merged = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    srv.flux(&flux_event(&merged, "error", "HealthCheckFailed"));
    assert!(eventually(30, || w.pulls()[0]
        .comments
        .iter()
        .any(|c| c.contains("**failed** to reconcile in staging"))));
    // Success: recorded on #1, and prod's pull request opens by itself.
    srv.flux(&flux_event(&merged, "info", "ReconciliationSucceeded"));
    assert!(eventually(60, || w.pulls().len() == 2), "{}", srv.log());
    assert_eq!(w.pulls()[1].head, "hoist/prod");
    srv.terminate();
}

/// The ladder page in a real browser: what each rung runs, the open
/// pull request, the gates and the last reconcile; no script at all.
/// The screenshot is kept in target/test-artifacts/ladder.png.
#[test]
fn the_ladder_page_in_headless_chromium() {
    let reg = Registry::start(None);
    let (w, cfg) = fleet(
        &reg,
        Kind::GitHub,
        "[[server.flux]]\nenvironment = \"staging\"\n",
    );
    let [s1, s2] = [&w.shas[0], &w.shas[1]];
    let srv = Server::start(&cfg, &w.t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    build(&reg, s2, 2);
    srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"));
    runs_finished(&srv, 2);
    let merged = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    srv.flux(&flux_event(&merged, "info", "ReconciliationSucceeded"));
    assert!(eventually(30, || srv
        .get("/api/ladder")
        .body
        .contains("ReconciliationSucceeded")
        || srv
            .get("/api/ladder")
            .body
            .contains("reconciliation succeeded")));

    let api: serde_json::Value = serde_json::from_str(&srv.get("/api/ladder").body).unwrap();
    let ladder = &api["fleets"][0]["ladder"];
    let rungs: Vec<&str> = ladder["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rung"].as_str().unwrap())
        .collect();
    assert_eq!(rungs, ["dev", "staging", "prod"]);
    assert_eq!(ladder["pull_requests"][0]["branch"], "hoist/prod");
    assert_eq!(ladder["reconciled"][0]["environment"], "staging");

    let url = format!("http://{}/", srv.addr);
    let dom = common::serve::chromium(&url, None);
    for needle in [
        "hoist: the ladder",
        "<meta http-equiv=\"refresh\" content=\"30\">",
        "<h2>acme/fleet</h2>",
        &format!("dev-{s2}-2"),
        &format!("staging-{s2}"),
        // prod would move: its cell is blue, links the build's source
        // commit and the pull request.
        "<td class=\"cell st-moving\"><div class=\"tag\">",
        &format!("/acme/api/commit/{s1}\">prod-{s1}</a>"),
        "→ <a href=\"",
        &format!("/acme/api/commit/{s2}\">prod-{s2}</a>"),
        ">#2</a></div>",
        // dev and staging run what hoist landed a moment ago.
        "<td class=\"cell st-steady\">",
        "<div class=\"meta\">since ",
        "staging: <span class=\"success\">success</span>",
        "<small title=\"sha256:",
        "staging: open <small>last promotion merged 20",
        // The delivery measures as inline SVG.
        "Delivery, last 30 days",
        "<h4>dev</h4><p>1 deployment · ",
        "<svg viewBox=",
        "aria-label=\"deployments per day to staging\"",
    ] {
        assert!(
            dom.contains(needle),
            "{needle:?} not on the page:\n{}",
            srv.log()
        );
    }
    assert!(
        !dom.to_lowercase().contains("<script"),
        "no script on the page"
    );
    // Screenshots at desktop and phone width, kept as test artifacts.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    for width in [1280u32, 390] {
        let png = dir.join(format!("ladder-{width}.png"));
        let _ = std::fs::remove_file(&png);
        let narrow = common::serve::chromium_at(&url, None, width);
        assert!(narrow.contains(&format!("prod-{s2}")), "{narrow}");
        common::serve::chromium_at(&url, Some(&png), width);
        let bytes = std::fs::read(&png).expect("a screenshot");
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
            "a real PNG"
        );
        // IHDR: the width the page was drawn at.
        let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        assert_eq!(w, width, "{}", png.display());
    }
    srv.terminate();
}

/// A Flux event about `sha` from `cluster`.
fn flux_event_from(cluster: &str, sha: &str, severity: &str, reason: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&flux_event(sha, severity, reason)).unwrap();
    v["metadata"]["cluster"] = cluster.into();
    v.to_string()
}

/// `on_failure = "rollback"`: Flux reporting a promotion failing lands
/// its rollback the way the rung lands changes (staging: an auto-merged
/// pull request; prod: one for review), once however often Flux repeats
/// itself, holds the rung, and says so on the promotion; a later success
/// of the promotion itself closes a rollback still open and lifts the
/// hold.
#[test]
fn a_failed_reconcile_rolls_the_promotion_back_once_and_holds_the_rung() {
    rolls_back_on(Kind::GitHub);
}

/// The same on Azure DevOps.
#[test]
fn a_failed_reconcile_rolls_back_on_azure_devops_too() {
    rolls_back_on(Kind::Azure);
}

fn rolls_back_on(kind: Kind) {
    let reg = Registry::start(None);
    let w = World::at(
        &reg.host(),
        kind,
        &["api"],
        "on_failure = \"rollback\"\n",
        "",
    );
    let [s1, s2, s3] = [&w.shas[0], &w.shas[1], &w.shas[2]];
    build(&reg, s1, 1);
    let toml = show(&w.bare, "main", "hoist.toml").replace(
        "promote_from = \"dev\"\n",
        "promote_from = \"dev\"\non_failure = \"rollback\"\n",
    );
    let cfg = write(
        w.t.path(),
        "serve.toml",
        &format!(
            "{toml}{}",
            server_toml(
                "[[server.flux]]\nenvironment = \"staging\"\ncluster = \"staging\"\n\n\
                 [[server.flux]]\nenvironment = \"prod\"\ncluster = \"prod\"\n"
            )
        ),
    );
    let srv = Server::start(&cfg, &w.t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    build(&reg, s2, 2);
    srv.registry_push(&reg.host(), "api", &format!("dev-{s2}-2"));
    assert!(eventually(60, || w.pulls().len() == 2), "{}", srv.log());
    assert!(w.main_has("staging", &format!("staging-{s2}")));
    let handled = |n: usize| {
        assert!(
            eventually(60, || srv.log().matches("flux event handled").count() >= n),
            "{n} Flux event(s):\n{}",
            srv.log()
        )
    };

    let rollbacks = |head: &str| -> Vec<common::forge::Pull> {
        w.pulls().into_iter().filter(|p| p.head == head).collect()
    };

    // prod: a person merges #2; Flux fails it: a rollback for review,
    // prod held. Then Flux retries and the same promotion reconciles: the
    // rollback is closed unmerged and prod released.
    let prod_merge = w.forge.merge_by_hand(kind.repo(), 2);
    assert!(w.main_has("prod", &format!("prod-{s2}")));
    srv.flux(&flux_event_from(
        "prod",
        &prod_merge,
        "error",
        "ProgressingWithRetry",
    ));
    handled(1);
    let rb = rollbacks("hoist/rollback/prod");
    assert_eq!(rb.len(), 1, "{}", srv.log());
    assert_eq!(rb[0].state, State::Open, "prod's changes are reviewed");
    assert!(w.has("hoist/rollback/prod", "prod", "api", &format!("prod-{s1}")));
    // `hoist report` tells it from a deployment by its trailer.
    assert!(
        git(
            &w.bare,
            &["log", "-1", "--format=%B", "hoist/rollback/prod"]
        )
        .contains("\nHoist-Environment: prod\nHoist-Rollback: yes\n"),
    );
    assert!(w.main_has("prod", &format!("prod-{s2}")), "nothing merged");
    assert!(w.branches().contains(&"hoist-hold/prod".to_string()));
    srv.flux(&flux_event_from(
        "prod",
        &prod_merge,
        "info",
        "ReconciliationSucceeded",
    ));
    handled(2);
    let rb = rollbacks("hoist/rollback/prod");
    assert_eq!(rb[0].state, State::Closed, "{}", srv.log());
    assert!(!w.branches().contains(&"hoist-hold/prod".to_string()));
    let said = w.pulls()[1].comments.join("\n");
    assert!(
        said.contains(&format!("closed its rollback #{}", rb[0].number))
            && said.contains("released `prod`"),
        "{said}"
    );

    // staging fails with #1: its rollback is merged and staging held.
    let promoted = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    let failed = flux_event_from("staging", &promoted, "error", "HealthCheckFailed");
    srv.flux(&failed);
    handled(3);
    let rb = rollbacks("hoist/rollback/staging");
    assert_eq!(rb.len(), 1, "{}", srv.log());
    assert_eq!(rb[0].state, State::Merged, "staging lands by auto-merge");
    assert!(
        rb[0].body.contains("Automatic rollback of #1")
            && rb[0].body.contains("health check failed"),
        "{}",
        rb[0].body
    );
    assert!(w.main_has("staging", &format!("staging-{s1}")));
    assert!(
        w.main_has("dev", &format!("dev-{s2}-2")),
        "dev is left alone"
    );
    assert!(w.branches().contains(&"hoist-hold/staging".to_string()));
    let said = w.pulls()[0].comments.join("\n");
    assert!(
        said.contains("**failed** to reconcile in staging")
            && said.contains("hoist rolled it back (")
            && said.contains("merged pull request #4")
            && said.contains("`/hoist release staging` resumes it"),
        "{said}"
    );

    // Flux says it again, and about the rollback's revision too: still
    // one rollback, one failure note.
    let rolled = git(&w.bare, &["rev-parse", "main"]).trim().to_string();
    srv.flux(&failed);
    // One at a time: a newer result for the same Flux object replaces a
    // queued older one.
    handled(4);
    srv.flux(&flux_event_from(
        "staging",
        &rolled,
        "error",
        "HealthCheckFailed",
    ));
    handled(5);
    assert_eq!(rollbacks("hoist/rollback/staging").len(), 1);
    let said = w.pulls()[0].comments.join("\n");
    assert_eq!(said.matches("**failed** to reconcile").count(), 1, "{said}");
    assert_eq!(said.matches("hoist rolled it back").count(), 1, "{said}");
    // …and the rollback's success does not lift the hold: the next run
    // leaves staging alone (build 3 reaches dev only).
    srv.flux(&flux_event_from(
        "staging",
        &rolled,
        "info",
        "ReconciliationSucceeded",
    ));
    handled(6);
    let said = w.pulls()[0].comments.join("\n");
    assert!(
        !said.contains("reconciled in staging"),
        "the rollback's success is not #1's: {said}"
    );
    build(&reg, s3, 3);
    srv.registry_push(&reg.host(), "api", &format!("dev-{s3}-3"));
    assert!(
        eventually(60, || w.main_has("dev", &format!("dev-{s3}-3"))),
        "{}",
        srv.log()
    );
    runs_finished(&srv, 3);
    assert!(w.main_has("staging", &format!("staging-{s1}")));
    assert!(w.branches().contains(&"hoist-hold/staging".to_string()));
    assert_eq!(rollbacks("hoist/rollback/staging").len(), 1);

    let metrics = srv.get("/metrics").body;
    assert!(metrics.contains("hoist_rollbacks_total 2"), "{metrics}");
    srv.terminate();
}

/// `batch = "15s"` on staging: twenty builds over about five seconds,
/// each with its registry event, reach dev as they come (dev has no
/// window), and staging once, with the last of them: one pull request,
/// merged when the window that the first build opened closes. (The
/// issue's 20 builds in 30 s with a 1m window, scaled down; by hand at
/// full size: `HOIST_TEST_BATCH=1m HOIST_TEST_BATCH_SPACING_MS=1500`.)
#[test]
fn builds_inside_a_batching_window_land_as_one_pull_request() {
    let window = std::env::var("HOIST_TEST_BATCH").unwrap_or_else(|_| "15s".into());
    let spacing: u64 = std::env::var("HOIST_TEST_BATCH_SPACING_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250);
    let reg = Registry::start(None);
    let w = World::at(&reg.host(), Kind::GitHub, &["api"], "", "");
    let [s1, s2, s3] = [&w.shas[0], &w.shas[1], &w.shas[2]];
    build(&reg, s1, 1);
    let toml = show(&w.bare, "main", "hoist.toml").replace(
        "promote_from = \"dev\"\n",
        &format!("promote_from = \"dev\"\nbatch = \"{window}\"\n"),
    );
    let cfg = write(
        w.t.path(),
        "serve.toml",
        &format!("{toml}{}", server_toml("")),
    );
    let srv = Server::start(&cfg, &w.t.path().join("state"), &[]);
    runs_finished(&srv, 1);
    let started = std::time::Instant::now();
    let mut last = String::new();
    for n in 2..=21 {
        let sha = if n % 2 == 0 { s2 } else { s3 };
        build(&reg, sha, n);
        srv.registry_push(&reg.host(), "api", &format!("dev-{sha}-{n}"));
        last = sha.to_string();
        std::thread::sleep(std::time::Duration::from_millis(spacing));
    }
    let burst = started.elapsed();
    let staging_pulls = || {
        w.pulls()
            .into_iter()
            .filter(|p| p.head == "hoist/staging")
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(180, || w.main_has("staging", &format!("staging-{last}"))),
        "{}",
        srv.log()
    );
    let landed = started.elapsed();
    let pulls = staging_pulls();
    assert_eq!(pulls.len(), 1, "one pull request for the burst: {pulls:?}");
    assert_eq!(pulls[0].state, State::Merged);
    assert!(w.main_has("dev", &format!("dev-{last}-21")));
    // dev took the builds as they came: more than one commit of its own.
    let dev_commits: usize = git(
        &w.bare,
        &["rev-list", "--count", "main", "--", "clusters/dev"],
    )
    .trim()
    .parse()
    .unwrap();
    assert!(dev_commits > 2, "dev moved {dev_commits} times");
    assert!(
        srv.log().contains("batching: lands at")
            && srv.log().contains(&format!(
                "(batch = {})",
                hoist::core::time::human(
                    hoist::core::time::parse_go_duration(&window)
                        .unwrap()
                        .as_secs()
                )
            )),
        "{}",
        srv.log()
    );
    eprintln!(
        "batch: 20 builds pushed in {:.1} s; staging landed {:.1} s after the first; dev moved {dev_commits} times",
        burst.as_secs_f64(),
        landed.as_secs_f64()
    );
    srv.terminate();
}
