//! The function's integration tests, in one binary: the adapter in-process
//! on every event fixture, the real bootstrap under cargo-lambda's emulator,
//! and the template under its linters and `sam local`.

mod adapter;
mod arm64;
mod contract;
mod events;
mod managed_instances;
mod openapi;
mod parameter_store;
mod settings;
mod support;
mod telemetry;
mod template;
