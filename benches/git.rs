//! `cargo bench --bench git`: hoist's fetch → edit → commit → push on a
//! 100,000-file, 5,000-commit repository served over smart HTTP on
//! loopback, against `bench/git-cli.sh` doing the same job with the git
//! CLI, in the same process tree. Prints medians, ratios and hoist's peak
//! RSS (the largest process of its tree, git children included).

#[path = "../tests/common/mod.rs"]
mod common;

use common::git::{HttpServer, big_repo, count, git};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Run to completion; wall time in seconds and peak RSS in KiB.
// The child is reaped by wait4 (which also yields its rusage).
#[allow(clippy::zombie_processes)]
fn measure(mut cmd: Command) -> (f64, u64) {
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "benchmark command failed: {cmd:?}"
    );
    (secs, usage.ru_maxrss as u64)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("HOIST_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let t = tempfile::tempdir().unwrap();
    if std::env::var_os("HOIST_BENCH_KEEP").is_some() {
        eprintln!("keeping {}", t.path().display());
    }
    let root = t.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    eprintln!("generating 100,000 files × 5,000 commits…");
    let bare = big_repo(&root, 100_000, 5_000);
    git(&bare, &["config", "http.receivepack", "true"]);
    let server = HttpServer::start(&root, None);
    let url = server.url("big.git");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/git-cli.sh");

    let mut tag = 0usize;
    let mut cli = Vec::new();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut rss_cold = 0;
    let mut rss_warm = 0;
    for round in 0..rounds {
        // git CLI: clone, sed, commit, push.
        let work = t.path().join(format!("cli-{round}"));
        let mut c = Command::new(&script);
        c.args([
            &url,
            common::s(&work),
            &format!("0.0.{tag}"),
            &format!("0.0.{}", tag + 1),
        ])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
        cli.push(measure(c).0);
        tag += 1;
        std::fs::remove_dir_all(&work).unwrap();

        // hoist, cold: an empty state dir.
        let state = t.path().join(format!("state-{round}"));
        tag += 1;
        let snap = common::write(t.path(), "snap.yaml", &common::git::snapshot_for(0, tag));
        let (s, rss) = measure(common::git::apply_url_cmd(&url, &state, &snap));
        cold.push(s);
        rss_cold = rss_cold.max(rss);

        // hoist, warm: the same state dir, the remote one commit further.
        tag += 1;
        let snap = common::write(t.path(), "snap.yaml", &common::git::snapshot_for(0, tag));
        let (s, rss) = measure(common::git::apply_url_cmd(&url, &state, &snap));
        warm.push(s);
        rss_warm = rss_warm.max(rss);
        std::fs::remove_dir_all(&state).unwrap();
    }
    assert_eq!(
        count(&bare, "main"),
        5_000 + 3 * rounds,
        "every run pushed one commit"
    );
    let (c, hc, hw) = (median(&mut cli), median(&mut cold), median(&mut warm));
    // The CLI's time swings with the file system (it writes and stats
    // 100,000 files); the ratios are also shown against its best round.
    let (cmin, cmax) = (cli[0], cli[cli.len() - 1]);
    println!(
        "git persistence, 100,000 files / 5,000 commits, smart HTTP on loopback ({rounds} rounds, medians)"
    );
    println!("  git CLI (clone --depth 1, sed, commit, push)  {c:>8.3} s");
    println!(
        "  hoist apply --url, cold (empty state dir)     {hc:>8.3} s   {:>5.2}× the CLI's speed   peak RSS {:.1} MiB",
        c / hc,
        rss_cold as f64 / 1024.0
    );
    println!(
        "  hoist apply --url, warm (cached clone)        {hw:>8.3} s   {:>5.2}× the CLI's speed   peak RSS {:.1} MiB",
        c / hw,
        rss_warm as f64 / 1024.0
    );
    println!(
        "  git CLI range {cmin:.3}–{cmax:.3} s; against its fastest round: cold {:.2}×, warm {:.2}×",
        cmin / hc,
        cmin / hw
    );
    println!("  targets: cold ≥ 1.0×, warm ≥ 5.0×, peak RSS < 150 MiB");
    drop(server);
    if std::env::var_os("HOIST_BENCH_KEEP").is_some() {
        let _ = t.keep();
    }
}
