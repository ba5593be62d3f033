//! The API key type: the text is reachable only through `expose`.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Longest key accepted; real keys are under 200 characters.
const MAX_LEN: usize = 1024;

#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Check what the user pasted: surrounding whitespace is dropped; the
    /// rest must be printable ASCII without spaces, as every provider's
    /// keys are. The error never repeats the key.
    pub fn parse(text: &str) -> Result<ApiKey, String> {
        let key = text.trim();
        if key.is_empty() {
            return Err("the API key is empty".into());
        }
        if key.len() > MAX_LEN {
            return Err(format!("the API key is longer than {MAX_LEN} characters"));
        }
        if let Some(bad) = key.chars().find(|c| !c.is_ascii_graphic()) {
            let what = if bad.is_whitespace() {
                "a space or line break"
            } else {
                "a character that is not printable ASCII"
            };
            return Err(format!("the API key contains {what}; paste the key alone"));
        }
        Ok(ApiKey(SecretString::from(key)))
    }

    /// The key's text, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::parse("sk-secret-123").expect("valid");
        let shown = format!("{key:?} {:?}", Some(&key));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn parse_trims_and_keeps_the_text() {
        let key = ApiKey::parse("  r8_abcDEF-123_x.y \n").expect("valid");
        assert_eq!(key.expose(), "r8_abcDEF-123_x.y");
    }

    #[test]
    fn parse_refuses_what_cannot_be_a_key_without_echoing_it() {
        for (input, expected) in [
            ("", "empty"),
            ("   \n", "empty"),
            ("sk-one sk-two", "space or line break"),
            ("sk-\u{e9}t\u{e9}", "not printable ASCII"),
            ("sk-a\tb", "space or line break"),
        ] {
            let e = ApiKey::parse(input).expect_err(input);
            assert!(e.contains(expected), "{input:?}: {e}");
            if input.trim().len() > 3 {
                assert!(!e.contains(input.trim()), "{e}");
            }
        }
        let long = "k".repeat(MAX_LEN + 1);
        assert!(ApiKey::parse(&long).expect_err("long").contains("longer"));
        assert!(ApiKey::parse(&"k".repeat(MAX_LEN)).is_ok());
    }
}
