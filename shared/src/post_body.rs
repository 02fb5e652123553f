//! Parsing of a `POST /` body, `{"num": N}`, as docs/contract.md says. `num`
//! is validated as raw text, so integers of any size survive exactly without
//! serde_json's `arbitrary_precision` (which would change every crate's).

use std::fmt;

use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;

use crate::seed::{Seed, SeedError};

/// Why a POST body was refused (`400`), saying what to send instead.
#[derive(Debug, thiserror::Error)]
pub enum PostBodyError {
    #[error("The request body is empty; send a JSON object such as {{\"num\": 100}}.")]
    Empty,
    #[error("The request body is not UTF-8 text; send a JSON object such as {{\"num\": 100}}.")]
    NotUtf8,
    #[error("The request body is not valid JSON ({0}); send an object such as {{\"num\": 100}}.")]
    InvalidJson(#[source] serde_json::Error),
    #[error(
        "The request body is JSON {0}, not an object; send an object such as {{\"num\": 100}}."
    )]
    NotAnObject(JsonKind),
    #[error("The JSON object has no \"num\" member; send an object such as {{\"num\": 100}}.")]
    MissingNum,
    #[error("The JSON object has more than one \"num\" member; send exactly one.")]
    DuplicateNum,
    #[error("\"num\" is {0}; it must be a JSON integer such as 100.")]
    NumNotANumber(JsonKind),
    #[error("\"num\" must be an integer written without a fraction or exponent (100, not 100.0 or 1e2).")]
    NumNotAnInteger,
    #[error("\"num\" is too large: {0}.")]
    NumTooLarge(SeedError),
}

/// The kind of a JSON value, named for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    String,
    Boolean,
    Null,
    Array,
    Object,
    Number,
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonKind::String => "a string",
            JsonKind::Boolean => "a boolean",
            JsonKind::Null => "null",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
            JsonKind::Number => "a number",
        })
    }
}

/// Parses a POST body into the seed it asks to store.
pub fn parse_post_body(body: &[u8]) -> Result<Seed, PostBodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PostBodyError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| PostBodyError::NotUtf8)?;
    // Anything but an object is only checked to be JSON, and named.
    let kind = kind_of(text.trim_start());
    if kind != JsonKind::Object {
        serde_json::from_str::<IgnoredAny>(text).map_err(PostBodyError::InvalidJson)?;
        return Err(PostBodyError::NotAnObject(kind));
    }
    let member: NumMember<'_> =
        serde_json::from_str(text).map_err(|error| match error.classify() {
            // The text is an object and each value is taken raw: the one data
            // error left is the second `num`.
            Category::Data => PostBodyError::DuplicateNum,
            _ => PostBodyError::InvalidJson(error),
        })?;
    match member.num {
        None => Err(PostBodyError::MissingNum),
        Some(num) => seed_from_json_number(num.get()),
    }
}

/// The kind of the JSON value `raw` starts with, told by its first byte.
fn kind_of(raw: &str) -> JsonKind {
    match raw.as_bytes().first() {
        Some(b'"') => JsonKind::String,
        Some(b't' | b'f') => JsonKind::Boolean,
        Some(b'n') => JsonKind::Null,
        Some(b'[') => JsonKind::Array,
        Some(b'{') => JsonKind::Object,
        _ => JsonKind::Number,
    }
}

/// Validates the raw text of the `num` member, one well-formed JSON value.
fn seed_from_json_number(raw: &str) -> Result<Seed, PostBodyError> {
    match kind_of(raw) {
        JsonKind::Number => {}
        other => return Err(PostBodyError::NumNotANumber(other)),
    }
    Seed::from_integer_literal(raw).map_err(|err| match err {
        SeedError::NotAnIntegerLiteral => PostBodyError::NumNotAnInteger,
        too_large @ SeedError::TooManyDigits { .. } => PostBodyError::NumTooLarge(too_large),
    })
}

/// An object's `num` member as raw text. serde's derive unescapes names (so
/// `"n\u0075m"` is `num`) and refuses a second `num`, unlike a map.
#[derive(Deserialize)]
struct NumMember<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    num: Option<&'a RawValue>,
}

/// A member that is there, `null` included (serde reads `null` as `None`).
fn present<'de, D: Deserializer<'de>>(value: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(value).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> String {
        parse_post_body(body.as_bytes())
            .unwrap_or_else(|e| panic!("{body:?} refused: {e}"))
            .to_string()
    }

    fn err(body: &[u8]) -> PostBodyError {
        match parse_post_body(body) {
            Ok(seed) => panic!("{:?} accepted as {seed}", String::from_utf8_lossy(body)),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_the_documented_shapes() {
        assert_eq!(ok(r#"{"num": 100}"#), "100");
        assert_eq!(ok(r#"{"num":-7}"#), "-7");
        assert_eq!(ok(r#"{"num": -0}"#), "0");
        assert_eq!(ok(" \n{ \"num\" : 5 } \n"), "5");
        assert_eq!(
            ok(r#"{"other": [1, {"num": 2}], "num": 3, "x": null}"#),
            "3"
        );
        assert_eq!(ok(r#"{"n\u0075m": 4}"#), "4");
        assert_eq!(
            ok(r#"{"num": 123456789012345678901234567890}"#),
            "123456789012345678901234567890"
        );
    }

    #[test]
    fn refuses_everything_else_with_the_fitting_reason() {
        use PostBodyError as E;
        assert!(matches!(err(b""), E::Empty));
        assert!(matches!(err(b"  \r\n"), E::Empty));
        assert!(matches!(err(b"{\"num\": \xff}"), E::NotUtf8));
        assert!(matches!(err(b"num=100"), E::InvalidJson(_)));
        assert!(matches!(err(b"{\"num\": 100"), E::InvalidJson(_)));
        assert!(matches!(err(b"{\"num\": 100} x"), E::InvalidJson(_)));
        assert!(matches!(err(b"{\"num\": 0100}"), E::InvalidJson(_)));
        assert!(matches!(err(b"{\"num\": +1}"), E::InvalidJson(_)));
        assert!(matches!(err(b"[100]"), E::NotAnObject(JsonKind::Array)));
        assert!(matches!(err(b"100"), E::NotAnObject(JsonKind::Number)));
        assert!(matches!(err(b"\"100\""), E::NotAnObject(JsonKind::String)));
        assert!(matches!(err(b"null"), E::NotAnObject(JsonKind::Null)));
        assert!(matches!(err(b"{}"), E::MissingNum));
        assert!(matches!(err(b"{\"Num\": 1}"), E::MissingNum));
        assert!(matches!(err(b"{\"num\": 1, \"num\": 1}"), E::DuplicateNum));
        assert!(matches!(
            err(b"{\"num\": 1, \"n\\u0075m\": 2}"),
            E::DuplicateNum
        ));
        assert!(matches!(
            err(b"{\"num\": \"100\"}"),
            E::NumNotANumber(JsonKind::String)
        ));
        assert!(matches!(
            err(b"{\"num\": true}"),
            E::NumNotANumber(JsonKind::Boolean)
        ));
        assert!(matches!(
            err(b"{\"num\": null}"),
            E::NumNotANumber(JsonKind::Null)
        ));
        assert!(matches!(
            err(b"{\"num\": [1]}"),
            E::NumNotANumber(JsonKind::Array)
        ));
        assert!(matches!(
            err(b"{\"num\": {}}"),
            E::NumNotANumber(JsonKind::Object)
        ));
        assert!(matches!(err(b"{\"num\": 100.0}"), E::NumNotAnInteger));
        assert!(matches!(err(b"{\"num\": 1e2}"), E::NumNotAnInteger));
        assert!(matches!(err(b"{\"num\": -1E+2}"), E::NumNotAnInteger));
        // Deep nesting is refused without exhausting the stack, wherever it is.
        let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
        assert!(matches!(
            err(deep.as_bytes()),
            E::NotAnObject(JsonKind::Array)
        ));
        let in_num = format!("{{\"num\": {deep}}}");
        assert!(matches!(
            err(in_num.as_bytes()),
            E::NumNotANumber(JsonKind::Array)
        ));
        let in_other = format!("{{\"x\": {deep}, \"num\": 1}}");
        assert_eq!(parse_post_body(in_other.as_bytes()).unwrap().as_str(), "1");
    }

    #[test]
    fn digit_limit_applies_to_num() {
        let max = "9".repeat(crate::seed::MAX_DIGITS);
        assert_eq!(ok(&format!("{{\"num\": -{max}}}")), format!("-{max}"));
        let over = format!("{{\"num\": {max}9}}");
        assert!(matches!(
            err(over.as_bytes()),
            PostBodyError::NumTooLarge(SeedError::TooManyDigits { digits: 4301 })
        ));
    }
}
