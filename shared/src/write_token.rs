//! Write protection: with a token configured, a POST needs `Authorization:
//! Bearer <token>`; GETs stay open, for health checks and the classic grader.

use secrecy::{ExposeSecret, SecretSlice};
use subtle::ConstantTimeEq;

/// A configured write token: its `Debug` never shows it, and its memory is
/// zeroed when dropped.
#[derive(Clone, Debug)]
pub struct WriteToken(SecretSlice<u8>);

#[derive(Debug, thiserror::Error)]
pub enum InvalidWriteToken {
    #[error("the write token is empty")]
    Empty,
    #[error("the write token must be visible ASCII without spaces (it is sent in a header)")]
    NotAToken,
}

impl WriteToken {
    /// Accepts a token read from a file or the environment; a final newline
    /// (as editors and `echo` write) is not part of it.
    pub fn new(text: &str) -> Result<Self, InvalidWriteToken> {
        let token = text.trim_end_matches(['\n', '\r']);
        if token.is_empty() {
            return Err(InvalidWriteToken::Empty);
        }
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(InvalidWriteToken::NotAToken);
        }
        Ok(WriteToken(token.as_bytes().to_vec().into()))
    }

    /// Whether an `Authorization` value presents this token, compared in
    /// constant time so its bytes cannot be guessed one by one.
    pub fn authorizes(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(presented) = strip_bearer(value) else {
            return false;
        };
        presented.ct_eq(self.0.expose_secret()).into()
    }
}

fn strip_bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.strip_prefix(b" ")?;
    Some(token.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_authorizes() {
        let token = WriteToken::new("s3cret-token\n").unwrap();
        assert!(token.authorizes(Some(b"Bearer s3cret-token")));
        assert!(token.authorizes(Some(b"bearer s3cret-token")));
        for wrong in [
            &b"Bearer s3cret-toke"[..],
            b"Bearer s3cret-tokenX",
            b"Bearer S3cret-token",
            b"Basic s3cret-token",
            b"Bearers3cret-token",
            b"s3cret-token",
            b"Bearer ",
            b"",
        ] {
            assert!(
                !token.authorizes(Some(wrong)),
                "{:?}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert!(!token.authorizes(None));
    }

    #[test]
    fn tokens_must_be_sendable_and_are_never_shown() {
        assert!(matches!(WriteToken::new(""), Err(InvalidWriteToken::Empty)));
        assert!(matches!(
            WriteToken::new("\n"),
            Err(InvalidWriteToken::Empty)
        ));
        assert!(matches!(
            WriteToken::new("two words"),
            Err(InvalidWriteToken::NotAToken)
        ));
        assert!(matches!(
            WriteToken::new("tab\there"),
            Err(InvalidWriteToken::NotAToken)
        ));
        let token = WriteToken::new("visible").unwrap();
        assert!(!format!("{token:?}").contains("visible"));
    }
}
