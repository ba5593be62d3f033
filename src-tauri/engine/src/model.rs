//! Plain data types shared by the engine's modules and its callers (CLI, app).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// Where a job stands. Stored as its lowercase name in `jobs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
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

    /// The states a worker owns the job in, under a lease. The one
    /// definition: `is_running` and the store's SQL derive from it.
    pub const RUNNING: [JobStatus; 3] = [
        JobStatus::Submitting,
        JobStatus::Processing,
        JobStatus::Saving,
    ];

    /// Every state that is not terminal.
    pub const NON_TERMINAL: [JobStatus; 4] = [
        JobStatus::Queued,
        JobStatus::Submitting,
        JobStatus::Processing,
        JobStatus::Saving,
    ];

    /// A worker owns the job under a lease in these states.
    pub fn is_running(self) -> bool {
        Self::RUNNING.contains(&self)
    }

    /// The allowed-transition table. The store checks it on every change it
    /// applies, so no code path can make a transition that is not listed.
    pub fn may_become(self, to: JobStatus) -> bool {
        use JobStatus::*;
        match (self, to) {
            // Claimed by a worker.
            (Queued, Submitting) => true,
            // Accepted by the provider; progress updates stay in processing.
            (Submitting, Processing) | (Processing, Processing) => true,
            // Provider finished; the result is being stored.
            (Processing, Saving) => true,
            // Stored: the only way to completed.
            (Saving, Completed) => true,
            // A retryable failure before anything was stored goes back to the queue.
            (Submitting, Queued) | (Processing, Queued) => true,
            // A takeover, a deferred save or a hold keeps the phase.
            (Submitting, Submitting) | (Saving, Saving) => true,
            // Moved in the queue by the user.
            (Queued, Queued) => true,
            // Give up, or the user cancels, from any non-terminal state.
            (f, Failed) | (f, Canceled) if !f.is_terminal() => true,
            // Only an explicit user retry leaves a terminal failure.
            (Failed, Queued) | (Canceled, Queued) => true,
            _ => false,
        }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewJob {
    /// Client request id: the same id twice yields the same job.
    pub request_id: String,
    pub prompt: String,
    #[serde(default)]
    #[ts(optional)]
    pub negative_prompt: Option<String>,
    /// None = the configured default provider.
    #[serde(default)]
    #[ts(optional)]
    pub provider: Option<String>,
    /// None = the provider's default model.
    #[serde(default)]
    #[ts(optional)]
    pub model: Option<String>,
    pub width: u32,
    pub height: u32,
    pub count: u32,
    /// None = a random seed, fixed at creation so a retry renders the same.
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub seed: Option<u64>,
    /// Ids of imported reference images (`Engine::import_reference`), for
    /// models that take them.
    #[serde(default)]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub reference_ids: Vec<String>,
    /// The model's own settings (`ModelInfo::params`); a missing one takes
    /// its default.
    #[serde(default)]
    #[ts(as = "Option<Params>", optional)]
    pub params: Params,
}

/// A parameter's value as a request carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(untagged)]
#[ts(export)]
pub enum ParamValue {
    Bool(bool),
    Int(#[ts(type = "number")] i64),
    Text(String),
}

impl ParamValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Bool(b) => (*b).into(),
            ParamValue::Int(i) => (*i).into(),
            ParamValue::Text(s) => s.as_str().into(),
        }
    }
}

pub type Params = std::collections::BTreeMap<String, ParamValue>;

/// The validated, stored description of what to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JobSpec {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub provider: String,
    pub model: String,
    pub width: u32,
    pub height: u32,
    pub count: u32,
    #[ts(type = "number")]
    pub seed: u64,
    pub reference_ids: Vec<String>,
    /// Every parameter of the model, defaults filled in.
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub params: Params,
}

/// A job as the gallery and events see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
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
    #[ts(type = "number")]
    pub seed: u64,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run: u32,
    /// 0.0..=1.0 while processing, where the provider reports it.
    pub progress: Option<f64>,
    #[ts(type = "number")]
    pub next_run_at: i64,
    /// Held for the user after repeated crashes while in flight.
    pub held: bool,
    pub crash_count: u32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    #[ts(type = "number")]
    pub estimated_cost_micros: i64,
    /// Global, monotonically increasing change number (see `store::seq`).
    #[ts(type = "number")]
    pub seq: i64,
    pub favorite: bool,
    /// The first image's thumbnail, once completed.
    pub thumb_path: Option<String>,
    /// The first image's file in the library (what dragging a card out
    /// hands to another app).
    pub image_path: Option<String>,
    pub asset_count: u32,
    pub reference_ids: Vec<String>,
    /// The fencing token of the current claim or takeover: every change a
    /// worker makes is guarded by it, so a runner that lost its lease
    /// changes nothing.
    #[ts(type = "number")]
    pub lease_epoch: i64,
    /// The model's settings it was asked with.
    pub params: Params,
    /// While waiting at the provider: its place in the provider's queue,
    /// and what the provider says it is doing, where it says.
    pub queue_position: Option<u32>,
    pub provider_message: Option<String>,
    /// Its place in the local queue: higher starts first ("move to
    /// front"), then the oldest.
    #[ts(type = "number")]
    pub priority: i64,
    /// Deleted (its files in the trash) and not yet purged: hidden from the
    /// gallery; Undo brings it back.
    pub deleted: bool,
    /// The comparison this job belongs to: one prompt sent to several
    /// models at once (`Engine::create_group`).
    pub group_id: Option<String>,
    /// The latest progress preview the provider sent while it works (a
    /// file in the data folder), until the job settles.
    pub preview_path: Option<String>,
}

impl JobSummary {
    /// Finished, or waiting for the user (held): nothing runs it now.
    pub fn is_terminal_or_held(&self) -> bool {
        self.status.is_terminal() || self.held
    }

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
            reference_ids: self.reference_ids.clone(),
            params: self.params.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Attempt {
    pub number: u32,
    pub provider: String,
    pub model: String,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TimelineEntry {
    #[ts(type = "number")]
    pub seq: i64,
    #[ts(type = "number")]
    pub at: i64,
    pub from_status: Option<JobStatus>,
    pub to_status: JobStatus,
    pub attempt: Option<u32>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Asset {
    pub output_index: u32,
    pub path: String,
    pub thumb_path: String,
    pub width: u32,
    pub height: u32,
    #[ts(type = "number")]
    pub bytes: u64,
    pub sha256: String,
    #[ts(type = "number")]
    pub created_at: i64,
    pub favorite: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LedgerEntry {
    pub run: u32,
    pub kind: LedgerKind,
    #[ts(type = "number")]
    pub amount_micros: i64,
    #[ts(type = "number")]
    pub at: i64,
}

/// Everything `easel-cli show` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JobDetail {
    pub job: JobSummary,
    pub attempts: Vec<Attempt>,
    pub timeline: Vec<TimelineEntry>,
    pub assets: Vec<Asset>,
    pub ledger: Vec<LedgerEntry>,
}

/// One change to one job, in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JobEvent {
    #[ts(type = "number")]
    pub seq: i64,
    /// The seq of the previous event on the same stream: a listener whose
    /// last seen seq differs has missed something and should refetch.
    #[ts(type = "number")]
    pub prev_seq: i64,
    pub job: JobSummary,
}

/// A board in the side list: a plain board holds images; a smart board
/// holds a saved filter and shows the jobs that match it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Board {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// A smart board's filter (no paging, no board).
    pub filter: Option<ListQuery>,
    /// Jobs on the board (or matching its filter) the gallery shows.
    pub count: u32,
}

/// One image of a job, or (without `output_index`) all its images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImageRef {
    pub job_id: String,
    #[ts(optional)]
    pub output_index: Option<u32>,
}

/// A prompt in the generate panel's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PromptEntry {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    /// When a job last used it (for a favorite never used: when starred).
    #[ts(type = "number")]
    pub last_used: i64,
    pub favorite: bool,
}

/// The prompt history: starred prompts, then recent ones (newest first,
/// each prompt once), both narrowed by a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PromptHistory {
    pub favorites: Vec<PromptEntry>,
    pub recent: Vec<PromptEntry>,
}

/// The queue as the queue drawer shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct QueueView {
    /// Running jobs first, then queued ones in the order they will start.
    pub jobs: Vec<JobSummary>,
    /// Paused by the user: no new job starts until it is resumed.
    pub paused: bool,
}

/// A date filter relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Period {
    /// Since local midnight.
    Today,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

impl Period {
    /// When the period starts (Unix ms), seen from `now` in its time zone.
    pub fn start_ms<Tz: chrono::TimeZone>(self, now: &chrono::DateTime<Tz>) -> i64 {
        const DAY_MS: i64 = 86_400_000;
        let at = now.timestamp_millis();
        match self {
            Period::Today => now
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .and_then(|midnight| midnight.and_local_timezone(now.timezone()).earliest())
                .map_or(at - DAY_MS, |m| m.timestamp_millis()),
            Period::Week => at - 7 * DAY_MS,
            Period::Month => at - 30 * DAY_MS,
        }
    }
}

/// Keyset paging: newest first; pass the last row's (created_at, id) to continue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct ListQuery {
    #[ts(optional)]
    pub status: Option<JobStatus>,
    #[ts(optional)]
    pub provider: Option<String>,
    #[ts(optional)]
    pub model: Option<String>,
    /// Only jobs created at or after this time (ms since the epoch).
    #[ts(optional, type = "number")]
    pub created_since: Option<i64>,
    /// Only jobs created in this period, counted from now at each query (a
    /// smart board saved as "last 7 days" stays the last 7 days).
    #[ts(optional)]
    pub period: Option<Period>,
    /// FTS5 query over prompts: every word, as a prefix.
    #[ts(optional)]
    pub search: Option<String>,
    #[ts(optional)]
    pub favorite: Option<bool>,
    #[ts(optional)]
    pub held: Option<bool>,
    /// Only jobs with an image on this board.
    #[ts(optional, type = "number")]
    pub board: Option<i64>,
    #[ts(optional, type = "[number, string]")]
    pub before: Option<(i64, String)>,
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// What the app shows at launch about jobs an earlier run left unfinished.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StartupReport {
    /// Jobs in flight when the last run stopped; being resumed now.
    pub interrupted: Vec<String>,
    /// Jobs held for the user (after repeated crashes, or a save that could
    /// not happen), waiting for Resume or Cancel job.
    pub held: Vec<JobSummary>,
    /// What was wrong but not fatal in `config.toml` (unknown keys, say).
    pub config_warnings: Vec<String>,
}

/// Jobs not yet settled: waiting to run, and running (held jobs excluded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ActiveCounts {
    pub queued: u32,
    pub running: u32,
}

/// The receiver as Settings shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct WebhookStatus {
    pub enabled: bool,
    /// `127.0.0.1:PORT` while listening.
    pub listening: Option<String>,
    /// Where providers are told to deliver (the user's tunnel).
    pub public_url: Option<String>,
    /// Why the receiver is not listening.
    pub error: Option<String>,
    pub last_delivery: Option<WebhookDelivery>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct WebhookDelivery {
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub at: i64,
    pub provider: String,
    pub job_id: Option<String>,
    /// `accepted`, `duplicate`, or why it was refused.
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::Period;
    use chrono::{FixedOffset, TimeZone};

    #[test]
    fn periods_start_from_now_and_today_from_local_midnight() {
        // 2026-12-01 01:30 at UTC+2 is 2026-11-30 23:30 UTC.
        let zone = FixedOffset::east_opt(2 * 3600).expect("zone");
        let now = zone
            .with_ymd_and_hms(2026, 12, 1, 1, 30, 0)
            .single()
            .expect("time");
        let midnight = zone
            .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .single()
            .expect("midnight");
        assert_eq!(Period::Today.start_ms(&now), midnight.timestamp_millis());
        let at = now.timestamp_millis();
        assert_eq!(Period::Week.start_ms(&now), at - 7 * 86_400_000);
        assert_eq!(Period::Month.start_ms(&now), at - 30 * 86_400_000);
    }
}
