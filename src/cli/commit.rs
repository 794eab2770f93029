//! `hoist apply` (committing): settle the branches and identity, then hand
//! a pure "tree → proposal" function to [`crate::git::persist`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use super::apply::ApplyArgs;
use super::{Fatal, exit, obtain_tags, plural, report};
use crate::config::{self, Config, GitAuth};
use crate::diag::Diag;
use crate::flux::ImageUpdateAutomation;
use crate::git::persist::{self, Done, Proposal, Source, Target, Workspace};
use crate::git::tree::{Identity, Snapshot};
use crate::git::{self, Credentials, message};
use crate::plan::{self, Objects};
use crate::template::Template;

/// Used when neither the automation nor hoist.toml names an author.
pub const DEFAULT_AUTHOR: (&str, &str) = ("hoist", "hoist@users.noreply.github.com");

fn git_error(e: git::Error) -> Fatal {
    Fatal {
        code: exit::FOUND,
        diags: vec![Diag::error(e.message)],
    }
}

/// The config that applies to a snapshot: `--config FILE` when given, else
/// the snapshot's own `hoist.toml` (URL mode) or the checkout's.
enum ConfigSource {
    Fixed(Box<Config>),
    FromTree,
}

impl ConfigSource {
    /// Borrowed when fixed; parsed from the tree otherwise (each attempt
    /// may see a new hoist.toml).
    fn for_snapshot(&self, snap: &Snapshot) -> Result<Cow<'_, Config>, Vec<Diag>> {
        match self {
            ConfigSource::Fixed(c) => Ok(Cow::Borrowed(&**c)),
            ConfigSource::FromTree => match &snap.config {
                Some(text) => config::parse(text, "hoist.toml").map(Cow::Owned),
                None => Ok(Cow::Owned(Config::default())),
            },
        }
    }
}

/// The automation that governs this run: `--automation`, else the only
/// active one; several active ones must agree on their branches.
fn pick_automation<'a>(
    objects: &'a Objects,
    wanted: Option<&str>,
) -> Result<Option<&'a ImageUpdateAutomation>, Diag> {
    if let Some(w) = wanted {
        let (ns, name) = w
            .split_once('/')
            .ok_or_else(|| Diag::error(format!("--automation {w:?}: expected namespace/name")))?;
        return objects
            .automations
            .iter()
            .find(|a| a.meta.namespace == ns && a.meta.name == name)
            .map(Some)
            .ok_or_else(|| {
                Diag::error(format!(
                    "no ImageUpdateAutomation {ns}/{name} in the repository"
                ))
            });
    }
    let mut active: Vec<&ImageUpdateAutomation> =
        objects.automations.iter().filter(|a| !a.suspend).collect();
    active
        .sort_by(|a, b| (&a.meta.namespace, &a.meta.name).cmp(&(&b.meta.namespace, &b.meta.name)));
    if let Some(first) = active.first()
        && active.iter().any(|a| {
            a.checkout_branch != first.checkout_branch || a.push_branch != first.push_branch
        })
    {
        let names: Vec<String> = active
            .iter()
            .map(|a| format!("{}/{}", a.meta.namespace, a.meta.name))
            .collect();
        return Err(Diag::error(format!(
            "ImageUpdateAutomations {} use different branches; run once per automation with --automation NS/NAME",
            names.join(", ")
        )));
    }
    Ok(active.first().copied())
}

/// Keep only the chosen automation, so only its scope is written.
fn restrict(objects: &mut Objects, chosen: Option<&ImageUpdateAutomation>, explicit: bool) {
    if explicit && let Some(a) = chosen {
        let key = (a.meta.namespace.clone(), a.meta.name.clone());
        objects
            .automations
            .retain(|x| (x.meta.namespace.clone(), x.meta.name.clone()) == key);
    }
}

fn credentials(
    args: &ApplyArgs,
    cfg: &Config,
    url: Option<&str>,
) -> Result<Option<Credentials>, Fatal> {
    let var = args.token_env.as_deref().or(cfg.git.token_env.as_deref());
    let Some(var) = var else { return Ok(None) };
    let kind = args.auth.or(cfg.git.auth).unwrap_or_else(|| match url {
        Some(u) if u.contains("dev.azure.com") || u.contains(".visualstudio.com") => {
            GitAuth::AzureDevops
        }
        _ => GitAuth::Github,
    });
    Credentials::from_env(kind, var, cfg.git.username.as_deref())
        .map(Some)
        .map_err(|e| Fatal::usage(Diag::error(e.message).field("git.token_env")))
}

pub fn run(args: &ApplyArgs) -> Result<i32, Fatal> {
    // Settings needed before anything is fetched come from --config, or in
    // checkout mode from the checkout's hoist.toml.
    let (source, config_source) = match &args.url {
        Some(url) => {
            let state_dir = args
                .state_dir
                .clone()
                .unwrap_or_else(git::cache::default_state_dir);
            let cs = match &args.target.config {
                Some(p) => ConfigSource::Fixed(Box::new(config::load(Path::new("."), Some(p))?)),
                None => ConfigSource::FromTree,
            };
            (
                Source::Url {
                    url: url.clone(),
                    state_dir,
                },
                cs,
            )
        }
        None => {
            let dir = &args.target.repo;
            if !dir.join(".git").exists() {
                return Err(Fatal::usage(
                    Diag::error("not a Git checkout (no .git); use --url, or --no-commit to only write files")
                        .at(dir.display().to_string(), None),
                ));
            }
            let cfg = config::load(dir, args.target.config.as_deref())?;
            let remote = args
                .remote
                .clone()
                .or_else(|| cfg.git.remote.clone())
                .unwrap_or_else(|| "origin".into());
            (
                Source::Checkout {
                    dir: dir.clone(),
                    remote,
                },
                ConfigSource::Fixed(Box::new(cfg)),
            )
        }
    };
    let pre_config = match &config_source {
        ConfigSource::Fixed(c) => Cow::Borrowed(&**c),
        ConfigSource::FromTree => Cow::Owned(Config::default()),
    };
    let creds = credentials(args, &pre_config, args.url.as_deref())?;
    let ws = Workspace::open(&source, creds).map_err(git_error)?;

    // Which branch to read: flag, hoist.toml, else the automation's
    // checkout branch (known only once a tree is read), else the default.
    let explicit_branch = args
        .branch
        .clone()
        .or_else(|| pre_config.git.branch.clone());
    let mut branch = match &explicit_branch {
        Some(b) => b.clone(),
        None => ws.default_branch().map_err(git_error)?,
    };
    let mut snap = read_tip(&ws, &branch)?;
    let mut cfg = config_source.for_snapshot(&snap)?;
    let (mut objects, _) = plan::collect_objects(&snap.files, &cfg);
    let mut automation = pick_automation(&objects, args.automation.as_deref())
        .map_err(Fatal::usage)?
        .cloned();
    if explicit_branch.is_none()
        && let Some(b) = automation.as_ref().and_then(|a| a.checkout_branch.clone())
        && b != branch
    {
        branch = b;
        snap = read_tip(&ws, &branch)?;
        cfg = config_source.for_snapshot(&snap)?;
        objects = plan::collect_objects(&snap.files, &cfg).0;
        automation = pick_automation(&objects, args.automation.as_deref())
            .map_err(Fatal::usage)?
            .cloned();
    }
    if automation.as_ref().is_some_and(|a| a.suspend) {
        anstream::eprintln!("hoist apply: the ImageUpdateAutomation is suspended; nothing to do");
        return Ok(exit::OK);
    }
    for b in [&args.push_branch, &cfg.git.push_branch]
        .into_iter()
        .flatten()
    {
        if !git::valid_branch(b) {
            return Err(Fatal::usage(Diag::error(format!(
                "{b:?} is not a valid branch name"
            ))));
        }
    }
    let push_branch = args
        .push_branch
        .clone()
        .or_else(|| automation.as_ref().and_then(|a| a.push_branch.clone()))
        .or_else(|| cfg.git.push_branch.clone())
        .unwrap_or_else(|| branch.clone());
    let mut extra_refs = Vec::new();
    if let Some(spec) = automation.as_ref().and_then(|a| a.push_refspec.clone()) {
        extra_refs.push(refspec_destination(&spec).map_err(Fatal::usage)?);
    }
    let mut push_options: Vec<String> = cfg.git.push_options.clone();
    if let Some(a) = &automation {
        push_options.extend(a.push_options.iter().map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        }));
    }
    let author = automation
        .as_ref()
        .and_then(|a| a.author.clone())
        .map(|a| Identity {
            name: a.name,
            email: a.email,
        })
        .or_else(|| {
            cfg.git.author_email.clone().map(|email| Identity {
                name: cfg
                    .git
                    .author_name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_AUTHOR.0.into()),
                email,
            })
        })
        .unwrap_or(Identity {
            name: DEFAULT_AUTHOR.0.into(),
            email: DEFAULT_AUTHOR.1.into(),
        });
    let template_text = automation
        .as_ref()
        .and_then(|a| a.message_template.clone())
        .or_else(|| cfg.git.message_template.clone());
    let template = match &template_text {
        Some(t) => Some(Template::parse(t).map_err(|e| {
            let d = Diag::error(format!("messageTemplate: {e}"));
            Fatal::usage(match &automation {
                Some(a) => d
                    .at(&a.meta.origin.file, Some(a.meta.origin.line))
                    .field("spec.git.commit.messageTemplate"),
                None => d.field("git.message_template"),
            })
        })?),
        None => None,
    };
    let values: BTreeMap<String, String> = automation
        .as_ref()
        .map(|a| a.message_template_values.clone())
        .unwrap_or_default();
    let automation_key = automation
        .as_ref()
        .map(|a| (a.meta.namespace.clone(), a.meta.name.clone()));
    let signing = cfg.git.signing_key.clone().map(|k| {
        (
            k,
            cfg.git
                .signing_format
                .clone()
                .unwrap_or_else(|| "openpgp".into()),
        )
    });
    let target = Target {
        checkout_branch: branch.clone(),
        push_branch,
        extra_refs,
        push_options,
        max_attempts: args.max_attempts.or(cfg.git.max_attempts).unwrap_or(10),
        signing,
        email: author.email.clone(),
    };

    // Tags are fetched once; every attempt re-plans against the same lists.
    let (tags, tag_diags) = obtain_tags(&cfg, &objects, args.tags.registry_snapshot.as_deref())?;
    let last_diags: RefCell<Vec<Diag>> = RefCell::new(Vec::new());
    let summary: RefCell<(usize, usize)> = RefCell::new((0, 0));
    let explicit_automation = args.automation.is_some();
    let planner = |snap: &Snapshot| -> git::Result<Option<Proposal>> {
        let cfg = config_source.for_snapshot(snap).map_err(|d| {
            git::Error::new(
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let (mut objects, object_diags) = plan::collect_objects(&snap.files, &cfg);
        let chosen = automation_key.as_ref().and_then(|(ns, n)| {
            objects
                .automations
                .iter()
                .find(|a| &a.meta.namespace == ns && &a.meta.name == n)
                .cloned()
        });
        restrict(&mut objects, chosen.as_ref(), explicit_automation);
        let p = plan::plan_objects(&snap.files, &objects, object_diags, &cfg, |img| {
            tags.get(img)
        });
        let mut diags = snap.diags.clone();
        diags.extend(p.diagnostics.iter().cloned());
        *last_diags.borrow_mut() = diags;
        if p.files.is_empty() {
            return Ok(None);
        }
        *summary.borrow_mut() = (p.files.len(), p.change_count());
        let data = message::template_data(
            automation_key
                .as_ref()
                .map(|(a, b)| (a.as_str(), b.as_str())),
            &p.files,
            &values,
        );
        let trailers = message::trailers(&p.files, &p.policies);
        let msg = message::compose(template.as_ref(), &data, &trailers)
            .map_err(|e| git::Error::new(format!("messageTemplate: {e}")))?;
        Ok(Some(Proposal {
            edits: p
                .files
                .iter()
                .map(|f| (f.file.clone(), f.updated.clone()))
                .collect(),
            message: msg,
            author: author.clone(),
        }))
    };
    let result = persist::persist(&ws, &target, Some(snap), planner);
    let mut diags = tag_diags;
    diags.extend(last_diags.into_inner());
    report(&diags);
    let (done, warnings) = result.map_err(git_error)?;
    for w in &warnings {
        report(&[Diag::warning(w.clone())]);
    }
    let (files, changes) = summary.into_inner();
    match done {
        Done::UpToDate { tip } => anstream::eprintln!(
            "hoist apply: {} is up to date at {}",
            target.push_branch,
            short(&tip)
        ),
        Done::Pushed {
            commit,
            branch,
            attempts,
            ..
        } => anstream::eprintln!(
            "hoist apply: pushed {} to {branch} ({}, {}{})",
            short(&commit),
            plural(changes, "change"),
            plural(files, "file"),
            if attempts > 1 {
                format!(", after {attempts} attempts")
            } else {
                String::new()
            }
        ),
    }
    Ok(if diags.iter().any(Diag::is_error) {
        exit::FOUND
    } else {
        exit::OK
    })
}

fn short(id: &gix::ObjectId) -> String {
    id.to_string()[..12].to_string()
}

fn read_tip(ws: &Workspace, branch: &str) -> Result<Snapshot, Fatal> {
    let tip = ws.initial_tip(branch).map_err(git_error)?;
    match ws.read(tip, branch) {
        Ok(s) => Ok(s),
        Err(e) => Err(git_error(e)),
    }
}

/// `push.refspec` → the destination ref hoist pushes its commit to as well.
/// The source side must name what hoist pushes (`HEAD` or a branch).
fn refspec_destination(spec: &str) -> Result<String, Diag> {
    let force = spec.starts_with('+');
    let spec = spec.trim_start_matches('+');
    let (_, dst) = spec.split_once(':').ok_or_else(|| {
        Diag::error(format!("push.refspec {spec:?}: expected SRC:DST"))
            .field("spec.git.push.refspec")
    })?;
    if !dst.starts_with("refs/") || dst.contains('*') {
        return Err(Diag::error(format!(
            "push.refspec {spec:?}: the destination must be a full ref name (refs/…) without wildcards"
        ))
        .field("spec.git.push.refspec"));
    }
    Ok(if force {
        format!("+{dst}")
    } else {
        dst.to_string()
    })
}
