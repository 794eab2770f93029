//! GitHub (github.com and Enterprise Server) over its REST API, plus the
//! one GraphQL mutation REST lacks: `enablePullRequestAutoMerge`.
//!
//! Written on `reqwest` rather than octocrab: hoist uses twelve routes, and
//! needs its own handling of exactly the replies that matter (422 "already
//! exists" on create, 409/405 on merge, GraphQL's "clean status"), one
//! retry policy shared with Azure DevOps, and a blocking client. octocrab
//! would bring a second HTTP stack and about ten minutes of compile time
//! on this project's two-core CI for none of that.

use serde_json::{Value, json};

use super::http::Http;
use super::{
    CommitSummary, Error, Forge, Merge, NewPull, Permission, PullRequest, PullState, RepoInfo,
    Result, Status, StatusState,
};
use crate::config::ladder::MergeMethod;
use crate::core::secret::Secret;

/// The commit status API's words (hoist's own names for the states).
pub(super) const STATES: super::StateWords = [
    (StatusState::Pending, "pending"),
    (StatusState::Success, "success"),
    (StatusState::Failure, "failure"),
    (StatusState::Error, "error"),
];

pub struct GitHub {
    http: Http,
    api: String,
    graphql: String,
    web: String,
    repository: String,
}

impl GitHub {
    pub fn new(api_url: &str, repository: &str, token: Option<Secret>) -> Result<GitHub> {
        let api = api_url.trim_end_matches('/').to_string();
        let graphql = match api.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{api}/graphql"),
        };
        let http = Http::new(
            &api,
            format!("GitHub {repository}"),
            token.map(|t| Secret::new(format!("Bearer {}", t.expose()))),
            &[
                ("accept", "application/vnd.github+json"),
                ("x-github-api-version", "2022-11-28"),
            ],
        )?;
        Ok(GitHub {
            http,
            web: web_url(&api),
            api,
            graphql,
            repository: repository.to_string(),
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/repos/{}{tail}", self.api, self.repository)
    }

    /// `GET /pulls` of `head` into `base` with `filters` (one page of 100).
    fn pulls_from(&self, head: &str, base: &str, filters: &str, what: &str) -> Result<Value> {
        let url = self.url(&format!(
            "/pulls?{filters}&head={}&base={}&per_page=100",
            query_value(&format!("{}:{head}", self.owner())),
            query_value(base)
        ));
        self.http
            .expect("GET", &url, None, &format!("listing {what} from {head}"))
    }

    fn owner(&self) -> &str {
        self.repository.split('/').next().unwrap_or("")
    }

    fn get_pull(&self, number: u64) -> Result<PullRequest> {
        let v = self.http.expect(
            "GET",
            &self.url(&format!("/pulls/{number}")),
            None,
            &format!("reading pull request #{number}"),
        )?;
        pull(&v)
    }

    fn rest_merge(&self, pr: &PullRequest, method: MergeMethod) -> Result<Merge> {
        let url = self.url(&format!("/pulls/{}/merge", pr.number));
        let mut current = pr.clone();
        for attempt in 1..=4u32 {
            let body = json!({
                "merge_method": method_name(method),
                "sha": current.head_sha,
                "commit_title": format!("{} (#{})", current.title, current.number),
            });
            let r = self.http.call("PUT", &url, Some(&body))?;
            match r.status {
                200 => {
                    return Ok(Merge::Merged {
                        sha: r.json["sha"].as_str().unwrap_or_default().to_string(),
                    });
                }
                // 409: the head moved (or GitHub has not caught up with
                // it); 405 "Base branch was modified": read again, retry
                // while the head is still what hoist pushed.
                409 | 405 if attempt < 4 && is_transient_merge(&r.message()) => {
                    let again = self.get_pull(pr.number)?;
                    if again.head_sha != pr.head_sha {
                        return Ok(Merge::Refused(format!(
                            "the head branch moved to {} while merging; hoist merges only what it pushed",
                            again.head_sha
                        )));
                    }
                    if again.state != PullState::Open {
                        return Ok(match again.state {
                            PullState::Merged => Merge::Merged { sha: String::new() },
                            _ => Merge::Refused("the pull request was closed".into()),
                        });
                    }
                    current = again;
                    std::thread::sleep(std::time::Duration::from_millis(300 << attempt));
                }
                405 | 409 | 422 => return Ok(Merge::Refused(r.message())),
                s => {
                    return Err(Error::new(format!(
                        "{}: merging pull request #{}: {s} {}",
                        self.http.who,
                        pr.number,
                        r.message()
                    )));
                }
            }
        }
        Ok(Merge::Refused(format!(
            "pull request #{} kept changing while merging",
            pr.number
        )))
    }
}

fn is_transient_merge(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("was modified") || m.contains("try the merge again")
}

fn method_name(m: MergeMethod) -> &'static str {
    match m {
        MergeMethod::Merge => "merge",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    }
}

/// The web address that goes with an API address.
fn web_url(api: &str) -> String {
    if let Some(host) = api.strip_suffix("/api/v3") {
        return host.to_string();
    }
    match api.split_once("://api.") {
        Some((scheme, host)) => format!("{scheme}://{}", host.split('/').next().unwrap_or(host)),
        None => api.to_string(),
    }
}

/// Percent-encode a query value (branch names may hold `+`, `#`, `&`).
pub(crate) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// A pull request from GitHub's JSON (list and single replies alike).
fn pull(v: &Value) -> Result<PullRequest> {
    let number = v["number"]
        .as_u64()
        .ok_or_else(|| Error::new("GitHub sent a pull request without a number"))?;
    let state = if !v["merged_at"].is_null() || v["merged"] == json!(true) {
        PullState::Merged
    } else if v["state"] == "open" {
        PullState::Open
    } else {
        PullState::Closed
    };
    Ok(PullRequest {
        number,
        node_id: text(v, "node_id"),
        head_branch: text(&v["head"], "ref"),
        head_sha: text(&v["head"], "sha"),
        base_branch: text(&v["base"], "ref"),
        title: text(v, "title"),
        body: text(v, "body"),
        url: text(v, "html_url"),
        state,
        auto_merge: !v["auto_merge"].is_null(),
        merge_commit: if state == PullState::Merged {
            text(v, "merge_commit_sha")
        } else {
            String::new()
        },
        merged_at: v["merged_at"].as_str().and_then(crate::core::time::parse),
    })
}

impl Forge for GitHub {
    fn repository(&self) -> Result<RepoInfo> {
        let v = self
            .http
            .expect("GET", &self.url(""), None, "reading the repository")?;
        Ok(RepoInfo {
            clone_url: text(&v, "clone_url"),
            default_branch: text(&v, "default_branch"),
            web_url: text(&v, "html_url"),
        })
    }

    fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>> {
        let v = self.pulls_from(head, base, "state=open", "pull requests")?;
        let list = v.as_array().cloned().unwrap_or_default();
        for item in &list {
            let p = pull(item)?;
            if p.head_branch == head && p.base_branch == base && p.state == PullState::Open {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    fn list_open(&self, prefix: &str) -> Result<Vec<PullRequest>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let url = self.url(&format!("/pulls?state=open&per_page=100&page={page}"));
            let v = self
                .http
                .expect("GET", &url, None, "listing open pull requests")?;
            let list = v.as_array().cloned().unwrap_or_default();
            for item in &list {
                let p = pull(item)?;
                if p.head_branch.starts_with(prefix) {
                    out.push(p);
                }
            }
            if list.len() < 100 {
                break;
            }
        }
        Ok(out)
    }

    fn list_merged(&self, prefix: &str) -> Result<Vec<PullRequest>> {
        let url = self.url("/pulls?state=closed&sort=updated&direction=desc&per_page=100");
        let v = self
            .http
            .expect("GET", &url, None, "listing closed pull requests")?;
        let mut out = Vec::new();
        for item in v.as_array().into_iter().flatten() {
            let p = pull(item)?;
            if p.state == PullState::Merged && p.head_branch.starts_with(prefix) {
                out.push(p);
            }
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(out)
    }

    fn list_merged_since(&self, prefix: &str, since: i64) -> Result<Vec<PullRequest>> {
        super::merged_pages(prefix, since, |n| {
            let url = self.url(&format!(
                "/pulls?state=closed&sort=updated&direction=desc&per_page=100&page={n}"
            ));
            let v = self
                .http
                .expect("GET", &url, None, "listing closed pull requests")?;
            super::with_updated(&v, pull)
        })
    }

    fn find_merged(&self, head: &str, base: &str) -> Result<Vec<PullRequest>> {
        let v = self.pulls_from(
            head,
            base,
            "state=closed&sort=updated&direction=desc",
            "closed pull requests",
        )?;
        let mut out = Vec::new();
        for item in v.as_array().into_iter().flatten() {
            let p = pull(item)?;
            if p.state == PullState::Merged && p.head_branch == head && p.base_branch == base {
                out.push(p);
            }
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(out)
    }

    fn create(&self, new: &NewPull<'_>) -> Result<PullRequest> {
        let body = json!({
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
            "maintainer_can_modify": false,
        });
        let r = self.http.call("POST", &self.url("/pulls"), Some(&body))?;
        let pr = match r.status {
            201 => pull(&r.json)?,
            422 if r.message().contains("already exists") => {
                // Another run opened it a moment ago: use that one.
                return self.find_open(new.head, new.base)?.ok_or_else(|| {
                    Error::raced(format!(
                        "{}: GitHub says a pull request from {} exists, but lists none",
                        self.http.who, new.head
                    ))
                });
            }
            // Everything on the head branch is already in the base: a
            // concurrent run merged this change first. Plan again.
            422 if r.message().contains("No commits between") => {
                return Err(Error::raced(format!(
                    "{}: opening a pull request from {}: its change is already in {}",
                    self.http.who, new.head, new.base
                )));
            }
            // The head branch is gone (a concurrent run merged and
            // deleted it): plan again.
            422 if r.json["errors"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| e["field"] == "head" && e["code"] == "invalid")
            }) =>
            {
                return Err(Error::raced(format!(
                    "{}: opening a pull request from {}: the branch is gone",
                    self.http.who, new.head
                )));
            }
            s => {
                return Err(Error::new(format!(
                    "{}: opening a pull request from {} into {}: {s} {}",
                    self.http.who,
                    new.head,
                    new.base,
                    r.message()
                )));
            }
        };
        if !new.labels.is_empty() {
            self.http
                .expect(
                    "POST",
                    &self.url(&format!("/issues/{}/labels", pr.number)),
                    Some(&json!({ "labels": new.labels })),
                    &format!("labelling pull request #{}", pr.number),
                )
                .map_err(|e| e.context("the pull request is open"))?;
        }
        if !new.reviewers.is_empty() {
            self.http
                .expect(
                    "POST",
                    &self.url(&format!("/pulls/{}/requested_reviewers", pr.number)),
                    Some(&json!({ "reviewers": new.reviewers })),
                    &format!("requesting reviewers on pull request #{}", pr.number),
                )
                .map_err(|e| e.context("the pull request is open"))?;
        }
        Ok(pr)
    }

    fn update(&self, pr: &PullRequest, title: &str, body: &str) -> Result<PullRequest> {
        let v = self.http.expect(
            "PATCH",
            &self.url(&format!("/pulls/{}", pr.number)),
            Some(&json!({ "title": title, "body": body })),
            &format!("updating pull request #{}", pr.number),
        )?;
        pull(&v)
    }

    fn close(&self, pr: &PullRequest, comment: &str) -> Result<()> {
        self.http.expect(
            "POST",
            &self.url(&format!("/issues/{}/comments", pr.number)),
            Some(&json!({ "body": comment })),
            &format!("commenting on pull request #{}", pr.number),
        )?;
        self.http.expect(
            "PATCH",
            &self.url(&format!("/pulls/{}", pr.number)),
            Some(&json!({ "state": "closed" })),
            &format!("closing pull request #{}", pr.number),
        )?;
        let r = self.http.call(
            "DELETE",
            &self.url(&format!("/git/refs/heads/{}", pr.head_branch)),
            None,
        )?;
        // 422 "Reference does not exist": already gone, as wanted.
        if !r.ok() && r.status != 422 && r.status != 404 {
            return Err(Error::new(format!(
                "{}: deleting branch {}: {} {}",
                self.http.who,
                pr.head_branch,
                r.status,
                r.message()
            )));
        }
        Ok(())
    }

    fn merge(&self, pr: &PullRequest, method: MergeMethod) -> Result<Merge> {
        if pr.auto_merge {
            return Ok(Merge::Scheduled);
        }
        let query = "mutation($id: ID!, $method: PullRequestMergeMethod!) { \
             enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) \
             { pullRequest { number autoMergeRequest { enabledAt } } } }";
        let body = json!({
            "query": query,
            "variables": { "id": pr.node_id, "method": method_name(method).to_ascii_uppercase() },
        });
        let r = self.http.call("POST", &self.graphql, Some(&body))?;
        if !r.ok() {
            return Err(Error::new(format!(
                "{}: enabling auto-merge on pull request #{}: {} {}",
                self.http.who,
                pr.number,
                r.status,
                r.message()
            )));
        }
        let errors: Vec<String> = r.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["message"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if errors.is_empty() && !r.json["data"]["enablePullRequestAutoMerge"].is_null() {
            return Ok(Merge::Scheduled);
        }
        // Already mergeable ("clean"/"unstable" status), or auto-merge off
        // for the repository: merge now, guarded by the head sha.
        let joined = errors.join("; ");
        let lower = joined.to_ascii_lowercase();
        let result = if lower.contains("clean status")
            || lower.contains("unstable status")
            || lower.contains("auto merge is not allowed")
            || lower.contains("auto-merge is not allowed")
        {
            self.rest_merge(pr, method)?
        } else {
            Merge::Refused(if joined.is_empty() {
                "GitHub did not enable auto-merge and gave no reason".into()
            } else {
                joined
            })
        };
        // A run racing this one may have merged it a moment ago: that is
        // the outcome wanted, not a refusal.
        if let Merge::Refused(_) = &result
            && let Ok(now) = self.get_pull(pr.number)
            && now.state == PullState::Merged
            && now.head_sha == pr.head_sha
        {
            return Ok(Merge::Merged { sha: String::new() });
        }
        Ok(result)
    }

    fn statuses(&self, sha: &str) -> Result<Vec<Status>> {
        let v = self.http.expect(
            "GET",
            &self.url(&format!("/commits/{sha}/statuses?per_page=100")),
            None,
            &format!("reading statuses of {sha}"),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|s| Status {
                        context: text(s, "context"),
                        state: StatusState::from_word(&STATES, s["state"].as_str()),
                        description: text(s, "description"),
                        target_url: s["target_url"].as_str().map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn post_status(&self, sha: &str, status: &Status) -> Result<()> {
        let mut body = json!({
            "state": status.state.as_str(),
            "context": status.context,
            "description": super::short_description(&status.description),
        });
        if let Some(u) = &status.target_url {
            body["target_url"] = json!(u);
        }
        self.http.expect(
            "POST",
            &self.url(&format!("/statuses/{sha}")),
            Some(&body),
            &format!("posting status {} on {sha}", status.context),
        )?;
        Ok(())
    }

    fn compare(
        &self,
        repository: &str,
        base: &str,
        head: &str,
    ) -> Result<Option<Vec<CommitSummary>>> {
        let url = format!(
            "{}/repos/{repository}/compare/{}...{}",
            self.api,
            query_value(base),
            query_value(head)
        );
        let r = self.http.call("GET", &url, None)?;
        if r.status == 404 {
            return Ok(None);
        }
        if !r.ok() {
            return Err(Error::new(format!(
                "GitHub {repository}: comparing {base}...{head}: {} {}",
                r.status,
                r.message()
            )));
        }
        Ok(Some(
            r.json["commits"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| CommitSummary {
                            sha: text(c, "sha"),
                            title: c["commit"]["message"]
                                .as_str()
                                .unwrap_or("")
                                .lines()
                                .next()
                                .unwrap_or("")
                                .to_string(),
                            author: c["commit"]["author"]["name"]
                                .as_str()
                                .unwrap_or("")
                                .to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }

    fn compare_url(&self, repository: &str, base: &str, head: &str) -> String {
        format!("{}/{repository}/compare/{base}...{head}", self.web)
    }

    fn pull(&self, number: u64) -> Result<PullRequest> {
        self.get_pull(number)
    }

    fn deployment(&self, sha: &str, environment: &str, status: &Status) -> Result<bool> {
        let env_q = query_value(environment);
        let list = self.http.expect(
            "GET",
            &self.url(&format!(
                "/deployments?sha={sha}&environment={env_q}&per_page=1"
            )),
            None,
            &format!("listing deployments of {sha} to {environment}"),
        )?;
        let existing = list
            .as_array()
            .and_then(|a| a.first())
            .and_then(|d| d["id"].as_u64());
        let id = match existing {
            Some(id) => id,
            None => {
                let d = self.http.expect(
                    "POST",
                    &self.url("/deployments"),
                    Some(&json!({
                        "ref": sha,
                        "environment": environment,
                        "auto_merge": false,
                        "required_contexts": [],
                        "description": "reported by hoist from Flux",
                        "production_environment": false,
                    })),
                    &format!("creating a deployment of {sha} to {environment}"),
                )?;
                d["id"]
                    .as_u64()
                    .ok_or_else(|| Error::new("GitHub sent a deployment without an id"))?
            }
        };
        let state = match status.state {
            StatusState::Pending => "in_progress",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
        };
        let description = super::short_description(&status.description);
        let latest = self.http.expect(
            "GET",
            &self.url(&format!("/deployments/{id}/statuses?per_page=1")),
            None,
            &format!("reading deployment {id}'s statuses"),
        )?;
        if let Some(l) = latest.as_array().and_then(|a| a.first())
            && text(l, "state") == state
            && text(l, "description") == description
        {
            return Ok(false);
        }
        self.http.expect(
            "POST",
            &self.url(&format!("/deployments/{id}/statuses")),
            Some(
                &json!({ "state": state, "description": description, "environment": environment }),
            ),
            &format!("posting deployment {id}'s status"),
        )?;
        Ok(true)
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        let url = self.url(&format!(
            "/compare/{}...{}",
            query_value(ancestor),
            query_value(descendant)
        ));
        let r = self.http.call("GET", &url, None)?;
        if r.status == 404 {
            return Ok(false);
        }
        if !r.ok() {
            return Err(Error::new(format!(
                "{}: comparing {ancestor}...{descendant}: {} {}",
                self.http.who,
                r.status,
                r.message()
            )));
        }
        // `ahead`: descendant has commits ancestor lacks, and none the
        // other way; `identical`: the same commit.
        Ok(matches!(
            text(&r.json, "status").as_str(),
            "ahead" | "identical"
        ))
    }

    fn comment(&self, number: u64, body: &str) -> Result<()> {
        self.http.expect(
            "POST",
            &self.url(&format!("/issues/{number}/comments")),
            Some(&json!({ "body": super::cut_body(body, 65_536) })),
            &format!("commenting on pull request #{number}"),
        )?;
        Ok(())
    }

    fn comments(&self, number: u64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let v = self.http.expect(
                "GET",
                &self.url(&format!(
                    "/issues/{number}/comments?per_page=100&page={page}"
                )),
                None,
                &format!("reading the comments of pull request #{number}"),
            )?;
            let items = v.as_array().cloned().unwrap_or_default();
            out.extend(items.iter().map(|c| text(c, "body")));
            if items.len() < 100 {
                break;
            }
        }
        Ok(out)
    }

    fn permission(&self, user: &str) -> Result<Permission> {
        let r = self.http.call(
            "GET",
            &self.url(&format!("/collaborators/{}/permission", query_value(user))),
            None,
        )?;
        // 404: not a collaborator (or no such user).
        if r.status == 404 {
            return Ok(Permission::None);
        }
        if !r.ok() {
            return Err(Error::new(format!(
                "{}: reading {user}'s permission: {} {}",
                self.http.who,
                r.status,
                r.message()
            )));
        }
        let v = r.json;
        // role_name carries custom roles' base (maintain, triage) where
        // permission folds them into write/read.
        let by_role = Permission::from_github(&text(&v, "role_name"));
        let by_perm = Permission::from_github(&text(&v, "permission"));
        Ok(by_role.max(by_perm))
    }

    fn in_team(&self, org: &str, team: &str, user: &str) -> Result<bool> {
        let r = self.http.call(
            "GET",
            &format!(
                "{}/orgs/{}/teams/{}/memberships/{}",
                self.api,
                query_value(org),
                query_value(team),
                query_value(user)
            ),
            None,
        )?;
        if r.status == 404 {
            return Ok(false);
        }
        if !r.ok() {
            return Err(Error::new(format!(
                "{}: reading {user}'s membership of {org}/{team}: {} {}",
                self.http.who,
                r.status,
                r.message()
            )));
        }
        Ok(text(&r.json, "state") == "active")
    }

    fn react(&self, _number: u64, comment_id: u64, content: &str) -> Result<()> {
        self.http.expect(
            "POST",
            &self.url(&format!("/issues/comments/{comment_id}/reactions")),
            Some(&json!({ "content": content })),
            &format!("reacting to comment {comment_id}"),
        )?;
        Ok(())
    }

    fn commit_url(&self, repository: &str, sha: &str) -> String {
        format!("{}/{repository}/commit/{sha}", self.web)
    }
}

/// A GitHub App's installation token for `repository`: a JWT signed with
/// the app's private key (RS256) asks for the repository's installation,
/// then for a token of that installation.
pub fn installation_token(
    api_url: &str,
    repository: &str,
    app_id: &str,
    private_key_pem: &str,
) -> Result<Secret> {
    let jwt = app_jwt(app_id, private_key_pem)?;
    let api = api_url.trim_end_matches('/');
    let http = Http::new(
        api,
        format!("GitHub App {app_id}"),
        Some(Secret::new(format!("Bearer {}", jwt.expose()))),
        &[
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", "2022-11-28"),
        ],
    )?;
    let inst = http.expect(
        "GET",
        &format!("{api}/repos/{repository}/installation"),
        None,
        &format!("finding the app's installation on {repository}"),
    )?;
    let id = inst["id"]
        .as_u64()
        .ok_or_else(|| Error::new("GitHub sent an installation without an id"))?;
    let tok = http.expect(
        "POST",
        &format!("{api}/app/installations/{id}/access_tokens"),
        None,
        "creating an installation token",
    )?;
    tok["token"]
        .as_str()
        .map(|t| Secret::new(t.to_string()))
        .ok_or_else(|| Error::new("GitHub sent no installation token"))
}

/// The app's JWT: issued a minute in the past (clock drift), valid nine
/// minutes (GitHub allows ten).
fn app_jwt(app_id: &str, pem: &str) -> Result<Secret> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let der = pem_body(pem)
        .ok_or_else(|| Error::setup("forge.private_key_env: the value is not a PEM private key"))?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .or_else(|_| ring::signature::RsaKeyPair::from_der(&der))
        .map_err(|e| Error::setup(format!("forge.private_key_env: not an RSA key ({e})")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = b64.encode(
        json!({ "iat": now.saturating_sub(60), "exp": now + 540, "iss": app_id })
            .to_string()
            .as_bytes(),
    );
    let input = format!("{header}.{claims}");
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| Error::setup("forge.private_key_env: cannot sign with this key"))?;
    Ok(Secret::new(format!("{input}.{}", b64.encode(sig))))
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start..];
    let body_start = rest.find('\n')? + 1;
    let end = rest.find("-----END ")?;
    let body: String = rest
        .get(body_start..end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(web_url("https://api.github.com"), "https://github.com");
        assert_eq!(
            web_url("https://ghe.example.com/api/v3"),
            "https://ghe.example.com"
        );
        assert_eq!(web_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(query_value("acme:hoist/prod+x"), "acme:hoist/prod%2Bx");
        let g = GitHub::new("https://ghe.example.com/api/v3/", "a/b", None).unwrap();
        assert_eq!(g.graphql, "https://ghe.example.com/api/graphql");
    }

    #[test]
    fn bad_private_keys_are_refused_not_panicked_on() {
        // END before the first newline: no body to read.
        assert_eq!(pem_body("-----BEGIN K-----END K-----\n"), None);
        assert_eq!(pem_body("no pem here"), None);
        assert!(
            app_jwt(
                "1",
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
            )
            .is_err()
        );
    }

    #[test]
    fn pull_states() {
        let open = json!({"number": 3, "state": "open", "merged_at": null, "auto_merge": null,
            "head": {"ref": "hoist/prod", "sha": "abc"}, "base": {"ref": "main"}, "body": null});
        let p = pull(&open).unwrap();
        assert_eq!(
            (p.state, p.auto_merge, p.body.as_str()),
            (PullState::Open, false, "")
        );
        let merged = json!({"number": 3, "state": "closed", "merged_at": "2026-01-01T00:00:00Z",
            "head": {"ref": "x", "sha": "abc"}, "base": {"ref": "main"}});
        assert_eq!(pull(&merged).unwrap().state, PullState::Merged);
        assert!(pull(&json!({"state": "open"})).is_err());
    }
}
