//! What a CI step reports after hoist ran: a Markdown summary, the step's
//! outputs (`changed`, `pull-requests`, `commit`) and annotations, read
//! from hoist's own JSON (`run`, `plan`) or text (`promote`, `comment`).
//! The GitHub Action and the Azure DevOps template both call `hoist
//! ci-report`, so the two cannot drift apart.

use serde::Serialize;

use crate::core::diag::Diag;
use crate::report::output::{DryRunOutput, PlanOutput, RunOutput};
use crate::run::climb::Action;

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

/// A pull request action as the outputs name it: (action, number, url).
fn pull_action(a: &Action) -> Option<(&'static str, u64, &str)> {
    Some(match a {
        Action::Opened { number, url, .. } => ("opened", *number, url),
        Action::Updated { number, url } => ("updated", *number, url),
        Action::Unchanged { number, url } => ("unchanged", *number, url),
        Action::AwaitingReview { number, url } => ("awaiting-review", *number, url),
        Action::Merged { number } => ("merged", *number, ""),
        Action::AutoMerge { number } => ("auto-merge", *number, ""),
        Action::Closed { .. } | Action::Status { .. } => return None,
    })
}

/// Markdown table cells: no pipes or newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn notes_of(diags: &[Diag]) -> Vec<Note> {
    diags
        .iter()
        .map(|d| Note {
            error: d.is_error(),
            file: d.file.clone(),
            line: d.line.map(|l| l as u64),
            message: d.message.clone(),
        })
        .collect()
}

/// The JSON `command` printed, as its type.
enum Printed {
    Plan(PlanOutput),
    Run(RunOutput),
    DryRun(DryRunOutput),
}

fn printed(command: &str, output: &str) -> Option<Printed> {
    match command {
        "plan" => serde_json::from_str(output).ok().map(Printed::Plan),
        "run" => serde_json::from_str(output)
            .ok()
            .map(Printed::Run)
            .or_else(|| {
                serde_json::from_str::<DryRunOutput>(output)
                    .ok()
                    .filter(|d| d.dry_run)
                    .map(Printed::DryRun)
            }),
        _ => None,
    }
}

/// The report for `command`'s `output`, which exited with `code`.
pub fn report(command: &str, output: &str, code: i32) -> Report {
    let mut r = Report::default();
    let mut md = vec![format!("## hoist {command}"), String::new()];
    match printed(command, output) {
        Some(Printed::Plan(d)) => {
            let s = d.summary;
            r.changed = s.changes > 0;
            md.push(format!(
                "{} change(s) in {} file(s); {} error(s), {} warning(s).",
                s.changes, s.files, s.errors, s.warnings
            ));
            md.push(String::new());
            md.push("| file | marker | old | new |".into());
            md.push("|---|---|---|---|".into());
            for f in &d.files {
                for o in &f.objects {
                    for c in &o.changes {
                        md.push(format!(
                            "| `{}`:{} | `{}` | `{}` | `{}` |",
                            cell(&f.file),
                            c.line,
                            cell(&c.setter),
                            cell(&c.old),
                            cell(&c.new)
                        ));
                    }
                }
            }
            r.notes = notes_of(&d.diagnostics);
        }
        Some(Printed::Run(d)) => {
            md.push("| environment | outcome | pull requests and statuses |".into());
            md.push("|---|---|---|".into());
            for e in &d.environments {
                let env = e.environment.as_str();
                if e.pushed() {
                    r.changed = true;
                    r.commit = e.commit.clone().unwrap_or_default();
                }
                let mut notes = Vec::new();
                for a in &e.forge {
                    if let Some((kind, number, url)) = pull_action(a) {
                        r.changed |= matches!(kind, "opened" | "updated" | "merged");
                        match r
                            .pulls
                            .iter_mut()
                            .find(|p| p.environment == env && p.number == number)
                        {
                            Some(p) => {
                                p.action = kind.to_string();
                                if p.url.is_empty() {
                                    p.url = url.to_string();
                                }
                            }
                            None => r.pulls.push(PullOut {
                                environment: env.to_string(),
                                number,
                                url: url.to_string(),
                                action: kind.to_string(),
                            }),
                        }
                        notes.push(format!("#{number} {kind}"));
                    } else if let Action::Status { context, .. } = a {
                        notes.push(format!("status `{}`", cell(context)));
                    }
                }
                md.push(format!(
                    "| {} | {} | {} |",
                    cell(env),
                    cell(&e.outcome),
                    notes.join(", ")
                ));
            }
            if let Some((total, left)) = d.cost() {
                md.push(String::new());
                md.push(format!(
                    "Requests: {total} ({}){left}",
                    cell(&d.requests_by_host())
                ));
            }
        }
        Some(Printed::DryRun(d)) => {
            md.push("Dry run: nothing was written.".into());
            md.push(String::new());
            md.push("| environment | changes | promotions |".into());
            md.push("|---|---|---|".into());
            for rung in &d.rungs {
                let n = rung.change_count();
                r.changed |= n > 0;
                let promos: Vec<String> = rung
                    .promotions
                    .iter()
                    .map(|p| format!("{}: {} → {}", p.image, p.from_tag, p.to_tag))
                    .collect();
                md.push(format!(
                    "| {} | {n} | {} |",
                    cell(&rung.rung),
                    cell(&promos.join(", "))
                ));
            }
            r.notes = notes_of(&d.diagnostics);
        }
        None => {
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

    /// A GitLab `artifacts:reports:dotenv` file: one `KEY=value` line
    /// each, as GitLab's parser wants them (no newlines; a value is at
    /// most 5 KB, so a long list of merge requests is left out and said).
    pub fn gitlab_dotenv(&self) -> String {
        let pulls = self.pulls_json();
        let pulls = if pulls.len() > 4096 {
            format!("HOIST_PULL_REQUESTS_COUNT={}", self.pulls.len())
        } else {
            format!("HOIST_PULL_REQUESTS={pulls}")
        };
        format!(
            "HOIST_CHANGED={}\n{pulls}\nHOIST_COMMIT={}\n",
            self.changed, self.commit
        )
    }

    /// The notes as a GitLab Code Quality report
    /// (`artifacts:reports:codequality`): shown on the merge request.
    pub fn gitlab_code_quality(&self) -> String {
        let items: Vec<serde_json::Value> = self
            .notes
            .iter()
            .map(|n| {
                use sha2::Digest;
                let path = n.file.clone().unwrap_or_else(|| "hoist.toml".into());
                let line = n.line.unwrap_or(1);
                let print = sha2::Sha256::digest(format!("{path}:{line}:{}", n.message).as_bytes());
                serde_json::json!({
                    "description": n.message,
                    "check_name": "hoist",
                    "fingerprint": crate::core::hex(&print),
                    "severity": if n.error { "major" } else { "minor" },
                    "location": { "path": path, "lines": { "begin": line } },
                })
            })
            .collect();
        serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
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
    fn a_run_summary_says_what_it_cost() {
        let out = r#"{"environments":[{"environment":"dev","outcome":"main is up to date","forge":[]}],
            "requests":[{"service":"forge","host":"api.github.com","route":"GET /repos/{repo}/pulls","count":4},
                        {"service":"forge","host":"api.github.com","route":"POST /repos/{repo}/statuses/{id}","count":1},
                        {"service":"registry","host":"ghcr.io","route":"GET /v2/{name}/tags/list","count":3}],
            "forge_rate_limit_remaining":4990}"#;
        let r = report("run", out, 0);
        assert!(
            r.markdown.contains(
                "Requests: 8 (forge api.github.com 5, registry ghcr.io 3); forge rate limit left: 4990"
            ),
            "{}",
            r.markdown
        );
    }

    #[test]
    fn a_rung_changed_what_it_pushed_whatever_its_branch_is_called() {
        // A branch whose name starts with "pushed" is up to date: not a change.
        let out = r#"{"environments":[{"environment":"dev","outcome":"pushed-today is up to date at 0123456789ab","forge":[]}]}"#;
        let r = report("run", out, 0);
        assert!(!r.changed);
        assert_eq!(r.commit, "");
        assert!(r.markdown.contains("| dev | pushed-today is up to date"));
    }

    #[test]
    fn a_dry_run_counts_changes_and_names_promotions() {
        let out = r#"{"diagnostics":[{"severity":"warning","message":"w"}],"dry_run":true,"rungs":[
            {"rung":"staging","promote_from":"dev","files":[{"file":"s.yaml","objects":[{"object":{"apiVersion":"v1","kind":"ConfigMap","namespace":"","name":"t"},"changes":[{"line":1,"old":"a","new":"b","setter":"ns:p:tag"}]}]}],
             "promotions":[{"namespace":"ns","policy":"p","image":"ghcr.io/a/api","from_tag":"dev-1","to_tag":"staging-1"}],
             "blocked":[],"runs":{},"diagnostics":[]}]}"#;
        let r = report("run", out, 0);
        assert!(r.changed);
        assert!(
            r.markdown
                .contains("| staging | 1 | ghcr.io/a/api: dev-1 → staging-1 |"),
            "{}",
            r.markdown
        );
        assert_eq!(r.notes.len(), 1);
        assert!(!r.notes[0].error);
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
