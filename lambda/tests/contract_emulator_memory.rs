//! SPEC.md over HTTP against the real bootstrap under the Lambda emulator
//! (its Function URL route), with the in-memory store.

mod support;

contract_tests::contract_suite!(support::function_on_memory);
