//! Replicate (`https://api.replicate.com/v1`): asynchronous. A submit
//! creates a prediction (`POST /models/{owner}/{name}/predictions`, or
//! `POST /predictions` with a `version` for `owner/name:version` ids), held
//! open with `Prefer: wait` for fast models; it is then polled at its
//! `urls.get` until it succeeds, and its output files (on
//! `replicate.delivery`, deleted after an hour) are downloaded at once.
//!
//! Replicate takes no idempotency key, but it lists recent predictions with
//! their input: a submit whose answer was lost is found again by listing
//! and matching the exact input we sent (which carries the job's seed), so
//! it is never generated twice.

mod api;
mod catalog;

use super::http;
use super::{
    Capabilities, FailureKind, Output, OutputMeta, PollStatus, Provider, ProviderError,
    ProviderErrorView, SubmitRequest, Submitted, Waiting,
};
use crate::model::JobSpec;
use crate::secrets::ApiKey;
use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

pub const ID: &str = "replicate";
pub const DEFAULT_BASE_URL: &str = "https://api.replicate.com/v1";
const NAME: &str = "Replicate";

/// Quick calls (a prediction's state, listing, cancel, the account).
const SHORT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Replicate may hold a submit of a fast model (`Prefer: wait`;
/// its maximum is 60 s).
const WAIT_SECONDS: u64 = 30;
/// Pages of `GET /predictions` searched when reconciling (100 each, newest
/// first; inputs are deleted after an hour anyway).
const LIST_PAGES: usize = 5;
/// JSON answers about predictions are small; a page of 100 with inputs is
/// the largest.
const MAX_JSON: usize = 8 * 1024 * 1024;

pub struct Replicate {
    base_url: String,
    timeout: Duration,
    max_image_bytes: u64,
    caps: Capabilities,
    /// Where Replicate should deliver webhooks (the user's public URL for
    /// the receiver); None: polling only.
    webhook_url: Option<String>,
}

/// What we keep to find a prediction again (versioned: stored in the job).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Handle {
    v: u32,
    id: String,
    get: String,
    cancel: String,
}

impl Replicate {
    pub fn new(
        base_url: Option<&str>,
        timeout: Duration,
        max_image_bytes: u64,
        webhook_url: Option<String>,
    ) -> Replicate {
        Replicate {
            base_url: http::api_root(base_url, DEFAULT_BASE_URL),
            timeout,
            max_image_bytes,
            caps: catalog::capabilities(),
            webhook_url,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    fn handle_of(&self, p: &api::Prediction) -> Handle {
        let urls = p.urls.clone();
        let get = urls.as_ref().and_then(|u| u.get.clone());
        let cancel = urls.and_then(|u| u.cancel);
        Handle {
            v: 1,
            id: p.id.clone(),
            get: get.unwrap_or_else(|| self.url(&format!("predictions/{}", p.id))),
            cancel: cancel.unwrap_or_else(|| self.url(&format!("predictions/{}/cancel", p.id))),
        }
    }

    /// A handle's URLs are used only on the configured API host: a stored
    /// handle pointing elsewhere would send the key there.
    fn parse_handle(&self, text: &str) -> Result<Handle, ProviderError> {
        let handle: Handle = serde_json::from_str(text).map_err(|e| {
            ProviderError::new(
                FailureKind::NotFound,
                format!("the stored Replicate handle is unreadable: {e}"),
            )
        })?;
        for url in [&handle.get, &handle.cancel] {
            if !same_origin(url, &self.base_url) {
                return Err(ProviderError::new(
                    FailureKind::NotFound,
                    "the stored Replicate handle points away from the configured API host",
                ));
            }
        }
        Ok(handle)
    }

    fn webhook_for(&self, req: &SubmitRequest<'_>) -> Option<String> {
        let base = self.webhook_url.as_deref()?;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(format!(
            "{base}{sep}job={}&attempt={}",
            req.job_id, req.attempt
        ))
    }

    async fn get_prediction(
        &self,
        url: &str,
        key: &ApiKey,
    ) -> Result<api::Prediction, ProviderError> {
        let request = http::client()?.get(url).bearer_auth(key.expose());
        http::send(NAME, request, SHORT_TIMEOUT, MAX_JSON)
            .await?
            .json(NAME)
    }

    /// Download one output: a `data:` URI is decoded, a URL fetched with a
    /// byte cap (the key goes along only to the API's own host).
    async fn download(&self, url: &str, key: &ApiKey) -> Result<Vec<u8>, ProviderError> {
        if let Some(data) = url.strip_prefix("data:") {
            let (_, b64) = data.split_once(";base64,").ok_or_else(|| {
                ProviderError::new(
                    FailureKind::Fatal,
                    "Replicate sent a data URI that is not base64",
                )
            })?;
            return base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| {
                    ProviderError::new(
                        FailureKind::Fatal,
                        format!("Replicate sent an undecodable data URI: {e}"),
                    )
                });
        }
        if !(url.starts_with("https://") || same_origin(url, &self.base_url)) {
            return Err(ProviderError::new(
                FailureKind::Fatal,
                "Replicate sent an output URL that is not HTTPS",
            ));
        }
        let mut request = http::client()?.get(url);
        if same_origin(url, &self.base_url) {
            request = request.bearer_auth(key.expose());
        }
        let cap = usize::try_from(self.max_image_bytes).unwrap_or(usize::MAX);
        let answer = http::send(NAME, request, self.timeout, cap).await?;
        Ok(answer.body)
    }

    /// Every output of a finished prediction, downloaded in order.
    async fn download_all(
        &self,
        p: &api::Prediction,
        spec: &JobSpec,
        key: &ApiKey,
    ) -> Result<Vec<Output>, ProviderError> {
        if p.data_removed {
            return Err(ProviderError::new(
                FailureKind::NotFound,
                "Replicate has deleted this prediction's outputs (it keeps them an hour)",
            ));
        }
        let urls = p.output_urls();
        if urls.is_empty() {
            return Err(ProviderError::new(
                FailureKind::Fatal,
                "Replicate finished the prediction without an output file",
            ));
        }
        // The input's seed made a single output; for a batch, Replicate's
        // models do not say which seed each image came from.
        let seed = (urls.len() == 1 && spec.count == 1).then_some(spec.seed);
        let mut outputs = Vec::with_capacity(urls.len());
        for url in urls {
            outputs.push(Output {
                bytes: self.download(&url, key).await?,
                meta: OutputMeta {
                    seed,
                    revised_prompt: None,
                },
            });
        }
        Ok(outputs)
    }
}

/// Whether `url` is on the same scheme, host and port as `base`.
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// A file URL that has expired or was never ours to read: asking Replicate
/// for the prediction again gives fresh ones.
fn expired(e: &ProviderError) -> bool {
    matches!(e.http_status, Some(401 | 403 | 404 | 410))
}

fn key_of(key: Option<&ApiKey>) -> Result<&ApiKey, ProviderError> {
    key.ok_or_else(|| {
        ProviderError::new(
            FailureKind::Auth,
            "no API token for replicate: add one in Settings",
        )
    })
}

/// A failed prediction's kind: Replicate's safety checker says NSFW.
fn failure_of(p: &api::Prediction) -> ProviderErrorView {
    let text = p.error_text();
    let lower = text.to_lowercase();
    let kind = if lower.contains("nsfw") || lower.contains("safety") {
        FailureKind::ContentPolicy
    } else {
        FailureKind::Fatal
    };
    ProviderErrorView {
        kind,
        message: format!("Replicate: {text}"),
    }
}

fn status_of(p: &api::Prediction) -> PollStatus {
    match p.status.as_str() {
        "succeeded" => PollStatus::Done,
        "failed" => PollStatus::Failed(failure_of(p)),
        "canceled" | "aborted" => PollStatus::Failed(ProviderErrorView {
            kind: FailureKind::Fatal,
            message: format!("the prediction was {} at Replicate", p.status),
        }),
        // Replicate gives no queue position; `starting` is a cold boot or
        // a wait for capacity, which can take minutes: say so on the card.
        "starting" => PollStatus::Pending(Waiting {
            message: Some("Starting: Replicate is booting the model".into()),
            ..Waiting::default()
        }),
        // `processing`, and any status added later.
        _ => Waiting::progress(p.progress()),
    }
}

#[async_trait]
impl Provider for Replicate {
    fn id(&self) -> &'static str {
        ID
    }
    fn name(&self) -> &'static str {
        "Replicate"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn model(&self, id: &str) -> Option<super::ModelInfo> {
        if let Some(listed) = self.caps.model(id) {
            return Some(listed.clone());
        }
        let other = self.caps.other_models.as_ref()?;
        catalog::is_model_id(id).then(|| super::ModelInfo {
            id: id.to_string(),
            name: id.to_string(),
            ..other.clone()
        })
    }

    async fn submit(&self, req: &SubmitRequest<'_>) -> Result<Submitted, ProviderError> {
        let key = key_of(req.key)?;
        let spec = req.spec;
        let input = catalog::input(spec);
        let webhook = self.webhook_for(req);
        let (path, version) = match spec.model.split_once(':') {
            Some(_) => ("predictions".to_string(), Some(spec.model.as_str())),
            None => (format!("models/{}/predictions", spec.model), None),
        };
        let mut body = serde_json::to_value(api::CreatePrediction {
            input: &input,
            webhook: webhook.as_deref(),
            webhook_events_filter: webhook.as_ref().map(|_| &["completed"][..]),
        })
        .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
        if let (Some(version), Some(map)) = (version, body.as_object_mut()) {
            map.insert("version".into(), Value::String(version.into()));
        }
        let mut request = http::client()?
            .post(self.url(&path))
            .bearer_auth(key.expose())
            .json(&body);
        if catalog::is_fast(&spec.model) {
            request = request.header("Prefer", format!("wait={WAIT_SECONDS}"));
        }
        let answer = http::send(NAME, request, self.timeout, MAX_JSON).await?;
        // Accepted once Replicate answered 2xx: an answer we cannot read is
        // an unknown outcome (found again by listing), never a plain retry.
        let prediction: api::Prediction = answer.json(NAME).map_err(|mut e| {
            e.kind = FailureKind::Unknown;
            e
        })?;
        let handle = self.handle_of(&prediction);
        let text = serde_json::to_string(&handle)
            .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
        tracing::info!(prediction = %prediction.id, status = %prediction.status, "Replicate prediction created");
        if prediction.status == "succeeded" {
            // Finished within `Prefer: wait`: take the files now. A download
            // that fails leaves the prediction to poll (and fetch again).
            match self.download_all(&prediction, spec, key).await {
                Ok(outputs) => {
                    return Ok(Submitted::Done {
                        handle: text,
                        outputs,
                        cost_micros: None,
                    })
                }
                Err(e) => tracing::warn!(error = %e, "downloading at submit failed; will poll"),
            }
        }
        Ok(Submitted::Pending(text))
    }

    async fn find_submitted(
        &self,
        req: &SubmitRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
        let key = key_of(req.key)?;
        let input = catalog::input(req.spec);
        let webhook = self.webhook_for(req);
        // A minute of slack for clocks that disagree.
        let after = chrono::DateTime::from_timestamp_millis(req.created_at_ms - 60_000)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut first = reqwest::Url::parse(&self.url("predictions"))
            .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
        first.query_pairs_mut().append_pair("created_after", &after);
        let mut url = Some(first.to_string());
        for _ in 0..LIST_PAGES {
            let Some(page_url) = url.take() else { break };
            if !same_origin(&page_url, &self.base_url) {
                break;
            }
            let request = http::client()?.get(&page_url).bearer_auth(key.expose());
            let page: api::PredictionPage = http::send(NAME, request, SHORT_TIMEOUT, MAX_JSON)
                .await?
                .json(NAME)?;
            let found = page.results.iter().find(|p| {
                let model_ok = p
                    .model
                    .as_deref()
                    .is_none_or(|m| req.spec.model.starts_with(m));
                let webhook_ok = match (&webhook, &p.webhook) {
                    (Some(ours), Some(theirs)) => ours == theirs,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                model_ok && webhook_ok && p.input == input
            });
            if let Some(p) = found {
                let handle = serde_json::to_string(&self.handle_of(p))
                    .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
                return Ok(Some(handle));
            }
            url = page.next;
        }
        Ok(None)
    }

    async fn poll(
        &self,
        handle: &str,
        _spec: &JobSpec,
        key: Option<&ApiKey>,
    ) -> Result<PollStatus, ProviderError> {
        let key = key_of(key)?;
        let handle = self.parse_handle(handle)?;
        let p = self.get_prediction(&handle.get, key).await?;
        Ok(status_of(&p))
    }

    async fn fetch_outputs(
        &self,
        handle: &str,
        spec: &JobSpec,
        key: Option<&ApiKey>,
    ) -> Result<Vec<Output>, ProviderError> {
        let key = key_of(key)?;
        let handle = self.parse_handle(handle)?;
        // File URLs expire: when one is refused, the prediction is read
        // again for fresh URLs before anything fails.
        let mut last = None;
        for _ in 0..2 {
            let p = self.get_prediction(&handle.get, key).await?;
            if let PollStatus::Failed(view) = status_of(&p) {
                return Err(ProviderError::new(view.kind, view.message));
            }
            match self.download_all(&p, spec, key).await {
                Ok(outputs) => return Ok(outputs),
                Err(e) if expired(&e) => {
                    tracing::warn!(error = %e, "a Replicate output URL was refused; reading the prediction again");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        let detail = last.map(|e| e.message).unwrap_or_default();
        Err(ProviderError::new(
            FailureKind::NotFound,
            format!("Replicate's output files are no longer available ({detail})"),
        ))
    }

    async fn cancel(&self, handle: &str, key: Option<&ApiKey>) -> Result<(), ProviderError> {
        let key = key_of(key)?;
        let handle = self.parse_handle(handle)?;
        let request = http::client()?
            .post(&handle.cancel)
            .bearer_auth(key.expose());
        http::send(NAME, request, SHORT_TIMEOUT, MAX_JSON)
            .await
            .map(|_| ())
    }

    async fn check_key(&self, key: &ApiKey) -> Result<(), ProviderError> {
        let request = http::client()?
            .get(self.url("account"))
            .bearer_auth(key.expose());
        http::send(NAME, request, SHORT_TIMEOUT, MAX_JSON)
            .await
            .map(|_| ())
    }

    async fn webhook_secret(&self, key: &ApiKey) -> Result<Option<String>, ProviderError> {
        let request = http::client()?
            .get(self.url("webhooks/default/secret"))
            .bearer_auth(key.expose());
        let secret: api::WebhookSecret = http::send(NAME, request, SHORT_TIMEOUT, MAX_JSON)
            .await?
            .json(NAME)?;
        Ok(Some(secret.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_away_from_the_api_host_are_refused() {
        let r = Replicate::new(Some("http://127.0.0.1:9/v1"), SHORT_TIMEOUT, 1, None);
        let ok = r#"{"v":1,"id":"p","get":"http://127.0.0.1:9/v1/predictions/p","cancel":"http://127.0.0.1:9/v1/predictions/p/cancel"}"#;
        assert!(r.parse_handle(ok).is_ok());
        let away = r#"{"v":1,"id":"p","get":"https://evil.example/v1/predictions/p","cancel":"http://127.0.0.1:9/v1/predictions/p/cancel"}"#;
        assert_eq!(
            r.parse_handle(away).map_err(|e| e.kind).err(),
            Some(FailureKind::NotFound)
        );
    }
}
