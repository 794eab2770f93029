//! `hoist lint`: problems that make image automation unsafe or silent
//! (the checks are in [`hoist::report::lint`]).

use clap::Args;

use super::{Fatal, exit, load_repo, plural, report};
use hoist::decide::plan::collect_objects;

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub target: super::RepoArgs,
}

pub fn run(args: &LintArgs) -> Result<i32, Fatal> {
    let loaded = load_repo(&args.target.repo, args.target.config.as_deref())?;
    let (objects, mut findings) = collect_objects(&loaded.files, &loaded.config);
    findings.extend(loaded.diags.iter().cloned());
    findings.extend(hoist::report::lint::lint(
        &loaded.files,
        &loaded.config,
        &objects,
    ));
    findings.sort();
    if super::verbosity() > 0 {
        for line in hoist::report::lint::namespaces(&objects) {
            anstream::eprintln!("{line}");
        }
    }
    report(&findings);
    let errors = findings.iter().filter(|d| d.is_error()).count();
    anstream::eprintln!(
        "hoist lint: {}, {}",
        plural(errors, "problem"),
        plural(findings.len() - errors, "warning")
    );
    Ok(if errors == 0 { exit::OK } else { exit::FOUND })
}
