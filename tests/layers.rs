//! The pipeline is one-way in fact: every `crate::` path in `src/` names a
//! module of the same stage or of an earlier one (the order below, which
//! ARCHITECTURE.md explains), and the modules inside a stage import each
//! other without a cycle. Comments and string literals are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages, bottom first. A module may import from its own stage and
/// from the ones before it. `policy`, `setters` and `template` are the
/// leaf crates (re-exported under those names), which the compiler
/// already keeps free of the app.
const STAGES: &[&[&str]] = &[
    &["core"],
    &["policy", "setters", "template"],
    &["flux"],
    &["config"],
    &["observe"],
    &["decide"],
    &["mutate"],
    &["persist"],
    &["propose"],
    &["run"],
    &["report"],
    &["serve"],
    &["setup"],
    &["cli"],
];

fn rank(module: &str) -> Option<usize> {
    STAGES.iter().position(|s| s.contains(&module))
}

/// `text` without comments, string and char literals (each replaced by
/// spaces, so line numbers hold).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r'
            && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // A raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let end = b[j + 1..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| j + 1 + p + close.len());
            for &x in &b[i..end] {
                blank(&mut out, x);
            }
            i = end;
        } else if c == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    out.push(b' ');
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            out.push(b' ');
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime.
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|p| i + 3 + p)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 3)
            } else {
                // A multi-byte char literal ends within 5 bytes.
                (3..=5)
                    .find(|&k| b.get(i + k) == Some(&b'\''))
                    .filter(|&k| {
                        std::str::from_utf8(&b[i + 1..i + k]).is_ok_and(|s| s.chars().count() == 1)
                    })
                    .map(|k| i + k + 1)
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(b' ', e - i));
                    i = e;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every path `crate::…` in `code` names: (line, path), with `use
/// crate::{a::b, c}` groups spread out.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::").map(|p| p + from) {
        from = at + 7;
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_' || b[at - 1] == b'$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        if b.get(from) == Some(&b'{') {
            let mut depth = 0;
            let mut end = from;
            for (k, &c) in b[from..].iter().enumerate() {
                match c {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = from + k;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut part = String::new();
            let mut depth = 0;
            for c in code[from + 1..end].chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let p: String = part.split_whitespace().collect();
                        if !p.is_empty() {
                            out.push((line, p));
                        }
                        part.clear();
                        continue;
                    }
                    _ => {}
                }
                part.push(c);
            }
        } else {
            let path: String = code[from..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push((line, path.trim_end_matches(':').to_string()));
        }
    }
    out
}

/// The module a source file is: `src/decide/plan.rs` → [decide, plan].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every breach in the files (`(path under src/, text)`): an import from a
/// later stage, a module in no stage, a cycle inside a stage.
fn breaches(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut out = Vec::new();
    // Edges between second-level modules of one stage.
    let mut inner: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in files {
        let me = module_of(rel);
        let Some(top) = me.first() else { continue };
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(my_rank) = rank(top) else {
            out.push(format!(
                "src/{}: module `{top}` is in no stage; add it to tests/layers.rs and ARCHITECTURE.md",
                rel.display()
            ));
            continue;
        };
        for (line, path) in crate_paths(&code_only(text)) {
            let segs: Vec<&str> = path.split("::").collect();
            let target = segs[0];
            if target == "self" || target.is_empty() {
                continue;
            }
            match rank(target) {
                Some(r) if r > my_rank => out.push(format!(
                    "src/{}:{line}: `{top}` imports crate::{path} from the later stage `{target}`",
                    rel.display()
                )),
                Some(_) if target == top && me.len() > 1 && segs.len() > 1 => {
                    let from = format!("{top}::{}", me[1]);
                    let to = format!("{top}::{}", segs[1]);
                    if from != to {
                        inner.entry(from).or_default().insert(to);
                    }
                }
                _ => {}
            }
        }
    }
    for cycle in cycles(&inner) {
        out.push(format!("modules import each other: {}", cycle.join(" → ")));
    }
    out
}

/// Each strongly connected set of two or more modules, as a loop.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flatten()).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if done.contains(n) {
            continue;
        }
        let from_n = reach(n);
        if !from_n.contains(n) {
            continue;
        }
        let mut group: Vec<String> = from_n
            .iter()
            .filter(|m| reach(m).contains(n))
            .cloned()
            .collect();
        group.sort();
        done.extend(group.iter().cloned());
        group.push(group[0].clone());
        out.push(group);
    }
    out
}

fn sources() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut todo = vec![src.clone()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p.strip_prefix(&src).unwrap().to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_import_points_to_an_earlier_stage() {
    let found = breaches(&sources());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_sees_what_it_must() {
    let file = |p: &str, t: &str| (PathBuf::from(p), t.to_string());
    let found = breaches(&[
        file(
            "observe/scan.rs",
            "use crate::decide::plan::{self, Objects};\nuse crate::{core::diag::Diag, run::session};\n",
        ),
        file(
            "decide/plan.rs",
            "// crate::serve::x in a comment\nlet s = \"crate::cli\";\nlet c = '\"'; use crate::config::Config;\n",
        ),
        file("run/a.rs", "fn f() { crate::run::b::g() }"),
        file("run/b.rs", "fn g() { crate::run::a::f() }"),
        file("stray.rs", "use crate::core::diag::Diag;"),
    ]);
    assert_eq!(
        found,
        [
            "src/observe/scan.rs:1: `observe` imports crate::decide::plan from the later stage `decide`",
            "src/observe/scan.rs:2: `observe` imports crate::run::session from the later stage `run`",
            "src/stray.rs: module `stray` is in no stage; add it to tests/layers.rs and ARCHITECTURE.md",
            "modules import each other: run::a → run::b → run::a",
        ]
    );
}
