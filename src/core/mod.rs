//! The bottom floor: value types and helpers every stage shares, with no
//! knowledge of any stage. Diagnostics, time, image references, ref names,
//! secrets, tag lists, the tally of HTTP requests, and the one backoff
//! every retry uses.

pub use hoist_diag as diag;
pub mod backoff;
pub mod reference;
pub mod refname;
pub mod requests;
pub mod secret;
pub mod tags;
pub mod time;
