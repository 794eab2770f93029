//! Ladder planning is pure: files + tag lists in, one plan per rung out.
//! A new dev build reaches prod in one pass; a digest mismatch blocks one
//! image on one rung while the other image still moves.

use hoist::core::tags::{TagList, Unobserved};
use hoist::decide::ladder::plan_ladder;
use hoist::observe::repo::source_file;

fn file(rel: &str, text: &str) -> hoist::observe::repo::SourceFile {
    source_file(rel.into(), rel.into(), text.as_bytes().to_vec())
        .unwrap()
        .expect("file holds a marker or a Flux object")
}

fn objects() -> String {
    let mut y = String::new();
    for app in ["api", "web"] {
        y.push_str(&format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: {app}, namespace: ns}}\nspec: {{image: ghcr.io/a/{app}, interval: 1m}}\n---\n\
             apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {app}-dev, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {app}}}\n  filterTags: {{pattern: '^dev-[0-9a-f]+-(?P<ts>\\d+)$', extract: '$ts'}}\n  policy: {{numerical: {{order: asc}}}}\n---\n"
        ));
        for env in ["staging", "prod"] {
            y.push_str(&format!(
                "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {app}-{env}, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {app}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n---\n"
            ));
        }
    }
    y
}

fn tags(env: &str, api: &str, web: &str) -> String {
    let suffix = if env == "dev" {
        "-dev".to_string()
    } else {
        format!("-{env}")
    };
    format!(
        "api: {api} # {{\"$imagepolicy\": \"ns:api{suffix}:tag\"}}\nweb: {web} # {{\"$imagepolicy\": \"ns:web{suffix}:tag\"}}\n"
    )
}

const LADDER: &str = "[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n\
    [[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\npromote_from = \"staging\"\n\n\
    [[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\npromote_from = \"dev\"\n\
    tag_rewrite = { from = '^dev-(?P<sha>[0-9a-f]{7})-\\d+$', to = 'staging-$sha' }\nrequire_same_digest = true\n";

fn list(pairs: &[(&str, &str)]) -> TagList {
    TagList {
        tags: pairs.iter().map(|(t, _)| t.to_string()).collect(),
        digests: pairs
            .iter()
            .map(|(t, d)| (t.to_string(), format!("sha256:{}", d.repeat(64 / d.len()))))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn a_new_build_climbs_the_whole_ladder_in_one_pass() {
    let config = hoist::config::parse(LADDER, "hoist.toml").unwrap();
    let files = fleet_files();
    let api = list(&[
        ("dev-aaaaaaa-1", "a"),
        ("dev-bbbbbbb-2", "b"),
        ("staging-aaaaaaa", "a"),
        ("staging-bbbbbbb", "b"),
    ]);
    // web's staging build was rebuilt: same name, another image.
    let web = list(&[
        ("dev-1111111-1", "1"),
        ("dev-2222222-2", "2"),
        ("staging-1111111", "1"),
        ("staging-2222222", "9"),
    ]);
    let tags_for = |img: &str| match img {
        "ghcr.io/a/api" => Ok(&api),
        "ghcr.io/a/web" => Ok(&web),
        other => Err(Unobserved::NotInSnapshot {
            image: other.to_string(),
        }),
    };
    let plans = plan_ladder(&config.ladder, &files, &collect(&files), &config, tags_for);
    let names: Vec<&str> = plans.iter().map(|p| p.rung.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "prod"]);

    let dev = &plans[0];
    assert_eq!(
        dev.runs["ghcr.io/a/api"],
        ("dev-aaaaaaa-1".into(), "dev-bbbbbbb-2".into())
    );
    assert_eq!(
        dev.runs["ghcr.io/a/web"],
        ("dev-1111111-1".into(), "dev-2222222-2".into())
    );

    let staging = &plans[1];
    assert_eq!(
        staging.runs["ghcr.io/a/api"],
        ("staging-aaaaaaa".into(), "staging-bbbbbbb".into())
    );
    assert_eq!(staging.promotions.len(), 1, "{:?}", staging.promotions);
    let p = &staging.promotions[0];
    assert_eq!(
        (
            p.policy.as_str(),
            p.from_tag.as_str(),
            p.to_tag.as_str(),
            p.source_commit.as_deref()
        ),
        (
            "api-staging",
            "dev-bbbbbbb-2",
            "staging-bbbbbbb",
            Some("bbbbbbb")
        )
    );
    // web is blocked on staging only: the rewritten tag is another image.
    assert_eq!(staging.blocked.len(), 1);
    assert_eq!(staging.blocked[0].policy, "web-staging");
    assert!(
        staging.blocked[0]
            .reason
            .contains("staging-2222222 is not the same image as dev-2222222-2"),
        "{}",
        staging.blocked[0].reason
    );
    assert_eq!(
        staging.runs["ghcr.io/a/web"].0,
        staging.runs["ghcr.io/a/web"].1
    );
    assert!(
        staging
            .diagnostics
            .iter()
            .any(|d| d.to_string().contains("blocked on staging")),
        "{:?}",
        staging.diagnostics
    );

    // prod reads staging as staging left it: api moves in the same pass.
    let prod = &plans[2];
    assert_eq!(
        prod.runs["ghcr.io/a/api"],
        ("staging-aaaaaaa".into(), "staging-bbbbbbb".into())
    );
    assert_eq!(prod.runs["ghcr.io/a/web"].0, prod.runs["ghcr.io/a/web"].1);
    assert!(prod.blocked.is_empty(), "{:?}", prod.blocked);
    let text = &prod.files[0].updated;
    assert!(text.contains("api: staging-bbbbbbb #"), "{text}");
    assert!(text.contains("web: staging-1111111 #"), "{text}");

    // Planning again on the result changes nothing: convergent.
    let after: Vec<_> = files
        .iter()
        .map(|f| {
            let updated = plans
                .iter()
                .flat_map(|p| &p.files)
                .find(|c| c.file == f.rel)
                .map_or(f.text.to_string(), |c| c.updated.to_string());
            file(&f.rel, &updated)
        })
        .collect();
    let again = plan_ladder(&config.ladder, &after, &collect(&after), &config, tags_for);
    assert!(
        again.iter().all(|p| p.files.is_empty()),
        "a second pass moves nothing"
    );
}

/// Objects plus each rung's image-tags file: dev runs the `aaaaaaa` /
/// `1111111` builds, staging and prod their staging tags.
fn fleet_files() -> Vec<hoist::observe::repo::SourceFile> {
    vec![
        file("flux/objects.yaml", &objects()),
        file(
            "clusters/dev/image-tags.yaml",
            &tags("dev", "dev-aaaaaaa-1", "dev-1111111-1"),
        ),
        file(
            "clusters/staging/image-tags.yaml",
            &tags("staging", "staging-aaaaaaa", "staging-1111111"),
        ),
        file(
            "clusters/prod/image-tags.yaml",
            &tags("prod", "staging-aaaaaaa", "staging-1111111"),
        ),
    ]
}

fn collect(files: &[hoist::observe::repo::SourceFile]) -> hoist::decide::plan::Objects {
    hoist::decide::plan::collect_objects(files, &hoist::config::Config::default()).0
}

#[test]
fn pull_request_text_tells_a_reviewer_everything_and_fits_the_forge() {
    use hoist::decide::ladder::body::{self, AZURE_DEVOPS_LIMITS, GITHUB_LIMITS, Limits};
    let config = hoist::config::parse(LADDER, "hoist.toml").unwrap();
    let files = fleet_files();
    let api = list(&[("dev-bbbbbbb-2", "b"), ("staging-bbbbbbb", "b")]);
    let web = list(&[("dev-2222222-2", "2"), ("staging-2222222", "9")]);
    let tags_for = |img: &str| match img {
        "ghcr.io/a/api" => Ok(&api),
        _ => Ok(&web),
    };
    let plans = plan_ladder(&config.ladder, &files, &collect(&files), &config, tags_for);
    let rung = config.ladder.rung("staging").unwrap();
    let (title, text) = body::render(rung, &plans[1], GITHUB_LIMITS);
    assert_eq!(title, "hoist(staging): api staging-bbbbbbb");
    for needle in [
        "with what **dev** runs",
        "| `ghcr.io/a/api` | `staging-aaaaaaa` | `staging-bbbbbbb` | `sha256:bbbb",
        "| `bbbbbbb` |",
        "`clusters/staging/image-tags.yaml:1` (ns:api-staging:tag): `staging-aaaaaaa` → `staging-bbbbbbb`",
        "Not in this change (blocked):",
        "ns/web-staging: ghcr.io/a/web:staging-2222222 is not the same image",
        "What this rung requires: nothing; hoist commits it directly.",
        "Rollback: revert the merge commit, or set these values back:",
        "- `clusters/staging/image-tags.yaml:1`: `staging-aaaaaaa`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let rec = body::parse_record(&text).unwrap();
    assert_eq!(rec.environment, "staging");
    assert!(rec.complete);
    assert_eq!(rec.changes, body::record(&plans[1]));
    // Azure DevOps' 4,000 characters, and a tiny limit: the body fits, the
    // record still parses, the cut is announced.
    for limits in [
        AZURE_DEVOPS_LIMITS,
        Limits {
            title: 30,
            body: 700,
        },
    ] {
        let (title, text) = body::render(rung, &plans[1], limits);
        assert!(title.chars().count() <= limits.title, "{title}");
        assert!(
            text.chars().count() <= limits.body,
            "{} > {}",
            text.chars().count(),
            limits.body
        );
        assert!(body::parse_record(&text).is_some(), "{text}");
    }
    let (_, tiny) = body::render(
        rung,
        &plans[1],
        Limits {
            title: 30,
            body: 700,
        },
    );
    assert!(tiny.contains("cut to fit the forge's limit"), "{tiny}");
}

/// A `group = "image"` plan for one image reads and writes that image's
/// markers only: the other image keeps its bytes although a newer build
/// of it is there too, and a broken marker of another policy in the same
/// file is the full plan's to report, not every image's.
#[test]
fn a_plan_for_one_image_touches_and_reports_only_that_image() {
    let config = hoist::config::parse(LADDER, "hoist.toml").unwrap();
    let mut files = fleet_files();
    let staging = "clusters/staging/image-tags.yaml";
    let text = format!(
        "{}ghost: x # {{\"$imagepolicy\": \"ns:ghost:tag\"}}\n",
        tags("staging", "staging-aaaaaaa", "staging-1111111")
    );
    let at = files.iter().position(|f| f.rel == staging).unwrap();
    files[at] = file(staging, &text);
    let api = list(&[("dev-bbbbbbb-2", "b"), ("staging-bbbbbbb", "b")]);
    let web = list(&[("dev-2222222-2", "2"), ("staging-2222222", "2")]);
    // dev runs the new builds of both images.
    let dev = "clusters/dev/image-tags.yaml";
    let at = files.iter().position(|f| f.rel == dev).unwrap();
    files[at] = file(dev, &tags("dev", "dev-bbbbbbb-2", "dev-2222222-2"));
    let tags_for = |img: &str| match img {
        "ghcr.io/a/api" => Ok(&api),
        "ghcr.io/a/web" => Ok(&web),
        other => Err(Unobserved::NotInSnapshot {
            image: other.to_string(),
        }),
    };
    let objects = collect(&files);
    let decided = hoist::decide::ladder::Decided::new(&objects, tags_for);
    let tree = hoist::decide::ladder::Tree {
        files: &files,
        objects: &objects,
        config: &config,
        tags_for: &tags_for,
        decided: &decided,
    };
    let one = hoist::decide::ladder::plan_one(&config.ladder, "staging", Some("api"), None, &tree)
        .unwrap();
    assert_eq!(one.files.len(), 1);
    let updated = one.files[0].updated.as_str();
    assert!(updated.contains("api: staging-bbbbbbb #"), "{updated}");
    assert!(
        updated.contains("web: staging-1111111 #"),
        "web is another plan's: {updated}"
    );
    assert_eq!(
        one.runs.keys().collect::<Vec<_>>(),
        ["ghcr.io/a/api"],
        "what the rung runs, for this image"
    );
    assert_eq!(
        one.runs["ghcr.io/a/api"],
        ("staging-aaaaaaa".to_string(), "staging-bbbbbbb".to_string()),
        "before and after its edit"
    );
    assert!(
        one.diagnostics
            .iter()
            .all(|d| !d.to_string().contains("ghost")),
        "{:?}",
        one.diagnostics
    );
    // The whole rung moves both images and names the broken marker.
    let all =
        hoist::decide::ladder::plan_one(&config.ladder, "staging", None, None, &tree).unwrap();
    let updated = all.files[0].updated.as_str();
    assert!(updated.contains("web: staging-2222222 #"), "{updated}");
    assert!(
        all.diagnostics
            .iter()
            .any(|d| d.to_string().contains("ns:ghost")),
        "{:?}",
        all.diagnostics
    );
}
