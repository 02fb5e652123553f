//! The seed value, kept as its canonical decimal text, never as a machine
//! integer: the Python reference accepts integers far beyond 64 bits, and
//! every store and target answers exactly the digits that were stored.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// The most digits a seed may have: the default integer-string limit of the
/// Python reference implementation (`sys.get_int_max_str_digits()`).
pub const MAX_DIGITS: usize = 4300;

/// A validated seed in canonical decimal: `0`, or an optional `-` followed by a
/// non-zero digit and at most [`MAX_DIGITS`] digits in all. Never `-0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seed(Arc<str>);

/// Why a text is not a seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error(
        "it is not an integer literal (digits with an optional leading '-', no leading zeros)"
    )]
    NotAnIntegerLiteral,
    #[error("it has {digits} digits; at most {MAX_DIGITS} are accepted")]
    TooManyDigits { digits: usize },
}

impl Seed {
    /// The seed before anything is stored.
    pub fn zero() -> Self {
        Seed(Arc::from("0"))
    }

    /// Parses a JSON integer literal, `-?(0|[1-9][0-9]*)`, into its canonical
    /// form. `-0` becomes `0`.
    pub fn from_integer_literal(text: &str) -> Result<Self, SeedError> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let bytes = digits.as_bytes();
        let well_formed = match bytes {
            [] => false,
            [b'0'] => true,
            [first, rest @ ..] => {
                (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit)
            }
        };
        if !well_formed {
            return Err(SeedError::NotAnIntegerLiteral);
        }
        if bytes.len() > MAX_DIGITS {
            return Err(SeedError::TooManyDigits {
                digits: bytes.len(),
            });
        }
        if digits == "0" {
            return Ok(Self::zero());
        }
        Ok(Seed(Arc::from(text)))
    }

    /// The canonical decimal text, as every target answers it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical decimal as a response body.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.0.as_bytes())
    }
}

impl Default for Seed {
    fn default() -> Self {
        Self::zero()
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_are_kept() {
        for text in ["0", "7", "-7", "100", "-100", "18446744073709551616"] {
            assert_eq!(Seed::from_integer_literal(text).unwrap().as_str(), text);
        }
    }

    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(Seed::from_integer_literal("-0").unwrap(), Seed::zero());
        assert_eq!(Seed::from_integer_literal("-0").unwrap().as_str(), "0");
    }

    #[test]
    fn malformed_literals_are_refused() {
        for text in [
            "", "-", "--1", "+1", "01", "-01", "00", "1.0", "1e2", " 1", "1 ", "0x10", "١",
        ] {
            assert_eq!(
                Seed::from_integer_literal(text),
                Err(SeedError::NotAnIntegerLiteral),
                "{text:?}"
            );
        }
    }

    #[test]
    fn digit_limit_is_exact_and_ignores_the_sign() {
        let max = "9".repeat(MAX_DIGITS);
        assert!(Seed::from_integer_literal(&max).is_ok());
        assert!(Seed::from_integer_literal(&format!("-{max}")).is_ok());
        let over = "9".repeat(MAX_DIGITS + 1);
        assert_eq!(
            Seed::from_integer_literal(&over),
            Err(SeedError::TooManyDigits {
                digits: MAX_DIGITS + 1
            })
        );
    }

    #[test]
    fn bytes_match_text() {
        let seed = Seed::from_integer_literal("-123").unwrap();
        assert_eq!(&seed.to_bytes()[..], b"-123");
    }
}
