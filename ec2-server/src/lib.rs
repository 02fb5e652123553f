//! The seed service as a standalone HTTP server, for EC2 instances behind a
//! load balancer. Behaviour lives in the `shared` crate; this crate adapts it
//! to TCP and HTTP/1.1.

pub mod configuration;
pub mod connection;
pub mod request;
pub mod routes;
pub mod startup;
pub mod telemetry;

pub use configuration::Settings;
pub use startup::Application;
