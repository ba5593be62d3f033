//! One classification of HTTP answers for every provider (as GitButler
//! shares one error mapping across its forges): a status, the headers and
//! the body become a `ProviderError` with the failure kind that decides
//! retrying, waiting, failing or asking the user; and the provider's
//! `Retry-After` in any of its forms becomes a wait.

use super::{FailureKind, ProviderError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest wait a provider's answer may impose on us: beyond it the
/// engine's own backoff decides (a bogus header must not park a job a week).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// How much of a provider's message reaches the job's timeline.
const MAX_MESSAGE_CHARS: usize = 300;

/// Header lookup, so this works on any HTTP client's header map.
pub trait Headers {
    fn get_str(&self, name: &str) -> Option<&str>;
}

impl Headers for [(&str, &str)] {
    fn get_str(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// The wait a response asks for: `retry-after-ms` (OpenAI), else
/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3),
/// capped at an hour; None when absent or unreadable.
pub fn retry_after(headers: &(impl Headers + ?Sized), now: DateTime<Utc>) -> Option<Duration> {
    let ms = headers
        .get_str("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms.min(MAX_RETRY_AFTER.as_secs_f64() * 1000.0) / 1000.0));
    let wait = ms.or_else(|| {
        let value = headers.get_str("retry-after")?.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 with
        // the obsolete "GMT" zone, which chrono accepts.
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        Some((at - now).to_std().unwrap_or(Duration::ZERO))
    })?;
    Some(wait.min(MAX_RETRY_AFTER))
}

/// What a provider's error body says: its message and machine code, from
/// OpenAI's `{"error":{message,type,code}}`, RFC 7807 problem details
/// (Replicate: `{title, detail}`), or a plain `{"detail"|"message"|"error"}`.
/// An HTML page or anything else says nothing (it is never shown).
fn body_says(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    if let Some(err) = json.get("error").filter(|e| e.is_object()) {
        let code = text(err.get("code")).or_else(|| text(err.get("type")));
        return (text(err.get("message")), code);
    }
    let message = text(json.get("detail"))
        .or_else(|| text(json.get("message")))
        .or_else(|| text(json.get("error")))
        .or_else(|| text(json.get("title")));
    let code = text(json.get("code")).or_else(|| text(json.get("type")));
    (message, code)
}

/// Provider codes that mean the account cannot pay: retrying never helps.
fn is_no_credits(status: u16, code: Option<&str>, message: Option<&str>) -> bool {
    let code = code.unwrap_or_default();
    let message = message.unwrap_or_default().to_ascii_lowercase();
    status == 402
        || matches!(
            code,
            "insufficient_quota" | "billing_hard_limit_reached" | "billing_not_active"
        )
        || message.contains("insufficient credit")
        || message.contains("exceeded your current quota")
}

fn is_content_policy(code: Option<&str>) -> bool {
    matches!(
        code.unwrap_or_default(),
        "content_policy_violation" | "moderation_blocked" | "content_filter"
    )
}

/// Classify an HTTP answer that is not a success. `provider` is the name the
/// user knows ("Replicate"); it starts every message.
pub fn classify(
    provider: &str,
    status: u16,
    headers: &(impl Headers + ?Sized),
    body: &[u8],
    now: DateTime<Utc>,
) -> ProviderError {
    let (said, code) = body_says(body);
    let said = said.map(|m| redact_and_clip(&m));
    let kind = if is_no_credits(status, code.as_deref(), said.as_deref()) {
        FailureKind::NoCredits
    } else if is_content_policy(code.as_deref()) {
        FailureKind::ContentPolicy
    } else {
        match status {
            401 | 403 => FailureKind::Auth,
            404 | 410 => FailureKind::NotFound,
            429 => FailureKind::RateLimited,
            408 | 425 | 500..=599 => FailureKind::Retryable,
            400 | 413 | 415 | 422 => FailureKind::InvalidInput,
            _ => FailureKind::Fatal,
        }
    };
    let wait = retry_after(headers, now);
    let detail = said.unwrap_or_else(|| format!("HTTP {status}"));
    let message = match kind {
        FailureKind::NoCredits => {
            format!("out of credits at {provider}: add credit there, then Retry ({detail})")
        }
        FailureKind::Auth => format!("{provider} refused the API key ({detail})"),
        FailureKind::RateLimited => format!("rate limited by {provider} ({detail})"),
        FailureKind::ContentPolicy => format!("{provider} refused the prompt ({detail})"),
        FailureKind::Retryable => format!("{provider} is unavailable ({detail})"),
        _ => format!("{provider}: {detail}"),
    };
    ProviderError {
        kind,
        message,
        http_status: Some(status),
        retry_after: wait,
    }
}

/// A provider's message, clipped, with anything shaped like a secret token
/// masked: some providers echo (part of) the key they were sent.
fn redact_and_clip(message: &str) -> String {
    let masked: Vec<String> = message
        .split(' ')
        .map(|word| {
            let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let secret = w.len() >= 12
                && ["sk-", "r8_", "key-", "whsec_"]
                    .iter()
                    .any(|p| w.starts_with(p));
            if secret {
                word.replace(w, "[redacted]")
            } else {
                word.to_string()
            }
        })
        .collect();
    let joined = masked.join(" ");
    match joined.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &joined[..at]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .expect("date")
            .with_timezone(&Utc)
    }

    fn classify_with(status: u16, headers: &[(&str, &str)], body: &str) -> ProviderError {
        classify("Acme", status, headers, body.as_bytes(), now())
    }

    #[test]
    fn retry_after_in_each_form() {
        let at = |h: &[(&str, &str)]| retry_after(h, now());
        assert_eq!(at(&[("Retry-After", "30")]), Some(Duration::from_secs(30)));
        assert_eq!(
            at(&[("retry-after", "Mon, 30 Nov 2026 12:00:14 GMT")]),
            Some(Duration::from_secs(14)),
            "an HTTP-date"
        );
        assert_eq!(
            at(&[("retry-after", "Mon, 30 Nov 2026 11:00:00 GMT")]),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            at(&[("retry-after-ms", "1500.5"), ("retry-after", "9")]),
            Some(Duration::from_micros(1_500_500)),
            "milliseconds win over seconds"
        );
        assert_eq!(
            at(&[("retry-after", "86400")]),
            Some(MAX_RETRY_AFTER),
            "capped"
        );
        assert_eq!(at(&[("retry-after", "soon")]), None);
        assert_eq!(at(&[("retry-after-ms", "-5")]), None);
        assert_eq!(at(&[]), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        for (status, kind) in [
            (400, FailureKind::InvalidInput),
            (401, FailureKind::Auth),
            (403, FailureKind::Auth),
            (404, FailureKind::NotFound),
            (413, FailureKind::InvalidInput),
            (422, FailureKind::InvalidInput),
            (429, FailureKind::RateLimited),
            (500, FailureKind::Retryable),
            (502, FailureKind::Retryable),
            (503, FailureKind::Retryable),
            (408, FailureKind::Retryable),
            (418, FailureKind::Fatal),
        ] {
            assert_eq!(classify_with(status, &[], "").kind, kind, "HTTP {status}");
        }
    }

    #[test]
    fn no_credits_is_told_apart_from_a_rate_limit_and_never_retried() {
        // OpenAI answers 429 for both; the code tells them apart.
        let quota = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let e = classify_with(429, &[("retry-after", "20")], quota);
        assert_eq!(e.kind, FailureKind::NoCredits);
        assert!(!e.kind.is_retryable());
        assert_eq!(e.kind.code(), "no_credits");
        assert!(
            e.message
                .starts_with("out of credits at Acme: add credit there, then Retry"),
            "{}",
            e.message
        );

        let throttled = r#"{"detail":"Request was throttled. Your rate limit resets in ~30s."}"#;
        let e = classify_with(429, &[("retry-after", "30")], throttled);
        assert_eq!(e.kind, FailureKind::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(e.http_status, Some(429));
        assert!(e.message.contains("Request was throttled"), "{}", e.message);

        let payment = r#"{"title":"Insufficient credit","detail":"You have insufficient credit to run this model.","status":402}"#;
        assert_eq!(
            classify_with(402, &[], payment).kind,
            FailureKind::NoCredits
        );
    }

    #[test]
    fn content_policy_by_code() {
        let body = r#"{"error":{"message":"Your request was rejected by the safety system.","type":"image_generation_user_error","code":"moderation_blocked"}}"#;
        assert_eq!(
            classify_with(400, &[], body).kind,
            FailureKind::ContentPolicy
        );
    }

    #[test]
    fn html_and_garbage_bodies_are_not_shown() {
        let e = classify_with(
            502,
            &[],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        );
        assert_eq!(e.kind, FailureKind::Retryable);
        assert_eq!(e.message, "Acme is unavailable (HTTP 502)");
        let e = classify_with(500, &[], "{not json");
        assert_eq!(e.message, "Acme is unavailable (HTTP 500)");
    }

    #[test]
    fn echoed_keys_are_masked_and_long_messages_clipped() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnop. You can find your API key at https://platform.openai.com.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let e = classify_with(401, &[], body);
        assert_eq!(e.kind, FailureKind::Auth);
        assert!(!e.message.contains("abcdefghijklmnop"), "{}", e.message);
        assert!(e.message.contains("[redacted]"), "{}", e.message);
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(5000));
        let e = classify_with(400, &[], &long);
        assert!(
            e.message.chars().count() < MAX_MESSAGE_CHARS + 40,
            "{}",
            e.message.len()
        );
    }
}
