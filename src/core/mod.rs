//! The bottom floor: value types and helpers every stage shares, with no
//! knowledge of any stage. Diagnostics, time, image references, ref names.

pub use hoist_diag as diag;
pub mod reference;
pub mod refname;
pub mod time;
