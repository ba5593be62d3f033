//! Drives one job through its phases (submit, poll, save) while holding its
//! lease. Every step is a guarded transition: when the job was canceled or
//! taken over meanwhile, the step changes nothing and the runner stops.

use crate::engine::Shared;
use crate::error::EngineError;
use crate::jobs::backoff;
use crate::jobs::transitions::{self, Outcome};
use crate::library::metadata::GenerationParams;
use crate::library::LibraryError;
use crate::model::{Asset, JobStatus, JobSummary};
use crate::providers::{PollStatus, Provider, ProviderError, SubmitRequest};
use crate::store::jobs as q;
use crate::store::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Run `job` (owned by this worker) to the end of what this worker can do.
pub(crate) async fn drive(sh: Arc<Shared>, job: JobSummary, recovered: bool) {
    let span = tracing::info_span!(
        "job",
        job_id = %job.id,
        provider = %job.provider,
        attempt = job.attempts
    );
    let id = job.id.clone();
    async move {
        tokio::select! {
            result = phases(&sh, job, recovered) => {
                if let Err(e) = result {
                    // The lease lapses and recovery resumes the job.
                    tracing::error!(error = %e, "job step failed; recovery will resume it");
                }
            }
            () = keep_lease(&sh, &id) => {
                tracing::warn!("lost the job's lease (canceled or taken over); stopping");
            }
        }
    }
    .instrument(span)
    .await
}

/// Renew the lease until it is lost.
async fn keep_lease(sh: &Arc<Shared>, id: &str) {
    let every = Duration::from_millis((sh.config.lease_ms / 3).max(50));
    loop {
        tokio::time::sleep(every).await;
        let (key, owner, until) = (
            id.to_string(),
            sh.worker_id.clone(),
            now_ms() + sh.config.lease_ms as i64,
        );
        match sh
            .db(move |s| s.write(|tx| q::heartbeat(tx, &key, &owner, until)))
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "heartbeat failed; will try again"),
        }
    }
}

async fn phases(sh: &Arc<Shared>, mut job: JobSummary, recovered: bool) -> Result<(), EngineError> {
    let Some(provider) = sh.providers.get(&job.provider).cloned() else {
        let outcome = Outcome::Failed {
            code: "unknown_provider".into(),
            message: format!("provider {:?} is not available in this build", job.provider),
            http_status: None,
        };
        settle(sh, &job, outcome).await?;
        return Ok(());
    };
    let mut recovered = recovered;
    loop {
        let next = match job.status {
            JobStatus::Submitting => submit(sh, provider.as_ref(), job, recovered).await?,
            JobStatus::Processing => poll(sh, provider.as_ref(), job).await?,
            JobStatus::Saving => save(sh, provider.as_ref(), job).await?,
            _ => None,
        };
        match next {
            Some(j) => job = j,
            None => return Ok(()),
        }
        recovered = false;
    }
}

/// Test hook (see `Shared::crashpoint`): announce the point, then stop here
/// forever so the test can kill the process at exactly this phase.
pub(crate) async fn crashpoint(sh: &Shared, name: &str, job_id: &str) {
    if sh.crashpoint.as_deref() == Some(name) {
        eprintln!("EASEL_CRASHPOINT {name} {job_id}");
        std::future::pending::<()>().await;
    }
}

async fn submit(
    sh: &Arc<Shared>,
    provider: &dyn Provider,
    job: JobSummary,
    recovered: bool,
) -> Result<Option<JobSummary>, EngineError> {
    let spec = job.spec();
    let req = SubmitRequest {
        job_id: &job.id,
        attempt: job.attempts,
        idempotency_key: format!("{}-{}", job.id, job.attempts),
        spec: &spec,
    };
    let mut note = "accepted by the provider";
    if recovered {
        // The previous worker died mid-submit: the provider may already have
        // the job. Ask before submitting again.
        match provider.find_submitted(&req).await {
            Ok(Some(handle)) => {
                return accepted(
                    sh,
                    &job,
                    &handle,
                    "found at the provider after a restart; not resubmitted",
                )
                .await;
            }
            Ok(None) if provider.capabilities().idempotent_submit => {
                note = "resubmitted after a restart with the same idempotency key";
            }
            Ok(None) => {
                note = "resubmitted after a restart; the provider cannot say whether the first submit reached it (possible duplicate)";
            }
            Err(e) => return failed(sh, &job, e).await,
        }
    }
    crashpoint(sh, "submitting", &job.id).await;
    tracing::info!("submitting");
    match provider.submit(&req).await {
        Ok(handle) => accepted(sh, &job, &handle, note).await,
        Err(e) => failed(sh, &job, e).await,
    }
}

async fn accepted(
    sh: &Arc<Shared>,
    job: &JobSummary,
    handle: &str,
    note: &str,
) -> Result<Option<JobSummary>, EngineError> {
    let (j, owner, handle, note) = (
        job.clone(),
        sh.worker_id.clone(),
        handle.to_string(),
        note.to_string(),
    );
    let out = sh
        .db(move |s| s.write(|tx| transitions::accepted(tx, &j, &owner, &handle, &note, now_ms())))
        .await?;
    Ok(published(sh, out))
}

async fn poll(
    sh: &Arc<Shared>,
    provider: &dyn Provider,
    job: JobSummary,
) -> Result<Option<JobSummary>, EngineError> {
    let key = job.id.clone();
    let Some(handle) = sh.db(move |s| s.read(|c| q::handle(c, &key))).await? else {
        return fail_with(sh, &job, "lost_handle", "the provider handle is missing").await;
    };
    let spec = job.spec();
    let interval = Duration::from_millis(sh.config.poll_interval_ms.max(10));
    let mut last_progress = job.progress.unwrap_or(0.0);
    let mut errors = 0u32;
    crashpoint(sh, "processing", &job.id).await;
    loop {
        match provider.poll(&handle, &spec).await {
            Ok(PollStatus::Pending { progress }) => {
                errors = 0;
                if let Some(p) = progress.filter(|p| (p - last_progress).abs() >= 0.02) {
                    last_progress = p;
                    let (j, owner) = (job.clone(), sh.worker_id.clone());
                    let out = sh
                        .db(move |s| {
                            s.write(|tx| transitions::progress(tx, &j, &owner, p, now_ms()))
                        })
                        .await?;
                    if published(sh, out).is_none() {
                        return Ok(None);
                    }
                }
                tokio::time::sleep(interval).await;
            }
            Ok(PollStatus::Done) => {
                let (j, owner) = (job.clone(), sh.worker_id.clone());
                let out = sh
                    .db(move |s| s.write(|tx| transitions::provider_done(tx, &j, &owner, now_ms())))
                    .await?;
                return Ok(published(sh, out));
            }
            Ok(PollStatus::Failed(view)) => {
                return failed(sh, &job, ProviderError::new(view.kind, view.message)).await;
            }
            // A failed poll is not a failed job: keep the handle and ask again
            // later. Resubmitting would pay twice.
            Err(e) if e.kind.is_retryable() => {
                errors += 1;
                let wait = backoff::delay(
                    errors,
                    sh.config.backoff_base_ms,
                    sh.config.backoff_max_ms,
                    e.retry_after,
                );
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "poll failed; polling again");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return failed(sh, &job, e).await,
        }
    }
}

async fn save(
    sh: &Arc<Shared>,
    provider: &dyn Provider,
    job: JobSummary,
) -> Result<Option<JobSummary>, EngineError> {
    let key = job.id.clone();
    let Some(handle) = sh.db(move |s| s.read(|c| q::handle(c, &key))).await? else {
        return fail_with(sh, &job, "lost_handle", "the provider handle is missing").await;
    };
    crashpoint(sh, "saving", &job.id).await;
    let spec = job.spec();
    let outputs = match provider.fetch_outputs(&handle, &spec).await {
        Ok(outputs) => outputs,
        Err(e) if e.kind.is_retryable() => {
            return defer_save(sh, &job, &e.message, e.retry_after).await
        }
        Err(e) => return failed(sh, &job, e).await,
    };
    if outputs.is_empty() {
        return fail_with(sh, &job, "no_output", "the provider returned no images").await;
    }
    let mut assets = Vec::with_capacity(outputs.len());
    let mut written = Vec::new();
    for (index, bytes) in outputs.into_iter().enumerate() {
        let params = GenerationParams {
            job_id: job.id.clone(),
            output_index: index as u32,
            prompt: spec.prompt.clone(),
            negative_prompt: spec.negative_prompt.clone(),
            seed: spec.seed.wrapping_add(index as u64),
            width: spec.width,
            height: spec.height,
            provider: spec.provider.clone(),
            model: spec.model.clone(),
            created_at: chrono::DateTime::from_timestamp_millis(job.created_at).unwrap_or_default(),
        };
        let library = sh.library();
        // Decoding, hashing, fsync and resizing are blocking work.
        let saved = tokio::task::spawn_blocking(move || library.save(&bytes, &params))
            .await
            .map_err(|_| EngineError::Shutdown)?;
        match saved {
            Ok(a) => {
                written.push((a.path.clone(), a.thumb_path.clone()));
                assets.push(Asset {
                    output_index: a.output_index,
                    path: a.path.to_string_lossy().into_owned(),
                    thumb_path: a.thumb_path.to_string_lossy().into_owned(),
                    width: a.width,
                    height: a.height,
                    bytes: a.bytes,
                    sha256: a.sha256,
                    created_at: now_ms(),
                });
            }
            Err(e) if e.is_retryable() => return defer_save(sh, &job, &e.to_string(), None).await,
            Err(e) => return fail_with(sh, &job, library_code(&e), &e.to_string()).await,
        }
        crashpoint(sh, "after_rename", &job.id).await;
    }
    let count = assets.len();
    let done = settle(sh, &job, Outcome::Completed { assets }).await?;
    if done.is_none() {
        // Canceled while saving: the files belong to no job; remove them.
        for (path, thumb) in written {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(thumb);
        }
    } else {
        tracing::info!(images = count, "completed");
    }
    Ok(None)
}

fn library_code(e: &LibraryError) -> &'static str {
    match e {
        LibraryError::Invalid(_) => "invalid_image",
        _ => "library_error",
    }
}

async fn defer_save(
    sh: &Arc<Shared>,
    job: &JobSummary,
    reason: &str,
    retry_after: Option<Duration>,
) -> Result<Option<JobSummary>, EngineError> {
    let wait = backoff::delay(
        job.crash_count + 1,
        sh.config.backoff_base_ms,
        sh.config.backoff_max_ms,
        retry_after,
    );
    tracing::warn!(reason, wait_ms = wait.as_millis() as u64, "saving deferred");
    let (j, owner, reason) = (job.clone(), sh.worker_id.clone(), reason.to_string());
    let retry_at = now_ms() + wait.as_millis() as i64;
    let out = sh
        .db(move |s| {
            s.write(|tx| transitions::defer_saving(tx, &j, &owner, &reason, retry_at, now_ms()))
        })
        .await?;
    published(sh, out);
    Ok(None)
}

/// A provider failure: retry the job later if the failure allows and
/// attempts remain, otherwise fail it.
async fn failed(
    sh: &Arc<Shared>,
    job: &JobSummary,
    e: ProviderError,
) -> Result<Option<JobSummary>, EngineError> {
    tracing::warn!(kind = ?e.kind, error = %e, "provider call failed");
    if e.kind.is_retryable() && job.attempts < job.max_attempts && job.status != JobStatus::Saving {
        let wait = backoff::delay(
            job.attempts,
            sh.config.backoff_base_ms,
            sh.config.backoff_max_ms,
            e.retry_after,
        );
        let (j, owner) = (job.clone(), sh.worker_id.clone());
        let next_run_at = now_ms() + wait.as_millis() as i64;
        let out = sh
            .db(move |s| {
                s.write(|tx| {
                    transitions::requeue(
                        tx,
                        &j,
                        &owner,
                        e.kind.code(),
                        &e.message,
                        e.http_status,
                        next_run_at,
                        now_ms(),
                    )
                })
            })
            .await?;
        published(sh, out);
        sh.wake.notify_one();
        return Ok(None);
    }
    let code = if e.kind.is_retryable() {
        "attempts_exhausted"
    } else {
        e.kind.code()
    };
    let outcome = Outcome::Failed {
        code: code.into(),
        message: e.message,
        http_status: e.http_status,
    };
    settle(sh, job, outcome).await?;
    Ok(None)
}

async fn fail_with(
    sh: &Arc<Shared>,
    job: &JobSummary,
    code: &str,
    message: &str,
) -> Result<Option<JobSummary>, EngineError> {
    let outcome = Outcome::Failed {
        code: code.into(),
        message: message.into(),
        http_status: None,
    };
    settle(sh, job, outcome).await?;
    Ok(None)
}

async fn settle(
    sh: &Arc<Shared>,
    job: &JobSummary,
    outcome: Outcome,
) -> Result<Option<JobSummary>, EngineError> {
    let (id, owner) = (job.id.clone(), sh.worker_id.clone());
    let out = sh
        .db(move |s| s.write(|tx| transitions::settle(tx, &id, Some(&owner), &outcome, now_ms())))
        .await?;
    Ok(published(sh, out))
}

fn published(sh: &Shared, out: Option<JobSummary>) -> Option<JobSummary> {
    if let Some(job) = &out {
        sh.publish(job);
    }
    out
}
