//! hoist: git-native image automation, compatible with Flux's image policies
#![warn(unreachable_pub)]
//! and setter markers.
//!
//! The modules are the pipeline's stages, in order; each imports only from
//! the stages above it in this list (`tests/layers.rs` holds it to that):
//! the libraries at the bottom, then observe → decide → mutate → persist →
//! propose → run → report → serve → setup; the command line (`src/cli/`)
//! is the binary's own, on top.

// Shared value types, then the libraries (the leaf crates in crates/).
pub mod core;
pub use hoist_policy as policy;
pub use hoist_setters as setters;
pub use hoist_template as template;
// The Flux object model and hoist.toml.
pub mod config;
pub mod flux;
// The pipeline.
pub mod decide;
pub mod mutate;
pub mod observe;
pub mod persist;
pub mod propose;
pub mod report;
pub mod run;
pub mod serve;
pub mod setup;
