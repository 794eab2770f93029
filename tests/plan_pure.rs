//! `plan` is a pure function: in-memory files and tag lists in, edits out.

use hoist::config::Config;
use hoist::core::tags::{TagList, Unobserved};
use hoist::observe::repo::source_file;

fn file(rel: &str, text: &str) -> hoist::observe::repo::SourceFile {
    source_file(rel.into(), rel.into(), text.as_bytes().to_vec())
        .unwrap()
        .expect("file holds a marker or a Flux object")
}

#[test]
fn plan_from_memory_without_disk_or_network() {
    let objects = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: api, namespace: ns}\nspec: {image: ghcr.io/a/api, interval: 1m}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: api, namespace: ns}\nspec:\n  imageRepositoryRef: {name: api}\n  policy: {semver: {range: '~1.2'}}\n";
    let tags = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: prod}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/a/api:1.2.0 # {\"$imagepolicy\": \"ns:api\"}\n";
    let files = vec![
        file("flux/api.yaml", objects),
        file("prod/image-tags.yaml", tags),
    ];
    let list = TagList {
        tags: vec!["1.2.0".into(), "1.2.7".into(), "1.3.0".into()],
        ..Default::default()
    };
    let plan = hoist::decide::plan::plan(&files, &Config::default(), |image| {
        if image == "ghcr.io/a/api" {
            Ok(&list)
        } else {
            Err(Unobserved::NotInSnapshot {
                image: image.to_string(),
            })
        }
    });
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    assert_eq!(
        plan.policies[0].reference.as_deref(),
        Some("ghcr.io/a/api:1.2.7")
    );
    assert_eq!(plan.files.len(), 1);
    let f = &plan.files[0];
    assert_eq!(f.file, "prod/image-tags.yaml");
    let o = &f.objects[0];
    assert_eq!(
        (
            o.object.kind.as_str(),
            o.object.name.as_str(),
            o.object.namespace.as_str()
        ),
        ("Deployment", "api", "prod")
    );
    let c = &o.changes[0];
    assert_eq!(
        (c.line, c.old.as_str(), c.new.as_str(), c.setter.as_str()),
        (9, "ghcr.io/a/api:1.2.0", "ghcr.io/a/api:1.2.7", "ns:api")
    );
    assert_eq!(f.updated.as_str(), tags.replace("1.2.0 #", "1.2.7 #"));

    // Same inputs, same plan: re-planning after a concurrent push is safe.
    let again = hoist::decide::plan::plan(&files, &Config::default(), |_| Ok(&list));
    assert_eq!(again.files[0].updated, f.updated);

    // A failing tag source leaves the policy without a result and the file alone.
    let failed = hoist::decide::plan::plan(&files, &Config::default(), |image| {
        Err(Unobserved::ScanFailed {
            image: image.to_string(),
            reason: "registry unreachable".to_string(),
        })
    });
    assert!(failed.files.is_empty());
    assert_eq!(
        failed.policies[0].error.as_deref(),
        Some("registry unreachable")
    );
    assert!(failed.diagnostics[0].to_string().starts_with(
        "prod/image-tags.yaml:9: marker ns:api: policy has no result (registry unreachable)"
    ));
}

/// Objects and pull Secrets land where Flux puts them: a kustomization's
/// `namespace:` places the namespace-less ImageRepository and its Secret
/// together, so `secretRef` still finds it.
#[test]
fn a_pull_secret_lands_with_the_repository_that_names_it() {
    let k = source_file(
        "apps/kustomization.yaml".into(),
        "apps/kustomization.yaml".into(),
        b"namespace: apps\nresources:\n  - repo.yaml\n  - secret.yaml\n".to_vec(),
    )
    .unwrap()
    .expect("entry files are kept");
    let repo = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: api}\nspec: {image: ghcr.io/a/api, interval: 1m, secretRef: {name: pull}}\n";
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: pull}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\": {}}'\n";
    let files = vec![
        k,
        file("apps/repo.yaml", repo),
        file("apps/secret.yaml", secret),
    ];
    let (objects, diags) = hoist::decide::plan::collect_objects(&files, &Config::default());
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(objects.repositories[0].meta.namespace, "apps");
    assert!(
        objects
            .pull_secrets
            .contains_key(&("apps".to_string(), "pull".to_string())),
        "{:?}",
        objects.pull_secrets.keys()
    );
}
