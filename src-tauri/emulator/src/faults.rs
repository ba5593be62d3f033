//! The fault script: each fault applies to the next generation request, in
//! order; with none left, requests succeed.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, body and headers (nothing is generated).
    Status {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Generate (and count) the images, then never answer: the client times
    /// out not knowing whether it was accepted.
    AcceptThenHang,
    /// Generate (and count), then break the connection mid-body.
    AcceptThenReset,
    /// Generate (and count), answer 200 with a body that is not JSON.
    MalformedJson,
    /// Generate (and count), answer with bytes that are not an image.
    NotAnImage,
    /// Generate (and count), answer with an SVG drawing.
    Svg,
    /// (Replicate) The first download of an output finds its URL expired;
    /// reading the prediction again gives live URLs.
    ExpiredUrl,
    /// (Replicate) The prediction succeeds, but its outputs were deleted
    /// (`data_removed`).
    DataRemoved,
    /// (Replicate) The model fails with this error.
    ModelFails(String),
    /// (Replicate) The completed webhook is delivered twice.
    DuplicateWebhook,
    /// (Replicate) A forged webhook (bad signature) arrives before the real one.
    ForgedWebhook,
}

impl Fault {
    /// A 5xx with an HTML page, as a proxy in front of an API sends.
    pub fn html_5xx(status: u16) -> Fault {
        Fault::Status {
            status,
            body: format!("<html><body><h1>{status} Bad Gateway</h1></body></html>"),
            headers: vec![("content-type".into(), "text/html".into())],
        }
    }

    /// A 429 asking to retry after `seconds`.
    pub fn rate_limited(seconds: u64, body: &str) -> Fault {
        Fault::Status {
            status: 429,
            body: body.to_string(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("retry-after".into(), seconds.to_string()),
            ],
        }
    }
}

/// What a fault does before the request is served: an early answer
/// (`Status`), a delay (`Latency`, then None), or nothing.
pub(crate) async fn before_serving(fault: Option<&Fault>) -> Option<Response> {
    match fault {
        Some(Fault::Status {
            status,
            body,
            headers,
        }) => {
            let mut r = Response::builder().status(*status);
            for (k, v) in headers {
                r = r.header(k, v);
            }
            Some(
                r.body(Body::from(body.clone()))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
            )
        }
        Some(Fault::Latency(d)) => {
            tokio::time::sleep(*d).await;
            None
        }
        _ => None,
    }
}

/// Half of `body` as a JSON answer with `status`, then a broken connection.
pub(crate) fn reset_midway(status: StatusCode, body: &str) -> Response {
    let half = bytes::Bytes::from(body[..body.len() / 2].to_string());
    let parts: Vec<Result<bytes::Bytes, std::io::Error>> =
        vec![Ok(half), Err(std::io::Error::other("connection reset"))];
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(parts)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Take one scripted failure from `counter`: a 503 while it is above zero.
pub(crate) fn failing(counter: &Mutex<u32>) -> Option<Response> {
    let mut left = lock(counter);
    if *left == 0 {
        return None;
    }
    *left -= 1;
    Some(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "application/problem+json")],
            r#"{"title":"Service unavailable","detail":"Please try again.","status":503}"#,
        )
            .into_response(),
    )
}

/// Whether the request carries `Bearer {key}`; recorded as
/// "{what} auth=<ok|bad|none>" either way.
pub(crate) fn bearer_ok(
    script: &Script,
    key: &str,
    headers: &axum::http::HeaderMap,
    what: &str,
) -> bool {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let verdict = match auth {
        Some(k) if k == key => "ok",
        Some(_) => "bad",
        None => "none",
    };
    script.record_request(format!("{what} auth={verdict}"));
    verdict == "ok"
}

/// Faults to come and what was generated.
#[derive(Debug, Default)]
pub struct Script {
    faults: Mutex<VecDeque<Fault>>,
    generations: Mutex<HashMap<String, u32>>,
    requests: Mutex<Vec<String>>,
}

impl Script {
    pub fn push(&self, fault: Fault) {
        lock(&self.faults).push_back(fault);
    }

    pub(crate) fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    pub(crate) fn count_generation(&self, prompt: &str) {
        *lock(&self.generations)
            .entry(prompt.to_string())
            .or_insert(0) += 1;
    }

    pub(crate) fn record_request(&self, line: String) {
        lock(&self.requests).push(line);
    }

    /// How many times images were generated for `prompt` (each one billed).
    pub fn generations(&self, prompt: &str) -> u32 {
        lock(&self.generations).get(prompt).copied().unwrap_or(0)
    }

    /// Every request seen, as "METHOD /path auth=<ok|bad|none>", in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
