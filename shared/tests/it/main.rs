//! The shared crate's integration tests, in one binary.

mod fuzz_regressions;
mod post_body_properties;
