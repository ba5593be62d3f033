//! Every change a job can go through, each one guarded transaction body.
//! Callers run these inside `Store::write` and publish the returned summary.

use crate::model::{Asset, JobStatus, JobStatus::*, JobSummary, LedgerKind};
use crate::store::jobs::{self as q, Change};
use crate::store::{ledger, Result};
use rusqlite::{params, OptionalExtension, Transaction};

const RUNNING: &[JobStatus] = &[Submitting, Processing, Saving];
const NON_TERMINAL: &[JobStatus] = &[Queued, Submitting, Processing, Saving];

/// Claim the next due job of `provider` if its concurrency limit allows:
/// writes the attempt row and the reservation before any provider call.
pub fn claim(
    tx: &Transaction<'_>,
    provider: &str,
    limit: u32,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<Option<JobSummary>> {
    if q::running_count(tx, provider, now)? >= limit {
        return Ok(None);
    }
    let Some(id) = q::next_due(tx, provider, now)? else {
        return Ok(None);
    };
    let attempt: u32 = tx.query_row(
        "SELECT attempt_count + 1 FROM jobs WHERE id = ?1",
        [&id],
        |r| r.get(0),
    )?;
    let detail = format!("claimed by worker {owner}, attempt {attempt}");
    let Some(job) = q::change(
        tx,
        &Change {
            id: &id,
            from: &[Queued],
            owner: None,
            to: Submitting,
            set: ", attempt_count = attempt_count + 1, lease_owner = ?5, lease_expires_at = ?6, \
                  handle = NULL, progress = NULL, error_code = NULL, error_message = NULL",
            args: &[&owner, &lease_until],
            detail: Some(&detail),
            attempt: Some(attempt),
            now,
        },
    )?
    else {
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
    owner: &str,
    handle: &str,
    detail: &str,
    now: i64,
) -> Result<Option<JobSummary>> {
    let out = q::change(
        tx,
        &Change {
            id: &job.id,
            from: &[Submitting],
            owner: Some(owner),
            to: Processing,
            set: ", handle = ?5, progress = 0.0",
            args: &[&handle],
            detail: Some(detail),
            attempt: Some(job.attempts),
            now,
        },
    )?;
    if out.is_some() {
        q::set_attempt_handle(tx, &job.id, job.attempts, handle)?;
    }
    Ok(out)
}

/// Progress while processing (no timeline line: it is not a state change).
pub fn progress(
    tx: &Transaction<'_>,
    job: &JobSummary,
    owner: &str,
    progress: f64,
    now: i64,
) -> Result<Option<JobSummary>> {
    q::change(
        tx,
        &Change {
            id: &job.id,
            from: &[Processing],
            owner: Some(owner),
            to: Processing,
            set: ", progress = ?5",
            args: &[&progress.clamp(0.0, 1.0)],
            detail: None,
            attempt: None,
            now,
        },
    )
}

/// The provider finished; the result is to be stored.
pub fn provider_done(
    tx: &Transaction<'_>,
    job: &JobSummary,
    owner: &str,
    now: i64,
) -> Result<Option<JobSummary>> {
    q::change(
        tx,
        &Change {
            id: &job.id,
            from: &[Processing],
            owner: Some(owner),
            to: Saving,
            set: ", progress = 1.0",
            args: &[],
            detail: Some("provider finished; saving to the library"),
            attempt: Some(job.attempts),
            now,
        },
    )
}

/// A retryable failure before anything was stored: back to the queue until
/// `next_run_at`. The reservation stays for the next attempt of this run.
#[allow(clippy::too_many_arguments)]
pub fn requeue(
    tx: &Transaction<'_>,
    job: &JobSummary,
    owner: &str,
    code: &str,
    message: &str,
    http_status: Option<u16>,
    next_run_at: i64,
    now: i64,
) -> Result<Option<JobSummary>> {
    let detail = format!(
        "attempt {} failed ({code}): {message}; retrying",
        job.attempts
    );
    let out = q::change(
        tx,
        &Change {
            id: &job.id,
            from: &[Submitting, Processing],
            owner: Some(owner),
            to: Queued,
            set: ", next_run_at = ?5, lease_owner = NULL, lease_expires_at = NULL, \
                  handle = NULL, progress = NULL, error_code = ?6, error_message = ?7",
            args: &[&next_run_at, &code, &message],
            detail: Some(&detail),
            attempt: Some(job.attempts),
            now,
        },
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

/// Storing must wait (library folder unavailable, download failed): stay in
/// `saving`, let the lease lapse at `retry_at` so recovery redoes the save.
/// Not a crash, so the lease owner is cleared and no crash is counted.
pub fn defer_saving(
    tx: &Transaction<'_>,
    job: &JobSummary,
    owner: &str,
    reason: &str,
    retry_at: i64,
    now: i64,
) -> Result<Option<JobSummary>> {
    let detail = format!("could not save yet: {reason}; will retry");
    q::change(
        tx,
        &Change {
            id: &job.id,
            from: &[Saving],
            owner: Some(owner),
            to: Saving,
            set: ", lease_owner = NULL, lease_expires_at = ?5, error_message = ?6",
            args: &[&retry_at, &reason],
            detail: Some(&detail),
            attempt: Some(job.attempts),
            now,
        },
    )
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
/// its lease); its side effects are keyed by UNIQUE constraints, so settling
/// twice changes nothing and charges nothing twice. Returns None when the job
/// was already terminal (or the worker lost it).
pub fn settle(
    tx: &Transaction<'_>,
    job_id: &str,
    owner: Option<&str>,
    outcome: &Outcome,
    now: i64,
) -> Result<Option<JobSummary>> {
    let (from, to, set, detail): (&[JobStatus], JobStatus, &str, String) = match outcome {
        Outcome::Completed { assets } => (
            &[Saving],
            Completed,
            ", lease_owner = NULL, lease_expires_at = NULL, progress = 1.0, crash_count = 0, \
               error_code = NULL, error_message = NULL, thumb_path = ?5, asset_count = ?6",
            format!("stored {} image(s)", assets.len()),
        ),
        Outcome::Failed { code, message, .. } => (
            NON_TERMINAL,
            Failed,
            ", lease_owner = NULL, lease_expires_at = NULL, error_code = ?5, error_message = ?6",
            format!("failed ({code}): {message}"),
        ),
        Outcome::Canceled { reason } => (
            NON_TERMINAL,
            Canceled,
            ", lease_owner = NULL, lease_expires_at = NULL, held = 0",
            format!("canceled: {reason}"),
        ),
    };
    let (code, message) = match outcome {
        Outcome::Failed { code, message, .. } => (code.as_str(), message.as_str()),
        _ => ("", ""),
    };
    let (thumb, asset_count) = match outcome {
        Outcome::Completed { assets } => (
            assets.first().map(|a| a.thumb_path.clone()),
            assets.len() as i64,
        ),
        _ => (None, 0),
    };
    let args: Vec<&dyn rusqlite::ToSql> = match outcome {
        Outcome::Failed { .. } => vec![&code, &message],
        Outcome::Completed { .. } => vec![&thumb, &asset_count],
        Outcome::Canceled { .. } => vec![],
    };
    let Some(job) = q::change(
        tx,
        &Change {
            id: job_id,
            from,
            owner,
            to,
            set,
            args: &args,
            detail: Some(&detail),
            attempt: None,
            now,
        },
    )?
    else {
        return Ok(None);
    };
    match outcome {
        Outcome::Completed { assets } => {
            for asset in assets {
                q::insert_asset(tx, &job.id, asset)?;
            }
            let amount = reserved_or_estimate(tx, &job)?;
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
    /// This worker now owns it and resumes it from its phase.
    Taken(JobSummary),
    /// In flight during too many consecutive crashes: held for the user.
    Held(JobSummary),
    /// Someone else got there first, or it changed meanwhile.
    Gone,
}

/// Take over a running job whose lease expired, or hold it if it keeps
/// crashing the engine. A lapsed lease with no owner is a deferred save, not
/// a crash, and is not counted.
pub fn recover(
    tx: &Transaction<'_>,
    job_id: &str,
    owner: &str,
    lease_until: i64,
    crash_limit: u32,
    now: i64,
) -> Result<Recovered> {
    let row: Option<(Option<String>, u32, String)> = tx
        .query_row(
            "SELECT lease_owner, crash_count, status FROM jobs WHERE id = ?1 AND held = 0 \
             AND status IN ('submitting','processing','saving') \
             AND (lease_expires_at IS NULL OR lease_expires_at <= ?2)",
            params![job_id, now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((previous_owner, crashes, status)) = row else {
        return Ok(Recovered::Gone);
    };
    let status: JobStatus = status
        .parse()
        .map_err(|e: crate::model::UnknownStatus| q::corrupt("jobs", e.to_string()))?;
    let crashed = previous_owner.is_some();
    let crashes = crashes + u32::from(crashed);
    if crashed && crashes >= crash_limit {
        let detail =
            format!("held: in flight during {crashes} consecutive crashes; resume or discard it");
        let held = q::change(
            tx,
            &Change {
                id: job_id,
                from: &[status],
                owner: None,
                to: status,
                set: ", held = 1, crash_count = ?5, lease_owner = NULL, lease_expires_at = NULL",
                args: &[&crashes],
                detail: Some(&detail),
                attempt: None,
                now,
            },
        )?;
        return Ok(held.map_or(Recovered::Gone, Recovered::Held));
    }
    let detail = match (crashed, previous_owner.as_deref()) {
        (true, Some(prev)) => {
            format!("worker {prev} stopped mid-{status}; resumed by {owner}")
        }
        _ => format!("resuming {status} (worker {owner})"),
    };
    let taken = q::change(
        tx,
        &Change {
            id: job_id,
            from: RUNNING,
            owner: None,
            to: status,
            set: ", lease_owner = ?5, lease_expires_at = ?6, crash_count = ?7",
            args: &[&owner, &lease_until, &crashes],
            detail: Some(&detail),
            attempt: None,
            now,
        },
    )?;
    Ok(taken.map_or(Recovered::Gone, Recovered::Taken))
}

/// The user's retry: a failed or canceled job starts a new run (new
/// attempts, new reservation) and a held job is released to run again.
pub fn retry(
    tx: &Transaction<'_>,
    job: &JobSummary,
    extra_attempts: u32,
    now: i64,
) -> Result<Option<JobSummary>> {
    if job.held && job.status.is_running() {
        return q::change(
            tx,
            &Change {
                id: &job.id,
                from: &[job.status],
                owner: None,
                to: job.status,
                set: ", held = 0, crash_count = 0, lease_owner = NULL, lease_expires_at = NULL",
                args: &[],
                detail: Some("resumed by the user"),
                attempt: None,
                now,
            },
        );
    }
    q::change(
        tx,
        &Change {
            id: &job.id,
            from: &[Failed, Canceled],
            owner: None,
            to: Queued,
            set: ", run = run + 1, max_attempts = attempt_count + ?5, next_run_at = ?2, \
                  held = 0, crash_count = 0, handle = NULL, progress = NULL, \
                  error_code = NULL, error_message = NULL",
            args: &[&extra_attempts],
            detail: Some("retried by the user"),
            attempt: None,
            now,
        },
    )
}
