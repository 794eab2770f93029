//! The docs cannot rot: every ```console runnable``` block in README.md
//! and docs/ is run (its `$ ` lines, with this build's hoist first on
//! PATH, in the repository root) and its other lines must appear in the
//! output in order ("..." skips); every ```toml``` block of the
//! configuration docs parses as hoist.toml; every configuration key the
//! code accepts is documented; docs/cli.md is what clap prints.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    files.sort();
    files
}

/// Fenced blocks: (info string, body, first line number).
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        match (&mut cur, t.strip_prefix("```")) {
            (None, Some(info)) => cur = Some((info.trim().to_string(), String::new(), i + 1)),
            (Some(_), Some("")) => out.push(cur.take().unwrap()),
            (Some((_, body, _)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[test]
fn runnable_blocks_do_what_they_show() {
    let bin = Path::new(env!("CARGO_BIN_EXE_hoist"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut ran = 0;
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (info, body, line) in blocks(&text) {
            let words: Vec<&str> = info.split_whitespace().collect();
            if words.first() != Some(&"console") || !words.contains(&"runnable") {
                continue;
            }
            let want_code: i32 = words
                .iter()
                .find_map(|w| w.strip_prefix("exit="))
                .map_or(0, |c| c.parse().unwrap());
            let tmp = tempfile::tempdir().unwrap();
            // Commands, each with the lines it must print.
            let mut steps: Vec<(String, Vec<String>)> = Vec::new();
            for l in body.lines().map(str::trim_start) {
                match l.strip_prefix("$ ") {
                    Some(cmd) => steps.push((cmd.to_string(), Vec::new())),
                    None if !l.trim().is_empty() => steps
                        .last_mut()
                        .expect("output before a command")
                        .1
                        .push(l.trim().to_string()),
                    None => {}
                }
            }
            for (n, (cmd, expect)) in steps.iter().enumerate() {
                // One stream, in the order a terminal shows it.
                let o = Command::new("bash")
                    .args(["-c", &format!("exec 2>&1\n{cmd}")])
                    .current_dir(root())
                    .env(
                        "PATH",
                        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
                    )
                    .env("TMPDIR", tmp.path())
                    .env("NO_COLOR", "1")
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .output()
                    .unwrap();
                let out = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                let last = n + 1 == steps.len();
                let code = o.status.code().unwrap_or(-1);
                let wanted = if last { want_code } else { 0 };
                assert_eq!(
                    code,
                    wanted,
                    "{}:{line}: `{cmd}` exited {code}:\n{out}",
                    file.display()
                );
                let lines: Vec<&str> = out.lines().map(str::trim).collect();
                let mut at = 0;
                for e in expect.iter().filter(|e| e.as_str() != "...") {
                    match lines[at..].iter().position(|l| l.contains(e.as_str())) {
                        Some(p) => at += p + 1,
                        None => panic!(
                            "{}:{line}: `{cmd}` did not print {e:?} (in order):\n{out}",
                            file.display()
                        ),
                    }
                }
                ran += 1;
            }
        }
    }
    assert!(ran >= 8, "only {ran} documented commands ran");
}

#[test]
fn toml_examples_are_valid_hoist_toml() {
    let mut checked = 0;
    for name in ["configuration.md", "server.md", "registries.md"] {
        let file = root().join("docs").join(name);
        let text = std::fs::read_to_string(&file).unwrap();
        for (info, body, line) in blocks(&text) {
            if info != "toml" {
                continue;
            }
            if let Err(e) = hoist::config::parse(&body, &format!("{name}:{line}")) {
                let msgs: Vec<String> = e.iter().map(ToString::to_string).collect();
                // A fragment may name environments or a forge defined in
                // an earlier block; anything else is a broken example.
                assert!(
                    msgs.iter().all(|m| m.contains("no [[environment]] named")
                        || m.contains("needs a [forge] section")
                        || m.contains("promote_from names unknown environment")
                        // Keys named by environment variable are the
                        // reader's, not the test's.
                        || m.contains("that environment variable is empty or unset")),
                    "{}:{line}: {msgs:?}",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked}");
}

/// Field names of the configuration structs (their `pub name:` lines).
fn config_keys() -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for (file, structs) in [
        (
            "src/config/mod.rs",
            &[
                "RawConfig",
                "GitConfig",
                "ScanConfig",
                "RawRepository",
                "RawPolicy",
            ][..],
        ),
        (
            "src/config/ladder.rs",
            &["RawForge", "RawEnvironment", "RawRewrite"][..],
        ),
        ("src/config/server.rs", &["RawServer", "FluxRoute"][..]),
        ("src/config/registry.rs", &["RegistryConfig"][..]),
        ("src/config/verify.rs", &["RawVerify"][..]),
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        for s in structs {
            let start = text
                .find(&format!("pub struct {s} {{"))
                .unwrap_or_else(|| panic!("{s} in {file}"));
            let body = &text[start..start + text[start..].find("\n}").unwrap()];
            for l in body.lines() {
                if let Some(rest) = l.trim().strip_prefix("pub ")
                    && let Some((name, _)) = rest.split_once(':')
                    && !name.contains(' ')
                {
                    keys.push((s.to_string(), name.to_string()));
                }
            }
        }
    }
    keys
}

#[test]
fn every_configuration_key_is_documented() {
    let docs: String = ["configuration.md", "server.md", "registries.md", "git.md"]
        .iter()
        .map(|n| std::fs::read_to_string(root().join("docs").join(n)).unwrap())
        .collect();
    let keys = config_keys();
    assert!(keys.len() > 40, "{keys:?}");
    let missing: Vec<String> = keys
        .iter()
        .filter(|(_, k)| {
            !docs.contains(&format!("{k} ="))
                && !docs.contains(&format!("`{k}`"))
                && !docs.contains(&format!("[{k}]"))
                && !docs.contains(&format!("[[{k}]]"))
                && !docs.contains(&format!(".{k}]]"))
        })
        .map(|(s, k)| format!("{s}.{k}"))
        .collect();
    assert!(missing.is_empty(), "undocumented keys: {missing:?}");
}

/// docs/cli.md is `hoist --help` and every subcommand's `--help`.
/// `HOIST_BLESS=1 cargo test --test tests docs::` writes it anew.
#[test]
fn the_cli_reference_is_what_clap_prints() {
    let help = |args: &[&str]| {
        let r = common::hoist(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    };
    let top = help(&["--help"]);
    let mut md = String::from(
        "# CLI reference\n\nGenerated from hoist's own `--help` (tests/docs.rs checks it; `HOIST_BLESS=1 cargo test --test tests docs::` regenerates it).\n\n## hoist\n\n```text\n",
    );
    md.push_str(&top);
    md.push_str("```\n");
    let subs: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 12, "{subs:?}");
    for s in &subs {
        md.push_str(&format!(
            "\n## hoist {s}\n\n```text\n{}```\n",
            help(&[s, "--help"])
        ));
    }
    let path = root().join("docs/cli.md");
    if std::env::var("HOIST_BLESS").is_ok() {
        std::fs::write(&path, &md).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == md,
        "docs/cli.md is stale: run HOIST_BLESS=1 cargo test --test tests docs::"
    );
}

/// Every value the Helm chart takes (each property of values.schema.json,
/// nested ones by their dotted path or last name) is in docs/deploy.md.
#[test]
fn every_helm_value_is_documented() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/helm/hoist/values.schema.json")).unwrap(),
    )
    .unwrap();
    let doc = std::fs::read_to_string(root().join("docs/deploy.md")).unwrap();
    let mut missing = Vec::new();
    fn walk(v: &serde_json::Value, path: &str, doc: &str, missing: &mut Vec<String>) {
        let Some(props) = v["properties"].as_object() else {
            return;
        };
        for (k, sub) in props {
            let full = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            let top = path.is_empty();
            let named = doc.contains(&format!("`{full}`"))
                || doc.contains(&format!("`{full}."))
                || (!top && doc.contains(&format!("`.{k}`")))
                || (!top && doc.contains(&format!("`{path}.*`")));
            // "global" is Helm's own.
            if !named && k != "global" {
                missing.push(full.clone());
            }
            if !doc.contains(&format!("`{full}.*`")) {
                walk(sub, &full, doc, missing);
            }
        }
    }
    walk(&schema, "", &doc, &mut missing);
    assert!(missing.is_empty(), "not in docs/deploy.md: {missing:?}");
}
