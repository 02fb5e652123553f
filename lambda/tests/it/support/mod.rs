//! What the function's tests share: event documents and contract rows
//! (`events`), the function under the emulator (`function`) and in this
//! process (`in_process`).

pub mod events;
pub mod function;
pub mod in_process;

pub use function::{function_on_dynamodb, function_on_memory};
pub use in_process::InProcess;

/// An environment made of `pairs`, as `Settings::from_lookup` reads one.
pub fn lookup<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }
}
