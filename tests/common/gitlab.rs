//! The fake forge's GitLab: the REST v4 routes hoist uses, with the
//! status codes, error bodies (`{"message": …}`, `{"error": …}`) and JSON
//! shapes of docs.gitlab.com's API pages (Merge requests, Notes, Commits,
//! Branches, Repositories, Project and group members, Users, Emoji
//! reactions), over the same repositories and pull records as the other
//! forges. Projects are addressed by their URL-encoded path; merge
//! requests by `iid`. Every call records the documented route it matched
//! (`FakeForge::gitlab_routes`), which `tests/forge.rs` holds against
//! `fixtures/forge/gitlab-v4-routes.txt`.
#![allow(dead_code)]

use serde_json::{Value, json};

use super::forge::{
    Inner, Pull, Repo, Request, Response, State, TOKEN, branch_sha, checks_pass, do_merge, git,
    reply, run_auto_merges,
};
use super::percent_decode;

/// GitLab's project id in the fake.
const PROJECT_ID: u64 = 42;
/// A description's limit (characters).
const MAX_DESCRIPTION: usize = 1_048_576;

fn message(status: u16, m: &str) -> Response {
    reply(status, json!({ "message": m }))
}

fn not_found(what: &str) -> Response {
    message(404, &format!("404 {what} Not Found"))
}

/// GitLab's access levels for the harness's role words (GitHub's, which
/// the other forges' tests use, and GitLab's own).
fn access_level(role: &str) -> u64 {
    match role {
        "admin" | "owner" => 50,
        "maintain" | "maintainer" => 40,
        "write" | "developer" => 30,
        "triage" | "reporter" => 20,
        "read" | "guest" => 10,
        _ => 0,
    }
}

fn user_id(st: &mut Inner, name: &str) -> u64 {
    if let Some(i) = st.gitlab_users.iter().position(|u| u == name) {
        return 100 + i as u64;
    }
    st.gitlab_users.push(name.to_string());
    100 + st.gitlab_users.len() as u64 - 1
}

fn user_name(st: &Inner, id: &str) -> Option<String> {
    let id: usize = id.parse().ok()?;
    st.gitlab_users.get(id.checked_sub(100)?).cloned()
}

pub(super) fn mr_json(name: &str, repo: &Repo, p: &Pull, port: u16) -> Value {
    let head_sha = p
        .final_head
        .clone()
        .or_else(|| branch_sha(&repo.bare, &p.head))
        .unwrap_or_default();
    json!({
        "id": 9000 + p.number,
        "iid": p.number,
        "project_id": PROJECT_ID,
        "title": p.title,
        "description": p.body,
        "state": match p.state { State::Open => "opened", State::Closed => "closed", State::Merged => "merged" },
        "merged_at": p.merged_at.map(hoist::core::time::format),
        "source_branch": p.head,
        "target_branch": p.base,
        "source_project_id": PROJECT_ID,
        "target_project_id": PROJECT_ID,
        "author": { "id": 1, "username": "hoist-bot", "name": "hoist", "state": "active" },
        "labels": p.labels,
        "reviewers": p.reviewers.iter().map(|r| json!({ "username": r })).collect::<Vec<_>>(),
        "draft": false,
        "merge_when_pipeline_succeeds": p.auto_merge.is_some(),
        "detailed_merge_status": if p.state == State::Open { "mergeable" } else { "not_open" },
        "sha": head_sha,
        "merge_commit_sha": p.merge_sha,
        "squash_commit_sha": Value::Null,
        "web_url": format!("http://127.0.0.1:{port}/{name}/-/merge_requests/{}", p.number),
    })
}

/// `route` as the API pages name it, recorded for the documented-routes
/// check.
fn seen(st: &mut Inner, method: &str, route: &str) {
    st.gitlab_routes.push(format!("{method} {route}"));
}

pub(super) fn route(st: &mut Inner, req: &Request, port: u16) -> Response {
    if req.private_token.as_deref() != Some(TOKEN) {
        return message(401, "401 Unauthorized");
    }
    let rest = req.encoded_path.trim_start_matches("/api/v4/");
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        ("GET", ["users"]) => {
            seen(st, "GET", "/users");
            let Some(name) = req.query.get("username") else {
                return reply(200, json!([]));
            };
            if name.is_empty() || name == "nobody" {
                return reply(200, json!([]));
            }
            let id = user_id(st, name);
            reply(
                200,
                json!([{ "id": id, "username": name, "name": name, "state": "active",
                         "web_url": format!("http://127.0.0.1:{port}/{name}") }]),
            )
        }
        ("GET", ["groups", group, "members", "all", id]) => {
            seen(st, "GET", "/groups/:id/members/all/:user_id");
            let Some(user) = user_name(st, id) else {
                return not_found("");
            };
            let member = group.split_once('/').is_some_and(|(org, slug)| {
                st.teams
                    .get(&(org.to_string(), slug.to_string()))
                    .is_some_and(|m| m.contains(&user))
            });
            if member {
                reply(
                    200,
                    json!({ "id": id.parse::<u64>().unwrap_or(0), "username": user, "state": "active", "access_level": 30 }),
                )
            } else {
                not_found("")
            }
        }
        ("GET" | "POST" | "PUT" | "DELETE", ["projects", project, tail @ ..]) => {
            project_route(st, req, port, project, tail)
        }
        _ => not_found(""),
    }
}

fn project_route(
    st: &mut Inner,
    req: &Request,
    port: u16,
    project: &str,
    tail: &[&str],
) -> Response {
    let m = req.method.as_str();
    let full = project.to_string();
    // Members are looked up before the repository is borrowed.
    if let ("GET", ["members", "all", id]) = (m, tail) {
        seen(st, "GET", "/projects/:id/members/all/:user_id");
        let Some(user) = user_name(st, id) else {
            return not_found("");
        };
        let Some(repo) = st.repos.get(&full) else {
            return not_found("Project");
        };
        let level = repo.permissions.get(&user).map_or(0, |r| access_level(r));
        return if level == 0 {
            not_found("")
        } else {
            reply(
                200,
                json!({ "id": id.parse::<u64>().unwrap_or(0), "username": user, "state": "active", "access_level": level }),
            )
        };
    }
    let next_number = st.next_number;
    let next_id = st.next_id;
    let route_name = template(m, tail);
    if let Some(r) = &route_name {
        seen(st, m, r);
    }
    let Some(repo) = st.repos.get_mut(&full) else {
        eprintln!(
            "fake gitlab: no project {full:?} among {:?}",
            st.repos.keys().collect::<Vec<_>>()
        );
        return not_found("Project");
    };
    let find = |repo: &Repo, n: &str| -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        repo.pulls.iter().position(|p| p.number == n)
    };
    match (m, tail) {
        ("GET", []) => reply(
            200,
            json!({ "id": PROJECT_ID, "path_with_namespace": full, "default_branch": repo.default_branch,
                    "http_url_to_repo": format!("file://{}", repo.bare.display()),
                    "web_url": format!("http://127.0.0.1:{port}/{full}") }),
        ),
        ("GET", ["merge_requests"]) => {
            let state = req.query.get("state").map_or("all", String::as_str);
            let src = req.query.get("source_branch");
            let dst = req.query.get("target_branch");
            let per_page: usize = req
                .query
                .get("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(20)
                .min(100);
            let page: usize = req
                .query
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1)
                .max(1);
            // The fake keeps no update times: a merged one was last
            // updated when it merged, an open one is current.
            let after = req
                .query
                .get("updated_after")
                .and_then(|t| hoist::core::time::parse(t));
            // Newest first, as GitLab orders by created_at desc.
            let list: Vec<Value> = repo
                .pulls
                .iter()
                .rev()
                .filter(|p| match state {
                    "opened" => p.state == State::Open,
                    "merged" => p.state == State::Merged,
                    "closed" => p.state == State::Closed,
                    _ => true,
                })
                .filter(|p| src.is_none_or(|s| *s == p.head))
                .filter(|p| dst.is_none_or(|d| *d == p.base))
                .filter(|p| after.is_none_or(|a| p.merged_at.is_none_or(|m| m > a)))
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|p| mr_json(&full, repo, p, port))
                .collect();
            reply(200, json!(list))
        }
        ("POST", ["merge_requests"]) => {
            let b = &req.body;
            let (Some(head), Some(base), Some(title)) = (
                b["source_branch"].as_str(),
                b["target_branch"].as_str(),
                b["title"].as_str(),
            ) else {
                return reply(
                    400,
                    json!({ "error": "source_branch is missing, target_branch is missing, title is missing" }),
                );
            };
            if branch_sha(&repo.bare, head).is_none() {
                return reply(
                    422,
                    json!({ "message": [format!("Source branch \"{head}\" does not exist")] }),
                );
            }
            if branch_sha(&repo.bare, base).is_none() {
                return reply(
                    422,
                    json!({ "message": [format!("Target branch \"{base}\" does not exist")] }),
                );
            }
            if let Some(open) = repo
                .pulls
                .iter()
                .find(|p| p.state == State::Open && p.head == head)
            {
                return reply(
                    409,
                    json!({ "message": [format!("Another open merge request already exists for this source branch: !{}", open.number)] }),
                );
            }
            let body = b["description"].as_str().unwrap_or("").to_string();
            if body.chars().count() > MAX_DESCRIPTION {
                return reply(
                    400,
                    json!({ "message": { "description": [format!("is too long (maximum is {MAX_DESCRIPTION} characters)")] } }),
                );
            }
            let reviewers: Vec<String> = b["reviewer_ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.as_u64())
                        .filter_map(|i| {
                            (i as usize)
                                .checked_sub(100)
                                .and_then(|k| st.gitlab_users.get(k).cloned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let p = Pull {
                number: next_number,
                head: head.to_string(),
                base: base.to_string(),
                title: title.to_string(),
                body,
                state: State::Open,
                labels: b["labels"]
                    .as_str()
                    .map(|l| {
                        l.split(',')
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                reviewers,
                auto_merge: None,
                merge_sha: None,
                final_head: None,
                comments: Vec::new(),
                merged_at: None,
            };
            let repo = st.repos.get_mut(&full).unwrap();
            let v = mr_json(&full, repo, &p, port);
            repo.pulls.push(p);
            st.next_number += 1;
            reply(201, v)
        }
        ("GET", ["merge_requests", n]) => match find(repo, n) {
            Some(i) => reply(200, mr_json(&full, repo, &repo.pulls[i], port)),
            None => not_found(""),
        },
        ("PUT", ["merge_requests", n]) => {
            let Some(i) = find(repo, n) else {
                return not_found("");
            };
            let b = &req.body;
            if let Some(t) = b["title"].as_str() {
                repo.pulls[i].title = t.to_string();
            }
            if let Some(t) = b["description"].as_str() {
                if t.chars().count() > MAX_DESCRIPTION {
                    return reply(
                        400,
                        json!({ "message": { "description": [format!("is too long (maximum is {MAX_DESCRIPTION} characters)")] } }),
                    );
                }
                repo.pulls[i].body = t.to_string();
            }
            if b["state_event"] == "close" && repo.pulls[i].state == State::Open {
                repo.pulls[i].final_head = branch_sha(&repo.bare, &repo.pulls[i].head);
                repo.pulls[i].state = State::Closed;
            }
            reply(200, mr_json(&full, repo, &repo.pulls[i], port))
        }
        ("PUT", ["merge_requests", n, "merge"]) => {
            let Some(i) = find(repo, n) else {
                return not_found("");
            };
            if repo.pulls[i].state != State::Open {
                return message(405, "405 Method Not Allowed");
            }
            let b = &req.body;
            let head = branch_sha(&repo.bare, &repo.pulls[i].head).unwrap_or_default();
            if let Some(sha) = b["sha"].as_str()
                && sha != head
            {
                return message(
                    409,
                    &format!("SHA does not match HEAD of source branch: {head}"),
                );
            }
            let method = if b["squash"] == json!(true) {
                "squash"
            } else {
                "merge"
            };
            let auto =
                b["auto_merge"] == json!(true) || b["merge_when_pipeline_succeeds"] == json!(true);
            if !checks_pass(repo, &head) {
                if auto && repo.allow_auto_merge {
                    repo.pulls[i].auto_merge = Some(method.to_string());
                    return reply(200, mr_json(&full, repo, &repo.pulls[i], port));
                }
                return message(405, "405 Method Not Allowed");
            }
            match do_merge(repo, i, method) {
                Ok(_) => {
                    if b["should_remove_source_branch"] == json!(true) {
                        let _ = git(
                            &repo.bare,
                            &[
                                "update-ref",
                                "-d",
                                &format!("refs/heads/{}", repo.pulls[i].head),
                            ],
                        );
                    }
                    reply(200, mr_json(&full, repo, &repo.pulls[i], port))
                }
                Err(_) => message(422, "Branch cannot be merged"),
            }
        }
        ("GET", ["merge_requests", n, "notes"]) => {
            let Some(i) = find(repo, n) else {
                return not_found("");
            };
            let notes: Vec<Value> = repo.pulls[i]
                .comments
                .iter()
                .enumerate()
                .map(|(k, c)| json!({ "id": k + 1, "body": c, "system": false, "noteable_type": "MergeRequest",
                                      "author": { "username": "hoist-bot" } }))
                .collect();
            reply(200, json!(notes))
        }
        ("POST", ["merge_requests", n, "notes"]) => {
            let Some(i) = find(repo, n) else {
                return not_found("");
            };
            let Some(text) = req.body["body"].as_str() else {
                return reply(400, json!({ "error": "body is missing" }));
            };
            repo.pulls[i].comments.push(text.to_string());
            st.next_id += 1;
            reply(
                201,
                json!({ "id": next_id, "body": text, "system": false, "noteable_type": "MergeRequest",
                        "noteable_iid": repo_number(n), "author": { "username": "hoist-bot" } }),
            )
        }
        ("POST", ["merge_requests", n, "notes", note, "award_emoji"]) => {
            if find(repo, n).is_none() {
                return not_found("");
            }
            let name = req.body["name"].as_str().unwrap_or("").to_string();
            let note: u64 = note.parse().unwrap_or(0);
            if repo.reactions.contains(&(note, name.clone())) {
                return message(404, "404 Award Emoji Name has already been taken Not Found");
            }
            repo.reactions.push((note, name.clone()));
            reply(
                201,
                json!({ "id": 500 + repo.reactions.len(), "name": name, "awardable_id": note,
                        "awardable_type": "Note", "user": { "username": "hoist-bot" } }),
            )
        }
        ("POST", ["statuses", sha]) => {
            let state = req.body["state"].as_str().unwrap_or("");
            if ![
                "pending", "running", "success", "failed", "canceled", "skipped",
            ]
            .contains(&state)
            {
                return reply(400, json!({ "error": "state does not have a valid value" }));
            }
            let name = req.body["name"]
                .as_str()
                .or(req.body["context"].as_str())
                .unwrap_or("default")
                .to_string();
            let list = repo.statuses.entry(sha.to_string()).or_default();
            if let Some(last) = list.iter().rev().find(|s| s["context"] == json!(name))
                && last["state"] == json!(state)
            {
                let event = match state {
                    "pending" => "enqueue",
                    "running" => "run",
                    "success" => "succeed",
                    "failed" => "drop",
                    _ => "cancel",
                };
                return message(
                    400,
                    &format!(
                        "Cannot transition status via :{event} from :{state} (Reasons: Status cannot transition via \"{event}\")"
                    ),
                );
            }
            let s = json!({
                "id": 700 + list.len(),
                "sha": sha,
                "ref": Value::Null,
                "status": state,
                "name": name,
                "target_url": req.body["target_url"],
                "description": req.body["description"],
                "created_at": hoist::core::time::format(hoist::core::time::now()),
                "author": { "username": "hoist-bot" },
                // Kept beside GitLab's shape so checks_pass reads all forges.
                "context": name,
                "state": state,
            });
            list.push(s.clone());
            run_auto_merges(repo);
            reply(201, s)
        }
        ("GET", ["repository", "commits", sha, "statuses"]) => {
            let list: Vec<Value> = repo
                .statuses
                .get(*sha)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .rev()
                .map(|s| {
                    json!({ "id": s["id"], "sha": sha, "status": s["state"], "name": s["context"],
                            "description": s["description"], "target_url": s["target_url"] })
                })
                .collect();
            reply(200, json!(list))
        }
        ("GET", ["repository", "compare"]) => {
            let (Some(from), Some(to)) = (req.query.get("from"), req.query.get("to")) else {
                return reply(400, json!({ "error": "from is missing, to is missing" }));
            };
            match git(
                &repo.bare,
                &[
                    "log",
                    "--reverse",
                    "--format=%H%x00%an%x00%s",
                    &format!("{from}..{to}"),
                ],
            ) {
                Ok(out) => {
                    let commits: Vec<Value> = out
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            let f: Vec<&str> = l.split('\0').collect();
                            json!({ "id": f[0], "short_id": &f[0][..8.min(f[0].len())],
                                    "author_name": f.get(1).unwrap_or(&""),
                                    "title": f.get(2).unwrap_or(&""), "message": f.get(2).unwrap_or(&"") })
                        })
                        .collect();
                    reply(
                        200,
                        json!({ "commit": commits.last(), "commits": commits, "diffs": [],
                                "compare_timeout": false, "compare_same_ref": from == to }),
                    )
                }
                Err(_) => not_found("Ref"),
            }
        }
        ("GET", ["repository", "merge_base"]) => {
            let refs: Vec<&str> = req
                .query_all
                .iter()
                .filter(|(k, _)| k == "refs[]")
                .map(|(_, v)| v.as_str())
                .collect();
            if refs.len() < 2 {
                return reply(400, json!({ "message": "Provide at least 2 refs" }));
            }
            let mut args = vec!["merge-base"];
            args.extend(refs.iter().copied());
            match git(&repo.bare, &args) {
                Ok(id) => {
                    let id = id.trim().to_string();
                    reply(200, json!({ "id": id, "short_id": &id[..8.min(id.len())] }))
                }
                Err(_) => message(404, "404 Commit Not Found"),
            }
        }
        ("DELETE", ["repository", "branches", branch]) => {
            if branch_sha(&repo.bare, branch).is_none() {
                return not_found("Branch");
            }
            let _ = git(
                &repo.bare,
                &["update-ref", "-d", &format!("refs/heads/{branch}")],
            );
            Response {
                status: 204,
                body: Value::Null,
                headers: Vec::new(),
                raw: None,
            }
        }
        _ => not_found(""),
    }
}

fn repo_number(n: &str) -> u64 {
    n.parse().unwrap_or(0)
}

/// The API pages' name of a project route.
fn template(method: &str, tail: &[&str]) -> Option<String> {
    let t = match (method, tail) {
        ("GET", []) => "",
        ("GET" | "POST", ["merge_requests"]) => "/merge_requests",
        ("GET" | "PUT", ["merge_requests", _]) => "/merge_requests/:merge_request_iid",
        ("PUT", ["merge_requests", _, "merge"]) => "/merge_requests/:merge_request_iid/merge",
        ("GET" | "POST", ["merge_requests", _, "notes"]) => {
            "/merge_requests/:merge_request_iid/notes"
        }
        ("POST", ["merge_requests", _, "notes", _, "award_emoji"]) => {
            "/merge_requests/:merge_request_iid/notes/:note_id/award_emoji"
        }
        ("POST", ["statuses", _]) => "/statuses/:sha",
        ("GET", ["repository", "commits", _, "statuses"]) => "/repository/commits/:sha/statuses",
        ("GET", ["repository", "compare"]) => "/repository/compare",
        ("GET", ["repository", "merge_base"]) => "/repository/merge_base",
        ("DELETE", ["repository", "branches", _]) => "/repository/branches/:branch",
        _ => return None,
    };
    Some(format!("/projects/:id{t}"))
}
