//! The provider abstraction: one trait, one module per provider. A provider
//! declares what it can do and classifies every failure, so the scheduler can
//! decide between retrying, failing and asking the user.

pub mod catalog;
pub mod cooldown;
pub mod http;
pub mod http_errors;
pub mod offline;
pub mod openai;
pub mod replicate;

pub use catalog::{ModelInfo, ParamKind, ParamSpec, Price, SizeRule};

use crate::config::Config;
use crate::model::JobSpec;
use crate::secrets::{ApiKey, KeyState};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Capabilities {
    pub models: Vec<ModelInfo>,
    pub default_model: String,
    /// The rules for a model id typed by the user that is not in `models`
    /// (Replicate runs any `owner/name`); None: only listed models.
    pub other_models: Option<ModelInfo>,
    pub needs_key: bool,
    /// Reports progress while processing.
    pub progress: bool,
    /// Can cancel a job on its side.
    pub cancel: bool,
    /// How a submit whose answer was lost is found again (or not).
    pub reconciliation: Reconciliation,
    /// The provider's pace: it is polled no more often than this (nor than
    /// the configured `poll_interval_ms`).
    pub poll_interval_ms: u32,
    /// After this long without finishing, a job is failed (and canceled
    /// there): the provider has dropped or forgotten it. None: no limit.
    #[ts(type = "number | null")]
    pub processing_deadline_ms: Option<u64>,
}

impl Capabilities {
    pub fn model(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == id)
    }
}

/// How a provider lets Easel tell whether a submit reached it, so a lost
/// answer is never blindly sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Reconciliation {
    /// Sending again with the same idempotency key makes one generation.
    IdempotencyKey,
    /// Its recent jobs can be listed and ours recognized: "not found" is a
    /// definite answer.
    Listing,
    /// No way to ask: a resend may be a duplicate (marked in the timeline).
    NotFindable,
}

/// A model as the provider's own listing gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedModel {
    pub id: String,
    /// `YYYY-MM-DD`, when the provider has announced one.
    pub shutdown_date: Option<String>,
}

/// A provider as the generate panel sees it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ProviderInfo {
    pub id: String,
    /// Its display name ("OpenAI").
    pub name: String,
    pub capabilities: Capabilities,
    /// Announced shutdown dates (`YYYY-MM-DD`) by model id, from the
    /// provider's model listing (empty until it was read).
    pub shutdowns: BTreeMap<String, String>,
    /// Whether its key is in the keychain (jobs go only to usable providers).
    pub key: KeyState,
}

/// How a provider call failed; drives retry and the job's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Retryable,
    RateLimited,
    Auth,
    InvalidInput,
    ContentPolicy,
    NotFound,
    /// The account cannot pay (no credits, quota exhausted): never retried,
    /// the user adds credit and retries.
    NoCredits,
    /// The request may or may not have reached the provider (a timeout or a
    /// reset after sending). A submit is then reconciled with the provider,
    /// never blindly sent again; any other call is simply made again.
    Unknown,
    Fatal,
}

impl FailureKind {
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureKind::Retryable | FailureKind::RateLimited | FailureKind::Unknown
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            FailureKind::Retryable => "provider_unavailable",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Auth => "auth",
            FailureKind::InvalidInput => "invalid_input",
            FailureKind::ContentPolicy => "content_policy",
            FailureKind::NotFound => "not_found",
            FailureKind::NoCredits => "no_credits",
            FailureKind::Unknown => "outcome_unknown",
            FailureKind::Fatal => "provider_error",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: FailureKind,
    /// Human-readable, already free of secrets.
    pub message: String,
    pub http_status: Option<u16>,
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            http_status: None,
            retry_after: None,
        }
    }
}

/// A provider call without its key: a missing key is the user's to fix
/// (not retried); a keychain that cannot be reached may come back (a locked
/// keyring), so it is retried.
impl From<crate::secrets::KeyError> for ProviderError {
    fn from(e: crate::secrets::KeyError) -> Self {
        let kind = match e {
            crate::secrets::KeyError::Missing(_) => FailureKind::Auth,
            crate::secrets::KeyError::Unavailable(_) => FailureKind::Retryable,
        };
        ProviderError::new(kind, e.to_string())
    }
}

pub struct SubmitRequest<'a> {
    pub job_id: &'a str,
    pub attempt: u32,
    /// Derived from job id and attempt: the same on a resubmit after a crash.
    pub idempotency_key: String,
    pub spec: &'a JobSpec,
    /// When the job was created (Unix ms): reconciliation looks at the
    /// provider's jobs from then on.
    pub created_at_ms: i64,
    /// The provider's key, given by the engine (providers never read the
    /// key store); None for a provider that needs none.
    pub key: Option<&'a ApiKey>,
    /// Where a provider that streams its answer sends the partial images
    /// it gets meanwhile (`try_send`: a preview never holds up the submit).
    pub previews: Option<&'a PreviewSender>,
}

/// The engine's end of a streamed submit's previews.
pub type PreviewSender = tokio::sync::mpsc::Sender<Preview>;

/// What a submit got: a job to poll, or (a synchronous provider) the
/// finished outputs, already paid for.
#[derive(Debug)]
pub enum Submitted {
    Pending(String),
    Done {
        handle: String,
        outputs: Vec<Output>,
        /// What the provider says this cost (OpenAI's token usage), when
        /// it says; else the estimate is charged.
        cost_micros: Option<i64>,
    },
}

/// One output as the provider returned it: the encoded image and what the
/// provider said about it.
#[derive(Debug, Clone)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub meta: OutputMeta,
}

impl Output {
    /// An image with nothing more said about it.
    pub fn image(bytes: Vec<u8>) -> Output {
        Output {
            bytes,
            meta: OutputMeta::default(),
        }
    }
}

/// Per-output facts a provider may return: the seed it really used (it may
/// choose one), the prompt it rewrote. None: the request's value holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OutputMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PollStatus {
    Pending(Waiting),
    Done,
    Failed(ProviderErrorView),
}

/// What a provider says of a job it has not finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waiting {
    /// 0.0..=1.0, where it reports progress.
    pub progress: Option<f64>,
    /// Jobs ahead of this one in the provider's queue (0: next).
    pub queue_position: Option<u32>,
    /// What it is doing, in words for the card ("Starting the model").
    pub message: Option<String>,
    /// When it suggests asking again; never sooner than the provider's
    /// `poll_interval_ms`.
    pub next_poll: Option<Duration>,
    /// The latest partial image, where the provider shows one.
    pub preview: Option<Preview>,
}

/// A partial image of a job in progress: `step` grows with each new one
/// (a provider may send the same preview again on every poll).
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub step: u32,
    pub bytes: Vec<u8>,
}

impl Waiting {
    pub fn progress(progress: Option<f64>) -> PollStatus {
        PollStatus::Pending(Waiting {
            progress,
            ..Waiting::default()
        })
    }
}

/// A failure reported by a poll (the call worked, the generation did not).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderErrorView {
    pub kind: FailureKind,
    pub message: String,
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn id(&self) -> &'static str;
    /// Its name as people write it ("OpenAI"), for the UI.
    fn name(&self) -> &'static str {
        self.id()
    }
    fn capabilities(&self) -> &Capabilities;

    /// The rules for model `id`: a listed model, or (where the provider
    /// takes any model id of its form) its rules for other models.
    fn model(&self, id: &str) -> Option<ModelInfo> {
        self.capabilities().model(id).cloned()
    }

    fn estimate_cost_micros(&self, spec: &JobSpec) -> i64 {
        self.model(&spec.model).map_or(0, |m| {
            m.price_per_image(&spec.params) * i64::from(spec.count)
        })
    }

    /// Start a generation: the provider's handle to poll, or the outputs
    /// when the provider answers with them.
    async fn submit(&self, req: &SubmitRequest<'_>) -> Result<Submitted, ProviderError>;

    /// After a crash mid-submit: did the provider accept this request? Returns
    /// its handle if it can tell (listing, our id in its records).
    async fn find_submitted(
        &self,
        req: &SubmitRequest<'_>,
    ) -> Result<Option<String>, ProviderError>;

    async fn poll(
        &self,
        handle: &str,
        spec: &JobSpec,
        key: Option<&ApiKey>,
    ) -> Result<PollStatus, ProviderError>;

    /// Download every output image, in output order. Called once the
    /// provider is done, and staged at once: the URLs may expire soon after.
    async fn fetch_outputs(
        &self,
        handle: &str,
        spec: &JobSpec,
        key: Option<&ApiKey>,
    ) -> Result<Vec<Output>, ProviderError>;

    async fn cancel(&self, handle: &str, key: Option<&ApiKey>) -> Result<(), ProviderError>;

    /// Try `key` with the provider's cheapest authenticated call (listing
    /// models, reading the account), for the Test button in Settings. Only
    /// asked of providers that need a key; each of them implements it.
    /// The provider's own list of models, where it has one (OpenAI lists
    /// shutdown dates); None: it has no listing.
    async fn list_models(&self, _key: &ApiKey) -> Result<Option<Vec<ListedModel>>, ProviderError> {
        Ok(None)
    }

    /// The secret that signs this provider's webhooks, where it has one
    /// (Replicate serves it from its API).
    async fn webhook_secret(&self, _key: &ApiKey) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn check_key(&self, _key: &ApiKey) -> Result<(), ProviderError> {
        Err(ProviderError::new(
            FailureKind::Fatal,
            format!("{} cannot test a key", self.id()),
        ))
    }
}

/// The providers this engine knows, by id.
#[derive(Clone)]
pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl Registry {
    pub fn from_config(config: &Config) -> Self {
        let mut providers: BTreeMap<&'static str, Arc<dyn Provider>> = BTreeMap::new();
        let references = crate::references::References::new(config.references_dir());
        let offline = offline::OfflineProvider::new(config.offline.clone(), references);
        providers.insert(offline.id(), Arc::new(offline));
        let openai = openai::OpenAi::new(
            config.base_url(openai::ID),
            Duration::from_millis(config.provider_timeout_ms),
            config.image_limits.max_bytes,
            crate::references::References::new(config.references_dir()),
        );
        providers.insert(openai.id(), Arc::new(openai));
        let replicate = replicate::Replicate::new(
            config.base_url(replicate::ID),
            Duration::from_millis(config.provider_timeout_ms),
            config.image_limits.max_bytes,
            config
                .webhooks
                .public_url
                .as_deref()
                .map(|base| format!("{}/webhooks/replicate", base.trim_end_matches('/'))),
        );
        providers.insert(replicate.id(), Arc::new(replicate));
        Registry { providers }
    }

    /// Add (or replace) a provider, e.g. one pointed at a test emulator.
    pub fn insert(&mut self, provider: Arc<dyn Provider>) {
        self.providers.insert(provider.id(), provider);
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.providers.keys().copied()
    }
}
