//! Broken or hostile input: a clear located error, nothing it touches
//! changes, the rest of the repository still plans and applies, no panic.

use crate::common;
use common::*;

const GOOD: &str = "tag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n";

fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
    let repo = tempfile::tempdir().unwrap();
    let side = tempfile::tempdir().unwrap();
    write(
        repo.path(),
        "flux/app.yaml",
        &repo_and_policy("ns", "app", "ghcr.io/a/app", ">=1.0.0"),
    );
    write(repo.path(), "good.yaml", GOOD);
    write(
        side.path(),
        "snap.yaml",
        "images:\n  ghcr.io/a/app:\n    tags: [1.0.0, 1.1.0]\n",
    );
    (repo, side)
}

fn apply(repo: &std::path::Path, side: &std::path::Path) -> Run {
    hoist(&[
        "apply",
        "--no-commit",
        "--repo",
        s(repo),
        "--registry-snapshot",
        s(&side.join("snap.yaml")),
    ])
}

#[test]
fn each_broken_file_is_reported_and_left_alone_while_the_rest_applies() {
    let (repo, side) = setup();
    let r = repo.path();
    let cases: &[(&str, &str, &str)] = &[
        (
            "malformed.yaml",
            "a: [1, 2\ntag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n",
            "malformed.yaml:",
        ),
        (
            "badjson.yaml",
            "tag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"\n",
            "badjson.yaml:1: marker is not a JSON object",
        ),
        (
            "bogus.yaml",
            "x: 1\ntag: 1.0.0 # {\"$imagepolicy\": \"ns:app:bogus\"}\n",
            "bogus.yaml:2: unknown marker suffix \"bogus\"",
        ),
        (
            "unknown.yaml",
            "tag: 1.0.0 # {\"$imagepolicy\": \"ns:nope:tag\"}\n",
            "unknown.yaml:1: marker ns:nope:tag names ImagePolicy ns/nope, which does not exist",
        ),
    ];
    for (name, body, _) in cases {
        write(r, name, body);
    }
    // Invalid Flux objects: range, regex, no policy kind.
    write(
        r,
        "flux/bad-range.yaml",
        &repo_and_policy("ns", "br", "ghcr.io/a/app", ">=1.0.0 <"),
    );
    // A marker of the invalid policy is told so, not "does not exist".
    write(
        r,
        "uses-bad-range.yaml",
        "tag: 1.0.0 # {\"$imagepolicy\": \"ns:br:tag\"}\n",
    );
    write(
        r,
        "flux/bad-regex.yaml",
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: rx\n  namespace: ns\nspec:\n  imageRepositoryRef:\n    name: app\n  filterTags:\n    pattern: '^main-('\n  policy:\n    alphabetical: {}\n",
    );
    write(
        r,
        "flux/no-kind.yaml",
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: nk\n  namespace: ns\nspec:\n  imageRepositoryRef:\n    name: app\n",
    );
    // Not UTF-8 but mentions a marker.
    let mut bytes = b"tag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n".to_vec();
    bytes.extend_from_slice(b"x: \xff\xfe\n");
    std::fs::write(r.join("latin1.yaml"), &bytes).unwrap();
    // A symlink out of the repo and a symlink loop.
    std::fs::write(side.path().join("outside.yaml"), GOOD).unwrap();
    std::os::unix::fs::symlink(side.path().join("outside.yaml"), r.join("escape.yaml")).unwrap();
    std::fs::create_dir(r.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", r.join("loop/up")).unwrap();
    std::os::unix::fs::symlink(".", r.join("loop/self")).unwrap();

    let before: Vec<(String, Vec<u8>)> = [
        "malformed.yaml",
        "badjson.yaml",
        "bogus.yaml",
        "unknown.yaml",
        "latin1.yaml",
    ]
    .iter()
    .map(|n| (n.to_string(), std::fs::read(r.join(n)).unwrap()))
    .collect();
    let run = apply(r, side.path());
    assert_eq!(
        run.code, 1,
        "errors must make apply exit 1:\n{}",
        run.stderr
    );
    assert_eq!(
        read(r, "good.yaml"),
        "tag: 1.1.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
    for (name, bytes) in before {
        assert_eq!(
            std::fs::read(r.join(&name)).unwrap(),
            bytes,
            "{name} must not change"
        );
    }
    assert_eq!(
        std::fs::read_to_string(side.path().join("outside.yaml")).unwrap(),
        GOOD,
        "never write outside the repo"
    );
    for (_, _, needle) in cases {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            run.stderr
        );
    }
    for needle in [
        "flux/bad-range.yaml:20: spec.policy.semver.range: improper constraint",
        "flux/bad-regex.yaml:10: spec.filterTags.pattern: invalid regular expression pattern \"^main-(\": error parsing regexp: missing closing ): `^main-(`",
        "flux/no-kind.yaml:7: spec.policy: no policy kind set",
        "latin1.yaml: not valid UTF-8",
        "escape.yaml: symlink points outside the repository; skipped",
        "uses-bad-range.yaml:1: marker ns:br:tag: ImagePolicy ns/br is invalid (see its errors); not applied",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn hostile_snapshot_tags_never_reach_a_file() {
    let (repo, side) = setup();
    // The highest "versions" carry a newline or a '#'; they must be dropped.
    write(
        side.path(),
        "snap.yaml",
        "images:\n  ghcr.io/a/app:\n    tags: [\"1.0.0\", \"1.1.0\", \"9.9.9\\nimage: evil\", \"9.9.9#x\", \"9.9.10 \", \"\"]\n",
    );
    let run = apply(repo.path(), side.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(repo.path(), "good.yaml"),
        "tag: 1.1.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
    assert_eq!(
        run.stderr.matches("not a valid OCI tag").count(),
        4,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\"9.9.9\\nimage: evil\""),
        "the tag is shown escaped:\n{}",
        run.stderr
    );
}

#[test]
fn malformed_snapshot_and_config_are_usage_errors() {
    let (repo, side) = setup();
    write(side.path(), "snap.yaml", "images: [not, a, map]\n");
    let run = apply(repo.path(), side.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("snap.yaml") && run.stderr.contains("not a registry snapshot"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("error: error"),
        "said once: {}",
        run.stderr
    );

    let (repo, side) = setup();
    write(
        repo.path(),
        "hoist.toml",
        "write_paths = [\"**/image-tags.yaml\"]\n\n[[image_policy]]\nname = \"p\"\nrepository = \"r\"\nnumerical = { order = \"sideways\" }\n",
    );
    let run = apply(repo.path(), side.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("hoist.toml:6: image_policy[0].numerical.order: invalid order argument"),
        "{}",
        run.stderr
    );
    assert_eq!(
        read(repo.path(), "good.yaml"),
        GOOD,
        "a config error writes nothing"
    );

    let run = hoist(&["plan", "--repo", s(repo.path())]);
    assert_eq!(run.code, 2);
    let run = hoist(&["plan", "--bogus-flag"]);
    assert_eq!(run.code, 2);
}

#[test]
fn fifty_megabyte_file_with_one_marker() {
    let (repo, side) = setup();
    let mut big = String::with_capacity(52 << 20);
    let mut i = 0;
    while big.len() < 50 << 20 {
        big.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: \"value {i} with some padding to make the document longer\"\n  other: [1, 2, 3]\n"));
        i += 1;
    }
    big.push_str("---\nkind: Last\ntag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n");
    write(repo.path(), "big.yaml", &big);
    let run = apply(repo.path(), side.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = read(repo.path(), "big.yaml");
    assert_eq!(after.len(), big.len());
    assert!(after.ends_with("tag: 1.1.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n"));
    assert_eq!(after[..after.len() - 60], big[..big.len() - 60]);
}

/// A policy document with `spec` lines appended (indented two spaces).
fn policy_with(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: {name}\n  namespace: ns\nspec:\n  imageRepositoryRef:\n    name: app\n{spec}"
    )
}

/// Everything a repository controls, at its most hostile: each file gets a
/// located error (never a panic, an abort or a hang), and the good file
/// still applies.
#[test]
fn hostile_repository_inputs_are_bounded_errors() {
    let (repo, side) = setup();
    let r = repo.path();
    let deep_parens = "(".repeat(100_000) + &")".repeat(100_000);
    let cases: Vec<(String, String, String)> = vec![
        (
            "flux/stacked.yaml".into(),
            policy_with("p1", "  filterTags:\n    pattern: 'a**'\n  policy:\n    alphabetical: {}\n"),
            "flux/stacked.yaml:10: spec.filterTags.pattern: invalid regular expression pattern \"a**\": error parsing regexp: invalid nested repetition operator: `**`".into(),
        ),
        (
            "flux/deep.yaml".into(),
            policy_with("p2", &format!("  filterTags:\n    pattern: '{deep_parens}'\n  policy:\n    alphabetical: {{}}\n")),
            "error parsing regexp: expression nests too deeply".into(),
        ),
        (
            "flux/repeats.yaml".into(),
            policy_with("p3", "  filterTags:\n    pattern: '((x{1000}){1000}){1000}'\n  policy:\n    alphabetical: {}\n"),
            "error parsing regexp: invalid repeat count: `{1000}`".into(),
        ),
        (
            "flux/exclusions.yaml".into(),
            format!(
                "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: ex\n  namespace: ns\nspec:\n  image: ghcr.io/a/ex\n  interval: 1m\n  exclusionList:\n{}",
                "    - '(?x)a'\n".repeat(2)
            ),
            "flux/exclusions.yaml:10: spec.exclusionList[0]: invalid regular expression \"(?x)a\": error parsing regexp: invalid or unsupported Perl syntax: `(?x`".into(),
        ),
        (
            "flux/nested.yaml".into(),
            format!(
                "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: p4, namespace: ns}}\nspec: {}{}\n",
                "[".repeat(200_000),
                "]".repeat(200_000)
            ),
            "flux/nested.yaml:4: invalid YAML: recursion limit exceeded".into(),
        ),
        (
            "flux/laughs.yaml".into(),
            {
                let mut y = String::from("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p5, namespace: ns}\nspec:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
                for i in 1..10 {
                    y.push_str(&format!("  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
                }
                y
            },
            "aliases expand to more than 100000 nodes".into(),
        ),
    ];
    for (name, body, _) in &cases {
        write(r, name, body);
    }
    let run = apply(r, side.path());
    assert_eq!(
        run.code, 1,
        "errors must make apply exit 1:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        read(r, "good.yaml"),
        "tag: 1.1.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
    for (name, body, needle) in &cases {
        assert!(
            run.stderr.contains(needle.as_str()),
            "missing {needle:?} in:\n{}",
            run.stderr
        );
        assert_eq!(&read(r, name), body, "{name} must not change");
    }
    assert!(
        run.stderr.lines().all(|l| l.len() < 2_000),
        "messages stay short whatever the input:\n{}",
        &run.stderr[..run.stderr.len().min(4000)]
    );
    // `plan` sees the same errors and exits 1, even with --exit-code.
    let plan = hoist(&[
        "plan",
        "--exit-code",
        "--repo",
        s(r),
        "--registry-snapshot",
        s(&side.path().join("snap.yaml")),
        "--output",
        "json",
    ]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert!(
        v["summary"]["errors"].as_u64().unwrap() >= 6,
        "{}",
        plan.stdout
    );
}

/// The other files a run reads — markers, hoist.toml, snapshots — at their
/// most hostile: located errors, no panic, nothing written.
#[test]
fn hostile_markers_config_and_snapshots_are_bounded_errors() {
    // A marker whose JSON nests far past any parser's recursion limit, and
    // one with a 1 MB policy name: errors on their lines; the rest applies.
    let (repo, side) = setup();
    let r = repo.path();
    let deep = format!(
        "tag: 1.0.0 # {{\"$imagepolicy\": \"ns:app:tag\", \"x\": {}{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    write(r, "deep-marker.yaml", &deep);
    let huge = format!(
        "tag: 1.0.0 # {{\"$imagepolicy\": \"ns:{}:tag\"}}\n",
        "n".repeat(1 << 20)
    );
    write(r, "huge-marker.yaml", &huge);
    let run = apply(r, side.path());
    assert!(
        run.code <= 1,
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(!run.stderr.contains("panicked"));
    assert_eq!(read(r, "deep-marker.yaml"), deep);
    assert_eq!(read(r, "huge-marker.yaml"), huge);
    assert!(
        run.stderr.contains("deep-marker.yaml:1"),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(
        run.stderr.contains("huge-marker.yaml:1"),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(
        run.stderr.lines().all(|l| l.len() < 2_000),
        "a 1 MB name is cut in messages"
    );
    assert_eq!(
        read(r, "good.yaml"),
        "tag: 1.1.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );

    // hoist.toml: a glob that cannot compile, a deeply nested table.
    for (toml, needle) in [
        ("write_paths = [\"a/[b\"]\n", "hoist.toml"),
        (
            &format!("x = {}1{}\n", "[".repeat(10_000), "]".repeat(10_000)) as &str,
            "hoist.toml",
        ),
    ] {
        let (repo, side) = setup();
        write(repo.path(), "hoist.toml", toml);
        let run = apply(repo.path(), side.path());
        assert_eq!(run.code, 2, "{}", &run.stderr[..run.stderr.len().min(2000)]);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
        assert_eq!(
            read(repo.path(), "good.yaml"),
            GOOD,
            "a config error writes nothing"
        );
    }

    // Snapshots: deep nesting, a 10 MB tag, 200,000 tags of which the
    // highest is hostile.
    let (repo, side) = setup();
    write(
        side.path(),
        "snap.yaml",
        &format!("images: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
    );
    let run = apply(repo.path(), side.path());
    assert_eq!(run.code, 2, "{}", &run.stderr[..run.stderr.len().min(2000)]);
    assert!(
        run.stderr.contains("not a registry snapshot"),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    let mut tags: Vec<String> = (0..200_000).map(|i| format!("\"1.0.{i}\"")).collect();
    tags.push(format!("\"9.9.9{}\"", "x".repeat(10 << 20)));
    write(
        side.path(),
        "snap.yaml",
        &format!(
            "images:\n  ghcr.io/a/app:\n    tags: [{}]\n",
            tags.join(", ")
        ),
    );
    let run = apply(repo.path(), side.path());
    assert_eq!(run.code, 0, "{}", &run.stderr[..run.stderr.len().min(2000)]);
    assert_eq!(
        read(repo.path(), "good.yaml"),
        "tag: 1.0.199999 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
    assert!(
        run.stderr.contains("(10485765 bytes)"),
        "the long tag is cut: {}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(run.stderr.len() < 4_000, "{}", run.stderr.len());
}
