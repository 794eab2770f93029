//! `hoist run` against a real Git remote: push rungs climb the ladder in
//! one run, each its own compare-and-swap commit, and a second run is a
//! no-op. Pull-request rungs are tested with the fake forge (tests/forge.rs).

use crate::common;
use common::git::{bare_from, count, file_url, git, show};
use common::*;

const FLUX: &str = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: api, namespace: ns}\nspec: {image: 127.0.0.1:1/api, interval: 1m}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: api-dev, namespace: ns}\nspec:\n  imageRepositoryRef: {name: api}\n  filterTags: {pattern: '^dev-[0-9a-f]+-(?P<ts>\\d+)$', extract: '$ts'}\n  policy: {numerical: {order: asc}}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: api-staging, namespace: ns}\nspec:\n  imageRepositoryRef: {name: api}\n  policy: {semver: {range: '>=1.0.0'}}\n";

const LADDER: &str = "write_paths = [\"clusters/**/image-tags.yaml\"]\n\n\
[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n\
[[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\npromote_from = \"dev\"\n\
tag_rewrite = { from = '^dev-(?P<sha>[0-9a-f]{7})-\\d+$', to = 'staging-$sha' }\nrequire_same_digest = true\n";

/// A remote holding the api objects, `hoist_toml`, and dev and staging
/// running the `aaaaaaa` build.
fn api_fleet(dir: &std::path::Path, hoist_toml: &str) -> std::path::PathBuf {
    let content = dir.join("content");
    write(&content, "flux/api.yaml", FLUX);
    write(&content, "hoist.toml", hoist_toml);
    write(
        &content,
        "clusters/dev/image-tags.yaml",
        "api: dev-aaaaaaa-1 # {\"$imagepolicy\": \"ns:api-dev:tag\"}\n",
    );
    write(
        &content,
        "clusters/staging/image-tags.yaml",
        "api: staging-aaaaaaa # {\"$imagepolicy\": \"ns:api-staging:tag\"}\n",
    );
    bare_from(dir, "fleet", &content)
}

/// `hoist <cmd> --url URL --state-dir STATE --registry-snapshot SNAP …`.
fn on_remote(
    cmd: &str,
    url: &str,
    state: &std::path::Path,
    snap: &std::path::Path,
    extra: &[&str],
) -> Run {
    let mut args = vec![
        cmd,
        "--url",
        url,
        "--state-dir",
        s(state),
        "--registry-snapshot",
        s(snap),
    ];
    args.extend(extra);
    hoist(&args)
}

fn snapshot(dir: &std::path::Path, builds: &[(&str, &str)]) -> std::path::PathBuf {
    let mut y = String::from("images:\n  127.0.0.1:1/api:\n    tags:\n");
    for (tag, d) in builds {
        y.push_str(&format!("      {tag}: \"sha256:{}\"\n", d.repeat(64)));
    }
    write(dir, "snap.yaml", &y)
}

#[test]
fn push_rungs_climb_in_one_run_and_a_rerun_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let bare = api_fleet(t.path(), LADDER);
    let url = file_url(&bare);
    let state = t.path().join("state");
    let snap = snapshot(
        t.path(),
        &[
            ("dev-aaaaaaa-1", "a"),
            ("dev-bbbbbbb-2", "b"),
            ("staging-aaaaaaa", "a"),
            ("staging-bbbbbbb", "b"),
        ],
    );
    let run = |extra: &[&str]| on_remote("run", &url, &state, &snap, extra);

    // --dry-run writes nothing (it reads a checkout).
    let co = t.path().join("co");
    git(t.path(), &["clone", "-q", &url, s(&co)]);
    let dry = hoist(&[
        "run",
        "--dry-run",
        "--repo",
        s(&co),
        "--registry-snapshot",
        s(&snap),
    ]);
    // The same from the remote itself: read into the clone cache, nothing pushed.
    for dry in [dry, run(&["--dry-run"])] {
        dry.expect(0, &["nothing was written"]);
        for needle in [
            "# staging (Push): 1 change in 1 file",
            "127.0.0.1:1/api: staging-bbbbbbb ← dev-bbbbbbb-2",
        ] {
            assert!(dry.stdout.contains(needle), "{needle}: {}", dry.stdout);
        }
        assert_eq!(count(&bare, "main"), 1);
    }

    run(&[]).expect(0, &["hoist run: dev: pushed", "hoist run: staging: pushed"]);
    assert_eq!(count(&bare, "main"), 3, "one commit per rung");
    assert!(
        show(&bare, "main", "clusters/dev/image-tags.yaml").starts_with("api: dev-bbbbbbb-2 #")
    );
    assert!(
        show(&bare, "main", "clusters/staging/image-tags.yaml")
            .starts_with("api: staging-bbbbbbb #")
    );
    let log = git(&bare, &["log", "--format=%B%x00", "main"]);
    assert!(log.contains("Hoist-Environment: staging"), "{log}");
    assert!(log.contains("Hoist-Environment: dev"), "{log}");

    // Nothing new: nothing committed.
    run(&[]).expect(
        0,
        &["dev: main is up to date", "staging: main is up to date"],
    );
    assert_eq!(count(&bare, "main"), 3);
}

#[test]
fn a_digest_mismatch_blocks_the_promotion() {
    let t = tempfile::tempdir().unwrap();
    let bare = api_fleet(t.path(), LADDER);
    // staging-bbbbbbb was rebuilt: not the image dev runs.
    let snap = snapshot(
        t.path(),
        &[
            ("dev-aaaaaaa-1", "a"),
            ("dev-bbbbbbb-2", "b"),
            ("staging-aaaaaaa", "a"),
            ("staging-bbbbbbb", "c"),
        ],
    );
    let r = on_remote("run", &file_url(&bare), &t.path().join("state"), &snap, &[]);
    r.expect(
        1,
        &[
            "hoist run: dev: pushed",
            "blocked on staging",
            "staging-bbbbbbb is not the same image as dev-bbbbbbb-2",
        ],
    );
    assert_eq!(count(&bare, "main"), 2, "dev moved; staging did not");
    assert!(
        show(&bare, "main", "clusters/staging/image-tags.yaml")
            .starts_with("api: staging-aaaaaaa #")
    );
}

#[test]
fn promote_moves_one_image_between_any_two_rungs_now() {
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    // api and web, dev → staging → prod; prod normally promotes from staging.
    let flux = FLUX.to_string()
        + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: api-prod, namespace: ns}\nspec:\n  imageRepositoryRef: {name: api}\n  policy: {semver: {range: '>=1.0.0'}}\n"
        + &FLUX.replace("api", "web")
        + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: web-prod, namespace: ns}\nspec:\n  imageRepositoryRef: {name: web}\n  policy: {semver: {range: '>=1.0.0'}}\n";
    write(&content, "flux/apps.yaml", &flux);
    write(
        &content,
        "hoist.toml",
        &format!(
            "{LADDER}\n[[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\npromote_from = \"staging\"\n"
        ),
    );
    let tags = |env: &str, api: &str, web: &str| {
        let p = if env == "dev" { "dev" } else { env };
        format!(
            "api: {api} # {{\"$imagepolicy\": \"ns:api-{p}:tag\"}}\nweb: {web} # {{\"$imagepolicy\": \"ns:web-{p}:tag\"}}\n"
        )
    };
    write(
        &content,
        "clusters/dev/image-tags.yaml",
        &tags("dev", "dev-bbbbbbb-2", "dev-2222222-2"),
    );
    write(
        &content,
        "clusters/staging/image-tags.yaml",
        &tags("staging", "staging-aaaaaaa", "staging-1111111"),
    );
    write(
        &content,
        "clusters/prod/image-tags.yaml",
        &tags("prod", "staging-aaaaaaa", "staging-1111111"),
    );
    let bare = bare_from(t.path(), "fleet", &content);
    let mut y = String::from("images:\n");
    for img in ["api", "web"] {
        y.push_str(&format!("  127.0.0.1:1/{img}:\n    tags:\n"));
        for tag in [
            "dev-bbbbbbb-2",
            "dev-2222222-2",
            "staging-aaaaaaa",
            "staging-1111111",
        ] {
            y.push_str(&format!("      {tag}: \"sha256:{}\"\n", "a".repeat(64)));
        }
    }
    let snap = write(t.path(), "snap.yaml", &y);
    let url = file_url(&bare);
    let state = t.path().join("state");
    let promote = |extra: &[&str]| on_remote("promote", &url, &state, &snap, extra);
    // The preview shows what prod runs now beside what it would get, and
    // warns that prod's own policy (semver) would never pick a dev build.
    let checkout = t.path().join("checkout");
    git(t.path(), &["clone", "-q", &url, s(&checkout)]);
    let preview = hoist(&[
        "promote",
        "--repo",
        s(&checkout),
        "--registry-snapshot",
        s(&snap),
        "--from",
        "dev",
        "--to",
        "prod",
        "--image",
        "api",
        "--dry-run",
    ]);
    preview.expect(
        0,
        &[
            "127.0.0.1:1/api: dev-bbbbbbb-2 is outside what prod's own policy ns/api-prod accepts",
            "hoist promote --dry-run: nothing was written",
        ],
    );
    assert!(
        preview
            .stdout
            .contains("# 127.0.0.1:1/api: dev-bbbbbbb-2 ← dev-bbbbbbb-2 (from dev); prod runs staging-aaaaaaa now"),
        "{}",
        preview.stdout
    );
    // Straight from dev to prod (skipping staging), only api; prod has no
    // tag_rewrite, so dev's tag itself is promoted.
    promote(&["--from", "dev", "--to", "prod", "--image", "api"])
        .expect(0, &["hoist promote: dev → prod: pushed"]);
    let prod = show(&bare, "main", "clusters/prod/image-tags.yaml");
    assert!(prod.starts_with("api: dev-bbbbbbb-2 #"), "{prod}");
    assert!(prod.contains("web: staging-1111111 #"), "web stays: {prod}");
    assert_eq!(count(&bare, "main"), 2);
    // Again: nothing to do.
    promote(&["--from", "dev", "--to", "prod", "--image", "api"])
        .expect(0, &["prod already runs what dev runs"]);
    assert_eq!(count(&bare, "main"), 2);
    // Unknown environments are usage errors naming the known ones.
    promote(&["--from", "dev", "--to", "qa"]).expect(2, &["no environment \"qa\""]);
}

#[test]
fn without_url_or_checkout_git_url_names_the_repository() {
    let t = tempfile::tempdir().unwrap();
    let bare = api_fleet(t.path(), LADDER);
    let cfg = write(
        t.path(),
        "elsewhere/hoist.toml",
        &format!("{LADDER}\n[git]\nurl = \"{}\"\n", file_url(&bare)),
    );
    let snap = snapshot(
        t.path(),
        &[
            ("dev-aaaaaaa-1", "a"),
            ("dev-bbbbbbb-2", "b"),
            ("staging-aaaaaaa", "a"),
            ("staging-bbbbbbb", "b"),
        ],
    );
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let before = show(&bare, "main", "clusters/dev/image-tags.yaml");
    let state = t.path().join("state");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--repo",
            s(&empty),
            "--config",
            s(&cfg),
            "--state-dir",
            s(&state),
            "--registry-snapshot",
            s(&snap),
        ];
        args.extend(extra);
        hoist(&args)
    };
    // The dry run previews the same repository the real run takes (#17),
    // not the empty directory.
    let preview = run(&["--dry-run"]);
    preview.expect(0, &["hoist run --dry-run: nothing was written"]);
    assert!(
        preview
            .stdout
            .lines()
            .any(|l| l.starts_with("+api: dev-bbbbbbb-2 #")),
        "{}",
        preview.stdout
    );
    assert_eq!(show(&bare, "main", "clusters/dev/image-tags.yaml"), before);
    run(&[]).expect(0, &["hoist run: dev: pushed", "hoist run: staging: pushed"]);
    assert!(
        show(&bare, "main", "clusters/dev/image-tags.yaml").starts_with("api: dev-bbbbbbb-2 #")
    );
}
