//! SPEC.md over HTTP against the real bootstrap under the Lambda emulator
//! (its Function URL route), once per store.

mod memory {
    contract::contract_suite!(crate::support::function_on_memory);
}

mod dynamodb {
    contract::contract_suite!(crate::support::function_on_dynamodb);
}
