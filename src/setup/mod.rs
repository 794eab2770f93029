//! Setup: `hoist init`, a first hoist.toml proposed from the repository.

pub mod init;
