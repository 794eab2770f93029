//! The README's first command must keep producing a real plan.

use crate::common;
use common::*;

#[test]
fn example_fleet_plans_offline_and_lints_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let snap = root.join("registry-snapshot.yaml");
    let run = hoist(&[
        "plan",
        "--repo",
        s(&root),
        "--registry-snapshot",
        s(&snap),
        "--exit-code",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    for line in [
        "+          image: ghcr.io/acme/api:main-0c0ffee-1763650000 # {\"$imagepolicy\": \"flux-system:api-dev\"}",
        "+          image: ghcr.io/acme/api:1.4.0-rc.2 # {\"$imagepolicy\": \"flux-system:api-staging\"}",
        "+          image: ghcr.io/acme/api:1.3.1 # {\"$imagepolicy\": \"flux-system:api-prod\"}",
        "+          image: acmefleet.azurecr.io/worker:2025.06.30@sha256:4b7d2e9c0a1f3e5d7c9b1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d # {\"$imagepolicy\": \"flux-system:worker-prod\"}",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "missing {line}\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("kustomization.yaml"),
        "entry files are never edited"
    );
    assert!(run.stderr.contains("8 changes in 3 files; 8 policies (8 selected, 0 without a result); 0 errors, 0 warnings"), "{}", run.stderr);
    let lint = hoist(&["lint", "--repo", s(&root)]);
    assert_eq!(lint.code, 0, "{}", lint.stderr);
}
