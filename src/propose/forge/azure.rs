//! Azure DevOps (Services and Server) over its REST API, version 7.1.
//!
//! `repository` is `org/project/repo`. The API lives under
//! `<api_url>/<org>`, unless `api_url` already ends with the organisation
//! (an Azure DevOps Server collection URL such as
//! `https://tfs.example/tfs/DefaultCollection` with repository
//! `DefaultCollection/project/repo`).
//!
//! Auto-merge is Azure's auto-complete: hoist sets `autoCompleteSetBy` to
//! its own identity (the `createdBy` of the pull request it opened) with
//! `completionOptions`, and
//! Azure completes the pull request once its policies pass — at once when
//! there are none, which hoist sees by reading the pull request again.

use serde_json::{Value, json};

use super::http::Http;
use super::{
    CommitSummary, Error, Forge, Merge, NewPull, Permission, PullRequest, PullState, RepoInfo,
    Result, Status, StatusState,
};
use crate::config::ladder::MergeMethod;
use crate::core::secret::Secret;

const V: &str = "api-version=7.1";

/// GitStatusState's words.
const STATES: super::StateWords = [
    (StatusState::Pending, "pending"),
    (StatusState::Success, "succeeded"),
    (StatusState::Failure, "failed"),
    (StatusState::Error, "error"),
];

pub struct AzureDevOps {
    http: Http,
    /// `<api_url>/<org>`.
    org_url: String,
    project: String,
    repo: String,
    me: std::sync::OnceLock<String>,
}

impl AzureDevOps {
    pub fn new(api_url: &str, repository: &str, token: Option<Secret>) -> Result<AzureDevOps> {
        let parts: Vec<&str> = repository.split('/').collect();
        let [org, project, repo] = parts.as_slice() else {
            return Err(Error::setup(format!(
                "forge.repository {repository:?}: Azure DevOps wants org/project/repo"
            )));
        };
        let api = api_url.trim_end_matches('/');
        let last = api.rsplit('/').next().unwrap_or("");
        let org_url = if last.eq_ignore_ascii_case(org) {
            api.to_string()
        } else {
            format!("{api}/{org}")
        };
        let auth = token.map(|t| {
            use base64::Engine;
            Secret::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(":{}", t.expose()))
            ))
        });
        Ok(AzureDevOps {
            http: Http::new(
                &org_url,
                format!("Azure DevOps {repository}"),
                auth,
                &[("accept", "application/json")],
            )?,
            org_url,
            project: project.to_string(),
            repo: repo.to_string(),
            me: std::sync::OnceLock::new(),
        })
    }

    fn url(&self, tail: &str) -> String {
        let sep = if tail.contains('?') { '&' } else { '?' };
        format!(
            "{}/{}/_apis/git/repositories/{}{tail}{sep}{V}",
            self.org_url, self.project, self.repo
        )
    }

    /// hoist's own identity id, for `autoCompleteSetBy`: the `createdBy`
    /// of the pull request hoist created (remembered from the create
    /// reply), else of the pull request itself (hoist's bot branch). Both
    /// are documented routes; `_apis/connectionData` is in none of
    /// Microsoft's published descriptions.
    fn me(&self, number: u64) -> Result<String> {
        if let Some(id) = self.me.get() {
            return Ok(id.clone());
        }
        let v = self.http.expect(
            "GET",
            &self.url(&format!("/pullrequests/{number}")),
            None,
            &format!("reading pull request {number}"),
        )?;
        v["createdBy"]["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::new(format!(
                    "Azure DevOps sent pull request {number} without createdBy.id"
                ))
            })
    }

    fn get_pull(&self, id: u64) -> Result<PullRequest> {
        let v = self.http.expect(
            "GET",
            &self.url(&format!("/pullrequests/{id}")),
            None,
            &format!("reading pull request {id}"),
        )?;
        self.pull(&v)
    }

    fn pull(&self, v: &Value) -> Result<PullRequest> {
        let number = v["pullRequestId"]
            .as_u64()
            .ok_or_else(|| Error::new("Azure DevOps sent a pull request without pullRequestId"))?;
        let branch = |k: &str| {
            v[k].as_str()
                .unwrap_or("")
                .trim_start_matches("refs/heads/")
                .to_string()
        };
        let web = v["repository"]["webUrl"].as_str().unwrap_or("").to_string();
        Ok(PullRequest {
            number,
            node_id: String::new(),
            head_branch: branch("sourceRefName"),
            head_sha: v["lastMergeSourceCommit"]["commitId"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            base_branch: branch("targetRefName"),
            title: v["title"].as_str().unwrap_or("").to_string(),
            body: v["description"].as_str().unwrap_or("").to_string(),
            url: if web.is_empty() {
                v["url"].as_str().unwrap_or("").to_string()
            } else {
                format!("{web}/pullrequest/{number}")
            },
            state: match v["status"].as_str() {
                Some("active") => PullState::Open,
                Some("completed") => PullState::Merged,
                _ => PullState::Closed,
            },
            auto_merge: v["autoCompleteSetBy"].is_object(),
            merged_at: v["closedDate"]
                .as_str()
                .filter(|_| v["status"] == "completed")
                .and_then(crate::core::time::parse),
            merge_commit: v["lastMergeCommit"]["commitId"]
                .as_str()
                .filter(|_| v["status"] == "completed")
                .unwrap_or("")
                .to_string(),
        })
    }

    /// The project and repository of `repository` (`org/project/repo` or
    /// `project/repo`, in this organisation).
    fn project_repo<'a>(&'a self, repository: &'a str) -> (&'a str, &'a str) {
        let parts: Vec<&str> = repository.split('/').collect();
        match parts.as_slice() {
            [_, p, r] | [p, r] => (p, r),
            _ => (self.project.as_str(), self.repo.as_str()),
        }
    }

    /// The web address of `repository`.
    fn web_repo(&self, repository: &str) -> String {
        let (project, repo) = self.project_repo(repository);
        format!("{}/{project}/_git/{repo}", self.org_url)
    }

    fn search(&self, criteria: &str) -> Result<Vec<PullRequest>> {
        self.search_status("active", 1000, criteria)
    }

    fn search_status(&self, status: &str, top: usize, criteria: &str) -> Result<Vec<PullRequest>> {
        let v = self.http.expect(
            "GET",
            &self.url(&format!(
                "/pullrequests?searchCriteria.status={status}&$top={top}{criteria}"
            )),
            None,
            "listing pull requests",
        )?;
        v["value"]
            .as_array()
            .map(|a| a.iter().map(|p| self.pull(p)).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }
}

fn strategy(m: MergeMethod) -> &'static str {
    match m {
        MergeMethod::Merge => "noFastForward",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    }
}

/// `hoist/<env>` → (genre `hoist`, name `<env>`), as Azure splits contexts.
fn split_context(context: &str) -> (&str, &str) {
    context.split_once('/').unwrap_or(("hoist", context))
}

impl Forge for AzureDevOps {
    fn repository(&self) -> Result<RepoInfo> {
        let v = self
            .http
            .expect("GET", &self.url(""), None, "reading the repository")?;
        Ok(RepoInfo {
            clone_url: v["remoteUrl"].as_str().unwrap_or("").to_string(),
            default_branch: v["defaultBranch"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("refs/heads/")
                .to_string(),
            web_url: v["webUrl"].as_str().unwrap_or("").to_string(),
        })
    }

    fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>> {
        let q = format!(
            "&searchCriteria.sourceRefName={}&searchCriteria.targetRefName={}",
            super::github::query_value(&format!("refs/heads/{head}")),
            super::github::query_value(&format!("refs/heads/{base}"))
        );
        Ok(self
            .search(&q)?
            .into_iter()
            .find(|p| p.head_branch == head && p.base_branch == base))
    }

    fn list_open(&self, prefix: &str) -> Result<Vec<PullRequest>> {
        Ok(self
            .search("")?
            .into_iter()
            .filter(|p| p.head_branch.starts_with(prefix))
            .collect())
    }

    fn list_merged(&self, prefix: &str) -> Result<Vec<PullRequest>> {
        let mut out: Vec<PullRequest> = self
            .search_status("completed", 100, "")?
            .into_iter()
            .filter(|p| p.head_branch.starts_with(prefix))
            .collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(out)
    }

    /// Completed pull requests, newest first, `$skip` a hundred at a time.
    fn list_merged_since(&self, prefix: &str, since: i64) -> Result<Vec<PullRequest>> {
        super::merged_pages(prefix, since, |n| {
            let skip = (n - 1) * 100;
            Ok(self
                .search_status("completed", 100, &format!("&$skip={skip}"))?
                .into_iter()
                .map(|p| {
                    let closed = p.merged_at;
                    (p, closed)
                })
                .collect())
        })
    }

    fn find_merged(&self, head: &str, base: &str) -> Result<Vec<PullRequest>> {
        let q = format!(
            "&searchCriteria.sourceRefName={}&searchCriteria.targetRefName={}",
            super::github::query_value(&format!("refs/heads/{head}")),
            super::github::query_value(&format!("refs/heads/{base}"))
        );
        let mut out: Vec<PullRequest> = self
            .search_status("completed", 100, &q)?
            .into_iter()
            .filter(|p| p.head_branch == head && p.base_branch == base)
            .collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(out)
    }

    fn create(&self, new: &NewPull<'_>) -> Result<PullRequest> {
        let mut body = json!({
            "sourceRefName": format!("refs/heads/{}", new.head),
            "targetRefName": format!("refs/heads/{}", new.base),
            "title": new.title,
            "description": new.body,
        });
        if !new.labels.is_empty() {
            body["labels"] = json!(
                new.labels
                    .iter()
                    .map(|l| json!({ "name": l }))
                    .collect::<Vec<_>>()
            );
        }
        if !new.reviewers.is_empty() {
            // Azure wants identity ids here, not names.
            body["reviewers"] = json!(
                new.reviewers
                    .iter()
                    .map(|r| json!({ "id": r }))
                    .collect::<Vec<_>>()
            );
        }
        let r = self
            .http
            .call("POST", &self.url("/pullrequests"), Some(&body))?;
        match r.status {
            200 | 201 => {
                if let Some(id) = r.json["createdBy"]["id"].as_str().filter(|i| !i.is_empty()) {
                    let _ = self.me.set(id.to_string());
                }
                self.pull(&r.json)
            }
            409 if r.message().contains("TF401179") || r.message().contains("already exists") => {
                self.find_open(new.head, new.base)?.ok_or_else(|| {
                    Error::raced(format!(
                        "{}: Azure DevOps says a pull request from {} exists, but lists none",
                        self.http.who, new.head
                    ))
                })
            }
            // TF401398: the branch is gone (a concurrent run merged and
            // deleted it): plan again.
            400 if r.message().contains("TF401398") => Err(Error::raced(format!(
                "{}: opening a pull request from {}: {}",
                self.http.who,
                new.head,
                r.message()
            ))),
            s => Err(Error::new(format!(
                "{}: opening a pull request from {} into {}: {s} {}",
                self.http.who,
                new.head,
                new.base,
                r.message()
            ))),
        }
    }

    fn update(&self, pr: &PullRequest, title: &str, body: &str) -> Result<PullRequest> {
        let v = self.http.expect(
            "PATCH",
            &self.url(&format!("/pullrequests/{}", pr.number)),
            Some(&json!({ "title": title, "description": body })),
            &format!("updating pull request {}", pr.number),
        )?;
        self.pull(&v)
    }

    fn close(&self, pr: &PullRequest, comment: &str) -> Result<()> {
        self.http.expect(
            "POST",
            &self.url(&format!("/pullrequests/{}/threads", pr.number)),
            Some(&json!({
                "comments": [{ "parentCommentId": 0, "content": comment, "commentType": 1 }],
                "status": "closed",
            })),
            &format!("commenting on pull request {}", pr.number),
        )?;
        self.http.expect(
            "PATCH",
            &self.url(&format!("/pullrequests/{}", pr.number)),
            Some(&json!({ "status": "abandoned" })),
            &format!("abandoning pull request {}", pr.number),
        )?;
        if !pr.head_sha.is_empty() {
            let r = self.http.call(
                "POST",
                &self.url("/refs"),
                Some(&json!([{
                    "name": format!("refs/heads/{}", pr.head_branch),
                    "oldObjectId": pr.head_sha,
                    "newObjectId": "0000000000000000000000000000000000000000",
                }])),
            )?;
            if !r.ok() {
                tracing::warn!(branch = %pr.head_branch, status = r.status, "could not delete the branch of an abandoned pull request");
            }
        }
        Ok(())
    }

    fn merge(&self, pr: &PullRequest, method: MergeMethod) -> Result<Merge> {
        if !pr.auto_merge {
            let me = self.me(pr.number)?;
            self.http.expect(
                "PATCH",
                &self.url(&format!("/pullrequests/{}", pr.number)),
                Some(&json!({
                    "autoCompleteSetBy": { "id": me },
                    "completionOptions": {
                        "mergeStrategy": strategy(method),
                        "deleteSourceBranch": true,
                        "mergeCommitMessage": format!("{} (!{})", pr.title, pr.number),
                    },
                })),
                &format!("setting auto-complete on pull request {}", pr.number),
            )?;
        }
        let now = self.get_pull(pr.number)?;
        Ok(match now.state {
            PullState::Merged => Merge::Merged { sha: String::new() },
            PullState::Open => Merge::Scheduled,
            PullState::Closed => Merge::Refused("the pull request was abandoned".into()),
        })
    }

    fn statuses(&self, sha: &str) -> Result<Vec<Status>> {
        let v = self.http.expect(
            "GET",
            &self.url(&format!("/commits/{sha}/statuses")),
            None,
            &format!("reading statuses of {sha}"),
        )?;
        Ok(v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| Status {
                        context: format!(
                            "{}/{}",
                            s["context"]["genre"].as_str().unwrap_or(""),
                            s["context"]["name"].as_str().unwrap_or("")
                        ),
                        state: StatusState::from_word(&STATES, s["state"].as_str()),
                        description: s["description"].as_str().unwrap_or("").to_string(),
                        target_url: s["targetUrl"].as_str().map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn post_status(&self, sha: &str, status: &Status) -> Result<()> {
        let (genre, name) = split_context(&status.context);
        let mut body = json!({
            "state": status.state.word(&STATES),
            "description": super::short_description(&status.description),
            "context": { "genre": genre, "name": name },
        });
        if let Some(u) = &status.target_url {
            body["targetUrl"] = json!(u);
        }
        self.http.expect(
            "POST",
            &self.url(&format!("/commits/{sha}/statuses")),
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
        let (project, repo) = self.project_repo(repository);
        let url = format!(
            "{}/{project}/_apis/git/repositories/{repo}/commitsbatch?{V}",
            self.org_url
        );
        let body = json!({
            "itemVersion": { "versionType": "commit", "version": head },
            "compareVersion": { "versionType": "commit", "version": base },
            "$top": 250,
        });
        let r = self.http.call("POST", &url, Some(&body))?;
        if r.status == 404 || r.status == 400 {
            return Ok(None);
        }
        if !r.ok() {
            return Err(Error::new(format!(
                "Azure DevOps {repository}: comparing {base}...{head}: {} {}",
                r.status,
                r.message()
            )));
        }
        // Azure lists newest first; hoist wants oldest first.
        let mut out: Vec<CommitSummary> = r.json["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| CommitSummary {
                        sha: c["commitId"].as_str().unwrap_or("").to_string(),
                        title: c["comment"]
                            .as_str()
                            .unwrap_or("")
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                        author: c["author"]["name"].as_str().unwrap_or("").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.reverse();
        Ok(Some(out))
    }

    fn compare_url(&self, repository: &str, base: &str, head: &str) -> String {
        format!(
            "{}/branchCompare?baseVersion=GC{base}&targetVersion=GC{head}",
            self.web_repo(repository)
        )
    }

    fn pull(&self, number: u64) -> Result<PullRequest> {
        self.get_pull(number)
    }

    /// Azure DevOps has no deployments API for repositories: a commit
    /// status whose genre is the environment (`staging/kustomization/apps`)
    /// groups what runs where in its status views.
    fn deployment(&self, sha: &str, environment: &str, status: &Status) -> Result<bool> {
        let name = status
            .context
            .strip_prefix(&format!("hoist/{environment}/"))
            .unwrap_or(&status.context);
        let s = Status {
            context: format!("{environment}/{name}"),
            ..status.clone()
        };
        let description = super::short_description(&s.description);
        let have = self.statuses(sha)?;
        if have
            .iter()
            .find(|h| h.context == s.context)
            .is_some_and(|h| h.state == s.state && h.description == description)
        {
            return Ok(false);
        }
        self.post_status(sha, &s)?;
        Ok(true)
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        let r = self.http.call(
            "GET",
            &self.url(&format!(
                "/diffs/commits?baseVersionType=commit&baseVersion={}&targetVersionType=commit&targetVersion={}&$top=1",
                super::github::query_value(ancestor),
                super::github::query_value(descendant)
            )),
            None,
        )?;
        if r.status == 404 || r.status == 400 {
            return Ok(false);
        }
        if !r.ok() {
            return Err(Error::new(format!(
                "{}: comparing {ancestor} with {descendant}: {} {}",
                self.http.who,
                r.status,
                r.message()
            )));
        }
        // behindCount: commits of the base (the ancestor) the target lacks.
        Ok(r.json["behindCount"].as_u64() == Some(0))
    }

    fn comment(&self, number: u64, body: &str) -> Result<()> {
        self.http.expect(
            "POST",
            &self.url(&format!("/pullrequests/{number}/threads")),
            Some(&json!({
                "comments": [{
                    "parentCommentId": 0,
                    "content": super::cut_body(body, 150_000),
                    "commentType": 1,
                }],
                "status": "closed",
            })),
            &format!("commenting on pull request {number}"),
        )?;
        Ok(())
    }

    fn comments(&self, number: u64) -> Result<Vec<String>> {
        let v = self.http.expect(
            "GET",
            &self.url(&format!("/pullrequests/{number}/threads")),
            None,
            &format!("reading the threads of pull request {number}"),
        )?;
        let mut out = Vec::new();
        for t in v["value"].as_array().into_iter().flatten() {
            for c in t["comments"].as_array().into_iter().flatten() {
                if let Some(text) = c["content"].as_str() {
                    out.push(text.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Azure DevOps answers permission questions only about the caller,
    /// so it cannot vouch for a commenter: `approvers` must.
    fn permission(&self, _user: &str) -> Result<Permission> {
        Ok(Permission::Unknown)
    }

    fn in_team(&self, _org: &str, _team: &str, _user: &str) -> Result<bool> {
        Ok(false)
    }

    fn react(&self, _number: u64, _comment_id: u64, _content: &str) -> Result<()> {
        Ok(())
    }

    fn commit_url(&self, repository: &str, sha: &str) -> String {
        format!("{}/commit/{sha}", self.web_repo(repository))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_urls() {
        let a = AzureDevOps::new("https://dev.azure.com", "acme/ops/fleet", None).unwrap();
        assert_eq!(a.org_url, "https://dev.azure.com/acme");
        assert_eq!(
            a.url("/pullrequests"),
            "https://dev.azure.com/acme/ops/_apis/git/repositories/fleet/pullrequests?api-version=7.1"
        );
        let s = AzureDevOps::new(
            "https://tfs.example/tfs/DefaultCollection/",
            "DefaultCollection/ops/fleet",
            None,
        )
        .unwrap();
        assert_eq!(s.org_url, "https://tfs.example/tfs/DefaultCollection");
        assert!(AzureDevOps::new("https://dev.azure.com", "acme/fleet", None).is_err());
        assert_eq!(split_context("hoist/prod"), ("hoist", "prod"));
    }
}
