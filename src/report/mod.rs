//! Report: what a run found, for people and CI. Lint findings (`lint`),
//! the ladder's state (`view`), CI outputs and summaries (`ci`), and the
//! JSON the commands print (`output`).

pub mod ci;
pub mod lint;
pub mod output;
pub mod scan;
pub mod view;
