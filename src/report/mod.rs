//! Report: what a run found, for people and CI. Lint findings (`lint`),
//! the ladder's state (`view`), CI outputs and summaries (`ci`).

pub mod ci;
pub mod lint;
pub mod scan;
pub mod view;
