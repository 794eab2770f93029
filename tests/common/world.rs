//! A fleet on the fake forge for end-to-end tests: a source repository
//! with three commits, the fleet (dev → staging → prod) in a bare repo,
//! snapshots of builds, and `hoist run` on it.
#![allow(dead_code)]

use super::forge::{FakeForge, TOKEN};
use super::git::{bare_from, file_url, git, show};
use super::*;

pub fn flux(name: &str, image: &str) -> String {
    let mut y = format!(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: {name}, namespace: ns}}\nspec: {{image: {image}, interval: 1m, insecure: true}}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {name}-dev, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {name}}}\n  filterTags: {{pattern: '^dev-[0-9a-f]+-(?P<ts>\\d+)$', extract: '$ts'}}\n  policy: {{numerical: {{order: asc}}}}\n"
    );
    for env in ["staging", "prod"] {
        y.push_str(&format!("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {name}-{env}, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: {name}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n"));
    }
    y
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    GitHub,
    Azure,
    GitLab,
}

impl Kind {
    /// `text` in this forge's words: GitLab's merge requests are `!N`.
    pub fn says(self, text: &str) -> String {
        match self {
            Kind::GitLab => text
                .replace("pull request", "merge request")
                .replace("merge request #", "merge request !"),
            _ => text.to_string(),
        }
    }

    pub fn repo(self) -> &'static str {
        match self {
            Kind::GitHub => "acme/fleet",
            Kind::Azure => "acme/ops/fleet",
            // A subgroup: the project id is an encoded path with two `/`.
            Kind::GitLab => "acme/platform/fleet",
        }
    }
    pub fn source(self) -> &'static str {
        match self {
            Kind::GitHub => "acme/api",
            Kind::Azure => "acme/ops/api",
            Kind::GitLab => "acme/platform/api",
        }
    }
}

pub fn ladder(kind: Kind, forge_url: &str, image: &str, prod_extra: &str) -> String {
    let k = match kind {
        Kind::GitHub => "github",
        Kind::Azure => "azure-devops",
        Kind::GitLab => "gitlab",
    };
    let forge_url = match kind {
        Kind::GitLab => format!("{forge_url}/api/v4"),
        _ => forge_url.to_string(),
    };
    format!(
        "write_paths = [\"clusters/**/image-tags.yaml\"]\n\n\
[forge]\nkind = \"{k}\"\nrepository = \"{}\"\napi_url = \"{forge_url}\"\ntoken_env = \"HOIST_TEST_FORGE_TOKEN\"\n\n\
[source_repository]\n\"{image}\" = \"{}\"\n\n\
[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n\
[[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\nmode = \"auto-merge\"\nmerge_method = \"squash\"\npromote_from = \"dev\"\n\
tag_rewrite = {{ from = '^dev-(?P<sha>[0-9a-f]{{7}})-\\d+$', to = 'staging-$sha' }}\nrequire_same_digest = true\nlabels = [\"promotion\"]\n\n\
[[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\nmode = \"pull-request\"\npromote_from = \"staging\"\n\
tag_rewrite = {{ from = '^staging-(?P<sha>[0-9a-f]{{7}})$', to = 'prod-$sha' }}\nrequire_same_digest = true\nreviewers = [\"alice\"]\nlabels = [\"promotion\", \"prod\"]\n{prod_extra}",
        kind.repo(),
        kind.source(),
    )
}

/// The application's source repository: `n` commits, short shas returned.
pub fn source_repo(dir: &std::path::Path, n: usize) -> (std::path::PathBuf, Vec<String>) {
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
        // A short sha of digits only reads as a build number, not a
        // commit (`report::view::commit_in_tag`): amend until it has a
        // letter, as nearly every real one does.
        let mut sha = git(&work, &["rev-parse", "--short=7", "HEAD"])
            .trim()
            .to_string();
        let mut n = 0;
        while sha.bytes().all(|b| b.is_ascii_digit()) {
            n += 1;
            git(
                &work,
                &[
                    "commit",
                    "-q",
                    "--amend",
                    "-m",
                    &format!("feature number {i} ({n})"),
                ],
            );
            sha = git(&work, &["rev-parse", "--short=7", "HEAD"])
                .trim()
                .to_string();
        }
        shas.push(sha);
    }
    let bare = dir.join("api.git");
    git(dir, &["clone", "-q", "--bare", s(&work), s(&bare)]);
    (bare, shas)
}

pub struct World {
    pub t: tempfile::TempDir,
    pub forge: FakeForge,
    pub bare: std::path::PathBuf,
    pub shas: Vec<String>,
    pub images: Vec<&'static str>,
    pub kind: Kind,
}

impl World {
    /// A fleet on `kind` with the image `api` where every rung runs build 1.
    pub fn new(kind: Kind) -> World {
        World::with(kind, &["api"], "")
    }

    /// A fleet on `kind` with `images` (all built from one source
    /// repository) where every rung runs build 1; `prod_extra` is added to
    /// prod's `[[environment]]`.
    pub fn with(kind: Kind, images: &[&'static str], prod_extra: &str) -> World {
        World::at("127.0.0.1:1", kind, images, prod_extra, "")
    }

    /// [`World::with`], images in `registry`, `config` added to hoist.toml.
    pub fn at(
        registry: &str,
        kind: Kind,
        images: &[&'static str],
        prod_extra: &str,
        config: &str,
    ) -> World {
        let t = tempfile::tempdir().unwrap();
        let forge = FakeForge::start();
        let (src, shas) = source_repo(t.path(), 3);
        let content = t.path().join("content");
        let objects: Vec<String> = images
            .iter()
            .map(|name| flux(name, &format!("{registry}/{name}")))
            .collect();
        write(&content, "flux/apps.yaml", &objects.join("---\n"));
        write(
            &content,
            "hoist.toml",
            &format!(
                "{}\n{config}",
                ladder(kind, &forge.url(), &format!("{registry}/api"), prod_extra)
            ),
        );
        let s1 = &shas[0];
        for (env, tag) in [
            ("dev", format!("dev-{s1}-1")),
            ("staging", format!("staging-{s1}")),
            ("prod", format!("prod-{s1}")),
        ] {
            let mut y = String::new();
            for name in images {
                y.push_str(&format!(
                    "{name}: {tag} # {{\"$imagepolicy\": \"ns:{name}-{env}:tag\"}}\n"
                ));
            }
            write(&content, &format!("clusters/{env}/image-tags.yaml"), &y);
        }
        let bare = bare_from(t.path(), "fleet", &content);
        forge.add_repo(kind.repo(), &bare);
        forge.add_repo(kind.source(), &src);
        World {
            t,
            forge,
            bare,
            shas,
            images: images.to_vec(),
            kind,
        }
    }

    /// A snapshot with builds 1..=n of every rung's tags of every image,
    /// digests equal along each build; each `(image, tag)` of `rebuilt`
    /// gets another digest.
    pub fn snapshot(&self, n: usize, rebuilt: &[(&str, &str)]) -> std::path::PathBuf {
        let mut y = String::from("images:\n");
        for name in &self.images {
            y.push_str(&format!("  127.0.0.1:1/{name}:\n    tags:\n"));
            for (i, sha) in self.shas.iter().take(n).enumerate() {
                for tag in [
                    format!("dev-{sha}-{}", i + 1),
                    format!("staging-{sha}"),
                    format!("prod-{sha}"),
                ] {
                    let d = if rebuilt.contains(&(*name, tag.as_str())) {
                        'f'
                    } else {
                        char::from(b'a' + i as u8)
                    };
                    y.push_str(&format!(
                        "      {tag}: \"sha256:{}\"\n",
                        d.to_string().repeat(64)
                    ));
                }
            }
        }
        write(
            self.t.path(),
            &format!("snap-{n}-{}.yaml", rebuilt.len()),
            &y,
        )
    }

    pub fn run(&self, snap: &std::path::Path, extra: &[&str]) -> Run {
        let mut args = vec!["--registry-snapshot", s(snap)];
        args.extend(extra);
        self.run_live(&args, &[])
    }

    /// `hoist run` on the fleet's remote, tags from the registries unless
    /// `extra` says otherwise.
    pub fn run_live(&self, extra: &[&str], env: &[(&str, String)]) -> Run {
        let state = self.t.path().join("state");
        let url = file_url(&self.bare);
        let mut args = vec!["run", "--url", &url, "--state-dir", s(&state)];
        args.extend(extra);
        let mut env = env.to_vec();
        env.push(("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string()));
        hoist_env(&args, &env)
    }

    /// `hoist ladder --no-forge` on a fresh clone of the fleet's main,
    /// tags from the registries.
    pub fn ladder(&self, env: &[(&str, String)]) -> Run {
        let dir = self.t.path().join("ladder-checkout");
        let _ = std::fs::remove_dir_all(&dir);
        git(self.t.path(), &["clone", "-q", s(&self.bare), s(&dir)]);
        hoist_env(&["ladder", "--repo", s(&dir), "--no-forge"], env)
    }

    /// `hoist report` on a fresh clone of the fleet's main, with the
    /// forge's token.
    pub fn report(&self, extra: &[&str]) -> Run {
        let dir = self.t.path().join("report-checkout");
        let _ = std::fs::remove_dir_all(&dir);
        git(self.t.path(), &["clone", "-q", s(&self.bare), s(&dir)]);
        let mut args = vec!["report", "--repo", s(&dir)];
        args.extend(extra);
        hoist_env(&args, &[("HOIST_TEST_FORGE_TOKEN", TOKEN.to_string())])
    }

    pub fn main_has(&self, env: &str, tag: &str) -> bool {
        self.has("main", env, "api", tag)
    }

    /// Does `rev` run `tag` for `image` in `env`?
    pub fn has(&self, rev: &str, env: &str, image: &str, tag: &str) -> bool {
        show(&self.bare, rev, &format!("clusters/{env}/image-tags.yaml"))
            .lines()
            .any(|l| l.starts_with(&format!("{image}: {tag} #")))
    }

    pub fn branches(&self) -> Vec<String> {
        git(
            &self.bare,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    pub fn pulls(&self) -> Vec<super::forge::Pull> {
        self.forge.repo(self.kind.repo()).pulls
    }
}
