//! Helpers for driving the real `hoist` binary against temporary repos.
#![allow(dead_code)]

pub mod cosign;
pub mod forge;
pub mod git;
pub mod gitlab;
pub mod proxy;
pub mod registry;
pub mod serve;
pub mod token;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert the exit code and that stderr says each of `needles`.
    #[track_caller]
    pub fn expect(&self, code: i32, needles: &[&str]) -> &Run {
        assert_eq!(self.code, code, "exit code; stderr:\n{}", self.stderr);
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "missing {n:?} in:\n{}",
                self.stderr
            );
        }
        self
    }

    /// [`Run::expect`] with the needles in `kind`'s words.
    pub fn expect_on(&self, kind: world::Kind, code: i32, needles: &[&str]) -> &Run {
        let said: Vec<String> = needles.iter().map(|n| kind.says(n)).collect();
        let refs: Vec<&str> = said.iter().map(String::as_str).collect();
        self.expect(code, &refs)
    }
}

pub fn hoist(args: &[&str]) -> Run {
    hoist_stdin(args, None)
}

pub fn hoist_stdin(args: &[&str], stdin: Option<&str>) -> Run {
    hoist_full(args, stdin, &[])
}

/// Run with extra environment variables (and no inherited registry credentials).
pub fn hoist_env(args: &[&str], env: &[(&str, String)]) -> Run {
    hoist_full(args, None, env)
}

pub fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The hoist binary, isolated from the developer's environment: no colour,
/// no registry credentials, no Git configuration.
pub fn hoist_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.env("NO_COLOR", "1");
    let empty = std::env::temp_dir().join("hoist-tests-no-docker-config");
    cmd.env("DOCKER_CONFIG", &empty).env_remove("GITHUB_TOKEN");
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_CONFIG_COUNT")
        .stdin(Stdio::null());
    cmd
}

fn hoist_full(args: &[&str], stdin: Option<&str>, env: &[(&str, String)]) -> Run {
    let mut cmd = hoist_command();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hoist");
    if let Some(input) = stdin {
        use std::io::Write;
        // hoist may exit before reading its input (an invalid policy, say):
        // a broken pipe here is expected, not a failure.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    // Drain the pipes on threads and enforce a watchdog, so a hang fails
    // the test instead of stalling the whole run.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out_pipe, &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err_pipe, &mut v);
        v
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("hoist {args:?} did not finish within 180 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let (stdout, stderr) = (out_t.join().unwrap(), err_t.join().unwrap());
    let code = status.code().expect("hoist was killed by a signal");
    assert_ne!(
        code,
        101,
        "hoist panicked:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Copy a directory tree, recreating symlinks as symlinks.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let ft = entry.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if ft.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn write(dir: &Path, rel: &str, content: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

pub fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A minimal ImageRepository + semver ImagePolicy pair.
pub fn repo_and_policy(ns: &str, name: &str, image: &str, range: &str) -> String {
    format!(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  image: {image}\n  interval: 1m\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  imageRepositoryRef:\n    name: {name}\n  policy:\n    semver:\n      range: \"{range}\"\n"
    )
}

/// A fake `docker-credential-<name>` on a fresh PATH directory, and a Docker
/// config directory holding `config_json`. Returns the environment for
/// hoist (`DOCKER_CONFIG`, `PATH`) and the directories to keep alive.
pub fn fake_credential_helper(
    name: &str,
    script: &str,
    config_json: &str,
) -> (
    Vec<(&'static str, String)>,
    tempfile::TempDir,
    tempfile::TempDir,
) {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join(format!("docker-credential-{name}"));
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker = tempfile::tempdir().unwrap();
    write(docker.path(), "config.json", config_json);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = vec![
        ("DOCKER_CONFIG", docker.path().display().to_string()),
        ("PATH", path),
    ];
    (env, bin, docker)
}

/// `hoist apply --no-commit` on `repo` with a snapshot holding `snapshot_yaml`.
pub fn apply_with_snapshot(repo: &Path, snapshot_yaml: &str) -> Run {
    let side = tempfile::tempdir().unwrap();
    let snap = write(side.path(), "snapshot.yaml", snapshot_yaml);
    hoist(&[
        "apply",
        "--no-commit",
        "--repo",
        s(repo),
        "--registry-snapshot",
        s(&snap),
    ])
}

/// `hoist scan --output json` on `repo` with extra environment; asserts
/// success and returns the parsed report with the run.
pub fn scan_json(repo: &Path, env: &[(&str, String)]) -> (serde_json::Value, Run) {
    let run = hoist_env(&["scan", "--repo", s(repo), "--output", "json"], env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = serde_json::from_str(&run.stdout).expect("scan prints JSON");
    (v, run)
}

/// Decode a URL query component (`%XX`, `+` for space); bad escapes stay
/// as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `kubectl kustomize` (kustomize built in) of a directory.
pub fn kustomize(dir: &Path) -> String {
    let o = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl (scripts/test.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// An executable that pip installed (in Python's scripts directory).
pub fn python_script(name: &str) -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .expect("python3");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join(name)
}
