//! `DynamoDbStore::from_lambda_environment` reads what Lambda sets; a missing
//! region or missing credentials is a configuration error that says what to
//! set. One test in its own process: it changes environment variables.

use std::time::Duration;

use shared::{DynamoDbStore, StoreError};

const VARIABLES: [&str; 6] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_DYNAMODB",
];

fn misconfiguration(result: Result<DynamoDbStore, StoreError>) -> String {
    match result {
        Err(StoreError::Misconfigured(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other:?}"),
        Ok(_) => panic!("expected a configuration error, got a store"),
    }
}

#[test]
fn region_and_credentials_come_from_the_lambda_environment() {
    for name in VARIABLES {
        std::env::remove_var(name);
    }
    let build = || DynamoDbStore::from_lambda_environment("seed", Duration::from_secs(1));

    let message = misconfiguration(build());
    assert!(message.contains("AWS_REGION"), "{message}");

    std::env::set_var("AWS_REGION", "eu-west-1");
    let message = misconfiguration(build());
    assert!(
        message.contains("AWS_ACCESS_KEY_ID") && message.contains("AWS_SECRET_ACCESS_KEY"),
        "{message}"
    );

    // An empty variable counts as unset.
    std::env::set_var("AWS_ACCESS_KEY_ID", "");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "secret");
    let message = misconfiguration(build());
    assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");

    std::env::set_var("AWS_ACCESS_KEY_ID", "key");
    std::env::set_var("AWS_SESSION_TOKEN", "token");
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1");
    let store = match build() {
        Ok(store) => store,
        Err(error) => panic!("a complete Lambda environment was refused: {error}"),
    };
    assert_eq!(store.table(), "seed");
    assert_eq!(
        store.requests_sent(),
        0,
        "building the store sent a request"
    );

    // The endpoint variable is honoured: the call goes to the closed port,
    // not to DynamoDB in eu-west-1.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot build a Tokio runtime: {error}"),
    };
    match runtime.block_on(store.check()) {
        Ok(seed) => panic!("a closed port answered {seed}"),
        Err(error) => assert!(
            error.to_string().to_lowercase().contains("refused"),
            "not the endpoint from AWS_ENDPOINT_URL_DYNAMODB: {error}"
        ),
    }
}
