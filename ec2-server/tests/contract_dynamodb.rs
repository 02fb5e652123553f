//! SPEC.md over HTTP against the warp server with the DynamoDB store (a new
//! table of DynamoDB Local for each test): the same cases as with memory.

mod support;

contract_tests::contract_suite!(support::spawn_app_on_dynamodb);
