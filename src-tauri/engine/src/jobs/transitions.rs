//! Every change a job can go through, each one guarded transaction body
//! built from typed state changes (`store::jobs::SetState`); the SQL lives
//! in `store/`. Callers run these inside `Store::write` and publish the
//! returned summary.

use crate::jobs::backoff;
use crate::model::{Asset, JobStatus, JobSummary, LedgerKind};
use crate::store::jobs::{self as q, Change, Lease, Note, SetState};
use crate::store::{ledger, Result};
use rusqlite::Transaction;

/// The lease a change is made under: the job's current owner and epoch.
pub fn lease_of(job: &JobSummary, owner: &str) -> Lease {
    Lease {
        owner: owner.to_string(),
        epoch: job.lease_epoch,
    }
}

fn apply(
    tx: &Transaction<'_>,
    id: &str,
    lease: Option<&Lease>,
    set: SetState<'_>,
    note: Note<'_>,
    attempt: Option<u32>,
    now: i64,
) -> Result<Option<JobSummary>> {
    q::change(
        tx,
        &Change {
            id,
            lease,
            set,
            note,
            attempt,
            now,
        },
    )
}

/// Claim the next due job of `provider` if its concurrency limit allows:
/// writes the attempt row and the reservation before any provider call.
/// The claim bumps the job's lease epoch: the returned job carries it.
pub fn claim(
    tx: &Transaction<'_>,
    provider: &str,
    limit: u32,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<Option<JobSummary>> {
    if q::running_count(tx, provider)? >= limit {
        return Ok(None);
    }
    let Some(id) = q::next_due(tx, provider, now)? else {
        return Ok(None);
    };
    let attempt = q::next_attempt(tx, &id)?;
    let detail = format!("claimed by worker {owner}, attempt {attempt}");
    let set = SetState::Claim {
        owner,
        until: lease_until,
    };
    let Some(job) = apply(tx, &id, None, set, Note::Line(&detail), Some(attempt), now)? else {
        return Ok(None);
    };
    q::insert_attempt(tx, &job.id, attempt, &job.provider, &job.model, now)?;
    ledger::record(
        tx,
        &job.id,
        job.run,
        LedgerKind::Reserve,
        job.estimated_cost_micros,
        now,
    )?;
    Ok(Some(job))
}

/// The provider accepted the job: store its handle (job and attempt).
pub fn accepted(
    tx: &Transaction<'_>,
    job: &JobSummary,
    lease: &Lease,
    handle: &str,
    detail: &str,
    now: i64,
) -> Result<Option<JobSummary>> {
    let set = SetState::Accepted { handle };
    let out = apply(
        tx,
        &job.id,
        Some(lease),
        set,
        Note::Line(detail),
        Some(job.attempts),
        now,
    )?;
    if out.is_some() {
        q::set_attempt_handle(tx, &job.id, job.attempts, handle)?;
        // A new submission: no cost said for it yet (not an earlier run's).
        q::set_provider_cost(tx, &job.id, None)?;
    }
    Ok(out)
}

/// What the provider says of a job it is working on.
pub struct Waiting<'a> {
    /// None: unchanged.
    pub progress: Option<f64>,
    pub queue_position: Option<u32>,
    pub message: Option<&'a str>,
}

/// Progress, queue position and the provider's message while processing
/// (no timeline line: it is not a state change).
pub fn waiting(
    tx: &Transaction<'_>,
    job: &JobSummary,
    lease: &Lease,
    change: &Waiting<'_>,
    now: i64,
) -> Result<Option<JobSummary>> {
    let set = SetState::Waiting {
        progress: change.progress,
        queue_position: change.queue_position,
        message: change.message,
    };
    apply(tx, &job.id, Some(lease), set, Note::None, None, now)
}

/// A new progress preview from the provider, while it submits (a streamed
/// answer) or processes; the status stays.
pub fn preview(
    tx: &Transaction<'_>,
    job: &JobSummary,
    lease: &Lease,
    path: &str,
    now: i64,
) -> Result<Option<JobSummary>> {
    apply(
        tx,
        &job.id,
        Some(lease),
        SetState::Preview { path },
        Note::None,
        None,
        now,
    )
}

/// The provider finished; the result is to be stored.
///
/// The run is charged now, in the same transaction: the provider billed it
/// when it finished, whatever happens to the images afterwards (a save
/// that fails, a cancel while saving). The amount is what the provider
/// reported (OpenAI's token usage), else the run's reservation.
pub fn provider_done(
    tx: &Transaction<'_>,
    job: &JobSummary,
    lease: &Lease,
    cost_micros: Option<i64>,
    now: i64,
) -> Result<Option<JobSummary>> {
    let note = Note::Line("provider finished; saving to the library");
    let done = apply(
        tx,
        &job.id,
        Some(lease),
        SetState::ProviderDone,
        note,
        Some(job.attempts),
        now,
    )?;
    if let Some(j) = &done {
        let amount = match cost_micros {
            Some(cost) => cost,
            None => reserved_or_estimate(tx, j)?,
        };
        ledger::record(tx, &j.id, j.run, LedgerKind::Charge, amount, now)?;
    }
    Ok(done)
}

/// Why a requeue happened.
pub struct Failure<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub http_status: Option<u16>,
}

/// A retryable failure before anything was stored: back to the queue until
/// `next_run_at`. The reservation stays for the next attempt of this run.
pub fn requeue(
    tx: &Transaction<'_>,
    job: &JobSummary,
    lease: &Lease,
    failure: &Failure<'_>,
    next_run_at: i64,
    now: i64,
) -> Result<Option<JobSummary>> {
    let Failure {
        code,
        message,
        http_status,
    } = *failure;
    let detail = format!(
        "attempt {} failed ({code}): {message}; retrying",
        job.attempts
    );
    let set = SetState::Requeue {
        at: next_run_at,
        code,
        message,
    };
    let out = apply(
        tx,
        &job.id,
        Some(lease),
        set,
        Note::Line(&detail),
        Some(job.attempts),
        now,
    )?;
    if out.is_some() {
        q::finish_attempt(
            tx,
            &job.id,
            job.attempts,
            code,
            http_status,
            Some(message),
            now,
        )?;
    }
    Ok(out)
}

/// How deferred saves back off and when they give up.
#[derive(Debug, Clone, Copy)]
pub struct DeferPolicy {
    pub base_ms: u64,
    pub max_ms: u64,
    /// After this long waiting, the job is held for the user.
    pub hold_after_ms: u64,
}

/// Storing must wait (library folder unavailable, disk full): stay in
/// `saving` with a growing, capped backoff, counted in one timeline line;
/// once it has waited `hold_after_ms`, hold the job for the user with the
/// reason. Not a crash: the lease owner is cleared and no crash is counted.
pub fn defer_saving(
    tx: &Transaction<'_>,
    job: &JobSummary,
    lease: &Lease,
    code: &str,
    reason: &str,
    policy: DeferPolicy,
    now: i64,
) -> Result<Option<JobSummary>> {
    let Some((deferrals, since)) = q::save_deferral(tx, &job.id)? else {
        return Ok(None);
    };
    let waited = since.map_or(0, |s| now.saturating_sub(s));
    if waited >= policy.hold_after_ms as i64 && deferrals > 0 {
        let line = format!(
            "held: could not save for {}: {reason}; resume once fixed",
            minutes(waited)
        );
        let set = SetState::HoldSave {
            code,
            reason: &line,
        };
        return apply(
            tx,
            &job.id,
            Some(lease),
            set,
            Note::Line(&line),
            Some(job.attempts),
            now,
        );
    }
    let tries = deferrals + 1;
    let wait = backoff::delay(tries, policy.base_ms, policy.max_ms, None);
    let retry_at = now + wait.as_millis() as i64;
    let line = format!(
        "could not save yet: {reason}; tried {tries} time{}, will retry",
        if tries == 1 { "" } else { "s" }
    );
    let set = SetState::DeferSave {
        retry_at,
        code,
        reason,
    };
    let note = Note::Repeat {
        prefix: "could not save yet:",
        line: &line,
    };
    apply(tx, &job.id, Some(lease), set, note, Some(job.attempts), now)
}

fn minutes(ms: i64) -> String {
    let m = ms / 60_000;
    if m < 1 {
        format!("{} s", ms / 1000)
    } else {
        format!("{m} min")
    }
}

/// How a job ends.
#[derive(Debug, Clone)]
pub enum Outcome {
    Completed {
        assets: Vec<Asset>,
    },
    Failed {
        code: String,
        message: String,
        http_status: Option<u16>,
    },
    Canceled {
        reason: String,
    },
}

/// The one settlement function: polls, webhooks, recovery and the user all
/// end jobs through it. Guarded by a non-terminal status (and, for a worker,
/// its lease and epoch); its side effects are keyed by UNIQUE constraints,
/// so settling twice changes nothing and charges nothing twice. Returns None
/// when the job was already terminal (or the worker lost it).
pub fn settle(
    tx: &Transaction<'_>,
    job_id: &str,
    lease: Option<&Lease>,
    outcome: &Outcome,
    now: i64,
) -> Result<Option<JobSummary>> {
    let (set, detail) = match outcome {
        Outcome::Completed { assets } => (
            SetState::Completed {
                thumb: assets.first().map(|a| a.thumb_path.as_str()),
                image: assets.first().map(|a| a.path.as_str()),
                assets: assets.len() as u32,
            },
            match assets.len() {
                1 => "stored 1 image".to_string(),
                n => format!("stored {n} images"),
            },
        ),
        Outcome::Failed { code, message, .. } => (
            SetState::Failed { code, message },
            format!("failed ({code}): {message}"),
        ),
        Outcome::Canceled { reason } => (SetState::Canceled, format!("canceled: {reason}")),
    };
    let Some(job) = apply(tx, job_id, lease, set, Note::Line(&detail), None, now)? else {
        return Ok(None);
    };
    match outcome {
        Outcome::Completed { assets } => {
            for asset in assets {
                q::insert_asset(tx, &job.id, asset)?;
            }
            // Charged when the provider finished (`provider_done`); a run
            // that reached that point under an older Easel is charged now
            // (ignored when already charged).
            let amount = match q::provider_cost(tx, &job.id)? {
                Some(cost) => cost,
                None => reserved_or_estimate(tx, &job)?,
            };
            ledger::record(tx, &job.id, job.run, LedgerKind::Charge, amount, now)?;
            q::finish_attempt(tx, &job.id, job.attempts, "succeeded", None, None, now)?;
        }
        Outcome::Failed {
            code,
            message,
            http_status,
        } => {
            release(tx, &job, now)?;
            q::finish_attempt(
                tx,
                &job.id,
                job.attempts,
                code,
                *http_status,
                Some(message),
                now,
            )?;
        }
        Outcome::Canceled { reason } => {
            release(tx, &job, now)?;
            q::finish_attempt(
                tx,
                &job.id,
                job.attempts,
                "canceled",
                None,
                Some(reason),
                now,
            )?;
        }
    }
    Ok(Some(job))
}

fn reserved_or_estimate(tx: &Transaction<'_>, job: &JobSummary) -> Result<i64> {
    Ok(ledger::open_reservation(tx, &job.id, job.run)?.unwrap_or(job.estimated_cost_micros))
}

fn release(tx: &Transaction<'_>, job: &JobSummary, now: i64) -> Result<()> {
    if let Some(amount) = ledger::open_reservation(tx, &job.id, job.run)? {
        ledger::record(tx, &job.id, job.run, LedgerKind::Release, amount, now)?;
    }
    Ok(())
}

/// What recovery did with a job whose lease expired.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovered {
    /// This worker now owns it (under a new epoch) and resumes it.
    Taken(JobSummary),
    /// In flight during too many consecutive crashes: held for the user.
    Held(JobSummary),
    /// Someone else got there first, or it changed meanwhile.
    Gone,
}

/// Take over a running job whose lease expired, or hold it if it keeps
/// crashing the engine. A lapsed lease with no owner (a clean release, a
/// deferred save) is not a crash and is not counted. The caller must not
/// recover a job it is running itself (see the scheduler's running set).
pub fn recover(
    tx: &Transaction<'_>,
    job_id: &str,
    owner: &str,
    lease_until: i64,
    crash_limit: u32,
    now: i64,
) -> Result<Recovered> {
    let Some(found) = q::recoverable(tx, job_id, now)? else {
        return Ok(Recovered::Gone);
    };
    let (previous_owner, crashes, status) = (found.owner, found.crashes, found.status);
    // No owner: released cleanly or a deferred save. This very worker: its
    // runner handed the job back after an error without a release. Neither
    // is a crash.
    let crashed = previous_owner.as_deref().is_some_and(|p| p != owner);
    let crashes = crashes + u32::from(crashed);
    if crashed && crashes >= crash_limit {
        let detail =
            format!("held: in flight during {crashes} consecutive crashes; resume or discard it");
        let set = SetState::HoldCrashed {
            crashes,
            reason: &detail,
        };
        let held = apply(tx, job_id, None, set, Note::Line(&detail), None, now)?;
        return Ok(held.map_or(Recovered::Gone, Recovered::Held));
    }
    let detail = match previous_owner.as_deref() {
        Some(prev) if crashed => format!("worker {prev} stopped mid-{status}; resumed by {owner}"),
        _ => format!("resuming {status} (worker {owner})"),
    };
    // A lapsed deferral is the planned retry of a save: its one counted
    // timeline line says so already.
    let planned_retry = previous_owner.is_none() && found.save_deferrals > 0;
    let note = if planned_retry {
        Note::None
    } else {
        Note::Line(&detail)
    };
    let set = SetState::TakeOver {
        owner,
        until: lease_until,
        crashes,
    };
    let taken = apply(tx, job_id, None, set, note, None, now)?;
    Ok(taken.map_or(Recovered::Gone, Recovered::Taken))
}

/// Recover a provider's interrupted jobs, oldest first, as far as its
/// concurrency limit allows (counting every job running under a live lease,
/// in any process, and those `running_here` late on their heartbeat), at
/// most `batch` in this transaction. The rest wait for a free slot: they
/// come before any queued job, whose claim counts them as running.
#[allow(clippy::too_many_arguments)]
pub fn recover_within_limit(
    tx: &Transaction<'_>,
    provider: &str,
    limit: u32,
    owner: &str,
    lease_until: i64,
    crash_limit: u32,
    now: i64,
    running_here: &dyn Fn(&str) -> bool,
    batch: usize,
) -> Result<Vec<Recovered>> {
    let mut live = q::live_running_count(tx, provider, now)?;
    let mut out = Vec::new();
    for id in q::expired_lease_ids(tx, provider, now)? {
        if running_here(&id) {
            live += 1;
            continue;
        }
        if live >= limit || out.len() >= batch {
            break;
        }
        let recovered = recover(tx, &id, owner, lease_until, crash_limit, now)?;
        if matches!(recovered, Recovered::Taken(_)) {
            live += 1;
        }
        out.push(recovered);
    }
    Ok(out)
}

/// The user's retry, decided on the row as it is inside the write
/// transaction (not on an earlier read): a held running job is resumed (its
/// guard requires `held`, so a second retry changes nothing and never
/// touches a live worker's lease); a failed or canceled job starts a new run
/// (new attempts, new reservation). Returns None when neither applies.
pub fn retry(
    tx: &Transaction<'_>,
    job_id: &str,
    extra_attempts: u32,
    now: i64,
) -> Result<Option<JobSummary>> {
    let Some(job) = q::get(tx, job_id)? else {
        return Ok(None);
    };
    if job.held && job.status.is_running() {
        let note = Note::Line("resumed by the user");
        return apply(tx, job_id, None, SetState::Resume, note, None, now);
    }
    if !matches!(job.status, JobStatus::Failed | JobStatus::Canceled) {
        return Ok(None);
    }
    let set = SetState::Retry { extra_attempts };
    let note = Note::Line("retried by the user");
    apply(tx, job_id, None, set, note, None, now)
}

/// The user moves a queued job to the front of its provider's queue.
pub fn move_to_front(tx: &Transaction<'_>, id: &str, now: i64) -> Result<Option<JobSummary>> {
    let note = Note::Line("moved to the front of the queue");
    apply(tx, id, None, SetState::MoveToFront, note, None, now)
}
