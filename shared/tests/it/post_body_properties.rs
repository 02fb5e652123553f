//! Property tests of the POST body parser against docs/contract.md's grammar.

use proptest::prelude::*;
use serde_json::Value;
use shared::post_body::parse_post_body;

/// Any JSON integer literal the contract accepts, `-?(0|[1-9][0-9]*)`, up to the
/// digit limit.
fn integer_literal() -> impl Strategy<Value = String> {
    let digits = prop_oneof![
        Just("0".to_string()),
        "[1-9][0-9]{0,30}",
        "[1-9][0-9]{0,4299}",
    ];
    (any::<bool>(), digits).prop_map(|(negative, digits)| {
        if negative {
            format!("-{digits}")
        } else {
            digits
        }
    })
}

/// JSON text for a value that is anything but an integer literal.
fn non_integer_json() -> impl Strategy<Value = String> {
    let number_like = prop_oneof![
        // Integral values written with a fraction or an exponent.
        (any::<i64>(), 1usize..4).prop_map(|(n, zeros)| format!("{n}.{}", "0".repeat(zeros))),
        (any::<i32>(), -5i32..5).prop_map(|(n, e)| format!("{n}e{e}")),
        (any::<i32>(), 0u8..5).prop_map(|(n, e)| format!("{n}E+{e}")),
        any::<f64>()
            .prop_filter("finite, not integral", |f| f.is_finite()
                && f.fract() != 0.0)
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
    ];
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::String),
        integer_literal().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let compound = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".*", inner, 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    });
    prop_oneof![
        number_like,
        compound.prop_map(|value| serde_json::to_string(&value).unwrap()),
    ]
}

fn canonical(literal: &str) -> &str {
    if literal == "-0" {
        "0"
    } else {
        literal
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_integer_literal_round_trips(
        literal in integer_literal(),
        before in prop::option::of(("[a-z]{1,8}", non_integer_json())),
        space in "[ \t\r\n]{0,3}",
    ) {
        let prefix = match &before {
            Some((name, value)) if name != "num" => format!("\"{name}\":{value},"),
            _ => String::new(),
        };
        let body = format!("{space}{{{prefix}\"num\":{space}{literal}{space}}}{space}");
        let seed = parse_post_body(body.as_bytes());
        prop_assert!(seed.is_ok(), "{body:?} refused: {:?}", seed.err());
        let seed = seed.unwrap();
        prop_assert_eq!(seed.as_str(), canonical(&literal));
    }

    #[test]
    fn every_non_integer_num_is_refused(value in non_integer_json()) {
        let body = format!("{{\"num\": {value}}}");
        let result = parse_post_body(body.as_bytes());
        prop_assert!(result.is_err(), "{body:?} accepted as {:?}", result.ok());
    }

    #[test]
    fn every_non_object_body_is_refused(value in prop_oneof![non_integer_json(), integer_literal()]) {
        prop_assert!(parse_post_body(value.as_bytes()).is_err(), "{value:?} accepted");
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_post_body(&body);
    }
}
