//! `cargo bench --bench ladder`: `hoist run` on 200 images × 3 rungs
//! (dev pushed; staging one auto-merged pull request per image; prod one
//! pull request per image for review), every image with a new build,
//! against the test suite's fake forge on loopback and a bare repository
//! over file://. Prints wall times, forge API calls per pull request and
//! per unchanged image, and the ratio against the git CLI pushing the same
//! number of branches (the floor any tool pays), run in the same process
//! tree.
//!
//! Tags come from a snapshot; `HOIST_BENCH_REGISTRY=live` pushes the same
//! builds to a real registry (Debian's docker-registry) and reads them
//! there, and `HOIST_BENCH_VERIFY=1` (live too) also signs every new build
//! with a cosign key and puts `verify` on prod: the two runs side by side
//! give what signature checks add. `HOIST_BENCH_FORGE=gitlab` runs the same
//! ladder against the fake forge's GitLab v4 routes (merge requests).

#[path = "../tests/common/mod.rs"]
mod common;

use common::forge::{FakeForge, TOKEN};
use common::git::{bare_from, file_url, git};
use common::{hoist_command, s, write};
use std::time::Instant;

fn flux(host: &str, i: usize) -> String {
    let image = format!("{host}/app{i}");
    let mut y = format!(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app{i}, namespace: ns}}\nspec: {{image: {image}, interval: 1m, insecure: true}}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: app{i}-dev, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: app{i}}}\n  filterTags: {{pattern: '^dev-[0-9a-f]+-(?P<ts>\\d+)$', extract: '$ts'}}\n  policy: {{numerical: {{order: asc}}}}\n"
    );
    for env in ["staging", "prod"] {
        y.push_str(&format!("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: app{i}-{env}, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: app{i}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n"));
    }
    y
}

/// One `hoist run`: its wall time, the CPU seconds of hoist and the git
/// processes it runs (their rusage, waited for by hoist; not the fake
/// forge's git, which this process waits for), and its log.
fn run(
    url: &str,
    state: &std::path::Path,
    snap: Option<&std::path::Path>,
    env: &[(&str, String)],
    perf: Option<&str>,
) -> (f64, f64, f64, String) {
    use std::io::Read;
    let start = Instant::now();
    let mut cmd = hoist_command();
    if let Some(out) = perf {
        // The same command under `perf record` (its environment is kept).
        let hoist = std::path::PathBuf::from(cmd.get_program());
        cmd = std::process::Command::new("perf");
        cmd.args([
            "record",
            "-q",
            "-F",
            "499",
            "-g",
            "--call-graph",
            "dwarf,16384",
        ])
        .args(["-o", out, "--"])
        .arg(hoist);
        for (k, v) in hoist_command().get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
    }
    // Waited for with wait4 below, which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd
        .args(["run", "--url", url, "--state-dir", s(state)])
        .args(snap.iter().flat_map(|p| ["--registry-snapshot", s(p)]))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HOIST_TEST_FORGE_TOKEN", TOKEN)
        .env("HOIST_LOG", "warn,hoist_cost=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is this process's own child, not yet waited for.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 on hoist");
    let secs = start.elapsed().as_secs_f64();
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    // hoist's own share, as it logs it on its way out.
    let own: f64 = stderr
        .lines()
        .find_map(|l| l.split("own_cpu_seconds=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.trim_matches('"').parse().ok())
        .expect("hoist logs its CPU");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "hoist run failed:\n{stderr}"
    );
    (secs, cpu, own, stderr)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let images: usize = std::env::var("HOIST_BENCH_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let verify = std::env::var_os("HOIST_BENCH_VERIFY").is_some();
    let live = verify || std::env::var("HOIST_BENCH_REGISTRY").as_deref() == Ok("live");
    let registry = live.then(|| common::registry::Registry::start(None));
    let host = registry
        .as_ref()
        .map_or("127.0.0.1:1".to_string(), |r| r.host());
    let key = common::cosign::Key::new();
    let t = tempfile::tempdir().unwrap();
    let forge = FakeForge::start();
    let gitlab = std::env::var("HOIST_BENCH_FORGE").as_deref() == Ok("gitlab");
    let (kind, repo, api) = if gitlab {
        (
            "gitlab",
            "acme/platform/fleet",
            format!("{}/api/v4", forge.url()),
        )
    } else {
        ("github", "acme/fleet", forge.url())
    };
    let content = t.path().join("content");
    let objects: Vec<String> = (0..images).map(|i| flux(&host, i)).collect();
    write(&content, "flux/apps.yaml", &objects.join("---\n"));
    write(
        &content,
        "hoist.toml",
        &format!(
            "write_paths = [\"clusters/**/image-tags.yaml\"]\n\n\
[forge]\nkind = \"{kind}\"\nrepository = \"{repo}\"\napi_url = \"{api}\"\ntoken_env = \"HOIST_TEST_FORGE_TOKEN\"\n\n\
[[environment]]\nname = \"dev\"\npaths = [\"clusters/dev/**\"]\n\n\
[[environment]]\nname = \"staging\"\npaths = [\"clusters/staging/**\"]\nmode = \"auto-merge\"\ngroup = \"image\"\npromote_from = \"dev\"\n\
tag_rewrite = {{ from = '^dev-(?P<sha>[0-9a-f]{{7}})-\\d+$', to = 'staging-$sha' }}\nrequire_same_digest = true\n\n\
[[environment]]\nname = \"prod\"\npaths = [\"clusters/prod/**\"]\nmode = \"pull-request\"\ngroup = \"image\"\npromote_from = \"staging\"\n\
tag_rewrite = {{ from = '^staging-(?P<sha>[0-9a-f]{{7}})$', to = 'prod-$sha' }}\nrequire_same_digest = true\nlabels = [\"promotion\"]\n{}",
            if verify {
                "verify = { cosign_key = \"env:HOIST_BENCH_COSIGN_KEY\" }\n"
            } else {
                ""
            }
        ),
    );
    for (env, tag) in [
        ("dev", "dev-aaaaaaa-1"),
        ("staging", "staging-aaaaaaa"),
        ("prod", "prod-aaaaaaa"),
    ] {
        let y: String = (0..images)
            .map(|i| format!("app{i}: {tag} # {{\"$imagepolicy\": \"ns:app{i}-{env}:tag\"}}\n"))
            .collect();
        write(&content, &format!("clusters/{env}/image-tags.yaml"), &y);
    }
    let bare = bare_from(t.path(), "fleet", &content);
    forge.add_repo(repo, &bare);
    let mut snap = String::from("images:\n");
    for i in 0..images {
        snap.push_str(&format!("  127.0.0.1:1/app{i}:\n    tags:\n"));
        for (n, (sha, d)) in [("aaaaaaa", 'a'), ("bbbbbbb", 'b')].iter().enumerate() {
            for tag in [
                format!("dev-{sha}-{}", n + 1),
                format!("staging-{sha}"),
                format!("prod-{sha}"),
            ] {
                snap.push_str(&format!(
                    "      {tag}: \"sha256:{}\"\n",
                    d.to_string().repeat(64)
                ));
            }
        }
    }
    let snap = write(t.path(), "snap.yaml", &snap);
    if let Some(reg) = &registry {
        eprintln!("pushing {} builds to the registry…", 2 * images);
        for i in 0..images {
            for (n, sha) in ["aaaaaaa", "bbbbbbb"].iter().enumerate() {
                let tags = [
                    format!("dev-{sha}-{}", n + 1),
                    format!("staging-{sha}"),
                    format!("prod-{sha}"),
                ];
                let digest = reg.push_build(&format!("app{i}"), &tags, &format!("{i}-{n}"));
                if verify && n == 1 {
                    let image = format!("{host}/app{i}");
                    common::cosign::push_tagged(
                        reg,
                        &format!("app{i}"),
                        &digest,
                        "sig",
                        &[common::cosign::signature_layer(&image, &digest, &key, None)],
                    );
                }
            }
        }
    }
    let snap = (!live).then_some(snap.as_path());
    let env = [("HOIST_BENCH_COSIGN_KEY", key.pem.clone())];
    let url = file_url(&bare);
    let state = t.path().join("state");

    eprintln!("hoist run: {images} images × 3 rungs, every image with a new build…");
    let (first, first_cpu, first_own, log) = run(&url, &state, snap, &env, None);
    let calls = forge.calls();
    let pulls = forge.repo(repo).pulls;
    let merged = log.matches(": merged pull request #").count();
    let opened = log.matches(": opened pull request #").count();
    assert_eq!(
        opened,
        2 * images,
        "a pull request per image on staging and prod"
    );
    assert_eq!(merged, images, "every staging pull request merged");
    assert_eq!(pulls.len(), 2 * images);
    let per_pr = calls.len() as f64 / opened as f64;

    forge.reset_calls();
    // HOIST_BENCH_PERF=<file>: the rerun under `perf record`, for profiling.
    let perf = std::env::var("HOIST_BENCH_PERF").ok();
    let (second, second_cpu, second_own, log2) = run(&url, &state, snap, &env, perf.as_deref());
    let rerun_calls = forge.calls().len();
    // Unchanged image-rungs: each image on staging (nothing to move: its
    // pull request merged) and on prod (its pull request is open, as is).
    let per_unchanged = rerun_calls as f64 / (2 * images) as f64;

    // The floor: the git CLI pushing the same number of branches (one
    // small commit each) to the same kind of remote.
    let work = t.path().join("peer");
    git(t.path(), &["clone", "-q", s(&bare), s(&work)]);
    let start = Instant::now();
    for i in 0..(2 * images + 1) {
        git(
            &work,
            &["checkout", "-q", "-B", &format!("peer/{i}"), "origin/main"],
        );
        write(&work, "clusters/peer.txt", &format!("{i}\n"));
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "peer"]);
        git(&work, &["push", "-q", "origin", &format!("peer/{i}")]);
    }
    let peer = start.elapsed().as_secs_f64();

    println!(
        "ladder on {kind}: {images} images × 3 rungs (dev push, staging auto-merge per image, prod pull request per image); tags {}",
        match (live, verify) {
            (false, _) => "from a snapshot",
            (true, false) => "from the registry",
            (true, true) => "from the registry, prod verifying cosign signatures",
        }
    );
    println!(
        "  first run ({} pushes, {opened} pull requests, {merged} merges): {first:.1} s; {} forge calls, {per_pr:.2} per pull request",
        2 * images + 1,
        calls.len()
    );
    println!(
        "  second run (nothing new): {second:.1} s; {rerun_calls} forge calls, {per_unchanged:.2} per unchanged image-rung; writes: {}",
        forge.writes().len()
    );
    println!(
        "  hoist's CPU (with the git it runs): first run {first_cpu:.1} s ({:.1} ms per image), rerun {second_cpu:.1} s ({:.1} ms per image)",
        first_cpu * 1e3 / images as f64,
        second_cpu * 1e3 / images as f64
    );
    println!(
        "  hoist's own CPU: first run {first_own:.2} s ({:.1} ms per image), rerun {second_own:.2} s ({:.1} ms per image)",
        first_own * 1e3 / images as f64,
        second_own * 1e3 / images as f64
    );
    println!(
        "  peer: git CLI, {} branch commits + pushes: {peer:.1} s; hoist first run / peer = {:.2}",
        2 * images + 1,
        first / peer
    );
    // hoist's own tally of the requests it made, by host.
    let tally = |log: &str| {
        log.lines()
            .find_map(|l| l.split(" request(s): ").nth(1).map(str::to_string))
            .unwrap_or_default()
    };
    println!("  requests, first run: {}", tally(&log));
    println!("  requests, second run: {}", tally(&log2));
    if std::env::var_os("HOIST_BENCH_KEEP").is_some() {
        // For profiling a rerun by hand (the fake forge stops with this
        // process; a rerun needs one of its own).
        eprintln!("kept {}", t.keep().display());
    }
    let mut by_route: std::collections::BTreeMap<String, usize> = Default::default();
    for (m, p) in &calls {
        let route: String = p
            .split('/')
            .map(|seg| {
                if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
                    "N"
                } else if seg.len() == 40 && seg.chars().all(|c| c.is_ascii_hexdigit()) {
                    "SHA"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        *by_route.entry(format!("{m} {route}")).or_default() += 1;
    }
    println!("  first run's calls by route:");
    for (r, n) in by_route {
        println!("    {n:5}  {r}");
    }
}
