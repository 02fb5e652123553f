//! The function under the emulator, as the contract suite wants it: a fresh
//! instance per test, stopped when dropped.

#![allow(dead_code)] // each test crate uses part of this module

use std::ops::Deref;

use contract_tests::dynamodb_local::{process_env, shared_endpoint, store_on_new_table};
use contract_tests::lambda_emulator::LambdaUnderEmulator;
use contract_tests::Endpoint;
use shared::store::dynamodb::DEFAULT_CALL_TIMEOUT;

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
    let function = tokio::task::spawn_blocking(move || LambdaUnderEmulator::start(&env))
        .await
        .expect("starting the function");
    RunningFunction {
        endpoint: function.endpoint(),
        _function: function,
    }
}

/// No `SEED_TABLE`: the in-memory store.
pub async fn function_on_memory() -> RunningFunction {
    start(Vec::new()).await
}

/// A new table of the shared DynamoDB Local.
pub async fn function_on_dynamodb() -> RunningFunction {
    let endpoint = shared_endpoint();
    let store = store_on_new_table(&endpoint, "lambda", DEFAULT_CALL_TIMEOUT).await;
    let mut env = process_env(&endpoint);
    env.push(("SEED_TABLE", store.table().to_string()));
    start(env).await
}
