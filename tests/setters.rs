//! Setter conformance: Flux's fixture tree and hoist's own, byte for byte.

use crate::common;
use common::*;

fn run_fixture(
    original: &std::path::Path,
    policies: &str,
    snapshot: &std::path::Path,
) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(original, dir.path());
    write(dir.path(), "zz-policies.yaml", policies);
    let run = hoist(&[
        "apply",
        "--no-commit",
        "--repo",
        s(dir.path()),
        "--registry-snapshot",
        s(snapshot),
    ]);
    (dir, run)
}

fn assert_matches_expected(
    dir: &std::path::Path,
    original: &std::path::Path,
    expected: &std::path::Path,
) {
    for entry in std::fs::read_dir(original).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_symlink() {
            assert!(
                std::fs::symlink_metadata(dir.join(&name))
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            continue;
        }
        let got = std::fs::read(dir.join(&name)).unwrap();
        let want = match std::fs::read(expected.join(&name)) {
            Ok(w) => w,
            Err(_) => std::fs::read(entry.path()).unwrap(), // absent from expected: unchanged
        };
        assert!(
            got == want,
            "{name:?} differs:\n{}",
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn flux_fixture_tree_matches_expected_byte_for_byte() {
    let original = fixture("conformance/flux-setters/original");
    let policies = std::fs::read_to_string(fixture("flux-setters-inputs/policies.yaml")).unwrap();
    let (dir, run) = run_fixture(
        &original,
        &policies,
        &fixture("flux-setters-inputs/snapshot.yaml"),
    );
    // Without an automation, the other-namespace marker names a policy
    // that exists nowhere: it can never apply, so it is an error (#17);
    // every other edit is still written, and the dangling symlink is not
    // an error.
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_matches_expected(
        dir.path(),
        &original,
        &fixture("conformance/flux-setters/expected"),
    );
    assert!(
        run.stderr
            .contains("error: otherns.yaml:11: marker other-namespace:policy names ImagePolicy other-namespace/policy, which does not exist"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("test.yaml"), "{}", run.stderr);
    assert!(
        run.stderr.contains("wrote 3 files (7 changes)"),
        "{}",
        run.stderr
    );
}

#[test]
fn flux_fixture_tree_with_an_automation_object() {
    let original = fixture("conformance/flux-setters/original");
    let mut policies =
        std::fs::read_to_string(fixture("flux-setters-inputs/policies.yaml")).unwrap();
    policies.push_str("---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\nmetadata: {name: auto, namespace: automation-ns}\nspec:\n  update: {path: ./, strategy: Setters}\n");
    let (dir, run) = run_fixture(
        &original,
        &policies,
        &fixture("flux-setters-inputs/snapshot.yaml"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_matches_expected(
        dir.path(),
        &original,
        &fixture("conformance/flux-setters/expected"),
    );
    assert!(
        run.stderr.contains("otherns.yaml:11") && run.stderr.contains("another namespace"),
        "{}",
        run.stderr
    );
}

#[test]
fn hoist_fixtures_crlf_multidoc_quoting_block_scalars() {
    let original = fixture("setters/original");
    let policies = std::fs::read_to_string(fixture("setters/policies.yaml")).unwrap();
    let (dir, run) = run_fixture(&original, &policies, &fixture("setters/snapshot.yaml"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_matches_expected(dir.path(), &original, &fixture("setters/expected"));
    // The two markers go-yaml gives to a key and to a flow mapping are
    // Flux's no-ops: reported with their lines, never applied.
    for line in [
        "multidoc.yaml:17: Flux ignores marker",
        "multidoc.yaml:22: Flux ignores marker",
    ] {
        assert!(
            run.stderr.contains(line),
            "missing {line:?}:\n{}",
            run.stderr
        );
    }
    // Running again changes nothing: the result is a fixed point.
    let again = hoist(&[
        "plan",
        "--repo",
        s(dir.path()),
        "--registry-snapshot",
        s(&fixture("setters/snapshot.yaml")),
        "--exit-code",
    ]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.is_empty());
}

#[test]
fn plan_diff_is_a_patch_and_json_is_structured() {
    let original = fixture("conformance/flux-setters/original");
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&original, dir.path());
    write(
        dir.path(),
        "zz-policies.yaml",
        &std::fs::read_to_string(fixture("flux-setters-inputs/policies.yaml")).unwrap(),
    );
    // Its marker names a policy that exists nowhere (an error of its own,
    // tested above); without it the gate sees only pending changes.
    std::fs::remove_file(dir.path().join("otherns.yaml")).unwrap();
    let snap = fixture("flux-setters-inputs/snapshot.yaml");
    let plan = hoist(&[
        "plan",
        "--repo",
        s(dir.path()),
        "--registry-snapshot",
        s(&snap),
        "--exit-code",
    ]);
    assert_eq!(plan.code, 3, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("--- a/marked.yaml\n+++ b/marked.yaml\n"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("-            image: image:v1.0.0 # {\"$imagepolicy\": \"automation-ns:policy\"}\n+            image: index.repo.fake/updated:v1.0.1 # {\"$imagepolicy\": \"automation-ns:policy\"}\n"));
    assert!(
        plan.stderr.contains("hoist plan: 7 changes in 3 files"),
        "{}",
        plan.stderr
    );
    // Nothing was written by plan.
    assert_eq!(
        read(dir.path(), "marked.yaml"),
        std::fs::read_to_string(original.join("marked.yaml")).unwrap()
    );

    let json = hoist(&[
        "plan",
        "--repo",
        s(dir.path()),
        "--registry-snapshot",
        s(&snap),
        "--output",
        "json",
    ]);
    assert_eq!(json.code, 0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["summary"]["changes"], 7);
    let pol = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "policy-with-digest")
        .unwrap();
    assert_eq!(
        pol["ref"],
        "image:v1.0.0@sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be"
    );
    let marked = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "marked.yaml")
        .unwrap();
    assert_eq!(marked["objects"][0]["object"]["kind"], "CronJob");
    assert_eq!(marked["objects"][0]["object"]["namespace"], "bar");
    assert_eq!(
        marked["objects"][0]["changes"][0]["setter"],
        "automation-ns:policy"
    );
    assert_eq!(marked["objects"][0]["changes"][0]["old"], "image:v1.0.0");
    assert_eq!(marked["objects"][0]["changes"][0]["line"], 14);
}

#[test]
fn apply_keeps_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        &repo_and_policy("ns", "app", "ghcr.io/a/app", ">=1.0.0"),
    );
    let f = write(
        dir.path(),
        "image-tags.yaml",
        "tag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n",
    );
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let other = tempfile::tempdir().unwrap();
    let snap = write(
        other.path(),
        "snap.yaml",
        "images:\n  ghcr.io/a/app:\n    tags: [1.0.0, 1.1.0]\n",
    );
    let run = hoist(&[
        "apply",
        "--no-commit",
        "--repo",
        s(dir.path()),
        "--registry-snapshot",
        s(&snap),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "image-tags.yaml"),
        "tag: 1.1.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o640
    );
}
