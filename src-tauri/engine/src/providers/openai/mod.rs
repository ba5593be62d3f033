//! OpenAI Images (`https://api.openai.com/v1`): synchronous. A submit is
//! `POST /images/generations` (JSON), or `POST /images/edits` (multipart)
//! when the job has reference images; the images come back base64-encoded
//! in the answer, so the submit's outcome is `Done` and the engine stages
//! them before committing. OpenAI documents no idempotency key and no way
//! to list past generations: a lost answer can only be resent, which the
//! engine marks as a possible duplicate.

mod api;

use super::catalog::{ParamChoice, TokenPrices};
use super::http;
use super::{
    Capabilities, FailureKind, ListedModel, ModelInfo, Output, OutputMeta, ParamKind, ParamSpec,
    PollStatus, Preview, PreviewSender, Price, Provider, ProviderError, SizeRule, SubmitRequest,
    Submitted,
};
use crate::model::JobSpec;
use crate::references::References;
use crate::secrets::ApiKey;
use async_trait::async_trait;
use base64::Engine as _;
use std::time::Duration;

pub const ID: &str = "openai";
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const MODEL: &str = "gpt-image-2";
const NAME: &str = "OpenAI";

/// GPT Image's per-token prices in micro-dollars (dollars per million
/// tokens: text input $5, image input $10, image output $40). These are
/// GPT Image 1's published prices; GPT Image 2's are assumed to match
/// until OpenAI's pricing says otherwise.
const TOKEN_PRICES: TokenPrices = TokenPrices {
    text_input: 5,
    image_input: 10,
    image_output: 40,
};

/// A GPT Image model: any size with sides divisible by 16 up to 3840, an
/// aspect ratio up to 3:1 and at most 3840×2160 pixels (the smallest side
/// is our assumption, not documented); no negative prompt; quality, output
/// format and background. Billed by token; the per-image estimates are the
/// published ones for a 1024² image at each quality ("auto" as medium).
fn gpt_image(id: &str, name: &str) -> ModelInfo {
    let choice = |id: &str, name: &str, options: Vec<ParamChoice>, default: &str| ParamSpec {
        id: id.into(),
        name: name.into(),
        kind: ParamKind::Choice {
            options,
            default: default.into(),
        },
    };
    ModelInfo {
        id: id.into(),
        name: name.into(),
        sizes: SizeRule::Free {
            min_side: 256,
            max_side: 3840,
            multiple: 16,
            max_pixels: Some(3840 * 2160),
            max_aspect: Some(3.0),
        },
        max_count: 10,
        max_reference_images: 16,
        max_reference_bytes: 50 * 1024 * 1024,
        negative_prompt: false,
        params: vec![
            choice(
                "quality",
                "Quality",
                vec![
                    ParamChoice::priced("auto", "Auto", 42_000),
                    ParamChoice::priced("low", "Low", 11_000),
                    ParamChoice::priced("medium", "Medium", 42_000),
                    ParamChoice::priced("high", "High", 167_000),
                ],
                "auto",
            ),
            choice(
                "output_format",
                "Format",
                vec![
                    ParamChoice::new("png", "PNG"),
                    ParamChoice::new("jpeg", "JPEG"),
                    ParamChoice::new("webp", "WebP"),
                ],
                "png",
            ),
            choice(
                "background",
                "Background",
                vec![
                    ParamChoice::new("auto", "Auto"),
                    ParamChoice::new("opaque", "Opaque"),
                    ParamChoice::new("transparent", "Transparent"),
                ],
                "auto",
            ),
            // Partial images streamed while it works (one image per job;
            // each adds about 100 output tokens, charged from the usage).
            // Off by default: streaming is the user's choice. (It was kept
            // off after the kill harness found a resend generated twice
            // without the possible-duplicate mark: the mark was written
            // only with the answer, and lost when the worker died after
            // staging it. The fence now writes it before the resend; see
            // cli/tests/crash.rs, openai_possible_duplicate_survives_...)
            choice(
                "previews",
                "Previews",
                vec![
                    ParamChoice::new("0", "Off"),
                    ParamChoice::new("1", "1"),
                    ParamChoice::new("2", "2"),
                    ParamChoice::new("3", "3"),
                ],
                "0",
            ),
        ],
        price: Price {
            per_image_micros: 42_000,
            per_token: Some(TOKEN_PRICES),
        },
    }
}

/// Quick calls (listing models to test a key).
const SHORT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct OpenAi {
    base_url: String,
    timeout: Duration,
    /// Cap on an answer's size: `n` base64 images of at most this many bytes.
    max_image_bytes: u64,
    caps: Capabilities,
    references: References,
}

impl OpenAi {
    pub fn new(
        base_url: Option<&str>,
        timeout: Duration,
        max_image_bytes: u64,
        references: References,
    ) -> OpenAi {
        let caps = Capabilities {
            models: vec![gpt_image(MODEL, "GPT Image 2")],
            default_model: MODEL.into(),
            other_models: None,
            needs_key: true,
            progress: false,
            cancel: false,
            reconciliation: super::Reconciliation::NotFindable,
            poll_interval_ms: 0,
            processing_deadline_ms: None,
        };
        OpenAi {
            base_url: http::api_root(base_url, DEFAULT_BASE_URL),
            timeout,
            max_image_bytes,
            caps,
            references,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    /// Send a request that streams: partial images go to `previews` as they
    /// come; the completed event is the answer.
    async fn streamed(
        &self,
        request: reqwest::RequestBuilder,
        partials: u32,
        previews: &PreviewSender,
    ) -> Result<(http::Answer, api::ImagesResponse), ProviderError> {
        let mut completed: Option<api::StreamEvent> = None;
        let mut refused: Option<String> = None;
        let mut on_event = |data: &str| -> Result<(), ProviderError> {
            if data == "[DONE]" {
                return Ok(());
            }
            // Once OpenAI answered 200 it is generating (and billing): an
            // event we cannot read is an unknown outcome.
            let event: api::StreamEvent = serde_json::from_str(data).map_err(|e| {
                ProviderError::new(
                    FailureKind::Unknown,
                    format!("OpenAI sent an event Easel cannot read: {e}"),
                )
            })?;
            match event.kind.as_str() {
                k if k.ends_with(".partial_image") => {
                    let bytes = event
                        .b64_json
                        .as_deref()
                        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
                    if let Some(bytes) = bytes {
                        let step = event.partial_image_index.unwrap_or(0);
                        // A full channel drops this preview, never the job.
                        let _ = previews.try_send(Preview { step, bytes });
                    }
                }
                k if k.ends_with(".completed") => completed = Some(event),
                "error" => {
                    refused = Some(event.error.map(|e| e.message).unwrap_or_default());
                }
                _ => {}
            }
            Ok(())
        };
        let answer = http::send_events(
            NAME,
            request,
            self.timeout,
            self.max_body(1 + partials),
            &mut on_event,
        )
        .await?;
        if let Some(message) = refused {
            return Err(ProviderError::new(
                FailureKind::Fatal,
                format!("OpenAI stopped the generation: {message}"),
            ));
        }
        let Some(done) = completed else {
            return Err(ProviderError::new(
                FailureKind::Unknown,
                "OpenAI's stream ended before the image",
            ));
        };
        let parsed = api::ImagesResponse {
            created: done.created_at.unwrap_or_default(),
            data: vec![api::ImageData {
                b64_json: done.b64_json.unwrap_or_default(),
                revised_prompt: done.revised_prompt,
            }],
            usage: done.usage,
        };
        Ok((answer, parsed))
    }

    fn max_body(&self, n: u32) -> usize {
        let per_image = self.max_image_bytes.saturating_mul(4) / 3 + 4096;
        usize::try_from(per_image.saturating_mul(u64::from(n)) + 64 * 1024).unwrap_or(usize::MAX)
    }

    /// The edit request: the job's reference images as `image[]` parts.
    async fn edit_form(
        &self,
        spec: &JobSpec,
        size: String,
    ) -> Result<reqwest::multipart::Form, ProviderError> {
        let mut form = reqwest::multipart::Form::new()
            .text("model", spec.model.clone())
            .text("prompt", spec.prompt.clone())
            .text("n", spec.count.to_string())
            .text("size", size)
            .text(
                "output_format",
                ModelInfo::text(&spec.params, "output_format")
                    .unwrap_or("png")
                    .to_string(),
            );
        for id in ["quality", "background"] {
            if let Some(value) = ModelInfo::text(&spec.params, id) {
                form = form.text(id, value.to_string());
            }
        }
        for id in &spec.reference_ids {
            let path = self
                .references
                .path(id)
                .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
            let read = tokio::task::spawn_blocking({
                let path = path.clone();
                move || std::fs::read(path)
            })
            .await
            .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
            let bytes = read.map_err(|e| {
                ProviderError::new(
                    FailureKind::Fatal,
                    format!("cannot read reference image {}: {e}", path.display()),
                )
            })?;
            let (name, mime) = match image::guess_format(&bytes) {
                Ok(image::ImageFormat::Jpeg) => ("reference.jpg", "image/jpeg"),
                Ok(image::ImageFormat::WebP) => ("reference.webp", "image/webp"),
                _ => ("reference.png", "image/png"),
            };
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(mime)
                .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))?;
            form = form.part("image[]", part);
        }
        Ok(form)
    }
}

fn key_of(key: Option<&ApiKey>) -> Result<&ApiKey, ProviderError> {
    key.ok_or_else(|| {
        ProviderError::new(
            FailureKind::Auth,
            "no API key for openai: add one in Settings",
        )
    })
}

#[async_trait]
impl Provider for OpenAi {
    fn id(&self) -> &'static str {
        ID
    }
    fn name(&self) -> &'static str {
        "OpenAI"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn submit(&self, req: &SubmitRequest<'_>) -> Result<Submitted, ProviderError> {
        let key = key_of(req.key)?;
        let spec = req.spec;
        let size = format!("{}x{}", spec.width, spec.height);
        // Jobs from before parameters existed asked for PNG and nothing
        // else.
        let param = |id: &str| ModelInfo::text(&spec.params, id);
        let format = param("output_format").unwrap_or("png");
        // Partial images come one image at a time: a job of several images
        // is sent as one plain request instead.
        let partials = param("previews")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| *n > 0 && spec.count == 1)
            .zip(req.previews);
        let client = http::client()?;
        let request = if spec.reference_ids.is_empty() {
            let body = api::GenerationRequest {
                model: &spec.model,
                prompt: &spec.prompt,
                n: spec.count,
                size: &size,
                output_format: format,
                quality: param("quality"),
                background: param("background"),
                stream: partials.map(|_| true),
                partial_images: partials.map(|(n, _)| n),
            };
            client.post(self.url("images/generations")).json(&body)
        } else {
            let mut form = self.edit_form(spec, size).await?;
            if let Some((n, _)) = partials {
                form = form
                    .text("stream", "true")
                    .text("partial_images", n.to_string());
            }
            client.post(self.url("images/edits")).multipart(form)
        };
        let request = request.bearer_auth(key.expose());
        let (answer, parsed) = match partials {
            Some((n, previews)) => self.streamed(request, n, previews).await?,
            None => {
                let answer =
                    http::send(NAME, request, self.timeout, self.max_body(spec.count)).await?;
                // The images exist (and were billed) once OpenAI answered
                // 200: an answer we cannot read is an unknown outcome, never
                // a plain retry.
                let parsed: api::ImagesResponse = answer.json(NAME).map_err(|mut e| {
                    e.kind = FailureKind::Unknown;
                    e
                })?;
                (answer, parsed)
            }
        };
        let outputs = parsed
            .data
            .into_iter()
            .enumerate()
            .map(|(i, image)| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(image.b64_json.as_bytes())
                    .map_err(|e| {
                        ProviderError::new(
                            FailureKind::Fatal,
                            format!("OpenAI sent image {i} in a form Easel cannot decode: {e}"),
                        )
                    })?;
                Ok(Output {
                    bytes,
                    meta: OutputMeta {
                        seed: None,
                        revised_prompt: image.revised_prompt,
                    },
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        let handle = format!(
            "openai:{}:{}",
            parsed.created,
            answer.header("x-request-id").unwrap_or("-")
        );
        let cost_micros = parsed.usage.as_ref().map(|usage| {
            tracing::info!(
                input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens,
                "OpenAI usage"
            );
            let prices = self
                .model(&spec.model)
                .and_then(|m| m.price.per_token)
                .unwrap_or(TOKEN_PRICES);
            usage.cost_micros(&prices)
        });
        Ok(Submitted::Done {
            handle,
            outputs,
            cost_micros,
        })
    }

    async fn find_submitted(
        &self,
        _req: &SubmitRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
        // OpenAI keeps no list of image generations to look in.
        Ok(None)
    }

    async fn poll(
        &self,
        _handle: &str,
        _spec: &JobSpec,
        _key: Option<&ApiKey>,
    ) -> Result<PollStatus, ProviderError> {
        // Never reached: a submit answers with the images, staged and
        // committed with it.
        Err(ProviderError::new(
            FailureKind::NotFound,
            "OpenAI keeps no job to poll: its images come with the submit's answer",
        ))
    }

    async fn fetch_outputs(
        &self,
        _handle: &str,
        _spec: &JobSpec,
        _key: Option<&ApiKey>,
    ) -> Result<Vec<Output>, ProviderError> {
        Err(ProviderError::new(
            FailureKind::NotFound,
            "OpenAI keeps no images to download: they came with the submit's answer",
        ))
    }

    async fn cancel(&self, _handle: &str, _key: Option<&ApiKey>) -> Result<(), ProviderError> {
        // A synchronous request cannot be canceled once sent.
        Ok(())
    }

    async fn list_models(&self, key: &ApiKey) -> Result<Option<Vec<ListedModel>>, ProviderError> {
        let request = http::client()?
            .get(self.url("models"))
            .bearer_auth(key.expose());
        let listed: api::ModelList = http::send(NAME, request, SHORT_TIMEOUT, 4 * 1024 * 1024)
            .await?
            .json(NAME)?;
        Ok(Some(
            listed
                .data
                .into_iter()
                .map(|m| ListedModel {
                    id: m.id,
                    shutdown_date: m.shutdown_date,
                })
                .collect(),
        ))
    }

    async fn check_key(&self, key: &ApiKey) -> Result<(), ProviderError> {
        let request = http::client()?
            .get(self.url("models"))
            .bearer_auth(key.expose());
        http::send(NAME, request, SHORT_TIMEOUT, 4 * 1024 * 1024)
            .await
            .map(|_| ())
    }
}
