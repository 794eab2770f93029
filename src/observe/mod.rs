//! Observe: read what is there. The repository's files (`repo`), the Flux
//! objects in them, the tag lists of the images they name, from registries
//! (`registry`, `scan`) or from a snapshot file (`snapshot`).

pub mod objects;
pub mod registry;
pub mod repo;
pub mod scan;
pub mod snapshot;
