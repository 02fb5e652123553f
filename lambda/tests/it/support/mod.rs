//! What the function's tests share: event documents and SPEC rows
//! (`events`), and the function under the emulator (`function`).

pub mod events;
pub mod function;

pub use function::{function_on_dynamodb, function_on_memory};
