//! hoist's integration tests: one binary (as ripgrep has), one module per
//! area, sharing `common`'s helpers. `cargo test --test tests <area>::` runs one.

mod common;

mod action;
mod bad_input;
mod commands;
mod conformance;
mod docs;
mod example;
mod fleets;
mod forge;
mod git;
mod git_stress;
mod ladder_pure;
mod layers;
mod package;
mod plan_pure;
mod registry;
mod registry_faults;
mod report;
mod run;
mod serve;
mod setters;
mod verify;
