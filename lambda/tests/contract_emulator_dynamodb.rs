//! SPEC.md over HTTP against the real bootstrap under the Lambda emulator,
//! with DynamoDB (a new table of DynamoDB Local per test).

mod support;

contract_tests::contract_suite!(support::function_on_dynamodb);
