//! The scheduler: recovers jobs whose worker died, claims due jobs within each
//! provider's concurrency limit, and runs each one in its own task.

use crate::error::EngineError;
use crate::jobs::transitions::{self, Recovered};
use crate::jobs::{cleanup, janitor, runner};
use crate::model::JobSummary;
use crate::shared::{AbortOnDrop, Shared};
use crate::store::jobs as q;
use crate::store::{now_ms, search_index, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// When `Engine::run_worker` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunUntil {
    /// Run until the future is dropped (the app, `easel-cli work`).
    Forever,
    /// Until every job that is not held is terminal (`work --until-idle`).
    Idle,
    /// Until these jobs are terminal or held (`generate --wait`).
    Settled(Vec<String>),
}

/// Run the scheduler and workers until `until`. Recovers whatever a
/// previous process left behind first, then keeps recovering periodically.
pub(crate) async fn run(sh: Arc<Shared>, until: RunUntil) -> Result<(), EngineError> {
    let mut tasks = JoinSet::new();
    let tick = Duration::from_millis(
        sh.config
            .recovery_interval_ms
            .min(sh.config.lease_ms / 2)
            .max(20),
    );
    let mut next_recovery = tokio::time::Instant::now();
    tracing::info!(worker = %sh.worker_id, "worker started");
    janitor::sweep_recent(&sh).await;
    janitor::sweep_staging(&sh).await;
    janitor::sweep_previews(&sh).await;
    janitor::prune_webhook_deliveries(&sh).await;
    janitor::purge_deleted(&sh).await;
    let cancels = tokio::spawn(super::provider_cancels::run(Arc::clone(&sh)));
    let _cancels = AbortOnDrop(cancels);
    let mut stopping = sh.stopping.subscribe();
    loop {
        if *stopping.borrow() {
            // Claim nothing more; let every runner reach its safe point.
            while tasks.join_next().await.is_some() {}
            tracing::info!("worker stopped");
            return Ok(());
        }
        let step = async {
            let recovering = tokio::time::Instant::now() >= next_recovery;
            let now = now_ms();
            let view = sh
                .db(move |s| s.read(|c| q::scheduler_view(c, now, recovering)))
                .await?;
            if recovering {
                recover(&sh, view.expired, &mut tasks).await?;
                next_recovery = tokio::time::Instant::now() + tick;
            }
            // A provider cooling down after a 429 wakes the scheduler when
            // its wait ends, if it has due work.
            let cooled = view
                .due
                .iter()
                .filter_map(|p| sh.cooldowns.remaining(p, now_ms()))
                .min()
                .map(|wait| now_ms() + wait.as_millis() as i64);
            // Paused by the user: nothing new starts (running jobs go on).
            if !view.paused {
                claim_due(&sh, view.due, &mut tasks).await?;
            }
            if done(&sh, &until, tasks.is_empty()).await? {
                return Ok(None);
            }
            // The view's next wake-up counts only jobs not due at `now`,
            // which no claim took: it stands after the claims.
            let next = [view.next_wakeup, cooled].into_iter().flatten().min();
            Ok::<_, EngineError>(Some(next))
        };
        let wake_at = match step.await {
            Ok(Some(at)) => at,
            Ok(None) => {
                tracing::info!("worker finished: nothing left to run");
                return Ok(());
            }
            // A busy database (another process holds the write lock past the
            // busy timeout) passes: try again next tick.
            Err(EngineError::Store(StoreError::Locked { .. })) => {
                tracing::warn!("database busy; scheduling again shortly");
                None
            }
            Err(e) => {
                // Stopping: hand this process's jobs back so the next start
                // does not count a crash.
                tasks.abort_all();
                let owner = sh.worker_id.clone();
                let _ = sh
                    .db(move |s| s.write(|tx| q::release_leases(tx, &owner)))
                    .await;
                return Err(e);
            }
        };
        let sleep = wake_at
            .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
            .unwrap_or(tick)
            .min(tick);
        tokio::select! {
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "job task panicked; recovery will resume the job");
                }
                // A freed slot goes to an interrupted job first, if any.
                next_recovery = tokio::time::Instant::now();
            }
            () = sh.wake.notified() => {}
            _ = stopping.changed() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Jobs recovered per write transaction: one commit for many, while the
/// write lock is never held long.
const RECOVERY_BATCH: usize = 1024;

/// Take over the running jobs of `providers` (from the scheduler's view)
/// whose lease lapsed.
async fn recover(
    sh: &Arc<Shared>,
    providers: Vec<String>,
    tasks: &mut JoinSet<()>,
) -> Result<(), EngineError> {
    for provider in providers {
        // Runners start once the provider's batches are committed (their
        // own first writes would otherwise queue between the batches), and
        // also when a later batch fails: a job taken over is always run.
        let mut taken = Vec::new();
        let result = recover_provider(sh, &provider, &mut taken).await;
        for job in taken {
            tasks.spawn(runner::drive(Arc::clone(sh), job, true));
        }
        result?;
    }
    Ok(())
}

/// Take over `provider`'s interrupted jobs, batch by batch, as far as its
/// limit allows; the jobs taken go to `taken`.
async fn recover_provider(
    sh: &Arc<Shared>,
    provider: &str,
    taken: &mut Vec<JobSummary>,
) -> Result<(), EngineError> {
    loop {
        let limit = sh.concurrency_for(provider);
        let (p, owner, crash_limit) = (
            provider.to_string(),
            sh.worker_id.clone(),
            sh.config.crash_limit,
        );
        let until = now_ms() + sh.config.lease_ms as i64;
        let here = Arc::clone(sh);
        let batch = sh
            .db(move |s| {
                s.write(|tx| {
                    // This process's own runner may just be late renewing
                    // (a suspended laptop, a busy disk, a short lease):
                    // never take over from it.
                    let running_here = |id: &str| here.is_running_here(id);
                    transitions::recover_within_limit(
                        tx,
                        &p,
                        limit,
                        &owner,
                        until,
                        crash_limit,
                        now_ms(),
                        &running_here,
                        RECOVERY_BATCH,
                    )
                })
            })
            .await?;
        let full = batch.len() >= RECOVERY_BATCH;
        let mut held = Vec::new();
        for result in batch {
            match result {
                Recovered::Taken(job) => {
                    tracing::info!(job_id = %job.id, status = %job.status, "recovered job");
                    sh.publish(&job);
                    sh.start_running(&job.id);
                    taken.push(job);
                }
                Recovered::Held(job) => {
                    tracing::warn!(job_id = %job.id, crashes = job.crash_count, "job held after repeated crashes");
                    sh.publish(&job);
                    held.push(job);
                }
                Recovered::Gone => {}
            }
        }
        // A held job has no asset row: the files its killed runs saved
        // (complete images the gallery does not show) go now. Its staged
        // outputs stay for the user's retry. A crash before this removal
        // leaves them to the janitor's start-up sweep.
        cleanup::remove_files_of_jobs(sh, &held).await;
        if !full {
            return Ok(());
        }
    }
}

/// Claim due jobs of `providers` (from the scheduler's view), up to each
/// one's limit.
async fn claim_due(
    sh: &Arc<Shared>,
    providers: Vec<String>,
    tasks: &mut JoinSet<()>,
) -> Result<(), EngineError> {
    if !providers.is_empty() {
        runner::crashpoint(sh, "queued", "-").await;
    }
    if *sh.stopping.borrow() {
        return Ok(());
    }
    for provider in providers {
        // A provider that answered 429 gets no new job until its wait ends.
        if sh.cooldowns.remaining(&provider, now_ms()).is_some() {
            continue;
        }
        loop {
            let limit = sh.concurrency_for(&provider);
            let (p, owner) = (provider.clone(), sh.worker_id.clone());
            let until = now_ms() + sh.config.lease_ms as i64;
            let claimed = sh
                .db(move |s| {
                    s.write(|tx| {
                        // Jobs created since the last claim get their prompts
                        // indexed here, in a commit the job makes anyway,
                        // not in the click's.
                        search_index::catch_up(tx)?;
                        let job = transitions::claim(tx, &p, limit, &owner, until, now_ms())?;
                        // Asked in the claim's transaction: one hop to
                        // the database instead of two.
                        let more = job.is_some() && q::has_due(tx, &p, now_ms())?;
                        Ok((job, more))
                    })
                })
                .await?;
            let (Some(job), more) = claimed else { break };
            sh.publish(&job);
            sh.start_running(&job.id);
            tasks.spawn(runner::drive(Arc::clone(sh), job, false));
            // Another claim only if there is more due work: a claim that
            // finds nothing still holds the write lock the new runner is
            // about to ask for.
            if !more {
                break;
            }
        }
    }
    Ok(())
}

async fn done(sh: &Arc<Shared>, until: &RunUntil, idle_here: bool) -> Result<bool, EngineError> {
    match until {
        RunUntil::Forever => Ok(false),
        RunUntil::Idle => {
            if !idle_here {
                return Ok(false);
            }
            // A paused queue's jobs wait for the user, not for this run.
            let (open, paused) = sh
                .db(|s| s.read(|c| Ok((q::open_count(c)?, q::queue_paused(c)?))))
                .await?;
            if paused {
                let running = sh.db(|s| s.read(q::active_counts)).await?.running;
                return Ok(running == 0);
            }
            Ok(open == 0)
        }
        RunUntil::Settled(ids) => {
            for id in ids {
                let key = id.clone();
                let job = sh.db(move |s| s.read(|c| q::get(c, &key))).await?;
                if job.is_some_and(|j| !j.is_terminal_or_held()) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }
}
