//! hoist: git-native image automation, compatible with Flux's image policies
//! and setter markers.
pub mod policy;
