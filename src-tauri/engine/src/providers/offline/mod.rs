//! The built-in offline provider: no key, no network. It renders locally and
//! still goes through the asynchronous path of a cloud provider (submit gives
//! a handle, polls report progress, then the result is fetched), with a
//! simulated latency. It keeps no state: the handle says when the job was
//! accepted, so a restarted process can resume polling it like a cloud job.

pub mod render;

use super::{
    Capabilities, FailureKind, ModelInfo, Output, OutputMeta, PollStatus, Preview, Price, Provider,
    ProviderError, SizeRule, SubmitRequest, Submitted,
};
use crate::config::OfflineSettings;
use crate::model::JobSpec;
use crate::references::{References, MAX_REFERENCE_BYTES};
use crate::secrets::ApiKey;
use async_trait::async_trait;
use std::sync::Arc;

pub const ID: &str = "offline";
pub const MODEL: &str = "easel-landscape-1";
/// Paints the landscape over the job's reference images.
pub const REMIX_MODEL: &str = "easel-remix-1";

pub struct OfflineProvider {
    settings: OfflineSettings,
    caps: Capabilities,
    references: Arc<References>,
}

impl OfflineProvider {
    pub fn new(settings: OfflineSettings, references: References) -> Self {
        let model = |id: &str, name: &str, max_reference_images: u32| ModelInfo {
            id: id.into(),
            name: name.into(),
            sizes: SizeRule::Free {
                min_side: 64,
                max_side: 2048,
                multiple: 8,
                max_pixels: None,
                max_aspect: None,
            },
            max_count: 8,
            max_reference_images,
            max_reference_bytes: if max_reference_images > 0 {
                MAX_REFERENCE_BYTES
            } else {
                0
            },
            negative_prompt: true,
            params: Vec::new(),
            price: Price::per_image(settings.price_per_image_micros),
        };
        let caps = Capabilities {
            models: vec![
                model(MODEL, "Easel Landscape (offline)", 0),
                model(REMIX_MODEL, "Easel Remix (offline, from references)", 4),
            ],
            default_model: MODEL.into(),
            other_models: None,
            needs_key: false,
            progress: true,
            cancel: true,
            reconciliation: super::Reconciliation::IdempotencyKey,
            poll_interval_ms: 0,
            processing_deadline_ms: None,
        };
        OfflineProvider {
            settings,
            caps,
            references: Arc::new(references),
        }
    }
}

/// `off1.<accepted_at_ms>.<idempotency key>`
/// The picture forming, as a cloud model's partial images show it: a coarse
/// render from 40 % on, a finer one from 75 % (the landscape model's first
/// image; the remix model's previews would need its references read on
/// every poll).
fn preview(spec: &JobSpec, progress: f64) -> Option<Preview> {
    if spec.model == REMIX_MODEL {
        return None;
    }
    let (step, divisor) = match progress {
        p if p >= 0.75 => (1, 4),
        p if p >= 0.4 => (0, 16),
        _ => return None,
    };
    let (w, h) = (
        (spec.width / divisor).max(8),
        (spec.height / divisor).max(8),
    );
    let bytes = render::render_png(&spec.prompt, spec.seed, w, h).ok()?;
    Some(Preview { step, bytes })
}

fn parse_handle(handle: &str) -> Result<i64, ProviderError> {
    let mut parts = handle.splitn(3, '.');
    match (
        parts.next(),
        parts.next().map(str::parse::<i64>),
        parts.next(),
    ) {
        (Some("off1"), Some(Ok(at)), Some(_)) => Ok(at),
        _ => Err(ProviderError::new(
            FailureKind::NotFound,
            format!("not an offline job handle: {handle:?}"),
        )),
    }
}

#[async_trait]
impl Provider for OfflineProvider {
    fn id(&self) -> &'static str {
        ID
    }
    fn name(&self) -> &'static str {
        "Offline (built-in)"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn submit(&self, req: &SubmitRequest<'_>) -> Result<Submitted, ProviderError> {
        Ok(Submitted::Pending(format!(
            "off1.{}.{}",
            crate::store::now_ms(),
            req.idempotency_key
        )))
    }

    async fn find_submitted(
        &self,
        _req: &SubmitRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
        // Nothing is kept on "its side"; a resubmit is free and idempotent.
        Ok(None)
    }

    async fn poll(
        &self,
        handle: &str,
        spec: &JobSpec,
        _key: Option<&ApiKey>,
    ) -> Result<PollStatus, ProviderError> {
        let accepted_at = parse_handle(handle)?;
        let elapsed = (crate::store::now_ms() - accepted_at).max(0) as u64;
        let latency = self.settings.latency_ms;
        if elapsed >= latency {
            return Ok(PollStatus::Done);
        }
        let progress = elapsed as f64 / latency as f64;
        // Rendering is CPU work, even small: off the runtime's threads.
        let spec = spec.clone();
        let preview = tokio::task::spawn_blocking(move || preview(&spec, progress))
            .await
            .ok()
            .flatten();
        Ok(PollStatus::Pending(super::Waiting {
            progress: Some(progress),
            preview,
            ..super::Waiting::default()
        }))
    }

    async fn fetch_outputs(
        &self,
        handle: &str,
        spec: &JobSpec,
        _key: Option<&ApiKey>,
    ) -> Result<Vec<Output>, ProviderError> {
        parse_handle(handle)?;
        let spec = spec.clone();
        let references = Arc::clone(&self.references);
        // Rendering is CPU work: keep it off the async runtime's threads.
        tokio::task::spawn_blocking(move || {
            // A reference that vanished or went bad on disk fails the job
            // with the reason; it would fail the same way on every retry.
            let inputs = spec
                .reference_ids
                .iter()
                .map(|id| references.load(id))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
            (0..spec.count)
                .map(|i| {
                    let seed = spec.seed.wrapping_add(u64::from(i));
                    let (w, h) = (spec.width, spec.height);
                    if spec.model == REMIX_MODEL {
                        render::remix_png(&inputs, &spec.prompt, seed, w, h)
                    } else {
                        render::render_png(&spec.prompt, seed, w, h)
                    }
                    .map(|bytes| Output {
                        bytes,
                        meta: OutputMeta {
                            seed: Some(seed),
                            revised_prompt: None,
                        },
                    })
                    .map_err(|e| {
                        ProviderError::new(FailureKind::Fatal, format!("render failed: {e}"))
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| ProviderError::new(FailureKind::Fatal, format!("render task failed: {e}")))?
    }

    async fn cancel(&self, handle: &str, _key: Option<&ApiKey>) -> Result<(), ProviderError> {
        parse_handle(handle).map(|_| ())
    }
}
