//! hoist: git-native image automation, compatible with Flux's image policies
//! and setter markers.
pub mod cli;
pub mod commit;
pub mod config;
pub mod diag;
pub mod diff;
pub mod fleet;
pub mod flux;
pub mod git;
pub mod lint;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod registry;
pub mod repo;
pub mod setters;
pub mod snapshot;
pub mod template;
pub mod yaml;
