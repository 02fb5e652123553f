//! The POST body parser never panics, and whatever it accepts is a
//! canonical seed in a body that serde_json also reads as JSON, with a
//! numeric `num`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::post_body::parse_post_body;
use shared::seed::{Seed, MAX_DIGITS};

fuzz_target!(|data: &[u8]| {
    let Ok(seed) = parse_post_body(data) else {
        return;
    };
    let text = seed.as_str();
    assert_ne!(text, "-0", "non-canonical zero");
    assert!(
        text.trim_start_matches('-').len() <= MAX_DIGITS,
        "too many digits"
    );
    assert_eq!(
        Seed::from_integer_literal(text).as_ref(),
        Ok(&seed),
        "not canonical"
    );
    // Valid JSON syntax, numbers not converted (JSON puts no bound on them).
    serde_json::from_slice::<serde::de::IgnoredAny>(data).expect("an accepted body is JSON");
    // Where serde_json's Value can hold every number, num is a number there.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        assert!(
            value["num"].is_number(),
            "accepted without a numeric num: {value}"
        );
    }
});
