//! Propose: the forges (GitHub, Azure DevOps) that pull requests, statuses
//! and comments go to (`forge`), and the gates read from and written to
//! them (`gate`).

pub mod forge;
pub mod gate;

/// The hidden marker on every comment hoist writes, so hoist never reads
/// its own replies as commands.
pub const MARKER: &str = "<!-- hoist:reply -->";
