//! The shared crate's integration tests, in one binary.

mod dynamodb_retries;
mod fuzz_regressions;
mod post_body_properties;
