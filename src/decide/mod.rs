//! Decide: from files and tag lists to edits, with no I/O. Flux's policy
//! selection and the markers' new values (`plan`), the same for a few
//! images through the marker index (`index`), and the ladder's promotions
//! (`ladder`).

pub mod index;
pub mod ladder;
pub mod plan;
pub mod verify;
