//! `hoist apply` committing and pushing to real remotes: bare repositories
//! over file://, smart HTTP (git http-backend, Basic auth) and git://.

use crate::common;

use common::git::{
    Daemon, HttpServer, assert_fsck, count, file_url, git, git_cmd, show, snapshot_for,
};
use common::{Run, hoist_env, s, write};
use std::path::Path;

/// `hoist apply --url URL` with a snapshot, its own state dir, extra args.
fn apply_url(
    url: &str,
    state: &Path,
    snapshot: &str,
    extra: &[&str],
    env: &[(&str, String)],
) -> Run {
    let side = tempfile::tempdir().unwrap();
    let snap = write(side.path(), "snap.yaml", snapshot);
    let owned = common::git::apply_url_args(url, state, &snap);
    let mut args: Vec<&str> = owned.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    hoist_env(&args, env)
}

fn tags_file(bare: &Path, rev: &str) -> String {
    show(bare, rev, "clusters/prod/image-tags.yaml")
}

#[test]
fn url_mode_commits_only_the_marker_bytes_and_never_an_empty_commit() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote(t.path(), 2);
    let state = t.path().join("state");
    let before = tags_file(&bare, "main");

    let r = apply_url(&file_url(&bare), &state, &snapshot_for(1, 3), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("pushed"), "{}", r.stderr);
    assert_eq!(count(&bare, "main"), 2);
    let after = tags_file(&bare, "main");
    assert_eq!(
        after,
        before.replace("app1:\n  tag: 0.0.0", "app1:\n  tag: 0.0.3")
    );
    // Only image-tags.yaml changed.
    let changed = git(&bare, &["diff", "--name-only", "main~1", "main"]);
    assert_eq!(changed.trim(), "clusters/prod/image-tags.yaml");
    // Author, default message and trailers.
    let log = git(
        &bare,
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "main"],
    );
    assert_eq!(
        log.trim_end(),
        "hoist <hoist@users.noreply.github.com>|hoist <hoist@users.noreply.github.com>|Update from image update automation\n\nHoist-Policy: flux-system/app1\nHoist-Image: 127.0.0.1:1/app1:0.0.3"
    );
    // Same input again: nothing to do, no new commit.
    let r = apply_url(&file_url(&bare), &state, &snapshot_for(1, 3), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("up to date"), "{}", r.stderr);
    assert_eq!(count(&bare, "main"), 2);
    // A fresh state dir (cold) converges the same way.
    let r = apply_url(
        &file_url(&bare),
        &t.path().join("state2"),
        &snapshot_for(1, 3),
        &[],
        &[],
    );
    assert!(r.stderr.contains("up to date"), "{}", r.stderr);
    assert_eq!(count(&bare, "main"), 2);
    assert_fsck(&bare);
}

#[test]
fn automation_sets_branches_author_template_refspec_and_push_options() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote_with(
        t.path(),
        1,
        &[(
            "clusters/prod/automation.yaml",
            r#"apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: prod
  namespace: flux-system
spec:
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        name: Fluxbot
        email: fluxbot@example.com
      messageTemplate: |
        [{{ .Values.env }}] {{ .AutomationObject }}
        {{ range .Changed.Changes -}}
        {{ .OldValue }} -> {{ .NewValue }}
        {{ end -}}
      messageTemplateValues:
        env: prod
    push:
      branch: hoist/prod/app0
      refspec: +refs/heads/hoist/prod/app0:refs/heads/audit/app0
      options:
        ci.skip: ""
        merge_request.create: "true"
  update:
    path: ./clusters/prod
"#,
        )],
    );
    // Record push options on the server.
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\ni=0\nwhile [ $i -lt \"${GIT_PUSH_OPTION_COUNT:-0}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> \"$GIT_DIR/push-options\"; i=$((i+1)); done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = t.path().join("state");
    let url = file_url(&bare);

    let r = apply_url(&url, &state, &snapshot_for(0, 1), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // main untouched; the push branch and the refspec destination hold it.
    assert_eq!(count(&bare, "main"), 1);
    let tip = git(&bare, &["rev-parse", "hoist/prod/app0"]);
    assert_eq!(tip, git(&bare, &["rev-parse", "audit/app0"]));
    assert_eq!(
        git(&bare, &["rev-parse", "hoist/prod/app0~1"]),
        git(&bare, &["rev-parse", "main"])
    );
    let log = git(
        &bare,
        &["log", "-1", "--format=%an <%ae>%n%B", "hoist/prod/app0"],
    );
    assert_eq!(
        log.trim_end(),
        "Fluxbot <fluxbot@example.com>\n[prod] flux-system/prod\n0.0.0 -> 0.0.1\n\nHoist-Policy: flux-system/app0\nHoist-Image: 127.0.0.1:1/app0:0.0.1"
    );
    let opts = std::fs::read_to_string(bare.join("push-options")).unwrap();
    assert_eq!(opts, "ci.skip\nmerge_request.create=true\n");

    // A newer tag: the bot branch holds only hoist's commits, so it is
    // rebuilt from main (force-with-lease), not stacked.
    let r = apply_url(&url, &state, &snapshot_for(0, 2), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&bare, "hoist/prod/app0"), 2);
    assert!(tags_file(&bare, "hoist/prod/app0").contains("tag: 0.0.2"));

    // A human adds a commit to the bot branch: hoist builds on top of it.
    let work = t.path().join("human");
    git(
        t.path(),
        &["clone", "-q", "-b", "hoist/prod/app0", &url, s(&work)],
    );
    write(&work, "NOTES.md", "reviewed\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "human note"]);
    git(&work, &["push", "-q", "origin", "hoist/prod/app0"]);
    let r = apply_url(&url, &state, &snapshot_for(0, 3), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let subjects = git(&bare, &["log", "--format=%s", "main..hoist/prod/app0"]);
    assert_eq!(
        subjects,
        "[prod] flux-system/prod 0.0.2 -> 0.0.3\nhuman note\n[prod] flux-system/prod 0.0.0 -> 0.0.2\n"
    );
    // Converged: running again changes nothing.
    let before = git(&bare, &["rev-parse", "hoist/prod/app0"]);
    let r = apply_url(&url, &state, &snapshot_for(0, 3), &[], &[]);
    assert!(r.stderr.contains("up to date"), "{}", r.stderr);
    assert_eq!(before, git(&bare, &["rev-parse", "hoist/prod/app0"]));
}

#[test]
fn checkout_mode_pushes_and_leaves_the_worktree_at_the_pushed_commit() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote(t.path(), 2);
    let url = file_url(&bare);
    let co = t.path().join("checkout");
    git(t.path(), &["clone", "-q", "--depth", "1", &url, s(&co)]);
    // Meanwhile someone pushes to main: hoist's first push loses the race,
    // it fetches, re-plans on the new tip and pushes again.
    let other = t.path().join("other");
    git(t.path(), &["clone", "-q", &url, s(&other)]);
    write(&other, "README.md", "fleet, edited\n");
    git(&other, &["commit", "-qam", "human edit"]);
    git(&other, &["push", "-q", "origin", "main"]);

    let snap = write(t.path(), "snap.yaml", &snapshot_for(0, 5));
    // A remote the checkout does not have is a settings error (exit 2).
    let r = hoist_env(
        &[
            "apply",
            "--repo",
            s(&co),
            "--remote",
            "nope",
            "--registry-snapshot",
            s(&snap),
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no remote \"nope\""), "{}", r.stderr);
    let r = hoist_env(
        &["apply", "--repo", s(&co), "--registry-snapshot", s(&snap)],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("after 2 attempts"), "{}", r.stderr);
    let subjects = git(&bare, &["log", "--format=%s", "main"]);
    assert_eq!(
        subjects,
        "Update from image update automation\nhuman edit\ninitial\n"
    );
    // The checkout is at the pushed commit, clean, with both changes.
    assert_eq!(
        git(&co, &["rev-parse", "HEAD"]),
        git(&bare, &["rev-parse", "main"])
    );
    assert_eq!(git(&co, &["status", "--porcelain"]), "");
    assert!(common::read(&co, "clusters/prod/image-tags.yaml").contains("tag: 0.0.5"));
    assert_eq!(common::read(&co, "README.md"), "fleet, edited\n");
}

#[test]
fn smart_http_with_token_auth_never_leaks_the_token() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    let bare = common::git::fleet_remote(&root, 1);
    git(&bare, &["config", "http.receivepack", "true"]);
    let token = "ghs_TopSecretToken1234567890";
    let server = HttpServer::start(&root, Some(("x-access-token", token)));
    let url = server.url("fleet.git");
    let state = t.path().join("state");
    // Log every git invocation's argv through a wrapper on PATH.
    let bin = t.path().join("bin");
    let argv_log = t.path().join("argv.log");
    let real_git = std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH");
    write(
        &bin,
        "git",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec {} \"$@\"\n",
            argv_log.display(),
            real_git.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let env = |tok: &str| vec![("PATH", path.clone()), ("FLEET_TOKEN", tok.to_string())];

    // Wrong token: a clear error, the token nowhere in the output.
    let wrong = "ghs_WrongTokenabcdefghijkl";
    let r = apply_url(
        &url,
        &state,
        &snapshot_for(0, 1),
        &["--token-env", "FLEET_TOKEN", "-vv"],
        &env(wrong),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("error:"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(wrong) && !r.stdout.contains(wrong),
        "{}",
        r.stderr
    );
    assert!(server.refused.load(std::sync::atomic::Ordering::SeqCst) > 0);

    // Right token: pushed over HTTP.
    let r = apply_url(
        &url,
        &state,
        &snapshot_for(0, 1),
        &["--token-env", "FLEET_TOKEN", "-vv"],
        &env(token),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("pushed"), "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.1"));
    let encoded = common::base64_encode(&format!("x-access-token:{token}"));
    for secret in [token, encoded.as_str()] {
        assert!(!r.stderr.contains(secret), "token in stderr:\n{}", r.stderr);
        let argv = std::fs::read_to_string(&argv_log).unwrap();
        assert!(argv.contains("push"), "{argv}");
        assert!(!argv.contains(secret), "token in argv:\n{argv}");
        // Nothing under the state dir (config, logs, refs) holds it.
        let out = std::process::Command::new("grep")
            .args(["-rl", secret, s(&state)])
            .output()
            .unwrap();
        assert!(
            out.stdout.is_empty(),
            "token stored in {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // No token at all: git must not prompt; it fails fast.
    let r = apply_url(
        &url,
        &t.path().join("state3"),
        &snapshot_for(0, 2),
        &[],
        &[("PATH", path.clone())],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn git_daemon_remote() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    let bare = common::git::fleet_remote(&root, 1);
    let daemon = Daemon::start(&root);
    let r = apply_url(
        &daemon.url("fleet.git"),
        &t.path().join("state"),
        &snapshot_for(0, 7),
        &[],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.7"));
}

#[test]
fn a_damaged_cache_is_rebuilt() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote(t.path(), 1);
    let url = file_url(&bare);
    let state = t.path().join("state");
    let r = apply_url(&url, &state, &snapshot_for(0, 1), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let clone = common::git::cached_clone(&state);
    // Damage 1: the objects are gone and a stale lock is left behind.
    std::fs::remove_dir_all(clone.join("objects")).unwrap();
    write(&clone, "shallow.lock", "");
    let r = apply_url(&url, &state, &snapshot_for(0, 2), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.2"));
    // Damage 2: a half-made clone (no ready marker, garbage inside).
    std::fs::remove_file(clone.join("hoist-ready")).unwrap();
    write(&clone, "HEAD", "garbage");
    let r = apply_url(&url, &state, &snapshot_for(0, 3), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.3"));
    assert_fsck(&clone);
    assert_eq!(count(&bare, "main"), 4);
    // Damage 3: every object file overwritten with garbage (small fetches
    // land as loose objects, bigger ones as packs).
    use std::os::unix::fs::PermissionsExt;
    let mut damaged = 0;
    for dir in std::fs::read_dir(clone.join("objects")).unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if !(name.len() == 2 || name == "pack") {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let p = f.path();
            if name == "pack" && p.extension().is_none_or(|x| x != "pack") {
                continue;
            }
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::fs::write(&p, b"not a git object").unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    let r = apply_url(&url, &state, &snapshot_for(0, 4), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("rebuilding"), "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.4"));
    // Damage 4: one blob the fetch never looks at; reading it fails, the
    // clone is rebuilt and read again.
    let blob = git(&bare, &["rev-parse", "main:clusters/prod/image-tags.yaml"]);
    let blob = blob.trim();
    let loose = clone.join("objects").join(&blob[..2]).join(&blob[2..]);
    assert!(
        loose.is_file(),
        "expected a loose blob at {}",
        loose.display()
    );
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&loose, b"garbage").unwrap();
    let r = apply_url(&url, &state, &snapshot_for(0, 5), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read the cached clone"),
        "{}",
        r.stderr
    );
    assert!(tags_file(&bare, "main").contains("tag: 0.0.5"));
    assert_fsck(&clone);
}

#[test]
fn bad_template_and_bad_settings_fail_before_anything_is_pushed() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote_with(
        t.path(),
        1,
        &[(
            "auto.yaml",
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: a\n  namespace: flux-system\nspec:\n  git:\n    commit:\n      messageTemplate: '{{ sha256sum .AutomationObject }}'\n",
        )],
    );
    let url = file_url(&bare);
    let state = t.path().join("state");
    let r = apply_url(&url, &state, &snapshot_for(0, 1), &[], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("auto.yaml:1") && r.stderr.contains("sha256sum"),
        "{}",
        r.stderr
    );
    assert_eq!(count(&bare, "main"), 1);
    for (extra, code, says) in [
        (["--push-branch", "bad..name"], 2, "not a valid branch name"),
        (
            ["--token-env", "HOIST_TEST_UNSET_VAR"],
            2,
            "HOIST_TEST_UNSET_VAR",
        ),
        (["--branch", "nope"], 2, "no branch \"nope\""),
    ] {
        let r = apply_url(&url, &state, &snapshot_for(0, 1), &extra, &[]);
        assert_eq!(r.code, code, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{extra:?}: {}", r.stderr);
    }
    assert_eq!(count(&bare, "main"), 1);

    // A template that parses but would grow without bound when rendered:
    // a bounded error naming the automation and the field, nothing pushed.
    std::fs::create_dir_all(t.path().join("huge")).unwrap();
    let bare = common::git::fleet_remote_with(
        &t.path().join("huge"),
        1,
        &[(
            "auto.yaml",
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: a\n  namespace: flux-system\nspec:\n  git:\n    commit:\n      messageTemplate: '{{ repeat 9223372036854775807 \"ab\" }}'\n",
        )],
    );
    let fresh = |state: &str| {
        apply_url(
            &file_url(&bare),
            &t.path().join(state),
            &snapshot_for(0, 1),
            &[],
            &[],
        )
    };
    fresh("state2").expect(
        2,
        &["auto.yaml:1: spec.git.commit.messageTemplate of ImageUpdateAutomation flux-system/a: template line 1: repeat would build a string over 1024 KiB"],
    );
    assert_eq!(count(&bare, "main"), 1);

    // A remote whose HEAD names no branch: a settings error, with the way out.
    git(&bare, &["symbolic-ref", "HEAD", "refs/heads/gone"]);
    fresh("state3").expect(2, &["HEAD names no branch", "--branch"]);
}

/// A one-policy fleet whose hoist.toml commits as Signer with `signing`
/// settings; returns the bare repository.
fn signed_fleet(dir: &Path, signing: &str) -> std::path::PathBuf {
    let cfg = format!(
        "{}[git]\nauthor_name = \"Signer\"\nauthor_email = \"signer@example.com\"\n{signing}",
        common::git::fleet_toml([0])
    );
    common::git::fleet_remote_with(dir, 1, &[("hoist.toml", &cfg)])
}

#[test]
fn ssh_signed_commits_verify() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("key");
    let st = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "hoist",
            "-f",
            s(&key),
        ])
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let bare = signed_fleet(
        t.path(),
        &format!(
            "signing_key = \"{}\"\nsigning_format = \"ssh\"\n",
            key.display()
        ),
    );
    let r = apply_url(
        &file_url(&bare),
        &t.path().join("state"),
        &snapshot_for(0, 1),
        &[],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = write(t.path(), "allowed", &format!("signer@example.com {pubkey}"));
    let out = git_cmd(&bare)
        .args([
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
            "verify-commit",
            "main",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = git(&bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(log.trim(), "Signer <signer@example.com>");
}

#[test]
fn azure_devops_pat_and_bearer_headers_over_http() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    let bare = common::git::fleet_remote(&root, 1);
    git(&bare, &["config", "http.receivepack", "true"]);
    // A PAT: Basic with an empty user name.
    let pat = "azdo-pat-0123456789";
    let server = HttpServer::start(&root, Some(("", pat)));
    let r = apply_url(
        &server.url("fleet.git"),
        &t.path().join("state"),
        &snapshot_for(0, 1),
        &["--token-env", "AZDO_PAT", "--auth", "azure-devops"],
        &[("AZDO_PAT", pat.to_string())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.1"));
    drop(server);
    // System.AccessToken: a Bearer header, from hoist.toml settings.
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.pipeline";
    let server = HttpServer::start_with_header(&root, Some(format!("Bearer {token}")));
    let cfg = write(
        t.path(),
        "bot.toml",
        &format!(
            "{}[git]\ntoken_env = \"SYSTEM_ACCESSTOKEN\"\nauth = \"bearer\"\n",
            common::git::fleet_toml([0])
        ),
    );
    let r = apply_url(
        &server.url("fleet.git"),
        &t.path().join("state"),
        &snapshot_for(0, 2),
        &["--config", s(&cfg)],
        &[("SYSTEM_ACCESSTOKEN", token.to_string())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(tags_file(&bare, "main").contains("tag: 0.0.2"));
    let r = apply_url(
        &server.url("fleet.git"),
        &t.path().join("state"),
        &snapshot_for(0, 3),
        &["--auth", "kerberos"],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown auth kind"), "{}", r.stderr);
}

#[test]
fn warm_runs_see_markers_added_to_files_that_had_none() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote_with(
        t.path(),
        1,
        &[("clusters/staging/image-tags.yaml", "app0: {}\n")],
    );
    let url = file_url(&bare);
    let state = t.path().join("state");
    let r = apply_url(&url, &state, &snapshot_for(0, 1), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The staging file had no marker: remembered as uninteresting. A human
    // adds one; the next (warm) run must still find it.
    let work = t.path().join("human");
    git(t.path(), &["clone", "-q", &url, s(&work)]);
    write(
        &work,
        "clusters/staging/image-tags.yaml",
        "app0:\n  tag: 0.0.0 # {\"$imagepolicy\": \"flux-system:app0:tag\"}\n",
    );
    git(&work, &["commit", "-qam", "staging follows app0"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let r = apply_url(&url, &state, &snapshot_for(0, 1), &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(show(&bare, "main", "clusters/staging/image-tags.yaml").contains("tag: 0.0.1"));
    assert!(tags_file(&bare, "main").contains("tag: 0.0.1"));
}

#[test]
fn gpg_signed_commits_verify() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = std::process::Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    gpg(&[
        "--quick-gen-key",
        "Signer <signer@example.com>",
        "ed25519",
        "sign",
        "never",
    ]);
    let fpr = gpg(&["--with-colons", "--list-secret-keys"])
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .expect("a fingerprint");
    let bare = signed_fleet(t.path(), &format!("signing_key = \"{fpr}\"\n"));
    let env = [("GNUPGHOME", home.display().to_string())];
    let r = apply_url(
        &file_url(&bare),
        &t.path().join("state"),
        &snapshot_for(0, 1),
        &[],
        &env,
    );
    let verify = git_cmd(&bare)
        .env("GNUPGHOME", &home)
        .args(["verify-commit", "main"])
        .output()
        .unwrap();
    let _ = std::process::Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "gpg-agent"])
        .status();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stderr).contains("Good signature"));
}
