//! `hoist policy eval`: run one ImagePolicy against a list of tags.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{Fatal, exit, report};
use crate::diag::Diag;
use crate::flux::{FluxObject, read_document};
use crate::policy::{Fate, Policy};
use crate::snapshot::is_valid_tag;
use crate::yaml::for_each_document;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Select a tag from a list the way an ImagePolicy would.
    ///
    /// Prints the selected tag on stdout (exit 0); no tag selected: exit 1;
    /// invalid policy: exit 2.
    Eval(EvalArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// YAML file holding one ImagePolicy (and optionally its ImageRepository,
    /// whose exclusionList then applies).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Which ImagePolicy of the file, as NAME or NAMESPACE/NAME (needed
    /// when the file holds several).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Tags, one per line; `-` reads standard input.
    #[arg(long, value_name = "FILE|-")]
    pub tags: String,
    /// Say, for every tag, why it was or was not selected (on stderr).
    #[arg(long)]
    pub explain: bool,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn read_tags(source: &str, diags: &mut Vec<Diag>) -> Result<Vec<String>, Fatal> {
    let (display, bytes) = if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Fatal::usage(Diag::error(format!("cannot read standard input: {e}"))))?;
        ("<stdin>".to_string(), buf)
    } else {
        let bytes = std::fs::read(source).map_err(|e| {
            Fatal::usage(Diag::error(format!("cannot read tags: {e}")).at(source, None))
        })?;
        (source.to_string(), bytes)
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Fatal::usage(Diag::error("tag list is not valid UTF-8").at(&display, None)))?;
    let mut tags = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let tag = line.strip_suffix('\r').unwrap_or(line);
        if tag.trim().is_empty() {
            continue;
        }
        if is_valid_tag(tag) {
            tags.push(tag.to_string());
        } else {
            let why = if tag.len() > 128 {
                "longer than 128 characters"
            } else {
                "not a valid OCI tag"
            };
            diags.push(
                Diag::warning(format!("dropped tag {}: {why}", crate::diag::quoted(tag)))
                    .at(&display, Some(i + 1)),
            );
        }
    }
    Ok(tags)
}

fn load_policy(path: &PathBuf, want: Option<&str>) -> Result<Policy, Fatal> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Fatal::usage(Diag::error(format!("cannot read policy: {e}")).at(&display, None))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Fatal::usage(Diag::error("policy file is not valid UTF-8").at(&display, None))
    })?;
    let mut policies = Vec::new();
    let mut repositories = Vec::new();
    let mut errors = Vec::new();
    for_each_document(&text, |_, doc| match read_document(&doc, &display) {
        Some(Ok(FluxObject::Policy(p))) => policies.push(p),
        Some(Ok(FluxObject::Repository(r))) => repositories.push(r),
        Some(Err(e)) => errors.extend(e),
        _ => {}
    })
    .map_err(|e| {
        Fatal::usage(Diag::error(format!("invalid YAML: {}", e.message)).at(&display, Some(e.line)))
    })?;
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let names: Vec<String> = policies
        .iter()
        .map(|p| format!("{}/{}", p.meta.namespace, p.meta.name))
        .collect();
    let matches = |p: &crate::flux::ImagePolicy| match want {
        None => true,
        Some(w) => match w.split_once('/') {
            Some((ns, n)) => p.meta.namespace == ns && p.meta.name == n,
            None => p.meta.name == w,
        },
    };
    let mut chosen: Vec<_> = policies.into_iter().filter(|p| matches(p)).collect();
    if chosen.len() > 1 {
        return Err(Fatal::usage(
            Diag::error(format!(
                "{} ImagePolicies in this file ({}); choose one with --name",
                chosen.len(),
                names.join(", ")
            ))
            .at(&display, None),
        ));
    }
    let Some(mut p) = chosen.pop() else {
        let msg = match want {
            Some(w) if !names.is_empty() => format!(
                "no ImagePolicy named {w:?} in this file (it has {})",
                names.join(", ")
            ),
            _ => "no ImagePolicy (image.toolkit.fluxcd.io) document in this file".to_string(),
        };
        return Err(Fatal::usage(Diag::error(msg).at(&display, None)));
    };
    // The exclusion list of the ImageRepository the policy points at.
    p.spec.exclusion_list = repositories
        .into_iter()
        .find(|r| r.meta.name == p.repository_name && r.meta.namespace == p.repository_namespace)
        .and_then(|r| r.exclusion_list);
    Policy::from_spec(&p.spec).map_err(|e| {
        Fatal::usage(
            Diag::error(e.message)
                .at(&display, Some(p.meta.origin.line))
                .field(e.field),
        )
    })
}

pub fn run(cmd: &PolicyCommand) -> Result<i32, Fatal> {
    let PolicyCommand::Eval(args) = cmd;
    let policy = load_policy(&args.policy, args.name.as_deref())?;
    let mut diags = Vec::new();
    let tags = read_tags(&args.tags, &mut diags)?;
    report(&diags);
    let (fates, result) = policy.explain(&tags);
    if args.output == Output::Json {
        let explained: Vec<_> = tags
            .iter()
            .zip(&fates)
            .map(|(t, f)| serde_json::json!({ "tag": t, "fate": fate_word(f), "key": f.key(), "detail": f.describe(t) }))
            .collect();
        let v = match &result {
            Ok(s) => {
                serde_json::json!({ "selected": s.tag, "key": s.key, "tags": if args.explain { explained } else { vec![] } })
            }
            Err(e) => {
                serde_json::json!({ "selected": null, "error": e.to_string(), "tags": if args.explain { explained } else { vec![] } })
            }
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        if args.explain {
            // One write for the whole explanation, not several per tag.
            use std::fmt::Write as _;
            let width = tags.iter().map(|t| t.len()).max().unwrap_or(0);
            let mut text = String::new();
            for (t, f) in tags.iter().zip(&fates) {
                let _ = writeln!(text, "{t:<width$}  {}", f.describe(t));
            }
            for h in crate::policy::hints(&tags, &fates) {
                let _ = writeln!(text, "hint: {h}");
            }
            anstream::eprint!("{text}");
        }
        match &result {
            Ok(s) => println!("{}", s.tag),
            Err(e) => report(&[Diag::error(e.to_string())]),
        }
    }
    Ok(if result.is_ok() {
        exit::OK
    } else {
        exit::FOUND
    })
}

fn fate_word(f: &Fate) -> &'static str {
    match f {
        Fate::Excluded(_) => "excluded",
        Fate::FilteredOut => "filtered-out",
        Fate::Shadowed { .. } => "shadowed",
        Fate::NotAVersion { .. } => "not-a-version",
        Fate::OutsideRange { .. } => "outside-range",
        Fate::NotANumber { .. } => "not-a-number",
        Fate::Candidate { .. } => "candidate",
        Fate::Selected { .. } => "selected",
    }
}
