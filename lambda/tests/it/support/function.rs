//! The function under the emulator, as the contract suite wants it: a fresh
//! instance per test, stopped when dropped.

use std::ops::Deref;
use std::process::Command;

use contract::Endpoint;
use harness::dynamodb_local::{shared_endpoint, store_env, store_on_new_table};
use harness::lambda_emulator::LambdaUnderEmulator;
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;

pub struct RunningFunction {
    endpoint: Endpoint,
    _function: LambdaUnderEmulator,
}

impl Deref for RunningFunction {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

async fn start(env: Vec<(&'static str, String)>) -> RunningFunction {
    let bootstrap = harness::lambda_emulator::bootstrap();
    start_program(Command::new(bootstrap), env).await
}

/// `program`, a bootstrap with whatever runs it, under the emulator.
pub async fn start_program(program: Command, env: Vec<(&'static str, String)>) -> RunningFunction {
    let function =
        tokio::task::spawn_blocking(move || LambdaUnderEmulator::start_function(program, &env))
            .await
            .expect("starting the function");
    RunningFunction {
        endpoint: function.endpoint(),
        _function: function,
    }
}

/// The default store: in memory.
pub async fn function_on_memory() -> RunningFunction {
    start(Vec::new()).await
}

/// A new table of the shared DynamoDB Local.
pub async fn function_on_dynamodb() -> RunningFunction {
    start(on_new_table().await).await
}

/// The environment of a function on a new table of the shared DynamoDB
/// Local.
pub async fn on_new_table() -> Vec<(&'static str, String)> {
    let endpoint = shared_endpoint();
    let store = store_on_new_table(&endpoint, "lambda", STORE_TIMEOUT).await;
    store_env(&endpoint, store.table())
}
