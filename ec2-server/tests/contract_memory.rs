//! SPEC.md over HTTP against the warp server with the in-memory store.

mod support;

contract_tests::contract_suite!(support::spawn_app);
