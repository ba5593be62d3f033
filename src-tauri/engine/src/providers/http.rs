//! The one HTTP layer every provider uses: a `reqwest` client over rustls
//! (ring crypto, the platform's roots), per-call timeouts, no retry
//! middleware (retries are the engine's, persisted), and one mapping of
//! transport failures and non-success answers to failure kinds.

mod sse;

use super::http_errors::{self, Headers};
use super::{FailureKind, ProviderError};
use std::sync::OnceLock;
use std::time::Duration;

/// How long to wait to connect: a local server that is down answers at
/// once, a remote one that does not answer in this time is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A response read whole (bodies of provider answers are small JSON; images
/// are read with their own cap by the caller).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON of type `T`, or a clear error naming `provider`.
    pub fn json<T: serde::de::DeserializeOwned>(&self, provider: &str) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError::new(
                FailureKind::Retryable,
                format!("{provider} sent an answer Easel cannot read: {e}"),
            )
        })
    }
}

impl Headers for Answer {
    fn get_str(&self, name: &str) -> Option<&str> {
        self.header(name)
    }
}

/// A provider's API root: the configured one (or its documented default),
/// without a trailing slash, so paths join with one.
pub fn api_root(configured: Option<&str>, default: &str) -> String {
    configured
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

/// The process's HTTP client: one connection pool for every provider.
pub fn client() -> Result<reqwest::Client, ProviderError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // rustls without a built-in provider: ring, installed once for
            // the process (an error means another part installed one first).
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!("Easel/", env!("CARGO_PKG_VERSION")))
                // A key is sent only to the configured API host: never
                // follow a redirect elsewhere with it.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| ProviderError::new(FailureKind::Fatal, format!("cannot start HTTP: {e}")))
}

/// Whether a request that failed in transport may have reached the
/// provider: a connection that was never made did not; one that timed out
/// or broke after sending may have been accepted (and billed).
fn transport_error(provider: &str, e: &reqwest::Error) -> ProviderError {
    let detail = without_url(e);
    if e.is_connect() {
        ProviderError::new(
            FailureKind::Retryable,
            format!("cannot reach {provider}: {detail}"),
        )
    } else if e.is_timeout() {
        ProviderError::new(
            FailureKind::Unknown,
            format!("{provider} did not answer in time"),
        )
    } else {
        ProviderError::new(
            FailureKind::Unknown,
            format!("the connection to {provider} broke: {detail}"),
        )
    }
}

/// reqwest's message without the URL (which may carry query secrets such
/// as a webhook token), with its source chain joined.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "(url)");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Send `request` with `timeout` for the whole exchange, read the body
/// (at most `max_body` bytes), and classify anything but a 2xx.
pub async fn send(
    provider: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_body: usize,
) -> Result<Answer, ProviderError> {
    send_with(provider, request, timeout, max_body, None).await
}

/// What a streamed answer's events go to, one event's data at a time.
pub type OnEvent<'a> = dyn FnMut(&str) -> Result<(), ProviderError> + Send + 'a;

/// `send` for an answer streamed as server-sent events: `on_event` gets each
/// event's data as it arrives (a 2xx answer's body is not kept); anything
/// but a 2xx is read whole and classified as `send` does. `max_body`
/// bounds the whole stream.
pub async fn send_events(
    provider: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_body: usize,
    on_event: &mut OnEvent<'_>,
) -> Result<Answer, ProviderError> {
    send_with(provider, request, timeout, max_body, Some(on_event)).await
}

async fn send_with(
    provider: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_body: usize,
    mut on_event: Option<&mut OnEvent<'_>>,
) -> Result<Answer, ProviderError> {
    let mut response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    let status = response.status().as_u16();
    let ok = (200..300).contains(&status);
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let mut body = Vec::new();
    let (mut read, mut scanned) = (0usize, 0usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(provider, &e))?
    {
        read += chunk.len();
        if read > max_body {
            return Err(ProviderError::new(
                FailureKind::Fatal,
                format!("{provider} sent more than {max_body} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
        if let (true, Some(on_event)) = (ok, on_event.as_mut()) {
            for data in sse::take_events(&mut body, &mut scanned) {
                on_event(&data)?;
            }
        }
    }
    if let (true, Some(on_event)) = (ok, on_event.as_mut()) {
        // A last event without its blank line.
        body.extend_from_slice(b"\n\n");
        for data in sse::take_events(&mut body, &mut scanned) {
            on_event(&data)?;
        }
    }
    let answer = Answer {
        status,
        headers,
        body,
    };
    if ok {
        Ok(answer)
    } else {
        Err(http_errors::classify(
            provider,
            status,
            &answer,
            &answer.body,
            chrono::Utc::now(),
        ))
    }
}
