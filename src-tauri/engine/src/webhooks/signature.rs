//! Standard Webhooks verification (Replicate signs its deliveries this way):
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with the
//! base64 key after `whsec_`; `webhook-signature` is a space-separated list
//! of `v1,<base64>` entries, any of which may match.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from our clock (replays of old
/// deliveries are refused).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("unsigned: a webhook header is missing")]
    Unsigned,
    #[error("stale: the timestamp is more than five minutes off")]
    Stale,
    #[error("forged: no signature matches")]
    Forged,
    #[error("the signing secret is not a whsec_ base64 key")]
    BadSecret,
}

/// The three headers of a delivery.
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signatures: &'a str,
}

/// Check a delivery against `secret` at Unix time `now`.
pub fn verify(secret: &str, signed: &Signed<'_>, body: &[u8], now: i64) -> Result<(), Rejection> {
    if signed.id.is_empty() || signed.timestamp.is_empty() || signed.signatures.is_empty() {
        return Err(Rejection::Unsigned);
    }
    let timestamp: i64 = signed.timestamp.parse().map_err(|_| Rejection::Stale)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Rejection::Stale);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| b64.decode(k).ok())
        .ok_or(Rejection::BadSecret)?;
    let mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| Rejection::BadSecret)?;
    let mut mac = mac;
    mac.update(signed.id.as_bytes());
    mac.update(b".");
    mac.update(signed.timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let matches = signed
        .signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|sig| b64.decode(sig).ok())
        // Constant-time comparison of equal-length MACs.
        .any(|sig| {
            sig.len() == expected.len()
                && sig
                    .iter()
                    .zip(expected.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
    if matches {
        Ok(())
    } else {
        Err(Rejection::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from the Standard Webhooks specification's test vectors.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn signed<'a>(ts: &'a str, sigs: &'a str) -> Signed<'a> {
        Signed {
            id: ID,
            timestamp: ts,
            signatures: sigs,
        }
    }

    #[test]
    fn the_specification_example_verifies() {
        assert_eq!(
            verify(SECRET, &signed(TS, SIG), BODY, 1_614_265_330),
            Ok(())
        );
        // Any entry of the list may match.
        let list = format!("v1,bm90LWl0 {SIG}");
        assert_eq!(
            verify(SECRET, &signed(TS, &list), BODY, 1_614_265_330),
            Ok(())
        );
    }

    #[test]
    fn tampered_stale_and_unsigned_deliveries_are_refused() {
        let now = 1_614_265_330;
        assert_eq!(
            verify(SECRET, &signed(TS, SIG), br#"{"test": 1}"#, now),
            Err(Rejection::Forged)
        );
        assert_eq!(
            verify(
                SECRET,
                &signed(TS, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                BODY,
                now
            ),
            Err(Rejection::Forged)
        );
        assert_eq!(
            verify(SECRET, &signed(TS, SIG), BODY, now + TOLERANCE_SECONDS + 1),
            Err(Rejection::Stale)
        );
        assert_eq!(
            verify(SECRET, &signed(TS, ""), BODY, now),
            Err(Rejection::Unsigned)
        );
        assert_eq!(
            verify("not-a-secret", &signed(TS, SIG), BODY, now),
            Err(Rejection::BadSecret)
        );
    }
}
