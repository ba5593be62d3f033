//! Drives one job through its phases (submit, poll, save) while holding its
//! lease. Every step is a transition guarded by the lease's owner and epoch:
//! when the job was canceled or taken over meanwhile, the step changes
//! nothing and the runner stops. A runner removes only files it wrote
//! itself (named by its epoch) and never leaves one no asset row names.

use crate::error::EngineError;
use crate::jobs::backoff;
use crate::jobs::cleanup;
use crate::jobs::transitions::{self, DeferPolicy, Failure, Outcome};
use crate::library::metadata::GenerationParams;
use crate::library::LibraryError;
use crate::model::{Asset, JobStatus, JobSummary};
use crate::providers::{
    FailureKind, Output, OutputMeta, PollStatus, Preview, Provider, ProviderError, Reconciliation,
    SubmitRequest, Submitted,
};
use crate::secrets::ApiKey;
use crate::shared::{AbortOnDrop, Shared};
use crate::store::jobs::{self as q, Lease};
use crate::store::{cancels, now_ms};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tracing::Instrument;

/// One runner's hold on one job.
struct Run {
    sh: Arc<Shared>,
    lease: Lease,
    /// The provider's key, read once per run (None: it needs none).
    key: Option<ApiKey>,
    /// Becomes true when the heartbeat finds the lease gone or cannot renew it.
    lost: watch::Receiver<bool>,
    /// Files this runner wrote that no committed asset row names yet.
    written: Vec<PathBuf>,
    /// Jobs a webhook said to poll now, from the moment this runner started.
    pokes: broadcast::Receiver<String>,
    /// Whether this runner stored a preview (then its previews are removed
    /// when it ends; a runner that stored none has none to remove).
    previewed: bool,
}

impl Run {
    fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Wait for the next poll: `d`, or less when a webhook pokes `job_id`
    /// (since this runner started: a poke that came during a poll is not
    /// lost); true if the lease was lost.
    async fn poll_wait(&mut self, d: Duration, job_id: &str) -> bool {
        let mut lost = self.lost.clone();
        let pokes = &mut self.pokes;
        let poked = async move {
            loop {
                match pokes.recv().await {
                    Ok(id) if id == job_id => return,
                    Ok(_) => {}
                    // Missed some: ours may be among them; polling once more
                    // costs nothing.
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    // No more senders: wait out the interval.
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        let lease_lost = tokio::select! {
            () = tokio::time::sleep(d) => false,
            _ = lost.wait_for(|l| *l) => true,
            () = poked => {
                tracing::debug!("poked by a webhook: polling now");
                false
            }
        };
        lease_lost || self.is_lost()
    }

    /// Sleep, waking early when the lease is lost; true if it was.
    async fn sleep(&mut self, d: Duration) -> bool {
        let mut lost = self.lost.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => self.is_lost(),
            _ = lost.wait_for(|l| *l) => true,
        }
    }
}

/// Run `job` (just claimed or taken over by this process, which marked it
/// running) to the end of what this worker can do.
pub(crate) async fn drive(sh: Arc<Shared>, job: JobSummary, recovered: bool) {
    let span = tracing::info_span!(
        "job",
        job_id = %job.id,
        provider = %job.provider,
        attempt = job.attempts,
        epoch = job.lease_epoch
    );
    async move {
        let _running = sh.running_guard(&job.id);
        let lease = transitions::lease_of(&job, &sh.worker_id);
        let (lost_tx, lost) = watch::channel(false);
        let heartbeat = AbortOnDrop(tokio::spawn(keep_lease(
            Arc::clone(&sh),
            job.id.clone(),
            lease.clone(),
            lost_tx,
        )));
        let mut run = Run {
            pokes: sh.pokes.subscribe(),
            sh: Arc::clone(&sh),
            lease,
            key: None,
            lost,
            written: Vec::new(),
            previewed: false,
        };
        let id = job.id.clone();
        let result = phases(&mut run, job, recovered).await;
        drop(heartbeat);
        if run.is_lost() {
            tracing::warn!("lost the job's lease (canceled or taken over); stopped");
        }
        // Whatever this runner wrote and did not commit as assets is no
        // one's: remove it (only its own epoch's files).
        cleanup::remove_own_files(std::mem::take(&mut run.written)).await;
        if run.previewed {
            let (previews, key, epoch) = (sh.previews.clone(), id.clone(), run.lease.epoch);
            let _ = tokio::task::spawn_blocking(move || previews.remove_run(&key, epoch)).await;
        }
        if let Err(e) = result {
            // Hand the job back at once instead of letting the lease lapse:
            // recovery resumes it without counting a crash.
            tracing::error!(error = %e, "job step failed; handing the job back for recovery");
            let (lease, key) = (run.lease.clone(), id);
            let released = sh
                .db(move |s| s.write(|tx| q::release_lease(tx, &key, &lease)))
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "cannot hand the job back; its lease will lapse");
            }
            sh.wake.notify_one();
        }
    }
    .instrument(span)
    .await
}

/// Renew the lease until it is lost. A heartbeat that fails (a busy or
/// broken database) also stops the runner: it can no longer prove it owns
/// the job, and another worker may take over once the lease lapses.
async fn keep_lease(sh: Arc<Shared>, id: String, lease: Lease, lost: watch::Sender<bool>) {
    // Renew well before expiry, even for the very short leases tests use.
    let every = Duration::from_millis((sh.config.lease_ms / 3).max(5));
    let mut stopping = sh.stopping.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            // The worker is stopping: behave as if the lease were lost (stop,
            // keep nothing uncommitted); the lease is released afterwards.
            _ = stopping.wait_for(|s| *s) => break,
        }
        let (key, l, until) = (
            id.clone(),
            lease.clone(),
            now_ms() + sh.config.lease_ms as i64,
        );
        match sh
            .db(move |s| s.write(|tx| q::heartbeat(tx, &key, &l, until)))
            .await
        {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed; stopping this runner");
                break;
            }
        }
    }
    let _ = lost.send(true);
}

async fn phases(run: &mut Run, mut job: JobSummary, recovered: bool) -> Result<(), EngineError> {
    let Some(provider) = run.sh.providers.get(&job.provider).cloned() else {
        let outcome = Outcome::Failed {
            code: "unknown_provider".into(),
            message: format!("provider {:?} is not available in this build", job.provider),
            http_status: None,
        };
        settle(run, &job, outcome).await?;
        return Ok(());
    };
    if provider.capabilities().needs_key {
        match run.sh.keys.require(&job.provider).await {
            Ok(key) => run.key = Some(key),
            Err(e) => {
                failed(run, &job, e.into()).await?;
                return Ok(());
            }
        }
    }
    let mut recovered = recovered;
    loop {
        if run.is_lost() {
            return Ok(());
        }
        let next = match job.status {
            JobStatus::Submitting => submit(run, provider.as_ref(), job, recovered).await?,
            JobStatus::Processing => poll(run, provider.as_ref(), job).await?,
            JobStatus::Saving => save(run, provider.as_ref(), job).await?,
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
/// so the test can kill the process at exactly this phase (until the worker
/// is asked to stop, which a signal test does).
pub(crate) async fn crashpoint(sh: &Shared, name: &str, job_id: &str) {
    if sh.crashpoint.as_deref() == Some(name) {
        eprintln!("EASEL_CRASHPOINT {name} {job_id}");
        let _ = sh.stopping.subscribe().wait_for(|s| *s).await;
    }
}

async fn submit(
    run: &mut Run,
    provider: &dyn Provider,
    job: JobSummary,
    recovered: bool,
) -> Result<Option<JobSummary>, EngineError> {
    let spec = job.spec();
    let key = run.key.clone();
    // A streaming provider's partial images: a few at most (OpenAI sends up
    // to 3); one that finds the channel full is skipped.
    let (preview_tx, mut preview_rx) = tokio::sync::mpsc::channel(4);
    let req = SubmitRequest {
        job_id: &job.id,
        attempt: job.attempts,
        idempotency_key: format!("{}-{}", job.id, job.attempts),
        spec: &spec,
        created_at_ms: job.created_at,
        key: key.as_ref(),
        previews: Some(&preview_tx),
    };
    if recovered && is_staged(run, &job).await {
        let handle = format!("staged:{}", job.id);
        let note = "outputs found in staging after a restart; not resubmitted";
        return done_at_submit(run, &job, &handle, note, None).await;
    }
    let mut note = "accepted by the provider".to_string();
    // A resend the provider cannot rule out as a duplicate: written with
    // the fence, before it goes out (see `fence`).
    let mut duplicate: Option<String> = None;
    // Why the provider is asked before submitting: a previous worker died
    // mid-submit, or a submit's answer was lost (timeout, reset). A worker
    // that died before sending anything (see `fence`) left nothing to find.
    let mut reconcile = recovered.then_some("after a restart");
    if recovered && !was_sent(run, &job).await? {
        reconcile = None;
        note = "submitted after a restart (the first submit had not been sent)".to_string();
    }
    let (mut unknown, mut lookups) = (0u32, 0u32);
    loop {
        if let Some(why) = reconcile.take() {
            // A listing shows only what has landed: after a takeover, give a
            // request the previous runner may still have in flight time to
            // land, so "not found" means not sent.
            if recovered && provider.capabilities().reconciliation == Reconciliation::Listing {
                let grace = Duration::from_millis(run.sh.config.lease_ms.min(LISTING_GRACE_MS));
                if run.sleep(grace).await {
                    return Ok(None);
                }
            }
            match provider.find_submitted(&req).await {
                Ok(Some(handle)) => {
                    let note = format!("found at the provider {why}; not resubmitted");
                    return accepted(run, &job, &handle, &note).await;
                }
                Ok(None) => match provider.capabilities().reconciliation {
                    Reconciliation::IdempotencyKey => {
                        note = format!("resubmitted {why} with the same idempotency key");
                    }
                    Reconciliation::Listing => {
                        note = format!("resubmitted {why}: the provider has no record of it");
                    }
                    Reconciliation::NotFindable => {
                        duplicate = Some(format!(
                            "resubmitting {why}; the provider cannot say whether the first submit reached it (possible duplicate)"
                        ));
                        note = format!("accepted by the provider (resubmitted {why})");
                    }
                },
                // Asking failed (the provider is down, a timeout): ask again
                // later; sending without knowing could pay twice.
                Err(e) if e.kind.is_retryable() && lookups + 1 < job.max_attempts => {
                    lookups += 1;
                    let wait = wait_after(run, &job.provider, lookups, &e);
                    tracing::warn!(error = %e, "cannot ask the provider about the submit; asking again");
                    if run.sleep(wait).await {
                        return Ok(None);
                    }
                    reconcile = Some(why);
                    continue;
                }
                Err(e) => return failed(run, &job, e).await,
            }
        }
        crashpoint(&run.sh, "submitting", &job.id).await;
        if wait_for_cooldown(run, &job.provider).await {
            return Ok(None);
        }
        // The last moment before a paid call: prove in the database that
        // this runner still holds the job, and push its lease out so no
        // other worker takes it over while the request is on its way.
        if !fence(run, &job, duplicate.take()).await? {
            return Ok(None);
        }
        tracing::info!("submitting");
        let answer = {
            let sent = provider.submit(&req);
            tokio::pin!(sent);
            loop {
                tokio::select! {
                    answer = &mut sent => break answer,
                    Some(preview) = preview_rx.recv() => {
                        // A lost lease shows up at the next fenced write.
                        show_preview(run, &job, preview).await?;
                    }
                }
            }
        };
        match answer {
            Ok(Submitted::Pending(handle)) => {
                // The provider accepted; nothing of it is committed yet.
                crashpoint(&run.sh, "accepted", &job.id).await;
                return accepted(run, &job, &handle, &note).await;
            }
            // A synchronous provider answered with the images (and billed):
            // staged before anything else, so a crash from here on never pays
            // again (recovery finds them in staging).
            Ok(Submitted::Done {
                handle,
                outputs,
                cost_micros,
            }) => {
                if let Err((code, message)) = stage_outputs(run, &job, &spec, outputs).await? {
                    return fail_with(run, &job, code, &message).await;
                }
                crashpoint(&run.sh, "staged", &job.id).await;
                return done_at_submit(run, &job, &handle, &note, cost_micros).await;
            }
            // The request may have been accepted: stay on this attempt (a
            // new attempt would be a new generation) and ask the provider
            // before sending it again.
            Err(e) if outcome_unknown(&e) && unknown + 1 < job.max_attempts => {
                unknown += 1;
                let wait = wait_after(run, &job.provider, unknown, &e);
                tracing::warn!(error = %e, "submit outcome unknown; reconciling with the provider");
                if run.sleep(wait).await {
                    return Ok(None);
                }
                reconcile = Some("after an unanswered submit");
            }
            Err(e) if outcome_unknown(&e) => {
                let message = format!(
                    "{} (the provider may have generated the image: check its dashboard)",
                    e.message
                );
                return fail_with(run, &job, "outcome_unknown", &message).await;
            }
            Err(e) => return failed(run, &job, e).await,
        }
    }
}

/// Whether this attempt's submit may have gone out before a restart.
async fn was_sent(run: &Run, job: &JobSummary) -> Result<bool, EngineError> {
    let (id, attempt) = (job.id.clone(), job.attempts);
    run.sh
        .db(move |s| s.read(|c| q::attempt_sent(c, &id, attempt)))
        .await
}

/// How long a runner that took over a job waits before listing the
/// provider's jobs (see `submit`).
const LISTING_GRACE_MS: u64 = 1_000;

/// Renew the lease now and record that the submit is going out; false
/// (and the runner stops) when the job is not ours. A possible duplicate
/// is marked in the job's history in the same commit: the resend's answer
/// may be staged and committed by a later worker (this one killed in
/// between), which never knew it was a resend.
async fn fence(
    run: &mut Run,
    job: &JobSummary,
    duplicate: Option<String>,
) -> Result<bool, EngineError> {
    let (id, lease, attempt) = (job.id.clone(), run.lease.clone(), job.attempts);
    let until = now_ms() + run.sh.config.lease_ms as i64;
    let held = run
        .sh
        .db(move |s| {
            s.write(|tx| {
                let held = q::heartbeat(tx, &id, &lease, until)?;
                if held {
                    q::mark_attempt_sent(tx, &id, attempt, now_ms())?;
                    if let Some(line) = &duplicate {
                        q::note_in_timeline(tx, &id, attempt, line, now_ms())?;
                    }
                }
                Ok(held)
            })
        })
        .await?;
    if !held {
        tracing::warn!("the lease was lost before submitting; not sending");
    }
    Ok(held && !run.is_lost())
}

/// Whether a failed submit may still have been accepted: no answer, or a
/// 5xx (a gateway's error page says nothing about what the backend did).
fn outcome_unknown(e: &ProviderError) -> bool {
    e.kind == FailureKind::Unknown
        || (e.kind == FailureKind::Retryable && e.http_status.is_some_and(|s| s >= 500))
}

/// Accepted and done in one commit: the provider answered with the outputs.
async fn done_at_submit(
    run: &mut Run,
    job: &JobSummary,
    handle: &str,
    note: &str,
    cost_micros: Option<i64>,
) -> Result<Option<JobSummary>, EngineError> {
    commit_accepted(run, job, handle, note, Some(cost_micros)).await
}

/// Whether the job's outputs are already staged (a runner that staged them
/// died before committing): then the provider is not asked again.
async fn is_staged(run: &Run, job: &JobSummary) -> bool {
    let (staging, id) = (run.sh.staging.clone(), job.id.clone());
    matches!(
        tokio::task::spawn_blocking(move || staging.staged(&id)).await,
        Ok(Ok(Some(_)))
    )
}

/// Check what the provider returned and make it durable in staging. The
/// inner error is a job failure (code, message); a staging write that fails
/// is an engine error (the job is handed back and its outputs fetched again
/// where the provider allows).
async fn stage_outputs(
    run: &Run,
    job: &JobSummary,
    spec: &crate::model::JobSpec,
    outputs: Vec<Output>,
) -> Result<Result<(), (&'static str, String)>, EngineError> {
    if let Err(refused) = check_outputs(spec, &outputs, run.sh.config.image_limits.max_bytes) {
        return Ok(Err(refused));
    }
    let (staging, id) = (run.sh.staging.clone(), job.id.clone());
    let path = staging.dir().to_path_buf();
    tokio::task::spawn_blocking(move || staging.stage(&id, &outputs))
        .await
        .map_err(|_| EngineError::Shutdown)?
        .map_err(|source| EngineError::Io { path, source })?;
    Ok(Ok(()))
}

/// The provider's outputs as Easel can store them: exactly the count asked
/// for, each within the byte limit and a PNG, JPEG or WebP (an SVG, a GIF or
/// an error page is refused before it is kept).
fn check_outputs(
    spec: &crate::model::JobSpec,
    outputs: &[Output],
    max_bytes: u64,
) -> Result<(), (&'static str, String)> {
    if outputs.len() != spec.count as usize {
        let message = format!(
            "the provider returned {} image{} for a request of {}",
            outputs.len(),
            if outputs.len() == 1 { "" } else { "s" },
            spec.count
        );
        return Err(("wrong_output_count", message));
    }
    for (index, output) in outputs.iter().enumerate() {
        let len = output.bytes.len() as u64;
        if len > max_bytes {
            let message = format!("output {index} is {len} bytes, over the limit of {max_bytes}");
            return Err(("output_too_large", message));
        }
        let supported = matches!(
            image::guess_format(&output.bytes),
            Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP)
        );
        if !supported {
            let message = format!(
                "output {index} is not a PNG, JPEG or WebP image (SVG, GIF and other files are not stored)"
            );
            return Err(("invalid_image", message));
        }
    }
    Ok(())
}

async fn accepted(
    run: &mut Run,
    job: &JobSummary,
    handle: &str,
    note: &str,
) -> Result<Option<JobSummary>, EngineError> {
    commit_accepted(run, job, handle, note, None).await
}

/// Record the provider's handle (processing); with `done` (the provider
/// finished, at this cost if it said), also that, in the same transaction.
async fn commit_accepted(
    run: &mut Run,
    job: &JobSummary,
    handle: &str,
    note: &str,
    done: Option<Option<i64>>,
) -> Result<Option<JobSummary>, EngineError> {
    let (j, lease, handle, note) = (
        job.clone(),
        run.lease.clone(),
        handle.to_string(),
        note.to_string(),
    );
    let out = run
        .sh
        .db(move |s| {
            s.write(|tx| {
                let accepted = transitions::accepted(tx, &j, &lease, &handle, &note, now_ms())?;
                match (accepted, done) {
                    (Some(a), Some(cost)) => {
                        transitions::provider_done(tx, &a, &lease, cost, now_ms())
                    }
                    (Some(a), None) => Ok(Some(a)),
                    // Canceled while the submit was in flight: the provider
                    // holds a job nobody wants; owe it a cancel.
                    (None, None) => {
                        cancels::request_if_canceled(tx, &j.id, &j.provider, &handle, now_ms())?;
                        Ok(None)
                    }
                    (None, Some(_)) => Ok(None),
                }
            })
        })
        .await?;
    if out.is_none() && done.is_none() {
        run.sh.cancels_owed.notify_one();
    }
    Ok(published(&run.sh, out))
}

async fn poll(
    run: &mut Run,
    provider: &dyn Provider,
    job: JobSummary,
) -> Result<Option<JobSummary>, EngineError> {
    // The handle, when the attempt started and whether its outputs are
    // staged already (a runner that staged them died before committing):
    // one store call, not three (each call hands the worker's other tasks
    // to another thread while it runs).
    let (key, number, staging) = (job.id.clone(), job.attempts, run.sh.staging.clone());
    let (handle, started, staged) = run
        .sh
        .db(move |s| {
            let (handle, started) = s.read(|c| q::handle_and_start(c, &key, number))?;
            Ok((handle, started, matches!(staging.staged(&key), Ok(Some(_)))))
        })
        .await?;
    let Some(handle) = handle else {
        return fail_with(run, &job, "lost_handle", "the provider handle is missing").await;
    };
    let started = started.unwrap_or_else(now_ms);
    let spec = job.spec();
    let caps = provider.capabilities();
    // No faster than configured, nor than the provider's own pace.
    let interval = Duration::from_millis(
        run.sh
            .config
            .poll_interval_ms
            .max(u64::from(caps.poll_interval_ms))
            .max(10),
    );
    let deadline = match run.sh.config.processing_deadlines_ms.get(&job.provider) {
        Some(ms) => Some(*ms),
        None => caps.processing_deadline_ms,
    };
    let mut last_progress = job.progress.unwrap_or(0.0);
    let mut last_said = (job.queue_position, job.provider_message.clone());
    let mut last_preview: Option<u32> = None;
    let mut errors = 0u32;
    crashpoint(&run.sh, "processing", &job.id).await;
    if staged {
        return provider_done(run, &job).await;
    }
    loop {
        if let Some(limit) = deadline.filter(|ms| now_ms() - started > *ms as i64) {
            return past_deadline(run, &job, &handle, limit).await;
        }
        if wait_for_cooldown(run, &job.provider).await {
            return Ok(None);
        }
        match provider.poll(&handle, &spec, run.key.as_ref()).await {
            Ok(PollStatus::Pending(mut waiting)) => {
                errors = 0;
                let progress = waiting
                    .progress
                    .filter(|p| (p - last_progress).abs() >= 0.02);
                let said = (waiting.queue_position, waiting.message.clone());
                if let Some(p) = waiting.preview.take() {
                    if last_preview.is_none_or(|last| p.step > last) {
                        last_preview = Some(p.step);
                        if !show_preview(run, &job, p).await? {
                            return Ok(None);
                        }
                    }
                }
                if progress.is_some() || said != last_said {
                    last_progress = progress.unwrap_or(last_progress);
                    last_said = said;
                    let (j, lease) = (job.clone(), run.lease.clone());
                    let out = run
                        .sh
                        .db(move |s| {
                            s.write(|tx| {
                                let change = transitions::Waiting {
                                    progress,
                                    queue_position: waiting.queue_position,
                                    message: waiting.message.as_deref(),
                                };
                                transitions::waiting(tx, &j, &lease, &change, now_ms())
                            })
                        })
                        .await?;
                    if published(&run.sh, out).is_none() {
                        return Ok(None);
                    }
                }
                let wait = waiting
                    .next_poll
                    .map_or(interval, |next| next.max(interval));
                if run.poll_wait(wait, &job.id).await {
                    return Ok(None);
                }
            }
            // Fetched and staged at once: result URLs expire (an hour at
            // Replicate, ten minutes at BFL), saving may wait much longer.
            Ok(PollStatus::Done) => match provider
                .fetch_outputs(&handle, &spec, run.key.as_ref())
                .await
            {
                Ok(outputs) => {
                    if let Err((code, message)) = stage_outputs(run, &job, &spec, outputs).await? {
                        return fail_with(run, &job, code, &message).await;
                    }
                    crashpoint(&run.sh, "staged", &job.id).await;
                    return provider_done(run, &job).await;
                }
                // Polling again may also refresh expired result URLs.
                Err(e) if e.kind.is_retryable() => {
                    errors += 1;
                    let wait = wait_after(run, &job.provider, errors, &e);
                    tracing::warn!(error = %e, "fetching the outputs failed; polling again");
                    if run.sleep(wait).await {
                        return Ok(None);
                    }
                }
                Err(e) => return failed(run, &job, e).await,
            },
            Ok(PollStatus::Failed(view)) => {
                return failed(run, &job, ProviderError::new(view.kind, view.message)).await;
            }
            // A failed poll is not a failed job: keep the handle and ask again
            // later. Resubmitting would pay twice.
            Err(e) if e.kind.is_retryable() => {
                errors += 1;
                let wait = wait_after(run, &job.provider, errors, &e);
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "poll failed; polling again");
                if run.sleep(wait).await {
                    return Ok(None);
                }
            }
            Err(e) => return failed(run, &job, e).await,
        }
    }
}

/// Keep a provider's preview and name it on the job, for the card; false
/// if the lease was lost. A preview that cannot be kept is skipped: it is
/// never a reason to fail the job.
async fn show_preview(
    run: &mut Run,
    job: &JobSummary,
    preview: Preview,
) -> Result<bool, EngineError> {
    run.previewed = true;
    let Some(path) = keep_preview(&run.sh, &job.id, run.lease.epoch, preview).await else {
        return Ok(true);
    };
    let (j, lease, named) = (job.clone(), run.lease.clone(), path.clone());
    let out = run
        .sh
        .db(move |s| s.write(|tx| transitions::preview(tx, &j, &lease, &named, now_ms())))
        .await?;
    if published(&run.sh, out).is_none() {
        return Ok(false);
    }
    // The job names the new preview now: the older ones go.
    let (previews, id) = (run.sh.previews.clone(), job.id.clone());
    let _ = tokio::task::spawn_blocking(move || previews.clear(&id, Some(Path::new(&path)))).await;
    Ok(true)
}

/// Check and store a preview; the file, or None when it cannot be kept.
async fn keep_preview(sh: &Shared, job_id: &str, epoch: i64, preview: Preview) -> Option<String> {
    let previews = sh.previews.clone();
    let limits = sh.config.image_limits;
    let id = job_id.to_string();
    let saved = tokio::task::spawn_blocking(move || {
        previews.save(&id, epoch, preview.step, &preview.bytes, &limits)
    })
    .await;
    match saved {
        Ok(Ok(path)) => Some(path.to_string_lossy().into_owned()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the provider's preview was skipped");
            None
        }
        Err(_) => None,
    }
}

/// The provider kept the job past its deadline: fail it clearly and owe
/// the provider a cancel (it may still be running it, and billing).
async fn past_deadline(
    run: &mut Run,
    job: &JobSummary,
    handle: &str,
    limit_ms: u64,
) -> Result<Option<JobSummary>, EngineError> {
    let message = format!(
        "{} did not finish the job within {}; it may have dropped it (a local server that restarted forgets its jobs)",
        job.provider,
        crate::jobs::backoff::human(Duration::from_millis(limit_ms))
    );
    let outcome = Outcome::Failed {
        code: "provider_timeout".into(),
        message,
        http_status: None,
    };
    if settle(run, job, outcome).await?.is_some() {
        let (id, provider, handle) = (job.id.clone(), job.provider.clone(), handle.to_string());
        run.sh
            .db(move |s| s.write(|tx| cancels::request(tx, &id, &provider, &handle, now_ms())))
            .await?;
        run.sh.cancels_owed.notify_one();
    }
    Ok(None)
}

/// Why saving has no outputs to read.
enum Fetch {
    /// The provider may answer later: saving waits.
    Retry(ProviderError),
    Failed(ProviderError),
    /// What came back cannot be stored: (code, message).
    Refused(&'static str, String),
}

/// The staged outputs' metadata; for a job staged by an older Easel or
/// whose staging was lost, the outputs are fetched (and staged) again.
async fn staged_or_fetched(
    run: &mut Run,
    provider: &dyn Provider,
    job: &JobSummary,
    handle: &str,
    spec: &crate::model::JobSpec,
    staged: std::io::Result<Option<Vec<OutputMeta>>>,
) -> Result<Result<Vec<OutputMeta>, Fetch>, EngineError> {
    if let Ok(Some(metas)) = staged {
        return Ok(Ok(metas));
    }
    let outputs = match provider.fetch_outputs(handle, spec, run.key.as_ref()).await {
        Ok(outputs) => outputs,
        Err(e) if e.kind.is_retryable() => return Ok(Err(Fetch::Retry(e))),
        Err(e) => return Ok(Err(Fetch::Failed(e))),
    };
    let metas = outputs.iter().map(|o| o.meta.clone()).collect();
    Ok(match stage_outputs(run, job, spec, outputs).await? {
        Ok(()) => Ok(metas),
        Err((code, message)) => Err(Fetch::Refused(code, message)),
    })
}

async fn provider_done(run: &mut Run, job: &JobSummary) -> Result<Option<JobSummary>, EngineError> {
    let (j, lease) = (job.clone(), run.lease.clone());
    let out = run
        .sh
        .db(move |s| s.write(|tx| transitions::provider_done(tx, &j, &lease, None, now_ms())))
        .await?;
    Ok(published(&run.sh, out))
}

async fn save(
    run: &mut Run,
    provider: &dyn Provider,
    job: JobSummary,
) -> Result<Option<JobSummary>, EngineError> {
    let sh = Arc::clone(&run.sh);
    // The handle and the staged outputs' list in one store call.
    let (key, staging) = (job.id.clone(), sh.staging.clone());
    let (handle, staged) = sh
        .db(move |s| Ok((s.read(|c| q::handle(c, &key))?, staging.staged(&key))))
        .await?;
    let Some(handle) = handle else {
        return fail_with(run, &job, "lost_handle", "the provider handle is missing").await;
    };
    crashpoint(&sh, "saving", &job.id).await;
    let spec = job.spec();
    let fetched = staged_or_fetched(run, provider, &job, &handle, &spec, staged).await?;
    let metas = match fetched {
        Ok(metas) => metas,
        Err(Fetch::Retry(e)) => {
            return defer_save(run, &job, "provider_unavailable", &e.message).await
        }
        Err(Fetch::Failed(e)) => return failed(run, &job, e).await,
        Err(Fetch::Refused(code, message)) => return fail_with(run, &job, code, &message).await,
    };
    let mut assets = Vec::with_capacity(metas.len());
    // One output at a time, read from staging and dropped once stored.
    for (index, meta) in metas.into_iter().enumerate() {
        if run.is_lost() {
            return Ok(None);
        }
        let (staging, id) = (sh.staging.clone(), job.id.clone());
        let read = tokio::task::spawn_blocking(move || staging.read(&id, index))
            .await
            .map_err(|_| EngineError::Shutdown)?;
        let bytes = read.map_err(|source| EngineError::Io {
            path: sh.staging.dir().to_path_buf(),
            source,
        })?;
        let params = GenerationParams {
            job_id: job.id.clone(),
            output_index: index as u32,
            prompt: spec.prompt.clone(),
            negative_prompt: spec.negative_prompt.clone(),
            // Only the seed the provider says made this output.
            seed: meta.seed,
            revised_prompt: meta.revised_prompt,
            width: spec.width,
            height: spec.height,
            provider: spec.provider.clone(),
            model: spec.model.clone(),
            created_at: chrono::DateTime::from_timestamp_millis(job.created_at).unwrap_or_default(),
        };
        let library = sh.library();
        let epoch = run.lease.epoch;
        // The decoded pixels of every save in flight share one budget.
        let permit = sh
            .decode_budget
            .reserve(crate::library::declared_pixels(&bytes))
            .await
            .ok_or(EngineError::Shutdown)?;
        // Its paths are this runner's before the write starts, so they are
        // removed if the job does not complete under this lease.
        let format = crate::library::stored_format(&bytes);
        run.written.push(library.path_for(&params, epoch, format));
        run.written.push(library.thumb_path_for(&params, epoch));
        // Decoding, hashing, fsync and resizing are blocking work.
        let saved = tokio::task::spawn_blocking(move || library.save(&bytes, &params, epoch))
            .await
            .map_err(|_| EngineError::Shutdown)?;
        drop(permit);
        match saved {
            Ok(a) => {
                assets.push(Asset {
                    output_index: a.output_index,
                    path: a.path.to_string_lossy().into_owned(),
                    thumb_path: a.thumb_path.to_string_lossy().into_owned(),
                    width: a.width,
                    height: a.height,
                    bytes: a.bytes,
                    sha256: a.sha256,
                    created_at: now_ms(),
                    favorite: false,
                });
            }
            Err(e) if e.is_retryable() => {
                let (code, reason) = e.wait_reason();
                return defer_save(run, &job, code, &reason).await;
            }
            Err(e) => return fail_with(run, &job, library_code(&e), &e.to_string()).await,
        }
        crashpoint(&sh, "after_rename", &job.id).await;
    }
    let count = assets.len();
    let keep = cleanup::asset_files(&assets);
    if let Some(done) = settle(run, &job, Outcome::Completed { assets }).await? {
        // Committed: these files are the job's now. Files other runners of
        // this job left (a crash, a takeover) go.
        run.written.clear();
        cleanup::remove_earlier_runs_files(&sh, &done, keep).await;
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
    run: &mut Run,
    job: &JobSummary,
    code: &str,
    reason: &str,
) -> Result<Option<JobSummary>, EngineError> {
    tracing::warn!(reason, "saving deferred");
    let c = &run.sh.config;
    let policy = DeferPolicy {
        base_ms: c.backoff_base_ms,
        max_ms: c.backoff_max_ms,
        hold_after_ms: c.save_hold_after_ms,
    };
    let (j, lease, code, reason) = (
        job.clone(),
        run.lease.clone(),
        code.to_string(),
        reason.to_string(),
    );
    let out = run
        .sh
        .db(move |s| {
            s.write(|tx| {
                transitions::defer_saving(tx, &j, &lease, &code, &reason, policy, now_ms())
            })
        })
        .await?;
    published(&run.sh, out);
    Ok(None)
}

/// A provider failure: retry the job later if the failure allows and
/// attempts remain, otherwise fail it.
async fn failed(
    run: &mut Run,
    job: &JobSummary,
    e: ProviderError,
) -> Result<Option<JobSummary>, EngineError> {
    tracing::warn!(kind = ?e.kind, error = %e, "provider call failed");
    let wait = wait_after(run, &job.provider, job.attempts, &e);
    if e.kind.is_retryable() && job.attempts < job.max_attempts && job.status != JobStatus::Saving {
        let (j, lease) = (job.clone(), run.lease.clone());
        let next_run_at = now_ms() + wait.as_millis() as i64;
        let out = run
            .sh
            .db(move |s| {
                s.write(|tx| {
                    let failure = Failure {
                        code: e.kind.code(),
                        message: &e.message,
                        http_status: e.http_status,
                    };
                    transitions::requeue(tx, &j, &lease, &failure, next_run_at, now_ms())
                })
            })
            .await?;
        published(&run.sh, out);
        run.sh.wake.notify_one();
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
    settle(run, job, outcome).await?;
    Ok(None)
}

/// The wait after failure number `n` of a call: the provider's Retry-After
/// when it gave one, else the growing backoff. A 429 also cools the whole
/// provider down (every job of this process) for that long.
fn wait_after(run: &Run, provider: &str, n: u32, e: &ProviderError) -> Duration {
    let wait = backoff::delay(
        n,
        run.sh.config.backoff_base_ms,
        run.sh.config.backoff_max_ms,
        e.retry_after,
    );
    if e.kind == FailureKind::RateLimited {
        run.sh
            .cooldowns
            .start(provider, now_ms(), e.retry_after.unwrap_or(wait));
    }
    wait
}

/// Waits out the provider's cooldown before calling it. True when the lease
/// was lost meanwhile (the runner stops).
async fn wait_for_cooldown(run: &mut Run, provider: &str) -> bool {
    while let Some(wait) = run.sh.cooldowns.remaining(provider, now_ms()) {
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "provider cooling down after a rate limit"
        );
        if run.sleep(wait).await {
            return true;
        }
    }
    false
}

async fn fail_with(
    run: &mut Run,
    job: &JobSummary,
    code: &str,
    message: &str,
) -> Result<Option<JobSummary>, EngineError> {
    let outcome = Outcome::Failed {
        code: code.into(),
        message: message.into(),
        http_status: None,
    };
    settle(run, job, outcome).await?;
    Ok(None)
}

/// Settle under this runner's lease. A job that ends failed keeps no file.
async fn settle(
    run: &mut Run,
    job: &JobSummary,
    outcome: Outcome,
) -> Result<Option<JobSummary>, EngineError> {
    let (id, lease, staging) = (job.id.clone(), run.lease.clone(), run.sh.staging.clone());
    let failed = !matches!(outcome, Outcome::Completed { .. });
    let out = run
        .sh
        .db(move |s| {
            let out = s.write(|tx| transitions::settle(tx, &id, Some(&lease), &outcome, now_ms()))?;
            // Settled (stored in the library, or ended without): staging is
            // done with. Removed in the settlement's trip to this thread.
            if out.is_some() {
                if let Err(e) = staging.remove(&id) {
                    tracing::warn!(job_id = %id, error = %e, "cannot remove the job's staged outputs");
                }
            }
            Ok(out)
        })
        .await?;
    let out = published(&run.sh, out);
    if let (Some(done), true) = (&out, failed) {
        cleanup::remove_own_files(std::mem::take(&mut run.written)).await;
        cleanup::remove_earlier_runs_files(&run.sh, done, Vec::new()).await;
    }
    Ok(out)
}

fn published(sh: &Shared, out: Option<JobSummary>) -> Option<JobSummary> {
    if let Some(job) = &out {
        sh.publish(job);
    }
    out
}
