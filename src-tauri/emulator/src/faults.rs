//! The fault script: each fault applies to the next generation request, in
//! order; with none left, requests succeed.

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
