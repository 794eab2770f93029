//! `hoist serve`: the bot. Parses flags; the server is `hoist::serve`.

use std::path::PathBuf;

use clap::Args;

use super::{Fatal, exit};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// hoist.toml of a fleet to serve (repeat for several fleets); it
    /// names the repository (`[git] url` or `[forge]`) and `[server]`.
    /// The first file's `[server]` sets the listener, secrets and limits.
    #[arg(long, value_name = "FILE", required = true)]
    pub config: Vec<PathBuf>,
    /// Address to listen on (default: [server] listen, else 0.0.0.0:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where bare clones are cached (default: the user's cache dir).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn run(args: &ServeArgs) -> Result<i32, Fatal> {
    let opts = hoist::serve::Options {
        configs: args.config.clone(),
        listen: args.listen.clone(),
        state_dir: args
            .state_dir
            .clone()
            .unwrap_or_else(hoist::persist::cache::default_state_dir),
    };
    hoist::serve::serve(opts).map_err(Fatal::from)?;
    Ok(exit::OK)
}
