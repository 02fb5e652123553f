//! The function in this process: its init and its adapter, without the
//! runtime or the emulator.

use bytes::Bytes;
use contract::Reply;
use lambda::configuration::Settings;
use lambda::{adapter, build_handler, InitError};

use super::events::{Req, Shape};
use super::lookup;

/// A fresh function with `env` as its environment, in this process.
pub struct InProcess {
    runtime: tokio::runtime::Runtime,
    handler: shared::SeedHandler,
}

impl InProcess {
    pub fn new(env: &[(&str, &str)]) -> Self {
        Self::start(env).unwrap_or_else(|error| panic!("init failed: {error}"))
    }

    /// As Lambda's init would build it; why not, if it cannot be.
    pub fn start(env: &[(&str, &str)]) -> Result<Self, InitError> {
        let settings = Settings::from_lookup(lookup(env)).expect("valid settings");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let handler = runtime.block_on(build_handler(&settings))?;
        Ok(InProcess { runtime, handler })
    }

    /// Answers one event document, read by lambda_http as the runtime
    /// reads it.
    pub fn answer(&self, event: &serde_json::Value) -> Reply {
        let request = lambda_http::request::from_str(&event.to_string())
            .unwrap_or_else(|error| panic!("lambda_http cannot read {event}: {error}"));
        let adapter::Answer(response) = self
            .runtime
            .block_on(adapter::serve(&self.handler, request));
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::copy_from_slice(&body),
        }
    }

    pub fn through(&self, shape: Shape) -> impl FnMut(&Req) -> Reply + '_ {
        move |request: &Req| self.answer(&shape.event(request))
    }
}
