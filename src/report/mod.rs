//! Report: what a run found, for people and CI. Lint findings (`lint`),
//! the ladder's state (`view`), delivery figures from hoist's history
//! (`delivery`, read by `history`), CI outputs and summaries (`ci`), and the
//! JSON the commands print (`output`).

pub mod ci;
pub mod delivery;
pub mod history;
pub mod lint;
pub mod output;
pub mod scan;
pub mod view;
