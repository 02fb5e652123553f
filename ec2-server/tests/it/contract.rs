//! SPEC.md over HTTP against the warp server, once per store: the same cases
//! with memory and with DynamoDB (a new table of DynamoDB Local per test).

mod memory {
    contract::contract_suite!(crate::support::spawn_app);
}

mod dynamodb {
    contract::contract_suite!(crate::support::spawn_app_on_dynamodb);
}
