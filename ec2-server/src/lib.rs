//! The seed service as a standalone HTTP server, for EC2 instances behind a
//! load balancer. Behaviour lives in the `shared` crate; this crate adapts it
//! to TCP and HTTP/1.1.
//!
//! - [`configuration`] — flags and `SEED_*` environment variables.
//! - [`startup`] — binding, accepting and graceful shutdown.
//! - [`connection`] — one connection: its time limits, the head size limit,
//!   lingering close.
//! - [`request`] — one request around the handler: strict refusals, the
//!   lame duck, the panic answer, unread bodies.
//! - [`routes`] — the warp filter that hands requests to the shared handler.
//! - [`telemetry`] — logging.

pub mod configuration;
pub mod connection;
pub mod request;
pub mod routes;
pub mod startup;
pub mod telemetry;

pub use configuration::Settings;
pub use startup::Application;
