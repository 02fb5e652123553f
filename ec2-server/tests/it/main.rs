//! The server's integration tests, in one binary: each module starts the
//! real server (in-process on port 0, or the binary itself) and talks to it
//! over loopback; `support` starts it.

mod arm64;
mod cli;
mod contract;
mod cross_target;
mod deploy;
mod durability;
mod dynamodb;
mod graceful_shutdown;
mod hostile_clients;
mod instance_name;
mod linearizability;
mod openapi;
mod readme;
mod replica;
mod settings;
mod slow_clients;
mod support;
mod telemetry;
mod throttling;
mod write_protection;
