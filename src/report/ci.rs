//! What a CI step reports after hoist ran: a Markdown summary, the step's
//! outputs (`changed`, `pull-requests`, `commit`) and annotations, read
//! from hoist's own JSON (`run`, `plan`) or text (`promote`, `comment`).
//! The GitHub Action and the Azure DevOps template both call `hoist
//! ci-report`, so the two cannot drift apart.

use serde::Serialize;
use serde_json::Value;

/// A pull request hoist touched, as the `pull-requests` output lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PullOut {
    pub environment: String,
    pub number: u64,
    pub url: String,
    pub action: String,
}

/// An annotation: a diagnostic with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub error: bool,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub markdown: String,
    pub changed: bool,
    pub pulls: Vec<PullOut>,
    pub commit: String,
    pub notes: Vec<Note>,
}

const PR_ACTIONS: [&str; 6] = [
    "opened",
    "updated",
    "unchanged",
    "awaiting-review",
    "merged",
    "auto-merge",
];

/// Markdown table cells: no pipes or newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn notes_of(v: &Value) -> Vec<Note> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|d| Note {
            error: d["severity"] == "error",
            file: d["file"].as_str().map(str::to_string),
            line: d["line"].as_u64(),
            message: d["message"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

/// The report for `command`'s `output`, which exited with `code`.
pub fn report(command: &str, output: &str, code: i32) -> Report {
    let mut r = Report::default();
    let mut md = vec![format!("## hoist {command}"), String::new()];
    let data: Option<Value> = match command {
        "run" | "plan" => serde_json::from_str(output).ok(),
        _ => None,
    };
    match (command, &data) {
        ("plan", Some(d)) => {
            let s = &d["summary"];
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            r.changed = n("changes") > 0;
            md.push(format!(
                "{} change(s) in {} file(s); {} error(s), {} warning(s).",
                n("changes"),
                n("files"),
                n("errors"),
                n("warnings")
            ));
            md.push(String::new());
            md.push("| file | marker | old | new |".into());
            md.push("|---|---|---|---|".into());
            for f in d["files"].as_array().into_iter().flatten() {
                for o in f["objects"].as_array().into_iter().flatten() {
                    for c in o["changes"].as_array().into_iter().flatten() {
                        md.push(format!(
                            "| `{}`:{} | `{}` | `{}` | `{}` |",
                            cell(f["file"].as_str().unwrap_or("")),
                            c["line"],
                            cell(c["setter"].as_str().unwrap_or("")),
                            cell(c["old"].as_str().unwrap_or("")),
                            cell(c["new"].as_str().unwrap_or(""))
                        ));
                    }
                }
            }
            r.notes = notes_of(&d["diagnostics"]);
        }
        ("run", Some(d)) if d.get("environments").is_some() => {
            md.push("| environment | outcome | pull requests and statuses |".into());
            md.push("|---|---|---|".into());
            for e in d["environments"].as_array().into_iter().flatten() {
                let env = e["environment"].as_str().unwrap_or("");
                let outcome = e["outcome"].as_str().unwrap_or("");
                if outcome.starts_with("pushed") {
                    r.changed = true;
                    if let Some(c) = e["commit"].as_str() {
                        r.commit = c.to_string();
                    }
                }
                let mut notes = Vec::new();
                for a in e["forge"].as_array().into_iter().flatten() {
                    let kind = a["action"].as_str().unwrap_or("");
                    match (PR_ACTIONS.contains(&kind), a["number"].as_u64()) {
                        (true, Some(number)) => {
                            r.changed |= matches!(kind, "opened" | "updated" | "merged");
                            let url = a["url"].as_str().unwrap_or("").to_string();
                            match r
                                .pulls
                                .iter_mut()
                                .find(|p| p.environment == env && p.number == number)
                            {
                                Some(p) => {
                                    p.action = kind.to_string();
                                    if p.url.is_empty() {
                                        p.url = url;
                                    }
                                }
                                None => r.pulls.push(PullOut {
                                    environment: env.to_string(),
                                    number,
                                    url,
                                    action: kind.to_string(),
                                }),
                            }
                            notes.push(format!("#{number} {kind}"));
                        }
                        _ if kind == "status" => notes.push(format!(
                            "status `{}`",
                            cell(a["context"].as_str().unwrap_or(""))
                        )),
                        _ => {}
                    }
                }
                md.push(format!(
                    "| {} | {} | {} |",
                    cell(env),
                    cell(outcome),
                    notes.join(", ")
                ));
            }
        }
        ("run", Some(d)) if d["dry_run"] == true => {
            md.push("Dry run: nothing was written.".into());
            md.push(String::new());
            md.push("| environment | changes | promotions |".into());
            md.push("|---|---|---|".into());
            for rung in d["rungs"].as_array().into_iter().flatten() {
                let n: usize = rung["files"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|f| f["objects"].as_array().into_iter().flatten())
                    .map(|o| o["changes"].as_array().map_or(0, Vec::len))
                    .sum();
                r.changed |= n > 0;
                let promos: Vec<String> = rung["promotions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "{}: {} → {}",
                            p["image"].as_str().unwrap_or(""),
                            p["from_tag"].as_str().unwrap_or(""),
                            p["to_tag"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                md.push(format!(
                    "| {} | {n} | {} |",
                    cell(rung["rung"].as_str().unwrap_or("")),
                    cell(&promos.join(", "))
                ));
            }
            r.notes = notes_of(&d["diagnostics"]);
        }
        _ => {
            let body = output.trim();
            r.changed = command == "promote" && code == 0 && !body.is_empty();
            if body.is_empty() {
                md.push("(no output)".into());
            } else {
                md.push("```".into());
                md.push(crate::propose::forge::cut_body(body, 60_000));
                md.push("```".into());
            }
        }
    }
    if code != 0 && code != 3 {
        md.push(String::new());
        md.push(format!("**hoist exited with {code}**: see the job log."));
    }
    r.markdown = md.join("\n") + "\n";
    r
}

impl Report {
    /// `pull-requests` as compact JSON.
    pub fn pulls_json(&self) -> String {
        serde_json::to_string(&self.pulls).unwrap_or_else(|_| "[]".into())
    }

    /// The `GITHUB_OUTPUT` lines.
    pub fn github_outputs(&self) -> String {
        format!(
            "changed={}\npull-requests={}\ncommit={}\n",
            self.changed,
            self.pulls_json(),
            self.commit
        )
    }

    /// GitHub workflow commands for the annotations (`::error file=…::…`).
    pub fn github_annotations(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            let mut props = Vec::new();
            if let Some(f) = &n.file {
                props.push(format!("file={f}"));
            }
            if let Some(l) = n.line {
                props.push(format!("line={l}"));
            }
            let msg = n
                .message
                .replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            out.push_str(&format!(
                "::{} {}::{msg}\n",
                if n.error { "error" } else { "warning" },
                props.join(",")
            ));
        }
        out
    }

    /// Azure Pipelines logging commands: output variables, annotations,
    /// and the summary (`summary_file`, already written) attached to the
    /// run.
    pub fn azure_commands(&self, summary_file: &str) -> String {
        // As the agent unescapes them: a value ends at its line, so `%`,
        // CR and LF are escaped; a property also ends at `;` or `]`.
        let esc = |s: &str| {
            s.replace('%', "%AZP25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
        };
        let prop = |s: &str| esc(s).replace(';', "%3B").replace(']', "%5D");
        let mut out = String::new();
        for (k, v) in [
            ("changed", self.changed.to_string()),
            ("pullRequests", self.pulls_json()),
            ("commit", self.commit.clone()),
        ] {
            out.push_str(&format!(
                "##vso[task.setvariable variable={k};isOutput=true]{}\n",
                esc(&v)
            ));
        }
        for n in &self.notes {
            let mut props = format!("type={}", if n.error { "error" } else { "warning" });
            if let Some(f) = &n.file {
                props.push_str(&format!(";sourcepath={}", prop(f)));
            }
            if let Some(l) = n.line {
                props.push_str(&format!(";linenumber={l}"));
            }
            out.push_str(&format!(
                "##vso[task.logissue {props}]{}\n",
                esc(&n.message)
            ));
        }
        out.push_str(&format!("##vso[task.uploadsummary]{summary_file}\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_reports_pull_requests_and_the_last_commit() {
        let out = r#"{"environments":[
            {"environment":"dev","outcome":"pushed 0123 to main (1 change, 1 file)","commit":"abc","forge":[{"action":"status","sha":"abc","context":"hoist/dev","description":"x"}]},
            {"environment":"staging","outcome":"pushed 4567 to hoist/staging","commit":"def","forge":[{"action":"opened","number":1,"url":"https://e/1","branch":"hoist/staging"},{"action":"merged","number":1}]},
            {"environment":"prod","outcome":"main is up to date","forge":[{"action":"unchanged","number":2,"url":"https://e/2"}]}]}"#;
        let r = report("run", out, 0);
        assert!(r.changed);
        assert_eq!(r.commit, "def");
        assert_eq!(
            r.pulls_json(),
            r#"[{"environment":"staging","number":1,"url":"https://e/1","action":"merged"},{"environment":"prod","number":2,"url":"https://e/2","action":"unchanged"}]"#
        );
        assert!(
            r.markdown
                .contains("| staging | pushed 4567 to hoist/staging | #1 opened, #1 merged |")
        );
        let az = r.azure_commands("/tmp/s.md");
        assert!(az.contains("##vso[task.setvariable variable=changed;isOutput=true]true\n"));
        assert!(az.contains("variable=pullRequests;isOutput=true][{\"environment\":\"staging\""));
        assert!(az.ends_with("##vso[task.uploadsummary]/tmp/s.md\n"));
    }

    #[test]
    fn diagnostics_become_annotations_with_escaped_text() {
        let out = r#"{"summary":{"changes":0,"files":0,"errors":1,"warnings":0},"files":[],
            "diagnostics":[{"severity":"error","file":"a.yaml","line":3,"message":"bad; really]\nbad"}]}"#;
        let r = report("plan", out, 1);
        assert!(!r.changed);
        assert!(r.markdown.contains("**hoist exited with 1**"));
        assert_eq!(
            r.github_annotations(),
            "::error file=a.yaml,line=3::bad; really]%0Abad\n"
        );
        let az = r.azure_commands("s.md");
        assert!(
            az.contains(
                "##vso[task.logissue type=error;sourcepath=a.yaml;linenumber=3]bad; really]%0Abad\n"
            ),
            "{az}"
        );
    }
}
