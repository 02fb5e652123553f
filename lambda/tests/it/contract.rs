//! The contract (docs/contract.md) over HTTP against the real bootstrap
//! under the Lambda emulator (its Function URL route), once per store.

mod memory {
    contract::contract_suite!(
        crate::support::function_on_memory,
        ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"
    );
}

mod dynamodb {
    contract::contract_suite!(
        crate::support::function_on_dynamodb,
        ignore =
            "needs the Lambda bootstrap (cargo-lambda) and DynamoDB Local; ./scripts/test runs it"
    );
}
