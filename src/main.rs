//! The `hoist` command. Argument parsing only; printing is in [`cli`], the
//! work in the `hoist` library.

mod cli;

use clap::{CommandFactory, Parser, Subcommand};

use cli::Fatal;

/// Git-native image automation for Flux fleets.
///
/// hoist reads the Flux ImageRepository / ImagePolicy / ImageUpdateAutomation
/// objects in your fleet repo (or hoist.toml), picks the tag each policy
/// selects with Flux's exact rules, and rewrites only the bytes of the marked
/// values (`# {"$imagepolicy": "ns:name:tag"}`).
///
/// Start with `hoist plan --repo DIR --registry-snapshot FILE` to preview.
#[derive(Debug, Parser)]
#[command(
    name = "hoist",
    version,
    propagate_version = true,
    after_help = "Examples:\n  \
    hoist plan --repo examples/fleet --registry-snapshot examples/fleet/registry-snapshot.yaml\n  \
    hoist plan --repo . --registry-snapshot snap.yaml --output json\n  \
    hoist apply --repo . --registry-snapshot snap.yaml --no-commit\n  \
    hoist apply --url https://github.com/acme/fleet.git --token-env GITHUB_TOKEN\n  \
    hoist policy eval --policy policy.yaml --tags tags.txt --explain\n  \
    hoist lint --repo .\n  \
    hoist config check --repo .\n  \
    hoist run --url https://github.com/acme/fleet.git --dry-run\n  \
    hoist promote --from staging --to prod --url https://github.com/acme/fleet.git\n  \
    hoist serve --config hoist.toml --listen 0.0.0.0:8080\n\n\
    Exit codes: 0 ok, 1 problems or errors found, 2 usage or configuration error, 3 changes pending (plan --exit-code)."
)]
struct Cli {
    /// When to use colour: auto (terminals only), always, never.
    #[arg(long, global = true, default_value = "auto", value_name = "WHEN")]
    color: clap::ColorChoice,
    /// Log what hoist does on stderr (-v: debug, -vv: trace). HOIST_LOG
    /// takes a tracing filter (e.g. `hoist=trace`) instead.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// How log lines look: text, or json (one object per event, with the
    /// fleet, environment, run id and outcome as fields).
    #[arg(long, global = true, env = "HOIST_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the edits hoist would make, as a diff (default) or JSON.
    ///
    /// Tags come from the registries, or from --registry-snapshot FILE.
    Plan(cli::plan::PlanArgs),
    /// Commit the edits and push them with compare-and-swap (checkout or
    /// --url), or with --no-commit only write the working tree.
    Apply(cli::apply::ApplyArgs),
    /// Work with single ImagePolicy objects.
    #[command(subcommand)]
    Policy(cli::policy::PolicyCommand),
    /// Find markers that are unsafe or can never be applied.
    Lint(cli::lint::LintArgs),
    /// List tags from the registries and show what each policy selects.
    Scan(cli::scan::ScanArgs),
    /// Propose a hoist.toml for an existing Flux fleet repository
    /// (environments from clusters/*, write_paths from the marker files,
    /// the forge from origin) and write it (--print: show it).
    Init(cli::init::InitArgs),
    /// Work with hoist.toml.
    #[command(subcommand)]
    Config(cli::config::ConfigCommand),
    /// Show the promotion ladder: per image, what each environment runs,
    /// what would move next, and what blocks it (reads only).
    Ladder(cli::ladder::LadderArgs),
    /// Delivery measures per image and environment (deployments, lead
    /// time, change failure rate, time to restore) from hoist's commits,
    /// pull requests and reconcile notes (reads only).
    Report(cli::report::ReportArgs),
    /// Carry builds up the ladder: each environment in order, as a
    /// compare-and-swap push, an auto-merged pull request or one for review,
    /// with commit statuses (--dry-run: print, write nothing).
    Run(cli::run::RunArgs),
    /// Promote what one environment runs to another, now, landed as the
    /// target environment's mode says (--dry-run: print, write nothing).
    Promote(cli::promote::PromoteArgs),
    /// Hold an environment (or --all): automatic changes to it wait until
    /// `hoist release` (the same persisted hold as `/hoist hold`).
    Hold(cli::hold::HoldArgs),
    /// Lift the hold of an environment (or --all).
    Release(cli::hold::HoldArgs),
    /// Run as a service: webhooks (registries, GitHub, Azure DevOps, Flux),
    /// scheduled scans, PR comment commands, metrics; until SIGTERM.
    Serve(cli::serve::ServeArgs),
    /// Run the `/hoist` commands of one pull request comment (CI:
    /// `--event $GITHUB_EVENT_PATH`), and reply on the pull request.
    Comment(cli::comment::CommentArgs),
    /// Turn hoist's output in a CI step into the step's summary, outputs
    /// and annotations (used by the GitHub Action and the Azure DevOps
    /// template).
    CiReport(cli::ci::CiReportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell), e.g. `hoist completions bash > /etc/bash_completion.d/hoist`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page hoist(1), or with --dir write it and one page
    /// per subcommand (hoist-plan.1, …) there.
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// Write `bytes` to stdout; a reader that went away (`| head`) is not an
/// error, as in ripgrep: hoist stops quietly with status 0.
fn to_stdout(bytes: &[u8]) -> Result<i32, Fatal> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(cli::exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(cli::exit::OK),
        Err(e) => Err(Fatal::usage(hoist::core::diag::Diag::error(format!(
            "writing to stdout: {e}"
        )))),
    }
}

/// A `print!` whose reader has gone away panics in std; end quietly with
/// status 0 instead (every other panic keeps the default report).
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(cli::exit::OK);
        }
        default(info);
    }));
}

/// `hoist completions SHELL`.
fn completions(shell: clap_complete::Shell) -> Result<i32, Fatal> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "hoist", &mut script);
    to_stdout(&script)
}

/// `hoist man [--dir DIR]`.
fn man(dir: Option<&std::path::Path>) -> Result<i32, Fatal> {
    let io = |e: std::io::Error| {
        Fatal::usage(hoist::core::diag::Diag::error(format!(
            "writing the man page: {e}"
        )))
    };
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page).map_err(io)?;
        return to_stdout(&page);
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .map_err(io)?;
    std::fs::write(dir.join("hoist.1"), page).map_err(io)?;
    for sub in cmd.get_subcommands() {
        let name = format!("hoist-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone()))
            .render(&mut page)
            .map_err(io)?;
        std::fs::write(dir.join(format!("{name}.1")), page).map_err(io)?;
    }
    Ok(cli::exit::OK)
}

/// Logs go to stderr. Whatever the filter, the HTTP and TLS libraries are
/// capped at `info`, so no request header (and no credential) is ever logged.
fn init_logging(verbose: u8, color: anstream::ColorChoice, format: LogFormat) {
    let base = match std::env::var("HOIST_LOG") {
        Ok(f) if !f.trim().is_empty() => f,
        _ => match verbose {
            0 => "warn".to_string(),
            1 => "hoist=debug,warn".to_string(),
            _ => "hoist=trace,warn".to_string(),
        },
    };
    let filter =
        format!("{base},hyper=info,hyper_util=info,h2=info,reqwest=info,rustls=info,tokio=info");
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = match color {
        anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
        anstream::ColorChoice::Never => false,
        anstream::ColorChoice::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // One JSON object per event, its fields and the run's span
        // (fleet, run_id) flattened in, as Flux's controllers log.
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => fmt.with_ansi(ansi).with_target(false).try_init(),
    };
}

fn main() {
    quiet_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                cli::exit::USAGE
            } else {
                cli::exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let choice = match cli.color {
        clap::ColorChoice::Always => anstream::ColorChoice::Always,
        clap::ColorChoice::Never => anstream::ColorChoice::Never,
        clap::ColorChoice::Auto => anstream::ColorChoice::Auto,
    };
    choice.write_global();
    init_logging(cli.verbose, choice, cli.log_format);
    cli::set_verbosity(cli.verbose);
    let result = match &cli.command {
        Command::Plan(a) => cli::plan::run(a),
        Command::Apply(a) => cli::apply::run(a),
        Command::Policy(c) => cli::policy::run(c),
        Command::Lint(a) => cli::lint::run(a),
        Command::Scan(a) => cli::scan::run(a),
        Command::Config(c) => cli::config::run(c),
        Command::Init(a) => cli::init::run(a),
        Command::Ladder(a) => cli::ladder::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Run(a) => cli::run::run(a),
        Command::Promote(a) => cli::promote::run(a),
        Command::Hold(a) => cli::hold::run(a, true),
        Command::Release(a) => cli::hold::run(a, false),
        Command::Serve(a) => cli::serve::run(a),
        Command::Comment(a) => cli::comment::run(a),
        Command::CiReport(a) => cli::ci::run(a),
        Command::Completions { shell } => completions(*shell),
        Command::Man { dir } => man(dir.as_deref()),
    };
    let code = match result {
        Ok(code) => code,
        Err(Fatal { code, diags }) => {
            cli::report(&diags);
            code
        }
    };
    log_cpu();
    std::process::exit(code);
}

/// What the command cost in CPU (`HOIST_LOG=hoist_cost=debug`): hoist's
/// own, and that of the processes it ran and waited for (git above all).
/// The benchmarks read it.
fn log_cpu() {
    let used = |who| {
        // SAFETY: a zeroed rusage is a valid value for getrusage to fill in.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable rusage.
        if unsafe { libc::getrusage(who, &mut u) } != 0 {
            return 0.0;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(u.ru_utime) + secs(u.ru_stime)
    };
    tracing::debug!(
        target: "hoist_cost",
        own_cpu_seconds = format!("{:.3}", used(libc::RUSAGE_SELF)),
        children_cpu_seconds = format!("{:.3}", used(libc::RUSAGE_CHILDREN)),
        "CPU used"
    );
}
