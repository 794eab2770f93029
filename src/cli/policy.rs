//! `hoist policy eval`: run one ImagePolicy against a list of tags.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{Fatal, exit, report};
use hoist::core::diag::Diag;
use hoist::policy::Fate;

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

pub fn run(cmd: &PolicyCommand) -> Result<i32, Fatal> {
    let PolicyCommand::Eval(args) = cmd;
    let policy = hoist::flux::load_policy(&args.policy, args.name.as_deref())?;
    let (tags, diags) =
        hoist::observe::snapshot::read_tag_list(&args.tags).map_err(Fatal::usage)?;
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
            for h in hoist::policy::hints(&tags, &fates) {
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
