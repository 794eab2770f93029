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

use crate::repo::SourceFile;

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
    // write_paths: the marker files' names when they share one, else each.
    let names: BTreeSet<&str> = marker_files
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    let in_entry_files: Vec<&&str> = marker_files
        .iter()
        .filter(|p| {
            let n = p.rsplit('/').next().unwrap_or(p);
            n == "kustomization.yaml" || n == "kustomization.yml" || n == "Kustomization"
        })
        .collect();
    let _ = writeln!(
        t,
        "# Only these files may be written; Flux's entry files never are."
    );
    match (names.len(), names.iter().next()) {
        (0, _) => {
            let _ = writeln!(t, "write_paths = [\"**/image-tags.yaml\"]");
        }
        (1, Some(n)) if !n.starts_with("kustomization") && *n != "Kustomization" => {
            let _ = writeln!(t, "write_paths = [\"**/{n}\"]");
        }
        _ => {
            let list: Vec<String> = marker_files
                .iter()
                .filter(|p| !in_entry_files.contains(p))
                .map(|p| format!("\"{p}\""))
                .collect();
            let _ = writeln!(t, "write_paths = [{}]", list.join(", "));
        }
    }
    if !in_entry_files.is_empty() {
        let _ = writeln!(
            t,
            "# These entry files carry markers; move their tags into image-tags.yaml\n# patches (`hoist lint` explains) before hoist may write them:"
        );
        for f in &in_entry_files {
            let _ = writeln!(t, "#   {f}");
        }
    }
    match origin.and_then(forge_of) {
        Some((kind, repo)) => {
            let token = if kind == "github" {
                "GITHUB_TOKEN"
            } else {
                "SYSTEM_ACCESSTOKEN"
            };
            let _ = writeln!(
                t,
                "\n[forge]\nkind = \"{kind}\"\nrepository = \"{repo}\"\ntoken_env = \"{token}\""
            );
        }
        None => {
            let _ = writeln!(
                t,
                "\n# [forge]                     # for pull requests and statuses\n# kind = \"github\"            # or \"azure-devops\"\n# repository = \"owner/repo\"\n# token_env = \"GITHUB_TOKEN\""
            );
        }
    }
    let mut envs: Vec<&String> = clusters.iter().collect();
    envs.sort_by_key(|e| rank(e));
    let has_forge = origin.and_then(forge_of).is_some();
    for (i, env) in envs.iter().enumerate() {
        let last = i + 1 == envs.len();
        let mode = match (i, last, has_forge) {
            (_, _, false) | (0, _, true) => "push",
            (_, true, true) => "pull-request",
            _ => "auto-merge",
        };
        let _ = writeln!(
            t,
            "\n[[environment]]\nname = \"{env}\"\npaths = [\"clusters/{env}/**\"]\nmode = \"{mode}\""
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

/// Look at the repository in `dir` — its kept files, the directories
/// under `clusters/`, `git remote get-url origin` — and propose.
pub fn propose(dir: &std::path::Path) -> Result<String, crate::diag::Diag> {
    let scan = crate::repo::walk(dir)?;
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
    Ok(scaffold(&scan.files, &clusters, origin.as_deref()))
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
    }

    #[test]
    fn environments_climb_in_a_sensible_order() {
        let toml = scaffold(
            &[],
            &["prod".into(), "dev".into(), "staging".into()],
            Some("https://github.com/acme/fleet"),
        );
        let d = toml.find("name = \"dev\"").unwrap();
        let s = toml.find("name = \"staging\"").unwrap();
        let p = toml.find("name = \"prod\"").unwrap();
        assert!(d < s && s < p, "{toml}");
        let cfg = crate::config::parse(&toml, "hoist.toml").unwrap();
        let modes: Vec<_> = cfg.ladder.rungs.iter().map(|r| r.mode).collect();
        use crate::ladder::Mode;
        assert_eq!(modes, [Mode::Push, Mode::AutoMerge, Mode::PullRequest]);
    }
}
