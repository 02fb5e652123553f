//! What the function's tests share: event documents and SPEC rows
//! (`events`), and the function under the emulator (`function`).

pub mod events;
pub mod function;

pub use function::{function_on_dynamodb, function_on_memory};

/// An environment made of `pairs`, as `Settings::from_lookup` reads one.
pub fn lookup<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }
}
