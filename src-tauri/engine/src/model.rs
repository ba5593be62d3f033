//! Plain data types shared by the engine's modules and its callers (CLI, app).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a job stands. Stored as its lowercase name in `jobs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Submitting,
    Processing,
    Saving,
    Completed,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Submitting,
        JobStatus::Processing,
        JobStatus::Saving,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Submitting => "submitting",
            JobStatus::Processing => "processing",
            JobStatus::Saving => "saving",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    /// Terminal states are final for every automatic path (poll, webhook,
    /// recovery); only an explicit user retry starts a new run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Canceled
        )
    }

    /// A worker owns the job under a lease in these states.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            JobStatus::Submitting | JobStatus::Processing | JobStatus::Saving
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown job status {0:?} (expected one of queued, submitting, processing, saving, completed, failed, canceled)")]
pub struct UnknownStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// What the user asked for. Validated by `Engine::create_job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// Client request id: the same id twice yields the same job.
    pub request_id: String,
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// None = the configured default provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// None = the provider's default model.
    #[serde(default)]
    pub model: Option<String>,
    pub width: u32,
    pub height: u32,
    pub count: u32,
    /// None = a random seed, fixed at creation so a retry renders the same.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// The validated, stored description of what to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub provider: String,
    pub model: String,
    pub width: u32,
    pub height: u32,
    pub count: u32,
    pub seed: u64,
}

/// A job as the gallery and events see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: String,
    pub request_id: String,
    pub status: JobStatus,
    pub provider: String,
    pub model: String,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub width: u32,
    pub height: u32,
    pub count: u32,
    pub seed: u64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run: u32,
    /// 0.0..=1.0 while processing, where the provider reports it.
    pub progress: Option<f64>,
    pub next_run_at: i64,
    /// Held for the user after repeated crashes while in flight.
    pub held: bool,
    pub crash_count: u32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub estimated_cost_micros: i64,
    /// Global, monotonically increasing change number (see `store::seq`).
    pub seq: i64,
}

impl JobSummary {
    pub fn spec(&self) -> JobSpec {
        JobSpec {
            prompt: self.prompt.clone(),
            negative_prompt: self.negative_prompt.clone(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            width: self.width,
            height: self.height,
            count: self.count,
            seed: self.seed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    pub provider: String,
    pub model: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at: i64,
    pub from_status: Option<JobStatus>,
    pub to_status: JobStatus,
    pub attempt: Option<u32>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub output_index: u32,
    pub path: String,
    pub thumb_path: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    Reserve,
    Charge,
    Release,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Reserve => "reserve",
            LedgerKind::Charge => "charge",
            LedgerKind::Release => "release",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub run: u32,
    pub kind: LedgerKind,
    pub amount_micros: i64,
    pub at: i64,
}

/// Everything `easel-cli show` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub job: JobSummary,
    pub attempts: Vec<Attempt>,
    pub timeline: Vec<TimelineEntry>,
    pub assets: Vec<Asset>,
    pub ledger: Vec<LedgerEntry>,
}

/// One change to one job, in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub seq: i64,
    pub job: JobSummary,
}

/// Keyset paging: newest first; pass the last row's (created_at, id) to continue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub status: Option<JobStatus>,
    pub provider: Option<String>,
    /// FTS5 query over prompts.
    pub search: Option<String>,
    pub before: Option<(i64, String)>,
    pub limit: Option<u32>,
}
