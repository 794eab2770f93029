//! `hoist init`: a first hoist.toml for an existing Flux fleet repository.
//!
//! `scaffold` is pure: the repository's files (as `repo::walk` keeps
//! them), the directories under `clusters/`, and the `origin` URL in; TOML
//! text out. `propose` gathers those three from a directory.
//! It proposes, and says so in comments: `write_paths` covering only the
//! files that carry markers today, one environment per cluster directory
//! in ladder order (dev-like first, prod-like last) with landing modes,
//! promotions left commented out (Flux users' clusters follow their own
//! policies until they choose otherwise), and the forge `origin` names.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::observe::repo::SourceFile;

/// Known environment names, in the order builds climb through them.
const ORDER: [&str; 12] = [
    "local",
    "dev",
    "develop",
    "development",
    "test",
    "qa",
    "int",
    "integration",
    "stage",
    "staging",
    "preprod",
    "prod",
];

fn rank(name: &str) -> (usize, String) {
    let n = name.to_ascii_lowercase();
    let r = ORDER
        .iter()
        .position(|o| n == *o)
        .or_else(|| (n == "production").then_some(ORDER.len() - 1))
        .or_else(|| (n == "uat").then_some(8))
        .unwrap_or(ORDER.len() - 2);
    (r, n)
}

/// The forge an `origin` URL names: (kind, repository).
pub fn forge_of(url: &str) -> Option<(&'static str, String)> {
    let u = url.trim().trim_end_matches('/').trim_end_matches(".git");
    let path = if let Some(rest) = u.strip_prefix("git@") {
        rest.split_once(':')
            .map(|(host, p)| (host.to_string(), p.to_string()))
    } else {
        let rest = u.split_once("://").map(|(_, r)| r)?;
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        rest.split_once('/')
            .map(|(h, p)| (h.to_string(), p.to_string()))
    };
    let (host, p) = path?;
    if host_is_gitlab(&host) {
        // group/subgroup/project; the web UI's /-/ paths are not a remote.
        let p = p.split("/-/").next().unwrap_or(&p);
        let parts: Vec<&str> = p.split('/').collect();
        if parts.len() >= 2 && parts.iter().all(|s| !s.is_empty()) {
            return Some(("gitlab", p.to_string()));
        }
    }
    if host.ends_with("github.com") {
        let parts: Vec<&str> = p.split('/').collect();
        if let [owner, repo] = parts.as_slice() {
            return Some(("github", format!("{owner}/{repo}")));
        }
    }
    if host.ends_with("dev.azure.com")
        || host.ends_with("visualstudio.com")
        || host.starts_with("ssh.dev.azure.com")
    {
        // https://dev.azure.com/org/project/_git/repo; ssh: v3/org/project/repo
        let parts: Vec<&str> = p
            .split('/')
            .filter(|s| *s != "_git" && *s != "v3")
            .collect();
        if let [org, project, repo] = parts.as_slice() {
            return Some(("azure-devops", format!("{org}/{project}/{repo}")));
        }
    }
    None
}

/// gitlab.com, or a self-managed GitLab named so (`gitlab.example.com`).
fn host_is_gitlab(host: &str) -> bool {
    let name = host.split(':').next().unwrap_or(host);
    name == "gitlab.com" || name.split('.').next() == Some("gitlab")
}

/// The API of a self-managed GitLab that `url` (an origin) is on; `None`
/// for gitlab.com (hoist's default) and for other forges.
pub fn gitlab_api_url(url: &str) -> Option<String> {
    let u = url.trim();
    let host = if let Some(rest) = u.strip_prefix("git@") {
        rest.split_once(':')?.0.to_string()
    } else {
        let rest = u.split_once("://")?.1;
        let rest = rest.split('/').next()?;
        rest.rsplit_once('@').map_or(rest, |(_, r)| r).to_string()
    };
    if !host_is_gitlab(&host) || host == "gitlab.com" {
        return None;
    }
    // An ssh remote's host has no port for https; an https one may.
    let host = if u.starts_with("git@") || u.starts_with("ssh://") {
        host.split(':').next().unwrap_or(&host).to_string()
    } else {
        host
    };
    Some(format!("https://{host}/api/v4"))
}

/// The hoist.toml text for a repository with `files`, cluster directory
/// names `clusters`, and `origin` (if any).
pub fn scaffold(files: &[SourceFile], clusters: &[String], origin: Option<&str>) -> String {
    let marker_files: Vec<&str> = files
        .iter()
        .filter(|f| f.has_markers)
        .map(|f| f.rel.as_str())
        .collect();
    let flux_files = files.iter().filter(|f| f.has_flux_objects).count();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# hoist.toml, proposed by `hoist init` from this repository: {} file(s) with\n# markers, {} with Flux image objects. Read it, then `hoist config check`.\n",
        marker_files.len(),
        flux_files
    );
    // write_paths: the marker files' names when they share one, else each;
    // never an entry file.
    let is_entry = |p: &str| crate::flux::layout::is_entry_name(p);
    let in_entry_files: Vec<&str> = marker_files
        .iter()
        .copied()
        .filter(|p| is_entry(p))
        .collect();
    let writable: Vec<&str> = marker_files
        .iter()
        .copied()
        .filter(|p| !is_entry(p))
        .collect();
    let _ = writeln!(
        t,
        "# Only these files may be written (the files with markers today); Flux's entry\n# files never are."
    );
    if writable.is_empty() {
        let _ = writeln!(t, "write_paths = [\"**/image-tags.yaml\"]");
    } else {
        let list: Vec<String> = writable.iter().map(|p| format!("\"{p}\"")).collect();
        let _ = writeln!(t, "write_paths = [{}]", list.join(", "));
    }
    if !in_entry_files.is_empty() {
        let _ = writeln!(
            t,
            "# These entry files carry markers, which hoist never writes; move their tags\n# into image-tags.yaml (`hoist init --split-image-tags` does it for `images:`\n# entries, `hoist lint` explains):"
        );
        for f in &in_entry_files {
            let _ = writeln!(t, "#   {f}");
        }
    }
    match origin.and_then(forge_of) {
        Some((kind, repo)) => {
            let token = match kind {
                "github" => "GITHUB_TOKEN",
                // A project access token with the api scope (Developer),
                // kept as a masked CI/CD variable.
                "gitlab" => "GITLAB_TOKEN",
                _ => "SYSTEM_ACCESSTOKEN",
            };
            let _ = writeln!(
                t,
                "\n[forge]\nkind = \"{kind}\"\nrepository = \"{repo}\"\ntoken_env = \"{token}\""
            );
            if let Some(api) = origin.and_then(gitlab_api_url) {
                let _ = writeln!(t, "api_url = \"{api}\"");
            }
        }
        None => {
            let _ = writeln!(
                t,
                "\n# [forge]                     # for pull requests and statuses\n# kind = \"github\"            # or \"azure-devops\", \"gitlab\"\n# repository = \"owner/repo\"\n# token_env = \"GITHUB_TOKEN\""
            );
        }
    }
    // Each cluster's environment owns the marker files its Flux
    // Kustomizations apply (through overlays into bases).
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.rel.as_str(), f.text.as_str()))
        .collect();
    let layout = crate::flux::layout::layout(&pairs);
    let owners = |f: &str| -> BTreeSet<&str> {
        layout
            .clusters_of(f)
            .into_iter()
            .filter(|c| clusters.iter().any(|k| k == c))
            .collect()
    };
    let mut shared: Vec<(&str, BTreeSet<&str>)> = Vec::new();
    let mut owned: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for f in &writable {
        let o = owners(f);
        match o.len() {
            0 => {}
            1 => owned
                .entry(o.into_iter().next().expect("one"))
                .or_default()
                .push(f),
            _ => shared.push((f, o)),
        }
    }
    if !shared.is_empty() {
        let _ = writeln!(
            t,
            "\n# Shared by several clusters: a marker here moves every one of them at once, so\n# it cannot be promoted per environment and belongs to none. Move the value into\n# each cluster's own overlay (a patch beside its kustomization.yaml) to promote it."
        );
        for (f, o) in &shared {
            let _ = writeln!(
                t,
                "#   {f} (applied by {})",
                o.iter().copied().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut envs: Vec<&String> = clusters
        .iter()
        .filter(|c| owned.contains_key(c.as_str()))
        .collect();
    envs.sort_by_key(|e| rank(e));
    for c in clusters.iter().filter(|c| !owned.contains_key(c.as_str())) {
        let _ = writeln!(
            t,
            "\n# clusters/{c} applies no file with markers of its own; no environment for it."
        );
    }
    let has_forge = origin.and_then(forge_of).is_some();
    for (i, env) in envs.iter().enumerate() {
        let last = i + 1 == envs.len();
        let mode = match (i, last, has_forge) {
            (_, _, false) | (0, _, true) => "push",
            (_, true, true) => "pull-request",
            _ => "auto-merge",
        };
        let paths: Vec<String> = owned[env.as_str()]
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect();
        let _ = writeln!(
            t,
            "\n[[environment]]\nname = \"{env}\"\n# The marker files that clusters/{env}'s Flux Kustomizations apply.\npaths = [{}]\nmode = \"{mode}\"",
            paths.join(", ")
        );
        if i > 0 {
            let _ = writeln!(
                t,
                "# promote_from = \"{}\"   # take what {} runs instead of following {env}'s own policies",
                envs[i - 1],
                envs[i - 1]
            );
        }
    }
    t
}

/// What `hoist init` would do to a repository.
#[derive(Debug, Default)]
pub struct Proposal {
    /// The proposed hoist.toml.
    pub toml: String,
    /// With `--split-image-tags`: the files to rewrite or create, the
    /// number of `images:` entries moved, and what could not be moved.
    pub split: crate::mutate::split::Split,
}

/// Look at the repository in `dir` — its kept files, the directories
/// under `clusters/`, `git remote get-url origin` — and propose. With
/// `split_tags`, the markers in kustomization entry files are moved first
/// (see [`crate::mutate::split`]) and the hoist.toml is proposed for the result.
pub fn propose(
    dir: &std::path::Path,
    split_tags: bool,
) -> Result<Proposal, crate::core::diag::Diag> {
    let scan = crate::observe::repo::walk(dir)?;
    let mut files = scan.files;
    let mut split = crate::mutate::split::Split::default();
    if split_tags {
        // A link is never read (it may lead out of the repository); the
        // write then finds the path taken and refuses.
        split = crate::mutate::split::split(&files, &|rel| {
            let path = dir.join(rel);
            std::fs::symlink_metadata(&path)
                .is_ok_and(|m| m.file_type().is_file())
                .then(|| std::fs::read_to_string(&path).ok())
                .flatten()
        });
        for c in &split.changes {
            let text = std::sync::Arc::new(c.new.clone());
            let has_markers = c.new.contains("$imagepolicy");
            match files.iter_mut().find(|f| f.rel == c.path) {
                Some(f) => {
                    f.text = text;
                    f.has_markers = has_markers;
                }
                None => files.push(crate::observe::repo::SourceFile {
                    rel: c.path.clone(),
                    abs: dir.join(&c.path),
                    text,
                    has_markers,
                    has_flux_objects: false,
                    has_pull_secrets: false,
                }),
            }
        }
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
    }
    let mut clusters: Vec<String> = std::fs::read_dir(dir.join("clusters"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    clusters.sort();
    let origin = std::process::Command::new("git")
        .args(["remote", "get-url", "origin"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    Ok(Proposal {
        toml: scaffold(&files, &clusters, origin.as_deref()),
        split,
    })
}

impl Proposal {
    /// Every file to write in `dir`: the split's, then hoist.toml unless
    /// one exists and `force` is not given. The flag says whether an
    /// existing hoist.toml was kept.
    pub fn changes(
        self,
        dir: &std::path::Path,
        force: bool,
    ) -> (Vec<crate::mutate::split::Change>, bool) {
        let path = dir.join("hoist.toml");
        let keep = path.exists() && !force;
        let mut changes = self.split.changes;
        if !keep {
            changes.push(crate::mutate::split::Change {
                path: "hoist.toml".into(),
                old: std::fs::read_to_string(&path).ok(),
                new: self.toml,
            });
        }
        (changes, keep)
    }
}

/// Write `changes` under `dir`, all or nothing as far as a file system
/// allows: every new text is written to a temporary file beside its
/// target first, and only when all are written are they renamed into
/// place. A file that changed on disk since it was read is not touched.
pub fn write_changes(
    dir: &std::path::Path,
    changes: &[crate::mutate::split::Change],
) -> Result<(), crate::core::diag::Diag> {
    use crate::core::diag::Diag;
    let mut staged = Vec::with_capacity(changes.len());
    for c in changes {
        let target = dir.join(&c.path);
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Diag::error(
                "is a symbolic link; hoist neither writes through nor replaces links; nothing written",
            )
            .at(&c.path, None));
        }
        let now = std::fs::read_to_string(&target).ok();
        if now != c.old {
            return Err(Diag::error(
                "changed on disk since hoist read it; nothing written, run again",
            )
            .at(&c.path, None));
        }
        let parent = target.parent().unwrap_or(dir);
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| {
            Diag::error(format!("cannot write: {e}; nothing written")).at(&c.path, None)
        })?;
        std::io::Write::write_all(&mut tmp, c.new.as_bytes()).map_err(|e| {
            Diag::error(format!("cannot write: {e}; nothing written")).at(&c.path, None)
        })?;
        // Keep a rewritten file's mode; a new one gets the usual 0644
        // (a temporary file starts as 0600).
        let mode = std::fs::metadata(&target).map(|m| m.permissions());
        #[cfg(unix)]
        let mode = mode.or_else(|_| {
            Ok::<_, std::io::Error>(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        });
        if let Ok(mode) = mode {
            let _ = std::fs::set_permissions(tmp.path(), mode);
        }
        staged.push((tmp, target, &c.path));
    }
    for (tmp, target, rel) in staged {
        tmp.persist(&target).map_err(|e| {
            Diag::error(format!("cannot replace: {}", e.error)).at(rel.as_str(), None)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forges_from_remotes() {
        assert_eq!(
            forge_of("https://github.com/acme/fleet.git"),
            Some(("github", "acme/fleet".into()))
        );
        assert_eq!(
            forge_of("git@github.com:acme/fleet.git"),
            Some(("github", "acme/fleet".into()))
        );
        assert_eq!(
            forge_of("https://acme@dev.azure.com/acme/ops/_git/fleet"),
            Some(("azure-devops", "acme/ops/fleet".into()))
        );
        assert_eq!(
            forge_of("git@ssh.dev.azure.com:v3/acme/ops/fleet"),
            Some(("azure-devops", "acme/ops/fleet".into()))
        );
        assert_eq!(forge_of("file:///srv/fleet.git"), None);
        assert_eq!(
            forge_of("https://gitlab.com/acme/platform/fleet.git"),
            Some(("gitlab", "acme/platform/fleet".into()))
        );
        assert_eq!(
            forge_of("git@gitlab.example.com:acme/fleet.git"),
            Some(("gitlab", "acme/fleet".into()))
        );
        assert_eq!(
            forge_of("https://oauth2:tok@gitlab.example.com:8443/acme/a/b/fleet"),
            Some(("gitlab", "acme/a/b/fleet".into()))
        );
        assert_eq!(forge_of("https://gitlab.com/fleet"), None);
        assert_eq!(gitlab_api_url("https://gitlab.com/acme/fleet.git"), None);
        assert_eq!(
            gitlab_api_url("git@gitlab.example.com:acme/fleet.git").as_deref(),
            Some("https://gitlab.example.com/api/v4")
        );
        assert_eq!(
            gitlab_api_url("https://oauth2:tok@gitlab.example.com:8443/acme/fleet").as_deref(),
            Some("https://gitlab.example.com:8443/api/v4")
        );
        assert_eq!(gitlab_api_url("https://github.com/acme/fleet"), None);
    }

    #[test]
    fn environments_climb_in_a_sensible_order() {
        let files: Vec<SourceFile> = ["prod", "dev", "staging", "qa"]
            .iter()
            .map(|e| {
                let rel = format!("clusters/{e}/image-tags.yaml");
                crate::observe::repo::source_file(
                    rel.clone(),
                    rel.into(),
                    b"tag: 1.0.0 # {\"$imagepolicy\": \"ns:app:tag\"}\n".to_vec(),
                )
                .unwrap()
                .unwrap()
            })
            .filter(|f| !f.rel.contains("qa"))
            .collect();
        let toml = scaffold(
            &files,
            &["prod".into(), "dev".into(), "staging".into(), "qa".into()],
            Some("https://github.com/acme/fleet"),
        );
        // Each environment owns its cluster's marker file; a cluster
        // with none gets no environment, and says why.
        assert!(
            toml.contains("name = \"dev\"\n# The marker files that clusters/dev's Flux Kustomizations apply.\npaths = [\"clusters/dev/image-tags.yaml\"]"),
            "{toml}"
        );
        assert!(
            toml.contains(
                "# clusters/qa applies no file with markers of its own; no environment for it."
            ),
            "{toml}"
        );
        assert!(!toml.contains("name = \"qa\""), "{toml}");
        let d = toml.find("name = \"dev\"").unwrap();
        let s = toml.find("name = \"staging\"").unwrap();
        let p = toml.find("name = \"prod\"").unwrap();
        assert!(d < s && s < p, "{toml}");
        let cfg = crate::config::parse(&toml, "hoist.toml").unwrap();
        let modes: Vec<_> = cfg.ladder.rungs.iter().map(|r| r.mode).collect();
        use crate::decide::ladder::Mode;
        assert_eq!(modes, [Mode::Push, Mode::AutoMerge, Mode::PullRequest]);
    }

    #[test]
    fn changes_are_written_all_or_not_at_all() {
        use crate::mutate::split::Change;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.yaml"), "old\n").unwrap();
        let change = |path: &str, old: Option<&str>| Change {
            path: path.into(),
            old: old.map(str::to_string),
            new: "new\n".into(),
        };
        // The second file changed since it was read: neither is written.
        let stale = [change("a.yaml", None), change("k.yaml", Some("older\n"))];
        let e = write_changes(dir.path(), &stale).unwrap_err();
        assert!(e.to_string().contains("k.yaml: changed on disk"), "{e}");
        assert!(!dir.path().join("a.yaml").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("k.yaml")).unwrap(),
            "old\n"
        );
        // A link (here to a file outside) is refused, whatever it points at.
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("l.yaml")).unwrap();
        let e = write_changes(
            dir.path(),
            &[change("a.yaml", None), change("l.yaml", None)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("l.yaml: is a symbolic link"), "{e}");
        assert!(!dir.path().join("a.yaml").exists());
        std::fs::remove_file(dir.path().join("l.yaml")).unwrap();
        let fresh = [change("a.yaml", None), change("k.yaml", Some("old\n"))];
        write_changes(dir.path(), &fresh).unwrap();
        for f in ["a.yaml", "k.yaml"] {
            assert_eq!(
                std::fs::read_to_string(dir.path().join(f)).unwrap(),
                "new\n"
            );
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary files left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("a.yaml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }
}
