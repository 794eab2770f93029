//! `hoist run` against the fake forge (tests/common/forge.rs), real Git
//! remotes and, in one test, the real registry: dev is pushed, staging's
//! pull request is merged, prod's is opened and left for a human. Each
//! scenario runs on GitHub and on Azure DevOps.

mod common;
use common::forge::{FakeForge, State, TOKEN};
use common::git::{bare_from, count, file_url, git, show};
use common::*;

const IMAGE: &str = "127.0.0.1:1/api";

fn flux(name: &str, image: &str) -> String {
    let mut y = format!(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: {name}, namespace: ns}}\nspec: {{image: {image}, interval: 1m}}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {name}-dev, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {name}}}\n  filterTags: {{pattern: '^dev-[0-9a-f]+-(?P<ts>\\d+)$', extract: '$ts'}}\n  policy: {{numerical: {{order: asc}}}}\n"
    );
    for env in ["staging", "prod"] {
        y.push_str(&format!("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {name}-{env}, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {name}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n"));
    }
    y
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    GitHub,
    Azure,
}

impl Kind {
    fn repo(self) -> &'static str {
        match self {
            Kind::GitHub => "acme/fleet",
            Kind::Azure => "acme/ops/fleet",
        }
    }
    fn source(self) -> &'static str {
        match self {
            Kind::GitHub => "acme/api",
            Kind::Azure => "acme/ops/api",
        }
    }
}

fn ladder(kind: Kind, forge_url: &str, image: &str) -> String {
    let k = match kind {
        Kind::GitHub => "github",
        Kind::Azure => "azure-devops",
    };
    format!(
        "write_paths = [\"clusters/**/image-tags.yaml\"]\n\n\
[forge]\nkind = \"{k}\"\nrepository = \"{}\"\napi_url = \"{forge_url}\"\ntoken_env = \"HOIST_TEST_FORGE_TOKEN\"\n\n\
[source_repository]\n\"{image}\" = \"{}\"\n\n\
[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n\
[[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\nmode = \"auto-merge\"\nmerge_method = \"squash\"\npromote_from = \"dev\"\n\
tag_rewrite = {{ from = '^dev-(?P<sha>[0-9a-f]{{7}})-\\d+$', to = 'staging-$sha' }}\nrequire_same_digest = true\nlabels = [\"promotion\"]\n\n\
[[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\nmode = \"pull-request\"\npromote_from = \"staging\"\n\
tag_rewrite = {{ from = '^staging-(?P<sha>[0-9a-f]{{7}})$', to = 'prod-$sha' }}\nrequire_same_digest = true\nreviewers = [\"alice\"]\nlabels = [\"promotion\", \"prod\"]\n",
        kind.repo(),
        kind.source(),
    )
}

/// The application's source repository: `n` commits, short shas returned.
fn source_repo(dir: &std::path::Path, n: usize) -> (std::path::PathBuf, Vec<String>) {
    let work = dir.join("api-src");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    let mut shas = Vec::new();
    for i in 1..=n {
        write(&work, "main.go", &format!("package main // v{i}\n"));
        git(&work, &["add", "-A"]);
        git(
            &work,
            &["commit", "-q", "-m", &format!("feature number {i}")],
        );
        shas.push(
            git(&work, &["rev-parse", "--short=7", "HEAD"])
                .trim()
                .to_string(),
        );
    }
    let bare = dir.join("api.git");
    git(dir, &["clone", "-q", "--bare", s(&work), s(&bare)]);
    (bare, shas)
}

struct World {
    t: tempfile::TempDir,
    forge: FakeForge,
    bare: std::path::PathBuf,
    shas: Vec<String>,
    kind: Kind,
}

impl World {
    /// A fleet on `kind` where every rung runs build 1.
    fn new(kind: Kind) -> World {
        let t = tempfile::tempdir().unwrap();
        let forge = FakeForge::start();
        let (src, shas) = source_repo(t.path(), 3);
        let content = t.path().join("content");
        write(&content, "flux/api.yaml", &flux("api", IMAGE));
        write(&content, "hoist.toml", &ladder(kind, &forge.url(), IMAGE));
        let s1 = &shas[0];
        for (env, tag) in [
            ("dev", format!("dev-{s1}-1")),
            ("staging", format!("staging-{s1}")),
            ("prod", format!("prod-{s1}")),
        ] {
            write(
                &content,
                &format!("clusters/{env}/image-tags.yaml"),
                &format!("api: {tag} # {{\"$imagepolicy\": \"ns:api-{env}:tag\"}}\n"),
            );
        }
        let bare = bare_from(t.path(), "fleet", &content);
        forge.add_repo(kind.repo(), &bare);
        forge.add_repo(kind.source(), &src);
        World {
            t,
            forge,
            bare,
            shas,
            kind,
        }
    }

    /// A snapshot with builds 1..=n of every rung's tags, digests equal
    /// along each build.
    fn snapshot(&self, n: usize, tweak: &[(&str, char)]) -> std::path::PathBuf {
        let mut y = format!("images:\n  {IMAGE}:\n    tags:\n");
        for (i, sha) in self.shas.iter().take(n).enumerate() {
            let d = char::from(b'a' + i as u8);
            for tag in [
                format!("dev-{sha}-{}", i + 1),
                format!("staging-{sha}"),
                format!("prod-{sha}"),
            ] {
                let d = tweak.iter().find(|(t, _)| *t == tag).map_or(d, |(_, c)| *c);
                y.push_str(&format!(
                    "      {tag}: \"sha256:{}\"\n",
                    d.to_string().repeat(64)
                ));
            }
        }
        write(self.t.path(), &format!("snap-{n}.yaml"), &y)
    }

    fn run(&self, snap: &std::path::Path, extra: &[&str]) -> Run {
        let state = self.t.path().join("state");
        let url = file_url(&self.bare);
        let mut args = vec![
            "run",
            "--url",
            &url,
            "--state-dir",
            s(&state),
            "--registry-snapshot",
            s(snap),
        ];
        args.extend(extra);
        hoist_env(&args, &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())])
    }

    fn main_has(&self, env: &str, tag: &str) -> bool {
        show(
            &self.bare,
            "main",
            &format!("clusters/{env}/image-tags.yaml"),
        )
        .starts_with(&format!("api: {tag} #"))
    }
}

fn climb_twice_then_a_newer_build(kind: Kind) {
    let w = World::new(kind);
    let [s1, s2, s3] = [&w.shas[0], &w.shas[1], &w.shas[2]];
    let snap2 = w.snapshot(2, &[]);

    // Run 1: dev pushed, staging merged, prod proposed.
    let r = w.run(&snap2, &[]);
    r.expect(
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
    assert!(
        show(&w.bare, "hoist/prod", "clusters/prod/image-tags.yaml")
            .starts_with(&format!("api: prod-{s2} #"))
    );
    let fleet = w.forge.repo(kind.repo());
    assert_eq!(fleet.pulls.len(), 2);
    assert_eq!(fleet.pulls[0].state, State::Merged);
    assert_eq!(fleet.pulls[0].labels, vec!["promotion"]);
    let prod = &fleet.pulls[1];
    assert_eq!(prod.state, State::Open);
    assert_eq!(prod.head, "hoist/prod");
    assert_eq!(prod.labels, vec!["promotion", "prod"]);
    if kind == Kind::GitHub {
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

    // Run 2: nothing new, nothing written anywhere.
    w.forge.reset_calls();
    let r = w.run(&snap2, &[]);
    r.expect(0, &["hoist run: prod: pull request #2 is up to date"]);
    assert_eq!(w.forge.writes(), Vec::<(String, String)>::new());
    assert_eq!(count(&w.bare, "main"), main_commits);
    assert_eq!(git(&w.bare, &["rev-parse", "hoist/prod"]).trim(), head);

    // Run 3: build 3 moves dev and staging and updates the same prod PR.
    let r = w.run(&w.snapshot(3, &[]), &[]);
    r.expect(
        0,
        &[
            "hoist run: staging: merged pull request #3",
            "hoist run: prod: updated pull request #2",
        ],
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
    assert!(
        show(&w.bare, "hoist/prod", "clusters/prod/image-tags.yaml")
            .starts_with(&format!("api: prod-{s3} #"))
    );
    assert!(w.main_has("staging", &format!("staging-{s3}")));
}

#[test]
fn github_ladder_push_merge_propose_and_converge() {
    climb_twice_then_a_newer_build(Kind::GitHub);
}

#[test]
fn azure_devops_ladder_push_merge_propose_and_converge() {
    climb_twice_then_a_newer_build(Kind::Azure);
}
