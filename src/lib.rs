//! hoist: git-native image automation, compatible with Flux's image policies
//! and setter markers.
pub mod cli;
pub(crate) mod climb;
pub mod comment;
pub(crate) mod commit;
pub mod config;
pub mod diag;
pub(crate) mod diff;
pub(crate) mod fleet;
pub mod flux;
pub(crate) mod forge;
pub(crate) mod gate;
pub(crate) mod git;
pub mod ladder;
pub(crate) mod lint;
pub(crate) mod observe;
pub mod plan;
pub mod policy;
pub(crate) mod registry;
pub mod repo;
pub mod server;
pub mod setters;
pub mod snapshot;
pub mod template;
pub mod time;
pub mod view;
pub(crate) mod yaml;
