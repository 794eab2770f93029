//! Persistence under pressure: racing writers, SIGKILL at random points,
//! and a 100,000-file repository with 5,000 commits.

use crate::common;

use common::git::{assert_fsck, count, file_url, git, git_cmd, show, snapshot_for};
use common::{s, write};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

/// `hoist apply --url` with room for heavy contention.
fn hoist_cmd(url: &str, state: &Path, snap: &Path) -> Command {
    let mut c = common::git::apply_url_cmd(url, state, snap);
    c.args(["--max-attempts", "200"]);
    c
}

/// Every `Hoist-Image` trailer on `branch`, in history order, asserting
/// each commit carries exactly one.
fn hoist_images(bare: &Path, branch: &str) -> Vec<String> {
    let log = git(bare, &["log", "--format=%H%x00%B%x01", branch]);
    let mut out = Vec::new();
    for entry in log.split('\u{1}').filter(|e| !e.trim().is_empty()) {
        let (_, body) = entry.trim_start().split_once('\0').unwrap();
        let imgs: Vec<&str> = body
            .lines()
            .filter_map(|l| l.strip_prefix("Hoist-Image: "))
            .collect();
        assert!(imgs.len() <= 1, "a commit with several changes: {body}");
        out.extend(imgs.into_iter().map(String::from));
    }
    out
}

#[test]
fn eight_bots_and_a_human_race_for_fifty_rounds_and_nothing_is_lost() {
    const BOTS: usize = 8;
    const ROUNDS: usize = 50;
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote(t.path(), BOTS);
    let url = file_url(&bare);

    let mut threads = Vec::new();
    for i in 0..BOTS {
        let (url, dir) = (url.clone(), t.path().join(format!("bot{i}")));
        threads.push(std::thread::spawn(move || {
            std::fs::create_dir_all(&dir).unwrap();
            // Each bot sees only its own image (the others' policies have
            // no tag list: reported and skipped, not errors).
            let cfg = write(&dir, "hoist.toml", &common::git::fleet_toml(0..BOTS));
            let mut attempts_total = 0;
            for r in 1..=ROUNDS {
                let snap = write(&dir, "snap.yaml", &snapshot_for(i, r));
                let out = hoist_cmd(&url, &dir.join("state"), &snap)
                    .args(["--config", s(&cfg)])
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(0), "bot {i} round {r}: {err}");
                assert!(err.contains("pushed"), "bot {i} round {r}: {err}");
                attempts_total += err
                    .split("after ")
                    .nth(1)
                    .and_then(|x| x.split(' ').next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(1);
            }
            attempts_total
        }));
    }
    let human = {
        let (url, dir) = (url.clone(), t.path().join("human"));
        std::thread::spawn(move || {
            git(dir.parent().unwrap(), &["clone", "-q", &url, s(&dir)]);
            for r in 1..=ROUNDS {
                let mut notes = std::fs::read_to_string(dir.join("README.md")).unwrap();
                notes.push_str(&format!("human {r}\n"));
                std::fs::write(dir.join("README.md"), notes).unwrap();
                git(&dir, &["commit", "-qam", &format!("human {r}")]);
                loop {
                    let push = git_cmd(&dir)
                        .args(["push", "-q", "origin", "main"])
                        .output()
                        .unwrap();
                    if push.status.success() {
                        break;
                    }
                    git(&dir, &["pull", "-q", "--rebase", "origin", "main"]);
                }
            }
        })
    };
    let mut attempts = 0;
    for th in threads {
        attempts += th.join().expect("bot thread");
    }
    human.join().expect("human thread");
    eprintln!("{} pushes took {attempts} attempts", BOTS * ROUNDS);

    // Linear history with every commit: 1 initial + 400 bots + 50 human.
    assert_eq!(git(&bare, &["rev-list", "--merges", "main"]), "");
    assert_eq!(count(&bare, "main"), 1 + BOTS * ROUNDS + ROUNDS);
    // Every intended change is there exactly once.
    let images = hoist_images(&bare, "main");
    let unique: BTreeSet<&String> = images.iter().collect();
    assert_eq!(images.len(), BOTS * ROUNDS, "duplicate changes");
    assert_eq!(unique.len(), BOTS * ROUNDS);
    for i in 0..BOTS {
        for r in 1..=ROUNDS {
            assert!(
                unique.contains(&format!("127.0.0.1:1/app{i}:0.0.{r}")),
                "lost app{i} 0.0.{r}"
            );
        }
    }
    // The final tree holds every bot's last tag and every human line.
    let tags = show(&bare, "main", "clusters/prod/image-tags.yaml");
    for i in 0..BOTS {
        assert!(
            tags.contains(&format!("app{i}:\n  tag: 0.0.{ROUNDS} ")),
            "{tags}"
        );
    }
    let readme = show(&bare, "main", "README.md");
    for r in 1..=ROUNDS {
        assert!(readme.contains(&format!("human {r}\n")), "lost human {r}");
    }
    assert_fsck(&bare);
}

/// A tiny deterministic generator (xorshift), seeded from the clock and
/// printed, so a failing run can be replayed with HOIST_KILL_SEED.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_points_never_corrupts_or_duplicates() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::fleet_remote(t.path(), 1);
    let url = file_url(&bare);
    let state = t.path().join("state");
    let seed = std::env::var("HOIST_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("HOIST_KILL_SEED={seed}");
    let mut rng = Rng(seed);

    // How long one run takes, to spread the kills over all of it.
    let snap = write(t.path(), "snap.yaml", &snapshot_for(0, 1));
    let start = std::time::Instant::now();
    let out = hoist_cmd(&url, &state, &snap).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_us = (start.elapsed().as_micros() as u64).max(20_000);

    let mut kills = 0;
    let mut round = 1;
    while kills < 200 {
        round += 1;
        assert!(round < 2000, "could not kill hoist 200 times");
        let snap = write(t.path(), "snap.yaml", &snapshot_for(0, round));
        let mut child = hoist_cmd(&url, &state, &snap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(
            rng.next() % (run_us * 3 / 2),
        ));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    // One clean run converges.
    let fin = round + 1;
    let snap = write(t.path(), "snap.yaml", &snapshot_for(0, fin));
    let out = hoist_cmd(&url, &state, &snap).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    eprintln!("{kills} kills over {round} runs; final run: {err}");
    let tags = show(&bare, "main", "clusters/prod/image-tags.yaml");
    assert!(tags.contains(&format!("tag: 0.0.{fin} ")), "{tags}");
    // Linear, every commit one complete change, none twice.
    assert_eq!(git(&bare, &["rev-list", "--merges", "main"]), "");
    let images = hoist_images(&bare, "main");
    let unique: BTreeSet<&String> = images.iter().collect();
    assert_eq!(unique.len(), images.len(), "a change was committed twice");
    assert_eq!(count(&bare, "main"), images.len() + 1);
    assert_fsck(&bare);
    let clone = common::git::cached_clone(&state);
    assert_fsck(&clone);
}

#[test]
fn a_repo_of_100k_files_and_5000_commits() {
    let t = tempfile::tempdir().unwrap();
    let bare = common::git::big_repo(t.path(), 100_000, 5_000);
    assert_eq!(count(&bare, "main"), 5_000);
    let url = file_url(&bare);
    let state = t.path().join("state");
    let snap = write(t.path(), "snap.yaml", &snapshot_for(0, 9));
    let out = hoist_cmd(&url, &state, &snap).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("pushed"), "{err}");
    assert_eq!(count(&bare, "main"), 5_001);
    let changed = git(&bare, &["diff", "--stat", "main~1", "main"]);
    assert!(
        changed.contains("clusters/prod/image-tags.yaml | 2 +-")
            && changed.contains("1 file changed"),
        "{changed}"
    );
    assert!(show(&bare, "main", "clusters/prod/image-tags.yaml").contains("tag: 0.0.9 "));
    // The cache is shallow: one commit of history, not 5,000.
    let clone = common::git::cached_clone(&state);
    assert!(clone.join("shallow").is_file());
    assert_fsck(&bare);
}
